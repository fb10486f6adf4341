// Names of the drop reasons, as metric suffixes and in log lines (see drop_reason.h).
#include "gossip/wire/drop_reason.h"

namespace hearsay::gossip {

const char* drop_reason_name(DropReason reason) {
  switch (reason) {
    case DropReason::none: return "none";
    case DropReason::truncated: return "truncated";
    case DropReason::bad_crc: return "bad_crc";
    case DropReason::bad_compression: return "bad_compression";
    case DropReason::too_deep: return "too_deep";
    case DropReason::misplaced_framing: return "misplaced_framing";
    case DropReason::not_msgpack: return "not_msgpack";
    case DropReason::wrong_field_type: return "wrong_field_type";
    case DropReason::invalid_field: return "invalid_field";
    case DropReason::unknown_type: return "unknown_type";
    case DropReason::unusable_address: return "unusable_address";
    case DropReason::not_for_us: return "not_for_us";
    case DropReason::address_conflict: return "address_conflict";
    case DropReason::count_: break;
  }
  return "unknown";
}

}  // namespace hearsay::gossip

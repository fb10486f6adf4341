// The protocol math behind MembershipConfig: memberlist's retransmitLimit and pushPullScale
// (util.go), restated in memberlist-wire.md 7.1 and 7.4.
#include "gossip/membership/config.h"

#include <algorithm>
#include <cmath>

namespace hearsay::gossip {

std::size_t retransmit_limit(unsigned mult, std::size_t n) {
  const auto scale = static_cast<std::size_t>(std::ceil(std::log10(static_cast<double>(n) + 1.0)));
  return mult * scale;
}

Duration push_pull_scale(Duration interval, std::size_t n) {
  constexpr std::size_t kThreshold = 32;
  if (n <= kThreshold) return interval;
  const auto multiplier = static_cast<std::int64_t>(std::ceil(std::log2(static_cast<double>(n)) - std::log2(kThreshold))) + 1;
  return interval * multiplier;
}

}  // namespace hearsay::gossip

// Test vectors are written as hex strings (captures from serf, memberlist-wire.md).
#pragma once

#include <string>

#include "gossip/wire/messages.h"

namespace hearsay::gossip::test {

inline Bytes hex(const std::string& text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace hearsay::gossip::test

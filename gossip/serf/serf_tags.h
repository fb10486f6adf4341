// Node metadata in serf's tag encoding (memberlist-wire.md 8.1): 0xFF, then a msgpack
// map<string,string>. serf shows a node's tags from this; hearsay marks its own nodes with a
// tag so catalog traffic goes only to hearsay peers (8.7).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "gossip/wire/messages.h"

namespace hearsay::gossip {

using Tags = std::map<std::string, std::string>;

// The tag hearsay nodes carry (value: the hearsay protocol version).
inline constexpr const char* kHearsayTag = "hs";
inline constexpr std::size_t kMaxMetaSize = 512;  // memberlist's limit; serf refuses more

// nullopt when the encoding would exceed 512 bytes.
std::optional<Bytes> encode_tags(const Tags& tags);
// serf's reading: 0xFF + map; anything else (protocol 2 style) is {role: <meta as text>}.
// nullopt for a 0xFF prefix followed by something that is not a map of strings.
std::optional<Tags> decode_tags(const Bytes& meta);

}  // namespace hearsay::gossip

// serf's query protocol (memberlist-wire.md 8.2): a query (serf message type 4) spreads by
// gossip like an event; each member that handles it answers the asker directly over UDP with a
// query response (type 5). Its internal queries named _serf_<op>-key(s) manage the gossip
// keyring of the whole cluster, with a key request (type 7) as payload and a key response
// (type 8) as answer: how `serf keys` and Consul's /v1/operator/keyring reach every member.
// Codecs only; Membership carries them and the agent acts on them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gossip/wire/messages.h"

namespace hearsay::gossip {

inline constexpr std::uint8_t kSerfQueryType = 4;
inline constexpr std::uint8_t kSerfQueryResponseType = 5;
inline constexpr std::uint32_t kSerfQueryAck = 1;          // Flags: an ack is wanted / this is one
inline constexpr std::uint32_t kSerfQueryNoBroadcast = 2;  // Flags: do not pass the query on

// serf's internal key-management queries.
inline constexpr const char* kInstallKeyQuery = "_serf_install-key";
inline constexpr const char* kUseKeyQuery = "_serf_use-key";
inline constexpr const char* kRemoveKeyQuery = "_serf_remove-key";
inline constexpr const char* kListKeysQuery = "_serf_list-keys";

struct SerfQuery {
  std::uint64_t ltime = 0;  // the query Lamport clock
  std::uint32_t id = 0;     // random; (ltime, id) names the query
  Bytes addr;               // where answers go: the asker's IP (4 or 16 bytes) and port
  std::uint16_t port = 0;
  std::string source_node;
  bool filtered = false;  // carries node or tag filters (decoded only as present or not)
  std::uint32_t flags = 0;
  std::uint8_t relay_factor = 0;
  std::chrono::nanoseconds timeout{0};  // how long after delivery an answer is still wanted
  std::string name;
  Bytes payload;
};

struct SerfQueryResponse {
  std::uint64_t ltime = 0;
  std::uint32_t id = 0;
  std::string from;
  std::uint32_t flags = 0;
  Bytes payload;
};

// One member's answer to a key query.
struct KeyResponse {
  bool result = false;
  std::string message;            // why it failed, when it did
  std::vector<std::string> keys;  // list-keys: every installed key, base64
  std::string primary_key;        // list-keys: the primary key, base64
};

// Encoders write the type byte first; decoders expect it and return nullopt for anything else,
// truncated or malformed.
Bytes encode_serf_query(const SerfQuery& q);
std::optional<SerfQuery> decode_serf_query(const Bytes& message);
Bytes encode_serf_query_response(const SerfQueryResponse& r);
std::optional<SerfQueryResponse> decode_serf_query_response(const Bytes& message);
Bytes encode_key_request(const Bytes& key);
std::optional<Bytes> decode_key_request(const Bytes& payload);
Bytes encode_key_response(const KeyResponse& r);
std::optional<KeyResponse> decode_key_response(const Bytes& payload);

}  // namespace hearsay::gossip

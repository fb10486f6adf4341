// DNS wire format through libknot: parse a query, answer it with the resolver, encode the reply
// with Consul's size rules (consul-compat.md 3.5, 3.6). Malformed input is answered FORMERR when
// the header can be read, and dropped (and counted) when not; nothing here throws or asserts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <optional>
#include <vector>

#include "dns/prepared_answer.h"
#include "dns/records.h"
#include "dns/resolver.h"

namespace hearsay::dns {

struct ServeConfig {
  std::size_t udp_answer_limit = 3;  // answers in a 512-byte reply (hard cap 8)
  bool enable_truncate = false;      // set TC when answers were trimmed
  std::uint16_t max_edns_payload = 4096;
  bool recursion_available = false;  // recursors configured: RA=1, and names outside the domain are forwarded
};

struct DnsStats {
  std::uint64_t queries = 0;
  std::uint64_t dropped = 0;  // too short to answer, or a response
  std::uint64_t formerr = 0;
  std::uint64_t notimp = 0;
  std::uint64_t refused = 0;
  std::uint64_t nxdomain = 0;
  std::uint64_t trimmed = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t servfail = 0;  // forwarded queries no recursor answered
};

// The answer to a question whose name is in lower case (from a cache, or resolved now).
using PrepareFn = std::function<std::shared_ptr<const PreparedAnswer>(const Question&)>;

// What to do with one query: send `reply`, drop the bytes, or (recursors configured, name
// outside our domain) forward the query unchanged to a recursor.
struct QueryOutcome {
  enum class Action { reply, drop, forward } action = Action::drop;
  std::vector<std::uint8_t> reply;
};

// Answers one query. `tcp` lifts the UDP caps; `rng` shuffles service answers.
QueryOutcome answer_query(const std::uint8_t* wire, std::size_t size, bool tcp, const PrepareFn& prepare,
                          std::mt19937_64& rng, const ServeConfig& config, DnsStats& stats);

// SERVFAIL for a query no recursor answered, echoing its ID and question (RA=1).
std::optional<std::vector<std::uint8_t>> servfail_reply(const std::uint8_t* wire, std::size_t size);

}  // namespace hearsay::dns

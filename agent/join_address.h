// -join, -retry-join and start_join/retry_join take IP addresses or DNS names, with an optional
// port (Consul's sample config joins "consul.example.com"). Names are resolved at each attempt,
// so a name whose records change between retries reaches the new seeds.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gossip/wire/address.h"

namespace hearsay::agent {

struct HostPort {
  std::string host;  // an IP literal or a DNS name
  std::uint16_t port = 0;
};

// "10.0.0.1", "10.0.0.1:8301", "[::1]:8301", "::1", "seed.example.com", "seed:8301"; nullopt for
// anything else (the caller names the flag).
std::optional<HostPort> parse_join_address(const std::string& text, std::uint16_t default_port);

// Resolves every address (IP literals at once, names with uv_getaddrinfo, every A/AAAA record)
// and calls `done` once with the addresses found and one error line per address that gave none.
using ResolvedJoin = std::function<void(std::vector<gossip::Address> found, std::vector<std::string> errors)>;
void resolve_join_addresses(uv_loop_t* loop, const std::vector<std::string>& addresses, std::uint16_t default_port,
                            ResolvedJoin done);

}  // namespace hearsay::agent

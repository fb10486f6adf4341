// Address parsing for every listener and dialer: an IP literal and port into a socket
// address, "host:port" (or "[v6]:port") split into its parts, and a bound socket's port.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace hearsay::loop {

// An IPv4 or IPv6 literal and a port; 0 or a libuv error code (UV_EINVAL) when it is neither.
[[nodiscard]] int parse_ip_port(const std::string& host, int port, sockaddr_storage& out);

struct HostPort {
  std::string host;  // brackets of "[v6]" removed
  std::string port;
};
// "host:port" or "[v6]:port"; nullopt when a part is missing. Names are not resolved.
std::optional<HostPort> split_host_port(std::string_view text);

// The port of an IPv4 or IPv6 socket address, host order; 0 for any other family.
int port_of(const sockaddr_storage& addr);

}  // namespace hearsay::loop

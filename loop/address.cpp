// Address parsing (address.h): libuv's own literal parsers, so every listener accepts the
// same forms.
#include "loop/address.h"

#include <netinet/in.h>
#include <uv.h>

namespace hearsay::loop {

int parse_ip_port(const std::string& host, int port, sockaddr_storage& out) {
  out = {};
  int rc = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out));
  if (rc != 0) rc = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out));
  return rc;
}

std::optional<HostPort> split_host_port(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  HostPort out{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') out.host = out.host.substr(1, out.host.size() - 2);
  return out;
}

int port_of(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  return 0;
}

}  // namespace hearsay::loop

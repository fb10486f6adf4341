#include "gossip/wire/address.h"

#include <arpa/inet.h>

#include <algorithm>

namespace hearsay::gossip {

std::string Address::ip_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ip.size() == 4) inet_ntop(AF_INET, ip.data(), buf, sizeof(buf));
  else if (ip.size() == 16) inet_ntop(AF_INET6, ip.data(), buf, sizeof(buf));
  return buf;
}

std::string Address::to_string() const {
  const std::string host = ip_text();
  return (ip.size() == 16 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Address> parse_address(const std::string& text, std::uint16_t default_port) {
  std::string host = text;
  std::string port_text;
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::nullopt;
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port_text = text.substr(text.find(':') + 1);
  }
  Address out;
  out.port = default_port;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    const int port = std::stoi(port_text);
    if (port <= 0 || port > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(port);
  }
  std::uint8_t buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) out.ip.assign(buf, buf + 4);
  else if (inet_pton(AF_INET6, host.c_str(), buf) == 1) out.ip.assign(buf, buf + 16);
  else return std::nullopt;
  return out;
}

}  // namespace hearsay::gossip

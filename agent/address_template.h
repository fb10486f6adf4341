// The address settings' templates (bind_addr, advertise_addr, client_addr): the go-sockaddr
// forms Consul's docs and deployment guides use, evaluated over the host's interfaces, and the
// default advertise address when none is given. Pure: the interfaces are passed in
// (identity.h host_interfaces() reads the real ones).
//   {{ GetPrivateIP }}  {{ GetPrivateIPs }}  {{ GetPublicIP }}  {{ GetPublicIPs }}
//   {{ GetInterfaceIP "eth0" }}  {{ GetInterfaceIPs "eth0" }}
//   {{ GetAllInterfaces | include "name" "^eth" | exclude "type" "IPv6" | limit 1 | attr "address" }}
//   (sources GetAllInterfaces, GetPrivateInterfaces, GetPublicInterfaces; filters include and
//   exclude by "name" (a regular expression), "type" (IPv4, IPv6), "network" (a CIDR) or
//   "rfc" (1918, 6598), limit N, sort (accepted, order kept); the end is attr "address" or
//   join "address" "SEP")
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace hearsay::agent {

struct InterfaceAddress {
  std::string name;  // "eth0"
  std::string ip;    // "10.0.0.5" or "fe80::1"
  bool loopback = false;
};

// Replaces every {{ ... }} in `text` by its value. Text without templates comes back as is.
// nullopt with `error` set when a template is malformed or finds no address.
std::optional<std::string> expand_address_template(const std::string& text,
                                                   const std::vector<InterfaceAddress>& interfaces,
                                                   std::string& error);

// RFC 1918 and RFC 6598 (shared address space) IPv4 addresses: go-sockaddr's "private".
bool is_private_ipv4(const std::string& ip);

// The address to advertise when neither advertise_addr nor a specific bind_addr is given:
// the host's one private IPv4 address; with several, none is guessed (Consul refuses too) and
// `error` says to configure one; with none, the first other non-loopback IPv4, else 127.0.0.1.
std::optional<std::string> default_advertise_address(const std::vector<InterfaceAddress>& interfaces,
                                                     std::string& error);

}  // namespace hearsay::agent

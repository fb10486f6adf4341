// Node identity helpers (random UUID, advertise address, temp dir).
#include "agent/identity.h"

#include <arpa/inet.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace hearsay::agent {

std::string random_uuid() {
  std::random_device rd;
  unsigned char b[16];
  for (auto& byte : b) byte = static_cast<unsigned char>(rd() & 0xff);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof(out), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

std::vector<InterfaceAddress> host_interfaces() {
  std::vector<InterfaceAddress> out;
  uv_interface_address_t* ifaces = nullptr;
  int count = 0;
  if (uv_interface_addresses(&ifaces, &count) != 0) return out;
  for (int i = 0; i < count; ++i) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ifaces[i].address.address4.sin_family == AF_INET) uv_ip4_name(&ifaces[i].address.address4, text, sizeof(text));
    else uv_ip6_name(&ifaces[i].address.address6, text, sizeof(text));
    out.push_back(InterfaceAddress{ifaces[i].name, text, ifaces[i].is_internal != 0});
  }
  uv_free_interface_addresses(ifaces, count);
  return out;
}

std::string choose_advertise_address(const AgentConfig& config) {
  if (!config.advertise_addr.empty()) return config.advertise_addr;
  if (config.bind_addr != "0.0.0.0" && config.bind_addr != "::") return config.bind_addr;
  if (config.dev) return "127.0.0.1";
  std::string error;
  auto chosen = default_advertise_address(host_interfaces(), error);
  if (!chosen) throw ConfigError(error);
  return *chosen;
}

std::string make_temp_dir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw ConfigError("cannot create a temporary data dir under " + pattern);
  return pattern;
}

}  // namespace hearsay::agent

// Host facts the agent needs once at startup: a node UUID, the address to advertise, a private
// temporary data dir for -dev.
#pragma once

#include <string>

#include <vector>

#include "agent/address_template.h"
#include "agent/config.h"

namespace hearsay::agent {

std::string random_uuid();  // RFC 4122 version 4
// -advertise if set; else the bind address unless it is 0.0.0.0; else the host's one private
// IPv4 address (default_advertise_address: throws ConfigError when there are several).
std::string choose_advertise_address(const AgentConfig& config);
// The host's interface addresses (uv_interface_addresses), for address templates.
std::vector<InterfaceAddress> host_interfaces();
std::string make_temp_dir(const std::string& prefix);  // throws ConfigError

}  // namespace hearsay::agent

// Host facts the agent needs once at startup: a node UUID, the address to advertise, a private
// temporary data dir for -dev.
#pragma once

#include <string>

#include "agent/config.h"

namespace hearsay::agent {

std::string random_uuid();  // RFC 4122 version 4
// -advertise if set; else the bind address unless it is 0.0.0.0; else the first private IPv4 of
// the host; else 127.0.0.1.
std::string choose_advertise_address(const AgentConfig& config);
std::string make_temp_dir(const std::string& prefix);  // throws ConfigError

}  // namespace hearsay::agent

// The process's log: spdlog to stderr, as text or as one JSON object per line (-log-json,
// log_json) with hclog's keys (@level, @message, @module, @timestamp), the shape Consul's
// -log-json gives log shippers.
#pragma once

#include <string>

namespace hearsay::agent {

void setup_logging(const std::string& level, bool json);
// Changes the level of the running log (a reload); the level was validated with the config.
void set_log_level(const std::string& level);
// The JSON form of one message, escaped as RFC 8259 requires (what the "%*" flag writes).
std::string json_escape(const std::string& text);

}  // namespace hearsay::agent

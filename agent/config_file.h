// Consul-style JSON config files (-config-file, -config-dir): node_name, datacenter, data_dir,
// bind_addr, advertise_addr, client_addr, ports{http,dns,serf_lan}, log_level, node_meta,
// enable_script_checks, enable_local_script_checks, service/services, check/checks.
#pragma once

#include <filesystem>
#include <string>

#include "agent/config.h"

namespace hearsay::agent {

// Applies one file's settings onto `config`. Throws ConfigError naming the file and the key.
void apply_config_file(const std::filesystem::path& file, AgentConfig& config);
void apply_config_text(const std::string& json_text, const std::string& source_name, AgentConfig& config);
// Every *.json file of the directory, in lexical order (Consul's order).
void apply_config_dir(const std::filesystem::path& dir, AgentConfig& config);

}  // namespace hearsay::agent

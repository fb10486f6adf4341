// Consul-style config files (-config-file, -config-dir), JSON or HCL: node_name, datacenter,
// data_dir, bind_addr, advertise_addr, client_addr, ports, log_level, log_json, node_meta,
// joins, DNS, limits, service/services, check/checks (README "Configuration" lists them all).
#pragma once

#include <filesystem>
#include <string>

#include "agent/config.h"

namespace hearsay::agent {

// Applies one file's settings onto `config`. Throws ConfigError naming the file and the key.
enum class ConfigFormat { json, hcl };
// *.hcl is HCL, *.json JSON; another name is JSON when its text starts with '{'.
void apply_config_file(const std::filesystem::path& file, AgentConfig& config);
void apply_config_text(const std::string& text, const std::string& source_name, AgentConfig& config,
                       ConfigFormat format = ConfigFormat::json);
// Every *.json and *.hcl file of the directory, in lexical order (Consul's order).
void apply_config_dir(const std::filesystem::path& dir, AgentConfig& config);

}  // namespace hearsay::agent

// Command-line parsing for `agent` (cxxopts), with Consul's single-dash long flags (-join,
// -data-dir) accepted as well as the double-dash form. Config files and dirs are read here too,
// so the result is the final AgentConfig.
#pragma once

#include <string>
#include <vector>

#include "agent/config.h"

namespace hearsay::agent {

// Rewrites "-name" / "-name=value" to "--name..." for every known long option name; values
// that merely start with '-' are left alone.
std::vector<std::string> normalize_single_dash(const std::vector<std::string>& args,
                                               const std::vector<std::string>& long_names);

struct ParsedCommandLine {
  AgentConfig config;
  bool show_help = false;
  std::string help_text;
};

// Throws ConfigError naming the bad flag or value.
ParsedCommandLine parse_agent_command_line(const std::vector<std::string>& args);

}  // namespace hearsay::agent

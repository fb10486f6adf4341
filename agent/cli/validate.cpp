// See validate.h. The files go through parse_agent_command_line as -config-file/-config-dir,
// so validation is exactly the agent's (including the required data_dir, as Consul's is).
#include "agent/cli/validate.h"

#include <cstdio>
#include <filesystem>

#include "agent/logging.h"
#include "agent/options.h"

namespace hearsay::agent::cli {

int run_validate(const std::vector<std::string>& args) {
  std::vector<std::string> flags;
  bool quiet = false;
  for (const std::string& a : args) {
    if (a == "-quiet" || a == "--quiet") {
      quiet = true;
      continue;
    }
    std::error_code ec;
    flags.push_back(std::filesystem::is_directory(a, ec) ? "-config-dir" : "-config-file");
    flags.push_back(a);
  }
  if (flags.empty()) {
    std::fputs("Usage: hearsay validate [-quiet] FILE|DIR...\n", stderr);
    return 1;
  }
  setup_logging("warn", false);
  try {
    (void)parse_agent_command_line(flags);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "Config validation failed: %s\n", e.what());
    return 1;
  }
  if (!quiet) std::puts("Configuration is valid!");
  return 0;
}

}  // namespace hearsay::agent::cli

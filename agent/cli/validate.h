// `hearsay validate FILE|DIR...`: reads config files as the agent would (JSON and HCL, every
// check of the agent's start-up but none that needs the network), as `consul validate` does,
// so ExecStartPre and config management can refuse a bad file before it is used.
#pragma once

#include <string>
#include <vector>

namespace hearsay::agent::cli {

// 0 and "Configuration is valid!" on stdout; 1 and the first error (file and key) on stderr;
// ignored Consul keys are warned about on stderr either way. -quiet drops the success line.
int run_validate(const std::vector<std::string>& args);

}  // namespace hearsay::agent::cli

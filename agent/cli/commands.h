// The CLI subcommands (members, services, catalog, leave, force-leave, keyring, keygen, version,
// help): all but the last three talk to a running agent over HTTP, as Consul's do.
#pragma once

#include <string>
#include <vector>

namespace hearsay::agent::cli {

// The subcommands' usage text; the agent's -h prints it after the flags.
const char* usage();

// Whether argv[1] names a subcommand rather than starting the agent's flags.
bool is_subcommand(const std::string& first);

// Runs the subcommand args[0] (is_subcommand) with its arguments; returns the exit code.
int run(const std::vector<std::string>& args);

}  // namespace hearsay::agent::cli

// The `hearsay` executable, shaped like Consul's: `hearsay agent [flags]` runs the agent
// (agent/agent.h, flags from agent/options.h); `hearsay validate`, `hearsay version` and the
// subcommands that talk to a running agent are in agent/cli/. `hearsay -flags...` without the
// word `agent` still runs the agent, as the binary did when it was called `agent`.
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/cli/commands.h"
#include "agent/logging.h"
#include "agent/options.h"
#include "agent/process_setup.h"
#include "catalog/store_sqlite.h"

namespace {

using namespace hearsay;
using namespace hearsay::agent;

int run_agent(const std::vector<std::string>& args) {
  try {
    ParsedCommandLine parsed = parse_agent_command_line(args);
    if (parsed.show_help) {
      std::fputs(parsed.help_text.c_str(), stdout);
      std::fputs("\n", stdout);
      std::fputs(cli::usage(), stdout);
      return 0;
    }
    setup_logging(parsed.config.log_level, parsed.config.log_json);
    // Process-wide, so here: a full catalog sync moves tens of MB through a few large buffers.
    // With glibc's default the mmap threshold rises after the first such buffer is freed, later
    // ones come from the heap and their pages stay with the process (RSS 242 MiB after
    // receiving 100,000 instances, 180 MiB of it live). A fixed threshold returns them on free.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    std::string limit_error;
    const std::uint64_t descriptors = raise_open_files_limit(limit_error);
    if (!limit_error.empty()) spdlog::warn("cannot raise the open files limit: {}; staying at {}", limit_error, descriptors);
    Agent agent(std::move(parsed.config));
    // A reload reads the same command line again, files included (Consul's reload).
    agent.set_config_source([args] { return parse_agent_command_line(args).config; });
    return agent.run();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "hearsay: %s\n", e.what());
    return 2;
  } catch (const catalog::StoreError& e) {
    std::fprintf(stderr, "hearsay: %s\n", e.what());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Before any socket: a peer that closes before reading its answer must cost a failed
  // write (EPIPE), not the process (SIGPIPE's default action). Subcommands write to sockets too.
  if (std::string error = ignore_sigpipe(); !error.empty()) {
    std::fprintf(stderr, "hearsay: %s\n", error.c_str());
    return 2;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(cli::usage(), stderr);
    return 1;
  }
  if (!args.empty() && args[0] == "agent") return run_agent(std::vector<std::string>(args.begin() + 1, args.end()));
  if (!args.empty() && cli::is_subcommand(args[0])) return cli::run(args);
  return run_agent(args);
}

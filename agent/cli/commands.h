// Entry point of the `agent` binary: with a subcommand (members, services, catalog, leave,
// version, help) it talks to a running agent over HTTP; otherwise it runs the agent.
#pragma once

namespace hearsay::agent::cli {

int main(int argc, char** argv);

}  // namespace hearsay::agent::cli

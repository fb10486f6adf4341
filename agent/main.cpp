// The `agent` executable: parse the command line, then run the agent or a CLI subcommand.
#include "agent/cli/commands.h"

int main(int argc, char** argv) { return hearsay::agent::cli::main(argc, argv); }

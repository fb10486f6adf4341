// Process-wide settings every listener depends on, applied once at the process entry
// (agent/cli/commands.cpp main) before any socket exists.
#pragma once

#include <cstdint>
#include <string>

namespace hearsay::agent {

// A write to a socket whose peer has gone raises SIGPIPE, which kills the process by default;
// libuv does not ignore it on Linux. Ignored, the write fails with EPIPE, which every
// connection already handles. "" or why it could not be done.
std::string ignore_sigpipe();

// Raises the soft RLIMIT_NOFILE to the hard limit, as Go (and so Consul) does at start: the
// default 1,024 is what a few hundred clients with blocking queries take. Returns the soft
// limit now in force (the old one if raising failed; `error` then says why).
std::uint64_t raise_open_files_limit(std::string& error);

// The soft RLIMIT_NOFILE as it is now.
std::uint64_t open_files_limit();

}  // namespace hearsay::agent

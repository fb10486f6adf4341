// See process_setup.h. Plain POSIX calls; each failure is returned with the errno text.
#include "agent/process_setup.h"

#include <sys/resource.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace hearsay::agent {

std::string ignore_sigpipe() {
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGPIPE, &action, nullptr) != 0) return std::string("sigaction(SIGPIPE): ") + std::strerror(errno);
  return {};
}

std::uint64_t raise_open_files_limit(std::string& error) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    error = std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    return 1024;
  }
  if (limit.rlim_cur == limit.rlim_max) return limit.rlim_cur;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    error = std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno);
    return before;
  }
  return limit.rlim_cur;
}

std::uint64_t open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return limit.rlim_cur;
}

}  // namespace hearsay::agent

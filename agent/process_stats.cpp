// /proc/self/stat fields (proc(5)): 14 utime, 15 stime, 22 starttime (clock ticks since
// boot), 23 vsize (bytes), 24 rss (pages); boot time is /proc/stat's "btime".
#include "agent/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace hearsay::agent {
namespace {

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace

ProcessFigures read_process_figures() {
  ProcessFigures out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (std::getline(in, line) && ticks > 0) {
    // The command name (field 2) is in parentheses and may hold spaces: fields restart after ')'.
    const std::size_t close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(line.substr(close + 1));
      std::vector<std::string> fields{"pid", "comm"};  // so fields[i] is field i+1 of proc(5)
      for (std::string f; rest >> f;) fields.push_back(f);
      if (fields.size() >= 24) {
        try {
          out.cpu_seconds = (std::stod(fields[13]) + std::stod(fields[14])) / ticks;
          out.start_time_seconds = boot_time_seconds() + std::stod(fields[21]) / ticks;
          out.virtual_bytes = std::stod(fields[22]);
          out.resident_bytes = std::stod(fields[23]) * page;
        } catch (const std::exception&) {
          // A kernel with another layout: the figures stay 0 rather than stop the scrape.
        }
      }
    }
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++fds;
  out.open_fds = static_cast<double>(fds);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) out.max_fds = static_cast<double>(limit.rlim_cur);
  return out;
}

}  // namespace hearsay::agent

// The process figures Prometheus client libraries export as process_* (resident memory, CPU
// seconds, open descriptors, start time), read from Linux's /proc/self at each scrape, as the
// Go client's procfs collector does. A figure that cannot be read is 0.
#pragma once

namespace hearsay::agent {

struct ProcessFigures {
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double cpu_seconds = 0;  // user + system
  double open_fds = 0;
  double max_fds = 0;  // soft RLIMIT_NOFILE
  double start_time_seconds = 0;  // since the Unix epoch
};

ProcessFigures read_process_figures();

}  // namespace hearsay::agent

// release_startup_pages: the executable's read-only pages leave this process's resident set,
// and nothing the process wrote is lost (data, the GOT that glibc's IFUNCs write at start).
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <string>

#include "agent/startup_pages.h"

using hearsay::agent::release_startup_pages;

namespace {

// The process's file-backed resident memory (program text and read-only data), in KiB.
long rss_file_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = -1;
  while (status >> key) {
    if (key == "RssFile:") {
      status >> value;
      break;
    }
    status.ignore(1 << 12, '\n');
  }
  return value;
}

int written_at_run_time = 41;  // .data: a private page of a writable segment

}  // namespace

TEST_CASE("release_startup_pages drops the executable's read-only mappings and keeps what was written") {
  ++written_at_run_time;
  const long before = rss_file_kib();
  REQUIRE(before > 0);

  const hearsay::agent::ReleasedPages released = release_startup_pages();
  const long after = rss_file_kib();

  CHECK(released.executable_bytes > 0);
  // What reading /proc faults back in is a few pages, far less than the test binary had
  // touched by now (Catch2's start-up, every test case registered).
  CHECK(after < before);
  CHECK(written_at_run_time == 42);
  // Calls through glibc's IFUNC slots and into pages dropped above still work.
  const std::string text = "still mapped";
  char copy[32] = {};
  std::memcpy(copy, text.c_str(), text.size() + 1);
  CHECK(std::strlen(copy) == text.size());
  CHECK(std::string(copy) == text);
}

// Returns what start-up used and the running agent will not use again: free heap pages, and
// this process's mappings of its own executable.
//
// Why the executable: the kernel maps code into a process in 64 KiB runs, and start-up runs
// code nothing runs later (option and config parsing, SQLite's SQL compiler, schema checks,
// listener set-up). Those pages stay in RSS for the life of the agent. Dropping the mappings
// of the read-only segments (not the pages: they stay in the page cache, shared with every
// other agent on the host) lets the resident set rebuild from what the agent actually runs,
// which the static build lays out as one run of pages at the front of the text
// (link/profile_hot_symbols.sh). A page needed again costs one minor fault. The kernel frees
// its own start-up code (__init) after boot for the same reason.
#pragma once

#include <cstddef>

namespace hearsay::agent {

struct ReleasedPages {
  std::size_t executable_bytes = 0;  // read-only segments of the executable whose mappings were dropped
  bool heap_trimmed = false;         // malloc_trim gave memory back
};

// Only read-only, never-written segments are touched: a writable segment (data, the GOT,
// RELRO) holds private copies that would revert to the file's bytes.
ReleasedPages release_startup_pages();

}  // namespace hearsay::agent

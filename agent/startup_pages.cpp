// Drops what start-up used once it is over: malloc_trim, and madvise on the executable's own
// mappings found through its ELF program headers (why: startup_pages.h).
#include "agent/startup_pages.h"

#include <elf.h>
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace hearsay::agent {
namespace {

// dl_iterate_phdr visits the executable first; its name is empty.
int drop_read_only_segments(dl_phdr_info* info, std::size_t, void* out) {
  auto* released = static_cast<std::size_t*>(out);
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& seg = info->dlpi_phdr[i];
    if (seg.p_type != PT_LOAD || (seg.p_flags & PF_W) != 0) continue;
    // Whole pages only: a page shared with a writable neighbour segment keeps its mapping.
    const std::uintptr_t start = info->dlpi_addr + seg.p_vaddr;
    const std::uintptr_t first = (start + page - 1) & ~(page - 1);
    const std::uintptr_t last = (start + seg.p_memsz) & ~(page - 1);
    if (last <= first) continue;
    if (madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) == 0) *released += last - first;
  }
  return 1;  // the executable only, not the shared libraries of a dynamic build
}

}  // namespace

ReleasedPages release_startup_pages() {
  ReleasedPages r;
  r.heap_trimmed = malloc_trim(0) != 0;
  dl_iterate_phdr(drop_read_only_segments, &r.executable_bytes);
  return r;
}

}  // namespace hearsay::agent

#include "runtime/allocator.hpp"

#include <fmt/format.h>

#include <cstdlib>

#if defined(SCOREGATE_MIMALLOC)
#include <mimalloc.h>
#endif

namespace scoregate::runtime {

#if defined(SCOREGATE_MIMALLOC)

std::string allocator() {
  const int v = mi_version();  // e.g. 209 for 2.0.9
  std::string name = fmt::format("mimalloc {}.{}.{}", v / 100, v / 10 % 10, v % 10);
  // A block from malloc() lies in mimalloc's heap exactly when mimalloc's malloc() is the one
  // the dynamic linker bound (it is, unless an LD_PRELOAD library defines malloc first).
  void* probe = std::malloc(64);
  const bool ours = probe != nullptr && mi_is_in_heap_region(probe);
  std::free(probe);
  if (ours) return name;
  return name + " linked, but malloc() is another library's (LD_PRELOAD?)";
}

void tune_allocator() {
  // mimalloc hands pages that fell free back to the kernel after 25 ms. A TLS handshake's
  // temporary memory is freed and wanted again just after that, so under a connection storm
  // (bench scenario i) it was faulted back in at nearly every handshake: 7.4-9.2 minor page
  // faults per connection against glibc's 5.2, with the system time that goes with them.
  // 250 ms brings that to 5.6 and costs no idle memory against 25 ms (1 s cost 0.5 KiB per
  // idle connection); see README "Memory allocator".
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") == nullptr)
    mi_option_set(mi_option_decommit_delay, 250);
}

#else

std::string allocator() { return "system malloc"; }

void tune_allocator() {}

#endif

}  // namespace scoregate::runtime

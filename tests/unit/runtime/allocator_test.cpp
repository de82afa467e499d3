// The allocator's name and scoregate's defaults for its options (README "Memory allocator").
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include "runtime/allocator.hpp"

#if defined(SCOREGATE_MIMALLOC)
#include <mimalloc.h>
#endif

namespace scoregate::runtime {
namespace {

#if defined(SCOREGATE_MIMALLOC)

TEST(Allocator, MimallocServesMallocAndSaysWhichVersion) {
  // the unit tests link the same way the binary does, so mimalloc's malloc() is the one bound
  EXPECT_TRUE(std::regex_match(allocator(), std::regex(R"(mimalloc \d+\.\d+\.\d+)")))
      << allocator();
  void* p = std::malloc(100);
  EXPECT_TRUE(mi_is_in_heap_region(p));
  std::free(p);
}

TEST(Allocator, FreedPagesGoBackAfter250MsUnlessTheEnvironmentSaysOtherwise) {
  const long before = mi_option_get(mi_option_decommit_delay);
  ::unsetenv("MIMALLOC_DECOMMIT_DELAY");
  tune_allocator();
  EXPECT_EQ(mi_option_get(mi_option_decommit_delay), 250);
  // an operator's MIMALLOC_DECOMMIT_DELAY (read by mimalloc itself) is left as given
  mi_option_set(mi_option_decommit_delay, 7);
  ::setenv("MIMALLOC_DECOMMIT_DELAY", "7", 1);
  tune_allocator();
  EXPECT_EQ(mi_option_get(mi_option_decommit_delay), 7);
  ::unsetenv("MIMALLOC_DECOMMIT_DELAY");
  mi_option_set(mi_option_decommit_delay, before);
}

#else

TEST(Allocator, SystemBuildSaysSo) {
  EXPECT_EQ(allocator(), "system malloc");
  tune_allocator();  // nothing to tune, and nothing breaks
}

#endif

}  // namespace
}  // namespace scoregate::runtime

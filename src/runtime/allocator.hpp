// The memory allocator this binary was built with (README "Memory allocator"): mimalloc, the
// default, in place of the C library's malloc for the whole process, or the C library's own
// (cmake -DSCOREGATE_ALLOCATOR=system; sanitizer builds).
#pragma once

#include <string>

namespace scoregate::runtime {

// What serves malloc() in this process, checked rather than assumed: "mimalloc 2.0.9";
// "system malloc" in a build without mimalloc; or, where mimalloc is linked but another
// library's malloc() came first (LD_PRELOAD), a sentence that says so.
std::string allocator();

// Sets scoregate's defaults for the allocator's options; an option given in the environment
// (MIMALLOC_*) is left as given. Called first thing in main(). Nothing to do for the system one.
void tune_allocator();

}  // namespace scoregate::runtime

// `scoregate version`: what is running, for bug reports and for checking an image (README
// "Container image"): the release, the git revision it was built from, the OpenSSL it runs
// with and the one it was compiled against (they differ when libssl3 is upgraded under the
// binary), the I/O backend (README "I/O backend"), the memory allocator (README "Memory
// allocator") and the CMake build type.
#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include <iostream>

#include "build_info.hpp"
#include "cli/commands.hpp"
#include "runtime/allocator.hpp"
#include "runtime/io_backend.hpp"

namespace scoregate::cli {

int version() {
  std::cout << "scoregate " << SCOREGATE_VERSION << "\n"
            << "revision: " << SCOREGATE_GIT_REVISION << "\n"
            << "openssl: " << OpenSSL_version(OPENSSL_VERSION) << "\n"
            << "openssl built with: " << OPENSSL_VERSION_TEXT << "\n"
            << "i/o backend: " << runtime::io_backend() << "\n"
            << "allocator: " << runtime::allocator() << "\n"
            << "build type: " << SCOREGATE_BUILD_TYPE << "\n";
  return 0;
}

}  // namespace scoregate::cli

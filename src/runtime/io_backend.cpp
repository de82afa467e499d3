#include "runtime/io_backend.hpp"

#include <boost/asio/detail/config.hpp>

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#include <liburing.h>

#include <cstring>
#endif

namespace scoregate::runtime {

#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)

std::string_view io_backend() { return "io_uring"; }

std::string io_backend_problem() {
  // The same call Asio makes when a worker's io_context starts, tried once up front so the
  // refusal comes with its cause instead of an exception from a worker.
  io_uring ring;
  const int r = io_uring_queue_init(8, &ring, 0);
  if (r == 0) {
    io_uring_queue_exit(&ring);
    return {};
  }
  return std::string(
             "this build runs on io_uring (SCOREGATE_IO=io_uring) and the kernel refused "
             "it: io_uring_setup: ") +
         std::strerror(-r) +
         " — io_uring is off where sysctl kernel.io_uring_disabled is 1 or 2 or a seccomp "
         "profile blocks it (container runtimes' default profiles do); run the default build "
         "(epoll) there";
}

#else

std::string_view io_backend() { return "epoll"; }

std::string io_backend_problem() { return {}; }

#endif

}  // namespace scoregate::runtime

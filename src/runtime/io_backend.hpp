// The I/O backend this binary was built with (README "I/O backend"): Asio's epoll reactor (the
// default) or its io_uring backend (cmake -DSCOREGATE_IO=io_uring). One binary runs one: the
// backend is a compile-time choice of Asio's.
#pragma once

#include <string>
#include <string_view>

namespace scoregate::runtime {

// "epoll" or "io_uring".
std::string_view io_backend();

// Empty when the backend can run on this kernel and under this process's seccomp profile;
// otherwise what refused it and what to do (io_uring is often disabled in containers).
std::string io_backend_problem();

}  // namespace scoregate::runtime

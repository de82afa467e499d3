// The completion token used with Asio coroutines throughout: results come back as a tuple
// starting with the error_code, never as an exception (no exceptions on the data plane).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace scoregate {

inline constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace scoregate

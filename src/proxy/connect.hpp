// Opening a connection to a model instance: the one path for forwarded requests (forward.cpp)
// and mirror copies (mirror.cpp), so both get the same timeout, socket options, counters and
// passive-ejection report.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>

#include "proxy/proxy.hpp"

namespace scoregate::proxy {

// A connect may take the request timeout, but never more than this: a model that does not
// accept within 3 s is treated as down (ejection), whatever the request timeout allows.
constexpr std::chrono::milliseconds kMaxConnectTime{3000};

struct ConnectResult {
  upstream::ConnectionPtr connection;  // null on failure
  boost::system::error_code ec;
  bool timed_out = false;
  bool pooled = false;  // an idle connection from the pool, not a new one
};

// A pooled connection to target when one is idle (and pooled_ok), else a new one. The
// outcome of a new connect is reported to gate (a failure counts toward ejection) and counted
// in worker.counters. check: upstream::StaleCheck, who checks a pooled one.
boost::asio::awaitable<ConnectResult> connect_to(
    WorkerContext& worker, upstream::Gate& gate, const upstream::TargetPtr& target,
    std::chrono::milliseconds request_timeout, bool pooled_ok = true,
    upstream::StaleCheck check = upstream::StaleCheck::on_take);

}  // namespace scoregate::proxy

#include "proxy/connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include "http/awaitable.hpp"
#include "http/errors.hpp"

namespace scoregate::proxy {

namespace asio = boost::asio;

asio::awaitable<ConnectResult> connect_to(WorkerContext& worker, upstream::Gate& gate,
                                          const upstream::TargetPtr& target,
                                          std::chrono::milliseconds request_timeout, bool pooled_ok,
                                          upstream::StaleCheck check) {
  ConnectResult r;
  if (pooled_ok && (r.connection = worker.pool.take(target, check))) {
    WorkerCounters::add(worker.counters.upstream_reused);
    r.pooled = true;
    co_return r;
  }
  auto executor = co_await asio::this_coro::executor;
  auto c = std::make_unique<upstream::UpstreamConnection>(executor, target);
  c->watchdog.arm(std::min(request_timeout, kMaxConnectTime));
  auto [ec] = co_await c->socket.async_connect(target->endpoint, nothrow);
  c->watchdog.disarm();
  WorkerCounters::add(worker.counters.upstream_connects);
  gate.report_connect(target, !ec);
  if (ec) {
    WorkerCounters::add(worker.counters.upstream_connect_failures);
    r.ec = ec;
    r.timed_out = c->watchdog.expired();
    co_return r;
  }
  boost::system::error_code opt;
  c->socket.set_option(asio::ip::tcp::no_delay(true), opt);
  c->socket.non_blocking(true, opt);  // for http::write_fully
  r.connection = std::move(c);
  co_return r;
}

}  // namespace scoregate::proxy

#include "proxy/mirror.hpp"
#include "http/awaitable.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "http/http1_connection.hpp"
#include "http/parser.hpp"
#include "http/serialize.hpp"
#include "proxy/connect.hpp"
#include "proxy/exchange.hpp"

namespace scoregate::proxy {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

asio::awaitable<bool> exchange_copy(upstream::UpstreamConnection& up, const std::string& bytes,
                                    std::chrono::milliseconds timeout, bool& reusable) {
  up.watchdog.arm(timeout);
  auto [wec, wn] = co_await asio::async_write(up.socket, asio::buffer(bytes), nothrow);
  if (wec) co_return false;
  http::ResponseParser rp(64 * 1024, std::numeric_limits<std::uint64_t>::max());
  for (;;) {
    if (!up.in.empty()) {
      boost::system::error_code ec;
      std::size_t used = rp.put(up.in.data(), ec);
      rp.body_pieces().clear();
      up.in.consume(used);
      if (ec && ec != bhttp::error::need_more) co_return false;
      if (rp.done()) {
        if (rp.head().status < 200) {
          co_return false;  // interim answers are not worth handling for a copy
        }
        reusable = rp.head().keep_alive && rp.head().framing != http::BodyFraming::until_close &&
                   up.in.empty();
        co_return rp.head().status < 500;
      }
    }
    auto space = up.in.prepare();
    auto [ec, n] =
        co_await up.socket.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
    if (ec == asio::error::eof && rp.head_done() &&
        rp.head().framing == http::BodyFraming::until_close) {
      boost::system::error_code eof_ec;
      rp.put_eof(eof_ec);
      co_return !eof_ec;
    }
    if (ec) co_return false;
    up.in.commit(n);
  }
}

asio::awaitable<void> mirror_request(WorkerContext& worker, std::shared_ptr<const ProxyPlan> plan,
                                     std::shared_ptr<DeploymentState> state,
                                     settings::RequestSettings rs, std::string bytes) {
  auto& stats = state->stats;
  auto slot = state->gate->try_admit({});
  if (!slot) {
    stats.mirror_failed.fetch_add(1, std::memory_order_relaxed);
    co_return;
  }
  auto c = co_await connect_to(worker, *state->gate, slot.target(),
                               std::chrono::milliseconds(rs.request_timeout_ms));
  if (!c.connection) {
    stats.mirror_failed.fetch_add(1, std::memory_order_relaxed);
    co_return;
  }
  auto up = std::move(c.connection);
  bool reusable = false;
  bool ok = co_await exchange_copy(*up, bytes, std::chrono::milliseconds(rs.request_timeout_ms),
                                   reusable);
  up->watchdog.disarm();
  (ok ? stats.mirrored : stats.mirror_failed).fetch_add(1, std::memory_order_relaxed);
  if (ok && reusable) worker.pool.give_back(std::move(up));
  (void)plan;  // keeps the plan (and the deployment it names) alive for the copy's life
}

}  // namespace

void spawn_mirror(const asio::any_io_executor& executor, WorkerContext& worker,
                  std::shared_ptr<const ProxyPlan> plan, const DeploymentPlan& deployment,
                  std::string request_bytes) {
  asio::co_spawn(executor,
                 mirror_request(worker, std::move(plan), deployment.state,
                                deployment.request_settings, std::move(request_bytes)),
                 asio::detached);
}

void Exchange::start_mirror() {
  const auto& target =
      plan_->endpoints[endpoint_->index].deployments[static_cast<std::size_t>(mirror_)];
  std::string bytes;
  build_upstream_head(bytes, mirror_body_.size());
  bytes += mirror_body_;
  spawn_mirror(ex_, worker_, plan_, target, std::move(bytes));
}

}  // namespace scoregate::proxy

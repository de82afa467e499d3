// The per-worker pool of HTTP/2 connections to models (upstream/h2_client.hpp).
//
// Which connection a stream goes on:
//  1. the least-loaded live connection to the target that has not received GOAWAY and has
//     fewer streams (plus opens waiting for it to connect) than the model's
//     SETTINGS_MAX_CONCURRENT_STREAMS (100 until the model's SETTINGS arrive); a connection
//     still connecting counts, so a burst of opens shares one new connection;
//  2. else a new connection, while fewer than max_connections_per_target connections
//     without GOAWAY exist (connections draining after GOAWAY do not count);
//  3. else the least-loaded of those: nghttp2 holds the request's HEADERS until the model
//     has room, so the stream waits for room, bounded by the caller's own timeout (it
//     cancels the stream). The admission gate already bounds requests per target, so this
//     only happens when the model allows fewer streams than the gate admits.
#include <algorithm>

#include "upstream/h2_connection.hpp"

namespace scoregate::upstream {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

using Conns = std::vector<std::shared_ptr<H2Connection>>;

void prune(Conns& conns) {
  conns.erase(std::remove_if(conns.begin(), conns.end(), [](const auto& c) { return c->dead(); }),
              conns.end());
}

std::shared_ptr<H2Connection> least_loaded(const Conns& conns, bool need_room) {
  std::shared_ptr<H2Connection> best;
  for (const auto& c : conns) {
    if (c->dead() || c->goaway() || (need_room && !c->has_room())) continue;
    if (!best || c->load() < best->load()) best = c;
  }
  return best;
}

std::size_t without_goaway(const Conns& conns) {
  return static_cast<std::size_t>(std::count_if(
      conns.begin(), conns.end(), [](const auto& c) { return !c->dead() && !c->goaway(); }));
}

}  // namespace

H2Pool::H2Pool(asio::any_io_executor ex, H2PoolLimits limits)
    : ex_(std::move(ex)), limits_(limits) {}

H2Pool::~H2Pool() { close_all(); }

// Picks a connection by the rules at the top of this file; null: open a new one.
std::shared_ptr<H2Connection> H2Pool::pick(std::uint64_t target_id) {
  auto& conns = by_target_[target_id];
  prune(conns);
  auto conn = least_loaded(conns, true);
  if (!conn &&
      without_goaway(conns) >= std::max<std::uint32_t>(1, limits_.max_connections_per_target))
    conn = least_loaded(conns, false);
  return conn;
}

asio::awaitable<H2OpenResult> H2Pool::open(const TargetPtr& target, H2Mode mode, SSL_CTX* tls,
                                           const H2RequestHead& head,
                                           std::chrono::milliseconds connect_timeout) {
  H2OpenResult r;
  std::weak_ptr<int> pool_alive = life_;
  for (;;) {
    auto conn = pick(target->id);
    error_code ec;
    if (!conn) {
      conn = std::make_shared<H2Connection>(ex_, target, mode, limits_);
      by_target_[target->id].push_back(conn);
      r.new_connection = true;
      conn->reserve();  // its first stream is ours
      ec = co_await conn->connect(tls, connect_timeout);
      conn->unreserve();
    } else if (conn->connecting()) {
      // Join a connection being opened; once it is up (and its SETTINGS known) pick again.
      conn->reserve();
      ec = co_await conn->wait_connected();
      conn->unreserve();
      if (!ec && !pool_alive.expired()) continue;
    }
    if (pool_alive.expired()) {
      r.ec = boost::asio::error::operation_aborted;
      co_return r;
    }
    if (ec) {
      r.ec = ec;
      r.timed_out = conn->timed_out();
      r.connect_failed = true;
      prune(by_target_[target->id]);
      co_return r;
    }
    r.stream = conn->submit(head, r.ec);
    co_return r;
  }
}

std::size_t H2Pool::sweep(Clock::time_point now) {
  std::size_t closed = 0;
  for (auto it = by_target_.begin(); it != by_target_.end();) {
    auto& conns = it->second;
    for (auto& c : conns) {
      if (c->idle_for_longer(now, limits_.idle_timeout)) {
        c->close_gracefully();
        ++closed;
      }
    }
    prune(conns);
    it = conns.empty() ? by_target_.erase(it) : std::next(it);
  }
  return closed;
}

void H2Pool::close_all() {
  for (auto& [id, conns] : by_target_)
    for (auto& c : conns) c->close_gracefully();
  by_target_.clear();
}

std::size_t H2Pool::connection_count() const {
  std::size_t n = 0;
  for (const auto& [id, conns] : by_target_)
    n += static_cast<std::size_t>(
        std::count_if(conns.begin(), conns.end(), [](const auto& c) { return !c->dead(); }));
  return n;
}

}  // namespace scoregate::upstream

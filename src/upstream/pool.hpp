// Per-worker keep-alive connections to targets (no locking: one worker, one pool). Idle
// connections are reused most-recent-first and closed after idle_timeout; a connection the
// target closed while idle is noticed before reuse (a request is never written into it).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "http/buffer.hpp"
#include "http/watchdog.hpp"
#include "upstream/gate.hpp"

namespace scoregate::upstream {

class UpstreamConnection {
 public:
  UpstreamConnection(const boost::asio::any_io_executor& ex, TargetPtr target);
  boost::asio::ip::tcp::socket socket;
  http::ReadBuffer in;
  http::Watchdog watchdog;  // request timeout / body idle; cancels the socket
  TargetPtr target;
  Clock::time_point idle_since{};
};
using ConnectionPtr = std::unique_ptr<UpstreamConnection>;

// Who makes sure a pooled connection was not closed by the model while it sat idle:
// take() itself (a poll() system call per take), or the caller, right before its first write
// (the proxy's request path: it has to check there anyway when reading the client's body took
// time, so one check per request is enough).
enum class StaleCheck : std::uint8_t { on_take, before_first_write };

class ConnectionPool {
 public:
  struct Limits {
    // An HTTP/2 client connection can carry 128 streams, each on its own HTTP/1.1 model
    // connection: 256 idle ones per target made 64 such clients churn upstream connections
    // (bench scenario f).
    std::size_t max_idle_per_target = 1024;
    std::chrono::milliseconds idle_timeout{30000};
  };
  explicit ConnectionPool(Limits limits) : limits_(limits) {}
  ConnectionPool() : ConnectionPool(Limits{}) {}

  // An idle connection to the target (most recent first), or nullptr; with on_take, one
  // found still open.
  ConnectionPtr take(const TargetPtr& target, StaleCheck check = StaleCheck::on_take);
  void give_back(ConnectionPtr c);
  // Closes connections idle for longer than idle_timeout; returns how many.
  std::size_t sweep(Clock::time_point now);
  void close_all();

 private:
  Limits limits_;
  std::unordered_map<std::uint64_t, std::vector<ConnectionPtr>> idle_;
};

// True when the peer has closed the connection or sent bytes nobody asked for.
bool peer_closed_or_dirty(int fd);
// After a read failed with ec: true when the peer reset the connection (RST), also when the
// read saw its FIN first and the RST came after (then the read reports EOF).
bool peer_reset(int fd, const boost::system::error_code& ec);

}  // namespace scoregate::upstream

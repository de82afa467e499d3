// A worker: one thread, one io_context, its own SO_REUSEPORT acceptor, connections and
// upstream pools; nothing on its hot path is shared with other workers.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "proxy/proxy.hpp"
#include "runtime/accept_guard.hpp"
#include "runtime/snapshot.hpp"

namespace scoregate::runtime {

// What the acceptor refused or shed, for /status and /metrics (README "Workers and limits").
struct ConnectionCounters {
  std::atomic<std::uint64_t> accept_errors{0};        // accept() failed (EMFILE, ENFILE, ...)
  std::atomic<std::uint64_t> refused_max{0};          // closed at once: over max_connections
  std::atomic<std::uint64_t> refused_descriptors{0};  // closed at once: out of descriptors
  std::atomic<std::uint64_t> idle_closed{0};          // idle, closed to make room
};

class Worker {
 public:
  Worker(unsigned index, std::atomic<std::uint32_t>& open_connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds the listener (main thread, before start); throws std::system_error on failure.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void start(const SnapshotPtr& first);
  // Thread-safe: later generations reach new connections and requests of this worker.
  void publish(SnapshotPtr next);
  // Thread-safe: stop accepting, let in-flight requests finish; the thread ends when the
  // last connection closed or at `deadline`, whichever is first.
  void drain(std::chrono::steady_clock::time_point deadline);
  void join();

  const proxy::WorkerCounters& counters() const { return context_.counters; }
  const ConnectionCounters& connection_counters() const { return connection_counters_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket, std::string peer);
  boost::asio::awaitable<void> housekeeping();
  boost::asio::awaitable<void> accept_failed(const boost::system::error_code& ec,
                                             AcceptBackoff& backoff);
  bool shed_with_spare();
  bool admit_new_connection();
  bool close_one_idle();
  void flush_refusal_logs();
  void finish_drain_if_idle();

  unsigned index_;
  std::atomic<std::uint32_t>& open_connections_;  // process-wide, for max_connections
  proxy::WorkerContext context_;                  // declared before io_: outlives it
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  proxy::Proxy proxy_;
  SnapshotPtr current_;
  std::list<http::ClientConnection*> live_;
  // A connection in live_ (for drain) and in open_connections_, for as long as it lives.
  struct Registration {
    Worker& w;
    std::list<http::ClientConnection*>::iterator it;
    Registration(Worker& worker, http::ClientConnection* c);
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration();
    void replace(http::ClientConnection* c);  // the connection changed protocol
  };
  bool draining_ = false;
  // Closed to accept (and close at once) one connection when the process is out of
  // descriptors, so clients are refused instead of waiting in the backlog; then reopened.
  int spare_fd_ = -1;
  ConnectionCounters connection_counters_;
  OncePerSecond accept_error_log_, refused_max_log_;
  boost::system::error_code last_accept_error_;
  std::thread thread_;
};

}  // namespace scoregate::runtime

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
#include "runtime/snapshot.hpp"

namespace scoregate::runtime {

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

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> housekeeping();
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
  std::thread thread_;
};

}  // namespace scoregate::runtime

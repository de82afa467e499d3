#include "runtime/worker.hpp"
#include "http/awaitable.hpp"
#include "http/http2_session.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include <openssl/err.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace scoregate::runtime {

namespace asio = boost::asio;
using asio::ip::tcp;

// The io_context runs on this worker's thread alone, and so does every operation on its
// sockets (listen() runs before the thread starts; other threads only post() to io_, which
// keeps its lock): Asio's per-socket reactor lock is not needed (UNSAFE_IO; −285 instructions
// per keep-alive request under callgrind, README "Performance changes, measured one by one").
// A worker's socket used from another thread would now be a data race on Asio's descriptor
// state: post the work to io_ instead, as publish() and drain() do.
Worker::Worker(unsigned index, std::atomic<std::uint32_t>& open_connections)
    : index_(index),
      open_connections_(open_connections),
      io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      acceptor_(io_),
      proxy_(context_) {
  context_.access_log = spdlog::get("access");
  context_.h2 = std::make_unique<upstream::H2Pool>(io_.get_executor());
}

Worker::~Worker() {
  if (thread_.joinable()) {
    io_.stop();
    thread_.join();
  }
  context_.pool.close_all();
  context_.h2->close_all();
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

void Worker::listen(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  int one = 1;
  // Every worker has its own accept queue on the same port; the kernel spreads connections.
  if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw std::system_error(errno, std::generic_category(), "SO_REUSEPORT");
  acceptor_.bind(endpoint);
  acceptor_.listen(4096);
  acceptor_.non_blocking(true);  // shed_with_spare() calls accept4() on it directly
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

tcp::endpoint Worker::local_endpoint() const { return acceptor_.local_endpoint(); }

void Worker::start(const SnapshotPtr& first) {
  current_ = first;
  context_.plan = first->plan;
  asio::co_spawn(io_, accept_loop(), asio::detached);
  asio::co_spawn(io_, housekeeping(), asio::detached);
  thread_ = std::thread([this] {
    std::string name = "sg-worker-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.c_str());
    io_.run();
  });
}

void Worker::publish(SnapshotPtr next) {
  asio::post(io_, [this, next = std::move(next)] {
    current_ = next;
    context_.plan = next->plan;
    for (auto* c : live_) c->on_new_generation();
  });
}

void Worker::drain(std::chrono::steady_clock::time_point deadline) {
  asio::post(io_, [this, deadline] {
    draining_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto* c : live_) c->begin_drain();
    auto timer = std::make_shared<asio::steady_timer>(io_, deadline);
    timer->async_wait([this, timer](const boost::system::error_code&) {
      if (!live_.empty())
        spdlog::warn("worker {}: drain time over, closing {} connection(s) with requests in flight",
                     index_, live_.size());
      io_.stop();
    });
    finish_drain_if_idle();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::finish_drain_if_idle() {
  if (draining_ && live_.empty()) io_.stop();
}

asio::awaitable<void> Worker::accept_loop() {
  AcceptBackoff backoff;
  tcp::endpoint peer;  // filled by accept() itself: saves a getpeername() per connection
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(peer, nothrow);
    if (draining_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      co_await accept_failed(ec, backoff);
      continue;
    }
    backoff.reset();
    if (!admit_new_connection()) {
      // Counted before the close, so /status has it by the time the client sees the close.
      connection_counters_.refused_max.fetch_add(1, std::memory_order_relaxed);
      boost::system::error_code ignored;
      socket.close(ignored);  // over router.max_connections: refuse rather than degrade everyone
      if (auto n = refused_max_log_.note(std::chrono::steady_clock::now()))
        spdlog::warn("worker {}: refused {} connection(s) over router.max_connections ({})", index_,
                     *n, current_->max_connections);
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket), peer.address().to_string()), asio::detached);
  }
}

// README "Workers and limits": at idle_close_mark() open connections, each new one closes an
// idle connection of this worker; at max_connections it is taken only in place of one.
bool Worker::admit_new_connection() {
  const std::uint32_t max = current_->max_connections;
  const std::uint32_t open = open_connections_.load(std::memory_order_relaxed);
  if (open < idle_close_mark(max)) return true;
  const bool closed = close_one_idle();
  return open < max || closed;
}

// Round robin over this worker's connections, at most kScan of them per call so a worker with
// many busy connections does not walk them all on every accept; the busy ones looked at move
// to the back of live_ (splice keeps every Registration's iterator valid).
bool Worker::close_one_idle() {
  constexpr int kScan = 256;
  for (int i = 0; i < kScan && !live_.empty(); ++i) {
    http::ClientConnection* c = live_.front();
    live_.splice(live_.end(), live_, live_.begin());
    if (!c->idle()) continue;
    c->close_if_idle();
    connection_counters_.idle_closed.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  return false;
}

// EMFILE/ENFILE: the connection waiting in the backlog is taken with the spare descriptor and
// closed, so the client is refused at once (counted, no pause: each round takes a connection).
// Anything else, or no spare: pause (AcceptBackoff) so a failing accept() cannot spin. Logged
// at most once a second (OncePerSecond); serving resumes by itself when descriptors free up.
asio::awaitable<void> Worker::accept_failed(const boost::system::error_code& ec,
                                            AcceptBackoff& backoff) {
  connection_counters_.accept_errors.fetch_add(1, std::memory_order_relaxed);
  last_accept_error_ = ec;
  const bool out_of_files = ec.value() == EMFILE || ec.value() == ENFILE;
  const bool shed = out_of_files && shed_with_spare();
  if (auto n = accept_error_log_.note(std::chrono::steady_clock::now()))
    spdlog::error(
        "worker {}: accept failed {} time(s) since the last line: {} ({} connection(s) "
        "refused for want of descriptors so far; {} open)",
        index_, *n, ec.message(),
        connection_counters_.refused_descriptors.load(std::memory_order_relaxed),
        open_connections_.load(std::memory_order_relaxed));
  if (shed) co_return;
  asio::steady_timer pause(io_, backoff.next());
  co_await pause.async_wait(nothrow);
}

bool Worker::shed_with_spare() {
  if (spare_fd_ < 0) {
    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // a descriptor freed up since
    return false;
  }
  ::close(spare_fd_);
  const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) {
    connection_counters_.refused_descriptors.fetch_add(1, std::memory_order_relaxed);
    ::close(fd);
  }
  spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0;
}

void Worker::flush_refusal_logs() {
  const auto now = std::chrono::steady_clock::now();
  if (auto n = accept_error_log_.flush(now))
    spdlog::error("worker {}: accept failed {} time(s) since the last line: {}", index_, *n,
                  last_accept_error_.message());
  if (auto n = refused_max_log_.flush(now))
    spdlog::warn("worker {}: refused {} connection(s) over router.max_connections ({})", index_, *n,
                 current_->max_connections);
}

asio::awaitable<void> Worker::serve(tcp::socket socket, std::string peer) {
  SnapshotPtr snap = current_;  // this connection keeps its generation's certificate and limits
  SSL* ssl = nullptr;
  if (snap->tls) {
    ssl = SSL_new(snap->tls->native());
    if (!ssl) {
      ERR_clear_error();  // SSL_get_error needs this thread's queue empty (client_transport.cpp)
      co_return;
    }
  }
  http::ClientTransport transport(std::move(socket), ssl);
  http::Http1Connection conn(transport, snap->limits, proxy_, std::move(peer));
  Registration registration(*this, &conn);
  if (draining_) conn.begin_drain();
  if (co_await conn.run() != http::Http1Connection::Outcome::switch_to_h2) co_return;
  // HTTP/2 (README "HTTP/2 and gRPC"): ALPN chose h2, or a plain connection began with the
  // HTTP/2 preface (already read: the session starts from those bytes).
  // On the heap: a local would sit in every connection's coroutine frame, HTTP/1.1 or not.
  auto session = std::make_unique<http::Http2Session>(transport, snap->limits, proxy_,
                                                      conn.peer_address(), conn.buffered());
  registration.replace(session.get());
  if (draining_) session->begin_drain();
  co_await session->run();
}

Worker::Registration::Registration(Worker& worker, http::ClientConnection* c) : w(worker) {
  it = w.live_.insert(w.live_.end(), c);
  w.open_connections_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::Registration::replace(http::ClientConnection* c) { *it = c; }

Worker::Registration::~Registration() {
  w.live_.erase(it);
  w.open_connections_.fetch_sub(1, std::memory_order_relaxed);
  w.finish_drain_if_idle();
}

asio::awaitable<void> Worker::housekeeping() {
  asio::steady_timer timer(io_);
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec || draining_) co_return;
    flush_refusal_logs();
    context_.pool.sweep(upstream::Clock::now());
    context_.h2->sweep(upstream::Clock::now());
  }
}

}  // namespace scoregate::runtime

#include "runtime/worker.hpp"
#include "http/awaitable.hpp"
#include "http/http2_session.hpp"

#include <pthread.h>
#include <sys/socket.h>

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

Worker::Worker(unsigned index, std::atomic<std::uint32_t>& open_connections)
    : index_(index), open_connections_(open_connections), io_(1), acceptor_(io_), proxy_(context_) {
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
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (draining_ || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS: back off instead of spinning on a full descriptor table
      spdlog::error("worker {}: accept failed: {}", index_, ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (open_connections_.load(std::memory_order_relaxed) >=
        current_->config().router.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);  // over router.max_connections: refuse rather than degrade everyone
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Worker::serve(tcp::socket socket) {
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
  http::Http1Connection conn(transport, snap->limits, proxy_);
  Registration registration(*this, &conn);
  if (draining_) conn.begin_drain();
  if (co_await conn.run() != http::Http1Connection::Outcome::switch_to_h2) co_return;
  // HTTP/2 (README "HTTP/2 and gRPC"): ALPN chose h2, or a plain connection began with the
  // HTTP/2 preface (already read: the session starts from those bytes).
  http::Http2Session session(transport, snap->limits, proxy_, conn.peer_address(), conn.buffered());
  registration.replace(&session);
  if (draining_) session.begin_drain();
  co_await session.run();
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
    context_.pool.sweep(upstream::Clock::now());
    context_.h2->sweep(upstream::Clock::now());
  }
}

}  // namespace scoregate::runtime

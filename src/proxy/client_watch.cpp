// Phase 5 while the router waits for the model: a client that disconnects cancels its request
// (README "Requests"; ARCHITECTURE.md "A request, file by file"). Once the request is read
// whole, nothing else reads the client socket until the answer is relayed, so a detached
// coroutine waits for it to become readable: EOF or an error there means the client is gone,
// and the model's connection is closed at once (never pooled) so the model sees it and the
// Exchange's pending upstream read ends. Readable bytes that are not EOF (the next pipelined
// request, a TLS record) are left alone and the socket is polled every kPollEvery instead.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/awaitable.hpp"
#include "proxy/exchange.hpp"

namespace scoregate::proxy {

using namespace std::chrono_literals;
constexpr auto kPollEvery = 50ms;

struct Exchange::ClientWatch {
  explicit ClientWatch(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool stopped = false;  // set by the Exchange; after it nothing of the Exchange may be touched
  bool gone = false;
};

namespace {
// Touches the Exchange (through the callables) only while the watch is not stopped: the
// Exchange stops it before its sockets change hands or go away.
template <typename Gone, typename Cut>
asio::awaitable<void> watch(std::shared_ptr<Exchange::ClientWatch> w, asio::ip::tcp::socket& client,
                            Gone client_gone, Cut cut_upstream) {
  auto [ec] = co_await client.async_wait(asio::socket_base::wait_read, nothrow);
  for (;;) {
    if (ec || w->stopped) co_return;  // cancelled by stop_watching(), or the socket closed
    if (client_gone()) {
      w->gone = true;
      cut_upstream();
      co_return;
    }
    w->timer.expires_after(kPollEvery);
    std::tie(ec) = co_await w->timer.async_wait(nothrow);
  }
}
}  // namespace

void Exchange::watch_client() {
  if (watch_ || !upstream_) return;
  auto& client = conn_.transport().socket();
  watch_ = std::make_shared<ClientWatch>(client.get_executor());
  auto cut = [up = upstream_.get()] {
    boost::system::error_code ec;
    up->socket.close(ec);  // the model sees the connection end; the pending read ends
  };
  asio::co_spawn(client.get_executor(),
                 watch(
                     watch_, client, [this] { return client_gone(); }, cut),
                 asio::detached);
}

void Exchange::stop_watching() {
  if (!watch_ || watch_->stopped) return;
  watch_->stopped = true;
  watch_->timer.cancel();
  conn_.transport().cancel();  // ends the pending wait; nothing else waits on the client now
}

bool Exchange::client_left() const { return watch_ && watch_->gone; }

// The request is over for a client that left: 499 in the access log, no reply.
void Exchange::client_closed_request() {
  status_ = 499;
  error_code_ = "ClientClosedRequest";
  conn_.close_after_response();
}

}  // namespace scoregate::proxy

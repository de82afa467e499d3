// Phase 5 while the router waits for the model: a client that disconnects cancels its request
// (README "Requests"; ARCHITECTURE.md "A request, file by file"). Once the request is read
// whole, nothing else reads the client socket until the answer is relayed, so the worker's
// ClientSweep polls it: a hang-up there (POLLRDHUP: EOF or reset, not the bytes of a pipelined
// next request) means the client is gone, and the model's connection is closed at once (never
// pooled) so the model sees it and the Exchange's pending upstream read or write ends.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>

#include "http/awaitable.hpp"
#include "proxy/exchange.hpp"

namespace scoregate::proxy {

void ClientSweep::add(Exchange* e, const asio::any_io_executor& ex) {
  auto& s = *state_;
  s.waiting.push_back(e);
  if (s.running) return;
  s.running = true;
  asio::co_spawn(ex, run(state_), asio::detached);
}

void ClientSweep::remove(Exchange* e) {
  auto& w = state_->waiting;
  if (auto it = std::find(w.begin(), w.end(), e); it != w.end()) {
    *it = w.back();
    w.pop_back();
  }
}

// Runs while any exchange waits; every exchange is removed (by itself, or here when its client
// left) before it is destroyed, so the pointers are valid at each tick.
asio::awaitable<void> ClientSweep::run(std::shared_ptr<State> s) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!s->waiting.empty()) {
    timer.expires_after(kEvery);
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec) break;
    auto& w = s->waiting;
    for (std::size_t i = 0; i < w.size();) {
      if (w[i]->cancel_if_client_left()) {
        w[i] = w.back();
        w.pop_back();
      } else {
        ++i;
      }
    }
  }
  s->running = false;
}

void Exchange::watch_client() {
  if (watching_ || client_left_ || (!upstream_ && !h2_)) return;
  watching_ = true;
  worker_.sweep.add(this, ex_);
}

void Exchange::stop_watching() {
  if (!watching_) return;
  watching_ = false;
  worker_.sweep.remove(this);
}

bool Exchange::cancel_if_client_left() {
  if (!client_gone()) return false;
  watching_ = false;  // the sweep drops it
  client_left_ = true;
  if (h2_) {
    h2_->cancel();  // RST_STREAM: the model sees the stream end; the connection stays shared
    return true;
  }
  // Null while a retry (README "Retries") connects anew: it sees client_left() after.
  if (!upstream_) return true;
  boost::system::error_code ec;
  upstream_->socket.close(ec);  // the model sees the connection end; the pending I/O ends
  return true;
}

// The request is over for a client that left: 499 in the access log, no reply.
void Exchange::client_closed_request() {
  status_ = 499;
  error_code_ = "ClientClosedRequest";
  conn_.close_after_response();
}

}  // namespace scoregate::proxy

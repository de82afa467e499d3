// One timer per connection that enforces whichever deadline is current (header, idle,
// request timeout). Moving a deadline later costs no timer operation: the timer re-arms
// itself only when it fires early; so a keep-alive request re-arms at most once or twice.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace scoregate::http {

class Watchdog {
 public:
  using clock = std::chrono::steady_clock;

  // on_expire runs on the executor when an armed deadline passes (e.g. cancel the socket).
  Watchdog(const boost::asio::any_io_executor& ex, std::function<void()> on_expire);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void arm(clock::duration timeout);
  void disarm();
  bool expired() const { return state_->expired; }

 private:
  struct State {
    explicit State(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    clock::time_point deadline = clock::time_point::max();
    clock::time_point timer_at = clock::time_point::max();
    std::function<void()> on_expire;
    unsigned generation = 0;
    bool waiting = false;
    bool expired = false;
  };
  static void start(const std::shared_ptr<State>& s);

  std::shared_ptr<State> state_;
};

}  // namespace scoregate::http

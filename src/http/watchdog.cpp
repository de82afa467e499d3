#include "http/watchdog.hpp"

namespace scoregate::http {

Watchdog::Watchdog(const boost::asio::any_io_executor& ex, std::function<void()> on_expire)
    : state_(std::make_shared<State>(ex)) {
  state_->on_expire = std::move(on_expire);
}

Watchdog::~Watchdog() {
  state_->on_expire = nullptr;
  state_->deadline = clock::time_point::max();
  state_->timer.cancel();
}

void Watchdog::arm(clock::duration timeout) {
  auto& s = *state_;
  s.deadline = clock::now() + timeout;
  s.expired = false;
  // A waiting timer that fires earlier than the new deadline re-arms itself then.
  if (s.waiting && s.timer_at <= s.deadline) return;
  if (s.waiting) s.timer.cancel();  // needs to fire sooner
  start(state_);
}

void Watchdog::disarm() { state_->deadline = clock::time_point::max(); }

void Watchdog::start(const std::shared_ptr<State>& s) {
  s->timer_at = s->deadline;
  s->timer.expires_at(s->deadline);
  s->waiting = true;
  auto generation = ++s->generation;
  s->timer.async_wait([s, generation](const boost::system::error_code& ec) {
    if (generation != s->generation) return;  // superseded by a newer start()
    s->waiting = false;
    if (!s->on_expire) return;
    if (ec && ec != boost::asio::error::operation_aborted) return;
    if (s->deadline == clock::time_point::max()) return;
    if (clock::now() < s->deadline) {
      start(s);
      return;
    }
    s->expired = true;
    s->on_expire();
  });
}

}  // namespace scoregate::http

#include "upstream/gate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>

namespace scoregate::upstream {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::uint64_t next_target_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

Slot& Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    release();
    gate_ = std::move(o.gate_);
    target_ = std::move(o.target_);
  }
  return *this;
}

void Slot::release() {
  if (target_) gate_->release(target_);
  target_.reset();
  gate_.reset();
}

Gate::Gate(std::string name, GateSettings settings, std::vector<TargetPtr> targets)
    : name_(std::move(name)), settings_(settings), targets_(std::move(targets)) {}

namespace {
bool contains(const std::vector<std::uint64_t>& v, std::uint64_t id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}
bool eligible(const Target& t, Clock::time_point now) {
  return t.member.load(std::memory_order_relaxed) && t.ready.load(std::memory_order_relaxed) &&
         now >= t.ejected_until;
}
}  // namespace

// Least outstanding requests among eligible targets with a free slot; ties go round-robin
// so equal targets share the load.
TargetPtr Gate::pick_locked(const std::vector<std::uint64_t>& tried, Clock::time_point now) {
  const std::size_t n = targets_.size();
  TargetPtr best;
  for (std::size_t k = 0; k < n; ++k) {
    const auto& t = targets_[(rr_ + k) % n];
    if (!eligible(*t, now) || t->in_flight >= settings_.slots_per_target) continue;
    if (!tried.empty() && contains(tried, t->id)) continue;
    if (!best || t->in_flight < best->in_flight) best = t;
  }
  if (best) ++rr_;
  return best;
}

std::size_t Gate::max_queue_locked() const {
  if (settings_.max_queue_length) return settings_.max_queue_length;
  std::size_t members = 0;
  for (const auto& t : targets_) members += t->member.load(std::memory_order_relaxed);
  return std::max<std::size_t>(1, 2 * settings_.slots_per_target * members);
}

void Gate::dispatch_locked(Clock::time_point now) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto& w = *it;
    TargetPtr t = pick_locked(w->tried, now);
    if (!t) {
      if (w->tried.empty()) break;  // nobody behind it can be served either
      ++it;
      continue;
    }
    ++t->in_flight;
    w->granted = std::move(t);
    w->queued = false;
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
    it = waiters_.erase(it);
  }
}

Slot Gate::try_admit(const std::vector<std::uint64_t>& tried) {
  std::lock_guard lock(mutex_);
  if (!waiters_.empty()) return {};  // first come, first served
  auto t = pick_locked(tried, Clock::now());
  if (!t) return {};
  ++t->in_flight;
  return Slot(shared_from_this(), std::move(t));
}

asio::awaitable<AdmitResult> Gate::admit(const std::vector<std::uint64_t>& tried,
                                         std::function<bool()> client_gone) {
  auto executor = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  WaiterPtr w;
  std::chrono::milliseconds max_wait;
  {
    std::lock_guard lock(mutex_);
    // First come, first served: a newcomer may not overtake queued requests.
    if (waiters_.empty())
      if (auto t = pick_locked(tried, start)) {
        ++t->in_flight;
        co_return AdmitResult{AdmitStatus::granted, Slot(shared_from_this(), std::move(t))};
      }
    bool ready = false;
    for (const auto& t : targets_) ready |= eligible(*t, start) && !contains(tried, t->id);
    if (!ready) co_return AdmitResult{AdmitStatus::no_ready_target, {}};
    max_wait = settings_.max_queue_wait;
    if (max_wait.count() == 0 || waiters_.size() >= max_queue_locked()) {
      rejected_full_.fetch_add(1, std::memory_order_relaxed);
      co_return AdmitResult{max_wait.count() == 0 ? AdmitStatus::no_queue : AdmitStatus::queue_full,
                            {}};
    }
    w = std::make_shared<Waiter>(executor);
    w->tried = tried;
    w->queued = true;
    waiters_.push_back(w);
  }
  const auto deadline = start + max_wait;
  for (;;) {
    auto left = deadline - Clock::now();
    w->timer.expires_after(std::min<Clock::duration>(left, 50ms));
    co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    bool gone = client_gone && client_gone();
    bool timed_out = Clock::now() >= deadline;
    TargetPtr granted;
    {
      std::lock_guard lock(mutex_);
      granted = std::move(w->granted);
      if (!granted && (gone || timed_out)) {
        waiters_.remove(w);
        if (!gone) rejected_timeout_.fetch_add(1, std::memory_order_relaxed);
        co_return AdmitResult{gone ? AdmitStatus::cancelled : AdmitStatus::queue_timeout, {}};
      }
    }
    if (granted) {
      Slot slot(shared_from_this(), std::move(granted));
      if (!gone) co_return AdmitResult{AdmitStatus::granted, std::move(slot)};
      slot.release();  // hands the slot to the next waiter
      co_return AdmitResult{AdmitStatus::cancelled, {}};
    }
  }
}

void Gate::release(const TargetPtr& t) {
  std::lock_guard lock(mutex_);
  if (t->in_flight) --t->in_flight;
  const auto now = Clock::now();
  count_release_locked(now);
  dispatch_locked(now);
}

namespace {
std::int64_t whole_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
}  // namespace

void Gate::count_release_locked(Clock::time_point now) {
  const auto second = whole_seconds(now);
  auto& bucket = released_[static_cast<std::size_t>(second % kRateWindow)];
  if (bucket.second != second) bucket = {second, 0};
  ++bucket.count;
}

std::uint32_t Gate::retry_after_seconds(bool from_drain_rate) const {
  std::lock_guard lock(mutex_);
  const auto now = whole_seconds(Clock::now());
  std::uint64_t released = 0;
  for (const auto& b : released_)
    if (from_drain_rate && b.second >= 0 && now - b.second < kRateWindow) released += b.count;
  double seconds = 0;
  if (released > 0)  // (queue + 1) / (released / window): the wait of one more in line
    seconds =
        static_cast<double>(waiters_.size() + 1) * kRateWindow / static_cast<double>(released);
  else
    seconds = static_cast<double>(settings_.max_queue_wait.count()) / 1000.0;
  return static_cast<std::uint32_t>(std::clamp(std::ceil(seconds), 1.0, 60.0));
}

void Gate::report_connect(const TargetPtr& t, bool ok) {
  std::lock_guard lock(mutex_);
  if (ok) {
    t->connect_failures = 0;
    return;
  }
  ++t->connect_failures;
  if (t->connect_failures >= settings_.eject_after_failures) {
    auto doublings =
        std::min<std::uint32_t>(t->connect_failures - settings_.eject_after_failures, 6);
    t->ejected_until = Clock::now() + settings_.eject_base * (1u << doublings);
  }
}

bool Gate::probe_passed(const TargetPtr& t) {
  std::lock_guard lock(mutex_);
  t->connect_failures = 0;
  const auto now = Clock::now();
  if (now >= t->ejected_until) return false;
  t->ejected_until = {};
  dispatch_locked(now);
  return true;
}

void Gate::set_ready(const TargetPtr& t, bool ready) {
  std::lock_guard lock(mutex_);
  t->ready.store(ready, std::memory_order_relaxed);
  if (ready) dispatch_locked(Clock::now());
}

void Gate::set_targets(std::vector<TargetPtr> targets) {
  std::lock_guard lock(mutex_);
  // Only the targets that leave are marked: a target that stays never reads `false` on the
  // threads that look without the mutex (a worker would drop a good pooled connection).
  for (auto& t : targets) t->member.store(true, std::memory_order_relaxed);
  for (auto& old : targets_)
    if (std::find(targets.begin(), targets.end(), old) == targets.end())
      old->member.store(false, std::memory_order_relaxed);
  targets_ = std::move(targets);
  dispatch_locked(Clock::now());
}

void Gate::update_settings(GateSettings settings) {
  std::lock_guard lock(mutex_);
  settings_ = settings;
  dispatch_locked(Clock::now());
}

std::vector<TargetPtr> Gate::targets() const {
  std::lock_guard lock(mutex_);
  return targets_;
}

std::vector<Gate::TargetView> Gate::view() const {
  std::lock_guard lock(mutex_);
  std::vector<TargetView> out;
  auto now = Clock::now();
  for (const auto& t : targets_)
    out.push_back({t->address, t->ready.load(std::memory_order_relaxed), now < t->ejected_until,
                   t->in_flight});
  return out;
}

std::size_t Gate::queue_length() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

}  // namespace scoregate::upstream

// Admission for one deployment, shared by every worker thread (ARCHITECTURE.md "Threads, snapshots
// and reloads": "what must be global is small, explicit"): each target has
// max_concurrent_requests_per_instance slots; a request takes a slot on the least-loaded ready
// target or waits, first come first served, for at most max_queue_wait_ms in a bounded queue. One
// mutex, held for a few comparisons.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace scoregate::upstream {

using Clock = std::chrono::steady_clock;

// A model pod (or any HTTP upstream) of a deployment.
struct Target {
  std::string address;  // "10.0.0.5:5001" as configured or as discovered
  boost::asio::ip::tcp::endpoint endpoint;
  std::uint64_t id = 0;     // process-unique; keys the per-worker connection pools
  bool discovered = false;  // from a dns: target (vs. a static address)
  // Written only under the gate's mutex, which also orders every read the gate makes. They
  // are atomics because two readers look without that mutex, and relaxed order is enough for
  // both since no other data is published through these flags and a stale value is harmless:
  // the worker's ConnectionPool::give_back() (a late `true` pools one connection to a removed
  // target; the gate no longer admits to it, so it is never taken, and the pool's sweep
  // closes it after idle_timeout) and the control thread's probe loop (a late `true` costs
  // one more probe).
  std::atomic<bool> ready{true};   // readiness probe verdict (true when there is no probe)
  std::atomic<bool> member{true};  // false once discovery or a reload removed it
  // Guarded by the gate's mutex:
  std::uint32_t in_flight = 0;
  std::uint32_t connect_failures = 0;  // in a row
  Clock::time_point ejected_until{};
};
using TargetPtr = std::shared_ptr<Target>;

std::uint64_t next_target_id();

class Gate;

// A held slot; releases itself. Moving transfers the slot.
class Slot {
 public:
  Slot() = default;
  Slot(std::shared_ptr<Gate> gate, TargetPtr target)
      : gate_(std::move(gate)), target_(std::move(target)) {}
  Slot(Slot&& o) noexcept = default;
  Slot& operator=(Slot&& o) noexcept;
  ~Slot() { release(); }
  explicit operator bool() const { return target_ != nullptr; }
  const TargetPtr& target() const { return target_; }
  void release();

 private:
  std::shared_ptr<Gate> gate_;
  TargetPtr target_;
};

// no_queue: every slot is busy and max_queue_wait is 0, so there is no queue to wait in (the
// concurrency limit refused the request; counted with queue_full in the metrics).
enum class AdmitStatus { granted, no_ready_target, queue_full, no_queue, queue_timeout, cancelled };

struct AdmitResult {
  AdmitStatus status;
  Slot slot;
};

struct GateSettings {
  std::uint32_t slots_per_target = 1;
  std::uint32_t max_queue_length = 0;  // 0 = 2 x total slots
  std::chrono::milliseconds max_queue_wait{500};
  std::uint32_t eject_after_failures = 3;
  std::chrono::milliseconds eject_base{1000};
};

class Gate : public std::enable_shared_from_this<Gate> {
 public:
  Gate(std::string name, GateSettings settings, std::vector<TargetPtr> targets);

  // Waits (at most max_queue_wait) for a slot on a ready target not in `tried`.
  // `client_gone` is polled while waiting so a vanished client gives its place up.
  boost::asio::awaitable<AdmitResult> admit(const std::vector<std::uint64_t>& tried,
                                            std::function<bool()> client_gone);
  // Immediate attempt only: a slot when one is free and nobody is queued before us.
  Slot try_admit(const std::vector<std::uint64_t>& tried);

  // Passive health: connect outcomes of a target.
  void report_connect(const TargetPtr& t, bool ok);
  // A readiness probe passed: the target accepts connections and answers, so a passive
  // ejection (connect failures) ends now instead of at its timer. True when one ended.
  bool probe_passed(const TargetPtr& t);
  // Control plane: readiness verdicts and discovered target sets.
  void set_ready(const TargetPtr& t, bool ready);
  void set_targets(std::vector<TargetPtr> targets);
  void update_settings(GateSettings settings);

  std::vector<TargetPtr> targets() const;
  // A consistent copy of every target's state, for status pages and metrics.
  struct TargetView {
    std::string address;
    bool ready, ejected;
    std::uint32_t in_flight;
  };
  std::vector<TargetView> view() const;
  const std::string& name() const { return name_; }
  std::size_t queue_length() const;
  std::uint64_t rejected_queue_full() const {
    return rejected_full_.load(std::memory_order_relaxed);
  }
  std::uint64_t rejected_timeout() const {
    return rejected_timeout_.load(std::memory_order_relaxed);
  }
  // The Retry-After of a refused request, in whole seconds (README "Requests"): with
  // `from_drain_rate`, (queue length + 1) / slots released per second over the last
  // kRateWindow seconds, rounded up; without it, or with no release in that window,
  // max_queue_wait rounded up. Clamped to [1, 60].
  std::uint32_t retry_after_seconds(bool from_drain_rate = true) const;
  static constexpr int kRateWindow = 10;

 private:
  friend class Slot;
  struct Waiter {
    explicit Waiter(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    std::vector<std::uint64_t> tried;
    TargetPtr granted;
    bool queued = false;
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  void release(const TargetPtr& t);
  TargetPtr pick_locked(const std::vector<std::uint64_t>& tried, Clock::time_point now);
  void dispatch_locked(Clock::time_point now);
  std::size_t max_queue_locked() const;
  void count_release_locked(Clock::time_point now);

  const std::string name_;
  mutable std::mutex mutex_;
  GateSettings settings_;
  std::vector<TargetPtr> targets_;
  std::list<WaiterPtr> waiters_;
  std::size_t rr_ = 0;
  // Slots released per whole second of the steady clock, the last kRateWindow seconds.
  struct ReleaseBucket {
    std::int64_t second = -1;
    std::uint32_t count = 0;
  };
  std::array<ReleaseBucket, kRateWindow> released_{};
  std::atomic<std::uint64_t> rejected_full_{0}, rejected_timeout_{0};
};

}  // namespace scoregate::upstream

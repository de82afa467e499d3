// The admission gate with real io_contexts on real threads (no sockets needed).
#include "upstream/gate.hpp"
#include "upstream/pool.hpp"

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <thread>

namespace scoregate::upstream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::vector<TargetPtr> make_targets(int n) {
  std::vector<TargetPtr> out;
  for (int i = 0; i < n; ++i) {
    auto t = std::make_shared<Target>();
    t->address = "10.0.0." + std::to_string(i + 1) + ":5001";
    t->id = next_target_id();
    out.push_back(t);
  }
  return out;
}

GateSettings settings(std::uint32_t slots, std::chrono::milliseconds wait,
                      std::uint32_t queue = 0) {
  GateSettings s;
  s.slots_per_target = slots;
  s.max_queue_wait = wait;
  s.max_queue_length = queue;
  return s;
}

// Runs one admit() to completion on `io`.
AdmitResult admit_now(asio::io_context& io, Gate& gate, std::vector<std::uint64_t> tried = {},
                      std::function<bool()> gone = {}) {
  AdmitResult out{AdmitStatus::cancelled, {}};
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        out = co_await gate.admit(tried, gone);
        done = true;
      },
      asio::detached);
  io.restart();
  while (!done) io.run_one();
  return out;
}

TEST(Gate, LeastLoadedTargetWithFreeSlot) {
  asio::io_context io;
  auto targets = make_targets(3);
  auto gate = std::make_shared<Gate>("e/d", settings(2, 0ms), targets);
  std::vector<Slot> held;
  for (int i = 0; i < 6; ++i) {
    auto r = admit_now(io, *gate);
    ASSERT_EQ(r.status, AdmitStatus::granted) << i;
    held.push_back(std::move(r.slot));
  }
  for (auto& t : targets) EXPECT_EQ(t->in_flight, 2u);            // spread evenly, never 3 on one
  EXPECT_EQ(admit_now(io, *gate).status, AdmitStatus::no_queue);  // no wait allowed
  held[0].release();
  EXPECT_EQ(targets[0]->in_flight + targets[1]->in_flight + targets[2]->in_flight, 5u);
  auto r = admit_now(io, *gate);
  EXPECT_EQ(r.status, AdmitStatus::granted);
}

TEST(Gate, QueueTimesOutAfterMaxQueueWait) {
  asio::io_context io;
  auto gate = std::make_shared<Gate>("e/d", settings(1, 150ms), make_targets(1));
  auto first = admit_now(io, *gate);
  ASSERT_EQ(first.status, AdmitStatus::granted);
  auto t0 = std::chrono::steady_clock::now();
  auto second = admit_now(io, *gate);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(second.status, AdmitStatus::queue_timeout);
  EXPECT_GE(waited, 140ms);
  EXPECT_LT(waited, 1000ms);
  EXPECT_EQ(gate->queue_length(), 0u);
  EXPECT_EQ(gate->rejected_timeout(), 1u);
}

TEST(Gate, ReleaseHandsTheSlotToTheFirstWaiterInOrder) {
  asio::io_context io;
  auto targets = make_targets(1);
  auto gate = std::make_shared<Gate>("e/d", settings(1, 5000ms, 10), targets);
  auto holder = admit_now(io, *gate);
  std::vector<int> order;
  std::vector<Slot> slots;
  for (int i = 0; i < 3; ++i)
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          auto r = co_await gate->admit({}, {});
          EXPECT_EQ(r.status, AdmitStatus::granted);
          order.push_back(i);
          slots.push_back(std::move(r.slot));
        },
        asio::detached);
  io.restart();
  io.poll();
  EXPECT_EQ(gate->queue_length(), 3u);
  holder.slot.release();
  for (int i = 0; i < 3; ++i) {
    while (order.size() < static_cast<std::size_t>(i + 1)) io.run_one();
    EXPECT_EQ(targets[0]->in_flight, 1u);  // never more than the one slot
    slots.back().release();
  }
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(Gate, QueueIsBounded) {
  asio::io_context io;
  auto gate = std::make_shared<Gate>("e/d", settings(1, 5000ms, 2), make_targets(1));
  auto holder = admit_now(io, *gate);
  for (int i = 0; i < 2; ++i)
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { co_await gate->admit({}, {}); }, asio::detached);
  io.restart();
  io.poll();
  EXPECT_EQ(gate->queue_length(), 2u);
  EXPECT_EQ(admit_now(io, *gate).status, AdmitStatus::queue_full);
  EXPECT_EQ(gate->rejected_queue_full(), 1u);
  holder.slot.release();
  io.restart();
  io.run_for(200ms);
}

// Retry-After: max_queue_wait while nothing was released recently, else the queue over the
// release rate of the last Gate::kRateWindow seconds.
TEST(Gate, RetryAfterFollowsTheDrainRate) {
  asio::io_context io;
  auto gate = std::make_shared<Gate>("e/d", settings(1, 2500ms, 8), make_targets(1));
  EXPECT_EQ(gate->retry_after_seconds(), 3u);  // no rate known: 2.5 s rounded up
  gate->update_settings(settings(1, 0ms, 8));
  EXPECT_EQ(gate->retry_after_seconds(), 1u);                  // never below 1
  for (int i = 0; i < 10; ++i) gate->try_admit({}).release();  // 10 per 10 s = 1/s
  auto holder = gate->try_admit({});
  gate->update_settings(settings(1, 5000ms, 8));
  for (int i = 0; i < 3; ++i)
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { co_await gate->admit({}, {}); }, asio::detached);
  io.restart();
  io.poll();
  ASSERT_EQ(gate->queue_length(), 3u);
  EXPECT_EQ(gate->retry_after_seconds(), 4u);                   // (3 queued + 1) at 1 per second
  EXPECT_EQ(gate->retry_after_seconds(false), 5u);              // no rate asked for: max_queue_wait
  for (int i = 0; i < 200; ++i) gate->try_admit({}).release();  // try_admit fails: queue first
  EXPECT_EQ(gate->retry_after_seconds(), 4u);
  holder.release();
  io.restart();
  io.run_for(200ms);
}

TEST(Gate, ClientGoneWhileQueuedGivesItsPlaceUp) {
  asio::io_context io;
  auto targets = make_targets(1);
  auto gate = std::make_shared<Gate>("e/d", settings(1, 5000ms), targets);
  auto holder = admit_now(io, *gate);
  bool gone = false;
  AdmitResult cancelled{AdmitStatus::granted, {}};
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        cancelled = co_await gate->admit({}, [&] { return gone; });
        finished = true;
      },
      asio::detached);
  io.restart();
  io.poll();
  EXPECT_EQ(gate->queue_length(), 1u);
  gone = true;
  auto t0 = std::chrono::steady_clock::now();
  while (!finished) io.run_one();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);  // noticed within a poll period
  EXPECT_EQ(cancelled.status, AdmitStatus::cancelled);
  EXPECT_EQ(gate->queue_length(), 0u);
  holder.slot.release();
  EXPECT_EQ(targets[0]->in_flight, 0u);  // nobody took the released slot by mistake
}

TEST(Gate, NotReadyAndEjectedTargetsGetNothing) {
  asio::io_context io;
  auto targets = make_targets(2);
  auto gate = std::make_shared<Gate>("e/d", settings(10, 0ms), targets);
  gate->set_ready(targets[0], false);
  for (int i = 0; i < 5; ++i) {
    auto r = admit_now(io, *gate);
    ASSERT_EQ(r.status, AdmitStatus::granted);
    EXPECT_EQ(r.slot.target(), targets[1]);
  }
  for (int i = 0; i < 3; ++i) gate->report_connect(targets[1], false);  // ejected now
  EXPECT_EQ(admit_now(io, *gate).status, AdmitStatus::no_ready_target);
  gate->set_ready(targets[0], true);
  EXPECT_EQ(admit_now(io, *gate).slot.target(), targets[0]);
}

// README "Upstream faults": a passing readiness probe re-admits an ejected target at once
// instead of at the end of its ejection.
TEST(Gate, PassingProbeEndsAnEjection) {
  asio::io_context io;
  auto targets = make_targets(1);
  auto gate = std::make_shared<Gate>("e/d", settings(1, 100ms), targets);
  EXPECT_FALSE(gate->probe_passed(targets[0]));  // not ejected: nothing to end
  for (int i = 0; i < 3; ++i) gate->report_connect(targets[0], false);
  EXPECT_TRUE(gate->view()[0].ejected);
  EXPECT_EQ(admit_now(io, *gate).status, AdmitStatus::no_ready_target);
  EXPECT_TRUE(gate->probe_passed(targets[0]));
  EXPECT_FALSE(gate->view()[0].ejected);
  auto r = admit_now(io, *gate);
  EXPECT_EQ(r.status, AdmitStatus::granted);
  r.slot.release();
  // the failures in a row start again from zero: one more does not eject
  gate->report_connect(targets[0], false);
  EXPECT_FALSE(gate->view()[0].ejected);
}

TEST(Gate, TriedTargetsAreSkipped) {
  asio::io_context io;
  auto targets = make_targets(2);
  auto gate = std::make_shared<Gate>("e/d", settings(1, 100ms), targets);
  auto r = admit_now(io, *gate, {targets[0]->id});
  EXPECT_EQ(r.slot.target(), targets[1]);
  r.slot.release();
  EXPECT_EQ(admit_now(io, *gate, {targets[0]->id, targets[1]->id}).status,
            AdmitStatus::no_ready_target);
}

// Slots are global: workers on other threads never exceed the limit together.
TEST(Gate, SlotLimitHoldsAcrossThreads) {
  auto targets = make_targets(2);
  auto gate = std::make_shared<Gate>("e/d", settings(3, 2000ms, 1000), targets);
  std::atomic<int> in_use{0}, peak{0}, granted{0};
  auto worker = [&] {
    asio::io_context io;
    for (int c = 0; c < 20; ++c)
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 20; ++i) {
              auto r = co_await gate->admit({}, {});
              if (r.status != AdmitStatus::granted) continue;
              ++granted;
              int now = ++in_use;
              int p = peak.load();
              while (now > p && !peak.compare_exchange_weak(p, now)) {
              }
              asio::steady_timer t(co_await asio::this_coro::executor, 100us);
              co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
              --in_use;
              r.slot.release();
            }
          },
          asio::detached);
    io.run();
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_LE(peak.load(), 6);
  EXPECT_EQ(granted.load(), 800);
  EXPECT_EQ(targets[0]->in_flight + targets[1]->in_flight, 0u);
}

}  // namespace
}  // namespace scoregate::upstream

namespace scoregate::upstream {
namespace {

// Exact least-outstanding balancing: a target that answers slowly keeps more requests in
// flight, so it is picked less; round-robin or random choice would give it half the load.
TEST(Gate, SlowTargetDoesNotAttractMoreWork) {
  auto targets = make_targets(2);  // [0] answers in 1 tick, [1] in 10 ticks
  auto gate = std::make_shared<Gate>("e/d", settings(16, 0ms), targets);
  struct Held {
    int until;
    Slot slot;
  };
  std::vector<Held> held;
  int sent[2] = {0, 0};
  for (int tick = 0; tick < 2000; ++tick) {
    for (auto it = held.begin(); it != held.end();)
      it = it->until <= tick ? held.erase(it) : std::next(it);
    for (int k = 0; k < 2; ++k) {  // two arrivals per tick
      auto slot = gate->try_admit({});
      ASSERT_TRUE(slot);
      int which = slot.target() == targets[0] ? 0 : 1;
      ++sent[which];
      held.push_back({tick + (which == 0 ? 1 : 10), std::move(slot)});
    }
  }
  EXPECT_GT(sent[0], 3 * sent[1]) << sent[0] << " vs " << sent[1];
}

// Target::member is written under the gate's mutex on the control thread and read without it
// by a worker's ConnectionPool::give_back() (upstream/gate.hpp). Run under ThreadSanitizer
// (unit_tests_threads), this shows a data race if the flag is ever a plain bool again.
TEST(Gate, PoolReadsMembershipWhileTheControlThreadChangesIt) {
  auto targets = make_targets(2);
  const auto& stays = targets[0];
  const auto& moves = targets[1];
  auto gate = std::make_shared<Gate>("e/d", settings(1, 0ms), targets);
  asio::io_context io;  // executor for the connections' sockets and watchdogs; never run
  ConnectionPool pool;  // used by the worker thread only, as in production
  std::atomic<bool> stop{false};
  std::atomic<int> stays_seen_removed{0};
  std::thread worker([&] {
    while (!stop.load()) {
      pool.give_back(std::make_unique<UpstreamConnection>(io.get_executor(), moves));
      if (!stays->member.load(std::memory_order_relaxed)) ++stays_seen_removed;
      pool.sweep(Clock::now() + 1h);  // keep the pool small
    }
  });
  for (int i = 0; i < 2000; ++i) {
    gate->set_targets({stays});
    gate->set_targets({stays, moves});
  }
  stop = true;
  worker.join();
  // A target that stays in every set is never seen as removed, even for a moment.
  EXPECT_EQ(stays_seen_removed.load(), 0);

  // Membership decides what the pool keeps.
  pool.sweep(Clock::now() + 1h);
  gate->set_targets({stays});
  pool.give_back(std::make_unique<UpstreamConnection>(io.get_executor(), moves));
  EXPECT_EQ(pool.sweep(Clock::now() + 1h), 0u) << "a removed target's connection was pooled";
  pool.give_back(std::make_unique<UpstreamConnection>(io.get_executor(), stays));
  EXPECT_EQ(pool.sweep(Clock::now() + 1h), 1u);
}

}  // namespace
}  // namespace scoregate::upstream

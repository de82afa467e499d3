#include "upstream/health.hpp"
#include "http/awaitable.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "http/buffer.hpp"
#include "http/parser.hpp"
#include "http/watchdog.hpp"

namespace scoregate::upstream {

namespace asio = boost::asio;
using namespace std::chrono_literals;

ProbeTiming probe_timing(const settings::ReadinessProbe& p) {
  auto ms = [](std::uint32_t ms_value, std::uint32_t s_value) {
    return std::chrono::milliseconds(ms_value ? ms_value : s_value * 1000ull);
  };
  return {ms(p.period_ms, p.period_s),
          ms(p.timeout_ms, p.timeout_s),
          ms(p.initial_delay_ms, p.initial_delay_s),
          std::max(1u, p.success_threshold),
          std::max(1u, p.failure_threshold),
          p.path};
}

asio::awaitable<bool> probe_once(asio::ip::tcp::endpoint endpoint, const std::string& path,
                                 std::chrono::milliseconds timeout) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  http::Watchdog watchdog(executor, [&socket] {
    boost::system::error_code ec;
    socket.close(ec);
  });
  watchdog.arm(timeout);
  auto [cec] = co_await socket.async_connect(endpoint, nothrow);
  if (cec) co_return false;
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + endpoint.address().to_string() +
                        ":" + std::to_string(endpoint.port()) +
                        "\r\nUser-Agent: scoregate-probe\r\nConnection: close\r\n\r\n";
  auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(request), nothrow);
  if (wec) co_return false;
  http::ResponseParser parser(16384, 1 << 20);
  http::ReadBuffer in;
  for (;;) {
    auto space = in.prepare();
    auto [rec, n] =
        co_await socket.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
    if (rec) co_return false;
    in.commit(n);
    boost::system::error_code ec;
    std::size_t used = parser.put(in.data(), ec);
    in.consume(used);
    if (parser.head_done()) {
      unsigned status = parser.head().status;
      co_return status >= 200 && status < 400;
    }
    if (ec && ec != boost::beast::http::error::need_more) co_return false;
  }
}

namespace {

asio::awaitable<void> probe_loop(std::shared_ptr<bool> cancelled, std::shared_ptr<Gate> gate,
                                 TargetPtr target, ProbeTiming timing, bool delay,
                                 std::shared_ptr<std::size_t> first_round_left) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  if (delay) {
    timer.expires_after(timing.initial_delay);
    co_await timer.async_wait(nothrow);
  }
  std::uint32_t passes = 0, failures = 0;
  // Without the gate's mutex: relaxed is enough (upstream/gate.hpp, Target).
  bool ready = target->ready.load(std::memory_order_relaxed);
  while (!*cancelled && target->member.load(std::memory_order_relaxed)) {
    bool ok = co_await probe_once(target->endpoint, timing.path, timing.timeout);
    if (*cancelled) co_return;
    if (ok) {
      failures = 0;
      if (++passes >= timing.success_threshold && gate->probe_passed(target))
        spdlog::info("deployment {}: target {} passed its readiness probe; its ejection ended",
                     gate->name(), target->address);
      if (passes >= timing.success_threshold && !ready) {
        ready = true;
        gate->set_ready(target, true);
        spdlog::info("deployment {}: target {} is ready", gate->name(), target->address);
      }
    } else {
      passes = 0;
      if (++failures >= timing.failure_threshold && ready) {
        ready = false;
        gate->set_ready(target, false);
        spdlog::warn(
            "deployment {}: target {} failed {} readiness probe(s) in a row; no traffic "
            "until it passes again",
            gate->name(), target->address, failures);
      }
    }
    if (first_round_left) {  // after the verdict is applied: a pass is a ready target first
      if (*first_round_left) --*first_round_left;
      first_round_left.reset();
    }
    timer.expires_after(timing.period);
    co_await timer.async_wait(nothrow);
  }
}

}  // namespace

void ProbeRunner::set(const std::string& key, const std::shared_ptr<Gate>& gate,
                      const std::optional<settings::ReadinessProbe>& probe) {
  auto& run = runs_[key];
  if (run.cancelled) *run.cancelled = true;
  run.cancelled = std::make_shared<bool>(false);
  auto targets = gate->targets();
  if (!probe) {
    for (const auto& t : targets) gate->set_ready(t, true);
    run.probed.clear();
    run.first_round_left = std::make_shared<std::size_t>(0);  // no probe: nothing to wait for
    run.started = true;
    return;
  }
  auto timing = probe_timing(*probe);
  std::set<std::uint64_t> probed;
  // Once the first round is done it stays done; until then it counts the current targets
  // (none: no round yet, discovery may still bring some).
  const bool done = run.first_round_left && *run.first_round_left == 0;
  if (!done)
    run.first_round_left =
        targets.empty() ? nullptr : std::make_shared<std::size_t>(targets.size());
  auto left = done ? nullptr : run.first_round_left;
  for (const auto& t : targets) {
    bool known = run.probed.count(t->id) > 0;
    if (!known) gate->set_ready(t, false);  // earns traffic with its first pass
    probed.insert(t->id);
    asio::co_spawn(io_, probe_loop(run.cancelled, gate, t, timing, !known && run.started, left),
                   asio::detached);
  }
  run.probed = std::move(probed);
  run.started = true;
}

bool ProbeRunner::first_round_done(const std::string& key) const {
  auto it = runs_.find(key);
  if (it == runs_.end()) return false;
  const auto& left = it->second.first_round_left;
  return left && *left == 0;
}

void ProbeRunner::forget_all_but(const std::set<std::string>& keys) {
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (keys.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.cancelled) *it->second.cancelled = true;
    it = runs_.erase(it);
  }
}

void ProbeRunner::stop_all() {
  for (auto& [key, run] : runs_)
    if (run.cancelled) *run.cancelled = true;
  runs_.clear();
}

}  // namespace scoregate::upstream

#include "upstream/discovery.hpp"
#include "http/awaitable.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace scoregate::upstream {

namespace asio = boost::asio;
using asio::ip::tcp;

std::vector<TargetPtr> merge_discovered(const std::vector<TargetPtr>& current,
                                        const std::vector<tcp::endpoint>& found) {
  std::vector<TargetPtr> out;
  for (const auto& t : current)
    if (!t->discovered) out.push_back(t);
  for (const auto& ep : found) {
    auto address = format_endpoint(ep);
    auto same = std::find_if(current.begin(), current.end(), [&](const TargetPtr& t) {
      return t->discovered && t->address == address;
    });
    if (same != current.end()) {
      out.push_back(*same);
      continue;
    }
    auto t = std::make_shared<Target>();
    t->address = address;
    t->endpoint = ep;
    t->id = next_target_id();
    t->discovered = true;
    out.push_back(std::move(t));
  }
  return out;
}

namespace {

asio::awaitable<void> resolve_loop(std::shared_ptr<bool> cancelled, std::shared_ptr<Gate> gate,
                                   std::vector<TargetSpec> specs,
                                   std::chrono::milliseconds interval, Discovery::Changed on_change,
                                   std::string key) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  asio::steady_timer timer(executor);
  std::string last_error;
  while (!*cancelled) {
    std::vector<tcp::endpoint> found;
    bool failed = false;
    for (const auto& spec : specs) {
      auto [ec, results] =
          co_await resolver.async_resolve(spec.host, std::to_string(spec.port), nothrow);
      if (ec == asio::error::host_not_found)
        continue;  // the name exists no more: no targets from it
      if (ec) {
        failed = true;
        if (ec.message() != last_error)
          spdlog::warn(
              "deployment {}: cannot resolve dns:{}:{} ({}); keeping the last known targets",
              gate->name(), spec.host, spec.port, ec.message());
        last_error = ec.message();
        break;
      }
      for (const auto& r : results)
        if (std::find(found.begin(), found.end(), r.endpoint()) == found.end())
          found.push_back(r.endpoint());
    }
    if (*cancelled) co_return;
    if (!failed) {
      last_error.clear();
      std::sort(found.begin(), found.end());
      auto current = gate->targets();
      std::vector<std::string> before, after;
      for (const auto& t : current)
        if (t->discovered) before.push_back(t->address);
      for (const auto& ep : found) after.push_back(format_endpoint(ep));
      std::sort(before.begin(), before.end());
      if (before != after) {
        gate->set_targets(merge_discovered(current, found));
        spdlog::info("deployment {}: discovered {} target(s) (was {})", gate->name(), after.size(),
                     before.size());
        if (on_change) on_change(key);
      }
    }
    timer.expires_after(interval);
    co_await timer.async_wait(nothrow);
  }
}

}  // namespace

void Discovery::set(const std::string& key, const std::shared_ptr<Gate>& gate,
                    std::vector<TargetSpec> specs) {
  auto& cancelled = runs_[key];
  if (cancelled) *cancelled = true;
  cancelled = std::make_shared<bool>(false);
  if (specs.empty()) return;
  asio::co_spawn(io_, resolve_loop(cancelled, gate, std::move(specs), interval_, on_change_, key),
                 asio::detached);
}

void Discovery::forget_all_but(const std::set<std::string>& keys) {
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (keys.count(it->first)) {
      ++it;
      continue;
    }
    *it->second = true;
    it = runs_.erase(it);
  }
}

void Discovery::stop_all() {
  for (auto& [key, cancelled] : runs_) *cancelled = true;
  runs_.clear();
}

}  // namespace scoregate::upstream

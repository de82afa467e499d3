// The request handler of the router: one scoring request, phase by phase (ARCHITECTURE.md "A
// request, file by file"):
//
//   1. resolve route    /api/v1/endpoint/<name>/<path> or /api/v1/service/<name>/<path>  -> 404
//   2. authenticate     Bearer key, constant time                                         -> 401
//   3. choose           azureml-model-deployment header, else traffic percentages         -> 404
//   4. admit            a slot on a ready target, or a bounded FIFO wait                  ->
//   429/503
//   5. forward          keep-alive pool, request body streamed, answer streamed back      ->
//   502/504
//   6. account          access log line, metrics
//
// The phases live in exchange.cpp (1-4, 6) and forward.cpp, relay.cpp and client_watch.cpp (5;
// a client that leaves cancels the upstream, README "Requests").
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

#include "http/server_stream.hpp"
#include "proxy/client_sweep.hpp"
#include "proxy/plan.hpp"
#include "proxy/recent_errors.hpp"
#include "upstream/h2_client.hpp"
#include "upstream/pool.hpp"

namespace spdlog {
class logger;
}

namespace scoregate::proxy {

// Why a request was sent again (the label of scoregate_upstream_retries_total).
enum class RetryReason : std::uint8_t {
  connect_failed,
  pooled_closed,
  reset_unread,
  refused_stream
};
inline constexpr const char* kRetryReasons[] = {"connect_failed", "pooled_closed", "reset_unread",
                                                "refused_stream"};

// Router-level counters of one worker (one writer; read by the admin thread).
struct WorkerCounters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> router_errors[6]{};  // router's own replies by status / 100
  std::atomic<std::uint64_t> upstream_connects{0}, upstream_connect_failures{0};
  std::atomic<std::uint64_t> upstream_reused{0};
  std::atomic<std::uint64_t> upstream_timeouts{0};
  // Requests sent again (README "Retries"), by RetryReason: only when the connect failed or the
  // model provably never read the request.
  std::atomic<std::uint64_t> upstream_retries[4]{};
  std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0};
  // By protocol: [0] HTTP/1.1, [1] HTTP/2, [2] gRPC (over HTTP/2)
  std::atomic<std::uint64_t> requests_by_protocol[3]{};
  std::atomic<std::uint64_t> in_flight[3]{};  // gauge: requests being served now
  RecentErrors recent_errors;                 // the status page's "last router errors"
  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void retried(RetryReason why) { add(upstream_retries[static_cast<std::size_t>(why)]); }
};

// What one worker thread owns for proxying.
struct WorkerContext {
  upstream::ConnectionPool pool;
  std::unique_ptr<upstream::H2Pool> h2;  // HTTP/2 model connections (made by the Worker)
  WorkerCounters counters;
  std::shared_ptr<const ProxyPlan> plan;  // replaced (on this thread) at each reload
  std::shared_ptr<spdlog::logger> access_log;
  ClientSweep sweep;  // clients that leave while their request waits for the model
};

class Proxy final : public http::StreamHandler {
 public:
  explicit Proxy(WorkerContext& worker) : worker_(worker) {}
  boost::asio::awaitable<void> handle(http::ServerStream& stream) override;

 private:
  WorkerContext& worker_;
};

}  // namespace scoregate::proxy

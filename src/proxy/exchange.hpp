// One request through the router (internal to proxy/). See proxy.hpp for the phases.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "http/parser.hpp"
#include "http/watchdog.hpp"
#include "proxy/proxy.hpp"
#include "routing/routes.hpp"
#include "upstream/h2_client.hpp"

namespace scoregate::proxy {

namespace asio = boost::asio;

class Exchange {
 public:
  Exchange(http::ServerStream& conn, WorkerContext& worker);
  ~Exchange() { stop_watching(); }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  asio::awaitable<void> run();
  // For the worker's ClientSweep: when the client has hung up, closes the model's connection
  // (its pending I/O ends, the model sees it) and returns true.
  bool cancel_if_client_left();

 private:
  // A reply the router makes itself instead of forwarding.
  struct Refusal {
    unsigned status;
    std::string_view code;
    std::string message;
  };
  // phases, in order (1-3 never wait, so they are plain functions)
  std::optional<Refusal> resolve_route();
  std::optional<Refusal> authenticate();
  std::optional<Refusal> choose_deployment();
  asio::awaitable<void> answer_health();
  asio::awaitable<bool> read_small_body();  // false: answered the client
  asio::awaitable<bool> admit();
  asio::awaitable<void> forward();
  // The client's body for the model: the buffered one (read_small_body()), else streamed.
  asio::awaitable<http::error_code> next_body(std::vector<std::string_view>& pieces);
  void account();

  // forward.cpp
  asio::awaitable<bool> connect_upstream(bool fresh = false);
  bool left_while_connecting();  // true (and 499 recorded) when the client left meanwhile
  asio::awaitable<bool> send_request();
  asio::awaitable<void> write_failed(std::string message);
  enum class HeadRead : std::uint8_t { ok, failed, resend };  // failed: answered the client
  asio::awaitable<HeadRead> read_response_head(std::optional<http::ResponseParser>& rp,
                                               bool may_resend);
  asio::awaitable<bool> resendable(boost::system::error_code ec, bool answer_started);
  asio::awaitable<void> relay_response(http::ResponseParser& rp);
  // body_length: a fixed Content-Length (mirror copies), else the client's framing
  void build_upstream_head(std::string& out, std::optional<std::uint64_t> body_length = {}) const;
  void client_response_start(const http::ResponseHead& head, http::ResponseStart& out) const;
  void start_mirror();
  // the first write on a pooled connection, done directly; a stale one is replaced
  asio::awaitable<bool> first_write(std::span<const asio::const_buffer> buffers);
  // connect failure: re-admit on another target; false when that failed (replied)
  asio::awaitable<bool> retry_elsewhere(const upstream::TargetPtr& target, const std::string& why);
  // the client's body could not be read (too large, malformed, client gone or stalled)
  asio::awaitable<void> client_body_failed(http::error_code ec);
  // request_timeout_ms, capped by the client's grpc-timeout
  std::chrono::milliseconds request_timeout() const;
  std::string timeout_message() const;

  // forward_h2.cpp (protocol: h2c | h2)
  asio::awaitable<void> forward_h2();
  void build_h2_head(upstream::H2RequestHead& h) const;
  asio::awaitable<bool> open_h2(const upstream::H2RequestHead& head);
  asio::awaitable<void> pump_h2_body();
  asio::awaitable<void> relay_h2(http::Watchdog& dog, const upstream::H2RequestHead& head);
  asio::awaitable<void> h2_failed(http::Watchdog& dog, bool started);
  void h2_response_start(const upstream::H2ResponseHead& rh, http::ResponseStart& out) const;
  void client_stopped_reading();
  void arm_body_timer(http::Watchdog& dog) const;
  asio::awaitable<void> reply_grpc(unsigned status, std::string_view code,
                                   const std::string& message, std::string_view limit);

  asio::awaitable<bool> write_upstream(std::string_view a,
                                       const std::vector<std::string_view>& pieces,
                                       std::string_view b);

  // 429 and 503 also carry Retry-After and the limit that refused (README "Requests").
  // client_watch.cpp: from the last request byte until the answer ends, a client that
  // disconnects closes the model's connection (client_left() then says so).
  void watch_client();
  void stop_watching();
  bool client_left() const { return client_left_; }
  void client_closed_request();

  asio::awaitable<void> reply(unsigned status, std::string_view code, std::string message,
                              std::string_view limit = {});
  asio::awaitable<void> refuse(upstream::AdmitStatus why, std::string message);
  bool client_gone() const;

  http::ServerStream& conn_;
  asio::any_io_executor ex_;  // the worker's (set by run())
  WorkerContext& worker_;
  std::shared_ptr<const ProxyPlan> plan_;
  std::chrono::steady_clock::time_point start_;
  routing::RequestId request_id_;
  std::string client_request_id_;
  std::string forward_target_;
  const routing::EndpointRoute* endpoint_ = nullptr;
  const DeploymentPlan* deployment_ = nullptr;
  int deployment_index_ = -1;
  upstream::Slot slot_;
  std::vector<std::uint64_t> tried_;
  upstream::ConnectionPtr upstream_;
  std::unique_ptr<upstream::H2Stream> h2_;  // the model's stream (protocol: h2c | h2)
  http::error_code body_error_;             // the client's body failed (HTTP/2 pump)
  bool grpc_ = false;                       // content-type application/grpc[+...]
  std::optional<std::chrono::milliseconds> grpc_timeout_;
  int grpc_status_ = -1;
  int protocol_index_ = 0;
  routing::RouteKind route_kind_ =
      routing::RouteKind::scoring;  // WorkerCounters::requests_by_protocol  // for the access log:
                                    // the model's, or the router's own
  bool watching_ = false;           // registered with worker_.sweep
  bool client_left_ = false;        // the sweep saw the client hang up
  bool upstream_reusable_ = false;
  bool upstream_pooled_ = false;     // upstream_ came from the pool (README "Retries")
  bool upstream_untouched_ = false;  // nothing written to upstream_ yet
  bool request_sent_ = false;
  std::string buffered_body_;  // read_small_body(): the whole body, read before admission
  bool body_buffered_ = false;
  bool buffered_body_given_ = false;
  std::string mirror_body_;
  int mirror_ = -1;

  unsigned status_ = 0;
  std::string_view error_code_;  // router error code for the log, "" when the model answered
  std::uint64_t bytes_out_ = 0;
  std::chrono::steady_clock::time_point upstream_start_{};
  std::chrono::steady_clock::duration upstream_time_{};
};

}  // namespace scoregate::proxy

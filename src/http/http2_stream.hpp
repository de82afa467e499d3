// One request stream of an Http2Session as the handler sees it (http/server_stream.hpp).
// It waits on its own timer, used as an event: the session cancels it when the core reports
// something for the stream, and its expiry is the body_idle_timeout.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <chrono>

#include "http/body_rate.hpp"
#include "http/http2_core.hpp"
#include "http/server_stream.hpp"

namespace scoregate::http {

class Http2Session;

class H2ServerStream final : public ServerStream {
 public:
  H2ServerStream(Http2Session& session, H2Stream& state);

  Protocol protocol() const override { return Protocol::h2; }
  const RequestHead& request() const override { return state_.head; }
  std::uint64_t body_bytes() const override { return state_.received; }
  boost::asio::awaitable<error_code> read_body(std::vector<std::string_view>& pieces) override;
  boost::asio::awaitable<error_code> start_response(const ResponseStart& start) override;
  boost::asio::awaitable<error_code> write_body(std::string_view bytes,
                                                bool end_stream = false) override;
  boost::asio::awaitable<error_code> end_response(std::span<const OutField> trailers = {}) override;
  boost::asio::awaitable<void> reply_error(unsigned status, std::string_view code,
                                           std::string_view message, const Extra& extra = {},
                                           std::string_view limit = {}) override;
  void abort() override;
  bool client_gone() const override;
  bool timed_out() const override { return timed_out_; }
  const ServerLimits& limits() const override;
  const std::string& peer_address() const override;

  H2Stream& state() { return state_; }
  void wake() { event_.cancel(); }

 private:
  using clock = std::chrono::steady_clock;
  // Waits for wake() or the deadline; true when the deadline passed.
  boost::asio::awaitable<void> discard_body();
  boost::asio::awaitable<bool> wait_until(clock::time_point deadline);
  error_code gone_error() const;

  Http2Session& session_;
  H2Stream& state_;
  boost::asio::steady_timer event_;
  BodyRate body_rate_;
  bool timed_out_ = false;
  bool ended_ = false;  // end_stream given or end_response() called
};

}  // namespace scoregate::http

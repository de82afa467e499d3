// Phase 5, second half: the model's answer back to the client, as it arrives.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "http/awaitable.hpp"
#include "http/serialize.hpp"
#include "proxy/exchange.hpp"

#include <charconv>

namespace scoregate::proxy {

namespace bhttp = boost::beast::http;

namespace {
bool is_router_owned(const http::Field& f) {
  using boost::beast::iequals;
  return f.id == bhttp::field::content_length || iequals(f.name, "x-request-id") ||
         iequals(f.name, "x-ms-client-request-id") || iequals(f.name, "azureml-model-deployment");
}
}  // namespace

void Exchange::client_response_start(const http::ResponseHead& head,
                                     http::ResponseStart& out) const {
  const auto& req = conn_.request();
  out.status = head.status;
  out.reason = head.reason;
  out.fields.reserve(head.fields.size() + 3);
  for (const auto& f : head.fields) {
    if (http::is_hop_by_hop(f, head) || is_router_owned(f)) continue;
    out.fields.push_back({f.name, f.value});
  }
  out.fields.push_back({"azureml-model-deployment", deployment_->state->name});
  out.fields.push_back({"x-request-id", request_id_});
  if (!client_request_id_.empty())
    out.fields.push_back({"x-ms-client-request-id", client_request_id_});
  out.bodiless = req.method == bhttp::verb::head || head.status < 200 || head.status == 204 ||
                 head.status == 304;
  if (out.bodiless) {
    if (auto cl = head.find(bhttp::field::content_length); !cl.empty()) {
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), n);
      if (ec == std::errc() && p == cl.data() + cl.size()) out.content_length = n;
    }
    return;
  }
  switch (head.framing) {
    case http::BodyFraming::none:
      out.content_length = 0;
      break;
    case http::BodyFraming::content_length:
      out.content_length = head.content_length;
      break;
    case http::BodyFraming::chunked:
    case http::BodyFraming::until_close:
      break;  // unknown length: the client's protocol frames it
  }
}

// Every read from the model is written to the client at once (server-sent events and
// chunked answers arrive as the model sends them); framing is rebuilt, bytes are not touched.
namespace {
// Parses the model's buffered bytes and appends the body they complete to out. False when the
// model's answer is malformed.
bool take_buffered_body(http::ResponseParser& rp, upstream::UpstreamConnection& up,
                        std::string& out) {
  if (up.in.empty() || rp.done()) return true;
  boost::system::error_code ec;
  std::size_t used = rp.put(up.in.data(), ec);
  if (ec && ec != bhttp::error::need_more) return false;
  auto& pieces = rp.body_pieces();
  if (!pieces.empty()) {
    for (auto p : pieces) out += p;
    pieces.clear();
  }
  up.in.consume(used);
  return true;
}
}  // namespace

asio::awaitable<void> Exchange::relay_response(http::ResponseParser& rp) {
  auto& up = *upstream_;
  const auto& head = rp.head();
  status_ = head.status;
  http::ResponseStart start;
  client_response_start(head, start);
  bool failed = static_cast<bool>(co_await conn_.start_response(start));
  std::string out;
  bool head_sent = false;  // a head without body bytes yet goes out at once (event streams)
  up.watchdog.arm(conn_.limits().body_idle_timeout);
  while (!failed) {
    if (!take_buffered_body(rp, up, out)) {
      error_code_ = "UpstreamMalformedResponse";
      break;
    }
    const bool done = rp.done();
    if (done) stop_watching();  // the model's part is over; the client's write tells the rest
    if (!out.empty() || done || !head_sent) {
      head_sent = true;
      failed = static_cast<bool>(co_await conn_.write_body(out, done));
      bytes_out_ += out.size();
      out.clear();
      if (failed) break;
    }
    if (done) {
      upstream_reusable_ = head.keep_alive && head.framing != http::BodyFraming::until_close &&
                           request_sent_ && up.in.empty();
      co_return;
    }
    auto space = up.in.prepare();
    auto [ec, n] =
        co_await up.socket.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
    if (ec == asio::error::eof && head.framing == http::BodyFraming::until_close) {
      boost::system::error_code eof_ec;
      rp.put_eof(eof_ec);
      continue;
    }
    if (ec) {
      error_code_ = client_left()           ? "ClientClosedResponse"
                    : up.watchdog.expired() ? "UpstreamBodyTimeout"
                                            : "UpstreamReset";
      break;
    }
    up.in.commit(n);
    up.watchdog.arm(conn_.limits().body_idle_timeout);
  }
  if (failed) {
    error_code_ = "ClientClosedResponse";
    conn_.close_after_response();
    co_return;  // the model connection is dropped: its answer was not read to the end
  }
  // The answer broke after its head was sent: cut the client's stream so the client sees an
  // incomplete message instead of a complete-looking short one.
  conn_.abort();
}

}  // namespace scoregate::proxy

// Phase 5, second half: the model's answer back to the client, as it arrives.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "http/awaitable.hpp"
#include "http/serialize.hpp"
#include "proxy/exchange.hpp"

namespace scoregate::proxy {

namespace bhttp = boost::beast::http;

namespace {
bool is_router_owned(const http::Field& f) {
  using boost::beast::iequals;
  return f.id == bhttp::field::content_length || iequals(f.name, "x-request-id") ||
         iequals(f.name, "x-ms-client-request-id") || iequals(f.name, "azureml-model-deployment");
}
}  // namespace

void Exchange::build_client_head(const http::ResponseHead& head, std::string& out) {
  const auto& req = conn_.request();
  http::HeadWriter w(out);
  w.status_line(head.status, head.reason);
  for (const auto& f : head.fields) {
    if (http::is_hop_by_hop(f, head) || is_router_owned(f)) continue;
    w.field(f.name, f.value);
  }
  w.field("azureml-model-deployment", deployment_->state->name);
  w.field("x-request-id", request_id_);
  if (!client_request_id_.empty()) w.field("x-ms-client-request-id", client_request_id_);
  const bool bodiless = req.method == bhttp::verb::head || head.status < 200 ||
                        head.status == 204 || head.status == 304;
  if (bodiless) {
    if (head.status != 204)
      if (auto cl = head.find(bhttp::field::content_length); !cl.empty())
        w.field("Content-Length", cl);
  } else {
    switch (head.framing) {
      case http::BodyFraming::none:
        w.content_length(0);
        break;
      case http::BodyFraming::content_length:
        w.content_length(head.content_length);
        break;
      case http::BodyFraming::chunked:
        w.field("Transfer-Encoding", "chunked");
        break;
      case http::BodyFraming::until_close:
        if (req.version == 11)
          w.field("Transfer-Encoding", "chunked");
        else
          conn_.close_after_response();
        break;
    }
  }
  if (!conn_.keep_alive()) w.field("Connection", "close");
  w.end();
}

// Every read from the model is written to the client at once (server-sent events and
// chunked answers arrive as the model sends them); framing is rebuilt, bytes are not touched.
namespace {
// Parses the model's buffered bytes and appends the body they complete to out (re-chunked
// when the client gets chunked framing). False when the model's answer is malformed.
bool take_buffered_body(http::ResponseParser& rp, upstream::UpstreamConnection& up, bool rechunk,
                        std::string& out) {
  if (up.in.empty() || rp.done()) return true;
  boost::system::error_code ec;
  std::size_t used = rp.put(up.in.data(), ec);
  if (ec && ec != bhttp::error::need_more) return false;
  auto& pieces = rp.body_pieces();
  if (!pieces.empty()) {
    std::size_t size = 0;
    for (auto p : pieces) size += p.size();
    if (rechunk) http::append_chunk_header(out, size);
    for (auto p : pieces) out += p;
    if (rechunk) out += http::kChunkEnd;
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
  std::string out;
  out.reserve(head.raw.size() + 512);
  build_client_head(head, out);
  const bool rechunk =
      head.framing == http::BodyFraming::chunked ||
      (head.framing == http::BodyFraming::until_close && conn_.request().version == 11 &&
       conn_.request().method != bhttp::verb::head);
  up.watchdog.arm(conn_.limits().body_idle_timeout);
  for (;;) {
    if (!take_buffered_body(rp, up, rechunk, out)) {
      error_code_ = "UpstreamMalformedResponse";
      break;
    }
    const bool done = rp.done();
    if (done) stop_watching();  // the model's part is over; the client's write tells the rest
    if (done && rechunk) out += http::kLastChunk;
    if (!out.empty()) {
      auto ec = co_await conn_.write(out);
      bytes_out_ += out.size();
      out.clear();
      if (ec) {
        error_code_ = "ClientClosedResponse";
        conn_.close_after_response();
        co_return;  // the model connection is dropped: its answer was not read to the end
      }
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
  // The answer broke after its head was sent: cut the client connection so the client sees
  // an incomplete message instead of a complete-looking short one.
  conn_.close_after_response();
  conn_.transport().close();
}

}  // namespace scoregate::proxy

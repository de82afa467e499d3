// One request from a client and the response to it, whatever the protocol: an HTTP/1.1
// connection (http/http1_connection.hpp, one request at a time) or one stream of an HTTP/2
// session (http/http2_session.hpp, many at once). The router's Exchange (proxy/) and every
// other handler see only this interface (ARCHITECTURE.md "A request, file by file").
//
// The response is structured, not bytes: start_response() takes the status and fields, and
// each protocol frames them itself (HTTP/1.1: status line, Content-Length or chunked;
// HTTP/2: HEADERS and DATA frames). start_response() may buffer: the head goes out with the
// first body bytes, or alone at end_response(), so a small answer is one write.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace scoregate::http {

using boost::system::error_code;

enum class Protocol : std::uint8_t { h1, h2 };

struct ServerLimits {
  std::uint32_t max_header_bytes = 32768;  // HTTP/1.1 head; HTTP/2 header list (decoded)
  std::uint64_t max_body_bytes = 104857600;
  std::chrono::milliseconds handshake_timeout{10000};  // accept to the end of the TLS handshake
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds keepalive_timeout{60000};
  std::chrono::milliseconds body_idle_timeout{30000};
  // The slowest request body (http/body_rate.hpp); 0 = no minimum rate.
  std::uint32_t min_body_rate_bytes_per_s = 1024;
  std::chrono::milliseconds min_body_rate_grace{10000};
  // HTTP/2 (README "HTTP/2 and gRPC"); the TLS listener offers h2 in ALPN and the plain one
  // accepts prior-knowledge h2c only when http2 is true.
  bool http2 = true;
  std::uint32_t h2_max_concurrent_streams = 128;
};

// A field of a response the router sends. Names are sent as given to HTTP/1.1 clients and
// lower-cased for HTTP/2 (the implementation does that).
struct OutField {
  std::string_view name;
  std::string_view value;
};
using OutFields = std::vector<OutField>;

struct ResponseStart {
  unsigned status = 200;
  std::string_view reason;  // HTTP/1.1 only; "" = the standard phrase
  OutFields fields;         // no framing (Content-Length, Transfer-Encoding) or hop-by-hop fields
  // The body length when known (sent as Content-Length); nullopt: unknown, so HTTP/1.1 uses
  // chunked framing (or closes the connection for an HTTP/1.0 client).
  std::optional<std::uint64_t> content_length;
  // HEAD, 1xx, 204, 304: no body follows; content_length, if set, is still sent (HEAD).
  bool bodiless = false;
};

class ServerStream {
 public:
  using Extra = std::vector<std::pair<std::string_view, std::string_view>>;

  virtual ~ServerStream() = default;

  virtual Protocol protocol() const = 0;
  // The request head. For HTTP/2 the pseudo-headers are mapped: method/method_text from
  // :method, target from :path, Host from :authority (added as a "host" field when the
  // client sent no host field), version 20; framing is content_length when the client
  // sent content-length, none for a request that ended with its HEADERS, else chunked
  // (meaning "a body of unknown length follows").
  virtual const RequestHead& request() const = 0;
  virtual std::uint64_t body_bytes() const = 0;
  // Next body pieces (views valid until the next call); empty with no error at the end.
  // Errors: bhttp::error::partial_message when the client ended or reset before the end,
  // asio::error::operation_aborted when body_idle_timeout passed or the body came slower than
  // min_body_rate_bytes_per_s (timed_out() is then true),
  // bhttp::error::body_limit past max_body_bytes.
  virtual boost::asio::awaitable<error_code> read_body(std::vector<std::string_view>& pieces) = 0;

  // The response. start_response() once, then write_body() any number of times, then
  // end_response() (trailers are sent only where the protocol carries them: HTTP/2, and
  // HTTP/1.1 chunked responses). end_stream on write_body() ends the response without
  // trailers (end_response() is then not needed).
  virtual boost::asio::awaitable<error_code> start_response(const ResponseStart& start) = 0;
  virtual boost::asio::awaitable<error_code> write_body(std::string_view bytes,
                                                        bool end_stream = false) = 0;
  virtual boost::asio::awaitable<error_code> end_response(
      std::span<const OutField> trailers = {}) = 0;
  // A complete JSON error reply (README "Requests"), with "limit" when not empty.
  virtual boost::asio::awaitable<void> reply_error(unsigned status, std::string_view code,
                                                   std::string_view message,
                                                   const Extra& extra = {},
                                                   std::string_view limit = {}) = 0;
  bool response_started() const { return response_started_; }
  // The response cannot be completed (the model's answer broke after its head went out):
  // HTTP/1.1 closes the connection, HTTP/2 resets the stream, so the client sees an
  // incomplete message instead of a short complete-looking one.
  virtual void abort() = 0;
  // The client went away: HTTP/1.1 peer closed (POLLRDHUP), HTTP/2 stream reset by the
  // client or session gone. Cheap: polled by the worker's ClientSweep every 50 ms.
  virtual bool client_gone() const = 0;
  // The last read_body()/write_body() ended because body_idle_timeout passed (or read_body()
  // because the body was slower than min_body_rate_bytes_per_s).
  virtual bool timed_out() const = 0;
  virtual const ServerLimits& limits() const = 0;
  virtual const std::string& peer_address() const = 0;
  // HTTP/1.1: the response ends the connection (sent with Connection: close). HTTP/2: no-op.
  virtual void close_after_response() {}
  virtual bool keep_alive() const { return true; }

 protected:
  bool response_started_ = false;
};

// What a connection hands each request to (proxy::Proxy for scoring, the admin handler, the
// sample model). On return the response is complete or the stream aborted; for HTTP/1.1 a
// body left unread makes the connection close.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual boost::asio::awaitable<void> handle(ServerStream& stream) = 0;
};

// A complete small response: status, content-type, the extra fields, the body.
boost::asio::awaitable<error_code> send_simple(ServerStream& stream, unsigned status,
                                               std::string_view content_type, std::string_view body,
                                               const ServerStream::Extra& extra = {});

// A live client connection of either protocol, as the worker sees it for draining.
class ClientConnection {
 public:
  virtual ~ClientConnection() = default;
  // Draining: an idle connection closes now; a busy one after its current response(s)
  // (HTTP/2: GOAWAY with the last stream id, streams in flight finish).
  virtual void begin_drain() = 0;
  // A new settings generation was published (a reload, a renewed certificate). HTTP/1.1
  // connections keep theirs until they close; an HTTP/2 connection, which a gRPC client may
  // keep for hours, is asked to move with a two-step GOAWAY (its streams finish), so every
  // client reconnects to the new certificate and settings (README "HTTP/2 and gRPC").
  virtual void on_new_generation() {}
  // Idle: an HTTP/1.1 keep-alive connection between requests (at least one request served, no
  // byte of the next one yet), an HTTP/2 session with no stream and no GOAWAY sent. The worker
  // closes idle connections first when the process nears router.max_connections (README
  // "Workers and limits").
  virtual bool idle() const { return false; }
  // Closes the connection if it is idle (HTTP/2: GOAWAY, then the close); no-op otherwise.
  virtual void close_if_idle() {}
};

}  // namespace scoregate::http

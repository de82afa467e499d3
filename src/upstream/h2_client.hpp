// HTTP/2 to model instances (a deployment with `protocol: h2c` or `protocol: h2`; README
// "HTTP/2 and gRPC"): per worker, a pool of multiplexed connections per target, each an
// nghttp2 client session on one socket (plain for h2c, TLS with ALPN "h2" for h2, the
// model's certificate verified against the system store and router.trusted_ca_file). Many
// requests share one connection up to the model's SETTINGS_MAX_CONCURRENT_STREAMS; a new
// connection is opened when every open one is full.
//
// One worker thread, no locking (like ConnectionPool). Timeouts are the caller's: it cancels
// a stream (H2Stream::cancel()) from its own timer.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "upstream/gate.hpp"

namespace scoregate::upstream {

enum class H2Mode : std::uint8_t { h2c, h2 };

struct H2Header {
  std::string name;  // lower-case
  std::string value;
};

struct H2RequestHead {
  std::string method;             // :method
  std::string scheme;             // :scheme ("http" for h2c, "https" for h2)
  std::string authority;          // :authority
  std::string path;               // :path
  std::vector<H2Header> headers;  // regular fields only: lower-case, no hop-by-hop
  bool end_stream = false;        // no body follows (HEADERS carries END_STREAM)
};

struct H2ResponseHead {
  unsigned status = 0;
  std::vector<H2Header> headers;  // regular fields (no pseudo-headers)
  bool end_stream = false;        // the response ended with its HEADERS (no body, no trailers)
};

class H2Connection;

// One request/response on an H2Connection. Destroying a stream that has not ended resets
// it (RST_STREAM CANCEL); the connection stays up for its other streams.
class H2Stream {
 public:
  virtual ~H2Stream() = default;
  // Sends body bytes (copied); waits while more than a stream window of earlier bytes is
  // still unsent (the model's flow control), so memory stays bounded.
  virtual boost::asio::awaitable<boost::system::error_code> write_body(std::string_view data,
                                                                       bool end_stream) = 0;
  // The response head (1xx heads are skipped).
  virtual boost::asio::awaitable<boost::system::error_code> read_head(H2ResponseHead& out) = 0;
  // Appends the DATA bytes received so far (waits for some when none) to out; sets end when
  // the response is complete (trailers() then holds the trailers, maybe none). Bytes handed
  // out are given back to the model's flow-control window.
  virtual boost::asio::awaitable<boost::system::error_code> read_body(std::string& out,
                                                                      bool& end) = 0;
  virtual const std::vector<H2Header>& trailers() const = 0;
  // Resets the stream now (RST_STREAM CANCEL); pending and later operations end with
  // asio::error::operation_aborted.
  virtual void cancel() = 0;
  // Why the stream failed, for the router's status: true when the model (or the connection
  // closing, or GOAWAY) made the stream fail before the model processed it (REFUSED_STREAM,
  // or a stream id above GOAWAY's last-stream-id): such a request may be retried elsewhere.
  virtual bool refused() const = 0;
  // The HTTP/2 error code of a RST_STREAM from the model (0 when none came).
  virtual std::uint32_t reset_code() const = 0;
};

struct H2OpenResult {
  std::unique_ptr<H2Stream> stream;  // null on failure
  boost::system::error_code ec;
  bool timed_out = false;       // connect or TLS handshake took longer than connect_timeout
  bool new_connection = false;  // a connection was opened (count it as an upstream connect)
  bool connect_failed =
      false;  // the failure was the TCP connect/TLS handshake (report to the gate)
};

struct H2PoolLimits {
  std::chrono::milliseconds idle_timeout{
      30000};  // a connection with no stream for this long closes
  std::uint32_t max_connections_per_target = 8;
  std::uint32_t stream_window = 256 * 1024;  // our receive window per stream
  std::uint32_t connection_window = 4 * 1024 * 1024;
  std::uint32_t max_header_list = 64 * 1024;  // of a response head or trailers
};

class H2Pool {
 public:
  explicit H2Pool(boost::asio::any_io_executor ex, H2PoolLimits limits = {});
  ~H2Pool();
  H2Pool(const H2Pool&) = delete;
  H2Pool& operator=(const H2Pool&) = delete;

  // Opens a stream for head on a connection to target that has room for one more stream, or
  // on a new connection (connect + TLS handshake bounded by connect_timeout). tls: the client
  // context for H2Mode::h2 (make_client_tls_context()), ignored for h2c.
  boost::asio::awaitable<H2OpenResult> open(const TargetPtr& target, H2Mode mode, SSL_CTX* tls,
                                            const H2RequestHead& head,
                                            std::chrono::milliseconds connect_timeout);
  // Closes connections without a stream for longer than idle_timeout; returns how many.
  std::size_t sweep(Clock::time_point now);
  // Sends GOAWAY on every connection and closes them (worker exit).
  void close_all();
  std::size_t connection_count() const;

 private:
  std::shared_ptr<H2Connection> pick(std::uint64_t target_id);

  // Expires with the pool: an open() waiting for a connection when the pool goes (worker
  // exit) must not touch it again.
  std::shared_ptr<int> life_ = std::make_shared<int>(0);
  boost::asio::any_io_executor ex_;
  H2PoolLimits limits_;
  std::unordered_map<std::uint64_t, std::vector<std::shared_ptr<H2Connection>>> by_target_;
};

// A client TLS context for h2 upstreams: TLS 1.2+, ALPN "h2", peer verification against the
// system store plus trusted_ca_file (PEM, may be ""). On failure returns null and sets error
// to a sentence naming the file and what is wrong.
std::shared_ptr<SSL_CTX> make_client_tls_context(const std::string& trusted_ca_file,
                                                 std::string& error);

}  // namespace scoregate::upstream

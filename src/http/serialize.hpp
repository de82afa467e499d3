// Writing HTTP/1.1 heads, chunk framing and the router's own JSON error replies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace scoregate::http {

// Appends a head to a string; the caller adds the body bytes after end().
class HeadWriter {
 public:
  explicit HeadWriter(std::string& out) : out_(out) {}
  void request_line(std::string_view method, std::string_view target);
  void status_line(unsigned status, std::string_view reason = {});
  void field(std::string_view name, std::string_view value);
  void content_length(std::uint64_t n);
  void end() { out_ += "\r\n"; }

 private:
  std::string& out_;
};

void append_chunk_header(std::string& out, std::size_t size);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Hop-by-hop fields (RFC 9110 §7.6.1) that a proxy must not forward, plus every field the
// message's Connection header names.
bool is_hop_by_hop(const Field& f, const MessageHead& head);

// {"error":{"code":"...","message":"..."}}, with "limit":"..." after the message when `limit`
// is not empty (the limit that refused the request, README "Requests").
std::string json_error_body(std::string_view code, std::string_view message,
                            std::string_view limit = {});
void append_json_escaped(std::string& out, std::string_view s);

// A complete response with a small body: status, Content-Type/Length, the extra fields given,
// `Connection: close` when close is true.
std::string simple_response(
    unsigned status, std::string_view content_type, std::string_view body, bool close,
    const std::vector<std::pair<std::string_view, std::string_view>>& extra = {});

// A complete error response: status, JSON body, Content-Type/Length, the extra fields given,
// and `Connection: close` when close is true; `limit` as in json_error_body.
std::string error_response(unsigned status, std::string_view code, std::string_view message,
                           const std::vector<std::pair<std::string_view, std::string_view>>& extra,
                           bool close, std::string_view limit = {});

}  // namespace scoregate::http

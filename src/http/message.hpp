// Parsed HTTP/1.1 message heads (sans-IO). Field names and values are views into `raw`,
// a private copy of the head's bytes, so a head stays valid after the read buffer moves on.
#pragma once

// Beast 1.81's verb.hpp defines an inline operator<< that needs a complete std::ostream but
// includes only <iosfwd>; clang (clang-tidy, the fuzz build) refuses it without this.
#include <ostream>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scoregate::http {

namespace bhttp = boost::beast::http;

enum class BodyFraming {
  none,            // no body (no Content-Length and not chunked, or a bodiless response)
  content_length,  // exactly content_length bytes
  chunked,         // Transfer-Encoding: chunked
  until_close,     // response only: the body ends when the peer closes
};

struct Field {
  bhttp::field id;  // bhttp::field::unknown for names Beast does not know
  std::string_view name;
  std::string_view value;
};

struct MessageHead {
  MessageHead() = default;
  // Views point into `raw`: a copy or move would leave them pointing at the original.
  MessageHead(const MessageHead&) = delete;
  MessageHead& operator=(const MessageHead&) = delete;

  std::string raw;   // owns the bytes every view below points into
  int version = 11;  // 10 or 11
  std::vector<Field> fields;
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;  // what the peer asked for (Connection / version)

  // First value of a field, or "" (absent and empty are the same to the router).
  std::string_view find(bhttp::field id) const;
  std::string_view find(std::string_view name) const;  // case-insensitive
};

struct RequestHead : MessageHead {
  bhttp::verb method = bhttp::verb::unknown;
  std::string_view method_text;
  std::string_view target;
  bool expect_continue = false;
};

struct ResponseHead : MessageHead {
  unsigned status = 0;
  std::string_view reason;
};

}  // namespace scoregate::http

#include "http/errors.hpp"

#include <boost/beast/http/error.hpp>

#include <string>

namespace scoregate::http {

namespace {
class ProtocolCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "scoregate.http"; }
  std::string message(int ev) const override {
    switch (static_cast<protocol_error>(ev)) {
      case protocol_error::transfer_encoding_unsupported:
        return "Transfer-Encoding other than 'chunked' is not supported";
      case protocol_error::obs_fold:
        return "obsolete header line folding is not allowed";
      case protocol_error::missing_host:
        return "HTTP/1.1 request without a Host header";
      case protocol_error::duplicate_host:
        return "more than one Host header";
      case protocol_error::bad_target:
        return "request target must be an absolute path without '.' or '..' segments";
      case protocol_error::unsupported_version:
        return "only HTTP/1.0 and HTTP/1.1 are supported";
      case protocol_error::chunked_in_http10:
        return "chunked transfer coding in an HTTP/1.0 request";
      case protocol_error::head_too_large:
        return "request header too large";
      case protocol_error::bad_head:
        return "malformed message head";
      case protocol_error::body_too_large:
        return "request body too large";
    }
    return "unknown protocol error";
  }
};
}  // namespace

const boost::system::error_category& protocol_category() {
  static const ProtocolCategory category;
  return category;
}

unsigned status_for_parse_error(const boost::system::error_code& ec) {
  namespace be = boost::beast::http;
  if (ec == be::error::header_limit || ec == protocol_error::head_too_large) return 431;
  if (ec == be::error::body_limit || ec == protocol_error::body_too_large) return 413;
  return 400;
}

}  // namespace scoregate::http

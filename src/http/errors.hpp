// Protocol errors the router detects on top of Beast's parser, and the mapping of every
// parse error to the status the client gets (400 / 413 / 431).
#pragma once

#include <boost/system/error_code.hpp>

namespace scoregate::http {

enum class protocol_error {
  transfer_encoding_unsupported = 1,  // anything but exactly "chunked"
  obs_fold,                           // obsolete line folding (RFC 9112 §5.2: reject)
  missing_host,
  duplicate_host,
  bad_target,           // not origin-form, or dot segments
  unsupported_version,  // not HTTP/1.0 or HTTP/1.1
  chunked_in_http10,
  head_too_large,  // Beast's header_limit, renamed for the reply
  bad_head,        // a head that ends but does not parse as one
  body_too_large,
};

const boost::system::error_category& protocol_category();

inline boost::system::error_code make_error_code(protocol_error e) {
  return {static_cast<int>(e), protocol_category()};
}

// 400, 413 or 431 for any error a request parser reports.
unsigned status_for_parse_error(const boost::system::error_code& ec);

}  // namespace scoregate::http

template <>
struct boost::system::is_error_code_enum<scoregate::http::protocol_error> : std::true_type {};

// Sans-IO HTTP/1.1 parsers on Beast's basic_parser: bytes in, a MessageHead and body pieces
// out. Body pieces are views into the caller's bytes (no copy), valid until the caller
// consumes them. The same code runs under the fuzzer (tests/fuzz/fuzz_http_parser.cpp).
#pragma once

#include <boost/beast/http/basic_parser.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace scoregate::http {

template <bool IsRequest>
class Parser final : private boost::beast::http::basic_parser<IsRequest> {
  using base = boost::beast::http::basic_parser<IsRequest>;

 public:
  using bsv = boost::beast::string_view;
  using Head = std::conditional_t<IsRequest, RequestHead, ResponseHead>;
  using error_code = boost::system::error_code;

  Parser(std::uint32_t header_limit, std::uint64_t body_limit);
  // Hands its heap storage to the next parser on this thread (parser.cpp, StorageCache).
  ~Parser() override;
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Parses as much of `data` as it can and returns how many bytes it used. Until the head
  // is complete it stops after the head (the caller routes and authenticates before any
  // body byte is read); after that, every call parses body bytes into body_pieces().
  // ec: beast::http::error::need_more when more bytes are needed, else a real error.
  std::size_t put(std::string_view data, error_code& ec);
  // The peer closed: completes an until_close body, or reports a truncated message.
  void put_eof(error_code& ec);

  // For responses to HEAD requests: the head announces a body that never comes.
  void expect_no_body() { base::skip(true); }

  bool head_done() const { return base::is_header_done(); }
  bool done() const { return base::is_done(); }
  Head& head() { return head_; }
  const Head& head() const { return head_; }
  // Body bytes parsed by the last put(); the caller clears it after forwarding them.
  std::vector<std::string_view>& body_pieces() { return pieces_; }
  std::uint64_t body_bytes() const { return body_bytes_; }

 private:
  void on_request_impl(boost::beast::http::verb method, bsv method_str, bsv target, int version,
                       error_code& ec) override;
  void on_response_impl(int code, bsv reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, bsv name_str, bsv value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  // on_header_impl's steps: request-only rules, then views moved into head_.raw, then framing.
  void check_request_head(error_code& ec);
  void relocate_views();
  void decide_framing();
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code& ec) override;
  std::size_t on_body_impl(bsv body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, bsv extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, bsv body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  bool in_input(std::string_view v) const;

  Head head_;
  std::vector<std::string_view> pieces_;
  std::uint64_t body_bytes_ = 0;
  std::string_view input_;  // the bytes of the current put(), to relocate views
  unsigned hosts_ = 0;
  std::uint32_t header_limit_;
  std::size_t scanned_ = 0;  // head bytes searched for the blank line so far
};

using RequestParser = Parser<true>;
using ResponseParser = Parser<false>;

// True when `target` is an origin-form path (starts with '/') with no '.' or '..' segment,
// raw or percent-encoded, before the query.
bool is_safe_origin_target(std::string_view target);

}  // namespace scoregate::http

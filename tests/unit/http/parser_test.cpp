#include "http/parser.hpp"
#include "http/errors.hpp"

#include <gtest/gtest.h>
#include <boost/beast/http/error.hpp>

#include <memory>
#include <string>

namespace scoregate::http {
namespace {

namespace be = boost::beast::http;

struct Parsed {
  boost::system::error_code ec;
  bool head_done = false;
  std::string body;
  std::unique_ptr<RequestParser> parser;
  const RequestHead& head_ref() const { return parser->head(); }
};

// Feeds `bytes` in pieces of `step` bytes, like a socket would, and collects the body.
Parsed parse(const std::string& bytes, std::size_t step = 1 << 20,
             std::uint64_t body_limit = 1 << 20, std::uint32_t header_limit = 8192) {
  Parsed out;
  out.parser = std::make_unique<RequestParser>(header_limit, body_limit);
  auto& p = *out.parser;
  std::string buffer;
  std::size_t fed = 0;
  while (true) {
    if (fed < bytes.size()) {
      auto n = std::min(step, bytes.size() - fed);
      buffer.append(bytes, fed, n);
      fed += n;
    }
    boost::system::error_code ec;
    auto used = p.put(buffer, ec);
    for (auto piece : p.body_pieces()) out.body += piece;
    p.body_pieces().clear();
    buffer.erase(0, used);
    if (ec == be::error::need_more) {
      if (fed == bytes.size()) break;
      continue;
    }
    if (ec) {
      out.ec = ec;
      break;
    }
    if (p.done()) break;
    if (used == 0 && fed == bytes.size()) break;
  }
  out.head_done = p.head_done();
  return out;
}

TEST(RequestParser, ParsesHeadAndContentLengthBodyInAnyChunking) {
  std::string req =
      "POST /api/v1/endpoint/fraud/score?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
      "Authorization: Bearer k\r\n\r\nhello world";
  for (std::size_t step : {1u, 3u, 17u, 1000u}) {
    auto r = parse(req, step);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.body, "hello world");
    EXPECT_EQ(r.head_ref().target, "/api/v1/endpoint/fraud/score?x=1");
    EXPECT_EQ(r.head_ref().method_text, "POST");
    EXPECT_EQ(r.head_ref().framing, BodyFraming::content_length);
    EXPECT_EQ(r.head_ref().content_length, 11u);
    EXPECT_EQ(r.head_ref().find(be::field::authorization), "Bearer k");
    EXPECT_EQ(r.head_ref().find("AUTHORIZATION"), "Bearer k");
  }
}

TEST(RequestParser, HeadViewsSurviveTheInputBuffer) {
  RequestParser p(8192, 1024);
  std::string buffer = "GET /a HTTP/1.1\r\nHost: h\r\nX-Long: value\r\n\r\n";
  boost::system::error_code ec;
  p.put(buffer, ec);
  ASSERT_FALSE(ec);
  buffer.assign(buffer.size(), 'Z');  // the head must not point into these bytes
  EXPECT_EQ(p.head().target, "/a");
  EXPECT_EQ(p.head().find("x-long"), "value");
}

TEST(RequestParser, ChunkedBodyDecoded) {
  std::string req =
      "POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  for (std::size_t step : {1u, 7u, 1000u}) {
    auto r = parse(req, step);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.body, "hello world");
    EXPECT_EQ(r.head_ref().framing, BodyFraming::chunked);
    EXPECT_EQ(r.head_ref().find("trailer"), "");  // trailers are not headers
  }
}

// Request smuggling vectors (RFC 9112 §6.3, §5.2): each must be refused outright.
TEST(RequestParser, RejectsSmugglingVectors) {
  const char* bad[] = {
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: "
      "5\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",                        // no Host
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
      "GET http://evil/ HTTP/1.1\r\nHost: a\r\n\r\n",  // absolute form
      "GET /a/../admin HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /a/%2e%2E/admin HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
      "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "GET / HTTP/1.1\nHost: a\n\n",  // bare LF
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\nhello\r\n0\r\n\r\n",
  };
  for (const char* b : bad) {
    auto r = parse(b);
    EXPECT_TRUE(r.ec) << "accepted: " << b;
    EXPECT_EQ(status_for_parse_error(r.ec), 400u) << b << " -> " << r.ec.message();
  }
}

TEST(RequestParser, PipelinedRequestsStopAtTheBoundary) {
  std::string two =
      "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  RequestParser p(8192, 100);
  boost::system::error_code ec;
  std::size_t used = p.put(two, ec);
  ASSERT_FALSE(ec);
  std::string_view rest = std::string_view(two).substr(used);
  used = p.put(rest, ec);
  ASSERT_FALSE(ec);
  EXPECT_TRUE(p.done());
  ASSERT_EQ(p.body_pieces().size(), 1u);
  EXPECT_EQ(p.body_pieces()[0], "abc");
  rest = rest.substr(used);
  EXPECT_EQ(rest, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(RequestParser, LimitsMapTo431And413) {
  std::string big_head = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(9000, 'a') + "\r\n\r\n";
  EXPECT_EQ(status_for_parse_error(parse(big_head).ec), 431u);
  auto r = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 200\r\n\r\n", 1 << 20, 100);
  EXPECT_EQ(status_for_parse_error(r.ec), 413u);
  auto chunked = parse(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "64\r\n" +
          std::string(100, 'x') + "\r\n64\r\n" + std::string(100, 'x') + "\r\n0\r\n\r\n",
      1 << 20, 150);
  EXPECT_EQ(status_for_parse_error(chunked.ec), 413u);
}

// A head arriving in pieces is only parsed once whole, so callers may keep the unconsumed
// bytes (as the server connection does) and the header limit counts the whole head.
TEST(RequestParser, HeadInPiecesWithoutConsumingIsParsedWhole) {
  RequestParser p(8192, 1024);
  std::string buffer = "POST /api/v1/service/x/score HTTP/1.1\r\n";
  boost::system::error_code ec;
  EXPECT_EQ(p.put(buffer, ec), 0u);
  EXPECT_EQ(ec, be::error::need_more);
  buffer += "Host: h\r\nContent-Length: 2\r\n";
  EXPECT_EQ(p.put(buffer, ec), 0u);
  EXPECT_EQ(ec, be::error::need_more);
  buffer += "X-A: 1\r\n\r\nok";
  std::size_t used = p.put(buffer, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(buffer.substr(used), "ok");
  EXPECT_EQ(p.head().target, "/api/v1/service/x/score");
  EXPECT_EQ(p.head().find("x-a"), "1");
  EXPECT_EQ(p.head().content_length, 2u);
}

TEST(RequestParser, HeaderLimitCountsTheWholeHeadAcrossPieces) {
  RequestParser p(1024, 1024);
  std::string buffer = "GET / HTTP/1.1\r\nHost: h\r\n";
  boost::system::error_code ec;
  while (buffer.size() < 4096 && (!ec || ec == be::error::need_more)) {
    buffer += "X-Pad: " + std::string(50, 'p') + "\r\n";
    p.put(buffer, ec);
  }
  EXPECT_EQ(status_for_parse_error(ec), 431u) << ec.message();
  EXPECT_LT(buffer.size(), 1200u);  // refused as soon as the limit was passed
}

TEST(ResponseParser, StatusLineAloneFirst) {
  ResponseParser p(8192, 1 << 20);
  std::string buffer = "HTTP/1.1 200 OK\r\n";
  boost::system::error_code ec;
  EXPECT_EQ(p.put(buffer, ec), 0u);
  buffer += "Content-Length: 3\r\n\r\nabc";
  std::size_t used = p.put(buffer, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.head().status, 200u);
  EXPECT_EQ(p.head().reason, "OK");
  EXPECT_EQ(p.head().framing, BodyFraming::content_length);
  p.put(std::string_view(buffer).substr(used), ec);
  EXPECT_TRUE(p.done());
}

TEST(RequestParser, KeepAliveAndExpect) {
  auto r = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_FALSE(r.ec);
  EXPECT_FALSE(r.head_ref().keep_alive);
  r = parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(r.head_ref().keep_alive);
  r = parse("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_TRUE(r.head_ref().keep_alive);
  EXPECT_TRUE(r.head_ref().expect_continue);
}

TEST(ResponseParser, FramingKinds) {
  auto frame = [](const std::string& bytes, bool head_request = false) {
    ResponseParser p(8192, 1 << 20);
    if (head_request) p.expect_no_body();
    boost::system::error_code ec;
    p.put(bytes, ec);
    return std::pair(p.head().framing, ec);
  };
  EXPECT_EQ(frame("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n").first,
            BodyFraming::content_length);
  EXPECT_EQ(frame("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").first,
            BodyFraming::chunked);
  EXPECT_EQ(frame("HTTP/1.1 200 OK\r\n\r\n").first, BodyFraming::until_close);
  EXPECT_EQ(frame("HTTP/1.1 204 No Content\r\n\r\n").first, BodyFraming::none);
  EXPECT_EQ(frame("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").first, BodyFraming::none);
}

TEST(ResponseParser, UntilCloseEndsAtEof) {
  ResponseParser p(8192, 1 << 20);
  boost::system::error_code ec;
  std::string bytes = "HTTP/1.1 200 OK\r\n\r\n";
  p.put(bytes, ec);
  std::string body = "streamed";
  p.put(body, ec);
  EXPECT_FALSE(ec);  // nothing tells Beast the body is over, so it takes all and waits
  EXPECT_FALSE(p.done());
  ASSERT_EQ(p.body_pieces().size(), 1u);
  EXPECT_EQ(p.body_pieces()[0], "streamed");
  p.put_eof(ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(p.done());
}

TEST(SafeTarget, Rules) {
  EXPECT_TRUE(is_safe_origin_target("/api/v1/service/x/score"));
  EXPECT_TRUE(is_safe_origin_target("/a/b.c/..d?x=/../"));
  EXPECT_FALSE(is_safe_origin_target("/a/./b"));
  EXPECT_FALSE(is_safe_origin_target("/a/.."));
  EXPECT_FALSE(is_safe_origin_target("/a/.%2E/b"));
  EXPECT_FALSE(is_safe_origin_target("*"));
  EXPECT_FALSE(is_safe_origin_target("/a\\b"));
  // The path ends at the first '?' or '#': what follows is not a path.
  EXPECT_TRUE(is_safe_origin_target("/score#/../x"));
  EXPECT_TRUE(is_safe_origin_target("/score?a=%2f&b=\\"));
  EXPECT_FALSE(is_safe_origin_target("/a/..?x"));
  EXPECT_FALSE(is_safe_origin_target("/a%2Fb#x"));
  EXPECT_TRUE(is_safe_origin_target("/"));
  EXPECT_FALSE(is_safe_origin_target("/.."));
}

}  // namespace
}  // namespace scoregate::http

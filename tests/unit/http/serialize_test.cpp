// http/serialize: heads, chunk framing, hop-by-hop fields and the router's JSON errors.
#include "http/serialize.hpp"

#include <gtest/gtest.h>

namespace scoregate::http {
namespace {

namespace bhttp = boost::beast::http;

TEST(HeadWriter, RequestAndStatusLines) {
  std::string out;
  HeadWriter w(out);
  w.request_line("POST", "/score?x=1");
  EXPECT_EQ(out, "POST /score?x=1 HTTP/1.1\r\n");
  out.clear();
  w.status_line(404);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\n");
  out.clear();
  w.status_line(200, "Fine");
  EXPECT_EQ(out, "HTTP/1.1 200 Fine\r\n");
  out.clear();
  w.status_line(599);  // no standard reason: an empty phrase, still a valid status line
  EXPECT_EQ(out.rfind("HTTP/1.1 599 ", 0), 0U);
  EXPECT_EQ(out.substr(out.size() - 2), "\r\n");
}

TEST(HeadWriter, FieldsContentLengthAndEnd) {
  std::string out;
  HeadWriter w(out);
  w.field("X-A", "b");
  w.content_length(0);
  w.content_length(18446744073709551615ULL);
  w.end();
  EXPECT_EQ(out, "X-A: b\r\nContent-Length: 0\r\nContent-Length: 18446744073709551615\r\n\r\n");
}

TEST(ChunkFraming, HexSizeAndTerminators) {
  std::string out;
  append_chunk_header(out, 0);
  append_chunk_header(out, 255);
  append_chunk_header(out, 4096);
  EXPECT_EQ(out, "0\r\nff\r\n1000\r\n");
  EXPECT_EQ(kChunkEnd, "\r\n");
  EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

TEST(HopByHop, StandardFieldsAreHopByHop) {
  ResponseHead h;
  for (auto id :
       {bhttp::field::connection, bhttp::field::keep_alive, bhttp::field::proxy_connection,
        bhttp::field::te, bhttp::field::trailer, bhttp::field::transfer_encoding,
        bhttp::field::upgrade, bhttp::field::proxy_authorization})
    EXPECT_TRUE(is_hop_by_hop(Field{id, bhttp::to_string(id), "x"}, h)) << bhttp::to_string(id);
  EXPECT_FALSE(is_hop_by_hop(Field{bhttp::field::content_type, "Content-Type", "a/b"}, h));
  EXPECT_FALSE(is_hop_by_hop(Field{bhttp::field::unknown, "X-Custom", "1"}, h));
}

TEST(HopByHop, FieldsNamedByConnectionAreHopByHop) {
  ResponseHead h;
  h.fields = {{bhttp::field::connection, "Connection", " close ,\tX-Secret-Hop,"},
              {bhttp::field::connection, "connection", "x-other"}};
  EXPECT_TRUE(is_hop_by_hop(Field{bhttp::field::unknown, "x-secret-hop", "1"}, h));
  EXPECT_TRUE(is_hop_by_hop(Field{bhttp::field::unknown, "X-OTHER", "1"}, h));
  EXPECT_FALSE(is_hop_by_hop(Field{bhttp::field::unknown, "X-Secret", "1"}, h));
  EXPECT_FALSE(is_hop_by_hop(Field{bhttp::field::unknown, "X-Secret-Hop-Not", "1"}, h));
}

TEST(JsonError, EscapesQuotesBackslashesAndControlBytes) {
  std::string out;
  append_json_escaped(out, std::string_view("a\"b\\c\nd\re\tf\x01g\x1f", 14));
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001f");
  EXPECT_EQ(json_error_body("NotFound", "no \"x\""),
            "{\"error\":{\"code\":\"NotFound\",\"message\":\"no \\\"x\\\"\"}}");
  EXPECT_EQ(json_error_body("TooManyRequests", "m", "max_queue_length"),
            "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"m\",\"limit\":"
            "\"max_queue_length\"}}");
}

TEST(SimpleResponse, HeadAndBody) {
  auto r = simple_response(200, "text/plain", "ok", false, {{"X-A", "1"}});
  EXPECT_EQ(r,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok");
  auto c = error_response(503, "NoReadyInstance", "m", {}, true);
  EXPECT_NE(c.find("HTTP/1.1 503 Service Unavailable\r\n"), std::string::npos);
  EXPECT_NE(c.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(c.find("Connection: close\r\n\r\n"), std::string::npos);
  const std::string body = "{\"error\":{\"code\":\"NoReadyInstance\",\"message\":\"m\"}}";
  EXPECT_EQ(c.substr(c.size() - body.size()), body);
  EXPECT_NE(c.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
}

}  // namespace
}  // namespace scoregate::http

// Http2Session under abuse (real frames over a loopback socket): too many streams, rapid
// reset, oversized header lists and CONTINUATION floods, SETTINGS and PING floods, a window
// that never opens, and connection-window accounting for streams reset with unread bodies.
#include <gtest/gtest.h>

#include "http/h2_test_support.hpp"

namespace scoregate::http::test {
namespace {

TEST(Http2Limits, RefusesStreamsBeyondMaxConcurrentStreams) {
  ServerLimits limits;
  limits.h2_max_concurrent_streams = 4;
  TestServer server(limits);
  H2Client c(server.port());
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(c.request("GET", "/hold"));
  c.flush();  // all ten go out before the server's SETTINGS are read
  auto refused = [&] {
    int n = 0;
    for (auto id : ids)
      n += c.responses[id].closed && c.responses[id].error == NGHTTP2_REFUSED_STREAM;
    return n;
  };
  ASSERT_TRUE(c.pump([&] { return refused() == 6; }));
  EXPECT_EQ(server.handler.started.load(), 4);
  server.handler.release = true;
  ASSERT_TRUE(c.pump([&] {
    for (auto id : ids)
      if (!c.responses[id].closed) return false;
    return true;
  }));
  int ok = 0;
  for (auto id : ids) ok += c.responses[id].status == 200;
  EXPECT_EQ(ok, 4);
}

TEST(Http2Limits, RapidResetEndsTheConnectionWithEnhanceYourCalm) {
  TestServer server;
  H2Client c(server.port());
  for (int i = 0; i < 400 && !c.goaway && !c.eof; ++i) {
    auto id = c.request("GET", "/hold");
    c.flush();
    c.reset(id);
    c.pump([] { return false; }, 0ms);
  }
  ASSERT_TRUE(c.pump([&] { return c.goaway; }));
  EXPECT_EQ(c.goaway_error, static_cast<std::uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  c.pump([&] { return c.eof; });
  EXPECT_TRUE(c.eof);
  EXPECT_TRUE(server.wait_finished(5s));
  // Every handler that started saw its client go away and ended.
  EXPECT_EQ(server.handler.started.load(), server.handler.finished.load());
}

TEST(Http2Limits, CompletedStreamsAreNotCountedAsResets) {
  TestServer server;
  H2Client c(server.port());
  // 250 resets, each preceded by two completed requests: under the ratio rule.
  for (int i = 0; i < 250; ++i) {
    auto a = c.request("GET", "/echo");
    auto b = c.request("GET", "/echo");
    ASSERT_TRUE(c.pump([&] { return c.responses[a].closed && c.responses[b].closed; }));
    auto id = c.request("GET", "/hold");
    ASSERT_TRUE(c.pump([&] { return server.handler.started.load() == 3 * (i + 1); }));
    c.reset(id);
    // the handler sees the reset before the next round (else the streams it still holds
    // would count against MAX_CONCURRENT_STREAMS)
    ASSERT_TRUE(c.pump([&] { return server.handler.gone_seen.load() == i + 1; }));
  }
  auto last = c.request("GET", "/echo");
  ASSERT_TRUE(c.complete(last));
  EXPECT_FALSE(c.goaway) << "GOAWAY " << c.goaway_error;
  EXPECT_EQ(c.responses[last].status, 200);
}

TEST(Http2Limits, HeaderListSomewhatOverTheLimitIsAnswered431) {
  ServerLimits limits;
  limits.max_header_bytes = 4096;
  TestServer server(limits);
  H2Client c(server.port());
  auto id = c.request("GET", "/echo", std::nullopt, {{"x-big", std::string(6 * 1024, 'h')}});
  ASSERT_TRUE(c.complete(id));
  EXPECT_EQ(c.responses[id].status, 431);
  EXPECT_NE(c.responses[id].body.find("RequestHeaderTooLarge"), std::string::npos);
  EXPECT_FALSE(c.goaway);
  auto next = c.request("GET", "/echo");  // the connection serves on
  ASSERT_TRUE(c.complete(next));
  EXPECT_EQ(c.responses[next].status, 200);
  EXPECT_EQ(server.handler.started.load(), 1);
}

TEST(Http2Limits, HeaderListFarOverTheLimitEndsTheConnection) {
  ServerLimits limits;
  limits.max_header_bytes = 4096;
  TestServer server(limits);
  H2Client c(server.port());
  // 40 KiB of fields: nghttp2 sends HEADERS and CONTINUATION frames.
  c.request("GET", "/echo", std::nullopt, {{"x-big", std::string(40 * 1024, 'h')}});
  ASSERT_TRUE(c.pump([&] { return c.goaway && c.eof; }));
  EXPECT_EQ(c.goaway_error, static_cast<std::uint32_t>(NGHTTP2_ENHANCE_YOUR_CALM));
  EXPECT_EQ(server.handler.started.load(), 0);
  EXPECT_TRUE(server.wait_finished(5s));
}

TEST(Http2Limits, ContinuationFloodEndsTheConnection) {
  TestServer server;
  RawClient raw(server.port());
  std::string out(kPreface);
  out += frame(NGHTTP2_SETTINGS, 0, 0, {});
  // :method GET, :path /, :scheme http, :authority example.com; no END_HEADERS
  out += frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1,
               "\x82\x84\x86\x41\x0b"
               "example.com");
  // small fields, each in its own CONTINUATION: the block stays far below max_header_bytes,
  // the frame count is what nghttp2 limits (CVE-2024-27316 / CVE-2024-28182)
  // (100 x 34 bytes of fields, then empty frames: 3400 bytes, a tenth of the default limit)
  for (int i = 0; i < 1000; ++i)
    out += frame(NGHTTP2_CONTINUATION, 0, 1,
                 i < 100 ? std::string_view("\x00\x01x\x01y", 5) : std::string_view());
  raw.send(out);
  EXPECT_TRUE(raw.read_until_closed(5s));
  EXPECT_TRUE(server.wait_finished(5s));
  EXPECT_EQ(server.handler.started.load(), 0);
}

void flood(std::uint8_t type, std::string_view payload) {
  TestServer server;
  RawClient raw(server.port());
  std::string batch;
  for (int i = 0; i < 20000; ++i) batch += frame(type, 0, 0, payload);
  bool open = raw.send(std::string(kPreface) + frame(NGHTTP2_SETTINGS, 0, 0, {}));
  // We never read: the ACKs pile up in the session until nghttp2 calls it a flood. Stop at
  // 100 MB in case it never does (the assertions below then fail).
  for (int i = 0; open && i < 500 && !server.wait_finished(0ms); ++i) open = raw.send(batch);
  EXPECT_TRUE(server.wait_finished(5s));
  EXPECT_TRUE(raw.read_until_closed(5s));
}

TEST(Http2Limits, SettingsFloodClosesTheConnection) { flood(NGHTTP2_SETTINGS, {}); }

TEST(Http2Limits, PingFloodClosesTheConnection) { flood(NGHTTP2_PING, "12345678"); }

TEST(Http2Limits, ZeroWindowWriteTimesOutWithBoundedMemory) {
  ServerLimits limits;
  limits.body_idle_timeout = 300ms;
  TestServer server(limits);
  H2Client c(server.port(), {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}});
  auto id = c.request("GET", "/big");
  ASSERT_TRUE(c.complete(id));
  EXPECT_EQ(c.responses[id].error, static_cast<std::uint32_t>(NGHTTP2_INTERNAL_ERROR));
  EXPECT_EQ(c.responses[id].body, "");
  ASSERT_TRUE(c.pump([&] { return server.handler.finished.load() == 1; }));
  EXPECT_EQ(server.handler.write_timeouts.load(), 1);
  EXPECT_LE(server.handler.max_queued.load(), kH2OutputHighWater + 16 * 1024);
  EXPECT_GT(server.handler.max_queued.load(), kH2OutputHighWater);
}

TEST(Http2Limits, ResetStreamsGiveTheirUnreadBodyCreditBack) {
  TestServer server;
  H2Client c(server.port());
  // 8 x 200 KiB bodies nobody reads: more than the connection window.
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 8; ++i)
    ids.push_back(c.request("POST", "/hold", std::string(200 * 1024, 'u')));
  ASSERT_TRUE(c.pump([&] { return server.handler.started.load() == 8; }));
  c.pump([] { return false; }, 300ms);  // let the bodies flow until the windows are full
  for (auto id : ids) c.reset(id);
  ASSERT_TRUE(c.pump([&] { return server.handler.finished.load() == 8; }));
  // If the reset streams' bytes still held connection-window credit, this would stall.
  std::string body(1536 * 1024, 'e');
  auto echo = c.request("POST", "/echo", body);
  ASSERT_TRUE(c.complete(echo, 10s));
  EXPECT_EQ(c.responses[echo].body, body);
}

}  // namespace
}  // namespace scoregate::http::test

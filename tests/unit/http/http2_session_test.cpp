// Http2Session end to end over a real loopback TCP socket with an nghttp2 client session:
// request heads, bodies and flow control, concurrent streams, trailers, Trailers-Only,
// error replies, response fields, resets, drain and idle timeouts. The abuse limits are in
// http2_session_limits_test.cpp.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "http/h2_test_support.hpp"
#include "tls/test_pki.hpp"

namespace scoregate::http::test {
namespace {

TEST(Http2Preface, RecognisesPrefixes) {
  EXPECT_TRUE(is_h2_preface_prefix(""));
  EXPECT_TRUE(is_h2_preface_prefix("PRI * HT"));
  EXPECT_TRUE(is_h2_preface_prefix(kPreface));
  EXPECT_TRUE(is_h2_preface_prefix(std::string(kPreface) + "\x00\x00\x00\x04"));
  EXPECT_FALSE(is_h2_preface_prefix("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(is_h2_preface_prefix("PRI * HTTP/1.1"));
}

TEST(Http2Session, MapsTheRequestHead) {
  TestServer server;
  H2Client c(server.port());
  auto get = c.request("GET", "/echo");
  auto post = c.request("POST", "/echo", std::string("abc"), {{"content-length", "3"}});
  auto chunked = c.request("PUT", "/echo", std::string("xyz"), {{"host", "given.example"}});
  auto odd = c.request("BREW", "/echo");
  ASSERT_TRUE(c.pump([&] {
    return c.responses[get].closed && c.responses[post].closed && c.responses[chunked].closed &&
           c.responses[odd].closed;
  }));
  auto& g = c.responses[get];
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.field("x-method"), "GET");
  EXPECT_EQ(g.field("x-host"), "example.com");  // from :authority
  EXPECT_EQ(g.field("x-version"), "20");
  EXPECT_EQ(g.field("x-framing"), "none");
  EXPECT_EQ(c.responses[post].field("x-framing"), "content_length");
  EXPECT_EQ(c.responses[post].body, "abc");
  EXPECT_EQ(c.responses[chunked].field("x-framing"), "chunked");
  EXPECT_EQ(c.responses[chunked].field("x-host"), "given.example");  // the client's own host
  EXPECT_EQ(c.responses[chunked].body, "xyz");
  EXPECT_EQ(c.responses[odd].field("x-method"), "BREW");
  EXPECT_EQ(c.responses[odd].field("x-verb-known"), "0");
}

TEST(Http2Session, TakesBytesAlreadyReadBeforeIt) {
  for (std::size_t pre : {10, 24, 40}) {  // inside the preface, all of it, past it
    TestServer server({}, nullptr, pre);
    H2Client c(server.port());
    auto id = c.request("POST", "/echo", std::string("sniffed"));
    ASSERT_TRUE(c.complete(id)) << pre;
    EXPECT_TRUE(server.preface_seen.load()) << pre;
    EXPECT_EQ(c.responses[id].body, "sniffed") << pre;
  }
}

TEST(Http2Session, EchoesBodiesLargerThanTheWindowsOnConcurrentStreams) {
  TestServer server;
  H2Client c(server.port());
  std::vector<std::int32_t> ids;
  std::vector<std::string> bodies;
  // 12 x 300 KiB: each is more than the stream window, together more than the connection
  // window, so the session must give credit back as the handlers read.
  for (int i = 0; i < 12; ++i) {
    bodies.emplace_back(300 * 1024 + i, static_cast<char>('a' + i));
    ids.push_back(c.request("POST", "/echo", bodies.back()));
  }
  ASSERT_TRUE(c.pump(
      [&] {
        for (auto id : ids)
          if (!c.responses[id].closed) return false;
        return true;
      },
      20s));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(c.responses[ids[i]].status, 200);
    EXPECT_EQ(c.responses[ids[i]].body, bodies[i]) << "stream " << ids[i];
  }
}

TEST(Http2Session, StreamsRunConcurrently) {
  TestServer server;
  H2Client c(server.port());
  auto a = c.request("GET", "/hold");
  auto b = c.request("GET", "/hold");
  auto quick = c.request("GET", "/echo");
  // The quick stream completes while both held ones are still in their handlers.
  ASSERT_TRUE(c.complete(quick));
  EXPECT_EQ(c.responses[quick].status, 200);
  EXPECT_FALSE(c.responses[a].closed);
  EXPECT_EQ(server.handler.started.load(), 3);
  server.handler.release = true;
  ASSERT_TRUE(c.pump([&] { return c.responses[a].closed && c.responses[b].closed; }));
  EXPECT_EQ(c.responses[a].body, "held");
  EXPECT_EQ(c.responses[b].body, "held");
}

TEST(Http2Session, SendsTrailersAfterTheBody) {
  TestServer server;
  H2Client c(server.port());
  auto id = c.request("POST", "/trailers", std::string("req"), {{"te", "trailers"}});
  ASSERT_TRUE(c.complete(id));
  auto& r = c.responses[id];
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.header_frames, 2);
  ASSERT_EQ(r.trailers.size(), 2U);
  EXPECT_EQ(r.trailers[0], (std::pair<std::string, std::string>{"grpc-status", "0"}));
  EXPECT_EQ(r.trailers[1].first, "grpc-message");  // lower-cased
}

TEST(Http2Session, TrailersWithoutBodyAreOneHeadersFrame) {
  TestServer server;
  H2Client c(server.port());
  auto id = c.request("POST", "/trailers-only", std::string("req"));
  ASSERT_TRUE(c.complete(id));
  auto& r = c.responses[id];
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header_frames, 1);  // gRPC Trailers-Only
  EXPECT_EQ(r.data_frames, 0);
  EXPECT_EQ(r.field("content-type"), "application/grpc");
  EXPECT_EQ(r.field("grpc-status"), "14");
  EXPECT_EQ(r.field("grpc-message"), "unavailable");
  EXPECT_EQ(r.error, 0U);
}

TEST(Http2Session, RepliesJsonErrorsWithTheExtraFields) {
  TestServer server;
  H2Client c(server.port());
  auto id = c.request("GET", "/error");
  ASSERT_TRUE(c.complete(id));
  auto& r = c.responses[id];
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.field("content-type"), "application/json");
  EXPECT_EQ(r.field("retry-after"), "1");
  EXPECT_EQ(r.field("content-length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.body, R"({"error":{"code":"NoReadyInstance","message":"no instance"}})");
}

TEST(Http2Session, EnforcesMaxBodyBytes) {
  ServerLimits limits;
  limits.max_body_bytes = 1000;
  TestServer server(limits);
  H2Client c(server.port());
  auto over = c.request("POST", "/limit", std::string(5000, 'x'));
  auto declared = c.request("POST", "/limit", std::string(2000, 'x'), {{"content-length", "2000"}});
  ASSERT_TRUE(c.pump([&] { return c.responses[over].closed && c.responses[declared].closed; }));
  for (auto id : {over, declared}) {
    EXPECT_EQ(c.responses[id].status, 413);
    EXPECT_NE(c.responses[id].body.find(R"("limit":"router.max_body_bytes")"), std::string::npos);
  }
}

TEST(Http2Session, LowerCasesAndDropsConnectionFields) {
  TestServer server;
  H2Client c(server.port());
  auto id = c.request("GET", "/fields");
  ASSERT_TRUE(c.complete(id));
  auto& r = c.responses[id];
  EXPECT_EQ(r.status, 200);  // nghttp2 would reset a response carrying connection fields
  EXPECT_EQ(r.error, 0U);
  EXPECT_EQ(r.field("x-custom"), "A");
  EXPECT_EQ(r.field("connection"), "");
  EXPECT_EQ(r.field("transfer-encoding"), "");
  EXPECT_EQ(r.field("upgrade"), "");
}

TEST(Http2Session, RejectsConnect) {
  TestServer server;
  H2Client c(server.port());
  auto id = c.request("CONNECT", "");
  ASSERT_TRUE(c.complete(id));
  EXPECT_EQ(c.responses[id].status, 400);
  EXPECT_EQ(server.handler.started.load(), 0);
}

TEST(Http2Session, RejectsMissingPseudoHeaders) {
  TestServer server;
  H2Client c(server.port());
  auto no_path = c.submit({{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}});
  auto no_method = c.submit({{":path", "/echo"}, {":scheme", "http"}, {":authority", "a"}});
  ASSERT_TRUE(c.pump([&] { return c.responses[no_path].closed && c.responses[no_method].closed; }));
  EXPECT_EQ(c.responses[no_path].error, static_cast<std::uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_EQ(c.responses[no_method].error, static_cast<std::uint32_t>(NGHTTP2_PROTOCOL_ERROR));
  auto ok = c.request("GET", "/echo");
  ASSERT_TRUE(c.complete(ok));
  EXPECT_EQ(c.responses[ok].status, 200);
  EXPECT_EQ(server.handler.started.load(), 1);
}

TEST(Http2Session, BodyReadTimesOutAfterBodyIdleTimeout) {
  ServerLimits limits;
  limits.body_idle_timeout = 200ms;
  TestServer server(limits);
  H2Client c(server.port());
  auto id = c.request_stalled("/read");
  ASSERT_TRUE(c.complete(id));
  EXPECT_EQ(c.responses[id].status, 408);
}

TEST(Http2Session, ClosedConnectionIsSeenAsClientGone) {
  TestServer server;
  {
    H2Client c(server.port());
    c.request("GET", "/hold");
    ASSERT_TRUE(c.pump([&] { return server.handler.started.load() == 1; }));
  }  // the socket closes
  EXPECT_TRUE(server.wait_finished(5s));
  EXPECT_EQ(server.handler.gone_seen.load(), 1);
}

TEST(Http2Session, ClientResetIsSeenAsClientGone) {
  TestServer server;
  H2Client c(server.port());
  auto id = c.request("GET", "/hold");
  c.flush();
  ASSERT_TRUE(c.pump([&] { return server.handler.started.load() == 1; }));
  c.reset(id);
  ASSERT_TRUE(c.pump([&] { return server.handler.gone_seen.load() == 1; }));
  // The connection still serves other streams.
  auto next = c.request("GET", "/echo");
  ASSERT_TRUE(c.complete(next));
  EXPECT_EQ(c.responses[next].status, 200);
}

TEST(Http2Session, DrainFinishesStreamsInFlightThenCloses) {
  TestServer server;
  H2Client c(server.port());
  auto held = c.request("GET", "/hold");
  ASSERT_TRUE(c.pump([&] { return server.handler.started.load() == 1; }));
  server.drain();
  ASSERT_TRUE(c.pump([&] { return c.goaway; }));
  EXPECT_EQ(c.goaway_error, static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(c.goaway_last, held);
  server.handler.release = true;
  ASSERT_TRUE(c.complete(held));
  EXPECT_EQ(c.responses[held].body, "held");
  c.pump([&] { return c.eof; });
  EXPECT_TRUE(server.wait_finished(5s));
}

TEST(Http2Session, NewGenerationSendsANoticeThenTheRealGoaway) {
  TestServer server;
  H2Client c(server.port());
  auto held = c.request("GET", "/hold");
  ASSERT_TRUE(c.pump([&] { return server.handler.started.load() == 1; }));
  server.new_generation();
  server.new_generation();  // a second reload meanwhile changes nothing
  ASSERT_TRUE(c.pump([&] { return c.goaway; }));
  EXPECT_EQ(c.goaway_last, 0x7fffffff);  // the shutdown notice
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.pump([&] { return c.goaways == 2; }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 800ms);
  EXPECT_EQ(c.goaway_error, static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(c.goaway_last, held);
  server.handler.release = true;
  ASSERT_TRUE(c.complete(held));
  EXPECT_EQ(c.responses[held].body, "held");
  c.pump([&] { return c.eof; });
  EXPECT_EQ(c.goaways, 2);
  EXPECT_TRUE(server.wait_finished(5s));
}

TEST(Http2Session, IdleConnectionGetsGoawayAfterKeepaliveTimeout) {
  ServerLimits limits;
  limits.keepalive_timeout = 200ms;
  TestServer server(limits);
  H2Client c(server.port());
  auto id = c.request("GET", "/echo");
  ASSERT_TRUE(c.complete(id));
  ASSERT_TRUE(c.pump([&] { return c.goaway && c.eof; }, 5s));
  EXPECT_EQ(c.goaway_error, static_cast<std::uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(c.goaway_last, id);
  EXPECT_TRUE(server.wait_finished(5s));
}

TEST(Http2Session, FirstRequestMustComeWithinHeaderTimeout) {
  ServerLimits limits;
  limits.header_timeout = 200ms;
  TestServer server(limits);
  H2Client c(server.port());  // preface and SETTINGS, then nothing
  ASSERT_TRUE(c.pump([&] { return c.goaway && c.eof; }, 5s));
  EXPECT_EQ(c.goaway_last, 0);
  EXPECT_TRUE(server.wait_finished(5s));
}

std::string run_nghttp(const std::string& args) {
  // stdout only: nghttp warns on stderr about the test certificate it does not verify
  FILE* p = ::popen(("nghttp " + args + " 2>/dev/null").c_str(), "r");
  if (!p) return "popen failed";
  std::string out;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (::pclose(p) != 0) out += "\n(nghttp failed)";
  return out;
}

// The real nghttp client (prior-knowledge h2c) against the session.
TEST(Http2Session, ServesTheNghttpClient) {
  if (std::system("command -v nghttp >/dev/null 2>&1") != 0) GTEST_SKIP() << "nghttp missing";
  TestServer server;
  std::string data = "/tmp/h2-session-test-body-" + std::to_string(::getpid());
  std::ofstream(data) << std::string(100000, 'q');
  auto out =
      run_nghttp("-d " + data + " http://127.0.0.1:" + std::to_string(server.port()) + "/echo");
  std::remove(data.c_str());
  EXPECT_TRUE(out == std::string(100000, 'q')) << out.size() << " bytes: " << out.substr(0, 200);
}

int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
              unsigned inlen, void*) {
  static const unsigned char kH2[] = {2, 'h', '2'};
  if (SSL_select_next_proto(const_cast<unsigned char**>(out), outlen, kH2, sizeof kH2, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  return SSL_TLSEXT_ERR_OK;
}

// TLS with ALPN h2: SSL_read and SSL_write interleave on one socket while a 2 MiB body is
// echoed (the response starts only after the whole body was read: both directions are busy
// with flow control in between).
TEST(Http2Session, ServesNghttpOverTlsWithAlpnH2) {
  if (std::system("command -v nghttp >/dev/null 2>&1") != 0) GTEST_SKIP() << "nghttp missing";
  auto leaf = tls::testpki::issue(tls::testpki::leaf_spec({"localhost"}), nullptr);
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_EQ(SSL_CTX_use_certificate(ctx, leaf.cert.get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx, leaf.key.get()), 1);
  SSL_CTX_set_alpn_select_cb(ctx, select_h2, nullptr);
  std::string data = "/tmp/h2-session-tls-body-" + std::to_string(::getpid());
  std::string body(2 << 20, 'z');
  std::ofstream(data) << body;
  std::string out;
  {
    TestServer server({}, ctx);
    out =
        run_nghttp("-d " + data + " https://127.0.0.1:" + std::to_string(server.port()) + "/echo");
    EXPECT_TRUE(server.wait_finished(5s));
    EXPECT_TRUE(server.alpn_h2.load());
  }
  SSL_CTX_free(ctx);
  std::remove(data.c_str());
  EXPECT_TRUE(out == body) << out.size() << " bytes: " << out.substr(0, 200);
}

}  // namespace
}  // namespace scoregate::http::test

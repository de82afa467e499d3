// The upstream HTTP/2 client (upstream/h2_client.hpp) against a real nghttp2 server on
// loopback (h2_test_server.hpp), plain and TLS.
#include "upstream/h2_client.hpp"
#include "upstream/h2_connection.hpp"  // h2_errc
#include "upstream/h2_test_server.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <thread>

#include "http/awaitable.hpp"
#include "tls/test_pki.hpp"

// GCC 12 misfires -Wmismatched-new-delete on Asio's coroutine frame allocator for coroutine
// lambdas (see CMakeLists.txt, which turns it off for sanitizer builds for the same reason).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace scoregate::upstream {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using testing::H2ServerOptions;
using testing::H2TestServer;

TargetPtr target_at(std::uint16_t port, std::string address = "") {
  auto t = std::make_shared<Target>();
  t->endpoint = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  t->address = address.empty() ? "127.0.0.1:" + std::to_string(port) : address;
  t->id = next_target_id();
  return t;
}

H2RequestHead head(std::string method, std::string path, bool end_stream) {
  H2RequestHead h;
  h.method = std::move(method);
  h.scheme = "http";
  h.authority = "model";
  h.path = std::move(path);
  h.headers = {{"x-request-id", "r1"}};
  h.end_stream = end_stream;
  return h;
}

std::string header(const std::vector<H2Header>& hs, const std::string& name) {
  for (const auto& h : hs)
    if (h.name == name) return h.value;
  return "<none>";
}

struct Reply {
  error_code ec;
  H2ResponseHead head;
  std::string body;
};

// The whole response of a stream: head, then body to the end.
asio::awaitable<Reply> read_all(H2Stream& s) {
  Reply r;
  r.ec = co_await s.read_head(r.head);
  if (r.ec || r.head.end_stream) co_return r;
  for (bool end = false; !end && !r.ec;) r.ec = co_await s.read_body(r.body, end);
  co_return r;
}

class H2ClientTest : public ::testing::Test {
 protected:
  void make_pool(H2PoolLimits limits = {}) {
    pool = std::make_unique<H2Pool>(io.get_executor(), limits);
  }
  void SetUp() override {
    // As the binary does (cli/main.cpp): OpenSSL writes with write(2), which raises SIGPIPE
    // when the peer has gone, on either side of these tests.
    std::signal(SIGPIPE, SIG_IGN);
    make_pool();
  }
  void TearDown() override {
    if (pool) pool->close_all();
    spin(50ms);
    pool.reset();
    spin(20ms);
  }
  void spin(std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
  }
  // Runs a test coroutine to its end (at most 20 s).
  void run(std::function<asio::awaitable<void>()> body) {
    bool done = false;
    std::exception_ptr ex;
    asio::co_spawn(io, body(), [&](std::exception_ptr e) {
      ex = e;
      done = true;
    });
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_one_for(50ms);
    }
    if (ex) std::rethrow_exception(ex);
    ASSERT_TRUE(done) << "the test coroutine did not finish in 20 s";
  }
  asio::awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(io, d);
    co_await t.async_wait(nothrow);
  }
  asio::awaitable<H2OpenResult> open(const TargetPtr& t, const H2RequestHead& h,
                                     H2Mode mode = H2Mode::h2c, SSL_CTX* tls = nullptr,
                                     std::chrono::milliseconds timeout = 2s) {
    co_return co_await pool->open(t, mode, tls, h, timeout);
  }

  asio::io_context io;
  std::unique_ptr<H2Pool> pool;
};

TEST_F(H2ClientTest, GetSkipsInterimHeadAndEndsWithHeadersWhenThereIsNoBody) {
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/hello", true));
    EXPECT_FALSE(o.ec) << o.ec.message();
    EXPECT_TRUE(o.new_connection);
    if (!o.stream) {
      ADD_FAILURE() << "no stream: " << o.ec.message();
      co_return;
    }
    Reply r = co_await read_all(*o.stream);
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.head.status, 200u);  // the 103 before it was skipped
    EXPECT_EQ(header(r.head.headers, "x-test"), "yes");
    EXPECT_FALSE(r.head.end_stream);
    EXPECT_EQ(r.body, "hello");
    EXPECT_TRUE(o.stream->trailers().empty());

    auto e = co_await open(t, head("GET", "/empty", true));
    EXPECT_FALSE(e.new_connection);  // the same connection
    if (!e.stream) {
      ADD_FAILURE() << "no stream: " << e.ec.message();
      co_return;
    }
    H2ResponseHead h;
    EXPECT_FALSE(co_await e.stream->read_head(h));
    EXPECT_EQ(h.status, 204u);
    EXPECT_TRUE(h.end_stream);
  });
  EXPECT_EQ(pool->connection_count(), 1u);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(H2ClientTest, PostStreamsTheBodyInPieces) {
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("POST", "/echo", false));
    if (!o.stream) {
      ADD_FAILURE() << "no stream: " << o.ec.message();
      co_return;
    }
    EXPECT_FALSE(co_await o.stream->write_body("abc", false));
    EXPECT_FALSE(co_await o.stream->write_body("def", false));
    EXPECT_FALSE(co_await o.stream->write_body("", true));  // an empty DATA with END_STREAM
    EXPECT_EQ(co_await o.stream->write_body("x", false), make_error_code(h2_errc::stream_ended));
    Reply r = co_await read_all(*o.stream);
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.head.status, 200u);
    EXPECT_EQ(r.body, "abcdef");
    EXPECT_EQ(header(r.head.headers, "x-got"), "6");
  });
}

TEST_F(H2ClientTest, FlowControlBoundsBothDirections) {
  // Small windows: a 2 MB response only arrives if read_body gives the window back, and a
  // 300 KB request body passes the server's default 64 KiB window through write_body.
  H2PoolLimits limits;
  limits.stream_window = 65535;
  limits.connection_window = 128 * 1024;
  make_pool(limits);
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto big = co_await open(t, head("GET", "/big?n=2000000", true));
    if (!big.stream) {
      ADD_FAILURE() << "no stream: " << big.ec.message();
      co_return;
    }
    Reply r = co_await read_all(*big.stream);
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.body.size(), 2000000u);

    auto post = co_await open(t, head("POST", "/echo", false));
    if (!post.stream) {
      ADD_FAILURE() << "no stream: " << post.ec.message();
      co_return;
    }
    std::string piece(100 * 1024, 'p');
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(co_await post.stream->write_body(piece, i == 2));
    Reply e = co_await read_all(*post.stream);
    EXPECT_FALSE(e.ec) << e.ec.message();
    EXPECT_EQ(e.body.size(), 300u * 1024);
  });
}

TEST_F(H2ClientTest, ManyConcurrentStreamsShareOneConnection) {
  H2TestServer server;
  auto t = target_at(server.port());
  int ok = 0;
  for (int i = 0; i < 20; ++i)
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto o = co_await open(t, head("GET", "/hold?ms=300", true));
          if (!o.stream) {
            ADD_FAILURE() << "no stream: " << o.ec.message();
            co_return;
          }
          Reply r = co_await read_all(*o.stream);
          if (!r.ec && r.head.status == 200 && r.body == "held") ++ok;
        },
        asio::detached);
  run([&]() -> asio::awaitable<void> {
    while (ok < 20) co_await sleep(10ms);
  });
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(pool->connection_count(), 1u);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.max_in_flight(), 20);  // all at once, multiplexed
}

TEST_F(H2ClientTest, ModelsMaxConcurrentStreamsWithOneConnectionQueues) {
  H2PoolLimits limits;
  limits.max_connections_per_target = 1;
  make_pool(limits);
  H2TestServer server(H2ServerOptions{.max_concurrent_streams = 2});
  auto t = target_at(server.port());
  int ok = 0;
  run([&]() -> asio::awaitable<void> {
    auto warm = co_await open(t, head("GET", "/hello", true));  // SETTINGS known from here
    EXPECT_TRUE(warm.stream) << warm.ec.message();
    if (warm.stream) co_await read_all(*warm.stream);
    std::vector<std::unique_ptr<H2Stream>> streams;
    for (int i = 0; i < 5; ++i) {
      auto o = co_await open(t, head("GET", "/hold?ms=100", true));
      EXPECT_FALSE(o.new_connection);  // at the limit: queued on the one connection
      if (o.stream) streams.push_back(std::move(o.stream));
    }
    for (auto& s : streams) {
      Reply r = co_await read_all(*s);
      EXPECT_FALSE(r.ec) << r.ec.message();
      EXPECT_FALSE(s->refused());
      if (!r.ec && r.head.status == 200) ++ok;
    }
  });
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_LE(server.max_in_flight(), 2);
}

TEST_F(H2ClientTest, ModelsMaxConcurrentStreamsOpensMoreConnections) {
  H2TestServer server(H2ServerOptions{.max_concurrent_streams = 2});
  auto t = target_at(server.port());
  int ok = 0;
  run([&]() -> asio::awaitable<void> {
    auto warm = co_await open(t, head("GET", "/hello", true));
    EXPECT_TRUE(warm.stream) << warm.ec.message();
    if (warm.stream) co_await read_all(*warm.stream);
  });
  for (int i = 0; i < 5; ++i)
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto o = co_await open(t, head("GET", "/hold?ms=200", true));
          if (!o.stream) {
            ADD_FAILURE() << "no stream: " << o.ec.message();
            co_return;
          }
          Reply r = co_await read_all(*o.stream);
          if (!r.ec && r.head.status == 200) ++ok;
        },
        asio::detached);
  run([&]() -> asio::awaitable<void> {
    while (ok < 5) co_await sleep(10ms);
  });
  EXPECT_EQ(ok, 5);
  // 2 on the first connection; the other 3 wait for a second one, whose SETTINGS say 2: one
  // of them moves on to a third.
  EXPECT_EQ(server.connections(), 3);
  EXPECT_LE(server.max_in_flight(), 2);
}

TEST_F(H2ClientTest, TrailersEndTheResponse) {
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("POST", "/trailers", true));
    if (!o.stream) {
      ADD_FAILURE() << "no stream: " << o.ec.message();
      co_return;
    }
    Reply r = co_await read_all(*o.stream);
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.body, "abc");
    EXPECT_EQ(header(o.stream->trailers(), "grpc-status"), "0");
    EXPECT_EQ(header(o.stream->trailers(), "grpc-message"), "fine");
  });
}

TEST_F(H2ClientTest, ServerResetIsAnErrorButNotARefusal) {
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/rst", true));
    if (!o.stream) {
      ADD_FAILURE() << "no stream: " << o.ec.message();
      co_return;
    }
    H2ResponseHead h;
    EXPECT_EQ(co_await o.stream->read_head(h), make_error_code(h2_errc::stream_reset));
    EXPECT_EQ(o.stream->reset_code(), 2u);  // INTERNAL_ERROR
    EXPECT_FALSE(o.stream->refused());
    // The connection stays up for other streams.
    auto next = co_await open(t, head("GET", "/hello", true));
    EXPECT_FALSE(next.new_connection);
    if (next.stream) {
      EXPECT_EQ((co_await read_all(*next.stream)).body, "hello");
    }
  });
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(H2ClientTest, RefusedStreamIsRefused) {
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("POST", "/refuse", false));
    if (!o.stream) {
      ADD_FAILURE() << "no stream: " << o.ec.message();
      co_return;
    }
    H2ResponseHead h;
    EXPECT_EQ(co_await o.stream->read_head(h), make_error_code(h2_errc::stream_refused));
    EXPECT_TRUE(o.stream->refused());
    EXPECT_EQ(o.stream->reset_code(), 7u);  // REFUSED_STREAM
    EXPECT_TRUE(co_await o.stream->write_body("late", true));
  });
}

TEST_F(H2ClientTest, ConnectionLossRefusesOnlyStreamsThatNeverLeft) {
  // One connection, one stream allowed by the model: the second request waits in nghttp2
  // with its HEADERS unsent. The model then goes away.
  H2PoolLimits limits;
  limits.max_connections_per_target = 1;
  make_pool(limits);
  auto server = std::make_unique<H2TestServer>(H2ServerOptions{.max_concurrent_streams = 1});
  auto t = target_at(server->port());
  std::unique_ptr<H2Stream> sent, waiting;
  run([&]() -> asio::awaitable<void> {
    sent = (co_await open(t, head("GET", "/hold?ms=-1", true))).stream;
    waiting = (co_await open(t, head("GET", "/hello", true))).stream;
    co_await sleep(100ms);
  });
  ASSERT_TRUE(sent && waiting);
  EXPECT_EQ(server->max_in_flight(), 1);
  server.reset();
  run([&]() -> asio::awaitable<void> {
    H2ResponseHead h;
    EXPECT_TRUE(co_await sent->read_head(h));
    EXPECT_FALSE(sent->refused());  // the model had it: it may have acted on it
    EXPECT_EQ(co_await waiting->read_head(h), make_error_code(h2_errc::stream_refused));
    EXPECT_TRUE(waiting->refused());
  });
  EXPECT_EQ(pool->connection_count(), 0u);
}

TEST_F(H2ClientTest, CancellingAQueuedStreamNeverSendsIt) {
  H2PoolLimits limits;
  limits.max_connections_per_target = 1;
  make_pool(limits);
  H2TestServer server(H2ServerOptions{.max_concurrent_streams = 1});
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto sent = (co_await open(t, head("GET", "/hold?ms=-1", true))).stream;
    auto queued = (co_await open(t, head("GET", "/hello", true))).stream;
    if (!sent || !queued) {
      ADD_FAILURE() << "no stream";
      co_return;
    }
    co_await sleep(50ms);
    queued->cancel();
    sent->cancel();
    for (int i = 0; i < 200 && server.resets_received().empty(); ++i) co_await sleep(10ms);
    co_await sleep(50ms);
  });
  // Only the stream the model saw is reset; the queued one never left.
  EXPECT_EQ(server.resets_received(), std::vector<std::uint32_t>{8u});
  EXPECT_EQ(server.completed_requests(), 0);
  // Both are gone from the connection: it is idle now.
  EXPECT_EQ(pool->sweep(Clock::now() + 1h), 1u);
}

TEST_F(H2ClientTest, OversizedResponseHeadFailsTheStreamOnly) {
  H2PoolLimits limits;
  limits.max_header_list = 16 * 1024;
  make_pool(limits);
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/hugehead", true));
    if (!o.stream) {
      ADD_FAILURE() << "no stream: " << o.ec.message();
      co_return;
    }
    H2ResponseHead h;
    EXPECT_EQ(co_await o.stream->read_head(h), make_error_code(h2_errc::header_too_large));
    EXPECT_FALSE(o.stream->refused());
    auto next = co_await open(t, head("GET", "/hello", true));
    EXPECT_FALSE(next.new_connection);
    if (next.stream) {
      EXPECT_EQ((co_await read_all(*next.stream)).body, "hello");
    }
  });
}

TEST_F(H2ClientTest, GoawayRefusesLaterStreamsAndNewOnesGoToANewConnection) {
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto a = co_await open(t, head("GET", "/hold?ms=200", true));  // stream 1
    auto b = co_await open(t, head("GET", "/goaway", true));       // stream 3: GOAWAY(1)
    if (!a.stream || !b.stream) {
      ADD_FAILURE() << "no stream";
      co_return;
    }
    H2ResponseHead h;
    EXPECT_EQ(co_await b.stream->read_head(h), make_error_code(h2_errc::stream_refused));
    EXPECT_TRUE(b.stream->refused());
    auto c = co_await open(t, head("GET", "/hello", true));
    EXPECT_TRUE(c.new_connection);
    if (c.stream) {
      EXPECT_EQ((co_await read_all(*c.stream)).body, "hello");
    }
    Reply ra = co_await read_all(*a.stream);  // below last-stream-id: still answered
    EXPECT_FALSE(ra.ec) << ra.ec.message();
    EXPECT_EQ(ra.body, "held");
    EXPECT_FALSE(a.stream->refused());
    for (int i = 0; i < 100 && pool->connection_count() > 1; ++i) co_await sleep(10ms);
  });
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(pool->connection_count(), 1u);  // the drained one closed itself
}

TEST_F(H2ClientTest, CancelResetsTheStreamAndWakesWaiters) {
  H2TestServer server;
  auto t = target_at(server.port());
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/hold?ms=-1", true));
    if (!o.stream) {
      ADD_FAILURE() << "no stream: " << o.ec.message();
      co_return;
    }
    H2Stream* s = o.stream.get();
    asio::steady_timer later(io, 100ms);
    later.async_wait([s](error_code) { s->cancel(); });
    H2ResponseHead h;
    EXPECT_EQ(co_await s->read_head(h), asio::error::operation_aborted);
    std::string body;
    bool end = false;
    EXPECT_EQ(co_await s->read_body(body, end), asio::error::operation_aborted);
    // Destroying an unfinished stream resets it too.
    auto d = co_await open(t, head("GET", "/hold?ms=-1", true));
    co_await sleep(50ms);
    d.stream.reset();
    for (int i = 0; i < 200 && server.resets_received().size() < 2; ++i) co_await sleep(10ms);
    EXPECT_FALSE(s->refused());
  });
  auto resets = server.resets_received();
  ASSERT_EQ(resets.size(), 2u);
  EXPECT_EQ(resets[0], 8u);  // CANCEL
  EXPECT_EQ(resets[1], 8u);
  EXPECT_EQ(pool->connection_count(), 1u);
}

TEST_F(H2ClientTest, StreamOutlivesItsConnection) {
  auto server = std::make_unique<H2TestServer>();
  auto t = target_at(server->port());
  std::unique_ptr<H2Stream> kept;
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/hold?ms=-1", true));
    kept = std::move(o.stream);
  });
  ASSERT_TRUE(kept);
  server.reset();  // the model goes away with the request sent and unanswered
  run([&]() -> asio::awaitable<void> {
    H2ResponseHead h;
    error_code ec = co_await kept->read_head(h);
    EXPECT_TRUE(ec);
    EXPECT_FALSE(kept->refused());  // it was sent: the model may have acted on it
  });
  pool.reset();  // the connection is gone; the stream still answers
  spin(20ms);
  run([&]() -> asio::awaitable<void> {
    EXPECT_TRUE(co_await kept->write_body("x", true));
    std::string b;
    bool end = false;
    EXPECT_TRUE(co_await kept->read_body(b, end));
  });
  kept->cancel();
  kept.reset();
}

TEST_F(H2ClientTest, ConnectionRefusedIsAConnectFailure) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  auto t = target_at(ntohs(a.sin_port));  // bound, not listening: connection refused
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/", true));
    EXPECT_FALSE(o.stream);
    EXPECT_TRUE(o.connect_failed);
    EXPECT_FALSE(o.timed_out);
    EXPECT_EQ(o.ec, asio::error::connection_refused);
  });
  ::close(fd);
  EXPECT_EQ(pool->connection_count(), 0u);
}

// A listener that never accepts, with its backlog full: a further connect hangs in SYN_SENT.
struct FullBacklog {
  FullBacklog() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 0);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    for (int i = 0; i < 4; ++i) {  // fill the accept queue (it holds backlog + 1)
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fillers.push_back(c);
    }
  }
  ~FullBacklog() {
    for (int c : fillers) ::close(c);
    ::close(fd);
  }
  int fd;
  std::uint16_t port;
  std::vector<int> fillers;
};

TEST_F(H2ClientTest, ConnectTimeoutWhenNobodyAnswers) {
  FullBacklog silent;
  auto t = target_at(silent.port);
  run([&]() -> asio::awaitable<void> {
    auto start = std::chrono::steady_clock::now();
    auto o = co_await open(t, head("GET", "/", true), H2Mode::h2c, nullptr, 200ms);
    EXPECT_FALSE(o.stream);
    EXPECT_TRUE(o.timed_out);
    EXPECT_TRUE(o.connect_failed);
    EXPECT_EQ(o.ec, asio::error::timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  });
}

TEST_F(H2ClientTest, PoolGoingAwayEndsAWaitingOpen) {
  FullBacklog silent;
  auto t = target_at(silent.port);
  bool finished = false;
  H2OpenResult result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result = co_await open(t, head("GET", "/", true), H2Mode::h2c, nullptr, 10s);
        finished = true;
      },
      asio::detached);
  spin(50ms);
  EXPECT_FALSE(finished);
  pool.reset();  // worker exit while the connect is pending
  for (int i = 0; i < 100 && !finished; ++i) spin(10ms);
  EXPECT_TRUE(finished);
  EXPECT_FALSE(result.stream);
  EXPECT_EQ(result.ec, asio::error::operation_aborted);
}

TEST_F(H2ClientTest, IdleConnectionsAreSwept) {
  H2PoolLimits limits;
  limits.idle_timeout = 100ms;
  make_pool(limits);
  H2TestServer server;
  auto t = target_at(server.port());
  std::unique_ptr<H2Stream> held;
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/hello", true));
    if (o.stream) co_await read_all(*o.stream);
  });
  EXPECT_EQ(pool->sweep(Clock::now()), 0u);  // not idle long enough
  EXPECT_EQ(pool->connection_count(), 1u);
  spin(150ms);
  EXPECT_EQ(pool->sweep(Clock::now()), 1u);
  EXPECT_EQ(pool->connection_count(), 0u);
  // A connection with an open stream is not idle, however old.
  run([&]() -> asio::awaitable<void> {
    auto o = co_await open(t, head("GET", "/hold?ms=-1", true));
    held = std::move(o.stream);
  });
  EXPECT_EQ(pool->sweep(Clock::now() + 1h), 0u);
  EXPECT_EQ(pool->connection_count(), 1u);
  EXPECT_EQ(server.connections(), 2);
  held.reset();
}

TEST_F(H2ClientTest, SilentPeerTimesOutWaitingForTlsOrSettings) {
  // The kernel completes the TCP handshake for a listener that never accepts, so the
  // connect succeeds and then nothing comes: no TLS answer (h2), no SETTINGS (h2c).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  auto t = target_at(ntohs(a.sin_port));
  std::string error;
  auto ctx = make_client_tls_context("", error);
  ASSERT_TRUE(ctx) << error;
  run([&]() -> asio::awaitable<void> {
    auto h2 = co_await open(t, head("GET", "/", true), H2Mode::h2, ctx.get(), 200ms);
    EXPECT_TRUE(h2.timed_out);
    EXPECT_TRUE(h2.connect_failed);
    EXPECT_EQ(h2.ec, asio::error::timed_out);
    auto h2c = co_await open(t, head("GET", "/", true), H2Mode::h2c, nullptr, 200ms);
    EXPECT_TRUE(h2c.timed_out);
    EXPECT_EQ(h2c.ec, asio::error::timed_out);
  });
  ::close(fd);
  EXPECT_EQ(pool->connection_count(), 0u);
}

class H2TlsTest : public H2ClientTest {
 protected:
  H2TlsTest()
      : pki(tls::testpki::make_pki([] {
          auto spec = tls::testpki::leaf_spec({"model.test"});
          spec.ips = {"127.0.0.1"};
          return spec;
        }())) {
    ca_file = dir.write("ca.pem", tls::testpki::pem({pki.root.cert.get()}));
    chain = tls::testpki::pem({pki.leaf.cert.get(), pki.intermediate.cert.get()});
    key = tls::testpki::key_pem(pki.leaf.key.get());
  }
  // Opens /hello on a TLS model reached as `address`; the open's result and the body.
  std::pair<H2OpenResult, std::string> hello(const std::string& address, bool alpn = true,
                                             bool trust = true) {
    SSL_CTX* server_ctx = testing::make_server_tls(chain, key, alpn);
    H2TestServer server(H2ServerOptions{.tls = server_ctx});
    std::string error;
    auto ctx = make_client_tls_context(trust ? ca_file : "", error);
    EXPECT_TRUE(ctx) << error;
    auto t = target_at(server.port(), address);
    H2OpenResult result;
    std::string body;
    run([&]() -> asio::awaitable<void> {
      auto h = head("GET", "/hello", true);
      h.scheme = "https";
      result = co_await open(t, h, H2Mode::h2, ctx.get());
      if (result.stream) body = (co_await read_all(*result.stream)).body;
    });
    result.stream.reset();
    pool->close_all();
    spin(20ms);
    SSL_CTX_free(server_ctx);
    return {std::move(result), body};
  }

  tls::testpki::TempDir dir;
  tls::testpki::Pki pki;
  std::string ca_file, chain, key;
};

TEST_F(H2TlsTest, VerifiedByNameAndByIp) {
  auto [by_name, body] = hello("model.test:8443");
  EXPECT_FALSE(by_name.ec) << by_name.ec.message();
  EXPECT_EQ(body, "hello");
  auto [by_ip, body_ip] = hello("");  // 127.0.0.1:port: the certificate's IP SAN
  EXPECT_FALSE(by_ip.ec) << by_ip.ec.message();
  EXPECT_EQ(body_ip, "hello");
  auto [dns, body_dns] = hello("dns:model.test:8443");
  EXPECT_FALSE(dns.ec) << dns.ec.message();
  EXPECT_EQ(body_dns, "hello");
}

TEST_F(H2TlsTest, LargeBodiesBothWaysOverTls) {
  SSL_CTX* server_ctx = testing::make_server_tls(chain, key);
  {
    H2TestServer server(H2ServerOptions{.tls = server_ctx});
    std::string error;
    auto ctx = make_client_tls_context(ca_file, error);
    ASSERT_TRUE(ctx) << error;
    auto t = target_at(server.port(), "model.test:8443");
    run([&]() -> asio::awaitable<void> {
      auto post = head("POST", "/echo", false);
      post.scheme = "https";
      auto o = co_await open(t, post, H2Mode::h2, ctx.get());
      auto big = head("GET", "/big?n=3000000", true);
      big.scheme = "https";
      auto b = co_await open(t, big, H2Mode::h2, ctx.get());
      if (!o.stream || !b.stream) {
        ADD_FAILURE() << "no stream: " << o.ec.message() << " / " << b.ec.message();
        co_return;
      }
      std::string piece(64 * 1024, 'q');
      for (int i = 0; i < 16; ++i) EXPECT_FALSE(co_await o.stream->write_body(piece, i == 15));
      Reply r = co_await read_all(*o.stream);
      EXPECT_FALSE(r.ec) << r.ec.message();
      EXPECT_EQ(r.body.size(), 16u * 64 * 1024);
      Reply rb = co_await read_all(*b.stream);
      EXPECT_FALSE(rb.ec) << rb.ec.message();
      EXPECT_EQ(rb.body.size(), 3000000u);
    });
    EXPECT_EQ(server.connections(), 1);
    pool->close_all();
    spin(20ms);
  }
  SSL_CTX_free(server_ctx);
}

TEST_F(H2TlsTest, WrongNameFailsVerification) {
  auto [r, body] = hello("other.test:8443");
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.connect_failed);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.ec, error_code(X509_V_ERR_HOSTNAME_MISMATCH, x509_verify_category()));
  EXPECT_NE(r.ec.message().find("hostname mismatch"), std::string::npos) << r.ec.message();
}

TEST_F(H2TlsTest, UntrustedIssuerFailsVerification) {
  auto [r, body] = hello("model.test:8443", true, false);
  EXPECT_TRUE(r.connect_failed);
  EXPECT_EQ(r.ec.category(), x509_verify_category());
  EXPECT_EQ(body, "");
}

TEST_F(H2TlsTest, ModelWithoutAlpnH2IsRefused) {
  auto [r, body] = hello("model.test:8443", false);
  EXPECT_TRUE(r.connect_failed);
  EXPECT_EQ(r.ec, make_error_code(h2_errc::alpn_not_h2));
  EXPECT_NE(r.ec.message().find("ALPN"), std::string::npos);
}

TEST_F(H2TlsTest, ClientContextReportsBadTrustFiles) {
  std::string error;
  EXPECT_FALSE(make_client_tls_context(dir.path() + "/missing.pem", error));
  EXPECT_NE(error.find(dir.path() + "/missing.pem"), std::string::npos) << error;
  error.clear();
  auto junk = dir.write("junk.pem", "not a certificate\n");
  EXPECT_FALSE(make_client_tls_context(junk, error));
  EXPECT_NE(error.find(junk), std::string::npos) << error;
  error.clear();
  EXPECT_TRUE(make_client_tls_context(ca_file, error)) << error;
  EXPECT_TRUE(error.empty());
}

}  // namespace
}  // namespace scoregate::upstream

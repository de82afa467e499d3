// ConnectionPool::take(): who checks that an idle connection is still open (StaleCheck).
#include "upstream/pool.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <string_view>

namespace scoregate::upstream {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

struct PoolTest : ::testing::Test {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  TargetPtr target = [] {
    auto t = std::make_shared<Target>();
    t->id = 7;
    return t;
  }();

  // A pooled connection and the model's end of it.
  std::pair<ConnectionPtr, tcp::socket> connected() {
    auto c = std::make_unique<UpstreamConnection>(io.get_executor(), target);
    c->socket.connect(acceptor.local_endpoint());
    tcp::socket model = acceptor.accept();
    return {std::move(c), std::move(model)};
  }
};

TEST_F(PoolTest, OnTakeSkipsAConnectionTheModelClosedAndReturnsAnOpenOne) {
  ConnectionPool pool;
  auto [open, model_a] = connected();
  auto [closed, model_b] = connected();
  auto* open_ptr = open.get();
  pool.give_back(std::move(open));
  pool.give_back(std::move(closed));  // most recent: taken first
  model_b.close();                    // FIN while idle
  auto c = pool.take(target);
  EXPECT_EQ(c.get(), open_ptr);
  EXPECT_EQ(pool.take(target), nullptr);
}

TEST_F(PoolTest, BeforeFirstWriteHandsOutUncheckedAndTheCallersCheckSeesTheClose) {
  ConnectionPool pool;
  auto [closed, model] = connected();
  auto* closed_ptr = closed.get();
  pool.give_back(std::move(closed));
  model.close();
  auto c = pool.take(target, StaleCheck::before_first_write);
  ASSERT_EQ(c.get(), closed_ptr);  // no system call made: the caller checks
  // The check the proxy makes before its first write (proxy/forward.cpp).
  for (int i = 0; i < 100 && !peer_closed_or_dirty(c->socket.native_handle()); ++i)
    ::usleep(1000);  // the FIN crosses loopback at once; allow for a busy machine
  EXPECT_TRUE(peer_closed_or_dirty(c->socket.native_handle()));
}

TEST_F(PoolTest, AnOpenIdleConnectionIsNotReportedClosed) {
  auto [c, model] = connected();
  EXPECT_FALSE(peer_closed_or_dirty(c->socket.native_handle()));
}

// Polls until the check says closed or dirty (the bytes or the RST cross loopback at once;
// allow for a busy machine).
bool seen_closed_or_dirty(int fd) {
  for (int i = 0; i < 100 && !peer_closed_or_dirty(fd); ++i) ::usleep(1000);
  return peer_closed_or_dirty(fd);
}

TEST_F(PoolTest, BytesNobodyAskedForMakeAConnectionDirty) {
  auto [c, model] = connected();
  asio::write(model, asio::buffer(std::string_view("HTTP/1.1 408 Request Timeout\r\n\r\n")));
  EXPECT_TRUE(seen_closed_or_dirty(c->socket.native_handle()));
}

TEST_F(PoolTest, AResetConnectionIsReportedClosed) {
  auto [c, model] = connected();
  model.set_option(asio::socket_base::linger(true, 0));  // close() sends a RST
  model.close();
  EXPECT_TRUE(seen_closed_or_dirty(c->socket.native_handle()));
}

}  // namespace
}  // namespace scoregate::upstream

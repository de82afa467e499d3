// ProbeRunner: targets a deployment starts with are probed at once (no initial_delay), later
// ones wait initial_delay; the first round is done once every target has a verdict.
#include "upstream/health.hpp"

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>

namespace scoregate::upstream {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A loopback port that accepts connections and counts them (never answers: probes time out).
struct CountingListener {
  explicit CountingListener(asio::io_context& io)
      : acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted;
      held.push_back(std::move(s));
      accept();
    });
  }
  tcp::acceptor acceptor;
  std::vector<tcp::socket> held;
  int accepted = 0;
};

TargetPtr target_at(tcp::endpoint ep) {
  auto t = std::make_shared<Target>();
  t->endpoint = ep;
  t->address = ep.address().to_string() + ":" + std::to_string(ep.port());
  t->id = next_target_id();
  return t;
}

settings::ReadinessProbe slow_start_probe() {
  settings::ReadinessProbe p;
  p.period_ms = 50;
  p.timeout_ms = 100;
  p.initial_delay_ms = 60000;
  return p;
}

TEST(ProbeRunner, FirstTargetsAreProbedAtOnceAndTheRoundCompletes) {
  asio::io_context io;
  CountingListener listener(io);
  auto gate = std::make_shared<Gate>(
      "e/d", GateSettings{}, std::vector<TargetPtr>{target_at(listener.acceptor.local_endpoint())});
  ProbeRunner runner(io);
  EXPECT_FALSE(runner.first_round_done("e/d"));
  auto probe = slow_start_probe();
  probe.timeout_ms = 1000;  // room for a loaded machine (sanitizers) between the two checks
  runner.set("e/d", gate, probe);
  EXPECT_FALSE(runner.first_round_done("e/d"));
  for (int i = 0; i < 80 && listener.accepted == 0; ++i) io.run_for(10ms);
  EXPECT_GE(listener.accepted, 1) << "the starting target waited initial_delay";
  EXPECT_FALSE(runner.first_round_done("e/d"));  // its probe has not timed out yet
  io.run_for(1500ms);
  EXPECT_TRUE(runner.first_round_done("e/d"));  // a timeout is a verdict
  EXPECT_FALSE(gate->view()[0].ready);
  runner.stop_all();
}

TEST(ProbeRunner, ATargetThatAppearsLaterWaitsInitialDelay) {
  asio::io_context io;
  CountingListener first(io), later(io);
  auto gate = std::make_shared<Gate>(
      "e/d", GateSettings{}, std::vector<TargetPtr>{target_at(first.acceptor.local_endpoint())});
  ProbeRunner runner(io);
  runner.set("e/d", gate, slow_start_probe());
  io.run_for(30ms);
  auto targets = gate->targets();
  targets.push_back(target_at(later.acceptor.local_endpoint()));
  gate->set_targets(targets);
  runner.set("e/d", gate, slow_start_probe());  // as discovery does when the set changes
  io.run_for(800ms);
  EXPECT_GE(first.accepted, 2);  // still probed every period
  EXPECT_EQ(later.accepted, 0) << "a target that appeared later skipped initial_delay";
  runner.stop_all();
}

TEST(ProbeRunner, NoProbeMeansReadyAndDone) {
  asio::io_context io;
  auto gate = std::make_shared<Gate>(
      "e/d", GateSettings{},
      std::vector<TargetPtr>{target_at({asio::ip::make_address("127.0.0.1"), 9})});
  ProbeRunner runner(io);
  runner.set("e/d", gate, std::nullopt);
  EXPECT_TRUE(runner.first_round_done("e/d"));
  EXPECT_TRUE(gate->view()[0].ready);
}

TEST(ProbeRunner, NoTargetsIsNoRound) {
  asio::io_context io;
  auto gate = std::make_shared<Gate>("e/d", GateSettings{}, std::vector<TargetPtr>{});
  ProbeRunner runner(io);
  runner.set("e/d", gate, slow_start_probe());
  io.run_for(50ms);
  EXPECT_FALSE(runner.first_round_done("e/d"));  // discovery may still bring targets
}

}  // namespace
}  // namespace scoregate::upstream

// AdminView builds /status and /metrics from ProcessView alone: a fake process state here
// stands in for the server, so what the views show is exactly what the interface gives them.
#include "runtime/admin_view.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "settings/settings.hpp"

namespace scoregate::runtime {
namespace {

constexpr const char* kSettings = R"(extension:
  allowInsecureConnections: true
endpoints:
  - name: fraud
    auth_mode: none
    traffic: { blue: 100, green: 0 }
    deployments:
      - name: blue
        targets: [ "127.0.0.1:5001", "127.0.0.1:5002" ]
      - name: green
        targets: [ "127.0.0.1:5003" ]
)";

class FakeProcess final : public ProcessView {
 public:
  FakeProcess() {
    auto loaded = settings::load_from_string(kSettings, "test.yaml", {});
    EXPECT_FALSE(loaded.problems.has_errors()) << loaded.problems.to_string();
    auto validated = settings::validate(std::move(loaded.config), settings::Purpose::serve);
    EXPECT_TRUE(validated.settings) << validated.problems.to_string();
    auto s = std::make_shared<Snapshot>();
    s->generation = 7;
    s->max_connections = 480;
    s->max_connections_auto = true;
    s->settings =
        std::make_shared<const settings::ValidatedSettings>(std::move(*validated.settings));
    Problems problems;
    s->plan = registry_.build(s->config(), problems);
    EXPECT_TRUE(s->plan) << problems.to_string();
    snapshot_ = s;
  }
  const Snapshot& current() const override { return *snapshot_; }
  bool ready() const override { return ready_; }
  bool draining() const override { return false; }
  bool development() const override { return false; }
  const std::string& listen() const override { return listen_; }
  std::uint32_t connections_open() const override { return 3; }
  ConnectionTotals connection_totals() const override { return totals_; }
  const ReloadStats& reloads() const override { return reloads_; }
  std::vector<const proxy::WorkerCounters*> worker_counters() const override {
    return {&workers_[0], &workers_[1]};
  }
  std::vector<std::shared_ptr<proxy::DeploymentState>> deployments() const override {
    return registry_.all();
  }
  admin::ReloadOutcome reload(std::string_view reason) override {
    reasons.emplace_back(reason);
    return {true, snapshot_->generation, ""};
  }

  bool ready_ = true;
  std::string listen_ = "127.0.0.1:8080";
  ReloadStats reloads_{4, 2, "CERT_EXPIRED error: sslCertPemFile: expired"};
  proxy::WorkerCounters workers_[2];
  ConnectionTotals totals_{11, 5, 6, 9};
  std::vector<std::string> reasons;

 private:
  proxy::DeploymentRegistry registry_;
  SnapshotPtr snapshot_;
};

TEST(AdminView, StatusShowsTheProcessStateItIsGiven) {
  FakeProcess process;
  AdminView view(process);
  auto j = nlohmann::json::parse(view.status_json());
  EXPECT_EQ(j["generation"], 7);
  EXPECT_EQ(j["mode"], "insecure-http");
  EXPECT_EQ(j["listen"], "127.0.0.1:8080");
  EXPECT_EQ(j["workers"], 2);
  EXPECT_EQ(j["connections_open"], 3);
  const auto& limits = j["connection_limits"];
  EXPECT_EQ(limits["max_connections"], 480);
  EXPECT_EQ(limits["max_connections_source"], "open files limit");
  EXPECT_EQ(limits["accept_errors"], 11);
  EXPECT_EQ(limits["refused_max_connections"], 5);
  EXPECT_EQ(limits["refused_no_descriptors"], 6);
  EXPECT_EQ(limits["idle_closed"], 9);
  EXPECT_EQ(j["ready"], true);
  EXPECT_EQ(j["reloads"]["ok"], 4);
  EXPECT_EQ(j["reloads"]["failed"], 2);
  EXPECT_EQ(j["reloads"]["last_error"], "CERT_EXPIRED error: sslCertPemFile: expired");
  EXPECT_FALSE(j.contains("certificate"));  // plain HTTP: no certificate, no tickets
  EXPECT_FALSE(j.contains("session_tickets"));
  const auto& ds = j["endpoints"][0]["deployments"];
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0]["name"], "blue");
  EXPECT_EQ(ds[0]["traffic"], 100);
  EXPECT_EQ(ds[0]["targets"].size(), 2u);
  EXPECT_EQ(ds[1]["name"], "green");
  EXPECT_EQ(ds[1]["traffic"], 0);

  process.ready_ = false;
  EXPECT_FALSE(view.ready());
  EXPECT_EQ(nlohmann::json::parse(view.status_json())["ready"], false);
}

TEST(AdminView, MetricsSumTheWorkersAndLabelEveryDeployment) {
  FakeProcess process;
  process.workers_[0].requests = 5;
  process.workers_[1].requests = 6;
  process.workers_[1].router_errors[4] = 2;
  process.workers_[0].router_errors[5] = 1;
  AdminView view(process);
  const auto m = view.metrics_text();
  auto has = [&](const std::string& line) {
    EXPECT_NE(m.find("\n" + line + "\n"), std::string::npos) << line << "\nin:\n" << m;
  };
  has("scoregate_config_generation 7");
  has("scoregate_reloads_total{result=\"ok\"} 4");
  has("scoregate_reloads_total{result=\"failed\"} 2");
  has("scoregate_connections_open 3");
  has("scoregate_connections_max 480");
  has("scoregate_accept_errors_total 11");
  has("scoregate_connections_refused_total{reason=\"max_connections\"} 5");
  has("scoregate_connections_refused_total{reason=\"no_descriptors\"} 6");
  has("scoregate_idle_connections_closed_total 9");
  has("scoregate_requests_total 11");
  has("scoregate_router_errors_total{class=\"4xx\"} 2");
  has("scoregate_router_errors_total{class=\"5xx\"} 1");
  has("scoregate_deployment_queue_length{endpoint=\"fraud\",deployment=\"green\"} 0");
  has("scoregate_target_in_flight{endpoint=\"fraud\",deployment=\"blue\",target=\"127.0.0.1:5002\"}"
      " 0");
  has("scoregate_request_duration_seconds_bucket{endpoint=\"fraud\",deployment=\"blue\",le=\"+"
      "Inf\"} 0");
  has("scoregate_mirror_total{endpoint=\"fraud\",deployment=\"green\",result=\"failed\"} 0");
  EXPECT_EQ(m.find("scoregate_certificate_"), std::string::npos);  // plain HTTP
  // Every metric family is announced once.
  for (const char* family : {"scoregate_target_ready", "scoregate_deployment_rejected_total"}) {
    const std::string help = std::string("# HELP ") + family + " ";
    EXPECT_EQ(m.find(help), m.rfind(help)) << family;
  }
}

// What the status page reads: the deployments' cumulative counters (the ones /metrics shows),
// the last reload's result and time, and the workers' last router errors, newest first.
TEST(AdminView, StatusCarriesTheCountersTheStatusPageComputesFrom) {
  FakeProcess process;
  auto states = process.deployments();
  auto& blue = states[0]->name == "blue" ? *states[0] : *states[1];
  blue.stats.responses[2] = 7;
  blue.stats.status_429 = 3;
  blue.stats.latency.observe(3000);  // 3 ms: the 2.5-5 ms bucket
  process.workers_[0].recent_errors.record(401, "Unauthorized", "fraud", "");
  process.workers_[1].recent_errors.record(429, "TooManyRequests", "fraud", "blue");
  AdminView view(process);
  auto j = nlohmann::json::parse(view.status_json());
  EXPECT_EQ(j["reloads"]["last_result"], "failed");  // last_error is set
  EXPECT_TRUE(j["reloads"]["last_at"].is_null());    // never stamped by ++ here
  EXPECT_EQ(j["latency_bounds_ms"].size(), proxy::LatencyHistogram::kBoundsMs.size());
  const auto& d = j["endpoints"][0]["deployments"][0];
  EXPECT_EQ(d["name"], "blue");
  EXPECT_EQ(d["slots_per_target"], 1);
  EXPECT_EQ(d["counters"]["responses"]["2xx"], 7);
  EXPECT_EQ(d["counters"]["status_429"], 3);
  EXPECT_EQ(d["counters"]["latency_buckets"][2], 1);
  EXPECT_EQ(d["counters"]["latency_count"], 1);
  EXPECT_TRUE(j["endpoints"][0]["mirror"].is_null());
  const auto& recent = j["router_errors"]["recent"];
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_GE(recent[0]["time_unix_ms"], recent[1]["time_unix_ms"]);
  std::set<std::string> codes{recent[0]["code"], recent[1]["code"]};
  EXPECT_EQ(codes, (std::set<std::string>{"Unauthorized", "TooManyRequests"}));
  const auto m = view.metrics_text();
  EXPECT_NE(m.find("scoregate_responses_by_status_total{endpoint=\"fraud\",deployment=\"blue\","
                   "status=\"429\"} 3\n"),
            std::string::npos);

  ++process.reloads_.ok;
  process.reloads_.last_error.clear();
  j = nlohmann::json::parse(view.status_json());
  EXPECT_EQ(j["reloads"]["last_result"], "ok");
  EXPECT_EQ(j["reloads"]["ok"], 5);
  EXPECT_TRUE(j["reloads"]["last_at"].is_string());
}

TEST(AdminView, ReloadIsAskedOfTheProcess) {
  FakeProcess process;
  AdminView view(process);
  auto outcome = view.reload("admin POST /-/reload");
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.generation, 7u);
  EXPECT_EQ(process.reasons, std::vector<std::string>{"admin POST /-/reload"});
}

}  // namespace
}  // namespace scoregate::runtime

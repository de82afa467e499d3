// validate(): endpoints, deployments, targets, keys, traffic, mirroring, request settings, probes.
#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

using test::count;
using test::load_yaml;
using test::only;

// Validates `endpoints` YAML behind a valid TLS extension section (so only endpoint problems).
ValidationResult check(const std::string& endpoints) {
  auto r = load_yaml(std::string(test::kTlsExtension) + endpoints);
  EXPECT_TRUE(r.problems.empty()) << r.problems.to_string();
  return validate(r.config, Purpose::serve);
}

// Line 4 of the document is the first line of `endpoints` (kTlsExtension has 3 lines).
std::string one_endpoint(
    const std::string& name, const std::string& extra,
    const std::string& deployments = "      - name: blue\n        targets: [ 10.0.0.5 ]\n") {
  std::string out = "endpoints:\n";                          // line 4
  out += "  - name: " + name + "\n";                         // 5
  out += "    keys: { primary: primary-key-0123456789 }\n";  // 6
  return out + extra + "    deployments:\n" + deployments;
}

TEST(SettingsEndpoints, ValidEndpointPasses) {
  auto v = check(one_endpoint("fraud", ""));
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  EXPECT_TRUE(v.problems.empty()) << v.problems.to_string();
}

TEST(SettingsEndpoints, EndpointNamesFollowTheRule) {
  for (const char* good : {"abc", "fraud-v2", "A12", "a2345678901234567890123456789012"}) {
    auto v = check(one_endpoint(good, ""));
    EXPECT_EQ(count(v.problems, "ENDPOINT_NAME_INVALID"), 0) << good;
  }
  for (const char* bad :
       {"ab", "1abc", "-abc", "fr_aud", "fraud.v2", "\"\"", "a23456789012345678901234567890123"}) {
    auto v = check(one_endpoint(bad, ""));
    const Problem& p = only(v.problems, "ENDPOINT_NAME_INVALID");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, "test.yaml:5: endpoints[0].name") << bad;
    EXPECT_NE(p.fix.find("3 to 32"), std::string::npos);
  }
  auto unnamed =
      check("endpoints:\n  - deployments:\n      - name: blue\n        targets: [ h ]\n");
  EXPECT_NE(only(unnamed.problems, "ENDPOINT_NAME_INVALID").what.find("no name"),
            std::string::npos);
}

TEST(SettingsEndpoints, DuplicateEndpointNames) {
  auto v = check(one_endpoint("fraud", "") + one_endpoint("fraud", "").substr(11));
  const Problem& p = only(v.problems, "ENDPOINT_DUPLICATE");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:10: endpoints[1].name");
  EXPECT_NE(p.what.find("test.yaml:5"), std::string::npos) << "points at the first one";
}

TEST(SettingsEndpoints, EndpointWithoutDeployments) {
  auto v = check("endpoints:\n  - name: fraud\n    keys: { primary: primary-key-0123456789 }\n");
  const Problem& p = only(v.problems, "ENDPOINT_NO_DEPLOYMENTS");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:5: endpoints[0]");
  auto empty = check(one_endpoint("fraud", "", "      []\n"));
  EXPECT_EQ(only(empty.problems, "ENDPOINT_NO_DEPLOYMENTS").where, "test.yaml:5: endpoints[0]");
}

TEST(SettingsEndpoints, DeploymentNamesAndDuplicates) {
  auto bad = check(one_endpoint("fraud", "", "      - name: b\n        targets: [ h ]\n"));
  const Problem& p = only(bad.problems, "DEPLOYMENT_NAME_INVALID");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:8: endpoints[0].deployments[0].name");
  auto dup = check(one_endpoint("fraud", "    traffic: {}\n",
                                "      - name: blue\n        targets: [ h ]\n"
                                "      - name: blue\n        targets: [ h ]\n"));
  const Problem& d = only(dup.problems, "DEPLOYMENT_DUPLICATE");
  EXPECT_EQ(d.severity, Severity::error);
  EXPECT_EQ(d.where, "test.yaml:11: endpoints[0].deployments[1].name");
}

TEST(SettingsEndpoints, DeploymentWithoutTargets) {
  auto v = check(one_endpoint("fraud", "", "      - name: blue\n"));
  const Problem& p = only(v.problems, "DEPLOYMENT_NO_TARGETS");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:8: endpoints[0].deployments[0]");
}

TEST(SettingsEndpoints, TargetsAreNormalisedWithTheDefaultPort) {
  auto v =
      check(one_endpoint("fraud", "",
                         "      - name: blue\n        targets: [ \"10.0.0.5\", \"10.0.0.6:80\", "
                         "\"model-0.svc\", \"[fd00::5]\", \"[fd00::6]:7000\", "
                         "\"dns:blue.fraud.svc.cluster.local:05001\" ]\n"));
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  const auto& targets = v.settings->config().endpoints[0].deployments[0].targets;
  const std::vector<std::string> expected = {
      "10.0.0.5:5001",  "10.0.0.6:80",    "model-0.svc:5001",
      "[fd00::5]:5001", "[fd00::6]:7000", "dns:blue.fraud.svc.cluster.local:5001"};
  EXPECT_EQ(targets, expected);
}

TEST(SettingsEndpoints, BadTargetsAreNamedOneByOne) {
  auto v = check(one_endpoint("fraud", "",
                              "      - name: blue\n        targets:\n          - 10.0.0.5:5001\n"
                              "          - dns:blue.svc\n"    // 11: dns needs a port
                              "          - \"fd00::5\"\n"     // 12: v6 without brackets
                              "          - 10.0.0.5:0\n"      // 13: port 0
                              "          - 10.0.0.5:70000\n"  // 14
                              "          - \"[fd00::5\"\n"    // 15
                              "          - bad_host:1\n"      // 16
                              "          - 10.0.0.256\n"      // 17
                              "          - \"\"\n"));         // 18
  ASSERT_EQ(count(v.problems, "TARGET_INVALID"), 8) << v.problems.to_string();
  int line = 11;
  for (const auto& p : v.problems.items()) {
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, "test.yaml:" + std::to_string(line) +
                           ": endpoints[0].deployments[0].targets[" + std::to_string(line - 10) +
                           "]");
    ++line;
  }
}

TEST(SettingsEndpoints, KeyAuthNeedsAPrimaryKey) {
  auto v = check(
      "endpoints:\n  - name: fraud\n    keys: { secondary: secondary-key-0123456789 }\n"
      "    deployments:\n      - name: blue\n        targets: [ h ]\n");
  const Problem& p = only(v.problems, "AUTH_KEY_MISSING");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:6: endpoints[0].keys");
  EXPECT_NE(p.fix.find("auth_mode: none"), std::string::npos);
  EXPECT_EQ(test::all_text(v.problems).find("secondary-key-0123456789"), std::string::npos);
}

TEST(SettingsEndpoints, ShortKeysWarnWithoutShowingTheKey) {
  auto v = check(
      "endpoints:\n  - name: fraud\n    keys: { primary: Zq9xKw, secondary: Yp8wJv }\n"
      "    deployments:\n      - name: blue\n        targets: [ h ]\n");
  ASSERT_EQ(count(v.problems, "AUTH_KEY_SHORT"), 2) << v.problems.to_string();
  EXPECT_EQ(v.problems.items()[0].severity, Severity::warning);
  EXPECT_EQ(v.problems.items()[0].where, "test.yaml:6: endpoints[0].keys.primary");
  EXPECT_EQ(v.problems.items()[1].where, "test.yaml:6: endpoints[0].keys.secondary");
  EXPECT_TRUE(v.settings.has_value());
  const std::string text = test::all_text(v.problems);
  EXPECT_EQ(text.find("Zq9xKw"), std::string::npos);
  EXPECT_EQ(text.find("Yp8wJv"), std::string::npos);
}

TEST(SettingsEndpoints, KeysMustBeSendableInAHeader) {
  auto v = check(
      "endpoints:\n  - name: fraud\n    keys: { primary: \"with blank 0123456789\" }\n"
      "    deployments:\n      - name: blue\n        targets: [ h ]\n");
  const Problem& p = only(v.problems, "SETTING_INVALID_VALUE");
  EXPECT_EQ(p.where, "test.yaml:6: endpoints[0].keys.primary");
  EXPECT_EQ(test::all_text(v.problems).find("with blank"), std::string::npos);
}

TEST(SettingsEndpoints, AuthNoneIsAllowedButWarned) {
  auto v = check(
      "endpoints:\n  - name: bench\n    auth_mode: none\n"
      "    deployments:\n      - name: blue\n        targets: [ h ]\n");
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  const Problem& p = only(v.problems, "AUTH_NONE");
  EXPECT_EQ(p.severity, Severity::warning);
  EXPECT_EQ(p.where, "test.yaml:6: endpoints[0].auth_mode");
  EXPECT_NE(p.what.find("anyone"), std::string::npos);
  EXPECT_EQ(count(v.problems, "AUTH_KEY_MISSING"), 0);
}

const char* kTwo =
    "      - name: blue\n        targets: [ h ]\n      - name: green\n        targets: [ h ]\n";

TEST(SettingsEndpoints, OneDeploymentWithoutTrafficGetsAllOfIt) {
  auto v = check(one_endpoint("fraud", ""));
  ASSERT_TRUE(v.settings.has_value());
  const auto& traffic = v.settings->config().endpoints[0].traffic;
  ASSERT_EQ(traffic.size(), 1u);
  EXPECT_EQ(traffic[0], (std::pair<std::string, unsigned>{"blue", 100}));
  // Written explicitly as empty: the user chose header-only routing.
  auto empty = check(one_endpoint("fraud", "    traffic: {}\n"));
  ASSERT_TRUE(empty.settings.has_value());
  EXPECT_TRUE(empty.settings->config().endpoints[0].traffic.empty());
}

TEST(SettingsEndpoints, SeveralDeploymentsWithoutTrafficWarn) {
  auto v = check(one_endpoint("fraud", "", kTwo));
  const Problem& p = only(v.problems, "TRAFFIC_NONE");
  EXPECT_EQ(p.severity, Severity::warning);
  EXPECT_EQ(p.where, "test.yaml:5: endpoints[0]");
  EXPECT_NE(p.what.find("azureml-model-deployment"), std::string::npos);
  ASSERT_TRUE(v.settings.has_value());
  EXPECT_TRUE(v.settings->config().endpoints[0].traffic.empty());
}

TEST(SettingsEndpoints, TrafficMustNameDeploymentsAndAddUpTo100) {
  auto v = check(one_endpoint("fraud", "    traffic: { blue: 80, grene: 15 }\n", kTwo));
  const Problem& u = only(v.problems, "TRAFFIC_UNKNOWN_DEPLOYMENT");
  EXPECT_EQ(u.severity, Severity::error);
  EXPECT_EQ(u.where, "test.yaml:7: endpoints[0].traffic.grene");
  EXPECT_NE(u.fix.find("'blue', 'green'"), std::string::npos) << u.fix;
  const Problem& s = only(v.problems, "TRAFFIC_SUM");
  EXPECT_EQ(s.severity, Severity::error);
  EXPECT_EQ(s.where, "test.yaml:7: endpoints[0].traffic");
  EXPECT_NE(s.what.find("add up to 95"), std::string::npos) << s.what;
  for (const char* ok : {"{ blue: 90, green: 10 }", "{ blue: 0, green: 0 }", "{ blue: 100 }"}) {
    auto good = check(one_endpoint("fraud", std::string("    traffic: ") + ok + "\n", kTwo));
    EXPECT_TRUE(good.settings.has_value()) << ok << good.problems.to_string();
  }
}

TEST(SettingsEndpoints, MirrorTrafficRules) {
  struct Case {
    const char* mirror;
    int problems;
    const char* where;
  };
  for (const Case& c :
       {Case{"{ green: 10 }", 0, ""}, Case{"{ green: 50 }", 0, ""},
        Case{"{ green: 51 }", 1, "test.yaml:8: endpoints[0].mirror_traffic.green"},
        Case{"{ green: 0 }", 1, "test.yaml:8: endpoints[0].mirror_traffic.green"},
        Case{"{ red: 10 }", 1, "test.yaml:8: endpoints[0].mirror_traffic.red"},
        Case{"{ green: 10, blue: 5 }", 1, "test.yaml:8: endpoints[0].mirror_traffic"}}) {
    auto v = check(one_endpoint(
        "fraud", std::string("    traffic: { blue: 100 }\n    mirror_traffic: ") + c.mirror + "\n",
        kTwo));
    ASSERT_EQ(count(v.problems, "MIRROR_INVALID"), c.problems)
        << c.mirror << v.problems.to_string();
    if (c.problems) {
      EXPECT_EQ(only(v.problems, "MIRROR_INVALID").where, c.where) << c.mirror;
      EXPECT_EQ(only(v.problems, "MIRROR_INVALID").severity, Severity::error);
    }
  }
}

TEST(SettingsEndpoints, RequestSettingsRanges) {
  auto v =
      check(one_endpoint("fraud", "",
                         "      - name: blue\n        targets: [ h ]\n        request_settings:\n"
                         "          request_timeout_ms: 300001\n"               // 11
                         "          max_concurrent_requests_per_instance: 0\n"  // 12
                         "          max_queue_wait_ms: 300001\n"                // 13
                         "          max_queue_length: 100001\n"));              // 14
  ASSERT_EQ(count(v.problems, "REQUEST_SETTINGS_RANGE"), 4) << v.problems.to_string();
  const auto& items = v.problems.items();
  EXPECT_EQ(items[0].where,
            "test.yaml:11: endpoints[0].deployments[0].request_settings.request_timeout_ms");
  EXPECT_NE(items[0].what.find("1 to 300000"), std::string::npos);
  EXPECT_EQ(items[1].where,
            "test.yaml:12: "
            "endpoints[0].deployments[0].request_settings.max_concurrent_requests_per_instance");
  EXPECT_NE(items[3].what.find("0 to 100000"), std::string::npos);
  for (const auto& p : items) EXPECT_EQ(p.severity, Severity::error);
  auto edge = check(one_endpoint("fraud", "",
                                 "      - name: blue\n        targets: [ h ]\n        "
                                 "request_settings: { request_timeout_ms: 300000, "
                                 "max_concurrent_requests_per_instance: 10000, max_queue_wait_ms: "
                                 "0, max_queue_length: 100000 }\n"));
  EXPECT_TRUE(edge.settings.has_value()) << edge.problems.to_string();
}

TEST(SettingsEndpoints, ReadinessProbeRules) {
  auto v =
      check(one_endpoint("fraud", "",
                         "      - name: blue\n        targets: [ h ]\n        readiness_probe:\n"
                         "          path: health\n"   // 11
                         "          period: 0\n"      // 12
                         "          timeout_ms: 0\n"  // 13: with timeout 0 below: no timeout at all
                         "          timeout: 0\n"     // 14
                         "          success_threshold: 0\n"     // 15
                         "          failure_threshold: 0\n"));  // 16
  ASSERT_EQ(count(v.problems, "PROBE_INVALID"), 5) << v.problems.to_string();
  const auto& items = v.problems.items();
  const std::string base = "endpoints[0].deployments[0].readiness_probe.";
  EXPECT_EQ(items[0].where, "test.yaml:11: " + base + "path");
  EXPECT_EQ(items[1].where, "test.yaml:15: " + base + "success_threshold");
  EXPECT_EQ(items[2].where, "test.yaml:16: " + base + "failure_threshold");
  EXPECT_EQ(items[3].where, "test.yaml:12: " + base + "period");
  EXPECT_EQ(items[4].where, "test.yaml:14: " + base + "timeout");
  for (const auto& p : items) EXPECT_EQ(p.severity, Severity::error);
  EXPECT_FALSE(v.settings.has_value());
  // Millisecond variants replace the seconds.
  auto ms = check(one_endpoint("fraud", "",
                               "      - name: blue\n        targets: [ h ]\n"
                               "        readiness_probe: { path: /, period: 0, period_ms: 50, "
                               "timeout: 0, timeout_ms: 20, initial_delay: 0 }\n"));
  EXPECT_TRUE(ms.settings.has_value()) << ms.problems.to_string();
  auto defaults = check(one_endpoint(
      "fraud", "", "      - name: blue\n        targets: [ h ]\n        readiness_probe: {}\n"));
  ASSERT_TRUE(defaults.settings.has_value()) << defaults.problems.to_string();
  EXPECT_TRUE(defaults.settings->config().endpoints[0].deployments[0].readiness_probe.has_value());
  auto crlf = check(one_endpoint("fraud", "",
                                 "      - name: blue\n        targets: [ h ]\n"
                                 "        readiness_probe: { path: \"/\\r\\nHost: evil\" }\n"));
  EXPECT_EQ(count(crlf.problems, "PROBE_INVALID"), 1) << "no header injection into probes";
}

}  // namespace
}  // namespace scoregate::settings

// validate(): certificate source, insecure mode, service type and router rules.
#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

using test::count;
using test::load_yaml;
using test::only;

ValidationResult check(std::string_view yaml, Purpose purpose = Purpose::serve,
                       CommandLine cl = {}) {
  auto r = load_yaml(yaml, cl);
  EXPECT_TRUE(r.problems.empty()) << r.problems.to_string();
  return validate(r.config, purpose);
}

constexpr const char* kEndpoint =
    "endpoints:\n"
    "  - name: fraud\n"
    "    keys: { primary: primary-key-0123456789 }\n"
    "    deployments:\n"
    "      - name: blue\n"
    "        targets: [ 10.0.0.5 ]\n";

TEST(SettingsValidate, SecretAndCnameIsAValidTlsSetup) {
  auto v = check(std::string(test::kTlsExtension) + kEndpoint);
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  EXPECT_TRUE(v.problems.empty()) << v.problems.to_string();
  EXPECT_EQ(v.settings->config().extension.ssl_secret, "scoring-tls");
}

TEST(SettingsValidate, PemPairAndCnameIsAValidTlsSetup) {
  auto v = check(
      "extension:\n  sslCname: scoring.example.com\n"
      "protected:\n  sslCertPemFile: /etc/tls/cert.pem\n  sslKeyPemFile: /etc/tls/key.pem\n" +
      std::string(kEndpoint));
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  EXPECT_TRUE(v.problems.empty());
}

TEST(SettingsValidate, TlsWithoutSourceIsRefused) {
  auto v = check("extension:\n  allowInsecureConnections: false\n  sslCname: a.example.com\n");
  const Problem& p = only(v.problems, "TLS_NO_SOURCE");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:2: extension.allowInsecureConnections");
  EXPECT_NE(p.fix.find("sslSecret"), std::string::npos);
  EXPECT_NE(p.fix.find("sslCertPemFile"), std::string::npos);
  EXPECT_NE(p.fix.find("allowInsecureConnections=True"), std::string::npos);
  EXPECT_FALSE(v.settings.has_value());

  // Nothing set at all: the place names where the setting belongs.
  auto empty = check("");
  EXPECT_EQ(only(empty.problems, "TLS_NO_SOURCE").where, "test.yaml: extension.sslSecret");
  auto no_file = validate(Config{}, Purpose::serve);
  EXPECT_EQ(only(no_file.problems, "TLS_NO_SOURCE").where, "sslSecret");
}

TEST(SettingsValidate, TlsRulesDoNotApplyToShow) {
  auto v = check("", Purpose::show);
  EXPECT_EQ(count(v.problems, "TLS_NO_SOURCE"), 0);
  EXPECT_EQ(count(v.problems, "TLS_CNAME_MISSING"), 0);
  EXPECT_EQ(count(v.problems, "NO_ENDPOINTS"), 0);
  EXPECT_TRUE(v.settings.has_value());
}

TEST(SettingsValidate, SecretTogetherWithPemFilesConflicts) {
  auto v =
      check(std::string(test::kTlsExtension) + "protected:\n  sslCertPemFile: /etc/tls/cert.pem\n");
  const Problem& p = only(v.problems, "TLS_SOURCE_CONFLICT");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:3: extension.sslSecret");
  EXPECT_NE(p.what.find("sslCertPemFile"), std::string::npos);
  EXPECT_EQ(count(v.problems, "TLS_PEM_PAIR_INCOMPLETE"), 0) << "one problem, not two";
  EXPECT_EQ(test::all_text(v.problems).find("/etc/tls"), std::string::npos);
}

TEST(SettingsValidate, OnePemFileWithoutTheOtherNamesTheMissingOne) {
  auto v = check(
      "extension:\n  sslCname: a.example.com\nprotected:\n  sslCertPemFile: /etc/tls/c.pem\n");
  const Problem& p = only(v.problems, "TLS_PEM_PAIR_INCOMPLETE");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:4: protected.sslCertPemFile");
  EXPECT_NE(p.what.find("sslKeyPemFile is not"), std::string::npos) << p.what;
  EXPECT_NE(p.fix.find("--config-protected sslKeyPemFile=PATH"), std::string::npos);
  EXPECT_EQ(count(v.problems, "TLS_NO_SOURCE"), 0);

  CommandLine cl;
  cl.config_protected = {"sslKeyPemFile=/etc/tls/k.pem"};
  auto k = check("extension:\n  sslCname: a.example.com\n", Purpose::serve, cl);
  const Problem& q = only(k.problems, "TLS_PEM_PAIR_INCOMPLETE");
  EXPECT_EQ(q.where, "--config-protected sslKeyPemFile");
  EXPECT_NE(q.what.find("sslCertPemFile is not"), std::string::npos);
  EXPECT_EQ(test::all_text(k.problems).find("/etc/tls"), std::string::npos);
}

TEST(SettingsValidate, TlsNeedsCname) {
  auto v = check("extension:\n  sslSecret: scoring-tls\n");
  const Problem& p = only(v.problems, "TLS_CNAME_MISSING");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml: extension.sslCname");
  EXPECT_EQ(p.fix,
            "set sslCname to the FQDN clients use, e.g. --config sslCname=scoring.example.com");
}

TEST(SettingsValidate, CnameAndSecretMustBeNames) {
  auto v = check("extension:\n  sslCname: https://a.example.com/\n  sslSecret: ../../etc\n");
  ASSERT_EQ(count(v.problems, "SETTING_INVALID_VALUE"), 2) << v.problems.to_string();
  EXPECT_EQ(v.problems.items()[0].where, "test.yaml:2: extension.sslCname");
  EXPECT_EQ(v.problems.items()[1].where, "test.yaml:3: extension.sslSecret");
}

TEST(SettingsValidate, CnameListIsNormalised) {
  auto v = check(
      std::string("extension:\n  sslSecret: tls\n  sslCname: a.example.com, *.b.example.com\n") +
      kEndpoint);
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  EXPECT_EQ(v.settings->config().extension.ssl_cname, "a.example.com,*.b.example.com");
}

TEST(SettingsValidate, InsecureModeWarnsAndStarts) {
  auto v = check(std::string("extension:\n  allowInsecureConnections: True\n") + kEndpoint);
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  const Problem& p = only(v.problems, "INSECURE_CONNECTIONS");
  EXPECT_EQ(p.severity, Severity::warning);
  EXPECT_EQ(p.where, "test.yaml:2: extension.allowInsecureConnections");
  EXPECT_NE(p.what.find("plain HTTP"), std::string::npos);
  EXPECT_NE(p.fix.find("development or testing"), std::string::npos);
  EXPECT_EQ(count(v.problems, "INSECURE_TLS_SETTINGS_IGNORED"), 0);
  EXPECT_EQ(count(v.problems, "TLS_NO_SOURCE"), 0);
  EXPECT_EQ(count(v.problems, "TLS_CNAME_MISSING"), 0);
}

TEST(SettingsValidate, ProbeListenerNeedsItsOwnAddress) {
  auto ok = check(std::string(test::kTlsExtension) +
                  "router: { probe_listen: \"0.0.0.0:9902\" }\n" + kEndpoint);
  EXPECT_TRUE(ok.settings.has_value()) << ok.problems.to_string();
  auto same = check(std::string(test::kTlsExtension) +
                    "router: { probe_listen: \"127.0.0.1:9901\" }\n" + kEndpoint);
  EXPECT_NE(only(same.problems, "LISTEN_INVALID").what.find("also router.admin"),
            std::string::npos);
  auto bad =
      check(std::string(test::kTlsExtension) + "router: { probe_listen: \"9902\" }\n" + kEndpoint);
  EXPECT_EQ(only(bad.problems, "LISTEN_INVALID").where, "test.yaml:4: router.probe_listen");
}

TEST(SettingsValidate, InsecureModeIgnoresSharedTicketKeysAndSaysSo) {
  auto v = check(
      "extension:\n  allowInsecureConnections: True\n"
      "router:\n  session_ticket_key_file: /etc/scoregate/ticket.key\n");
  ASSERT_TRUE(v.settings.has_value());
  const Problem& p = only(v.problems, "INSECURE_TLS_SETTINGS_IGNORED");
  EXPECT_NE(p.what.find("router.session_ticket_key_file is set but ignored"), std::string::npos)
      << p.what;
}

TEST(SettingsValidate, InsecureModeWithLeftoverTlsSettingsNamesThem) {
  auto v = check(
      "extension:\n  allowInsecureConnections: True\n  sslCname: a.example.com\n"
      "protected:\n  sslCertPemFile: /etc/tls/leftover-cert.pem\n");
  ASSERT_TRUE(v.settings.has_value());
  const Problem& p = only(v.problems, "INSECURE_TLS_SETTINGS_IGNORED");
  EXPECT_EQ(p.severity, Severity::warning);
  EXPECT_EQ(p.where, "test.yaml:2: extension.allowInsecureConnections");
  EXPECT_NE(p.what.find("sslCname and sslCertPemFile"), std::string::npos) << p.what;
  EXPECT_NE(p.fix.find("remove sslCname and sslCertPemFile"), std::string::npos) << p.fix;
  EXPECT_EQ(test::all_text(v.problems).find("leftover-cert"), std::string::npos);
  EXPECT_EQ(test::all_text(v.problems).find("a.example.com"), std::string::npos);
}

TEST(SettingsValidate, RenderNeedsTheServiceType) {
  const std::string yaml = std::string(test::kTlsExtension) + kEndpoint;
  auto render = check(yaml, Purpose::render);
  const Problem& p = only(render.problems, "SERVICE_TYPE_MISSING");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml: extension.inferenceRouterServiceType");
  EXPECT_NE(p.fix.find("inferenceRouterServiceType=LoadBalancer"), std::string::npos);
  EXPECT_FALSE(render.settings.has_value());
  auto serve = check(yaml, Purpose::serve);
  EXPECT_TRUE(serve.settings.has_value()) << serve.problems.to_string();
}

TEST(SettingsValidate, EnableInferenceFalseStopsRenderAndIsWarnedAboutByServe) {
  const std::string yaml = std::string(test::kTlsExtension) +
                           "  inferenceRouterServiceType: ClusterIP\n  enableInference: False\n" +
                           kEndpoint;
  auto render = check(yaml, Purpose::render);
  EXPECT_EQ(only(render.problems, "INFERENCE_DISABLED").severity, Severity::error);
  EXPECT_FALSE(render.settings.has_value());
  auto serve = check(yaml, Purpose::serve);
  EXPECT_EQ(only(serve.problems, "ENABLE_INFERENCE_IGNORED").severity, Severity::warning);
  EXPECT_TRUE(serve.settings.has_value()) << serve.problems.to_string();
  auto on = check(std::string(test::kTlsExtension) + "  enableInference: True\n" + kEndpoint,
                  Purpose::serve);
  EXPECT_FALSE(on.problems.has("ENABLE_INFERENCE_IGNORED"));
}

TEST(SettingsValidate, ServiceTypeIsCheckedAndNormalised) {
  auto bad = check(std::string(test::kTlsExtension) + "  inferenceRouterServiceType: Ingress\n");
  const Problem& p = only(bad.problems, "SERVICE_TYPE_INVALID");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:4: extension.inferenceRouterServiceType");
  EXPECT_NE(p.fix.find("LoadBalancer, NodePort or ClusterIP"), std::string::npos);
  for (auto [text, canonical] :
       {std::pair{"CLUSTERIP", "ClusterIP"}, std::pair{"nodePort", "NodePort"},
        std::pair{"LoadBalancer", "LoadBalancer"}}) {
    Config c;
    c.extension.allow_insecure_connections = true;
    c.extension.inference_router_service_type = text;  // a Config built in code, not loaded
    auto v = validate(c, Purpose::render);
    ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
    EXPECT_EQ(v.settings->config().extension.inference_router_service_type, canonical);
  }
}

TEST(SettingsValidate, ListenAndAdminMustBeHostPort) {
  for (const char* good :
       {"0.0.0.0:8443", "[::]:8443", "[::1]:0", "localhost:65535", "router-1.example.com:80"}) {
    Config c;
    c.extension.allow_insecure_connections = true;
    c.router.listen = good;
    c.router.admin = "127.0.0.1:9901";
    auto v = validate(c, Purpose::show);
    EXPECT_EQ(count(v.problems, "LISTEN_INVALID"), 0) << good << v.problems.to_string();
  }
  for (const char* bad : {"8443", ":8443", "0.0.0.0:65536", "0.0.0.0:", "::1:8443", "[::1]8443",
                          "[zz]:1", "0.0.0.256:1", "host name:1", "0.0.0.0:-1"}) {
    Config c;
    c.router.listen = bad;
    auto v = validate(c, Purpose::show);
    const Problem& p = only(v.problems, "LISTEN_INVALID");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, "router.listen") << bad;
  }
  CommandLine cl;
  cl.admin = "nowhere";
  auto v = check("router:\n  listen: 0.0.0.0:8443\n", Purpose::show, cl);
  EXPECT_EQ(only(v.problems, "LISTEN_INVALID").where, "--admin");
  auto same = check("router:\n  listen: 127.0.0.1:9901\n", Purpose::show);
  EXPECT_EQ(only(same.problems, "LISTEN_INVALID").where, "router.admin");
  EXPECT_EQ(count(check("router:\n  listen: \"\"\n", Purpose::show).problems, "LISTEN_INVALID"), 0);
}

TEST(SettingsValidate, RouterLimitsNameTheirRange) {
  auto v = check(
      "router:\n  max_header_bytes: 512\n  max_body_bytes: 0\n  header_timeout_ms: 0\n"
      "  drain_timeout_ms: 0\n  workers: 5000\n  min_tls_version: \"1.1\"\n  handshake_timeout_ms: "
      "0\n",
      Purpose::show);
  EXPECT_EQ(count(v.problems, "SETTING_INVALID_VALUE"), 7) << v.problems.to_string();
  const auto& items = v.problems.items();
  EXPECT_EQ(items[0].where, "test.yaml:7: router.min_tls_version");
  EXPECT_EQ(items[1].where, "test.yaml:6: router.workers");
  EXPECT_NE(items[1].what.find("from 0 to 1024"), std::string::npos) << items[1].what;
  EXPECT_EQ(items[2].where, "test.yaml:2: router.max_header_bytes");
  EXPECT_NE(items[2].what.find("from 1024 to 1048576"), std::string::npos);
  EXPECT_NE(items[3].what.find("at least 1"), std::string::npos);
  EXPECT_FALSE(v.settings.has_value());
}

// max_connections 0 means "from the open-files limit" (runtime::connection_limit_for); the
// minimum body rate may be off (0) but its grace may not be 0 (every body would be too slow).
TEST(SettingsValidate, ConnectionAndBodyRateLimits) {
  auto v = check(std::string(test::kTlsExtension) +
                     "router:\n  max_connections: 0\n  min_body_rate_bytes_per_s: 0\n",
                 Purpose::show);
  EXPECT_EQ(count(v.problems, "SETTING_INVALID_VALUE"), 0) << v.problems.to_string();
  ASSERT_TRUE(v.settings.has_value());
  EXPECT_EQ(v.settings->config().router.max_connections, 0u);
  auto bad = check("router:\n  min_body_rate_grace_ms: 0\n", Purpose::show);
  EXPECT_EQ(only(bad.problems, "SETTING_INVALID_VALUE").where,
            "test.yaml:2: router.min_body_rate_grace_ms");
}

TEST(SettingsValidate, ServeWithoutEndpointsWarns) {
  auto v = check(test::kTlsExtension);
  const Problem& p = only(v.problems, "NO_ENDPOINTS");
  EXPECT_EQ(p.severity, Severity::warning);
  EXPECT_EQ(p.where, "test.yaml");
  EXPECT_TRUE(v.settings.has_value());
  auto listed = check(std::string(test::kTlsExtension) + "endpoints: []\n");
  EXPECT_EQ(only(listed.problems, "NO_ENDPOINTS").where, "test.yaml:4: endpoints");
  EXPECT_EQ(count(check(test::kTlsExtension, Purpose::render).problems, "NO_ENDPOINTS"), 0);
}

TEST(SettingsValidate, EveryProblemIsReportedAtOnce) {
  auto v = check(
      "extension:\n  inferenceRouterServiceType: Ingress\n"
      "router:\n  listen: nowhere\n  max_header_bytes: 1\n");
  for (const char* code : {"TLS_NO_SOURCE", "TLS_CNAME_MISSING", "SERVICE_TYPE_INVALID",
                           "LISTEN_INVALID", "SETTING_INVALID_VALUE", "NO_ENDPOINTS"})
    EXPECT_EQ(count(v.problems, code), 1) << code;
  EXPECT_EQ(v.problems.error_count(), 5u);
}

}  // namespace
}  // namespace scoregate::settings

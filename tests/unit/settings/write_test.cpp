// settings::write(): a settings file that load() reads back to the same settings.
#include <gtest/gtest.h>

#include "settings/helpers.hpp"

namespace scoregate::settings::test {
namespace {

TEST(SettingsWrite, ReadsBackToTheSameSettings) {
  CommandLine cl;
  cl.config_protected = {"sslSecret=hidden-tls"};
  auto first = load_yaml(
      "extension: { sslCname: a.example.com, inferenceRouterServiceType: NodePort, "
      "inferenceRouterHA: false }\n"
      "router: { admin: \"0.0.0.0:9901\", min_tls_version: \"1.3\", shutdown_delay_ms: 7000,\n"
      "          trusted_ca_file: \"/etc/ca: #1.pem\" }\n"
      "endpoints:\n"
      "  - name: fraud\n"
      "    keys: { primary: inline-key-0123456789abcdef }\n"
      "    traffic: { blue: 100 }\n"
      "    mirror_traffic: { green: 10 }\n"
      "    deployments:\n"
      "      - { name: blue, targets: [ \"10.0.0.5:5001\" ],\n"
      "          readiness_probe: { path: /ok, period: 3 } }\n"
      "      - { name: green, targets: [ \"dns:g.svc:5001\" ] }\n",
      cl);
  ASSERT_FALSE(first.problems.has_errors()) << first.problems.to_string();
  const std::string text = write(first.config);
  // Strings that YAML 1.1 readers (kubectl) would take for numbers stay strings for them too.
  EXPECT_NE(text.find("min_tls_version: \"1.3\""), std::string::npos) << text;
  auto second = load_yaml(text);
  ASSERT_FALSE(second.problems.has_errors()) << second.problems.to_string() << text;
  const auto& a = first.config;
  const auto& b = second.config;
  EXPECT_EQ(b.extension.ssl_secret, "hidden-tls");
  EXPECT_TRUE(b.is_protected("sslSecret")) << text;
  EXPECT_EQ(b.extension.ssl_cname, a.extension.ssl_cname);
  EXPECT_EQ(b.extension.inference_router_service_type, "NodePort");
  EXPECT_FALSE(b.extension.inference_router_ha);
  EXPECT_EQ(b.router.admin, "0.0.0.0:9901");
  EXPECT_EQ(b.router.min_tls_version, "1.3");
  EXPECT_EQ(b.router.shutdown_delay_ms, 7000u);
  EXPECT_EQ(b.router.trusted_ca_file, "/etc/ca: #1.pem");
  ASSERT_EQ(b.endpoints.size(), 1u);
  EXPECT_EQ(b.endpoints[0].primary_key, "inline-key-0123456789abcdef");
  EXPECT_EQ(b.endpoints[0].traffic, a.endpoints[0].traffic);
  EXPECT_EQ(b.endpoints[0].mirror_traffic, a.endpoints[0].mirror_traffic);
  ASSERT_EQ(b.endpoints[0].deployments.size(), 2u);
  ASSERT_TRUE(b.endpoints[0].deployments[0].readiness_probe);
  EXPECT_EQ(b.endpoints[0].deployments[0].readiness_probe->path, "/ok");
  EXPECT_EQ(b.endpoints[0].deployments[0].readiness_probe->period_s, 3u);
  EXPECT_FALSE(b.endpoints[0].deployments[1].readiness_probe);
}

TEST(SettingsWrite, LeavesUnsetValuesOut) {
  auto loaded = load_yaml("extension: { allowInsecureConnections: true }\n");
  const std::string text = write(loaded.config);
  EXPECT_EQ(text.find("sslSecret"), std::string::npos) << text;
  EXPECT_EQ(text.find("protected"), std::string::npos) << text;
  EXPECT_EQ(text.find("secrets_dir"), std::string::npos) << text;
}

}  // namespace
}  // namespace scoregate::settings::test

// show(), and the promise that protected values and endpoint keys are never printed.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

using test::load_yaml;

constexpr const char* kCertPath = "/srv/very-private/cert-7f3a.pem";
constexpr const char* kKeyPath = "/srv/very-private/key-7f3a.pem";
constexpr const char* kPrimary = "PrimaryKeyValue-0123456789abcdef";
constexpr const char* kSecondary = "SecondaryKeyValue-0123456789abcdef";

TEST(SettingsShow, WritesEverySectionWithDefaults) {
  auto r = load_yaml(std::string(test::kTlsExtension));
  const std::string out = show(r.config);
  YAML::Node doc = YAML::Load(out);  // it is YAML
  ASSERT_TRUE(doc.IsMap()) << out;
  EXPECT_EQ(doc["extension"]["sslCname"].Scalar(), "scoring.example.com");
  EXPECT_EQ(doc["extension"]["allowInsecureConnections"].Scalar(), "false");
  EXPECT_EQ(doc["extension"]["inferenceRouterHA"].Scalar(), "true");
  EXPECT_TRUE(doc["protected"]["sslCertPemFile"].IsDefined());
  EXPECT_EQ(doc["router"]["listen"].Scalar(), "0.0.0.0:8443");  // the TLS default
  EXPECT_EQ(doc["router"]["admin"].Scalar(), "127.0.0.1:9901");
  EXPECT_EQ(doc["router"]["max_header_bytes"].Scalar(), "32768");
  EXPECT_EQ(doc["router"]["min_tls_version"].Scalar(), "1.2");
  EXPECT_EQ(doc["router"]["drain_timeout_ms"].Scalar(), "25000");
  // README "Workers and limits": 0 = from the open-files limit
  EXPECT_EQ(doc["router"]["max_connections"].Scalar(), "0");
  EXPECT_EQ(doc["router"]["handshake_timeout_ms"].Scalar(), "10000");
  EXPECT_EQ(doc["router"]["min_body_rate_bytes_per_s"].Scalar(), "1024");
  EXPECT_EQ(doc["router"]["min_body_rate_grace_ms"].Scalar(), "10000");
  EXPECT_TRUE(doc["endpoints"].IsSequence());

  Config insecure;
  insecure.extension.allow_insecure_connections = true;
  EXPECT_EQ(YAML::Load(show(insecure))["router"]["listen"].Scalar(), "0.0.0.0:8080");
}

TEST(SettingsShow, ShowsValidatedEndpoints) {
  auto r = load_yaml(std::string(test::kTlsExtension) +
                     "endpoints:\n  - name: fraud\n    keys: { primary: " + kPrimary +
                     " }\n    deployments:\n      - name: blue\n        targets: [ 10.0.0.5 ]\n");
  auto v = validate(r.config, Purpose::serve);
  ASSERT_TRUE(v.settings.has_value()) << v.problems.to_string();
  YAML::Node ep = YAML::Load(show(v.settings->config()))["endpoints"][0];
  EXPECT_EQ(ep["name"].Scalar(), "fraud");
  EXPECT_EQ(ep["auth_mode"].Scalar(), "key");
  EXPECT_EQ(ep["keys"]["primary"].Scalar(), "(secret)");
  EXPECT_EQ(ep["keys"]["secondary"].Scalar(), "");
  EXPECT_EQ(ep["traffic"]["blue"].Scalar(), "100");
  EXPECT_EQ(ep["deployments"][0]["targets"][0].Scalar(), "10.0.0.5:5001");
  EXPECT_EQ(ep["deployments"][0]["request_settings"]["request_timeout_ms"].Scalar(), "5000");
  EXPECT_TRUE(ep["deployments"][0]["readiness_probe"].IsNull());
}

TEST(SettingsShow, OutputLoadsBackToTheSameSettings) {
  auto r = load_yaml(std::string(test::kTlsExtension) +
                     "  inferenceRouterServiceType: clusterip\n"
                     "router:\n  workers: 3\n  min_tls_version: \"1.3\"\n  access_log: false\n"
                     "endpoints:\n  - name: bench\n    auth_mode: none\n"
                     "    traffic: { blue: 70, green: 30 }\n    mirror_traffic: { green: 5 }\n"
                     "    deployments:\n      - name: blue\n        targets: [ \"[fd00::1]:80\" ]\n"
                     "        readiness_probe: { path: /ready, period_ms: 100 }\n"
                     "      - name: green\n        targets: [ dns:g.svc:5001 ]\n");
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  const std::string once = show(r.config);
  auto again = load_yaml(once);
  ASSERT_TRUE(again.problems.empty()) << again.problems.to_string() << once;
  EXPECT_EQ(show(again.config), once);
  EXPECT_EQ(again.config.router.min_tls_version, "1.3");
  EXPECT_EQ(again.config.endpoints[0].deployments[0].readiness_probe->period_ms, 100u);
  EXPECT_FALSE(again.config.endpoints[0].deployments[1].readiness_probe.has_value());
}

// Every route by which a protected value or a key could reach text a user sees.
TEST(SettingsSecrecy, ProtectedValuesAndKeysNeverAppear) {
  const std::string dir = std::filesystem::temp_directory_path() / "scoregate-secrecy-test";
  std::filesystem::create_directories(dir);
  const std::string key_file = dir + "/primary-9c1e.key";
  std::ofstream(key_file) << "FileKeyValue-0123456789abcdef\n";

  CommandLine cl;
  cl.config = {std::string("sslKeyPemFile=") + kKeyPath,  // protected key via --config
               "allowInsecureConnections=True"};          // so both kinds of warnings appear
  cl.config_protected = {std::string("sslCertPemFile=") + kCertPath,
                         std::string("sslCertPemFIle=") + kCertPath,  // unknown key
                         std::string("sslCname") + kCertPath,         // no '='
                         std::string(kCertPath),                      // no '='
                         "sslSecret=Not_A_Valid/Name" + std::string(kKeyPath),
                         "inferenceRouterServiceType=" + std::string(kKeyPath)};
  const std::string yaml =
      std::string("extension:\n  sslCertPemFile: ") + kCertPath + "\n" +
      "  sslKeyPemFIle: " + kKeyPath + "\n" + "protected:\n  sslKeyPemFile: { path: " + kKeyPath +
      " }\n" + "  " + kCertPath + ": 1\n" +
      "endpoints:\n  - name: fraud\n    keys: { primary: " + kPrimary +
      ", secondary: " + kSecondary + ", secondary_file: " + key_file + " }\n" +
      "    deployments:\n      - name: blue\n        targets: [ h ]\n" +
      "  - name: other\n    keys: { primary_file: " + key_file + ", primry: " + kPrimary + " }\n";
  auto r = load_from_string(yaml, "secrecy.yaml", cl);
  Problems all = r.problems;
  for (Purpose purpose : {Purpose::serve, Purpose::render, Purpose::show}) {
    all.append(validate(r.config, purpose).problems);
    Config tls = r.config;
    tls.extension.allow_insecure_connections = false;
    all.append(validate(tls, purpose).problems);
  }
  ASSERT_GE(all.items().size(), 10u) << "the test must provoke problems";
  const std::string text = test::all_text(all) + all.to_string();
  const std::string shown = show(r.config);
  for (const std::string& secret :
       {std::string(kCertPath), std::string(kKeyPath), std::string(kPrimary),
        std::string(kSecondary), std::string("FileKeyValue"), std::string("very-private"), key_file,
        std::string("primary-9c1e")}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in problems:\n" << text;
    EXPECT_EQ(shown.find(secret), std::string::npos) << secret << " in show():\n" << shown;
  }
  EXPECT_NE(shown.find("(protected)"), std::string::npos);
  EXPECT_NE(shown.find("(secret)"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Booleans may be protected too (--config-protected allowInsecureConnections=True): hidden alike.
TEST(SettingsSecrecy, ProtectedBooleansAreHidden) {
  CommandLine cl;
  cl.config_protected = {"allowInsecureConnections=True", "inferenceRouterHA=False"};
  auto r = load_yaml("", cl);
  ASSERT_FALSE(r.problems.has_errors()) << r.problems.to_string();
  YAML::Node ext = YAML::Load(show(r.config))["extension"];
  EXPECT_EQ(ext["allowInsecureConnections"].Scalar(), "(protected)");
  EXPECT_EQ(ext["inferenceRouterHA"].Scalar(), "(protected)");
  EXPECT_EQ(ext["enableInference"].Scalar(), "true");          // not protected: shown
  EXPECT_TRUE(r.config.extension.allow_insecure_connections);  // and still in effect
  EXPECT_FALSE(r.config.extension.inference_router_ha);
}

TEST(SettingsSecrecy, YamlErrorsDoNotQuoteTheOffendingText) {
  // yaml-cpp appends the bad escape character to its message; the path must not leak through it.
  auto r = load_yaml("protected:\n  sslCertPemFile: \"/etc/tls/\\qsecret.pem\"\n");
  ASSERT_EQ(r.problems.items().size(), 1u);
  const Problem& p = r.problems.items()[0];
  EXPECT_EQ(p.code, "CONFIG_YAML_SYNTAX");
  EXPECT_EQ(p.where.rfind("test.yaml:2:", 0), 0u) << p.where;
  EXPECT_EQ(test::all_text(r.problems).find("character: q"), std::string::npos) << p.what;
}

}  // namespace
}  // namespace scoregate::settings

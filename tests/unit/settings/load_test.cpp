// Reading the YAML file: shapes, types, unknown and misplaced keys, syntax errors, file errors.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

using test::count;
using test::load_yaml;
using test::only;

constexpr const char* kExample = R"(extension:
  allowInsecureConnections: false
  sslCname: scoring.example.com
  inferenceRouterServiceType: loadbalancer
protected:
  sslCertPemFile: /etc/scoregate/tls/cert.pem
  sslKeyPemFile: /etc/scoregate/tls/key.pem
router:
  listen: 0.0.0.0:8443
  admin: 127.0.0.1:9901
  workers: 4
  max_header_bytes: 32768
  max_body_bytes: 104857600
  trusted_ca_file: /etc/scoregate/private-root.pem
  min_tls_version: "1.3"
  access_log: False
endpoints:
  - name: fraud
    auth_mode: key
    keys: { primary: "primary-key-0123456789", secondary: "secondary-key-0123456789" }
    traffic: { blue: 90, green: 10 }
    mirror_traffic: { green: 10 }
    deployments:
      - name: blue
        targets: [ "10.0.0.5:5001", "dns:blue.fraud.svc.cluster.local:5001" ]
        request_settings: { request_timeout_ms: 7000, max_concurrent_requests_per_instance: 2, max_queue_wait_ms: 100, max_queue_length: 9 }
        readiness_probe: { path: /ready, period: 5, timeout: 1, initial_delay: 0, success_threshold: 2, failure_threshold: 3, period_ms: 200 }
      - name: green
        targets: [ "10.0.0.6:5001" ]
)";

TEST(SettingsLoad, DesignExampleLoadsEveryField) {
  auto r = load_yaml(kExample);
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  const Config& c = r.config;
  EXPECT_EQ(c.source, "test.yaml");
  EXPECT_FALSE(c.extension.allow_insecure_connections);
  EXPECT_EQ(c.extension.ssl_cname, "scoring.example.com");
  EXPECT_EQ(c.extension.inference_router_service_type, "LoadBalancer");  // normalised
  EXPECT_EQ(c.extension.ssl_cert_pem_file, "/etc/scoregate/tls/cert.pem");
  EXPECT_EQ(c.extension.ssl_key_pem_file, "/etc/scoregate/tls/key.pem");
  EXPECT_EQ(c.router.listen, "0.0.0.0:8443");
  EXPECT_EQ(c.router.workers, 4u);
  EXPECT_EQ(c.router.max_body_bytes, 104857600u);
  EXPECT_EQ(c.router.trusted_ca_file, "/etc/scoregate/private-root.pem");
  EXPECT_EQ(c.router.min_tls_version, "1.3");
  EXPECT_FALSE(c.router.access_log);
  EXPECT_EQ(c.router.keepalive_timeout_ms, 60000u);  // default kept
  ASSERT_EQ(c.endpoints.size(), 1u);
  const Endpoint& ep = c.endpoints[0];
  EXPECT_EQ(ep.name, "fraud");
  EXPECT_EQ(ep.where, "test.yaml:18");
  EXPECT_EQ(ep.primary_key, "primary-key-0123456789");
  EXPECT_EQ(ep.secondary_key, "secondary-key-0123456789");
  EXPECT_TRUE(ep.traffic_set);
  ASSERT_EQ(ep.traffic.size(), 2u);
  EXPECT_EQ(ep.traffic[1], (std::pair<std::string, unsigned>{"green", 10}));
  ASSERT_EQ(ep.mirror_traffic.size(), 1u);
  ASSERT_EQ(ep.deployments.size(), 2u);
  const Deployment& blue = ep.deployments[0];
  EXPECT_EQ(blue.where, "test.yaml:24");
  EXPECT_EQ(ep.deployments[1].where, "test.yaml:28");
  EXPECT_EQ(blue.targets[1], "dns:blue.fraud.svc.cluster.local:5001");
  EXPECT_EQ(blue.request_settings.request_timeout_ms, 7000u);
  EXPECT_EQ(blue.request_settings.max_concurrent_requests_per_instance, 2u);
  EXPECT_EQ(blue.request_settings.max_queue_wait_ms, 100u);
  EXPECT_EQ(blue.request_settings.max_queue_length, 9u);
  ASSERT_TRUE(blue.readiness_probe.has_value());
  EXPECT_EQ(blue.readiness_probe->path, "/ready");
  EXPECT_EQ(blue.readiness_probe->period_s, 5u);
  EXPECT_EQ(blue.readiness_probe->period_ms, 200u);
  EXPECT_EQ(blue.readiness_probe->success_threshold, 2u);
  EXPECT_FALSE(ep.deployments[1].readiness_probe.has_value());
}

TEST(SettingsLoad, RecordsWhatWasSetAndWhere) {
  auto r = load_yaml(kExample);
  const Config& c = r.config;
  for (const char* key : {"sslCname", "allowInsecureConnections", "sslCertPemFile", "router.listen",
                          "router.access_log", "endpoints"})
    EXPECT_TRUE(c.is_set(key)) << key;
  EXPECT_FALSE(c.is_set("sslSecret"));
  EXPECT_FALSE(c.is_set("router.state_dir"));
  EXPECT_FALSE(c.is_set("listen"));
  EXPECT_EQ(c.where_of("sslCname"), "test.yaml:3: extension.sslCname");
  EXPECT_EQ(c.where_of("sslKeyPemFile"), "test.yaml:7: protected.sslKeyPemFile");
  EXPECT_EQ(c.where_of("router.workers"), "test.yaml:11: router.workers");
  EXPECT_EQ(c.where_of("router.state_dir"), "router.state_dir");  // not set: just the name
}

TEST(SettingsLoad, EmptyDocumentAndEmptySectionsAreFine) {
  EXPECT_TRUE(load_yaml("").problems.empty());
  EXPECT_TRUE(load_yaml("# only a comment\n").problems.empty());
  auto r = load_yaml("extension:\nprotected:\nrouter:\nendpoints:\n");
  EXPECT_TRUE(r.problems.empty()) << r.problems.to_string();
  EXPECT_TRUE(r.config.endpoints.empty());
}

TEST(SettingsLoad, BooleansAcceptExactlyFourSpellings) {
  for (const char* key : {"allowInsecureConnections", "enableInference", "inferenceRouterHA"}) {
    for (auto [text, value] :
         {std::pair{"True", true}, {"true", true}, {"False", false}, {"false", false}}) {
      auto r = load_yaml(std::string("extension:\n  ") + key + ": " + text + "\n");
      ASSERT_TRUE(r.problems.empty()) << key << "=" << text << ": " << r.problems.to_string();
      const auto& e = r.config.extension;
      bool got = std::string(key) == "allowInsecureConnections" ? e.allow_insecure_connections
                 : std::string(key) == "enableInference"        ? e.enable_inference
                                                                : e.inference_router_ha;
      EXPECT_EQ(got, value) << key << "=" << text;
    }
  }
  for (const char* text : {"yes", "no", "on", "off", "1", "0", "TRUE", "y", "\"\""}) {
    auto r = load_yaml(std::string("\nextension:\n  allowInsecureConnections: ") + text + "\n");
    const Problem& p = only(r.problems, "SETTING_INVALID_VALUE");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, "test.yaml:3: extension.allowInsecureConnections") << text;
    EXPECT_NE(p.fix.find("True, False, true or false"), std::string::npos) << p.fix;
    EXPECT_FALSE(r.config.extension.allow_insecure_connections) << text;
  }
  auto r = load_yaml("router:\n  access_log: yes\n");
  EXPECT_EQ(only(r.problems, "SETTING_INVALID_VALUE").where, "test.yaml:2: router.access_log");
}

TEST(SettingsLoad, NumbersMustBePlainNonNegativeIntegersInRange) {
  for (const char* text : {"-1", "1e3", "0x10", "+5", "4.5", "4294967296", "8 MB", "\"\"", "ten"}) {
    auto r = load_yaml(std::string("router:\n  workers: ") + text + "\n");
    const Problem& p = only(r.problems, "SETTING_INVALID_VALUE");
    EXPECT_EQ(p.where, "test.yaml:2: router.workers") << text;
    EXPECT_NE(p.what.find("0 to 4294967295"), std::string::npos) << p.what;
    EXPECT_EQ(r.config.router.workers, 0u) << "the default stays";
  }
  auto r = load_yaml("router:\n  workers: 4294967295\n  max_body_bytes: 18446744073709551615\n");
  EXPECT_TRUE(r.problems.empty()) << r.problems.to_string();
  EXPECT_EQ(r.config.router.max_body_bytes, 18446744073709551615ull);
  auto big = load_yaml("router:\n  max_body_bytes: 18446744073709551616\n");
  EXPECT_EQ(count(big.problems, "SETTING_INVALID_VALUE"), 1);
}

TEST(SettingsLoad, WrongYamlTypesAreInvalidValues) {
  struct Case {
    const char* yaml;
    const char* where;
  };
  for (const Case& c :
       {Case{"extension:\n  sslCname: { a: 1 }\n", "test.yaml:2: extension.sslCname"},
        Case{"extension:\n  sslCname: [ a ]\n", "test.yaml:2: extension.sslCname"},
        Case{"extension:\n  sslCname:\n", "test.yaml:2: extension.sslCname"},
        Case{"router: fast\n", "test.yaml:1: router"},
        Case{"extension: [ a ]\n", "test.yaml:1: extension"},
        Case{"endpoints: { name: x }\n", "test.yaml:1: endpoints"},
        Case{"endpoints:\n  - just-a-name\n", "test.yaml:2: endpoints[0]"},
        Case{"endpoints:\n  - name: abc\n    deployments: blue\n",
             "test.yaml:3: endpoints[0].deployments"},
        Case{"endpoints:\n  - name: abc\n    deployments:\n      - name: blue\n        targets: "
             "10.0.0.1\n",
             "test.yaml:5: endpoints[0].deployments[0].targets"},
        Case{"endpoints:\n  - name: abc\n    traffic: { blue: [1] }\n",
             "test.yaml:3: endpoints[0].traffic.blue"},
        Case{"- a\n- b\n", "test.yaml:1: (document)"}}) {
    auto r = load_yaml(c.yaml);
    const Problem& p = only(r.problems, "SETTING_INVALID_VALUE");
    EXPECT_EQ(p.where, c.where) << c.yaml;
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_FALSE(p.fix.empty());
  }
}

TEST(SettingsLoad, UnknownKeysAtEveryLevelSuggestTheNearestKey) {
  struct Case {
    const char* yaml;
    const char* where;
    const char* suggestion;  // "" = none
  };
  const Case cases[] = {
      {"extensions:\n  sslCname: a\n", "test.yaml:1: extensions", "extension"},
      {"extension:\n  allowInsecureConnection: true\n",
       "test.yaml:2: extension.allowInsecureConnection", "allowInsecureConnections"},
      {"extension:\n  sslcname: a\n", "test.yaml:2: extension.sslcname", "sslCname"},
      {"extension:\n  foo: a\n", "test.yaml:2: extension.foo", ""},
      {"protected:\n  sslCertPemFIle: /x\n", "test.yaml:2: protected.sslCertPemFIle",
       "sslCertPemFile"},
      {"router:\n  lisen: 0.0.0.0:1\n", "test.yaml:2: router.lisen", "listen"},
      {"endpoints:\n  - name: abc\n    deployment: []\n", "test.yaml:3: endpoints[0].deployment",
       "deployments"},
      {"endpoints:\n  - name: abc\n    deployments:\n      - name: blue\n        target: []\n",
       "test.yaml:5: endpoints[0].deployments[0].target", "targets"},
      {"endpoints:\n  - deployments:\n      - request_settings: { request_timeout: 5 }\n",
       "test.yaml:3: endpoints[0].deployments[0].request_settings.request_timeout",
       "request_timeout_ms"},
      {"endpoints:\n  - deployments:\n      - readiness_probe:\n          periods: 5\n",
       "test.yaml:4: endpoints[0].deployments[0].readiness_probe.periods", "period"},
      {"endpoints:\n  - keys:\n      primry: abcdefghijklmnopqrstuvwxyz\n",
       "test.yaml:3: endpoints[0].keys.primry", "primary"},
  };
  for (const Case& c : cases) {
    auto r = load_yaml(c.yaml);
    const Problem& p = only(r.problems, "SETTING_UNKNOWN");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, c.where);
    if (*c.suggestion)
      EXPECT_NE(p.fix.find(std::string("did you mean ") + c.suggestion + "?"), std::string::npos)
          << p.fix;
    else
      EXPECT_EQ(p.fix.find("did you mean"), std::string::npos) << p.fix;
  }
}

TEST(SettingsLoad, SeedMisspellingUnderExtensionPointsToProtected) {
  auto r = load_yaml("extension:\n  sslCertPemFIle: /etc/tls/cert.pem\n");
  const Problem& p = only(r.problems, "SETTING_UNKNOWN");
  EXPECT_NE(p.fix.find("did you mean sslCertPemFile?"), std::string::npos);
  EXPECT_NE(p.fix.find("protected:"), std::string::npos) << p.fix;
  EXPECT_EQ(test::all_text(r.problems).find("/etc/tls/cert.pem"), std::string::npos);
}

TEST(SettingsLoad, FlatSeedStyleKeysAreSentToTheirSection) {
  auto r = load_yaml("sslCname: a.example.com\nsslKeyPemFile: /k\nlisten: 0.0.0.0:1\n");
  ASSERT_EQ(count(r.problems, "SETTING_UNKNOWN"), 3);
  const auto& items = r.problems.items();
  EXPECT_EQ(items[0].where, "test.yaml:1: sslCname");
  EXPECT_NE(items[0].fix.find("under extension:"), std::string::npos);
  EXPECT_NE(items[1].fix.find("under protected:"), std::string::npos);
  EXPECT_NE(items[2].fix.find("under router:"), std::string::npos);
}

TEST(SettingsLoad, ProtectedKeysOnlyUnderProtected) {
  auto r =
      load_yaml("extension:\n  sslCname: a.example.com\n  sslKeyPemFile: /very/secret/key.pem\n");
  const Problem& p = only(r.problems, "SETTING_PROTECTED");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:3: extension.sslKeyPemFile");
  EXPECT_NE(p.fix.find("protected:"), std::string::npos);
  EXPECT_NE(p.fix.find("--config-protected sslKeyPemFile=PATH"), std::string::npos);
  EXPECT_EQ(test::all_text(r.problems).find("/very/secret"), std::string::npos);
  EXPECT_TRUE(r.config.extension.ssl_key_pem_file.empty()) << "refused, not applied";
}

TEST(SettingsLoad, ExtensionKeysAreAcceptedUnderProtectedAndStayProtected) {
  auto r = load_yaml("protected:\n  sslSecret: hidden-secret-name\n");
  EXPECT_TRUE(r.problems.empty()) << r.problems.to_string();
  EXPECT_EQ(r.config.extension.ssl_secret, "hidden-secret-name");
  EXPECT_TRUE(r.config.is_protected("sslSecret"));
  EXPECT_FALSE(r.config.is_protected("sslCname"));
  EXPECT_TRUE(r.config.is_protected("sslCertPemFile"));
}

TEST(SettingsLoad, DuplicateKeysAreReported) {
  auto r = load_yaml("extension:\n  sslCname: a.example.com\n  sslCname: b.example.com\n");
  const Problem& p = only(r.problems, "SETTING_DUPLICATE");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:3: extension.sslCname");
  EXPECT_EQ(r.config.extension.ssl_cname, "a.example.com");
}

TEST(SettingsLoad, YamlSyntaxErrorsGiveLineAndColumn) {
  {
    auto r = load_yaml("extension:\n  sslCname: a\n  sslSecret: [one, two\nrouter:\n  listen: x\n");
    const Problem& p = only(r.problems, "CONFIG_YAML_SYNTAX");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where.rfind("test.yaml:", 0), 0u) << p.where;
    EXPECT_NE(p.what.find("line "), std::string::npos) << p.what;
    EXPECT_NE(p.what.find("column "), std::string::npos) << p.what;
  }
  {
    // The bad indentation is on line 3.
    auto r = load_yaml("extension:\n  sslCname: a\n sslSecret: b\n");
    const Problem& p = only(r.problems, "CONFIG_YAML_SYNTAX");
    EXPECT_EQ(p.where, "test.yaml:3:2") << p.what;
    EXPECT_NE(p.what.find("line 3, column 2"), std::string::npos) << p.what;
  }
  {
    auto r = load_yaml("\n\nextension:\n\tsslCname: a\n");
    const Problem& p = only(r.problems, "CONFIG_YAML_SYNTAX");
    EXPECT_EQ(p.where.rfind("test.yaml:4:", 0), 0u) << p.where;
  }
}

TEST(SettingsLoad, ASecondYamlDocumentIsNotSilentlyIgnored) {
  auto r = load_yaml("---\nextension:\n  sslCname: a.example.com\n---\nrouter:\n  workers: 2\n");
  const Problem& p = only(r.problems, "CONFIG_YAML_SYNTAX");
  EXPECT_EQ(p.where, "test.yaml:5");
  EXPECT_EQ(r.config.extension.ssl_cname, "a.example.com");
  EXPECT_TRUE(load_yaml("---\nextension:\n  sslCname: a\n---\n").problems.empty());
  EXPECT_EQ(only(load_yaml("a: 1\n...\n# c\n\nb: 2\n").problems, "CONFIG_YAML_SYNTAX").where,
            "test.yaml:5");
  // yaml-cpp's LoadAll loops forever on a stray ',' in a later document.
  EXPECT_EQ(only(load_yaml("extension: {}\n---\n,\n").problems, "CONFIG_YAML_SYNTAX").where,
            "test.yaml:3");
  auto marker_value = load_yaml("--- # settings\nextension:\n  sslCname: a.example.com\n");
  EXPECT_TRUE(marker_value.problems.empty()) << marker_value.problems.to_string();
  EXPECT_EQ(marker_value.config.extension.ssl_cname, "a.example.com");
}

TEST(SettingsLoad, AStrayLeadingCommaDoesNotEmptyTheFile) {
  // yaml-cpp reads this as an empty document; the settings must not vanish silently.
  auto r = load_yaml("# settings\n, extension:\n  sslCname: a.example.com\n");
  const Problem& p = only(r.problems, "CONFIG_YAML_SYNTAX");
  EXPECT_EQ(p.where, "test.yaml:2");
  EXPECT_TRUE(load_yaml("# nothing yet\n---\n~\n...\n").problems.empty());
}

TEST(SettingsLoad, AliasesCannotBlowUpTheSettings) {
  // 691 bytes that expand to 60 x 60 x 60 = 216000 targets through aliases.
  std::string list;
  for (int i = 0; i < 60; ++i) list += (i ? ",h" : "h") + std::to_string(i);
  std::string yaml = "t: &t [" + list + "]\nd: &d {name: blue, targets: *t}\nds: &ds [*d";
  for (int i = 1; i < 60; ++i) yaml += ",*d";
  yaml += "]\ne: &e {name: fraud, deployments: *ds}\nendpoints: [*e";
  for (int i = 1; i < 60; ++i) yaml += ",*e";
  yaml += "]\n";
  auto r = load_yaml(yaml);
  const Problem& p = only(r.problems, "CONFIG_TOO_LARGE");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:1");  // the anchored list where the budget ran out
  std::size_t targets = 0;
  for (const auto& ep : r.config.endpoints)
    for (const auto& d : ep.deployments) targets += d.targets.size();
  EXPECT_LE(targets, 100000u);

  std::string big =
      "endpoints:\n  - name: big\n    deployments:\n      - name: all\n        targets:\n";
  for (int i = 0; i < 5000; ++i)
    big += "          - 10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + "\n";
  auto ok = load_yaml(big);
  EXPECT_TRUE(ok.problems.empty()) << ok.problems.to_string().substr(0, 500);
  EXPECT_EQ(ok.config.endpoints.at(0).deployments.at(0).targets.size(), 5000u);
}

TEST(SettingsLoad, AllProblemsOfAFileAreReportedAtOnce) {
  auto r = load_yaml(
      "extension:\n"
      "  allowInsecureConnections: yes\n"      // SETTING_INVALID_VALUE
      "  sslCertPemFile: /etc/tls/cert.pem\n"  // SETTING_PROTECTED
      "router:\n"
      "  lissen: 0.0.0.0:8443\n");  // SETTING_UNKNOWN
  EXPECT_EQ(r.problems.error_count(), 3u) << r.problems.to_string();
  EXPECT_EQ(r.problems.items().size(), 3u);
  EXPECT_EQ(only(r.problems, "SETTING_INVALID_VALUE").where,
            "test.yaml:2: extension.allowInsecureConnections");
  EXPECT_EQ(only(r.problems, "SETTING_PROTECTED").where, "test.yaml:3: extension.sslCertPemFile");
  EXPECT_EQ(only(r.problems, "SETTING_UNKNOWN").where, "test.yaml:5: router.lissen");
}

class SettingsFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("scoregate-settings-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(SettingsFiles, LoadReadsTheFileAndNamesItInMessages) {
  std::string path = write("s.yaml", "extension:\n  sslCname: a.example.com\n  bogus: 1\n");
  CommandLine cl;
  cl.file = path;
  auto r = load(cl);
  EXPECT_EQ(r.config.source, path);
  EXPECT_EQ(r.config.extension.ssl_cname, "a.example.com");
  EXPECT_EQ(only(r.problems, "SETTING_UNKNOWN").where, path + ":3: extension.bogus");
}

TEST_F(SettingsFiles, UnreadableFileSaysWhy) {
  CommandLine cl;
  cl.file = (dir_ / "missing.yaml").string();
  cl.config = {"sslCname=a.example.com", "nonsense"};
  auto r = load(cl);
  const Problem& p = only(r.problems, "CONFIG_FILE_UNREADABLE");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, cl.file);
  EXPECT_NE(p.what.find("No such file or directory"), std::string::npos) << p.what;
  EXPECT_EQ(count(r.problems, "FLAG_SYNTAX"), 1) << "flags are still checked";
  EXPECT_EQ(r.config.extension.ssl_cname, "a.example.com");

  cl.file = dir_.string();
  cl.config.clear();
  auto d = load(cl);
  EXPECT_NE(only(d.problems, "CONFIG_FILE_UNREADABLE").what.find("directory"), std::string::npos);
}

TEST_F(SettingsFiles, KeyFilesAreReadAndTrailingWhitespaceStripped) {
  std::string primary = write("primary.key", "key-from-file-0123456789\r\n\n");
  std::string secondary = write("secondary.key", "  second-key-0123456789 \t\n");
  auto r = load_yaml("endpoints:\n  - name: abc\n    keys:\n      primary_file: " + primary +
                     "\n      secondary_file: " + secondary + "\n");
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  const Endpoint& ep = r.config.endpoints.at(0);
  EXPECT_EQ(ep.primary_key, "key-from-file-0123456789");
  EXPECT_EQ(ep.secondary_key, "  second-key-0123456789");  // only trailing space goes
  EXPECT_EQ(ep.primary_key_file, primary);
}

TEST_F(SettingsFiles, UnreadableOrEmptyKeyFilesAreReportedWithoutPaths) {
  std::string empty = write("empty.key", " \n");
  std::string fifo = (dir_ / "fifo.key").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string missing = (dir_ / "nope.key").string();
  for (const std::string& path : {empty, fifo, missing, dir_.string()}) {
    auto r = load_yaml("endpoints:\n  - name: abc\n    keys:\n      primary_file: " + path + "\n");
    const Problem& p = only(r.problems, "AUTH_KEY_FILE_UNREADABLE");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, "test.yaml:4: endpoints[0].keys.primary_file");
    EXPECT_EQ(test::all_text(r.problems).find(path), std::string::npos) << path;
    EXPECT_TRUE(r.config.endpoints.at(0).primary_key.empty());
  }
}

TEST(SettingsLoad, KeyInlineAndFromFileConflict) {
  auto r = load_yaml(
      "endpoints:\n  - name: abc\n    keys:\n      primary: inline-key-0123456789\n"
      "      primary_file: /nonexistent\n");
  const Problem& p = only(r.problems, "SETTING_INVALID_VALUE");
  EXPECT_EQ(p.where, "test.yaml:5: endpoints[0].keys.primary_file");
  EXPECT_EQ(test::all_text(r.problems).find("inline-key"), std::string::npos);
}

TEST(SettingsLoad, AuthModeMustBeKeyOrNone) {
  auto r = load_yaml("endpoints:\n  - name: abc\n    auth_mode: token\n");
  const Problem& p = only(r.problems, "SETTING_INVALID_VALUE");
  EXPECT_EQ(p.where, "test.yaml:3: endpoints[0].auth_mode");
  EXPECT_NE(p.what.find("key or none"), std::string::npos);
  auto none = load_yaml("endpoints:\n  - name: abc\n    auth_mode: none\n");
  EXPECT_TRUE(none.problems.empty());
  EXPECT_EQ(none.config.endpoints.at(0).auth_mode, AuthMode::none);
}

TEST(SettingsLoad, TrafficPercentagesAreWholeNumbersUpTo100) {
  auto r = load_yaml("endpoints:\n  - name: abc\n    traffic: { blue: 90%, green: 101 }\n");
  EXPECT_EQ(count(r.problems, "SETTING_INVALID_VALUE"), 2) << r.problems.to_string();
  auto empty = load_yaml("endpoints:\n  - name: abc\n    traffic: {}\n");
  EXPECT_TRUE(empty.config.endpoints.at(0).traffic_set);
  auto omitted = load_yaml("endpoints:\n  - name: abc\n");
  EXPECT_FALSE(omitted.config.endpoints.at(0).traffic_set);
}

}  // namespace
}  // namespace scoregate::settings

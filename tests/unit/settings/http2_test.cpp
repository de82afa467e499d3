// The HTTP/2 and gRPC settings (README "HTTP/2 and gRPC"): router.http2,
// router.http2_max_concurrent_streams, a deployment's protocol: and an endpoint's models:.
#include <yaml-cpp/yaml.h>

#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

using test::count;
using test::load_yaml;
using test::only;

// Loads and validates `endpoints` YAML behind a valid TLS extension section.
struct Checked {
  LoadResult loaded;
  ValidationResult validated;
};
Checked check(const std::string& rest) {
  Checked c{load_yaml(std::string(test::kTlsExtension) + rest), {}};
  c.validated = validate(c.loaded.config, Purpose::serve);
  return c;
}

// Line 4 is "endpoints:", line 5 the first endpoint's name, line 8 its deployment's name.
std::string endpoint(const std::string& name, const std::string& extra,
                     const std::string& deployment_extra = "") {
  return "  - name: " + name + "\n" +                         // 5 (first endpoint)
         "    keys: { primary: primary-key-0123456789 }\n" +  // 6
         "    deployments:\n" +                               // 7
         "      - name: blue\n" +                             // 8
         "        targets: [ 10.0.0.5 ]\n" +                  // 9
         deployment_extra + extra;
}

TEST(SettingsHttp2, RouterDefaultsAreOnAnd128Streams) {
  Config c;
  EXPECT_TRUE(c.router.http2);
  EXPECT_EQ(c.router.http2_max_concurrent_streams, 128u);
  auto r = check("router: { http2: false, http2_max_concurrent_streams: 1000 }\n");
  EXPECT_TRUE(r.loaded.problems.empty()) << r.loaded.problems.to_string();
  EXPECT_FALSE(r.loaded.config.router.http2);
  EXPECT_EQ(r.loaded.config.router.http2_max_concurrent_streams, 1000u);
  EXPECT_TRUE(r.validated.settings.has_value()) << r.validated.problems.to_string();
  EXPECT_EQ(r.loaded.config.where_of("router.http2"), "test.yaml:4: router.http2");
}

TEST(SettingsHttp2, StreamsOutsideOneToThousandAreRefused) {
  for (const char* bad : {"0", "1001", "4294967295"}) {
    auto r = check(std::string("router: { http2_max_concurrent_streams: ") + bad + " }\n");
    const Problem& p = only(r.validated.problems, "SETTING_INVALID_VALUE");
    EXPECT_EQ(p.where, "test.yaml:4: router.http2_max_concurrent_streams") << bad;
    EXPECT_NE(p.what.find(bad), std::string::npos) << p.what;
    EXPECT_NE(p.fix.find("from 1 to 1000"), std::string::npos) << p.fix;
    EXPECT_FALSE(r.validated.settings);
  }
  auto one = check("router: { http2_max_concurrent_streams: 1 }\n");
  EXPECT_TRUE(one.validated.settings.has_value()) << one.validated.problems.to_string();
  auto word = check("router: { http2: yes }\n");
  EXPECT_EQ(count(word.loaded.problems, "SETTING_INVALID_VALUE"), 1)
      << word.loaded.problems.to_string();
}

TEST(SettingsHttp2, ANewClientConnectionTakesAReloadedValue) {
  Config a, b;
  b.router.http2 = false;
  b.router.http2_max_concurrent_streams = 7;
  EXPECT_TRUE(restart_required_changes(a, b).empty());
  EXPECT_FALSE(refuses_reload("router.http2"));
  EXPECT_FALSE(refuses_reload("router.http2_max_concurrent_streams"));
}

TEST(SettingsProtocol, DefaultIsHttp1AndTheThreeSpellingsLoad) {
  auto r = check("endpoints:\n" + endpoint("fraud", ""));
  ASSERT_TRUE(r.validated.settings.has_value()) << r.validated.problems.to_string();
  EXPECT_EQ(r.loaded.config.endpoints[0].deployments[0].protocol, UpstreamProtocol::http1);
  const std::pair<const char*, UpstreamProtocol> spellings[] = {{"http1", UpstreamProtocol::http1},
                                                                {"h2c", UpstreamProtocol::h2c},
                                                                {"h2", UpstreamProtocol::h2}};
  for (const auto& [text, value] : spellings) {
    auto s = check("endpoints:\n" +
                   endpoint("fraud", "", std::string("        protocol: ") + text + "\n"));
    EXPECT_TRUE(s.loaded.problems.empty()) << s.loaded.problems.to_string();
    EXPECT_EQ(s.loaded.config.endpoints[0].deployments[0].protocol, value) << text;
    EXPECT_STREQ(protocol_name(value), text);
  }
}

TEST(SettingsProtocol, AWrongValueNamesTheDeploymentTheValueAndTheChoices) {
  for (const char* bad : {"http2", "H2", "grpc", "\"\""}) {
    // protocol: before name: still names the deployment.
    auto r = load_yaml(std::string(test::kTlsExtension) +
                       "endpoints:\n"
                       "  - name: fraud\n"
                       "    deployments:\n"
                       "      - protocol: " +
                       bad +
                       "\n"
                       "        name: blue\n"
                       "        targets: [ 10.0.0.5 ]\n");
    const Problem& p = only(r.problems, "DEPLOYMENT_PROTOCOL_INVALID");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, "test.yaml:7: endpoints[0].deployments[0].protocol") << bad;
    EXPECT_NE(p.what.find("'blue'"), std::string::npos) << p.what;
    EXPECT_NE(p.what.find("'fraud'"), std::string::npos) << p.what;
    const std::string shown = std::string(bad) == "\"\"" ? "''" : "'" + std::string(bad) + "'";
    EXPECT_NE(p.what.find(shown), std::string::npos) << p.what;
    for (const char* choice : {"http1", "h2c", "h2"})
      EXPECT_NE(p.fix.find(choice), std::string::npos) << p.fix;
  }
  auto list = load_yaml(std::string(test::kTlsExtension) + "endpoints:\n" +
                        endpoint("fraud", "", "        protocol: [ h2 ]\n"));
  EXPECT_EQ(count(list.problems, "SETTING_INVALID_VALUE"), 1) << list.problems.to_string();
}

TEST(SettingsModels, ListedModelsLoadAndValidate) {
  auto r = check("endpoints:\n" +
                 endpoint("fraud", "    models: [ fraud-xgb, fraud_onnx.v2, 1st, fraud ]\n") +
                 endpoint("churn", "    models: [ churn-lgbm ]\n"));
  ASSERT_TRUE(r.validated.settings.has_value()) << r.validated.problems.to_string();
  EXPECT_TRUE(r.validated.problems.empty()) << r.validated.problems.to_string();
  const auto& m = r.loaded.config.endpoints[0].models;
  EXPECT_EQ(m, (std::vector<std::string>{"fraud-xgb", "fraud_onnx.v2", "1st", "fraud"}));
  EXPECT_TRUE(r.loaded.config.endpoints[1].models == std::vector<std::string>{"churn-lgbm"});
}

TEST(SettingsModels, NamesFollowTheRule) {
  const std::string longest(128, 'm');
  for (const std::string& bad :
       {std::string("-x"), std::string("_x"), std::string(".x"), std::string("a/b"),
        std::string("a b"), std::string("a%2Fb"), std::string(""), longest + "m"}) {
    auto r = check("endpoints:\n" + endpoint("fraud", "    models: [ \"" + bad + "\" ]\n"));
    const Problem& p = only(r.validated.problems, "ENDPOINT_MODEL_INVALID");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_EQ(p.where, "test.yaml:10: endpoints[0].models[0]") << bad;
    EXPECT_NE(p.what.find("'fraud'"), std::string::npos) << p.what;
    EXPECT_FALSE(r.validated.settings);
  }
  auto ok = check("endpoints:\n" + endpoint("fraud", "    models: [ " + longest + " ]\n"));
  EXPECT_EQ(count(ok.validated.problems, "ENDPOINT_MODEL_INVALID"), 0);
}

TEST(SettingsModels, AModelBelongsToOneEndpoint) {
  auto r = check("endpoints:\n" + endpoint("fraud", "    models: [ shared ]\n") +
                 endpoint("churn", "    models: [ shared ]\n"));
  const Problem& p = only(r.validated.problems, "ENDPOINT_MODEL_DUPLICATE");
  EXPECT_EQ(p.where, "test.yaml:16: endpoints[1].models[0]");
  EXPECT_NE(p.what.find("'fraud' and 'churn'"), std::string::npos) << p.what;
  EXPECT_NE(p.what.find("test.yaml:10"), std::string::npos) << "points at the first one";
  EXPECT_FALSE(r.validated.settings);
  auto twice = check("endpoints:\n" + endpoint("fraud", "    models: [ m1, m1 ]\n"));
  EXPECT_NE(only(twice.validated.problems, "ENDPOINT_MODEL_DUPLICATE").what.find("twice"),
            std::string::npos);
}

TEST(SettingsModels, AModelMayNotBeAnotherEndpointsName) {
  // churn comes after fraud: the rule sees every endpoint name, not only earlier ones.
  auto r =
      check("endpoints:\n" + endpoint("fraud", "    models: [ churn ]\n") + endpoint("churn", ""));
  const Problem& p = only(r.validated.problems, "ENDPOINT_MODEL_IS_ENDPOINT");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "test.yaml:10: endpoints[0].models[0]");
  EXPECT_NE(p.what.find("'churn'"), std::string::npos) << p.what;
  EXPECT_FALSE(r.validated.settings);
}

TEST(SettingsModels, WrongShapeIsAnInvalidValue) {
  auto r = load_yaml(std::string(test::kTlsExtension) + "endpoints:\n" +
                     endpoint("fraud", "    models: fraud-xgb\n"));
  EXPECT_NE(test::all_text(r.problems).find("a list of model names"), std::string::npos)
      << r.problems.to_string();
  auto typo = load_yaml(std::string(test::kTlsExtension) + "endpoints:\n" +
                        endpoint("fraud", "    model: [ x ]\n"));
  EXPECT_NE(only(typo.problems, "SETTING_UNKNOWN").fix.find("models"), std::string::npos);
}

TEST(SettingsHttp2, ShowAndWriteCarryEveryNewSetting) {
  auto r = check(
      "router: { http2: false, http2_max_concurrent_streams: 9 }\n"
      "endpoints:\n" +
      endpoint("fraud", "    models: [ fraud-xgb, \"1.0\" ]\n", "        protocol: h2c\n"));
  ASSERT_TRUE(r.validated.settings.has_value()) << r.validated.problems.to_string();
  const YAML::Node shown = YAML::Load(show(r.loaded.config));
  EXPECT_EQ(shown["router"]["http2"].as<bool>(), false);
  EXPECT_EQ(shown["router"]["http2_max_concurrent_streams"].as<unsigned>(), 9u);
  EXPECT_EQ(shown["endpoints"][0]["deployments"][0]["protocol"].as<std::string>(), "h2c");
  EXPECT_EQ(shown["endpoints"][0]["models"].size(), 2u);
  const std::string written = write(r.loaded.config);
  EXPECT_NE(written.find("\"1.0\""), std::string::npos) << "a YAML 1.1 reader keeps it text";
  auto back = load_yaml(written);
  ASSERT_FALSE(back.problems.has_errors()) << back.problems.to_string() << written;
  EXPECT_FALSE(back.config.router.http2);
  EXPECT_EQ(back.config.router.http2_max_concurrent_streams, 9u);
  EXPECT_EQ(back.config.endpoints[0].deployments[0].protocol, UpstreamProtocol::h2c);
  EXPECT_EQ(back.config.endpoints[0].models, r.loaded.config.endpoints[0].models);
  // Defaults are shown: an empty models list and protocol http1.
  const YAML::Node plain = YAML::Load(show(Config{}));
  EXPECT_TRUE(plain["router"]["http2"].as<bool>());
  auto d = check("endpoints:\n" + endpoint("fraud", ""));
  const YAML::Node dshown = YAML::Load(show(d.loaded.config));
  EXPECT_EQ(dshown["endpoints"][0]["deployments"][0]["protocol"].as<std::string>(), "http1");
  EXPECT_EQ(dshown["endpoints"][0]["models"].size(), 0u);
  EXPECT_EQ(write(d.loaded.config).find("models"), std::string::npos);
}

}  // namespace
}  // namespace scoregate::settings

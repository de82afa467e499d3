// --config, --config-protected and router flags, and how they combine with the file.
#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

using test::count;
using test::load_yaml;
using test::only;

CommandLine flags(std::vector<std::string> config, std::vector<std::string> prot = {}) {
  CommandLine cl;
  cl.config = std::move(config);
  cl.config_protected = std::move(prot);
  return cl;
}

TEST(SettingsFlags, FlagsOverrideTheFile) {
  CommandLine cl = flags({"sslCname=flag.example.com", "allowInsecureConnections=True"},
                         {"sslCertPemFile=/flag/cert.pem"});
  cl.listen = "127.0.0.1:9443";
  cl.admin = "127.0.0.1:9902";
  cl.workers = 3;
  cl.secrets_dir = "/flag/secrets";
  cl.state_dir = "/flag/state";
  auto r = load_yaml(
      "extension:\n  sslCname: file.example.com\n  allowInsecureConnections: false\n"
      "protected:\n  sslCertPemFile: /file/cert.pem\n"
      "router:\n  listen: 0.0.0.0:8443\n  workers: 8\n  secrets_dir: /file/secrets\n",
      cl);
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  const Config& c = r.config;
  EXPECT_EQ(c.extension.ssl_cname, "flag.example.com");
  EXPECT_TRUE(c.extension.allow_insecure_connections);
  EXPECT_EQ(c.extension.ssl_cert_pem_file, "/flag/cert.pem");
  EXPECT_EQ(c.router.listen, "127.0.0.1:9443");
  EXPECT_EQ(c.router.admin, "127.0.0.1:9902");
  EXPECT_EQ(c.router.workers, 3u);
  EXPECT_EQ(c.router.secrets_dir, "/flag/secrets");
  EXPECT_EQ(c.router.state_dir, "/flag/state");
  EXPECT_EQ(c.where_of("sslCname"), "--config sslCname");
  EXPECT_EQ(c.where_of("sslCertPemFile"), "--config-protected sslCertPemFile");
  EXPECT_EQ(c.where_of("router.listen"), "--listen");
  EXPECT_EQ(c.where_of("router.secrets_dir"), "--secrets-dir");
  EXPECT_TRUE(c.is_set("router.admin"));
  EXPECT_TRUE(c.is_set("router.state_dir"));
  // Recorded once even though both the file and a flag set it.
  EXPECT_EQ(std::count(c.explicitly_set.begin(), c.explicitly_set.end(), "sslCname"), 1);
}

TEST(SettingsFlags, FlagsWorkWithoutAFile) {
  CommandLine cl = flags({"sslSecret=scoring-tls", "inferenceRouterServiceType=nodeport"});
  auto r = load(cl);
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  EXPECT_EQ(r.config.source, "");
  EXPECT_EQ(r.config.extension.ssl_secret, "scoring-tls");
  EXPECT_EQ(r.config.extension.inference_router_service_type, "NodePort");
  EXPECT_TRUE(r.config.is_set("sslSecret"));
  EXPECT_FALSE(r.config.is_set("endpoints"));
}

TEST(SettingsFlags, ValueIsEverythingAfterTheFirstEquals) {
  auto r = load_yaml("", flags({"sslCname=a=b", "sslSecret="}));
  EXPECT_EQ(r.config.extension.ssl_cname, "a=b");
  EXPECT_EQ(r.config.extension.ssl_secret, "");
  EXPECT_TRUE(r.config.is_set("sslSecret"));
}

TEST(SettingsFlags, FlagWithoutEqualsIsASyntaxError) {
  auto r = load_yaml("", flags({"sslCname"}));
  const Problem& p = only(r.problems, "FLAG_SYNTAX");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "--config");
  EXPECT_NE(p.what.find("sslCname"), std::string::npos);
  EXPECT_NE(p.fix.find("--config KEY=VALUE"), std::string::npos);

  auto empty_key = load_yaml("", flags({"=value"}));
  EXPECT_EQ(only(empty_key.problems, "FLAG_SYNTAX").where, "--config");
}

TEST(SettingsFlags, ProtectedFlagWithoutEqualsIsNotEchoed) {
  auto r = load_yaml("", flags({}, {"sslKeyPemFile:/run/secret/key.pem", "cert.pem"}));
  EXPECT_EQ(count(r.problems, "FLAG_SYNTAX"), 2);
  for (const auto& p : r.problems.items()) EXPECT_EQ(p.where, "--config-protected");
  const std::string text = test::all_text(r.problems);
  EXPECT_EQ(text.find("/run/secret"), std::string::npos) << text;
  EXPECT_EQ(text.find("cert.pem,"), std::string::npos) << text;
  EXPECT_EQ(text.find("(cert.pem)"), std::string::npos) << text;
}

TEST(SettingsFlags, ProtectedKeysAreRefusedWithConfig) {
  auto r = load_yaml("", flags({"sslCertPemFile=/secret/dir/cert.pem"}));
  const Problem& p = only(r.problems, "SETTING_PROTECTED");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "--config sslCertPemFile");
  EXPECT_NE(p.fix.find("--config-protected sslCertPemFile=PATH"), std::string::npos);
  EXPECT_EQ(test::all_text(r.problems).find("/secret/dir"), std::string::npos);
  EXPECT_TRUE(r.config.extension.ssl_cert_pem_file.empty());
}

TEST(SettingsFlags, ExtensionKeysAreAcceptedWithConfigProtected) {
  auto r =
      load_yaml("", flags({}, {"sslCname=hidden.example.com", "allowInsecureConnections=False"}));
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  EXPECT_EQ(r.config.extension.ssl_cname, "hidden.example.com");
  EXPECT_TRUE(r.config.is_protected("sslCname"));
  EXPECT_EQ(r.config.where_of("sslCname"), "--config-protected sslCname");
}

TEST(SettingsFlags, BooleansFromFlagsAreStrictToo) {
  auto r = load_yaml("", flags({"allowInsecureConnections=yes", "inferenceRouterHA=false"}));
  const Problem& p = only(r.problems, "SETTING_INVALID_VALUE");
  EXPECT_EQ(p.where, "--config allowInsecureConnections");
  EXPECT_NE(p.what.find("'yes'"), std::string::npos);
  EXPECT_FALSE(r.config.extension.inference_router_ha);
}

TEST(SettingsFlags, UnknownFlagKeysSuggestTheNearest) {
  auto r = load_yaml("", flags({"sslCName=a", "allowInsecureConnection=True"},
                               {"sslCertPemFIle=/p/cert.pem", "foo=bar"}));
  ASSERT_EQ(count(r.problems, "SETTING_UNKNOWN"), 4) << r.problems.to_string();
  const auto& items = r.problems.items();
  EXPECT_EQ(items[0].where, "--config sslCName");
  EXPECT_NE(items[0].fix.find("did you mean sslCname?"), std::string::npos);
  EXPECT_NE(items[1].fix.find("did you mean allowInsecureConnections?"), std::string::npos);
  EXPECT_EQ(items[2].where, "--config-protected sslCertPemFIle");
  EXPECT_NE(items[2].fix.find("did you mean sslCertPemFile?"), std::string::npos);
  EXPECT_EQ(items[2].fix.find("configuration-protected"), std::string::npos);  // right flag
  EXPECT_EQ(items[3].fix.find("did you mean"), std::string::npos);
  EXPECT_NE(items[3].fix.find("sslCertPemFile"), std::string::npos);  // allowed there

  auto plain = load_yaml("", flags({"sslKeyPemFIle=/p/key.pem", "bar=1"}));
  ASSERT_EQ(count(plain.problems, "SETTING_UNKNOWN"), 2);
  EXPECT_NE(plain.problems.items()[0].fix.find("--config-protected"), std::string::npos);
  EXPECT_EQ(plain.problems.items()[1].fix.find("sslKeyPemFile"), std::string::npos)
      << "not listed as allowed with --config: " << plain.problems.items()[1].fix;
  EXPECT_EQ(test::all_text(r.problems).find("/p/cert.pem"), std::string::npos);
}

TEST(SettingsFlags, RouterKeysInConfigPointToTheirFlags) {
  auto r = load_yaml("", flags({"listen=0.0.0.0:1", "max_body_bytes=5"}));
  ASSERT_EQ(count(r.problems, "SETTING_UNKNOWN"), 2);
  EXPECT_NE(r.problems.items()[0].fix.find("--listen"), std::string::npos);
  EXPECT_NE(r.problems.items()[1].fix.find("router.max_body_bytes"), std::string::npos);
}

}  // namespace
}  // namespace scoregate::settings

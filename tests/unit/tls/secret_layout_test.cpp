// Which pair of keys an sslSecret's certificate comes from (cert.pem/key.pem or the
// kubernetes.io/tls tls.crt/tls.key), with its optional ca.crt, in every place a Secret can be:
// the kubelet's volume (..data symlinks), a --secrets-dir directory, a manifest.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/secure.hpp"
#include "tls/certificate.hpp"
#include "tls/secret.hpp"
#include "tls/test_pki.hpp"

namespace scoregate::tls {
namespace {

using namespace testpki;

// Keys held in memory, to test choose_layout() alone.
class MapKeys final : public SecretKeys {
 public:
  explicit MapKeys(std::map<std::string, std::string> keys) : keys_(std::move(keys)) {}
  bool has(const std::string& key) const override { return keys_.count(key) > 0; }
  std::optional<std::string> read(const std::string& key, const std::string&, const char*,
                                  Problems&) const override {
    return keys_.at(key);
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : keys_) out.push_back(k);
    return out;
  }
  std::string shown(const std::string& key) const override { return "memory/" + key; }

 private:
  std::map<std::string, std::string> keys_;
};

std::string layout_of(std::map<std::string, std::string> keys) {
  auto layout = choose_layout(MapKeys(std::move(keys)));
  return layout ? std::string(layout->cert) + "+" + layout->key : "none";
}

TEST(SecretManifest, AMalformedFieldNeverCarriesTheDataIntoAMessage) {
  // An unclosed quote in metadata.name makes YAML swallow the rest of the file into the name,
  // key bytes included (found by fuzz_secret_manifest): the message shows no such value.
  const std::string key_b64 = base64_encode("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n");
  const std::string yaml =
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: 'scoring-tls\n"
      "namespace: azureml\ndata:\n  key.pem: " +
      key_b64 + "'\n";
  Problems problems;
  EXPECT_FALSE(parse_secret_manifest(yaml, "scoring-tls.yaml", "scoring-tls", problems));
  ASSERT_TRUE(problems.has("SECRET_MANIFEST_INVALID")) << problems.to_string();
  EXPECT_EQ(problems.to_string().find(key_b64.substr(0, 16)), std::string::npos)
      << problems.to_string();
  EXPECT_NE(problems.to_string().find("not shown"), std::string::npos) << problems.to_string();
  EXPECT_EQ(shown_secret_field("scoring-tls"), "'scoring-tls'");
  EXPECT_EQ(shown_secret_field("tls.crt", false), "tls.crt");
  EXPECT_EQ(shown_secret_field("a b"), "(a value that is not a name: not shown)");
  EXPECT_EQ(shown_secret_field(std::string(254, 'a')), "(a value that is not a name: not shown)");
}

TEST(ChooseLayout, CompletePairsFirstAzureMlPairWins) {
  EXPECT_EQ(layout_of({{"cert.pem", ""}, {"key.pem", ""}}), "cert.pem+key.pem");
  EXPECT_EQ(layout_of({{"tls.crt", ""}, {"tls.key", ""}, {"ca.crt", ""}}), "tls.crt+tls.key");
  EXPECT_EQ(layout_of({{"cert.pem", ""}, {"key.pem", ""}, {"tls.crt", ""}, {"tls.key", ""}}),
            "cert.pem+key.pem");
  // A complete pair beats a stray key of the other layout.
  EXPECT_EQ(layout_of({{"cert.pem", ""}, {"tls.crt", ""}, {"tls.key", ""}}), "tls.crt+tls.key");
  // Incomplete: the pair one of whose keys is there, so the missing one can be named.
  EXPECT_EQ(layout_of({{"tls.key", ""}}), "tls.crt+tls.key");
  EXPECT_EQ(layout_of({{"cert.pem", ""}, {"tls.crt", ""}}), "cert.pem+key.pem");
  EXPECT_EQ(layout_of({{"ca.crt", ""}, {"password", ""}}), "none");
}

class SecretLayoutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki(make_pki());
    chain_ = new std::string(pem({pki_->leaf.cert.get(), pki_->intermediate.cert.get()}));
    key_ = new std::string(key_pem(pki_->leaf.key.get()));
    root_ = new std::string(pem({pki_->root.cert.get()}));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete chain_;
    delete key_;
    delete root_;
  }
  settings::Config secret_config(const std::string& name) {
    settings::Config c;
    c.extension.ssl_secret = name;
    c.router.secrets_dir = dir_.path();
    return c;
  }
  // The kubelet's layout under root/name: each key a symlink through ..data.
  std::string kubelet_volume(const std::string& root, const std::string& name,
                             const std::map<std::string, std::string>& files) {
    const std::string dir = root + "/" + name;
    const std::string stamp = "..2026_11_28_10_00_00.000000001";
    for (const auto& [file, bytes] : files) {
      dir_.write(dir.substr(dir_.path().size() + 1) + "/" + stamp + "/" + file, bytes);
      std::filesystem::create_symlink("..data/" + file, dir + "/" + file);
    }
    std::filesystem::create_directory_symlink(stamp, dir + "/..data");
    return dir;
  }
  std::string manifest(const std::string& body) {
    return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: scoring-tls\n  namespace: azureml\n"
           "type: kubernetes.io/tls\n" +
           body;
  }
  void expect_tls_material(const std::optional<Material>& m) {
    ASSERT_TRUE(m) << codes(problems_);
    EXPECT_EQ(m->cert_bytes, *chain_);
    EXPECT_EQ(m->key_bytes, *key_);
    EXPECT_EQ(m->ca_bytes, *root_);
    EXPECT_EQ(m->cert_label, "sslSecret 'scoring-tls' tls.crt");
    EXPECT_EQ(m->key_label, "sslSecret 'scoring-tls' tls.key");
    EXPECT_EQ(m->ca_label, "sslSecret 'scoring-tls' ca.crt");
  }
  // The material of a Secret holding leaf + intermediate and the private root as ca.crt
  // passes every check without a word: the root is a trust anchor.
  void expect_clean_check(const Material& m) {
    CheckOptions o;
    o.names = {"scoring.example.com"};
    Problems checks;
    EXPECT_TRUE(check_certificate(m, o, checks)) << codes(checks);
    EXPECT_TRUE(checks.empty()) << codes(checks);
  }

  static Pki* pki_;
  static std::string *chain_, *key_, *root_;
  TempDir dir_;
  Problems problems_;
};

Pki* SecretLayoutTest::pki_ = nullptr;
std::string* SecretLayoutTest::chain_ = nullptr;
std::string* SecretLayoutTest::key_ = nullptr;
std::string* SecretLayoutTest::root_ = nullptr;

TEST_F(SecretLayoutTest, KubeletVolumeOfATlsSecretWithCaCrt) {
  const std::string root = dir_.path() + "/volume";
  const std::string dir = kubelet_volume(
      root, "scoring-tls", {{"tls.crt", *chain_}, {"tls.key", *key_}, {"ca.crt", *root_}});
  auto m = read_secret("scoring-tls", "", root, problems_);
  expect_tls_material(m);
  EXPECT_EQ(m->watch, (std::vector<WatchTarget>{{dir, {}, ""}}));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
  expect_clean_check(*m);
}

TEST_F(SecretLayoutTest, SecretsDirDirectoryOfATlsSecret) {
  dir_.write("scoring-tls/tls.crt", *chain_);
  dir_.write("scoring-tls/tls.key", *key_);
  dir_.write("scoring-tls/ca.crt", *root_);
  expect_tls_material(resolve_source(secret_config("scoring-tls"), problems_));
}

TEST_F(SecretLayoutTest, ManifestOfTypeKubernetesIoTlsWithDataAndStringData) {
  dir_.write("scoring-tls.yaml", manifest("data:\n  tls.crt: " + base64_encode(*chain_) +
                                          "\n  tls.key: " + base64_encode(*key_) +
                                          "\n  ca.crt: " + base64_encode(*root_) + "\n"));
  auto m = resolve_source(secret_config("scoring-tls"), problems_);
  expect_tls_material(m);
  EXPECT_EQ(m->watch, (std::vector<WatchTarget>{{dir_.path(), {}, ""}}));
  expect_clean_check(*m);

  // stringData (the PEM text itself) wins over data, as in Kubernetes.
  std::string literal = "stringData:\n  tls.crt: |\n";
  for (std::size_t at = 0; at < chain_->size();) {
    auto nl = chain_->find('\n', at);
    literal += "    " + chain_->substr(at, nl - at + 1);
    at = nl + 1;
  }
  dir_.write("scoring-tls.yaml",
             manifest(literal + "data:\n  tls.crt: bm90IGEgY2VydA==\n  tls.key: " +
                      base64_encode(*key_) + "\n"));
  problems_ = {};
  m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->cert_bytes, *chain_);
  EXPECT_TRUE(m->ca_bytes.empty());
}

TEST_F(SecretLayoutTest, BothPairsServeCertPemWithAWarning) {
  Issued other = issue(leaf_spec(), &pki_->intermediate);
  dir_.write("scoring-tls/cert.pem", *chain_);
  dir_.write("scoring-tls/key.pem", *key_);
  dir_.write("scoring-tls/tls.crt", pem({other.cert.get(), pki_->intermediate.cert.get()}));
  dir_.write("scoring-tls/tls.key", key_pem(other.key.get()));
  auto m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->cert_bytes, *chain_);
  EXPECT_EQ(m->cert_label, "sslSecret 'scoring-tls' cert.pem");
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  EXPECT_EQ(problems_.items()[0].code, "SECRET_TWO_LAYOUTS");
  EXPECT_EQ(problems_.items()[0].severity, Severity::warning);
  EXPECT_NE(problems_.items()[0].what.find("serves cert.pem and key.pem"), std::string::npos);
}

TEST_F(SecretLayoutTest, ASecretHoldingNeitherPairSaysWhatItHolds) {
  const std::string root = dir_.path() + "/volume";
  kubelet_volume(root, "scoring-tls", {{"certificate", *chain_}, {"private-key", *key_}});
  EXPECT_FALSE(read_secret("scoring-tls", "", root, problems_));
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  const Problem& p = problems_.items()[0];
  EXPECT_EQ(p.code, "SECRET_KEY_MISSING");
  EXPECT_EQ(p.where, "sslSecret 'scoring-tls'");
  EXPECT_NE(p.what.find("neither cert.pem and key.pem nor tls.crt and tls.key"), std::string::npos)
      << p.what;
  EXPECT_NE(p.what.find("its keys: certificate, private-key;"), std::string::npos) << p.what;
  EXPECT_EQ(p.what.find("..data"), std::string::npos) << p.what;  // the kubelet's, not a key
  for (const char* command : {"kubectl create secret generic scoring-tls -n azureml",
                              "kubectl create secret tls scoring-tls -n azureml"})
    EXPECT_NE(p.fix.find(command), std::string::npos) << p.fix;

  problems_ = {};
  dir_.write("empty-tls.yaml", "kind: Secret\nmetadata:\n  name: empty-tls\ndata: {}\n");
  EXPECT_FALSE(resolve_source(secret_config("empty-tls"), problems_));
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  EXPECT_NE(problems_.items()[0].what.find("it holds no key at all"), std::string::npos);
}

TEST_F(SecretLayoutTest, AnIncompleteTlsPairNamesTheMissingKey) {
  dir_.write("scoring-tls/tls.crt", *chain_);
  EXPECT_FALSE(resolve_source(secret_config("scoring-tls"), problems_));
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  EXPECT_EQ(problems_.items()[0].code, "SECRET_KEY_MISSING");
  EXPECT_EQ(problems_.items()[0].where, "sslSecret 'scoring-tls' tls.key");
  EXPECT_NE(problems_.items()[0].what.find("has tls.crt but no tls.key"), std::string::npos);

  problems_ = {};
  dir_.write("other-tls.yaml", "kind: Secret\nmetadata:\n  name: other-tls\ndata:\n  tls.key: " +
                                   base64_encode(*key_) + "\n");
  EXPECT_FALSE(resolve_source(secret_config("other-tls"), problems_));
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  EXPECT_EQ(problems_.items()[0].where, "sslSecret 'other-tls' tls.crt");
}

TEST_F(SecretLayoutTest, CaPemIsReadWhenThereIsNoCaCrt) {
  dir_.write("scoring-tls/cert.pem", *chain_);
  dir_.write("scoring-tls/key.pem", *key_);
  dir_.write("scoring-tls/ca.pem", *root_);
  auto m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->ca_bytes, *root_);
  EXPECT_EQ(m->ca_label, "sslSecret 'scoring-tls' ca.pem");
  expect_clean_check(*m);
}

TEST_F(SecretLayoutTest, BadCaCrtIsRefusedAndAnEmptyOneIgnored) {
  dir_.write("scoring-tls/tls.crt", *chain_);
  dir_.write("scoring-tls/tls.key", *key_);
  dir_.write("scoring-tls/ca.crt", "not a certificate\n");
  auto m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  CheckOptions o;
  Problems checks;
  EXPECT_FALSE(check_certificate(*m, o, checks));
  const Problem* p = find(checks, "CERT_CA_FILE_INVALID");
  ASSERT_NE(p, nullptr) << codes(checks);
  EXPECT_EQ(p->where, "sslSecret 'scoring-tls' ca.crt");

  // cert-manager leaves ca.crt empty when its issuer does not know the root: not an error,
  // and then the root is unknown (a warning, see PrivateCaTest).
  dir_.write("scoring-tls/ca.crt", "\n");
  m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m);
  checks = {};
  EXPECT_TRUE(check_certificate(*m, o, checks)) << codes(checks);
  EXPECT_FALSE(checks.has("CERT_CA_FILE_INVALID"));
  EXPECT_TRUE(checks.has("CERT_CHAIN_PRIVATE_ROOT")) << codes(checks);
}

}  // namespace
}  // namespace scoregate::tls

// resolve_source(): PEM file settings (protected: paths never in messages) and sslSecret in
// its three layouts (kubelet volume with ..data symlinks, <name>/ directory, manifest).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/secure.hpp"
#include "tls/certificate.hpp"
#include "tls/secret.hpp"
#include "tls/test_pki.hpp"

namespace scoregate::tls {
namespace {

using namespace testpki;

class SourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki(make_pki());
    cert_pem_ = new std::string(pem({pki_->leaf.cert.get(), pki_->intermediate.cert.get()}));
    key_pem_ = new std::string(key_pem(pki_->leaf.key.get()));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete cert_pem_;
    delete key_pem_;
  }
  settings::Config secret_config(const std::string& name) {
    settings::Config c;
    c.extension.ssl_secret = name;
    c.router.secrets_dir = dir_.path();
    return c;
  }
  std::string manifest(const std::string& extra_meta, const std::string& data) {
    return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: scoring-tls\n" + extra_meta +
           "type: Opaque\n" + data;
  }
  std::string data_section() {
    return "data:\n  cert.pem: " + base64_encode(*cert_pem_) +
           "\n  key.pem: " + base64_encode(*key_pem_) + "\n";
  }
  // The kubelet's layout: files are symlinks through ..data to a timestamped directory.
  std::string kubelet_volume(const std::string& root, const std::string& name) {
    std::string dir = root + "/" + name;
    std::string stamp = "..2026_11_28_10_00_00.123456789";
    dir_.write(dir.substr(dir_.path().size() + 1) + "/" + stamp + "/cert.pem", *cert_pem_);
    dir_.write(dir.substr(dir_.path().size() + 1) + "/" + stamp + "/key.pem", *key_pem_);
    std::filesystem::create_directory_symlink(stamp, dir + "/..data");
    std::filesystem::create_symlink("..data/cert.pem", dir + "/cert.pem");
    std::filesystem::create_symlink("..data/key.pem", dir + "/key.pem");
    return dir;
  }
  void expect(const std::string& code, Severity severity = Severity::error) {
    const Problem* p = find(problems_, code);
    ASSERT_NE(p, nullptr) << code << " not among:\n" << codes(problems_);
    EXPECT_EQ(p->severity, severity);
  }

  static Pki* pki_;
  static std::string* cert_pem_;
  static std::string* key_pem_;
  TempDir dir_;
  Problems problems_;
};

Pki* SourceTest::pki_ = nullptr;
std::string* SourceTest::cert_pem_ = nullptr;
std::string* SourceTest::key_pem_ = nullptr;

TEST_F(SourceTest, PemFilesAreReadAndTheirDirectoriesWatched) {
  settings::Config c;
  c.extension.ssl_cert_pem_file = dir_.write("tls/cert.pem", *cert_pem_);
  c.extension.ssl_key_pem_file = dir_.write("keys/key.pem", *key_pem_);
  auto m = resolve_source(c, problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->cert_bytes, *cert_pem_);
  EXPECT_EQ(m->key_bytes, *key_pem_);
  EXPECT_EQ(m->cert_label, "sslCertPemFile");
  EXPECT_EQ(m->key_label, "sslKeyPemFile");
  EXPECT_EQ(m->watch, (std::vector<WatchTarget>{
                          {dir_.path() + "/tls", {"cert.pem"}, "the directory of sslCertPemFile"},
                          {dir_.path() + "/keys", {"key.pem"}, "the directory of sslKeyPemFile"}}));
}

TEST_F(SourceTest, UnreadablePemFilesNameTheSettingNotThePath) {
  settings::Config c;
  c.extension.ssl_cert_pem_file = dir_.path() + "/PROTECTED-zq9x/cert.pem";
  c.extension.ssl_key_pem_file = dir_.path();  // a directory
  EXPECT_FALSE(resolve_source(c, problems_));
  expect("CERT_FILE_UNREADABLE");
  expect("KEY_FILE_UNREADABLE");
  EXPECT_EQ(find(problems_, "CERT_FILE_UNREADABLE")->what,
            "cannot read the file it names (No such file or directory)");
  EXPECT_EQ(find(problems_, "KEY_FILE_UNREADABLE")->what,
            "cannot read the file it names (Is a directory)");
  EXPECT_EQ(problems_.to_string().find(dir_.path()), std::string::npos) << problems_.to_string();
}

// Whatever is wrong with protected files, their paths appear in no problem.
TEST_F(SourceTest, ProtectedPathsNeverAppearInProblems) {
  CertSpec expired = leaf_spec();
  expired.not_before_days = -30;
  expired.not_after_days = -1;
  Issued bad = issue(expired, nullptr);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage", "garbage"},
      {"", ""},
      {pem({bad.cert.get()}), key_pem(pki_->leaf.key.get())},
      {pkcs12(bad.cert.get(), bad.key.get()), key_pem_encrypted_pkcs8(bad.key.get())},
      {der(bad.cert.get()), key_der(bad.key.get())},
  };
  for (const auto& [cert, key] : cases) {
    Problems all;
    settings::Config c;
    c.extension.ssl_cert_pem_file = dir_.write("PROTECTED-zq9x/cert.pem", cert);
    c.extension.ssl_key_pem_file = dir_.write("PROTECTED-zq9x/key.pem", key);
    auto m = resolve_source(c, all);
    ASSERT_TRUE(m);
    CheckOptions o;
    o.names = {"elsewhere.example.com"};
    check_certificate(*m, o, all);
    EXPECT_FALSE(all.empty());
    for (const auto& p : all.items())
      for (const std::string* s : {&p.code, &p.where, &p.what, &p.fix})
        EXPECT_EQ(s->find("PROTECTED-zq9x"), std::string::npos) << format_problem(p);
    EXPECT_EQ(m->cert_label.find("PROTECTED"), std::string::npos);
  }
}

TEST_F(SourceTest, KubeletVolumeIsReadThroughDataSymlinksAndItsDirectoryWatched) {
  std::string root = dir_.path() + "/volume";
  std::string dir = kubelet_volume(root, "scoring-tls");
  auto m = read_secret("scoring-tls", "", root, problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->cert_bytes, *cert_pem_);
  EXPECT_EQ(m->key_bytes, *key_pem_);
  EXPECT_EQ(m->watch, (std::vector<WatchTarget>{{dir, {}, ""}}));
  EXPECT_EQ(m->cert_label, "sslSecret 'scoring-tls' cert.pem");
  EXPECT_EQ(m->key_label, "sslSecret 'scoring-tls' key.pem");
}

TEST_F(SourceTest, SecretsDirWithKubeletLayoutWorks) {
  std::string dir = kubelet_volume(dir_.path(), "scoring-tls");
  auto m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->watch, (std::vector<WatchTarget>{{dir, {}, ""}}));
  EXPECT_TRUE(problems_.empty());
}

// The watch list is the one place that says what a renewal looks like (runtime only hands it
// to the watcher): the Secret's directory, named by the setting when sslSecret is protected,
// and router.session_ticket_key_file's directory, whose keys are reloaded with the certificate.
TEST_F(SourceTest, WatchListNamesAProtectedSecretBySettingAndIncludesTheTicketKeyFile) {
  std::string dir = kubelet_volume(dir_.path(), "scoring-tls");
  auto c = secret_config("scoring-tls");
  c.protected_keys = {"sslSecret"};
  c.router.session_ticket_key_file = dir_.path() + "/tickets/keys.bin";
  auto m = resolve_source(c, problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->watch, (std::vector<WatchTarget>{{dir, {}, "the sslSecret directory"},
                                                {dir_.path() + "/tickets", {"keys.bin"}, ""}}));
}

TEST_F(SourceTest, MissingVolumeSaysWhereItLooked) {
  EXPECT_FALSE(read_secret("scoring-tls", "", dir_.path() + "/volume", problems_));
  expect("SECRET_NOT_FOUND");
  EXPECT_NE(problems_.items()[0].what.find(dir_.path() + "/volume/scoring-tls/"),
            std::string::npos);
  EXPECT_NE(problems_.items()[0].fix.find("--secrets-dir"), std::string::npos);
}

TEST_F(SourceTest, ManifestWithBase64Data) {
  dir_.write("scoring-tls.yaml", manifest("  namespace: azureml\n", data_section()));
  auto m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->cert_bytes, *cert_pem_);
  EXPECT_EQ(m->key_bytes, *key_pem_);
  EXPECT_EQ(m->watch, (std::vector<WatchTarget>{{dir_.path(), {}, ""}}));
  EXPECT_TRUE(problems_.empty());
  CheckOptions o;
  o.names = {"scoring.example.com"};
  Problems checks;
  EXPECT_TRUE(check_certificate(*m, o, checks));  // complete up to a private root
  EXPECT_TRUE(checks.has("CERT_CHAIN_PRIVATE_ROOT")) << codes(checks);
}

TEST_F(SourceTest, YmlManifestWithStringDataAndNoNamespace) {
  std::string yaml = manifest("", "");
  yaml += "stringData:\n  cert.pem: |\n";
  for (std::size_t at = 0; at < cert_pem_->size();) {
    auto nl = cert_pem_->find('\n', at);
    yaml += "    " + cert_pem_->substr(at, nl - at + 1);
    at = nl + 1;
  }
  yaml += "data:\n  key.pem: " + base64_encode(*key_pem_) + "\n";
  dir_.write("scoring-tls.yml", yaml);
  auto m = resolve_source(secret_config("scoring-tls"), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->cert_bytes, *cert_pem_);
  EXPECT_EQ(m->key_bytes, *key_pem_);
}

TEST_F(SourceTest, WrongNamespaceIsRefusedWithTheCommandToFixIt) {
  dir_.write("scoring-tls.yaml", manifest("  namespace: default\n", data_section()));
  EXPECT_FALSE(resolve_source(secret_config("scoring-tls"), problems_));
  expect("SECRET_NAMESPACE");
  const Problem* p = find(problems_, "SECRET_NAMESPACE");
  EXPECT_NE(p->fix.find("kubectl create secret generic scoring-tls -n azureml --from-file=cert.pem "
                        "--from-file=key.pem"),
            std::string::npos)
      << p->fix;
  EXPECT_NE(p->fix.find("scoregate secret create"), std::string::npos);
  EXPECT_NE(p->where.find("scoring-tls.yaml:5"), std::string::npos) << p->where;
}

TEST_F(SourceTest, ManifestProblemsSayWhichKey) {
  dir_.write("scoring-tls.yaml", manifest("", "data:\n  cert.pem: " + base64_encode(*cert_pem_) +
                                                  "\n  key.pem: not*base64\n"));
  EXPECT_FALSE(resolve_source(secret_config("scoring-tls"), problems_));
  expect("SECRET_MANIFEST_INVALID");
  EXPECT_NE(problems_.items()[0].what.find("data.key.pem"), std::string::npos) << codes(problems_);
  EXPECT_NE(problems_.items()[0].where.find("scoring-tls.yaml:8"), std::string::npos)
      << codes(problems_);
}

TEST_F(SourceTest, ManifestSyntaxErrorHasALine) {
  dir_.write("scoring-tls.yaml", "kind: Secret\nmetadata:\n  name: [unclosed\n");
  EXPECT_FALSE(resolve_source(secret_config("scoring-tls"), problems_));
  expect("SECRET_MANIFEST_INVALID");
  EXPECT_NE(problems_.items()[0].where.find("scoring-tls.yaml:"), std::string::npos);
}

TEST_F(SourceTest, ManifestOfAnotherKindOrNameIsInvalid) {
  std::string yaml = manifest("", data_section());
  yaml.replace(yaml.find("kind: Secret"), 12, "kind: ConfigMap");
  yaml.replace(yaml.find("name: scoring-tls"), 17, "name: other");
  dir_.write("scoring-tls.yaml", yaml);
  EXPECT_FALSE(resolve_source(secret_config("scoring-tls"), problems_));
  ASSERT_EQ(problems_.items().size(), 2u) << codes(problems_);
  EXPECT_NE(problems_.items()[0].what.find("ConfigMap"), std::string::npos);
  EXPECT_NE(problems_.items()[1].what.find("'other'"), std::string::npos);
}

TEST_F(SourceTest, MissingKeyInManifestOrDirectory) {
  dir_.write("scoring-tls.yaml",
             manifest("", "data:\n  tls.crt: " + base64_encode(*cert_pem_) +
                              "\n  cert.pem: " + base64_encode(*cert_pem_) + "\n"));
  EXPECT_FALSE(resolve_source(secret_config("scoring-tls"), problems_));
  expect("SECRET_KEY_MISSING");
  EXPECT_EQ(problems_.items().size(), 1u) << codes(problems_);
  EXPECT_EQ(problems_.items()[0].where, "sslSecret 'scoring-tls' key.pem");
  EXPECT_NE(problems_.items()[0].fix.find("tls.crt"), std::string::npos);

  problems_ = {};
  dir_.write("other-tls/cert.pem", *cert_pem_);
  EXPECT_FALSE(resolve_source(secret_config("other-tls"), problems_));
  expect("SECRET_KEY_MISSING");
  EXPECT_NE(problems_.items()[0].what.find("key.pem"), std::string::npos);
}

TEST_F(SourceTest, SecretNotFoundListsEveryPlaceLooked) {
  EXPECT_FALSE(resolve_source(secret_config("scoring-tls"), problems_));
  expect("SECRET_NOT_FOUND");
  const std::string& what = problems_.items()[0].what;
  for (const char* place : {"/scoring-tls/", "/scoring-tls.yaml", "/scoring-tls.yml"})
    EXPECT_NE(what.find(dir_.path() + place), std::string::npos) << what;
}

TEST_F(SourceTest, SecretNameCannotEscapeTheDirectory) {
  EXPECT_FALSE(resolve_source(secret_config("../etc"), problems_));
  expect("SECRET_NAME_INVALID");
}

// sslSecret given as a protected setting (--config-protected / protected:): whatever is
// wrong, neither the name nor a path made from it appears in a problem or a label.
TEST_F(SourceTest, ProtectedSecretNameNeverAppearsInProblems) {
  const std::string name = "hidden-7q2w";
  auto config = [&] {
    settings::Config c = secret_config(name);
    c.protected_keys.push_back("sslSecret");
    return c;
  };
  auto no_name = [&](const Problems& all, const std::string& label) {
    EXPECT_FALSE(all.empty());
    for (const auto& p : all.items())
      for (const std::string* s : {&p.where, &p.what, &p.fix})
        EXPECT_EQ(s->find(name), std::string::npos) << format_problem(p);
    EXPECT_EQ(label.find(name), std::string::npos) << label;
  };
  auto meta = [&](const std::string& ns, const std::string& meta_name, const std::string& data) {
    return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + meta_name + "\n" + ns +
           "type: Opaque\n" + data;
  };
  // not found (secrets dir), not mounted (volume)
  problems_ = {};
  EXPECT_FALSE(resolve_source(config(), problems_));
  expect("SECRET_NOT_FOUND");
  no_name(problems_, "");
  problems_ = {};
  EXPECT_FALSE(read_secret(SecretName{name, true}, "", dir_.path() + "/volume", problems_));
  expect("SECRET_NOT_FOUND");
  EXPECT_NE(problems_.items()[0].what.find(dir_.path() + "/volume/(protected)/"), std::string::npos)
      << problems_.items()[0].what;
  no_name(problems_, "");
  // wrong namespace, other metadata.name, missing key.pem in a manifest
  for (const auto& yaml :
       {meta("  namespace: default\n", name, data_section()),
        meta("", "other-name", data_section()),
        meta("", name, "data:\n  cert.pem: " + base64_encode(*cert_pem_) + "\n")}) {
    problems_ = {};
    dir_.write(name + ".yaml", yaml);
    EXPECT_FALSE(resolve_source(config(), problems_));
    no_name(problems_, "");
  }
  std::filesystem::remove(dir_.path() + "/" + name + ".yaml");
  // a directory without key.pem
  problems_ = {};
  dir_.write(name + "/cert.pem", *cert_pem_);
  EXPECT_FALSE(resolve_source(config(), problems_));
  expect("SECRET_KEY_MISSING");
  EXPECT_EQ(problems_.items()[0].where, "sslSecret (protected) key.pem");
  no_name(problems_, "");
  // a good one: the labels used by every later check do not name it either
  dir_.write(name + "/key.pem", *key_pem_);
  problems_ = {};
  auto m = resolve_source(config(), problems_);
  ASSERT_TRUE(m) << codes(problems_);
  EXPECT_EQ(m->cert_label, "sslSecret (protected) cert.pem");
  Problems checks;
  check_certificate(*m, {}, checks);
  no_name(checks, m->key_label);
}

TEST_F(SourceTest, ProtectedCnameIsPassedOnToTheChecks) {
  settings::Config c;
  c.extension.ssl_cert_pem_file = dir_.write("tls/cert.pem", *cert_pem_);
  c.extension.ssl_key_pem_file = dir_.write("tls/key.pem", *key_pem_);
  auto m = resolve_source(c, problems_);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->names_protected);
  c.protected_keys.push_back("sslCname");
  m = resolve_source(c, problems_);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->names_protected);
}

TEST_F(SourceTest, NoSourceAtAll) {
  EXPECT_FALSE(resolve_source(settings::Config{}, problems_));
  expect("TLS_NO_SOURCE");
}

}  // namespace
}  // namespace scoregate::tls

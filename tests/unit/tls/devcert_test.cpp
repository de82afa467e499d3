// ensure_dev_material(): created once, reused while good, re-issued when the names change.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "tls/certificate.hpp"
#include "tls/devcert.hpp"
#include "tls/test_pki.hpp"

namespace scoregate::tls {
namespace {

using namespace testpki;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

Material read(const DevMaterial& d) {
  Material m;
  m.cert_bytes = slurp(d.cert_path);
  m.key_bytes = slurp(d.key_path);
  m.cert_label = "dev cert.pem";
  m.key_label = "dev key.pem";
  return m;
}

std::string fingerprint(const DevMaterial& d, const std::vector<std::string>& names) {
  CheckOptions o;
  o.names = names;
  o.development = true;
  Problems p;
  auto c = check_certificate(read(d), o, p);
  EXPECT_TRUE(c) << codes(p);
  return c ? c->summary.fingerprint_sha256 : "";
}

TEST(DevMaterial, IsCreatedPrivateAndPassesTheChecks) {
  TempDir tmp;
  std::string dir = tmp.path() + "/state/dev";
  DevMaterial d = ensure_dev_material(dir, {"localhost", "127.0.0.1", "::1"});
  EXPECT_TRUE(d.created);
  EXPECT_EQ(d.cert_path, dir + "/cert.pem");
  EXPECT_EQ(d.key_path, dir + "/key.pem");
  EXPECT_EQ(d.ca_cert_path, dir + "/dev-ca.pem");
  EXPECT_EQ(mode_of(dir), 0700u);
  EXPECT_EQ(mode_of(d.key_path), 0600u);
  EXPECT_EQ(mode_of(dir + "/dev-ca-key.pem"), 0600u);

  CheckOptions o;
  o.names = {"localhost", "127.0.0.1", "::1"};
  o.development = true;
  Problems p;
  auto c = check_certificate(read(d), o, p);
  ASSERT_TRUE(c) << codes(p);
  ASSERT_EQ(p.items().size(), 1u) << codes(p);
  EXPECT_EQ(p.items()[0].code, "CERT_UNTRUSTED_ROOT");
  EXPECT_EQ(c->summary.key_description, "ECDSA P-256");
  EXPECT_EQ(c->summary.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_EQ(c->summary.ip_addresses, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(c->summary.issuer, "CN=scoregate development CA");
  EXPECT_NEAR(static_cast<double>(c->summary.not_after - c->summary.not_before),
              397.0 * 86400 + 3600, 5);

  // Clients that trust dev-ca.pem see nothing wrong at all.
  o.trusted_ca_file = d.ca_cert_path;
  Problems trusted;
  EXPECT_TRUE(check_certificate(read(d), o, trusted));
  EXPECT_TRUE(trusted.empty()) << codes(trusted);
}

TEST(DevMaterial, IsReusedWhileGood) {
  TempDir tmp;
  DevMaterial first = ensure_dev_material(tmp.path(), {"localhost"});
  DevMaterial second = ensure_dev_material(tmp.path(), {"localhost"});
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(fingerprint(first, {"localhost"}), fingerprint(second, {"localhost"}));
}

TEST(DevMaterial, NewNamesReissueTheLeafButKeepTheCa) {
  TempDir tmp;
  DevMaterial first = ensure_dev_material(tmp.path(), {"localhost"});
  std::string leaf1 = fingerprint(first, {"localhost"});
  std::string ca1 = slurp(first.ca_cert_path);
  DevMaterial second = ensure_dev_material(tmp.path(), {"localhost", "scoring.dev.local"});
  EXPECT_TRUE(second.created);
  EXPECT_NE(fingerprint(second, {"localhost", "scoring.dev.local"}), leaf1);
  EXPECT_EQ(slurp(second.ca_cert_path), ca1);
}

TEST(DevMaterial, DamagedFilesAreReplaced) {
  TempDir tmp;
  DevMaterial first = ensure_dev_material(tmp.path(), {"localhost"});
  std::ofstream(first.key_path) << "damaged";
  DevMaterial second = ensure_dev_material(tmp.path(), {"localhost"});
  EXPECT_TRUE(second.created);
  fingerprint(second, {"localhost"});
  std::ofstream(tmp.path() + "/dev-ca-key.pem") << "damaged";
  std::string ca1 = slurp(first.ca_cert_path);
  EXPECT_TRUE(ensure_dev_material(tmp.path(), {"localhost"}).created);
  EXPECT_NE(slurp(first.ca_cert_path), ca1);
  fingerprint(second, {"localhost"});
}

TEST(DevMaterial, RefusesBadNames) {
  TempDir tmp;
  EXPECT_THROW(ensure_dev_material(tmp.path(), {}), std::runtime_error);
  EXPECT_THROW(ensure_dev_material(tmp.path(), {"bad,name"}), std::runtime_error);
}

}  // namespace
}  // namespace scoregate::tls

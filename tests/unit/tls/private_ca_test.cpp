// The chain rule with a private CA (docs/certificate-codes.md): a leaf whose issuer is unknown
// is an error (the forgotten intermediate); leaf + intermediate(s) whose last issuer is
// unknown is a complete chain to a private root, a warning naming that root; a root in the
// Secret's ca.crt is a trust anchor like router.trusted_ca_file; an intermediate there completes
// the chain with a warning (only clients that trust it directly connect).
#include <gtest/gtest.h>

#include "tls/certificate.hpp"
#include "tls/test_pki.hpp"

namespace scoregate::tls {
namespace {

using namespace testpki;

class PrivateCaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(make_pki()); }
  static void TearDownTestSuite() { delete pki_; }

  static X509* root() { return pki_->root.cert.get(); }
  static X509* inter() { return pki_->intermediate.cert.get(); }
  // The Secret's certificate material, with `ca` as its ca.crt ("" = none).
  static Material secret(X509* leaf, std::initializer_list<X509*> chain, EVP_PKEY* key,
                         const std::string& ca) {
    Material m = material(leaf, chain, key);
    m.cert_label = "sslSecret 'scoring-tls' tls.crt";
    m.key_label = "sslSecret 'scoring-tls' tls.key";
    m.ca_bytes = ca;
    m.ca_label = "sslSecret 'scoring-tls' ca.crt";
    return m;
  }
  std::optional<CheckedCertificate> check(const Material& m) {
    CheckOptions o;
    o.names = {"scoring.example.com"};
    return check_certificate(m, o, problems_);
  }

  static Pki* pki_;
  Problems problems_;
};

Pki* PrivateCaTest::pki_ = nullptr;

TEST_F(PrivateCaTest, LeafAloneWithAnUnknownIssuerIsAnError) {
  EXPECT_FALSE(check(secret(pki_->leaf.cert.get(), {}, pki_->leaf.key.get(), "")));
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  const Problem& p = problems_.items()[0];
  EXPECT_EQ(p.code, "CERT_CHAIN_INCOMPLETE");
  EXPECT_EQ(p.severity, Severity::error);
  EXPECT_EQ(p.where, "sslSecret 'scoring-tls' tls.crt");
  EXPECT_NE(p.what.find("'CN=Test Intermediate CA'"), std::string::npos) << p.what;
  EXPECT_NE(p.fix.find("cat leaf.pem intermediate.pem"), std::string::npos) << p.fix;
}

TEST_F(PrivateCaTest, LeafAndIntermediateToAnUnknownRootWarnNamingTheRoot) {
  auto c = check(secret(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get(), ""));
  ASSERT_TRUE(c) << codes(problems_);  // served: a warning only
  EXPECT_EQ(c->chain.size(), 1u);
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  const Problem& p = problems_.items()[0];
  EXPECT_EQ(p.code, "CERT_CHAIN_PRIVATE_ROOT");
  EXPECT_EQ(p.severity, Severity::warning);
  EXPECT_NE(p.what.find("clients must trust 'CN=Test Root CA'"), std::string::npos) << p.what;
  EXPECT_NE(p.what.find("ends at 'CN=Test Intermediate CA'"), std::string::npos) << p.what;
  // How to make it go away: every one of the three ways.
  for (const char* way : {"ca.crt", "router.trusted_ca_file", "--ca-file"})
    EXPECT_NE(p.fix.find(way), std::string::npos) << way << " not in: " << p.fix;
}

TEST_F(PrivateCaTest, RootInCaCrtMakesTheChainClean) {
  const std::string ca = pem({root()});
  EXPECT_TRUE(check(secret(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get(), ca)));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
  // With the root in the file too: ca.crt makes it trusted, so no CERT_UNTRUSTED_ROOT.
  EXPECT_TRUE(check(secret(pki_->leaf.cert.get(), {inter(), root()}, pki_->leaf.key.get(), ca)));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(PrivateCaTest, LeafWhoseIssuerIsOnlyInCaCrtIsClean) {
  // A leaf issued by the root itself, the root only in ca.crt (cert-manager's CA issuer).
  Issued direct = issue(leaf_spec(), &pki_->root);
  EXPECT_TRUE(check(secret(direct.cert.get(), {}, direct.key.get(), pem({root()}))));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(PrivateCaTest, AnIntermediateInCaCrtCompletesTheChainOnlyWithAWarning) {
  // The usual CA bundle (intermediate + root) as ca.crt and a leaf-only tls.crt: clients that
  // trust only the root receive only tls.crt and cannot build the chain. Served (clients that
  // trust the intermediate itself connect), with a warning naming what to append.
  const std::string bundle = pem({inter(), root()});
  EXPECT_TRUE(check(secret(pki_->leaf.cert.get(), {}, pki_->leaf.key.get(), bundle)));
  ASSERT_EQ(problems_.items().size(), 1u) << codes(problems_);
  const Problem& p = problems_.items()[0];
  EXPECT_EQ(p.code, "CERT_CHAIN_ANCHOR_NOT_ROOT");
  EXPECT_EQ(p.severity, Severity::warning);
  EXPECT_NE(p.what.find("'CN=Test Intermediate CA', is an intermediate"), std::string::npos)
      << p.what;
  EXPECT_NE(p.fix.find("append 'CN=Test Intermediate CA'"), std::string::npos) << p.fix;
  // The intermediate alone in ca.crt: the same.
  problems_ = {};
  EXPECT_TRUE(check(secret(pki_->leaf.cert.get(), {}, pki_->leaf.key.get(), pem({inter()}))));
  EXPECT_TRUE(problems_.has("CERT_CHAIN_ANCHOR_NOT_ROOT")) << codes(problems_);
  // Sent in tls.crt, with the bundle as ca.crt: clean.
  problems_ = {};
  EXPECT_TRUE(check(secret(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get(), bundle)));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(PrivateCaTest, AnUnrelatedCaCrtChangesNothing) {
  Pki other = make_pki();
  const std::string ca = pem({other.root.cert.get()});
  EXPECT_FALSE(check(secret(pki_->leaf.cert.get(), {}, pki_->leaf.key.get(), ca)));
  EXPECT_TRUE(problems_.has("CERT_CHAIN_INCOMPLETE")) << codes(problems_);
  problems_ = {};
  EXPECT_TRUE(check(secret(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get(), ca)));
  EXPECT_TRUE(problems_.has("CERT_CHAIN_PRIVATE_ROOT")) << codes(problems_);
}

TEST_F(PrivateCaTest, CaCrtAndTrustedCaFileAddUp) {
  // An unrelated root in ca.crt does not hide router.trusted_ca_file: both are anchors.
  TempDir dir;
  CheckOptions o;
  o.trusted_ca_file = dir.write("root.pem", pem({root()}));
  Issued other = issue(leaf_spec(), &pki_->intermediate);
  EXPECT_TRUE(check_certificate(
      secret(other.cert.get(), {inter()}, other.key.get(), pem({make_pki().root.cert.get()})), o,
      problems_));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

}  // namespace
}  // namespace scoregate::tls

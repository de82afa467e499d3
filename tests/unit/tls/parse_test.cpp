// Formats of the certificate and key settings: PEM (PKCS#8 and traditional keys, combined
// files), DER (accepted with a warning), PKCS#12 and encrypted keys (refused), empty,
// swapped and damaged files.
#include <gtest/gtest.h>

#include "tls/certificate.hpp"
#include "tls/test_pki.hpp"

namespace scoregate::tls {
namespace {

using namespace testpki;

class FormatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new Pki(make_pki());
    dir_ = new TempDir();
    ca_file_ = dir_->write("root.pem", pem({pki_->root.cert.get()}));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }
  static X509* leaf() { return pki_->leaf.cert.get(); }
  static X509* inter() { return pki_->intermediate.cert.get(); }
  static EVP_PKEY* key() { return pki_->leaf.key.get(); }

  std::optional<CheckedCertificate> check(std::string cert, std::string key_bytes) {
    Material m;
    m.cert_bytes = std::move(cert);
    m.key_bytes = std::move(key_bytes);
    m.cert_label = "sslCertPemFile";
    m.key_label = "sslKeyPemFile";
    CheckOptions o;
    o.names = {"scoring.example.com"};
    o.trusted_ca_file = ca_file_;
    return check_certificate(m, o, problems_);
  }
  std::string chain_pem() const { return pem({leaf(), inter()}); }
  const Problem& only(const std::string& code, Severity severity) {
    static const Problem none{};
    const Problem* p = find(problems_, code);
    EXPECT_NE(p, nullptr) << code << " not among:\n" << codes(problems_);
    if (!p) return none;
    EXPECT_EQ(p->severity, severity) << format_problem(*p);
    return *p;
  }

  static Pki* pki_;
  static TempDir* dir_;
  static std::string ca_file_;
  Problems problems_;
};

Pki* FormatTest::pki_ = nullptr;
TempDir* FormatTest::dir_ = nullptr;
std::string FormatTest::ca_file_;

TEST_F(FormatTest, TraditionalPemKeyIsAccepted) {
  EXPECT_TRUE(check(chain_pem(), key_pem_traditional(key())));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(FormatTest, CombinedFileWithCertificatesAndKeyWorksForBothSettings) {
  std::string combined = "# exported by hand\n" + key_pem(key()) + chain_pem();
  auto c = check(combined, combined);
  ASSERT_TRUE(c) << codes(problems_);
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(FormatTest, DerCertificatesAndKeyAreAcceptedWithConversionCommands) {
  auto c = check(der(leaf()) + der(inter()), key_der(key()));
  ASSERT_TRUE(c) << codes(problems_);
  EXPECT_EQ(c->chain.size(), 1u);
  EXPECT_NE(only("CERT_DER", Severity::warning)
                .fix.find("openssl x509 -inform der -in cert.der -out cert.pem"),
            std::string::npos);
  EXPECT_NE(only("KEY_DER", Severity::warning)
                .fix.find("openssl pkey -inform der -in key.der -out key.pem"),
            std::string::npos);
  EXPECT_EQ(problems_.items().size(), 2u) << codes(problems_);
}

TEST_F(FormatTest, Pkcs12IsRefusedInEitherSetting) {
  std::string p12 = pkcs12(leaf(), key());
  EXPECT_FALSE(check(p12, p12));
  const Problem& cert = only("CERT_PKCS12", Severity::error);
  EXPECT_NE(cert.fix.find("openssl pkcs12 -in bundle.p12 -nokeys -out cert.pem"),
            std::string::npos);
  EXPECT_NE(cert.fix.find("openssl pkcs12 -in bundle.p12 -nocerts -nodes -out key.pem"),
            std::string::npos);
  only("KEY_PKCS12", Severity::error);
}

TEST_F(FormatTest, EncryptedKeysAreRefusedWithoutPrompting) {
  for (const std::string& k : {key_pem_encrypted_pkcs8(key()), key_pem_encrypted_traditional(key()),
                               key_der_encrypted_pkcs8(key())}) {
    problems_ = {};
    EXPECT_FALSE(check(chain_pem(), k));
    const Problem& p = only("KEY_ENCRYPTED", Severity::error);
    EXPECT_EQ(problems_.items().size(), 1u) << codes(problems_);
    EXPECT_NE(p.fix.find("key-nopass.pem"), std::string::npos) << p.fix;
  }
  EXPECT_NE(key_pem_encrypted_traditional(key()).find("Proc-Type: 4,ENCRYPTED"), std::string::npos);
}

TEST_F(FormatTest, PemEncryptedKeyFixIsTheDocumentedCommand) {
  EXPECT_FALSE(check(chain_pem(), key_pem_encrypted_pkcs8(key())));
  EXPECT_NE(only("KEY_ENCRYPTED", Severity::error)
                .fix.find("openssl pkey -in key.pem -out key-nopass.pem"),
            std::string::npos);
}

TEST_F(FormatTest, EmptyFilesAreEmpty) {
  EXPECT_FALSE(check("", "\n"));
  only("CERT_EMPTY", Severity::error);
  only("KEY_EMPTY", Severity::error);
}

TEST_F(FormatTest, SwappedFilesAreRecognised) {
  EXPECT_FALSE(check(key_pem(key()), chain_pem()));
  EXPECT_NE(only("CERT_EMPTY", Severity::error).fix.find("swapped"), std::string::npos);
  EXPECT_NE(only("KEY_EMPTY", Severity::error).fix.find("swapped"), std::string::npos);
}

TEST_F(FormatTest, GarbageIsNotPem) {
  EXPECT_FALSE(check("hello, I am not a certificate", "nor a key"));
  only("CERT_NOT_PEM", Severity::error);
  only("KEY_NOT_PEM", Severity::error);
}

TEST_F(FormatTest, DamagedPemIsNotPem) {
  std::string damaged = chain_pem();
  damaged[100] = '!';
  EXPECT_FALSE(check(damaged, key_pem(key())));
  only("CERT_NOT_PEM", Severity::error);
}

TEST_F(FormatTest, CertificateRequestIsNotACertificate) {
  std::string csr =
      "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n";
  EXPECT_FALSE(check(csr, key_pem(key())));
  EXPECT_NE(only("CERT_EMPTY", Severity::error).what.find("CSR"), std::string::npos);
}

TEST_F(FormatTest, PublicKeyIsNotThePrivateKey) {
  std::string pub = "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n";
  EXPECT_FALSE(check(chain_pem(), pub));
  EXPECT_NE(only("KEY_EMPTY", Severity::error).what.find("public key"), std::string::npos);
}

}  // namespace
}  // namespace scoregate::tls

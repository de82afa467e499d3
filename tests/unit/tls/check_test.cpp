// check_certificate(): one test per code, with the material built in memory (test_pki).
#include <gtest/gtest.h>

#include <memory>

#include "core/secure.hpp"
#include "tls/certificate.hpp"
#include "tls/openssl_util.hpp"
#include "tls/test_pki.hpp"

namespace scoregate::tls {
namespace {

using namespace testpki;

class CheckTest : public ::testing::Test {
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

  static X509* root() { return pki_->root.cert.get(); }
  static X509* inter() { return pki_->intermediate.cert.get(); }
  // A leaf issued by the suite's intermediate.
  static Issued leaf(const CertSpec& spec, KeyType type = KeyType::ec_p256) {
    return issue(spec, &pki_->intermediate, type);
  }
  // Names the suite's leaf covers, with the private root trusted.
  static CheckOptions trusted(std::vector<std::string> names = {"scoring.example.com"}) {
    CheckOptions o;
    o.names = std::move(names);
    o.trusted_ca_file = ca_file_;
    return o;
  }
  std::optional<CheckedCertificate> check(const Material& m, const CheckOptions& o) {
    return check_certificate(m, o, problems_);
  }
  void expect(const std::string& code, Severity severity) {
    const Problem* p = find(problems_, code);
    ASSERT_NE(p, nullptr) << code << " not among:\n" << codes(problems_);
    EXPECT_EQ(p->severity, severity) << format_problem(*p);
  }
  void expect_only(const std::string& code, Severity severity) {
    expect(code, severity);
    EXPECT_EQ(problems_.items().size(), 1u) << codes(problems_);
  }

  static Pki* pki_;
  static TempDir* dir_;
  static std::string ca_file_;
  Problems problems_;
};

Pki* CheckTest::pki_ = nullptr;
TempDir* CheckTest::dir_ = nullptr;
std::string CheckTest::ca_file_;

TEST_F(CheckTest, GoodChainHasNoProblemsAndIsSummarised) {
  auto m = material(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get());
  auto c = check(m, trusted());
  ASSERT_TRUE(c) << codes(problems_);
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
  ASSERT_EQ(c->chain.size(), 1u);
  EXPECT_EQ(X509_cmp(c->chain[0].get(), inter()), 0);
  const auto& s = c->summary;
  EXPECT_EQ(s.subject, "CN=scoring.example.com");
  EXPECT_EQ(s.issuer, "CN=Test Intermediate CA");
  EXPECT_EQ(s.dns_names, std::vector<std::string>{"scoring.example.com"});
  EXPECT_TRUE(s.ip_addresses.empty());
  EXPECT_EQ(s.key_description, "ECDSA P-256");
  EXPECT_EQ(s.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_EQ(s.fingerprint_sha256, sha256_fingerprint(der(pki_->leaf.cert.get())));
  EXPECT_EQ(s.fingerprint_sha256.size(), 32u * 3 - 1);
  EXPECT_NEAR(static_cast<double>(s.not_after - s.not_before), 366.0 * 86400, 5);
  EXPECT_EQ(s.chain_subjects,
            (std::vector<std::string>{"CN=scoring.example.com", "CN=Test Intermediate CA"}));
}

TEST_F(CheckTest, RsaKeyIsDescribed) {
  Issued l = leaf(leaf_spec(), KeyType::rsa2048);
  auto c = check(material(l.cert.get(), {inter()}, l.key.get()), trusted());
  ASSERT_TRUE(c) << codes(problems_);
  EXPECT_EQ(c->summary.key_description, "RSA 2048");
}

TEST_F(CheckTest, ExpiredCertificateIsAnErrorWithUtcDates) {
  CertSpec spec = leaf_spec();
  spec.not_before_days = -400;
  spec.not_after_days = -2;
  Issued l = leaf(spec);
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("CERT_EXPIRED", Severity::error);
  std::string what = find(problems_, "CERT_EXPIRED")->what;
  EXPECT_NE(what.find(iso8601_utc(asn1_time_to_time_t(X509_get0_notAfter(l.cert.get())))),
            std::string::npos)
      << what;
  EXPECT_NE(what.find("Z (now "), std::string::npos) << what;
}

TEST_F(CheckTest, ExpiryUsesOptionsNow) {
  CheckOptions o = trusted();
  o.now = std::time(nullptr) + 400 * 86400L;
  EXPECT_FALSE(check(material(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get()), o));
  expect("CERT_EXPIRED", Severity::error);
}

TEST_F(CheckTest, NotYetValidIsAnError) {
  CertSpec spec = leaf_spec();
  spec.not_before_days = 3;
  spec.not_after_days = 300;
  Issued l = leaf(spec);
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("CERT_NOT_YET_VALID", Severity::error);
}

TEST_F(CheckTest, ExpiringSoonIsAWarningWithDaysLeft) {
  CertSpec spec = leaf_spec();
  spec.not_after_days = 10;
  Issued l = leaf(spec);
  EXPECT_TRUE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("CERT_EXPIRES_SOON", Severity::warning);
  std::string what = find(problems_, "CERT_EXPIRES_SOON")->what;
  // 10 days minus the seconds since issuance: 9 (or 10 within the same second).
  EXPECT_TRUE(what.find("in 9 day(s)") != what.npos || what.find("in 10 day(s)") != what.npos)
      << what;
}

TEST_F(CheckTest, KeyOfAnotherCertificateIsAMismatch) {
  EXPECT_FALSE(
      check(material(pki_->leaf.cert.get(), {inter()}, shared_key(KeyType::ec_p256)), trusted()));
  expect_only("KEY_MISMATCH", Severity::error);
  EXPECT_EQ(find(problems_, "KEY_MISMATCH")->where, "sslKeyPemFile");
}

TEST_F(CheckTest, WildcardCoversExactlyOneLabel) {
  Issued l = leaf(leaf_spec({"*.example.com"}));
  auto m = material(l.cert.get(), {inter()}, l.key.get());
  EXPECT_TRUE(check(m, trusted({"a.example.com"})));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
  EXPECT_FALSE(check(m, trusted({"example.com", "a.b.example.com"})));
  ASSERT_EQ(problems_.items().size(), 2u) << codes(problems_);
  for (const auto& p : problems_.items()) {
    EXPECT_EQ(p.code, "CERT_NAME_MISMATCH");
    EXPECT_EQ(p.severity, Severity::error);
    EXPECT_NE(p.what.find("it covers: *.example.com"), std::string::npos) << p.what;
  }
  EXPECT_NE(problems_.items()[0].what.find("'example.com'"), std::string::npos);
  EXPECT_NE(problems_.items()[1].what.find("'a.b.example.com'"), std::string::npos);
}

// sslCname given as a protected setting: the mismatch is reported by position, not value.
TEST_F(CheckTest, ProtectedCnameIsNotEchoed) {
  auto m = material(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get());
  m.names_protected = true;
  EXPECT_FALSE(check(m, trusted({"scoring.example.com", "hidden-4k8d.example.com"})));
  expect_only("CERT_NAME_MISMATCH", Severity::error);
  const Problem* p = find(problems_, "CERT_NAME_MISMATCH");
  EXPECT_EQ(format_problem(*p).find("hidden-4k8d"), std::string::npos) << format_problem(*p);
  EXPECT_NE(p->what.find("name #2 of sslCname (protected)"), std::string::npos) << p->what;
  EXPECT_NE(p->what.find("it covers: scoring.example.com"), std::string::npos) << p->what;
}

// DER input written back out as PEM (secret create): the served chain and the same key.
TEST_F(CheckTest, CheckedCertificateAsPem) {
  auto m = material(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get());
  m.cert_bytes = der(pki_->leaf.cert.get()) + der(inter());
  m.key_bytes = key_der(pki_->leaf.key.get());
  auto c = check(m, trusted());
  ASSERT_TRUE(c) << codes(problems_);
  EXPECT_TRUE(problems_.has("CERT_DER") && problems_.has("KEY_DER")) << codes(problems_);
  EXPECT_EQ(chain_pem(*c), pem({pki_->leaf.cert.get(), inter()}));
  Material again = m;
  again.cert_bytes = chain_pem(*c);
  again.key_bytes = key_pem(*c);
  Problems none;
  EXPECT_TRUE(check_certificate(again, trusted(), none));
  EXPECT_TRUE(none.empty()) << codes(none);
}

TEST_F(CheckTest, PartialWildcardsDoNotMatch) {
  Issued l = leaf(leaf_spec({"a*.example.com"}));
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted({"ab.example.com"})));
  expect("CERT_NAME_MISMATCH", Severity::error);
}

TEST_F(CheckTest, IpAddressesMatchIpSans) {
  CertSpec spec = leaf_spec();
  spec.ips = {"10.0.0.5", "::1"};
  Issued l = leaf(spec);
  auto m = material(l.cert.get(), {inter()}, l.key.get());
  auto c = check(m, trusted({"10.0.0.5", "::1", "scoring.example.com"}));
  ASSERT_TRUE(c) << codes(problems_);
  EXPECT_EQ(c->summary.ip_addresses, (std::vector<std::string>{"10.0.0.5", "::1"}));
  EXPECT_FALSE(check(m, trusted({"10.0.0.6"})));
  expect_only("CERT_NAME_MISMATCH", Severity::error);
  EXPECT_NE(problems_.items()[0].what.find("IP:10.0.0.5"), std::string::npos);
}

TEST_F(CheckTest, DnsNameDoesNotMatchAnIpSanOrTheCommonNameWhenSansExist) {
  CertSpec spec = leaf_spec();
  spec.cn = "legacy.example.com";
  Issued l = leaf(spec);
  EXPECT_FALSE(
      check(material(l.cert.get(), {inter()}, l.key.get()), trusted({"legacy.example.com"})));
  expect_only("CERT_NAME_MISMATCH", Severity::error);
}

TEST_F(CheckTest, CommonNameOnlyCertificateWarns) {
  CertSpec spec = leaf_spec({});
  spec.cn = "legacy.example.com";
  Issued l = leaf(spec);
  EXPECT_TRUE(
      check(material(l.cert.get(), {inter()}, l.key.get()), trusted({"legacy.example.com"})));
  expect_only("CERT_NO_SAN", Severity::warning);
}

TEST_F(CheckTest, EveryProblemIsReportedAtOnce) {
  CertSpec spec = leaf_spec();
  spec.not_before_days = -400;
  spec.not_after_days = -2;
  spec.md = EVP_sha1();
  Issued l = leaf(spec, KeyType::rsa1024);
  EXPECT_FALSE(check(material(l.cert.get(), {}, shared_key(KeyType::ec_p256)),
                     trusted({"other.example.com"})));
  for (const char* code : {"KEY_MISMATCH", "CERT_CHAIN_INCOMPLETE", "CERT_EXPIRED",
                           "CERT_NAME_MISMATCH", "KEY_WEAK", "CERT_WEAK_SIGNATURE"})
    expect(code, Severity::error);
}

TEST_F(CheckTest, MissingIntermediateIsNamed) {
  EXPECT_FALSE(check(material(pki_->leaf.cert.get(), {}, pki_->leaf.key.get()), trusted()));
  expect_only("CERT_CHAIN_INCOMPLETE", Severity::error);
  const Problem* p = find(problems_, "CERT_CHAIN_INCOMPLETE");
  EXPECT_NE(p->what.find("'CN=Test Intermediate CA'"), std::string::npos) << p->what;
  EXPECT_NE(p->fix.find("router.trusted_ca_file"), std::string::npos);
}

TEST_F(CheckTest, PrivateRootIsTrustedOnlyThroughTrustedCaFile) {
  auto m = material(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get());
  CheckOptions o = trusted();
  o.trusted_ca_file.clear();
  EXPECT_TRUE(check(m, o));  // complete up to a private root: served, with a warning
  expect_only("CERT_CHAIN_PRIVATE_ROOT", Severity::warning);
  EXPECT_NE(problems_.items()[0].what.find("'CN=Test Root CA'"), std::string::npos);
  problems_ = {};
  EXPECT_TRUE(check(m, trusted()));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(CheckTest, UnreadableTrustedCaFileIsAnError) {
  CheckOptions o = trusted();
  o.trusted_ca_file = dir_->path() + "/no-such-root.pem";
  EXPECT_FALSE(check(material(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get()), o));
  expect("CERT_CA_FILE_INVALID", Severity::error);
}

TEST_F(CheckTest, RootInFileButNotTrustedWarns) {
  auto m = material(pki_->leaf.cert.get(), {inter(), root()}, pki_->leaf.key.get());
  CheckOptions o = trusted();
  o.trusted_ca_file.clear();
  auto c = check(m, o);
  ASSERT_TRUE(c) << codes(problems_);
  EXPECT_EQ(c->chain.size(), 2u);
  expect_only("CERT_UNTRUSTED_ROOT", Severity::warning);
  EXPECT_EQ(problems_.items()[0].what.find("development CA"), std::string::npos);

  problems_ = {};
  o.development = true;
  EXPECT_TRUE(check(m, o));
  expect_only("CERT_UNTRUSTED_ROOT", Severity::warning);
  EXPECT_NE(problems_.items()[0].what.find("development CA"), std::string::npos);

  problems_ = {};
  EXPECT_TRUE(check(m, trusted()));
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(CheckTest, ChainOutOfOrderSaysTheRightOrder) {
  Material m = material(pki_->leaf.cert.get(), {root(), inter()}, pki_->leaf.key.get());
  EXPECT_FALSE(check(m, trusted()));
  expect_only("CERT_CHAIN_ORDER", Severity::error);
  EXPECT_NE(
      problems_.items()[0].fix.find("1. 'CN=scoring.example.com', 2. 'CN=Test Intermediate CA', "
                                    "3. 'CN=Test Root CA'"),
      std::string::npos)
      << problems_.items()[0].fix;
}

TEST_F(CheckTest, LeafNotFirstIsAnOrderProblemNotAMismatch) {
  Material m = material(inter(), {pki_->leaf.cert.get()}, pki_->leaf.key.get());
  EXPECT_FALSE(check(m, trusted()));
  expect_only("CERT_CHAIN_ORDER", Severity::error);
}

TEST_F(CheckTest, UnrelatedCertificateIsAnExtraThatIsNotSent) {
  Issued other = issue(leaf_spec({"other.example.com"}), nullptr);
  auto c = check(material(pki_->leaf.cert.get(), {inter(), other.cert.get()}, pki_->leaf.key.get()),
                 trusted());
  ASSERT_TRUE(c) << codes(problems_);
  expect_only("CERT_EXTRA_CERTS", Severity::warning);
  EXPECT_EQ(c->chain.size(), 1u);
  EXPECT_NE(problems_.items()[0].what.find("CN=other.example.com"), std::string::npos);
}

TEST_F(CheckTest, SelfSignedLeafWarns) {
  Issued self = issue(leaf_spec(), nullptr);
  auto c = check(material(self.cert.get(), {}, self.key.get()), trusted());
  ASSERT_TRUE(c) << codes(problems_);
  expect_only("CERT_SELF_SIGNED", Severity::warning);
  EXPECT_TRUE(c->chain.empty());
}

TEST_F(CheckTest, Sha1SignatureOnLeafIsAnError) {
  CertSpec spec = leaf_spec();
  spec.md = EVP_sha1();
  Issued l = leaf(spec);
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("CERT_WEAK_SIGNATURE", Severity::error);
  EXPECT_NE(problems_.items()[0].what.find("ecdsa-with-SHA1"), std::string::npos)
      << problems_.items()[0].what;
}

TEST_F(CheckTest, Sha1SelfSignatureOfARootDoesNotCount) {
  CertSpec rs = root_spec("SHA-1 Root");
  rs.md = EVP_sha1();
  Issued r = issue(rs, nullptr);
  Issued i = issue(intermediate_spec("Modern Intermediate"), &r);
  Issued l = issue(leaf_spec(), &i);
  auto c = check(material(l.cert.get(), {i.cert.get(), r.cert.get()}, l.key.get()), {});
  ASSERT_TRUE(c) << codes(problems_);
  expect_only("CERT_UNTRUSTED_ROOT", Severity::warning);
}

TEST_F(CheckTest, Rsa1024IsWeak) {
  Issued l = leaf(leaf_spec(), KeyType::rsa1024);
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("KEY_WEAK", Severity::error);
  EXPECT_NE(problems_.items()[0].what.find("RSA 1024"), std::string::npos);
}

TEST_F(CheckTest, KeyOnACurveClientsDoNotSupportIsRefused) {
  if (kBoringSsl) GTEST_SKIP() << "BoringSSL cannot make a secp256k1 key (it has no such curve)";
  Issued l = leaf(leaf_spec(), KeyType::ec_secp256k1);
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("CERT_KEY_UNSUPPORTED", Severity::error);
  EXPECT_NE(problems_.items()[0].what.find("secp256k1"), std::string::npos)
      << problems_.items()[0].what;
}

// Found by fuzzing: a certificate whose public key does not decode has no EVP_PKEY at all.
TEST_F(CheckTest, UndecodablePublicKeyIsReportedNotDereferenced) {
  std::string bytes = der(pki_->leaf.cert.get());
  const ASN1_BIT_STRING* point = X509_get0_pubkey_bitstr(pki_->leaf.cert.get());
  auto at = bytes.find(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(point)),
                                   static_cast<std::size_t>(ASN1_STRING_length(point))));
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 0x00;  // the encoding of the point at infinity, which has no coordinates
  Material m = material(pki_->leaf.cert.get(), {}, pki_->leaf.key.get());
  m.cert_bytes = bytes;
  CertificateSummary summary;
  EXPECT_FALSE(check_certificate(m, trusted(), problems_, &summary));
  expect("CERT_KEY_UNSUPPORTED", Severity::error);
  EXPECT_EQ(find(problems_, "KEY_MISMATCH"), nullptr) << codes(problems_);
  EXPECT_EQ(summary.key_description, "");
}

TEST_F(CheckTest, ClientAuthOnlyIsNotForServers) {
  CertSpec spec = leaf_spec();
  spec.extended_key_usage = "clientAuth";
  Issued l = leaf(spec);
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("CERT_NOT_SERVER_AUTH", Severity::error);
  EXPECT_NE(problems_.items()[0].what.find("clientAuth"), std::string::npos);
}

TEST_F(CheckTest, KeyUsageWithoutDigitalSignatureIsNotForServers) {
  CertSpec spec = leaf_spec();
  spec.key_usage = "keyAgreement";
  Issued l = leaf(spec);
  EXPECT_FALSE(check(material(l.cert.get(), {inter()}, l.key.get()), trusted()));
  expect_only("CERT_NOT_SERVER_AUTH", Severity::error);
}

TEST_F(CheckTest, UsagesThatServeAreAccepted) {
  CertSpec any = leaf_spec();
  any.extended_key_usage = "anyExtendedKeyUsage";
  any.key_usage = "";
  Issued a = leaf(any);
  EXPECT_TRUE(check(material(a.cert.get(), {inter()}, a.key.get()), trusted())) << codes(problems_);
  CertSpec rsa = leaf_spec();
  rsa.extended_key_usage = "serverAuth,clientAuth";
  rsa.key_usage = "keyEncipherment";
  Issued r = leaf(rsa, KeyType::rsa2048);
  EXPECT_TRUE(check(material(r.cert.get(), {inter()}, r.key.get()), trusted())) << codes(problems_);
  EXPECT_TRUE(problems_.empty()) << codes(problems_);
}

TEST_F(CheckTest, EarlierErrorsInTheSameListDoNotBlockAGoodCertificate) {
  problems_.error("SOMETHING_ELSE", "", "unrelated", "");
  EXPECT_TRUE(check(material(pki_->leaf.cert.get(), {inter()}, pki_->leaf.key.get()), trusted()));
}

TEST_F(CheckTest, SummaryIsAvailableEvenWhenRefused) {
  CertificateSummary s;
  EXPECT_FALSE(check_certificate(material(pki_->leaf.cert.get(), {}, pki_->leaf.key.get()),
                                 trusted(), problems_, &s));
  EXPECT_EQ(s.subject, "CN=scoring.example.com");
}

}  // namespace
}  // namespace scoregate::tls

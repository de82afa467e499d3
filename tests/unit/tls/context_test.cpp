// build_server_context(): real in-memory handshakes (client and server SSL over a BIO pair)
// with TLS 1.2 and 1.3, ALPN, and session resumption across a certificate renewal.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls/context.hpp"
#include "tls/openssl_util.hpp"
#include "tls/test_pki.hpp"
#include "tls/ticket_keys.hpp"

namespace scoregate::tls {
namespace {

using namespace testpki;

struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SessionDeleter {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionDeleter>;

constexpr const char* kHost = "scoring.example.com";

struct Connection {
  SslPtr client, server;
  // BoringSSL: the session its new-session callback received (SSL_get1_session() is never
  // updated after a TLS 1.3 ticket arrives there). Not used with OpenSSL, whose client cache
  // mode would mark a held session unresumable as soon as a renewed ticket replaces it.
  std::unique_ptr<SessionPtr> ticket = std::make_unique<SessionPtr>();
};

#if defined(OPENSSL_IS_BORINGSSL)
int keep_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = static_cast<SessionPtr*>(SSL_get_app_data(ssl));
  if (!slot) return 0;
  slot->reset(session);
  return 1;  // the slot owns it now
}
#endif

class ContextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(make_pki()); }
  static void TearDownTestSuite() { delete pki_; }

  static CheckedCertificate checked(const Issued& leaf) {
    CheckedCertificate c;
    c.leaf = X509Ptr(X509_dup(leaf.cert.get()));
    c.chain.push_back(X509Ptr(X509_dup(pki_->intermediate.cert.get())));
    EVP_PKEY_up_ref(leaf.key.get());
    c.key = PkeyPtr(leaf.key.get());
    c.summary.subject = "CN=" + std::string(kHost);
    return c;
  }
  static std::shared_ptr<const ServerContext> build(const Issued& leaf,
                                                    const std::string& min = "1.2",
                                                    bool http2 = true) {
    std::string error;
    ContextOptions o;
    o.min_version = min;
    o.http2 = http2;
    auto ctx = build_server_context(checked(leaf), o, error);
    EXPECT_TRUE(ctx) << error;
    return ctx;
  }
  // A client that trusts only the test root and checks the host name.
  static CtxPtr client_ctx(int version) {
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), version);
    SSL_CTX_set_max_proto_version(ctx.get(), version);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), pki_->root.cert.get());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
#if defined(OPENSSL_IS_BORINGSSL)
    SSL_CTX_set_session_cache_mode(ctx.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx.get(), keep_new_session);
#endif
    return ctx;
  }
  static Connection connect(SSL_CTX* client_ctx, const ServerContext& server,
                            SSL_SESSION* session = nullptr,
                            const std::string& alpn = std::string("\x02h2\x08http/1.1", 12)) {
    Connection c{SslPtr(SSL_new(client_ctx)), SslPtr(SSL_new(server.native()))};
    BIO *client_bio = nullptr, *server_bio = nullptr;
    BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
    SSL_set_bio(c.client.get(), client_bio, client_bio);
    SSL_set_bio(c.server.get(), server_bio, server_bio);
    SSL_set_app_data(c.client.get(), c.ticket.get());
    SSL_set_connect_state(c.client.get());
    SSL_set_accept_state(c.server.get());
    SSL_set_tlsext_host_name(c.client.get(), kHost);
    SSL_set1_host(c.client.get(), kHost);
    if (!alpn.empty())
      SSL_set_alpn_protos(c.client.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                          static_cast<unsigned>(alpn.size()));
    if (session) SSL_set_session(c.client.get(), session);
    return c;
  }
  static bool handshake(Connection& c) {
    for (int round = 0; round < 50; ++round) {
      int rc = SSL_do_handshake(c.client.get());
      int rs = SSL_do_handshake(c.server.get());
      if (rc == 1 && rs == 1) return true;
      for (auto [ssl, r] : {std::pair{c.client.get(), rc}, std::pair{c.server.get(), rs}}) {
        int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
        if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          ERR_clear_error();
          return false;
        }
      }
    }
    return false;
  }
  // Moves one message server -> client so TLS 1.3 tickets (sent after the handshake) arrive,
  // then closes cleanly so the session stays resumable.
  static SessionPtr finish(Connection& c) {
    EXPECT_EQ(SSL_write(c.server.get(), "ok", 2), 2);
    char buf[8];
    EXPECT_EQ(SSL_read(c.client.get(), buf, sizeof buf), 2);
    SessionPtr session =
        *c.ticket ? std::move(*c.ticket) : SessionPtr(SSL_get1_session(c.client.get()));
    SSL_shutdown(c.client.get());
    return session;
  }
  static std::string alpn_of(SSL* ssl) {
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl, &p, &len);
    return std::string(reinterpret_cast<const char*>(p), len);
  }
  // Full handshake with context `a`, then resumption attempt with context `b`.
  static bool resumes(int version, const ServerContext& a, const ServerContext& b) {
    CtxPtr client = client_ctx(version);
    Connection first = connect(client.get(), a);
    EXPECT_TRUE(handshake(first));
    SessionPtr session = finish(first);
    EXPECT_TRUE(session && SSL_SESSION_is_resumable(session.get()));
    Connection second = connect(client.get(), b, session.get());
    EXPECT_TRUE(handshake(second));
    EXPECT_EQ(SSL_get_verify_result(second.client.get()), X509_V_OK);
    return SSL_session_reused(second.client.get()) == 1 &&
           SSL_session_reused(second.server.get()) == 1;
  }

  static Pki* pki_;
};

Pki* ContextTest::pki_ = nullptr;

class HandshakeTest : public ContextTest, public ::testing::WithParamInterface<int> {};

TEST_P(HandshakeTest, VerifiesChainAndHostAndPrefersH2) {
  auto server = build(pki_->leaf);
  ASSERT_TRUE(server);
  CtxPtr client = client_ctx(GetParam());
  Connection c = connect(client.get(), *server);
  ASSERT_TRUE(handshake(c));
  EXPECT_EQ(SSL_version(c.client.get()), GetParam());
  EXPECT_EQ(SSL_get_verify_result(c.client.get()), X509_V_OK);
  EXPECT_EQ(alpn_of(c.client.get()), "h2");
  STACK_OF(X509)* sent = SSL_get_peer_cert_chain(c.client.get());
  ASSERT_NE(sent, nullptr);
  EXPECT_EQ(sk_X509_num(sent), 2);  // leaf + intermediate
}

TEST_P(HandshakeTest, RsaCertificateWorksToo) {
  Issued rsa = issue(leaf_spec({kHost}), &pki_->intermediate, KeyType::rsa2048);
  auto server = build(rsa);
  ASSERT_TRUE(server);
  CtxPtr client = client_ctx(GetParam());
  Connection c = connect(client.get(), *server);
  // The server lists AES-128-GCM first; the client's preference must win.
  SSL_set_cipher_list(c.client.get(), "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256");
  ASSERT_TRUE(handshake(c));
  EXPECT_EQ(SSL_get_verify_result(c.client.get()), X509_V_OK);
  if (GetParam() == TLS1_2_VERSION) {
    EXPECT_STREQ(SSL_get_cipher_name(c.client.get()), "ECDHE-RSA-CHACHA20-POLY1305");
  }
}

TEST_P(HandshakeTest, PicksHttp11WhenHttp2IsOffOrNotOffered) {
  auto off = build(pki_->leaf, "1.2", false);
  CtxPtr client = client_ctx(GetParam());
  Connection c = connect(client.get(), *off);
  ASSERT_TRUE(handshake(c));
  EXPECT_EQ(alpn_of(c.client.get()), "http/1.1");
  auto on = build(pki_->leaf);
  Connection d = connect(client.get(), *on, nullptr, std::string("\x08http/1.1", 9));
  ASSERT_TRUE(handshake(d));
  EXPECT_EQ(alpn_of(d.client.get()), "http/1.1");
}

TEST_P(HandshakeTest, ClientOfferingOnlyH2ToARouterWithHttp2OffStillConnects) {
  auto server = build(pki_->leaf, "1.2", false);
  CtxPtr client = client_ctx(GetParam());
  Connection c = connect(client.get(), *server, nullptr, std::string("\x02h2", 3));
  ASSERT_TRUE(handshake(c));
  EXPECT_EQ(alpn_of(c.client.get()), "");
}

TEST_P(HandshakeTest, SessionResumesOnAContextWithARenewedCertificate) {
  Issued renewed = issue(leaf_spec({kHost}), &pki_->intermediate);
  auto a = build(pki_->leaf);
  auto b = build(renewed);
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(resumes(GetParam(), *a, *b));
}

TEST_P(HandshakeTest, TicketsOutliveTwoRotationsButNotThree) {
  auto a = build(pki_->leaf);
  CtxPtr client = client_ctx(GetParam());
  Connection first = connect(client.get(), *a);
  ASSERT_TRUE(handshake(first));
  SessionPtr session = finish(first);
  for (int rotations = 1; rotations <= 3; ++rotations) {
    process_ticket_keys().rotate();
    Connection again = connect(client.get(), *a, session.get());
    ASSERT_TRUE(handshake(again));
    EXPECT_EQ(SSL_session_reused(again.server.get()) == 1, rotations < 3)
        << rotations << " rotation(s)";
    SSL_shutdown(again.client.get());  // freeing an unfinished connection spoils its session
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, HandshakeTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const auto& info) {
                           return info.param == TLS1_2_VERSION ? "TLS12" : "TLS13";
                         });

TEST_F(ContextTest, WithoutTheSharedKeysRenewalWouldLoseSessions) {
  // Control for the resumption test: OpenSSL's default per-context ticket keys do not resume.
  auto a = build(pki_->leaf);
  CtxPtr plain(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_use_certificate(plain.get(), pki_->leaf.cert.get());
  SSL_CTX_add1_chain_cert(plain.get(), pki_->intermediate.cert.get());
  SSL_CTX_use_PrivateKey(plain.get(), pki_->leaf.key.get());
  SSL_CTX_set_session_id_context(plain.get(), reinterpret_cast<const unsigned char*>("scoregate"),
                                 9);
  CtxPtr client = client_ctx(TLS1_3_VERSION);
  Connection first = connect(client.get(), *a);
  ASSERT_TRUE(handshake(first));
  SessionPtr session = finish(first);
  Connection second{SslPtr(SSL_new(client.get())), SslPtr(SSL_new(plain.get()))};
  BIO *cb = nullptr, *sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(second.client.get(), cb, cb);
  SSL_set_bio(second.server.get(), sb, sb);
  SSL_set_connect_state(second.client.get());
  SSL_set_accept_state(second.server.get());
  SSL_set_tlsext_host_name(second.client.get(), kHost);
  SSL_set_session(second.client.get(), session.get());
  ASSERT_TRUE(handshake(second));
  EXPECT_EQ(SSL_session_reused(second.client.get()), 0);
}

TEST_F(ContextTest, MinimumVersion13RefusesTls12Clients) {
  auto server = build(pki_->leaf, "1.3");
  ASSERT_TRUE(server);
  CtxPtr client = client_ctx(TLS1_2_VERSION);
  Connection c = connect(client.get(), *server);
  EXPECT_FALSE(handshake(c));
  ERR_clear_error();
}

TEST_F(ContextTest, ProfileSettings) {
  auto server = build(pki_->leaf);
  SSL_CTX* ctx = server->native();
  uint64_t options = SSL_CTX_get_options(ctx);
#if !defined(OPENSSL_IS_BORINGSSL)
  // BoringSSL defines these as 0: as a server it never renegotiates or compresses, and it
  // always releases idle buffers.
  EXPECT_TRUE(options & SSL_OP_NO_RENEGOTIATION);
  EXPECT_TRUE(options & SSL_OP_NO_COMPRESSION);
  EXPECT_TRUE(SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS);
#endif
  EXPECT_FALSE(options & SSL_OP_CIPHER_SERVER_PREFERENCE);
  EXPECT_FALSE(options & SSL_OP_NO_TICKET);
#if !defined(OPENSSL_IS_BORINGSSL)  // BoringSSL can set the number but not read it back
  EXPECT_EQ(SSL_CTX_get_num_tickets(ctx), 1u);
#endif
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
  std::string tls12;
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx);
  for (int i = 0, n = static_cast<int>(sk_SSL_CIPHER_num(ciphers)); i < n; ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    if (std::string(SSL_CIPHER_get_version(c)) != "TLSv1.3")
      tls12 += std::string(tls12.empty() ? "" : ":") + SSL_CIPHER_get_name(c);
  }
  EXPECT_EQ(
      tls12,
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  EXPECT_EQ(server->summary().subject, "CN=scoring.example.com");
}

TEST_F(ContextTest, FailuresCarryOpenSslsReason) {
  CheckedCertificate wrong = checked(pki_->leaf);
  wrong.key = up_ref(pki_->intermediate.key.get());
  std::string error;
  EXPECT_EQ(build_server_context(wrong, {}, error), nullptr);
  EXPECT_NE(error.find("key values mismatch"), std::string::npos) << error;

  ContextOptions old;
  old.min_version = "1.1";
  EXPECT_EQ(build_server_context(checked(pki_->leaf), old, error), nullptr);
  EXPECT_NE(error.find("1.2 or 1.3"), std::string::npos) << error;
}

}  // namespace
}  // namespace scoregate::tls

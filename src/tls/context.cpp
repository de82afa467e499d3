#include "tls/context.hpp"

#include <openssl/err.h>

#include <cstring>
#include <string_view>

#include "tls/openssl_util.hpp"
#include "tls/ticket_keys.hpp"

namespace scoregate::tls {

namespace {

// Mozilla "intermediate" TLS 1.2 suites minus DHE (finite-field DH costs a lot of CPU for
// clients that all speak ECDHE anyway). TLS 1.3 keeps OpenSSL's default suites.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";
// Must be the same for every context: a session is only resumed where its id context matches.
constexpr unsigned char kSessionIdContext[] = "scoregate";

// ALPN: "h2" when the client offers it and HTTP/2 is on (arg non-null), else "http/1.1" when
// offered; otherwise carries on without ALPN instead of failing the handshake (a client that
// offers only h2 to a router with HTTP/2 off still gets HTTP/1.1 and a clear answer).
bool alpn_offers(const unsigned char* in, unsigned int inlen, std::string_view proto,
                 const unsigned char** out, unsigned char* outlen) {
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (len == 0 || i + 1 + len > inlen) break;  // malformed list: ignore the rest
    if (len == proto.size() && std::memcmp(in + i + 1, proto.data(), len) == 0) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return true;
    }
    i += 1 + len;
  }
  return false;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* http2) {
  if (http2 && alpn_offers(in, inlen, "h2", out, outlen)) return SSL_TLSEXT_ERR_OK;
  if (alpn_offers(in, inlen, "http/1.1", out, outlen)) return SSL_TLSEXT_ERR_OK;
  return SSL_TLSEXT_ERR_NOACK;
}

bool configure_protocol(SSL_CTX* ctx, const ContextOptions& options, std::string& error) {
  int min_version = options.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (options.min_version != "1.2" && options.min_version != "1.3") {
    error = "minimum TLS version must be 1.2 or 1.3, not '" + options.min_version + "'";
    return false;
  }
  if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1)
    return false;
  // Client cipher preference, as Mozilla "intermediate": every suite offered is strong, and
  // clients know whether they have AES hardware.
  SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  static int http2_on = 1;
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, options.http2 ? &http2_on : nullptr);
  return true;
}

bool configure_sessions(SSL_CTX* ctx) {
  if (SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1) != 1)
    return false;
  // Resumption is by ticket only: a server-side cache would be per context (lost at every
  // renewal) and shared by all workers behind one lock.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
  if (SSL_CTX_set_num_tickets(ctx, 1) != 1) return false;
  return install_ticket_key_callback(ctx);
}

bool install_certificate(SSL_CTX* ctx, const CheckedCertificate& cert, std::string& error) {
  if (!cert.leaf || !cert.key) {
    error = "no certificate or key";
    return false;
  }
  if (SSL_CTX_use_certificate(ctx, cert.leaf.get()) != 1) return false;
  for (const auto& x : cert.chain)
    if (SSL_CTX_add1_chain_cert(ctx, x.get()) != 1) return false;
  return SSL_CTX_use_PrivateKey(ctx, cert.key.get()) == 1 && SSL_CTX_check_private_key(ctx) == 1;
}

}  // namespace

ServerContext::~ServerContext() { SSL_CTX_free(ctx_); }

std::shared_ptr<const ServerContext> build_server_context(const CheckedCertificate& cert,
                                                          const ContextOptions& options,
                                                          std::string& error) {
  ERR_clear_error();
  error.clear();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  bool ok = ctx && configure_protocol(ctx, options, error) && configure_sessions(ctx) &&
            install_certificate(ctx, cert, error);
  if (!ok) {
    if (error.empty()) error = openssl_errors();
    if (error.empty()) error = "OpenSSL refused the server context without saying why";
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return std::shared_ptr<const ServerContext>(new ServerContext(ctx, cert.summary));
}

}  // namespace scoregate::tls

// Building server SSL_CTX objects from checked certificates (Mozilla "intermediate" profile,
// TLS 1.2 + 1.3, X25519/P-256/P-384, ALPN http/1.1, session resumption with ticket keys that
// survive certificate renewal).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "tls/certificate.hpp"

namespace scoregate::tls {

struct ContextOptions {
  std::string min_version = "1.2";  // "1.2" | "1.3"
  bool http2 = true;                // ALPN offers "h2" (preferred) besides "http/1.1"
};

// An immutable server context. Connections call native() once per handshake; the
// shared_ptr keeps it alive as long as any connection uses it.
class ServerContext {
 public:
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  const CertificateSummary& summary() const { return summary_; }

 private:
  ServerContext(SSL_CTX* ctx, CertificateSummary s) : ctx_(ctx), summary_(std::move(s)) {}
  friend std::shared_ptr<const ServerContext> build_server_context(const CheckedCertificate&,
                                                                   const ContextOptions&,
                                                                   std::string& error);
  SSL_CTX* ctx_;
  CertificateSummary summary_;
};

// nullptr and `error` set on failure (OpenSSL's reason included).
std::shared_ptr<const ServerContext> build_server_context(const CheckedCertificate& cert,
                                                          const ContextOptions& options,
                                                          std::string& error);

}  // namespace scoregate::tls

// A read-ahead socket BIO for BoringSSL, used by ClientTransport (docs/ARCHITECTURE.md "TLS
// library"). OpenSSL's SSL_set_read_ahead() makes one read() per TLS record (and more);
// BoringSSL ignores it and reads a record's 5-byte header and its body with two read() calls.
// This BIO reads up to 32 KiB per call into a per-thread buffer, hands BoringSSL what it asked
// for and keeps the rest on the heap only until it is consumed, so an idle connection holds
// nothing.
#pragma once

#include <openssl/bio.h>

namespace scoregate::http {

// A reading BIO on `fd` (not closed by the BIO); nullptr if out of memory.
BIO* new_read_ahead_bio(int fd);

}  // namespace scoregate::http

// Session ticket keys shared by every server context of the process, so a ticket issued
// before a certificate renewal still resumes on the context built after it (OpenSSL's default
// is one random key per SSL_CTX). Keys exist only in memory: a restart costs one full
// handshake per client, and nothing secret is ever written to disk.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace scoregate::tls {

struct TicketKey {
  std::array<unsigned char, 16> name{};
  std::array<unsigned char, 32> aes_key{};   // AES-256-CBC
  std::array<unsigned char, 32> hmac_key{};  // HMAC-SHA256
};

// Immutable once published: [0] encrypts new tickets, the others only decrypt.
struct TicketKeySet {
  std::array<TicketKey, 3> keys{};
  std::size_t count = 0;
  std::chrono::steady_clock::time_point created{};
  ~TicketKeySet();  // wipes the keys
};

class TicketKeyRing {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::chrono::hours kRotation{12};

  explicit TicketKeyRing(std::chrono::seconds rotation = kRotation, Clock clock = {});

  // The current set, rotated first if it is older than the rotation period. The reference
  // stays valid until this thread calls current() again. After a thread's first call this is
  // an atomic load and a clock read: no lock, no shared reference count.
  const TicketKeySet& current();
  // Makes a new encryption key now; the previous two stay for decryption.
  void rotate();
  // Whether `set` holds `name`: 0 = no, 1 = the current key, 2 = an older key.
  static int lookup(const TicketKeySet& set, const unsigned char* name, const TicketKey** key);

 private:
  std::chrono::steady_clock::time_point now() const;
  void rotate_locked();

  const std::uint64_t id_;  // tells thread views of different rings apart (no address reuse)
  std::chrono::seconds rotation_;
  Clock clock_;
  std::mutex mutex_;  // taken on rotation and by a thread's first look after one
  std::shared_ptr<const TicketKeySet> set_;
  std::atomic<std::uint64_t> generation_{0};
};

// The ring every ServerContext uses.
TicketKeyRing& process_ticket_keys();

// For SSL_CTX_set_tlsext_ticket_key_evp_cb: encrypts with the current key of
// process_ticket_keys(), decrypts with any of its keys (asking for a new ticket if old).
int ticket_key_callback(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc);

}  // namespace scoregate::tls

// Session ticket keys shared by every server context of the process, so a ticket issued
// before a certificate renewal still resumes on the context built after it (OpenSSL's default
// is one random key per SSL_CTX). By default the keys exist only in memory and rotate every
// 12 h: a restart costs one full handshake per client, and nothing secret is written to disk.
// With router.session_ticket_key_file the keys come from a file that several replicas share
// (a Kubernetes Secret), so a client resumes on whichever replica the load balancer picks;
// whoever writes the file rotates them.
#pragma once

#include <openssl/ssl.h>

#include "tls/compat.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

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
  bool from_file = false;  // no automatic rotation
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
  // Uses these keys (1 to 3; [0] encrypts) and stops rotating. No change if they are the ones
  // in use.
  void use_keys(const std::vector<TicketKey>& keys);
  // Back to keys made in memory, rotating; the keys in use stay for decryption. No change if
  // they already are.
  void use_generated();
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

// Keys in nginx's 80-byte layout (name 16, HMAC-SHA256 key 32, AES-256 key 32), 1 to 3 of
// them back to back (`openssl rand 80 > ticket.key`). Sans-IO; nullopt with why on failure.
std::optional<std::vector<TicketKey>> parse_ticket_keys(std::string_view bytes, std::string& why);

// Reads and parses router.session_ticket_key_file; problems TICKET_KEY_FILE_UNREADABLE /
// TICKET_KEY_FILE_INVALID (never with key bytes). The keys are wiped when released.
std::shared_ptr<const std::vector<TicketKey>> load_ticket_key_file(const std::string& path,
                                                                   Problems& problems);

// The ring every ServerContext uses.
TicketKeyRing& process_ticket_keys();

// Encrypts tickets with the current key of process_ticket_keys() and decrypts them with any
// of its keys (asking for a new ticket if old). Installed by tls/context.cpp.
bool install_ticket_key_callback(SSL_CTX* ctx);

}  // namespace scoregate::tls

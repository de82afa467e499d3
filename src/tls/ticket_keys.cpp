#include "tls/ticket_keys.hpp"

#if !defined(OPENSSL_IS_BORINGSSL)
#include <openssl/core_names.h>
#endif
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

#include "tls/file_io.hpp"

namespace scoregate::tls {

namespace {

TicketKey random_key() {
  TicketKey k;
  if (RAND_bytes(k.name.data(), k.name.size()) != 1 ||
      RAND_bytes(k.aes_key.data(), k.aes_key.size()) != 1 ||
      RAND_bytes(k.hmac_key.data(), k.hmac_key.size()) != 1)
    throw std::runtime_error("OpenSSL RAND_bytes failed while making a session ticket key");
  return k;
}

// Each thread remembers the set it last saw, so the hot path reads one atomic counter
// instead of copying a shared_ptr (a reference count all threads would write).
struct ThreadView {
  std::uint64_t ring = 0;
  std::uint64_t generation = 0;
  std::shared_ptr<const TicketKeySet> set;
};
thread_local ThreadView t_view;

std::atomic<std::uint64_t> g_next_ring_id{1};

}  // namespace

TicketKeySet::~TicketKeySet() { OPENSSL_cleanse(keys.data(), sizeof keys); }

TicketKeyRing::TicketKeyRing(std::chrono::seconds rotation, Clock clock)
    : id_(g_next_ring_id.fetch_add(1)), rotation_(rotation), clock_(std::move(clock)) {}

std::chrono::steady_clock::time_point TicketKeyRing::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

void TicketKeyRing::rotate_locked() {
  auto next = std::make_shared<TicketKeySet>();
  next->keys[0] = random_key();
  next->count = 1;
  next->created = now();
  if (set_)
    for (std::size_t i = 0; i < set_->count && next->count < next->keys.size(); ++i)
      next->keys[next->count++] = set_->keys[i];
  set_ = std::move(next);
  generation_.fetch_add(1, std::memory_order_release);
}

void TicketKeyRing::rotate() {
  std::lock_guard lock(mutex_);
  rotate_locked();
}

void TicketKeyRing::use_keys(const std::vector<TicketKey>& keys) {
  if (keys.empty()) return;
  auto next = std::make_shared<TicketKeySet>();
  for (const auto& k : keys)
    if (next->count < next->keys.size()) next->keys[next->count++] = k;
  next->from_file = true;
  next->created = now();
  std::lock_guard lock(mutex_);
  if (set_ && set_->from_file && set_->count == next->count &&
      CRYPTO_memcmp(set_->keys.data(), next->keys.data(), sizeof(TicketKey) * next->count) == 0)
    return;  // a reload with the same file: keep the set (and every thread's view of it)
  set_ = std::move(next);
  generation_.fetch_add(1, std::memory_order_release);
}

void TicketKeyRing::use_generated() {
  std::lock_guard lock(mutex_);
  if (set_ && !set_->from_file) return;
  rotate_locked();
}

const TicketKeySet& TicketKeyRing::current() {
  ThreadView& view = t_view;
  bool stale = view.ring != id_ || view.generation != generation_.load(std::memory_order_acquire);
  if (stale || (!view.set->from_file && now() - view.set->created >= rotation_)) {
    std::lock_guard lock(mutex_);
    // Several threads can pass the deadline together; only the first one rotates.
    if (!set_ || (!set_->from_file && now() - set_->created >= rotation_)) rotate_locked();
    view = {id_, generation_.load(std::memory_order_relaxed), set_};
  }
  return *view.set;
}

int TicketKeyRing::lookup(const TicketKeySet& set, const unsigned char* name,
                          const TicketKey** key) {
  for (std::size_t i = 0; i < set.count; ++i)
    if (CRYPTO_memcmp(set.keys[i].name.data(), name, set.keys[i].name.size()) == 0) {
      *key = &set.keys[i];
      return i == 0 ? 1 : 2;
    }
  return 0;
}

std::optional<std::vector<TicketKey>> parse_ticket_keys(std::string_view bytes, std::string& why) {
  constexpr std::size_t kSize = 80;
  if (bytes.empty() || bytes.size() % kSize != 0 || bytes.size() > 3 * kSize) {
    why = "holds " + std::to_string(bytes.size()) +
          " bytes; a key file holds 1 to 3 keys of 80 bytes each (80, 160 or 240 bytes)";
    return std::nullopt;
  }
  std::vector<TicketKey> keys(bytes.size() / kSize);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const char* b = bytes.data() + i * kSize;
    std::memcpy(keys[i].name.data(), b, 16);
    std::memcpy(keys[i].hmac_key.data(), b + 16, 32);
    std::memcpy(keys[i].aes_key.data(), b + 48, 32);
    for (std::size_t j = 0; j < i; ++j)
      if (keys[j].name == keys[i].name) {
        why = "keys " + std::to_string(j + 1) + " and " + std::to_string(i + 1) +
              " have the same name (first 16 bytes): a ticket could not say which one made it";
        OPENSSL_cleanse(keys.data(), keys.size() * sizeof(TicketKey));
        return std::nullopt;
      }
  }
  return keys;
}

std::shared_ptr<const std::vector<TicketKey>> load_ticket_key_file(const std::string& path,
                                                                   Problems& problems) {
  const std::string where = "router.session_ticket_key_file (" + path + ")";
  const std::string make =
      "make one with `openssl rand 80 > ticket.key`; to rotate, put a new key "
      "first and keep the old ones after it: `(openssl rand 80; head -c 160 "
      "ticket.key) > ticket.key.new && mv ticket.key.new ticket.key`";
  auto file = read_small_file(path, 4096);
  if (!file.bytes) {
    problems.error("TICKET_KEY_FILE_UNREADABLE", where, "cannot be read: " + file.reason,
                   "check the path and that scoregate may read it; " + make);
    return nullptr;
  }
  std::string why;
  auto keys = parse_ticket_keys(*file.bytes, why);
  OPENSSL_cleanse(file.bytes->data(), file.bytes->size());
  if (!keys) {
    problems.error("TICKET_KEY_FILE_INVALID", where, why, make);
    return nullptr;
  }
  return std::shared_ptr<const std::vector<TicketKey>>(
      new std::vector<TicketKey>(std::move(*keys)), [](const std::vector<TicketKey>* v) {
        OPENSSL_cleanse(const_cast<TicketKey*>(v->data()), v->size() * sizeof(TicketKey));
        delete v;
      });
}

TicketKeyRing& process_ticket_keys() {
  static TicketKeyRing ring;
  return ring;
}

namespace {
// Fetched once: EVP_aes_256_cbc() is a legacy handle that makes every EVP_*Init_ex look the
// cipher up again by name through OpenSSL 3's provider layer (README "Benchmarks").
const EVP_CIPHER* ticket_cipher() {
#if defined(OPENSSL_IS_BORINGSSL)
  return EVP_aes_256_cbc();
#else
  static const EVP_CIPHER* const cipher = [] {
    const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    return c ? c : EVP_aes_256_cbc();
  }();
  return cipher;
#endif
}

// The part both libraries share: picks the key (the current one to encrypt, the named one to
// decrypt), makes the IV and sets up the cipher. Returns the callback's answer (-1 error, 0
// unknown key, 1 ok, 2 ok but renew) and the key whose HMAC half the caller installs.
int prepare_ticket(unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher, int enc,
                   const TicketKey** key) {
  const TicketKeySet* set = nullptr;
  try {
    set = &process_ticket_keys().current();
  } catch (const std::exception&) {
    return -1;  // no keys: the handshake continues without a ticket
  }
  int result = 1;
  if (enc) {
    *key = &set->keys[0];
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ticket_cipher())) != 1) return -1;
    std::memcpy(key_name, (*key)->name.data(), (*key)->name.size());
  } else {
    result = TicketKeyRing::lookup(*set, key_name, key);
    if (result == 0) return 0;  // unknown (expired) key: full handshake, new ticket
  }
  int ok = enc ? EVP_EncryptInit_ex(cipher, ticket_cipher(), nullptr, (*key)->aes_key.data(), iv)
               : EVP_DecryptInit_ex(cipher, ticket_cipher(), nullptr, (*key)->aes_key.data(), iv);
  return ok == 1 ? result : -1;
}

#if defined(OPENSSL_IS_BORINGSSL)
int ticket_key_callback(SSL*, uint8_t* key_name, uint8_t* iv, EVP_CIPHER_CTX* cipher, HMAC_CTX* mac,
                        int enc) {
  const TicketKey* key = nullptr;
  int result = prepare_ticket(key_name, iv, cipher, enc, &key);
  if (result <= 0) return result;
  return HMAC_Init_ex(mac, key->hmac_key.data(), key->hmac_key.size(), EVP_sha256(), nullptr) == 1
             ? result
             : -1;
}
#else
int ticket_key_callback(SSL*, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                        EVP_MAC_CTX* mac, int enc) {
  const TicketKey* key = nullptr;
  int result = prepare_ticket(key_name, iv, cipher, enc, &key);
  if (result <= 0) return result;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(
                             OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac_key.data()),
                             key->hmac_key.size()),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(mac, params) == 1 ? result : -1;
}
#endif
}  // namespace

bool install_ticket_key_callback(SSL_CTX* ctx) {
#if defined(OPENSSL_IS_BORINGSSL)
  return SSL_CTX_set_tlsext_ticket_key_cb(ctx, ticket_key_callback) == 1;
#else
  return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_callback) == 1;
#endif
}

}  // namespace scoregate::tls

#include "core/secure.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <stdexcept>

namespace scoregate {

namespace {
std::array<unsigned char, SHA256_DIGEST_LENGTH> sha256(std::string_view s) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}
constexpr char kHex[] = "0123456789abcdef";
}  // namespace

bool constant_time_equal(std::string_view presented, std::string_view expected) {
  // Hashing both sides first makes the comparison length-independent; an empty
  // configured key never matches.
  if (expected.empty()) return false;
  auto a = sha256(presented);
  auto b = sha256(expected);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_key() {
  std::string raw(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), 32) != 1)
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  std::string b = base64_encode(raw);
  std::string out;
  for (char c : b) {
    if (c == '+')
      out += '-';
    else if (c == '/')
      out += '_';
    else if (c != '=')
      out += c;
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
    clean += c;
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < clean.size(); ++i)
    if (clean[i] == '=') {
      if (i + 2 < clean.size()) return std::nullopt;  // '=' only in the last two places
      ++pad;
    } else if (pad) {
      return std::nullopt;
    }
  std::string out(3 * clean.size() / 4, '\0');
  if (clean.empty()) return out;
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string sha256_fingerprint(std::string_view bytes) {
  auto d = sha256(bytes);
  std::string out;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i) out += ':';
    out += static_cast<char>(std::toupper(kHex[d[i] >> 4]));
    out += static_cast<char>(std::toupper(kHex[d[i] & 15]));
  }
  return out;
}

}  // namespace scoregate

// Small security primitives shared by several folders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scoregate {

// Compares a presented secret with a configured one in time that depends only on the
// configured length (CRYPTO_memcmp over a fixed-size digest of both), so neither the
// content nor the length of the key leaks through timing.
bool constant_time_equal(std::string_view presented, std::string_view expected);

// A URL-safe random token suitable as an endpoint key (256 bits).
std::string random_key();

// RFC 4648 base64 (with padding). decode returns nullopt on any invalid input
// (whitespace, including newlines, is ignored as Kubernetes manifests wrap lines).
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// SHA-256 of bytes as uppercase hex with ':' separators (certificate fingerprint style).
std::string sha256_fingerprint(std::string_view bytes);

}  // namespace scoregate

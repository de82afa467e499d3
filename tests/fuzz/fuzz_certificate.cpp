// libFuzzer target for check_certificate(): the bytes of the certificate and key settings.
// Input: <cert bytes> "\n=====KEY=====\n" <key bytes>; without the separator the whole input
// is both settings (a combined PEM file named twice, which users do).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tls/certificate.hpp"

namespace {
constexpr std::string_view kSeparator = "\n=====KEY=====\n";
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  scoregate::tls::Material m;
  if (auto at = input.find(kSeparator); at != std::string_view::npos) {
    m.cert_bytes = input.substr(0, at);
    m.key_bytes = input.substr(at + kSeparator.size());
  } else {
    m.cert_bytes = m.key_bytes = input;
  }
  m.cert_label = "sslCertPemFile";
  m.key_label = "sslKeyPemFile";
  scoregate::tls::CheckOptions options;
  options.names = {"localhost"};
  options.now = 1800000000;  // fixed, so a finding reproduces on another day
  scoregate::Problems problems;
  auto checked = scoregate::tls::check_certificate(m, options, problems);
  // The contract: a certificate is returned exactly when no error was found.
  if (checked.has_value() == problems.has_errors()) std::abort();
  for (const auto& p : problems.items())
    if (p.code.empty() || p.what.empty()) std::abort();
  return 0;
}

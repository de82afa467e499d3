// libFuzzer target for Secret manifests read through --secrets-dir (tls/secret.hpp): YAML bytes
// in, certificate material or problems out; never a crash, hang or exception, and no problem
// text ever quotes the bytes of a data value (they may be a private key).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tls/secret.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scoregate;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  Problems problems;
  auto m = tls::parse_secret_manifest(yaml, "scoring-tls.yaml", "scoring-tls", problems);
  if (m && m->cert_bytes.empty() && m->key_bytes.empty()) __builtin_trap();  // material or none
  for (const auto& p : problems.items())
    if (p.what.find("PRIVATE KEY-----") != std::string::npos) __builtin_trap();
  return 0;
}

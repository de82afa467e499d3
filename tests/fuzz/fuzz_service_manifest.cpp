// libFuzzer target for `scoregate doctor --service-manifest` (doctor/service_manifest.hpp): YAML
// bytes in, the Service's address or problems out; never a crash, hang or exception, and an
// answer without problems always names addresses and where they came from.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "doctor/service_manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scoregate;
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  Problems problems;
  const auto s = doctor::parse_service_manifest(yaml, "svc.yaml", problems);
  if (!problems.has_errors() && (s.source.empty() || (s.ips.empty() && s.hostnames.empty())))
    __builtin_trap();
  return 0;
}

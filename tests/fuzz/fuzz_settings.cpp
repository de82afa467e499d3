// libFuzzer target for the settings parser and validator: YAML bytes (plus optional flags) in,
// problems out, never a crash, hang or exception. Run (clang, -DSCOREGATE_FUZZ=ON):
//   ./build-fuzz/tests/fuzz/fuzz_settings -max_total_time=60 tests/fuzz/corpus/settings
// Lines after a "#flags" line are flags: "c:KEY=VALUE" is --config, "p:KEY=VALUE" is
// --config-protected, "l:..." --listen, "a:..." --admin, so the flag parser is reached too.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "settings/settings.hpp"

namespace {

using namespace scoregate::settings;

CommandLine flags_from(std::string_view text) {
  CommandLine cl;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.size() < 2 || line[1] != ':') continue;
    std::string value(line.substr(2));
    switch (line[0]) {
      case 'c':
        cl.config.push_back(value);
        break;
      case 'p':
        cl.config_protected.push_back(value);
        break;
      case 'l':
        cl.listen = value;
        break;
      case 'a':
        cl.admin = value;
        break;
      default:
        break;
    }
  }
  return cl;
}

// Aliases let ~1 KB of YAML describe up to the reader's 100000-entry budget (CONFIG_TOO_LARGE),
// e.g. 32000 deployments. show() and yaml-cpp's re-parse of its output are linear but slow on
// that (3 s without sanitizers, 1.6 GB and 30 s under ASan), which would make the fuzzer spend
// its time and memory there; such configs are still loaded and validated, just not shown.
bool small_enough_to_show(const Config& config) {
  std::size_t items = config.endpoints.size();
  for (const auto& ep : config.endpoints) {
    items += ep.deployments.size() + ep.traffic.size() + ep.mirror_traffic.size();
    for (const auto& d : ep.deployments) items += d.targets.size();
  }
  return items <= 2000;
}

// show() must always write YAML that yaml-cpp can read back.
void check_show(const Config& config) {
  if (!small_enough_to_show(config)) return;
  const std::string out = show(config);
  try {
    (void)YAML::Load(out);
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "show() wrote unreadable YAML (%s):\n%s\n", e.what(), out.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view yaml = input;
  CommandLine cl;
  if (auto marker = input.find("#flags\n"); marker != std::string_view::npos) {
    yaml = input.substr(0, marker);
    cl = flags_from(input.substr(marker + 7));
  }
  LoadResult loaded = load_from_string(yaml, "fuzz.yaml", cl);
  check_show(loaded.config);
  for (Purpose purpose : {Purpose::serve, Purpose::render, Purpose::show}) {
    ValidationResult v = validate(loaded.config, purpose);
    // The contract of ValidatedSettings: handed out exactly when there is no error.
    if (v.settings.has_value() == v.problems.has_errors()) std::abort();
    // Validation normalises values (targets, service type, cname lists): show those too. Once
    // is enough, the three purposes normalise alike.
    if (v.settings && purpose == Purpose::show) check_show(v.settings->config());
    (void)v.problems.to_string();
  }
  return 0;
}

// Small helpers shared by the settings tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "settings/settings.hpp"

namespace scoregate::settings::test {

inline LoadResult load_yaml(std::string_view yaml, CommandLine cl = {}) {
  return load_from_string(yaml, "test.yaml", cl);
}

// The only problem with this code; fails the test when there is none or several.
inline const Problem& only(const Problems& problems, std::string_view code) {
  const Problem* found = nullptr;
  int n = 0;
  for (const auto& p : problems.items())
    if (p.code == code) {
      found = &p;
      ++n;
    }
  EXPECT_EQ(n, 1) << "expected exactly one " << code << " in:\n" << problems.to_string();
  static const Problem none{"<none>", Severity::error, "", "", ""};
  return found ? *found : none;
}

inline int count(const Problems& problems, std::string_view code) {
  int n = 0;
  for (const auto& p : problems.items()) n += p.code == code;
  return n;
}

// Everything a user could see of these problems.
inline std::string all_text(const Problems& problems) {
  std::string out;
  for (const auto& p : problems.items())
    out += p.code + "|" + p.where + "|" + p.what + "|" + p.fix + "\n";
  return out;
}

// A TLS-complete extension section plus what the test adds.
constexpr const char* kTlsExtension =
    "extension:\n"
    "  sslCname: scoring.example.com\n"
    "  sslSecret: scoring-tls\n";

}  // namespace scoregate::settings::test

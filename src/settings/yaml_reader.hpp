// Walks a parsed YAML document into a Config (settings/*.cpp only; includes yaml-cpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>

#include "settings/internal.hpp"

namespace scoregate::settings::detail {

class YamlReader {
 public:
  YamlReader(Config& config, Problems& problems, std::string source)
      : c_(config), p_(problems), source_(std::move(source)) {}

  void document(const YAML::Node& root);

 private:
  // "FILE:LINE: path" (or "FILE: path" when yaml-cpp has no position for the node).
  std::string where(const YAML::Node& n, const std::string& path) const;
  std::string file_line(const YAML::Node& n) const;

  // Calls fn(key, key_node, value) for each entry of a map; reports a non-map, non-scalar or
  // duplicate keys (the duplicate is skipped). A null node is an empty map.
  template <class Fn>
  void each_entry(const YAML::Node& map, const std::string& path, Fn fn) {
    if (map.IsNull()) return;
    if (!map.IsMap()) return wrong_type(map, path, "a map of key: value lines");
    std::set<std::string> seen;
    for (const auto& kv : map) {
      if (!spend(kv.first)) return;
      const YAML::Node& key = kv.first;
      std::string k = key.IsScalar() ? key.Scalar() : std::string();
      std::string at = where(key, path.empty() ? display_key(k) : path + "." + display_key(k));
      if (!key.IsScalar()) {
        p_.error("SETTING_INVALID_VALUE", at, "a key in " + label(path) + " is not plain text",
                 "write keys as plain names, e.g. sslCname:");
        continue;
      }
      if (!seen.insert(k).second) {
        p_.error("SETTING_DUPLICATE", at, display_key(k) + " appears twice in " + label(path),
                 "keep one of them: YAML does not allow the same key twice in a map");
        continue;
      }
      fn(k, key, kv.second);
    }
  }

  // Counts one map entry or list item against kMaxEntries. YAML aliases (*name) reuse a node
  // without copying it, so a small file can describe millions of targets; past the budget the
  // reader reports CONFIG_TOO_LARGE once and reads no further.
  bool spend(const YAML::Node& at);
  static constexpr std::size_t kMaxEntries = 100000;
  std::size_t entries_ = 0;

  // The text of a scalar, or a SETTING_INVALID_VALUE problem (never echoing the value).
  std::optional<std::string> scalar(const YAML::Node& value, const std::string& at,
                                    std::string_view key);
  void wrong_type(const YAML::Node& n, const std::string& path, std::string_view expected);
  static std::string label(const std::string& path);
  static const char* kind(const YAML::Node& n);

  void extension(const YAML::Node& map, bool protected_section);
  void router(const YAML::Node& map);
  template <class S>
  void fields(S& s, const std::vector<Field<S>>& table, const YAML::Node& map,
              const std::string& path);

  // load_endpoints.cpp
  void endpoints(const YAML::Node& seq);
  void endpoint(const YAML::Node& map, std::size_t yaml_index);
  void deployment(Endpoint& ep, const YAML::Node& map, const std::string& list,
                  std::size_t yaml_index);
  void auth_keys(Endpoint& ep, const YAML::Node& map, const std::string& path);
  void percentages(std::vector<std::pair<std::string, unsigned>>& out, const YAML::Node& map,
                   const std::string& path);
  void string_list(std::vector<std::string>& out, const YAML::Node& seq, const std::string& path,
                   std::string_view expected = "a list, e.g. [ \"10.0.0.5:5001\" ]");

  Config& c_;
  Problems& p_;
  std::string source_;
};

}  // namespace scoregate::settings::detail

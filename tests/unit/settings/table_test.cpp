// The settings table (settings/table.cpp): what is derived from it — show(), write() and load()
// round trips, where protected-only keys are accepted, unknown-key suggestions and the keys a
// reload cannot apply — follows every row, so a new row is covered without a new test.
#include <yaml-cpp/yaml.h>

#include <set>

#include "settings/helpers.hpp"
#include "settings/internal.hpp"

namespace scoregate::settings {
namespace {

using detail::Channel;
using detail::Field;
using detail::OnReload;

// A value different from the one the field holds, of the field's type.
template <class S>
void change(S& s, const Field<S>& f) {
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(s.*member)>;
        if constexpr (std::is_same_v<T, std::string>)
          s.*member += "-changed";
        else if constexpr (std::is_same_v<T, bool>)
          s.*member = !(s.*member);
        else
          s.*member += 1;
      },
      f.ref);
}

template <class S>
bool same(const S& a, const S& b, const Field<S>& f) {
  return std::visit([&](auto member) { return a.*member == b.*member; }, f.ref);
}

// Text load() takes for the field's type.
template <class S>
std::string valid_text(const Field<S>& f) {
  if (std::holds_alternative<bool S::*>(f.ref)) return "true";
  if (std::holds_alternative<std::string S::*>(f.ref)) return "x.example.com";
  return "7";
}

// A config with one endpoint whose deployment has a readiness probe, so every table is used.
Config full_config() {
  Config c;
  Endpoint ep;
  ep.name = "fraud";
  Deployment d;
  d.name = "blue";
  d.targets = {"10.0.0.5:5001"};
  d.readiness_probe.emplace();
  ep.deployments.push_back(d);
  c.endpoints.push_back(ep);
  return c;
}

template <class S>
void expect_documented(const std::vector<Field<S>>& table) {
  std::set<std::string_view> keys;
  for (const auto& f : table) {
    EXPECT_TRUE(keys.insert(f.key).second) << f.key << " is declared twice";
    EXPECT_FALSE(f.doc.empty()) << f.key << " has no doc line";
    EXPECT_EQ(f.doc.find('\n'), std::string_view::npos) << f.key << ": one line";
  }
}

TEST(SettingsTable, EveryKeyIsDeclaredOnceWithADocLine) {
  expect_documented(detail::kExtensionFields);
  expect_documented(detail::kRouterFields);
  expect_documented(detail::kRequestFields);
  expect_documented(detail::kProbeFields);
}

TEST(SettingsTable, ProtectedOnlyKeysComeLast) {
  // show() prints the table in order: the extension: keys, then protected:.
  bool seen_protected = false;
  for (const auto& f : detail::kExtensionFields) {
    const bool only = f.channel == Channel::protected_only;
    EXPECT_TRUE(only || !seen_protected) << f.key << " follows a protected-only key";
    seen_protected = seen_protected || only;
  }
  EXPECT_TRUE(seen_protected);
}

template <class S>
void expect_all_keys(const YAML::Node& map, const std::vector<Field<S>>& table,
                     const std::string& where) {
  ASSERT_TRUE(map.IsMap()) << where;
  std::set<std::string> shown;
  for (const auto& kv : map) shown.insert(kv.first.Scalar());
  for (const auto& f : table)
    EXPECT_EQ(shown.count(std::string(f.key)), 1u) << where << "." << f.key;
  EXPECT_EQ(shown.size(), table.size()) << where << " shows keys the table does not declare";
}

TEST(SettingsTable, ShowPrintsEveryTableKeyInItsSection) {
  const YAML::Node doc = YAML::Load(show(full_config()));
  std::vector<Field<ExtensionSettings>> plain, protected_only;
  for (const auto& f : detail::kExtensionFields)
    (f.channel == Channel::protected_only ? protected_only : plain).push_back(f);
  expect_all_keys(doc["extension"], plain, "extension");
  expect_all_keys(doc["protected"], protected_only, "protected");
  expect_all_keys(doc["router"], detail::kRouterFields, "router");
  const YAML::Node d = doc["endpoints"][0]["deployments"][0];
  expect_all_keys(d["request_settings"], detail::kRequestFields, "request_settings");
  expect_all_keys(d["readiness_probe"], detail::kProbeFields, "readiness_probe");
}

TEST(SettingsTable, WriteAndLoadCarryEveryTableKey) {
  Config c = full_config();
  for (const auto& f : detail::kExtensionFields) change(c.extension, f);
  for (const auto& f : detail::kRouterFields) change(c.router, f);
  auto& d = c.endpoints[0].deployments[0];
  for (const auto& f : detail::kRequestFields) change(d.request_settings, f);
  for (const auto& f : detail::kProbeFields) change(*d.readiness_probe, f);
  const std::string text = write(c);
  auto back = test::load_yaml(text);
  ASSERT_FALSE(back.problems.has_errors()) << back.problems.to_string() << text;
  const Config& b = back.config;
  for (const auto& f : detail::kExtensionFields)
    EXPECT_TRUE(same(c.extension, b.extension, f)) << f.key << "\n" << text;
  for (const auto& f : detail::kRouterFields)
    EXPECT_TRUE(same(c.router, b.router, f)) << "router." << f.key << "\n" << text;
  ASSERT_EQ(b.endpoints.size(), 1u);
  ASSERT_EQ(b.endpoints[0].deployments.size(), 1u);
  const auto& bd = b.endpoints[0].deployments[0];
  for (const auto& f : detail::kRequestFields)
    EXPECT_TRUE(same(d.request_settings, bd.request_settings, f)) << f.key << "\n" << text;
  ASSERT_TRUE(bd.readiness_probe);
  for (const auto& f : detail::kProbeFields)
    EXPECT_TRUE(same(*d.readiness_probe, *bd.readiness_probe, f)) << f.key << "\n" << text;
}

TEST(SettingsTable, ProtectedOnlyKeysAreAcceptedOnlyAsProtected) {
  for (const auto& f : detail::kExtensionFields) {
    const std::string key(f.key), value = valid_text(f);
    const bool only = f.channel == Channel::protected_only;
    auto plain_yaml = test::load_yaml("extension:\n  " + key + ": " + value + "\n");
    EXPECT_EQ(test::count(plain_yaml.problems, "SETTING_PROTECTED"), only ? 1 : 0) << key;
    EXPECT_EQ(plain_yaml.problems.has_errors(), only) << key << plain_yaml.problems.to_string();
    CommandLine flag;
    flag.config = {key + "=" + value};
    auto plain_flag = test::load_yaml("", flag);
    EXPECT_EQ(test::count(plain_flag.problems, "SETTING_PROTECTED"), only ? 1 : 0) << key;
    auto protected_yaml = test::load_yaml("protected:\n  " + key + ": " + value + "\n");
    EXPECT_FALSE(protected_yaml.problems.has_errors())
        << key << protected_yaml.problems.to_string();
    EXPECT_TRUE(protected_yaml.config.is_protected(key)) << key;
    CommandLine protected_flag;
    protected_flag.config_protected = {key + "=" + value};
    auto via_flag = test::load_yaml("", protected_flag);
    EXPECT_FALSE(via_flag.problems.has_errors()) << key << via_flag.problems.to_string();
    EXPECT_TRUE(via_flag.config.is_protected(key)) << key;
  }
}

// "workers" -> "workesr": one transposition, which the suggester must trace back to the key.
std::string misspelt(std::string_view key) {
  std::string k(key);
  std::swap(k[k.size() - 1], k[k.size() - 2]);
  return k;
}

TEST(SettingsTable, UnknownKeysAreMatchedAgainstEveryTableKey) {
  for (const auto& f : detail::kExtensionFields) {
    const std::string section = f.channel == Channel::protected_only ? "protected" : "extension";
    auto r = test::load_yaml(section + ":\n  " + misspelt(f.key) + ": x\n");
    const auto& p = test::only(r.problems, "SETTING_UNKNOWN");
    EXPECT_NE(p.fix.find("did you mean " + std::string(f.key) + "?"), std::string::npos)
        << f.key << ": " << p.fix;
  }
  for (const auto& f : detail::kRouterFields) {
    auto r = test::load_yaml("router:\n  " + misspelt(f.key) + ": x\n");
    const auto& p = test::only(r.problems, "SETTING_UNKNOWN");
    EXPECT_NE(p.fix.find("did you mean " + std::string(f.key) + "?"), std::string::npos)
        << f.key << ": " << p.fix;
  }
}

template <class S>
void expect_restart_flags(const std::vector<Field<S>>& table, S Config::*part,
                          const std::string& prefix) {
  for (const auto& f : table) {
    Config old = full_config(), next = full_config();
    change(next.*part, f);
    const std::string name = prefix + std::string(f.key);
    const auto changes = restart_required_changes(old, next);
    if (f.on_reload == OnReload::apply) {
      EXPECT_TRUE(changes.empty()) << name;
    } else {
      EXPECT_EQ(changes, std::vector<std::string>{name});
    }
    EXPECT_EQ(refuses_reload(name), f.on_reload == OnReload::refuse) << name;
  }
}

TEST(SettingsTable, RestartRequiredChangesFollowTheTable) {
  expect_restart_flags(detail::kExtensionFields, &Config::extension, "");
  expect_restart_flags(detail::kRouterFields, &Config::router, "router.");
}

TEST(SettingsTable, RestartRequiredChangesNameStartOnlySettingsAndTlsMode) {
  Config old = full_config(), next = full_config();
  EXPECT_TRUE(restart_required_changes(old, next).empty());
  next.extension.allow_insecure_connections = true;
  next.router.listen = "0.0.0.0:1";
  next.router.admin = "127.0.0.1:2";
  next.router.probe_listen = "0.0.0.0:3";
  next.router.workers = 4;
  next.router.dns_refresh_ms = 6;
  next.router.max_connections = 5;             // applied by a reload
  next.extension.ssl_cname = "b.example.com";  // applied by a reload
  next.endpoints[0].deployments[0].request_settings.request_timeout_ms = 9;
  EXPECT_EQ(
      restart_required_changes(old, next),
      (std::vector<std::string>{"allowInsecureConnections", "router.listen", "router.admin",
                                "router.probe_listen", "router.workers", "router.dns_refresh_ms"}));
  EXPECT_TRUE(refuses_reload("allowInsecureConnections"));
  EXPECT_FALSE(refuses_reload("router.listen"));
  EXPECT_FALSE(refuses_reload("listen"));
  EXPECT_FALSE(refuses_reload("no.such.key"));
}

}  // namespace
}  // namespace scoregate::settings

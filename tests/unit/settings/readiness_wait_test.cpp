// router.readiness_wait_ms: read, shown with its default, range-checked.
#include <yaml-cpp/yaml.h>

#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

TEST(ReadinessWait, DefaultIsShown) {
  auto r = test::load_yaml("");
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  EXPECT_EQ(r.config.router.readiness_wait_ms, 30000u);
  EXPECT_EQ(YAML::Load(show(r.config))["router"]["readiness_wait_ms"].Scalar(), "30000");
}

TEST(ReadinessWait, ReadAndZeroAllowed) {
  auto r = test::load_yaml("router:\n  readiness_wait_ms: 0\n");
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  EXPECT_EQ(r.config.router.readiness_wait_ms, 0u);
  auto v = validate(r.config, Purpose::show);
  EXPECT_EQ(test::count(v.problems, "SETTING_INVALID_VALUE"), 0) << v.problems.to_string();
}

TEST(ReadinessWait, OutOfRangeNamesTheSetting) {
  auto r = test::load_yaml("router:\n  readiness_wait_ms: 600001\n");
  ASSERT_TRUE(r.problems.empty()) << r.problems.to_string();
  auto v = validate(r.config, Purpose::show);
  const Problem& p = test::only(v.problems, "SETTING_INVALID_VALUE");
  EXPECT_NE(p.where.find("router.readiness_wait_ms"), std::string::npos) << p.where;
  EXPECT_FALSE(v.settings.has_value());
}

TEST(ReadinessWait, MisspellingSuggestsIt) {
  auto r = test::load_yaml("router:\n  readiness_wait: 100\n");
  const Problem& p = test::only(r.problems, "SETTING_UNKNOWN");
  EXPECT_NE((p.what + p.fix).find("readiness_wait_ms"), std::string::npos) << p.what << p.fix;
}

}  // namespace
}  // namespace scoregate::settings

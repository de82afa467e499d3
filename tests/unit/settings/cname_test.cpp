// cname_list(): the one way sslCname (and --cname) is split, and validate()'s rule for it.
#include "settings/helpers.hpp"

namespace scoregate::settings {
namespace {

using Names = std::vector<std::string>;

TEST(CnameList, OneName) { EXPECT_EQ(cname_list("a.example.com"), Names{"a.example.com"}); }

TEST(CnameList, EmptyTextIsNoNames) {
  EXPECT_TRUE(cname_list("").empty());
  EXPECT_TRUE(cname_list(" , ,\t").empty());
}

TEST(CnameList, TrimsSpacesAndTabs) {
  EXPECT_EQ(cname_list(" a.example.com ,\tb.example.com\t, c.example.com"),
            (Names{"a.example.com", "b.example.com", "c.example.com"}));
}

TEST(CnameList, DropsEmptyEntriesBetweenCommasAndAtTheEnds) {
  EXPECT_EQ(cname_list(",a.example.com,,  ,b.example.com,"),
            (Names{"a.example.com", "b.example.com"}));
}

TEST(CnameList, DropsRepeatedNamesIgnoringCaseKeepingTheFirstSpellingAndOrder) {
  EXPECT_EQ(cname_list("B.example.com,a.example.com,b.EXAMPLE.com, a.example.com,c.example.com"),
            (Names{"B.example.com", "a.example.com", "c.example.com"}));
}

TEST(CnameList, KeepsInnerSpacesForValidateToRefuse) {
  // Only the ends are trimmed: "a b" is one (invalid) name, not two.
  EXPECT_EQ(cname_list("a b.example.com"), Names{"a b.example.com"});
}

ValidationResult validate_cname(const std::string& cname) {
  auto r = test::load_yaml("extension:\n  sslSecret: scoring-tls\n  sslCname: \"" + cname + "\"\n");
  EXPECT_FALSE(r.problems.has_errors()) << r.problems.to_string();
  return validate(r.config, Purpose::serve);
}

TEST(CnameValidate, EmptyEntriesAreAProblem) {
  for (const char* cname : {"a.example.com,", "a.example.com,,b.example.com", ",a.example.com",
                            "a.example.com, ,b.example.com"}) {
    auto v = validate_cname(cname);
    const auto& p = test::only(v.problems, "SETTING_INVALID_VALUE");
    EXPECT_NE(p.what.find("sslCname"), std::string::npos) << cname;
    EXPECT_FALSE(v.settings) << cname;
  }
}

TEST(CnameValidate, StoresTheListAsCnameListGivesIt) {
  auto v = validate_cname(" a.example.com ,\t*.B.example.com, A.EXAMPLE.com");
  ASSERT_TRUE(v.settings) << v.problems.to_string();
  EXPECT_EQ(v.settings->config().extension.ssl_cname, "a.example.com,*.B.example.com");
}

TEST(CnameValidate, ANameThatIsNotAHostNameIsAProblem) {
  auto v = validate_cname("a.example.com,https://b.example.com");
  test::only(v.problems, "SETTING_INVALID_VALUE");
}

}  // namespace
}  // namespace scoregate::settings

#include "doctor/report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>

namespace scoregate::doctor {

int Report::exit_code() const {
  const bool failed = std::any_of(checks.begin(), checks.end(),
                                  [](const Check& c) { return c.status == Status::fail; });
  return failed ? 1 : 0;
}

const char* status_name(Status s) {
  switch (s) {
    case Status::pass:
      return "PASS";
    case Status::info:
      return "INFO";
    case Status::warn:
      return "WARN";
    case Status::fail:
      return "FAIL";
  }
  return "FAIL";
}

namespace {

std::array<std::size_t, 4> counts(const Report& report) {
  std::array<std::size_t, 4> n{};
  for (const auto& c : report.checks) ++n[static_cast<std::size_t>(c.status)];
  return n;
}

}  // namespace

std::string format_text(const Report& report) {
  std::size_t width = 0;
  for (const auto& c : report.checks) width = std::max(width, c.id.size());
  std::string out = "scoregate doctor " + report.target + "\n";
  for (const auto& c : report.checks) {
    out += status_name(c.status);
    out += "  " + c.id + std::string(width - c.id.size(), ' ') + "  " + c.message;
    if (!c.fix.empty()) out += " — fix: " + c.fix;
    out += "\n";
  }
  const auto n = counts(report);
  out += std::to_string(n[0]) + " passed, " + std::to_string(n[2]) + " warnings, " +
         std::to_string(n[3]) + " failed\n";
  return out;
}

std::string format_json(const Report& report) {
  nlohmann::ordered_json checks = nlohmann::ordered_json::array();
  for (const auto& c : report.checks)
    checks.push_back(
        {{"id", c.id}, {"status", status_name(c.status)}, {"message", c.message}, {"fix", c.fix}});
  const auto n = counts(report);
  nlohmann::ordered_json out = {
      {"target", report.target},
      {"checks", checks},
      {"summary", {{"pass", n[0]}, {"info", n[1]}, {"warn", n[2]}, {"fail", n[3]}}},
      {"exit_code", report.exit_code()}};
  // Messages may quote bytes a server sent: replace invalid UTF-8 rather than throw.
  return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace scoregate::doctor

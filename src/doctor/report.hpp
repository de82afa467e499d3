// The result of `scoregate doctor` (README "Check a deployed endpoint: scoregate doctor"): one
// line per check with its verdict and the fix, as text for people or JSON for CI. Sans-IO.
#pragma once

#include <string>
#include <vector>

namespace scoregate::doctor {

// info: a fact worth knowing that is neither good nor bad (e.g. HTTP/2 not offered).
enum class Status { pass, info, warn, fail };

struct Check {
  std::string id;  // stable, e.g. "tls.name"; what CI scripts select on
  Status status = Status::pass;
  std::string message;  // what was found; never a key
  std::string fix;      // what to do; empty on pass and info
};

struct Report {
  std::string target;  // "https://HOST:PORT"
  std::vector<Check> checks;

  void add(Check c) { checks.push_back(std::move(c)); }
  // 0 when nothing failed (warnings allowed), 1 on any failure.
  int exit_code() const;
};

const char* status_name(Status s);  // "PASS", "INFO", "WARN", "FAIL"

// One line per check: "FAIL  tls.name  message — fix: ...", then a summary line.
std::string format_text(const Report& report);
// {"target", "checks": [{"id","status","message","fix"}], "summary": {...}, "exit_code"}.
std::string format_json(const Report& report);

}  // namespace scoregate::doctor

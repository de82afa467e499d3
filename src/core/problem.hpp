// A problem found in user input (settings, certificates, secrets): a stable code, a severity,
// where it is, what is wrong and how to fix it. Codes are listed in README.md ("Error codes")
// and never reused for another meaning.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace scoregate {

enum class Severity { error, warning };

struct Problem {
  std::string code;  // e.g. "CERT_EXPIRED"
  Severity severity = Severity::error;
  std::string where;  // "scoregate.yaml:12: protected.sslCertPemFile", "sslCname", ...
  std::string what;   // never contains a protected value
  std::string fix;
};

// "CODE error: where: what — fix"
std::string format_problem(const Problem& p);

class Problems {
 public:
  void error(std::string code, std::string where, std::string what, std::string fix);
  void warning(std::string code, std::string where, std::string what, std::string fix);
  void add(Problem p) { items_.push_back(std::move(p)); }
  void append(const Problems& other);

  bool has_errors() const;
  bool has(std::string_view code) const;
  std::size_t error_count() const;
  bool empty() const { return items_.empty(); }
  const std::vector<Problem>& items() const { return items_; }
  // One problem per line, errors first, in the order found.
  std::string to_string() const;

 private:
  std::vector<Problem> items_;
};

}  // namespace scoregate

#include "core/problem.hpp"

namespace scoregate {

std::string format_problem(const Problem& p) {
  std::string out = p.code;
  out += p.severity == Severity::error ? " error: " : " warning: ";
  if (!p.where.empty()) {
    out += p.where;
    out += ": ";
  }
  out += p.what;
  if (!p.fix.empty()) {
    out += " \u2014 ";
    out += p.fix;
  }
  return out;
}

void Problems::error(std::string code, std::string where, std::string what, std::string fix) {
  items_.push_back(
      {std::move(code), Severity::error, std::move(where), std::move(what), std::move(fix)});
}

void Problems::warning(std::string code, std::string where, std::string what, std::string fix) {
  items_.push_back(
      {std::move(code), Severity::warning, std::move(where), std::move(what), std::move(fix)});
}

void Problems::append(const Problems& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Problems::has_errors() const { return error_count() > 0; }

bool Problems::has(std::string_view code) const {
  for (const auto& p : items_)
    if (p.code == code) return true;
  return false;
}

std::size_t Problems::error_count() const {
  std::size_t n = 0;
  for (const auto& p : items_) n += p.severity == Severity::error;
  return n;
}

std::string Problems::to_string() const {
  std::string out;
  for (auto sev : {Severity::error, Severity::warning})
    for (const auto& p : items_)
      if (p.severity == sev) {
        out += format_problem(p);
        out += '\n';
      }
  return out;
}

}  // namespace scoregate

// sslCname as a list of names: the one place the setting is split (settings.hpp cname_list()).
#include <algorithm>
#include <cctype>

#include "settings/internal.hpp"
#include "settings/settings.hpp"

namespace scoregate::settings {
namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

namespace detail {

std::vector<std::string_view> cname_entries(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string_view name = text.substr(start, comma - start);
    const std::size_t begin = name.find_first_not_of(" \t");
    name = begin == std::string_view::npos
               ? std::string_view()
               : name.substr(begin, name.find_last_not_of(" \t") - begin + 1);
    out.push_back(name);
    start = comma + 1;
  }
  return out;
}

}  // namespace detail

std::vector<std::string> cname_list(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view name : detail::cname_entries(text)) {
    if (name.empty()) continue;
    const bool listed = std::any_of(out.begin(), out.end(),
                                    [&](const std::string& seen) { return same_name(seen, name); });
    if (!listed) out.emplace_back(name);
  }
  return out;
}

}  // namespace scoregate::settings

#include "http/message.hpp"

#include <boost/beast/core/string.hpp>

#include <ostream>

namespace scoregate::http {

std::string_view MessageHead::find(bhttp::field id) const {
  for (const auto& f : fields)
    if (f.id == id) return f.value;
  return {};
}

std::string_view MessageHead::find(std::string_view name) const {
  for (const auto& f : fields)
    if (boost::beast::iequals(f.name, name)) return f.value;
  return {};
}

}  // namespace scoregate::http

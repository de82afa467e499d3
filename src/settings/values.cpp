// Turning one setting's text into its typed value, the same way for YAML and flags.
#include <limits>
#include <type_traits>

#include "settings/internal.hpp"

namespace scoregate::settings::detail {

namespace {

void bad_bool(Problems& problems, const std::string& where, std::string_view key,
              const std::string& shown) {
  problems.error("SETTING_INVALID_VALUE", where,
                 std::string(key) + " must be a boolean, got " + shown,
                 std::string("write exactly one of ") + kBoolSpellings +
                     " (yes/no/on/off/1/0 are not accepted)");
}

}  // namespace

void set_extension(Config& c, std::string_view key, std::string_view value,
                   const std::string& where, bool via_protected, Problems& problems) {
  const Field<ExtensionSettings>* f = find_field(kExtensionFields, key);
  if (f == nullptr) return;  // the caller reports unknown keys
  const std::string k(key);
  if (via_protected && f->channel != Channel::protected_only && !c.is_protected(k))
    c.protected_keys.push_back(k);
  record(c, k, where);
  set_field(c.extension, *f, value, where, problems, c.is_protected(k));
}

template <class S>
void set_field(S& s, const Field<S>& f, std::string_view value, const std::string& where,
               Problems& problems, bool hide_value) {
  const std::string shown = hide_value ? std::string("(protected)") : quoted(value);
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(s.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          // A value with no canonical spelling is kept as written: validate() reports it.
          s.*member =
              f.canonical ? f.canonical(value).value_or(std::string(value)) : std::string(value);
        } else if constexpr (std::is_same_v<T, bool>) {
          if (auto b = parse_bool(value))
            s.*member = *b;
          else
            bad_bool(problems, where, f.key, shown);
        } else {
          constexpr auto max = std::numeric_limits<T>::max();
          if (auto n = parse_uint(value, max)) {
            s.*member = static_cast<T>(*n);
          } else {
            problems.error("SETTING_INVALID_VALUE", where,
                           std::string(f.key) + " must be a whole number from 0 to " +
                               std::to_string(max) + ", got " + shown,
                           "write the number in decimal digits only (no sign, unit, "
                           "exponent or 0x prefix)");
          }
        }
      },
      f.ref);
}

template void set_field(ExtensionSettings&, const Field<ExtensionSettings>&, std::string_view,
                        const std::string&, Problems&, bool);
template void set_field(RouterSettings&, const Field<RouterSettings>&, std::string_view,
                        const std::string&, Problems&, bool);
template void set_field(RequestSettings&, const Field<RequestSettings>&, std::string_view,
                        const std::string&, Problems&, bool);
template void set_field(ReadinessProbe&, const Field<ReadinessProbe>&, std::string_view,
                        const std::string&, Problems&, bool);

}  // namespace scoregate::settings::detail

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
  const std::string k(key);
  if (via_protected && !is_protected_only(key) && !c.is_protected(k)) c.protected_keys.push_back(k);
  record(c, k, where);
  auto& e = c.extension;
  if (key == "allowInsecureConnections" || key == "enableInference" || key == "inferenceRouterHA") {
    auto b = parse_bool(value);
    if (!b) return bad_bool(problems, where, key, display_value(c, k, value));
    bool& target = key == "allowInsecureConnections" ? e.allow_insecure_connections
                   : key == "enableInference"        ? e.enable_inference
                                                     : e.inference_router_ha;
    target = *b;
  } else if (key == "sslSecret") {
    e.ssl_secret = value;
  } else if (key == "sslCname") {
    e.ssl_cname = value;
  } else if (key == "sslCertPemFile") {
    e.ssl_cert_pem_file = value;
  } else if (key == "sslKeyPemFile") {
    e.ssl_key_pem_file = value;
  } else if (key == "inferenceRouterServiceType") {
    // An unknown type is kept as written: validate() reports it with the allowed values.
    e.inference_router_service_type = canonical_service_type(value).value_or(std::string(value));
  }
}

template <class S>
void set_field(S& s, const Field<S>& f, std::string_view value, const std::string& where,
               Problems& problems) {
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(s.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          s.*member = std::string(value);
        } else if constexpr (std::is_same_v<T, bool>) {
          if (auto b = parse_bool(value))
            s.*member = *b;
          else
            bad_bool(problems, where, f.key, quoted(value));
        } else {
          constexpr auto max = std::numeric_limits<T>::max();
          if (auto n = parse_uint(value, max)) {
            s.*member = static_cast<T>(*n);
          } else {
            problems.error("SETTING_INVALID_VALUE", where,
                           std::string(f.key) + " must be a whole number from 0 to " +
                               std::to_string(max) + ", got " + quoted(value),
                           "write the number in decimal digits only (no sign, unit, "
                           "exponent or 0x prefix)");
          }
        }
      },
      f.ref);
}

template void set_field(RouterSettings&, const Field<RouterSettings>&, std::string_view,
                        const std::string&, Problems&);
template void set_field(RequestSettings&, const Field<RequestSettings>&, std::string_view,
                        const std::string&, Problems&);
template void set_field(ReadinessProbe&, const Field<ReadinessProbe>&, std::string_view,
                        const std::string&, Problems&);

}  // namespace scoregate::settings::detail

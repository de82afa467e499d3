// Development certificates: a local CA and a server certificate signed by it (ECDSA P-256),
// for `make run` / dev mode and `scoregate cert dev`. Never for production: callers warn.
#pragma once

#include <string>
#include <vector>

#include "core/problem.hpp"

namespace scoregate::tls {

struct DevMaterial {
  std::string ca_cert_path;  // <dir>/dev-ca.pem   (what clients pass to curl --cacert)
  std::string cert_path;     // <dir>/cert.pem     (leaf + dev CA)
  std::string key_path;      // <dir>/key.pem      (mode 0600)
  bool created = false;      // false when a still-valid set was reused
};

// Reuses <dir>'s material when it exists, matches, covers `names` and is valid for at least
// 7 more days; otherwise (re)creates it. CA valid 10 years, server certificate 397 days.
// `names` are DNS names or IP addresses. Throws std::runtime_error with a clear message on
// I/O failure.
DevMaterial ensure_dev_material(const std::string& dir, const std::vector<std::string>& names);

}  // namespace scoregate::tls

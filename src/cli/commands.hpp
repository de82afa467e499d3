// Subcommands of the scoregate binary (README "Commands"). Each returns the exit status:
// 0 ok, 1 refused (validation), 2 usage.
#pragma once

#include <string>
#include <vector>

#include "k8s/render.hpp"
#include "settings/settings.hpp"

namespace scoregate::cli {

struct ServeArgs {
  settings::CommandLine settings;
  std::string log_level = "info";
};
int serve(const ServeArgs& args);

struct CertCheckArgs {
  std::string cert, key, cname, secret, secrets_dir, ca_file;
};
int cert_check(const CertCheckArgs& args);

int cert_dev(const std::string& cnames, const std::string& out_dir);

struct SecretCreateArgs {
  std::string name, cert, key, cname, ca_file, namespace_ = "azureml";
};
int secret_create(const SecretCreateArgs& args);

int settings_show(const settings::CommandLine& cl);

struct K8sRenderArgs {
  settings::CommandLine settings;
  k8s::RenderOptions options;
};
int k8s_render(const K8sRenderArgs& args);

int model_server(const std::string& listen);

struct DoctorArgs {
  std::string url, cacert, key, key_file, endpoint, expect_ip, service_manifest;
  settings::CommandLine settings;  // -f only: the configured certificate and endpoint
  bool json = false;
};
// Checks a deployed endpoint from outside: exit 0 all pass (warnings allowed), 1 a check
// failed, 2 usage (README "Check a deployed endpoint: scoregate doctor").
int doctor(const DoctorArgs& args);

// Release, git revision, OpenSSL (runtime and built-with), build type; always 0.
int version();

}  // namespace scoregate::cli

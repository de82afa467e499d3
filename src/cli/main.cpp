// scoregate: the secure front door of machine-learning online endpoints.
#include <CLI/CLI.hpp>

#include <csignal>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "runtime/allocator.hpp"

namespace {

void add_settings_flags(CLI::App* cmd, scoregate::settings::CommandLine& cl) {
  cmd->add_option("-f,--file", cl.file,
                  "settings file (YAML: extension:, protected:, router:, endpoints:)");
  cmd->add_option("--config", cl.config,
                  "a setting as KEY=VALUE (seed spelling, e.g. sslCname=scoring.example.com); "
                  "repeatable, several may follow one --config")
      ->expected(1, CLI::detail::expected_max_vector_size)
      ->type_name("KEY=VALUE");
  cmd->add_option(
         "--config-protected", cl.config_protected,
         "a configuration-protected setting (sslCertPemFile, sslKeyPemFile); never printed")
      ->expected(1, CLI::detail::expected_max_vector_size)
      ->type_name("KEY=VALUE");
}

// Each subcommand: its flags, and what runs when it was given.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// Flags parse into these, owned by main() for the life of the process.
struct Args {
  scoregate::cli::ServeArgs serve;
  scoregate::cli::CertCheckArgs check;
  std::string dev_names, dev_out;
  scoregate::cli::SecretCreateArgs secret;
  scoregate::settings::CommandLine show;
  scoregate::cli::K8sRenderArgs render;
  std::string model_listen = "127.0.0.1:5001";
  scoregate::cli::DoctorArgs doctor;
};

Command add_serve(CLI::App& app, Args& a) {
  auto* cmd = app.add_subcommand(
      "serve",
      "run the router (no -f and no certificate settings: development mode with a "
      "generated certificate and a built-in sample model)");
  auto& s = a.serve.settings;
  add_settings_flags(cmd, s);
  cmd->add_option("--listen", s.listen,
                  "HOST:PORT for scoring traffic (default 0.0.0.0:8443, or 0.0.0.0:8080 with "
                  "allowInsecureConnections=True; dev mode 127.0.0.1:8443)");
  cmd->add_option("--admin", s.admin,
                  "HOST:PORT for /healthz /readyz /metrics /status /-/reload (default "
                  "127.0.0.1:9901)");
  cmd->add_option("--workers", s.workers,
                  "worker threads (default: the CPUs this process may use: affinity and cgroup "
                  "CPU quota)");
  cmd->add_option("--secrets-dir", s.secrets_dir,
                  "outside Kubernetes: directory with <sslSecret>/ or <sslSecret>.yaml");
  cmd->add_option("--state-dir", s.state_dir, "dev mode material (default ./.scoregate)");
  cmd->add_option("--log-level", a.serve.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  return {cmd, [&a] { return scoregate::cli::serve(a.serve); }};
}

std::vector<Command> add_cert(CLI::App& app, Args& a) {
  auto* cert = app.add_subcommand("cert", "certificate tools");
  cert->require_subcommand(1);
  auto* check = cert->add_subcommand(
      "check", "check a certificate and key as serve would (exit 0 fine, 1 problems, 2 usage)");
  check->add_option("--cert", a.check.cert, "PEM certificate chain (leaf first)");
  check->add_option("--key", a.check.key, "PEM private key (unencrypted)");
  check->add_option("--cname", a.check.cname,
                    "the name(s) clients use (sslCname), comma-separated");
  check->add_option("--secret", a.check.secret, "check an sslSecret instead of files");
  check->add_option("--secrets-dir", a.check.secrets_dir,
                    "where the secret is (<name>/ or <name>.yaml)");
  check->add_option("--ca-file", a.check.ca_file, "private PKI roots that clients trust");
  auto* dev = cert->add_subcommand(
      "dev", "make a development CA and server certificate (never for production)");
  dev->add_option("--cname", a.dev_names, "names (DNS or IP), comma-separated")->required();
  dev->add_option("--out", a.dev_out, "output directory")->required();
  return {{check, [&a] { return scoregate::cli::cert_check(a.check); }},
          {dev, [&a] { return scoregate::cli::cert_dev(a.dev_names, a.dev_out); }}};
}

Command add_secret(CLI::App& app, Args& a) {
  auto* secret = app.add_subcommand("secret", "Kubernetes secret tools");
  secret->require_subcommand(1);
  auto* cmd = secret->add_subcommand(
      "create", "print a Secret manifest for sslSecret after checking the pair");
  cmd->add_option("--name", a.secret.name, "secret name")->required();
  cmd->add_option("--cert", a.secret.cert, "PEM certificate chain")->required();
  cmd->add_option("--key", a.secret.key, "PEM private key")->required();
  cmd->add_option("--namespace", a.secret.namespace_, "namespace (the extension uses azureml)");
  cmd->add_option("--cname", a.secret.cname,
                  "also check that the certificate covers these names (sslCname)");
  cmd->add_option("--ca-file", a.secret.ca_file,
                  "private PKI root(s) clients trust: checked against, and written to the "
                  "Secret as ca.crt");
  return {cmd, [&a] { return scoregate::cli::secret_create(a.secret); }};
}

Command add_settings(CLI::App& app, Args& a) {
  auto* settings = app.add_subcommand("settings", "settings tools");
  settings->require_subcommand(1);
  auto* cmd = settings->add_subcommand(
      "show", "print the effective settings (protected values hidden) and every problem");
  add_settings_flags(cmd, a.show);
  return {cmd, [&a] { return scoregate::cli::settings_show(a.show); }};
}

void add_render_resources(CLI::App* cmd, scoregate::k8s::RenderOptions& o) {
  cmd->add_option("--cpu-request", o.cpu_request, "CPU request")->capture_default_str();
  cmd->add_option("--memory-request", o.memory_request, "memory request")->capture_default_str();
  cmd->add_option("--cpu-limit", o.cpu_limit, "CPU limit (default none)");
  cmd->add_option("--memory-limit", o.memory_limit, "memory limit")->capture_default_str();
}

Command add_k8s(CLI::App& app, Args& a) {
  auto* k8s = app.add_subcommand("k8s", "Kubernetes tools");
  k8s->require_subcommand(1);
  auto* cmd = k8s->add_subcommand(
      "render",
      "print the manifests that run these settings on a cluster (ConfigMap, Deployment, Service, "
      "PodDisruptionBudget with inferenceRouterHA) for `| kubectl apply -f -`; needs "
      "inferenceRouterServiceType; never writes private keys or endpoint keys (exit 0 ok, 1 "
      "problems, 2 usage)");
  auto& o = a.render.options;
  add_settings_flags(cmd, a.render.settings);
  cmd->add_option("--namespace", o.namespace_,
                  "namespace of every object (the extension uses azureml)")
      ->capture_default_str();
  cmd->add_option("--image", o.image,
                  "container image, e.g. registry.example.com/scoregate:" SCOREGATE_VERSION)
      ->capture_default_str();
  cmd->add_option("--name", o.name,
                  "name of the Deployment and Service, prefix of the ConfigMap and Secrets")
      ->capture_default_str();
  cmd->add_flag("--create-namespace", o.create_namespace, "also write the Namespace");
  cmd->add_option("--replicas", o.replicas,
                  "pod replicas (default 3 with inferenceRouterHA, else 1)");
  cmd->add_option("--image-pull-secret", o.image_pull_secrets,
                  "Secret for pulling --image from a private registry (repeatable)");
  add_render_resources(cmd, o);
  cmd->add_option("--external-traffic-policy", o.external_traffic_policy,
                  "Local keeps the client IP (LoadBalancer and NodePort only)");
  cmd->add_flag("--network-policy", o.network_policy,
                "also write a NetworkPolicy: scoring port from anywhere, probe port from "
                "the cluster, egress to cluster DNS and the model ports only");
  cmd->add_option("--cert-manager-issuer", o.cert_manager_issuer,
                  "also write a cert-manager Certificate for sslCname into sslSecret, "
                  "issued by this issuer");
  cmd->add_option("--cert-manager-issuer-kind", o.cert_manager_issuer_kind,
                  "Issuer or ClusterIssuer")
      ->capture_default_str();
  return {cmd, [&a] { return scoregate::cli::k8s_render(a.render); }};
}

Command add_doctor(CLI::App& app, Args& a) {
  auto* cmd = app.add_subcommand(
      "doctor",
      "check a deployed endpoint from outside: DNS, TLS versions, chain, name, expiry, the "
      "configured certificate, the scoring URI, HTTP/2 (exit 0 pass, 1 a check failed, 2 usage)");
  auto& d = a.doctor;
  cmd->add_option("url", d.url, "https://HOST[:PORT] (or a scoring URI)")->required();
  cmd->add_option("--cacert", d.cacert,
                  "CA file to verify the chain against (default: the system store)");
  auto* key = cmd->add_option("--key", d.key,
                              "an endpoint key: also send a scored request (never printed; "
                              "default: the endpoint's primary key in -f)");
  cmd->add_option("--key-file", d.key_file, "a file holding the endpoint key")->excludes(key);
  cmd->add_option("--endpoint", d.endpoint, "endpoint name (default: the only one in -f)");
  auto* ip = cmd->add_option("--expect-ip", d.expect_ip, "the address HOST should resolve to");
  cmd->add_option(
         "--service-manifest", d.service_manifest,
         "`kubectl get svc NAME -o yaml` saved to a file: HOST should resolve to its address")
      ->excludes(ip);
  cmd->add_option("-f,--file", d.settings.file,
                  "the router's settings: the served certificate must be the configured one");
  cmd->add_flag("--json", d.json, "print the report as JSON");
  return {cmd, [&a] { return scoregate::cli::doctor(a.doctor); }};
}

std::vector<Command> add_small_commands(CLI::App& app, Args& a) {
  auto* model = app.add_subcommand("model-server", "run only the built-in sample model (HTTP)");
  model->add_option("--listen", a.model_listen, "HOST:PORT");
  auto* version = app.add_subcommand(
      "version",
      "print the version, git revision, OpenSSL (runtime and built with) and build type");
  return {{model, [&a] { return scoregate::cli::model_server(a.model_listen); }},
          {version, [] { return scoregate::cli::version(); }}};
}

}  // namespace

int main(int argc, char** argv) {
  // before the first connection's memory (README "Memory allocator")
  scoregate::runtime::tune_allocator();
  // Writes to a socket the peer closed must fail with EPIPE, not kill the process
  // (OpenSSL writes with write(2), which raises SIGPIPE).
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "scoregate: HTTPS router for machine-learning online endpoints\n"
      "(the settings and URIs of the Azure ML Kubernetes extension)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SCOREGATE_VERSION);

  Args args;
  std::vector<Command> commands{add_serve(app, args)};
  for (auto& c : add_cert(app, args)) commands.push_back(std::move(c));
  commands.push_back(add_secret(app, args));
  commands.push_back(add_settings(app, args));
  commands.push_back(add_k8s(app, args));
  commands.push_back(add_doctor(app, args));
  for (auto& c : add_small_commands(app, args)) commands.push_back(std::move(c));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const std::exception& e) {
    std::cerr << "scoregate: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

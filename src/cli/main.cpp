// scoregate: the secure front door of machine-learning online endpoints.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "cli/commands.hpp"

namespace {

void add_settings_flags(CLI::App* cmd, scoregate::settings::CommandLine& cl) {
  cmd->add_option("-f,--file", cl.file, "settings file (YAML: extension:, protected:, router:, endpoints:)");
  cmd->add_option("--config", cl.config,
                  "a setting as KEY=VALUE (seed spelling, e.g. sslCname=scoring.example.com); "
                  "repeatable, several may follow one --config")
      ->expected(1, CLI::detail::expected_max_vector_size)
      ->type_name("KEY=VALUE");
  cmd->add_option("--config-protected", cl.config_protected,
                  "a configuration-protected setting (sslCertPemFile, sslKeyPemFile); never printed")
      ->expected(1, CLI::detail::expected_max_vector_size)
      ->type_name("KEY=VALUE");
}

}  // namespace

int main(int argc, char** argv) {
  // Writes to a socket the peer closed must fail with EPIPE, not kill the process
  // (OpenSSL writes with write(2), which raises SIGPIPE).
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"scoregate: HTTPS router for machine-learning online endpoints\n"
               "(the settings and URIs of the Azure ML Kubernetes extension)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SCOREGATE_VERSION);

  scoregate::cli::ServeArgs serve;
  auto* serve_cmd = app.add_subcommand(
      "serve", "run the router (no -f and no certificate settings: development mode with a "
               "generated certificate and a built-in sample model)");
  add_settings_flags(serve_cmd, serve.settings);
  serve_cmd->add_option("--listen", serve.settings.listen, "HOST:PORT for scoring traffic (default 0.0.0.0:8443, or 0.0.0.0:8080 with allowInsecureConnections=True; dev mode 127.0.0.1:8443)");
  serve_cmd->add_option("--admin", serve.settings.admin, "HOST:PORT for /healthz /readyz /metrics /status /-/reload (default 127.0.0.1:9901)");
  serve_cmd->add_option("--workers", serve.settings.workers, "worker threads (default: one per core)");
  serve_cmd->add_option("--secrets-dir", serve.settings.secrets_dir, "outside Kubernetes: directory with <sslSecret>/ or <sslSecret>.yaml");
  serve_cmd->add_option("--state-dir", serve.settings.state_dir, "dev mode material (default ./.scoregate)");
  serve_cmd->add_option("--log-level", serve.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  auto* cert_cmd = app.add_subcommand("cert", "certificate tools");
  cert_cmd->require_subcommand(1);
  scoregate::cli::CertCheckArgs check;
  auto* check_cmd = cert_cmd->add_subcommand(
      "check", "check a certificate and key as serve would (exit 0 fine, 1 problems, 2 usage)");
  check_cmd->add_option("--cert", check.cert, "PEM certificate chain (leaf first)");
  check_cmd->add_option("--key", check.key, "PEM private key (unencrypted)");
  check_cmd->add_option("--cname", check.cname, "the name(s) clients use (sslCname), comma-separated");
  check_cmd->add_option("--secret", check.secret, "check an sslSecret instead of files");
  check_cmd->add_option("--secrets-dir", check.secrets_dir, "where the secret is (<name>/ or <name>.yaml)");
  check_cmd->add_option("--ca-file", check.ca_file, "private PKI roots that clients trust");
  std::string dev_names, dev_out;
  auto* dev_cmd = cert_cmd->add_subcommand("dev", "make a development CA and server certificate (never for production)");
  dev_cmd->add_option("--cname", dev_names, "names (DNS or IP), comma-separated")->required();
  dev_cmd->add_option("--out", dev_out, "output directory")->required();

  auto* secret_cmd = app.add_subcommand("secret", "Kubernetes secret tools");
  secret_cmd->require_subcommand(1);
  scoregate::cli::SecretCreateArgs secret;
  auto* create_cmd = secret_cmd->add_subcommand("create", "print a Secret manifest for sslSecret after checking the pair");
  create_cmd->add_option("--name", secret.name, "secret name")->required();
  create_cmd->add_option("--cert", secret.cert, "PEM certificate chain")->required();
  create_cmd->add_option("--key", secret.key, "PEM private key")->required();
  create_cmd->add_option("--namespace", secret.namespace_, "namespace (the extension uses azureml)");
  create_cmd->add_option("--cname", secret.cname,
                         "also check that the certificate covers these names (sslCname)");
  create_cmd->add_option("--ca-file", secret.ca_file,
                         "private PKI root(s) clients trust: checked against, and written to the "
                         "Secret as ca.crt");

  auto* settings_cmd = app.add_subcommand("settings", "settings tools");
  settings_cmd->require_subcommand(1);
  scoregate::settings::CommandLine show;
  auto* show_cmd = settings_cmd->add_subcommand("show", "print the effective settings (protected values hidden) and every problem");
  add_settings_flags(show_cmd, show);

  auto* k8s_cmd = app.add_subcommand("k8s", "Kubernetes tools");
  k8s_cmd->require_subcommand(1);
  scoregate::cli::K8sRenderArgs render;
  auto* render_cmd = k8s_cmd->add_subcommand(
      "render",
      "print the manifests that run these settings on a cluster (ConfigMap, Deployment, Service, "
      "PodDisruptionBudget with inferenceRouterHA) for `| kubectl apply -f -`; needs "
      "inferenceRouterServiceType; never writes private keys or endpoint keys (exit 0 ok, 1 "
      "problems, 2 usage)");
  add_settings_flags(render_cmd, render.settings);
  render_cmd->add_option("--namespace", render.options.namespace_,
                         "namespace of every object (the extension uses azureml)")
      ->capture_default_str();
  render_cmd->add_option("--image", render.options.image,
                         "container image, e.g. registry.example.com/scoregate:" SCOREGATE_VERSION)
      ->capture_default_str();
  render_cmd->add_option("--name", render.options.name,
                         "name of the Deployment and Service, prefix of the ConfigMap and Secrets")
      ->capture_default_str();
  render_cmd->add_flag("--create-namespace", render.options.create_namespace,
                       "also write the Namespace");
  render_cmd->add_option("--replicas", render.options.replicas,
                         "pod replicas (default 3 with inferenceRouterHA, else 1)");
  render_cmd->add_option("--image-pull-secret", render.options.image_pull_secrets,
                         "Secret for pulling --image from a private registry (repeatable)");
  render_cmd->add_option("--cpu-request", render.options.cpu_request, "CPU request")
      ->capture_default_str();
  render_cmd->add_option("--memory-request", render.options.memory_request, "memory request")
      ->capture_default_str();
  render_cmd->add_option("--cpu-limit", render.options.cpu_limit, "CPU limit (default none)");
  render_cmd->add_option("--memory-limit", render.options.memory_limit, "memory limit")
      ->capture_default_str();
  render_cmd->add_option("--external-traffic-policy", render.options.external_traffic_policy,
                         "Local keeps the client IP (LoadBalancer and NodePort only)");
  render_cmd->add_flag("--network-policy", render.options.network_policy,
                       "also write a NetworkPolicy: scoring port from anywhere, probe port from "
                       "the cluster, egress to cluster DNS and the model ports only");
  render_cmd->add_option("--cert-manager-issuer", render.options.cert_manager_issuer,
                         "also write a cert-manager Certificate for sslCname into sslSecret, "
                         "issued by this issuer");
  render_cmd
      ->add_option("--cert-manager-issuer-kind", render.options.cert_manager_issuer_kind,
                   "Issuer or ClusterIssuer")
      ->capture_default_str();

  std::string model_listen = "127.0.0.1:5001";
  auto* model_cmd = app.add_subcommand("model-server", "run only the built-in sample model (HTTP)");
  model_cmd->add_option("--listen", model_listen, "HOST:PORT");

  auto* version_cmd = app.add_subcommand(
      "version", "print the version, git revision, OpenSSL (runtime and built with) and build type");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    if (serve_cmd->parsed()) return scoregate::cli::serve(serve);
    if (check_cmd->parsed()) return scoregate::cli::cert_check(check);
    if (dev_cmd->parsed()) return scoregate::cli::cert_dev(dev_names, dev_out);
    if (create_cmd->parsed()) return scoregate::cli::secret_create(secret);
    if (show_cmd->parsed()) return scoregate::cli::settings_show(show);
    if (render_cmd->parsed()) return scoregate::cli::k8s_render(render);
    if (model_cmd->parsed()) return scoregate::cli::model_server(model_listen);
    if (version_cmd->parsed()) return scoregate::cli::version();
  } catch (const std::exception& e) {
    std::cerr << "scoregate: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

// `scoregate serve`, including development mode (README "The two commands": `make run`).
#include <pthread.h>
#include <sys/stat.h>

#include <csignal>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "core/log.hpp"
#include "core/secure.hpp"
#include "runtime/io_backend.hpp"
#include "runtime/server.hpp"
#include "samplemodel/sample_model.hpp"
#include "settings/settings.hpp"
#include "tls/devcert.hpp"

namespace scoregate::cli {

namespace fs = std::filesystem;

namespace {

bool names_certificate(const settings::Config& c) {
  for (const char* key : {"sslSecret", "sslCertPemFile", "sslKeyPemFile"})
    if (c.is_set(key)) return true;
  return false;
}

// The endpoint key of dev mode, made once and kept in the state directory (0600).
std::string dev_key(const fs::path& dir) {
  auto path = dir / "endpoint-key";
  std::ifstream in(path);
  std::string key;
  if (in && std::getline(in, key) && key.size() >= 32) return key;
  key = random_key();
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << key << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, path);
  return key;
}

struct DevMode {
  fs::path state;
  tls::DevMaterial material;
  std::string key;
  samplemodel::SampleModelServer model;
  std::string model_address;
};

void apply_dev(settings::Config& c, const DevMode& dev) {
  c.extension.ssl_cert_pem_file = dev.material.cert_path;
  c.extension.ssl_key_pem_file = dev.material.key_path;
  if (c.extension.ssl_cname.empty()) c.extension.ssl_cname = "localhost";
  if (c.router.listen.empty()) c.router.listen = "127.0.0.1:8443";
  if (c.endpoints.empty()) {
    settings::Endpoint e;
    e.name = "sample";
    e.primary_key = dev.key;
    e.where = "dev mode";
    settings::Deployment d;
    d.name = "default";
    d.targets = {dev.model_address};
    d.where = "dev mode";
    e.deployments.push_back(d);
    e.traffic = {{"default", 100}};
    c.endpoints.push_back(std::move(e));
  }
}

void print_dev_banner(const DevMode& dev, const std::string& listen) {
  auto port = listen.substr(listen.rfind(':') + 1);
  std::string uri = "https://localhost:" + port + "/api/v1/endpoint/sample/score";
  auto ca = fs::relative(dev.material.ca_cert_path).string();
  std::cout << "\n"
            << "scoregate is running in DEVELOPMENT MODE: the certificate is signed by a local\n"
            << "development CA (" << ca << "); it is self-made and for development only.\n\n"
            << "  scoring URI:  " << uri << "\n"
            << "  endpoint key: " << dev.key << "  (kept in " << fs::relative(dev.state).string()
            << "/endpoint-key)\n"
            << "  sample model: " << dev.model_address << " (linear regression over 10 numbers)\n\n"
            << "try it:\n"
            << "  curl --cacert " << ca << " -H 'Authorization: Bearer " << dev.key << "' \\\n"
            << "       -H 'Content-Type: application/json' \\\n"
            << "       -d '{\"data\": [[1,2,3,4,5,6,7,8,9,10]]}' " << uri << "\n\n"
            << "Ctrl-C stops it.\n"
            << std::endl;
}

}  // namespace

int serve(const ServeArgs& args) {
  if (auto problem = runtime::io_backend_problem(); !problem.empty()) {
    std::cerr << "scoregate: refusing to start: " << problem << "\n";
    return 1;
  }
  auto first = settings::load(args.settings);
  const bool development = args.settings.file.empty() &&
                           !first.config.extension.allow_insecure_connections &&
                           !names_certificate(first.config);
  // Settings that were read but have problems go on to the server's build, which lists them
  // with every other problem (rules between settings, the certificate) in one round. Dev mode
  // is not entered with broken settings: it would make a certificate only to refuse (and without
  // its certificate the rules would report a missing one).
  if (first.problems.has_errors() && (development || settings::settings_unread(first.problems))) {
    std::cerr << "scoregate: refusing to start; fix these problems:\n"
              << first.problems.to_string();
    return 1;
  }
  setup_logging(args.log_level, first.config.router.access_log);

  std::unique_ptr<DevMode> dev;
  if (development) {
    dev = std::make_unique<DevMode>();
    dev->state = first.config.router.state_dir.empty() ? fs::path(".scoregate")
                                                       : fs::path(first.config.router.state_dir);
    fs::create_directories(dev->state);
    ::chmod(dev->state.c_str(), 0700);
    // The development certificate covers localhost and any sslCname given on the command line
    // (listed after them, so a repeated localhost is dropped).
    const auto names =
        settings::cname_list("localhost,127.0.0.1," + first.config.extension.ssl_cname);
    dev->material = tls::ensure_dev_material((dev->state / "tls").string(), names);
    dev->key = dev_key(dev->state);
    dev->model.start({boost::asio::ip::make_address("127.0.0.1"), 0});
    dev->model_address = "127.0.0.1:" + std::to_string(dev->model.local_endpoint().port());
    spdlog::warn(
        "development mode: certificate from the local development CA in {} "
        "(self-made, development only); sample model on {}",
        dev->state.string(), dev->model_address);
  }

  runtime::ServeOptions options;
  options.development = development;
  options.load = [cl = args.settings, d = dev.get()]() {
    auto r = settings::load(cl);
    if (d) apply_dev(r.config, *d);
    return r;
  };
  if (dev)
    options.on_started = [d = dev.get()](const runtime::Snapshot&, const std::string& listen) {
      print_dev_banner(*d, listen);
    };
  runtime::Server server(std::move(options));
  return server.run();
}

int model_server(const std::string& listen) {
  setup_logging("info", false);
  // Blocked before the model's thread starts, so only sigwait below sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  samplemodel::SampleModelServer model;
  auto colon = listen.rfind(':');
  model.start({boost::asio::ip::make_address(listen.substr(0, colon)),
               static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)))});
  spdlog::info("sample model serving on {}", listen);
  int sig = 0;
  sigwait(&set, &sig);
  model.stop();
  return 0;
}

}  // namespace scoregate::cli

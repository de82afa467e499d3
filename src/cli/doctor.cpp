// `scoregate doctor`: reads the flags and files, runs doctor::run() and prints the report
// (README "Check a deployed endpoint: scoregate doctor").
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "doctor/doctor.hpp"

namespace scoregate::cli {

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The key from --key or --key-file (trimmed). Problems name the flag, never the key or path.
std::optional<std::string> key_of(const DoctorArgs& a, Problems& problems) {
  if (!a.key_file.empty()) {
    auto text = read_file(a.key_file);
    if (!text) {
      problems.error("DOCTOR_KEY_FILE_UNREADABLE", "--key-file", "cannot be read",
                     "give a readable file that holds the endpoint key");
      return std::nullopt;
    }
    const auto b = text->find_first_not_of(" \t\r\n");
    const auto e = text->find_last_not_of(" \t\r\n");
    if (b == std::string::npos) {
      problems.error("DOCTOR_KEY_FILE_UNREADABLE", "--key-file", "is empty",
                     "give a file that holds the endpoint key");
      return std::nullopt;
    }
    return text->substr(b, e - b + 1);
  }
  if (!a.key.empty()) return a.key;
  return std::nullopt;
}

void read_manifest(const std::string& path, doctor::Options& o, Problems& problems) {
  const auto text = read_file(path);
  if (!text) {
    problems.error("DOCTOR_MANIFEST_UNREADABLE", path, "cannot be read",
                   "save the Service first: kubectl get svc NAME -n azureml -o yaml > " + path);
    return;
  }
  const auto service = doctor::parse_service_manifest(*text, path, problems);
  if (problems.has_errors()) return;
  o.expected = doctor::expected_from(service);
  o.expected_caution = service.caution;
}

void read_settings(const settings::CommandLine& cl, doctor::Options& o, Problems& problems) {
  auto loaded = settings::load(cl);
  if (settings::settings_unread(loaded.problems)) {
    problems.append(loaded.problems);
    return;
  }
  if (!loaded.config.extension.allow_insecure_connections)
    o.configured = doctor::configured_certificate(loaded.config);
  if (o.endpoint.empty()) o.endpoint = doctor::only_endpoint(loaded.config);
  // No --key or --key-file: the endpoint's own primary key from the settings (keys.primary, or
  // the file keys.primary_file names, which load() has read), so `doctor -f` checks the scoring
  // URI end to end. A key file that cannot be read here (a Secret mounted only in the cluster)
  // leaves http.model out, as without a key.
  if (o.key || o.endpoint.empty()) return;
  for (const auto& e : loaded.config.endpoints)
    if (e.name == o.endpoint && e.auth_mode == settings::AuthMode::key && !e.primary_key.empty()) {
      o.key = e.primary_key;
      o.key_from = "-f (the primary key of endpoint '" + e.name + "')";
    }
}

}  // namespace

int doctor(const DoctorArgs& a) {
  Problems problems;
  const auto url = doctor::parse_url(a.url, problems);
  doctor::Options o;
  if (url) o.url = *url;
  o.cacert = a.cacert;
  o.key = key_of(a, problems);
  o.endpoint = !a.endpoint.empty() ? a.endpoint : o.url.endpoint;
  if (!a.cacert.empty() && !read_file(a.cacert))
    problems.error("DOCTOR_CACERT_UNREADABLE", "--cacert", "'" + a.cacert + "' cannot be read",
                   "give the PEM file of the CA that issued the router's certificate");
  if (!a.expect_ip.empty()) o.expected = doctor::Expected{{a.expect_ip}, "--expect-ip"};
  if (!a.service_manifest.empty()) read_manifest(a.service_manifest, o, problems);
  if (!a.settings.file.empty()) read_settings(a.settings, o, problems);
  if (problems.has_errors()) {
    std::cerr << problems.to_string();
    return 2;
  }
  const auto report = doctor::run(o);
  std::cout << (a.json ? doctor::format_json(report) : doctor::format_text(report));
  return report.exit_code();
}

}  // namespace scoregate::cli

// k8s render: the manifests parsed back with yaml-cpp, asserted on their structure.
#include "k8s/render.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "k8s/rendered.hpp"
#include "tls/secret.hpp"

namespace scoregate::k8s {
namespace {

constexpr const char* kTlsSettings =
    "extension:\n"
    "  sslSecret: scoring-tls\n"
    "  sslCname: scoring.example.com\n"
    "  inferenceRouterServiceType: LoadBalancer\n"
    "endpoints:\n"
    "  - name: fraud\n"
    "    auth_mode: none\n"
    "    deployments:\n"
    "      - name: blue\n"
    "        targets: [ \"dns:fraud-blue.models.svc.cluster.local:5001\" ]\n";

using testing::render_yaml;
using Output = testing::RenderedDocs;

Output render_with(std::vector<std::string> config, const std::string& yaml = kTlsSettings) {
  settings::CommandLine cl;
  cl.config = std::move(config);
  return render_yaml(yaml, cl);
}

TEST(K8sRender, WritesConfigMapDeploymentServiceAndBudget) {
  auto out = render_yaml(kTlsSettings);
  ASSERT_FALSE(out.rendered.problems.has_errors()) << out.rendered.problems.to_string();
  ASSERT_EQ(out.docs.size(), 4u);
  for (const auto& d : out.docs) {
    EXPECT_EQ(d["metadata"]["namespace"].as<std::string>(), "azureml");
    EXPECT_EQ(d["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>(), "scoregate");
  }
  EXPECT_EQ(out.kind("ConfigMap")["metadata"]["name"].as<std::string>(), "scoregate-config");
  auto args = out.container()["args"];
  ASSERT_EQ(args.size(), 3u);
  EXPECT_EQ(args[0].as<std::string>(), "serve");
  EXPECT_EQ(args[1].as<std::string>(), "-f");
  EXPECT_EQ(args[2].as<std::string>(), "/etc/scoregate/config/scoregate.yaml");
  auto budget = out.kind("PodDisruptionBudget");
  EXPECT_EQ(budget["spec"]["maxUnavailable"].as<int>(), 1);
  EXPECT_FALSE(budget["spec"]["minAvailable"]);
}

TEST(K8sRender, HighAvailabilityIsThreeReplicasSpreadOverNodes) {
  auto out = render_yaml(kTlsSettings);
  EXPECT_EQ(out.kind("Deployment")["spec"]["replicas"].as<int>(), 3);
  auto term = out.pod()["affinity"]["podAntiAffinity"]
                       ["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
  EXPECT_EQ(term["topologyKey"].as<std::string>(), "kubernetes.io/hostname");
  EXPECT_EQ(term["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"].as<std::string>(),
            "scoregate");
}

TEST(K8sRender, WithoutHighAvailabilityOneReplicaNoAffinityNoBudget) {
  auto out = render_with({"inferenceRouterHA=False"});
  ASSERT_EQ(out.docs.size(), 3u) << out.rendered.yaml;
  EXPECT_EQ(out.kind("Deployment")["spec"]["replicas"].as<int>(), 1);
  EXPECT_FALSE(out.pod()["affinity"]);
  for (const auto& d : out.docs) EXPECT_NE(d["kind"].as<std::string>(), "PodDisruptionBudget");
}

TEST(K8sRender, ServiceTypeIsNormalisedToKubernetesSpelling) {
  const std::pair<const char*, const char*> cases[] = {
      {"LoadBalancer", "LoadBalancer"}, {"loadbalancer", "LoadBalancer"},
      {"LOADBALANCER", "LoadBalancer"}, {"nodeport", "NodePort"},
      {"NodePort", "NodePort"},         {"clusterip", "ClusterIP"},
      {"ClusterIp", "ClusterIP"},       {"CLUSTERIP", "ClusterIP"}};
  for (const auto& [given, expected] : cases) {
    auto out = render_with({std::string("inferenceRouterServiceType=") + given});
    EXPECT_EQ(out.kind("Service")["spec"]["type"].as<std::string>(), expected) << given;
  }
}

TEST(K8sRender, MissingServiceTypeIsRefused) {
  auto out = render_yaml("extension: { sslSecret: scoring-tls, sslCname: scoring.example.com }\n");
  EXPECT_TRUE(out.rendered.problems.has("SERVICE_TYPE_MISSING"));
  EXPECT_TRUE(out.docs.empty());
}

TEST(K8sRender, TlsServesHttpsOn443AndMountsTheSecretWhereTheRouterReadsIt) {
  auto out = render_yaml(kTlsSettings);
  auto svc_port = out.kind("Service")["spec"]["ports"];
  ASSERT_EQ(svc_port.size(), 1u);  // the admin port is not exposed
  EXPECT_EQ(svc_port[0]["port"].as<int>(), 443);
  EXPECT_EQ(svc_port[0]["targetPort"].as<std::string>(), "https");
  auto ports = out.container()["ports"];
  EXPECT_EQ(ports[0]["name"].as<std::string>(), "https");
  EXPECT_EQ(ports[0]["containerPort"].as<int>(), 8443);
  EXPECT_EQ(ports[1]["name"].as<std::string>(), "probes");
  EXPECT_EQ(ports[1]["containerPort"].as<int>(), 9902);
  EXPECT_EQ(ports.size(), 2u);  // the admin listener is not a container port: loopback

  EXPECT_EQ(std::string(kSecretVolumeRoot), tls::kSecretVolumeRoot);
  bool mounted = false;
  for (const auto& m : out.container()["volumeMounts"])
    if (m["name"].as<std::string>() == "tls") {
      mounted = true;
      EXPECT_EQ(m["mountPath"].as<std::string>(), "/etc/scoregate/secrets/scoring-tls");
      EXPECT_TRUE(m["readOnly"].as<bool>());
    }
  EXPECT_TRUE(mounted);
  bool volume = false;
  for (const auto& v : out.pod()["volumes"])
    if (v["name"].as<std::string>() == "tls") {
      volume = true;
      EXPECT_EQ(v["secret"]["secretName"].as<std::string>(), "scoring-tls");
    }
  EXPECT_TRUE(volume);

  auto s = out.settings();
  EXPECT_EQ(s["extension"]["sslSecret"].as<std::string>(), "scoring-tls");
  EXPECT_EQ(s["router"]["listen"].as<std::string>(), "0.0.0.0:8443");
  EXPECT_EQ(s["router"]["admin"].as<std::string>(), "127.0.0.1:9901");
  EXPECT_EQ(s["router"]["probe_listen"].as<std::string>(), "0.0.0.0:9902");
  EXPECT_FALSE(s["router"]["secrets_dir"]);
}

TEST(K8sRender, SharedTicketKeysAreMountedFromASecretTheUserCreates) {
  auto out = render_yaml(std::string(kTlsSettings) +
                         "router:\n  session_ticket_key_file: /home/me/ticket.key\n");
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  EXPECT_EQ(out.settings()["router"]["session_ticket_key_file"].as<std::string>(),
            "/etc/scoregate/tickets/ticket.key");
  bool mounted = false, volume = false;
  for (const auto& m : out.container()["volumeMounts"])
    if (m["name"].as<std::string>() == "tickets") {
      mounted = true;
      EXPECT_EQ(m["mountPath"].as<std::string>(), "/etc/scoregate/tickets");
    }
  for (const auto& v : out.pod()["volumes"])
    if (v["name"].as<std::string>() == "tickets") {
      volume = true;
      EXPECT_EQ(v["secret"]["secretName"].as<std::string>(), "scoregate-tickets");
    }
  EXPECT_TRUE(mounted && volume) << out.rendered.yaml;
  bool told = false;
  for (const auto& n : out.rendered.notes)
    told = told || n.find("--from-file=ticket.key=/home/me/ticket.key") != std::string::npos;
  EXPECT_TRUE(told);
}

TEST(K8sRender, ReplicasWithoutSharedTicketKeysAreToldSo) {
  auto out = render_yaml(kTlsSettings);
  bool told = false;
  for (const auto& n : out.rendered.notes)
    told = told || n.find("session_ticket_key_file") != std::string::npos;
  EXPECT_TRUE(told);
  for (const auto& v : out.pod()["volumes"]) EXPECT_NE(v["name"].as<std::string>(), "tickets");
}

TEST(K8sRender, InsecureServesHttpOn80WithoutTlsVolume) {
  auto out = render_with({"allowInsecureConnections=True"},
                         "extension: { inferenceRouterServiceType: ClusterIP }\n");
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  auto svc_port = out.kind("Service")["spec"]["ports"][0];
  EXPECT_EQ(svc_port["port"].as<int>(), 80);
  EXPECT_EQ(svc_port["targetPort"].as<std::string>(), "http");
  EXPECT_EQ(out.container()["ports"][0]["containerPort"].as<int>(), 8080);
  for (const auto& v : out.pod()["volumes"]) EXPECT_NE(v["name"].as<std::string>(), "tls");
  EXPECT_EQ(out.settings()["router"]["listen"].as<std::string>(), "0.0.0.0:8080");
  bool warned = false;
  for (const auto& n : out.rendered.notes) warned |= n.find("allowInsecureConnections") == 0;
  EXPECT_TRUE(warned);
}

TEST(K8sRender, ProbesHitTheAdminPort) {
  auto c = render_yaml(kTlsSettings).container();
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<std::string>(), "probes");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<std::string>(), "probes");
}

TEST(K8sRender, PodIsLockedDown) {
  auto out = render_yaml(kTlsSettings);
  auto sc = out.container()["securityContext"];
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>());
  EXPECT_EQ(sc["capabilities"]["drop"][0].as<std::string>(), "ALL");
  EXPECT_TRUE(out.pod()["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_TRUE(out.container()["resources"]["requests"]["cpu"]);
}

TEST(K8sRender, GracePeriodOutlastsShutdownDelayAndDrain) {
  // Defaults: 5000 ms shutdown delay written for the pod + 25000 ms drain.
  auto out = render_yaml(kTlsSettings);
  EXPECT_EQ(out.settings()["router"]["shutdown_delay_ms"].as<int>(), 5000);
  EXPECT_GT(out.pod()["terminationGracePeriodSeconds"].as<int>(), 30);
  auto custom = render_yaml(std::string(kTlsSettings) +
                            "router: { shutdown_delay_ms: 10000, drain_timeout_ms: 50000 }\n");
  EXPECT_EQ(custom.settings()["router"]["shutdown_delay_ms"].as<int>(), 10000);
  EXPECT_GT(custom.pod()["terminationGracePeriodSeconds"].as<int>(), 60);
}

TEST(K8sRender, InlineKeysAreRefused) {
  auto out = render_yaml(
      "extension: { sslSecret: scoring-tls, sslCname: a.example.com, "
      "inferenceRouterServiceType: NodePort }\n"
      "endpoints:\n"
      "  - name: fraud\n"
      "    keys: { primary: inline-key-never-printed-0123456789 }\n"
      "    deployments: [ { name: blue, targets: [ \"10.0.0.5:5001\" ] } ]\n");
  EXPECT_TRUE(out.rendered.problems.has("K8S_INLINE_KEYS"));
  EXPECT_TRUE(out.rendered.yaml.empty());
  EXPECT_EQ(out.rendered.problems.to_string().find("inline-key-never-printed"), std::string::npos);
}

class KeyFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sg-k8s-keys-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "primary") << kPrimary << "\n";
    std::ofstream(dir_ / "secondary") << kSecondary << "\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string yaml() const {
    return "extension: { sslSecret: scoring-tls, sslCname: a.example.com, "
           "inferenceRouterServiceType: LoadBalancer }\n"
           "endpoints:\n"
           "  - name: Fraud\n"
           "    keys: { primary_file: \"" +
           (dir_ / "primary").string() + "\", secondary_file: \"" + (dir_ / "secondary").string() +
           "\" }\n"
           "    deployments: [ { name: blue, targets: [ \"10.0.0.5:5001\" ] } ]\n";
  }
  static constexpr const char* kPrimary = "primary-key-never-printed-0123456789";
  static constexpr const char* kSecondary = "secondary-key-never-printed-0123456789";
  std::filesystem::path dir_;
};

TEST_F(KeyFiles, AreMountedFromASecretAndNeverPrinted) {
  auto out = render_yaml(yaml());
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  // The note's command names the files render read (paths of endpoint key files are never
  // configuration-protected); the keys stay in them.
  bool told = false;
  for (const auto& n : out.rendered.notes)
    told |= n.find("create secret generic scoregate-keys-fraud --from-file=primary=" +
                   (dir_ / "primary").string() +
                   " --from-file=secondary=" + (dir_ / "secondary").string()) != std::string::npos;
  EXPECT_TRUE(told);
  EXPECT_EQ(out.rendered.yaml.find(kPrimary), std::string::npos);
  EXPECT_EQ(out.rendered.yaml.find(kSecondary), std::string::npos);
  // Only in the note comments at the top, never in the manifests themselves.
  const auto body = out.rendered.yaml.substr(out.rendered.yaml.find("\n---"));
  EXPECT_EQ(body.find(dir_.string()), std::string::npos);
  auto keys = out.settings()["endpoints"][0]["keys"];
  EXPECT_EQ(keys["primary_file"].as<std::string>(), "/etc/scoregate/keys/Fraud/primary");
  EXPECT_EQ(keys["secondary_file"].as<std::string>(), "/etc/scoregate/keys/Fraud/secondary");
  EXPECT_FALSE(keys["primary"]);
  bool mounted = false;
  for (const auto& v : out.pod()["volumes"])
    if (v["secret"] && v["secret"]["secretName"].as<std::string>() == "scoregate-keys-fraud") {
      mounted = true;
      for (const auto& m : out.container()["volumeMounts"]) {
        if (m["name"].as<std::string>() == v["name"].as<std::string>()) {
          EXPECT_EQ(m["mountPath"].as<std::string>(), "/etc/scoregate/keys/Fraud");
        }
      }
    }
  EXPECT_TRUE(mounted) << out.rendered.yaml;
}

TEST_F(KeyFiles, EndpointsNeverShareAKeySecret) {
  // "abc-2", "abc" and "ABC": the de-duplicating suffix of the third must not meet the first.
  std::string endpoints;
  for (const char* name : {"abc-2", "abc", "ABC"})
    endpoints += std::string("  - name: ") + name + "\n    keys: { primary_file: \"" +
                 (dir_ / "primary").string() +
                 "\" }\n    deployments: [ { name: blue, targets: [ \"10.0.0.5:5001\" ] } ]\n";
  auto out = render_yaml(
      "extension: { sslSecret: scoring-tls, sslCname: a.example.com, "
      "inferenceRouterServiceType: LoadBalancer }\nendpoints:\n" +
      endpoints);
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  std::set<std::string> secrets;
  int key_volumes = 0;
  for (const auto& v : out.pod()["volumes"])
    if (v["name"].as<std::string>().rfind("keys-", 0) == 0) {
      ++key_volumes;
      secrets.insert(v["secret"]["secretName"].as<std::string>());
    }
  EXPECT_EQ(key_volumes, 3);
  EXPECT_EQ(secrets.size(), 3u) << out.rendered.yaml;
}

TEST(K8sRender, ASettingsChangeChangesThePodTemplate) {
  auto a = render_yaml(kTlsSettings);
  auto b = render_yaml(std::string(kTlsSettings) + "router: { keepalive_timeout_ms: 1000 }\n");
  auto sum = [](const Output& o) {
    return o
        .kind("Deployment")["spec"]["template"]["metadata"]["annotations"]
                           ["scoregate.io/settings-sha256"]
        .as<std::string>();
  };
  EXPECT_EQ(sum(a).size(), 64u);
  EXPECT_EQ(sum(a), sum(render_yaml(kTlsSettings)));  // deterministic
  EXPECT_NE(sum(a), sum(b));
}

TEST(K8sRender, TrustedCaOutsideTheTlsSecretGetsItsOwnSecret) {
  // Only the TLS Secret's mount is there already: another Secret's directory, or a path that
  // climbs out of the TLS Secret with "..", is not mounted and gets Secret NAME-trusted-ca.
  for (const std::string rel : {"/other/ca.crt", "/scoring-tls/../other/ca.crt"}) {
    const std::string ca = std::string(kSecretVolumeRoot) + rel;
    auto out =
        render_yaml(std::string(kTlsSettings) + "router: { trusted_ca_file: \"" + ca + "\" }\n");
    ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
    EXPECT_EQ(out.settings()["router"]["trusted_ca_file"].as<std::string>(),
              "/etc/scoregate/trusted-ca/ca.crt")
        << rel;
  }
  auto kept =
      render_yaml(std::string(kTlsSettings) + "router: { trusted_ca_file: " + kSecretVolumeRoot +
                  "/scoring-tls/ca.crt }\n");
  EXPECT_EQ(kept.settings()["router"]["trusted_ca_file"].as<std::string>(),
            std::string(kSecretVolumeRoot) + "/scoring-tls/ca.crt");
}

TEST(K8sRender, UnicodeLineBreaksCannotAddKeys) {
  // YAML 1.1 readers break lines at U+2028: a path holding one must stay inside its value
  // (a trusted_ca_file inside the mounted TLS Secret is carried over as written).
  const std::string sep = "\xE2\x80\xA8";
  const std::string path = std::string(kSecretVolumeRoot) + "/scoring-tls/x";
  auto out = render_yaml(std::string(kTlsSettings) + "router:\n  trusted_ca_file: \"" + path + sep +
                         "injected: 1\"\n");
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  EXPECT_EQ(out.rendered.yaml.find(sep), std::string::npos) << "escaped, not written raw";
  EXPECT_EQ(out.settings()["router"]["trusted_ca_file"].as<std::string>(),
            path + sep + "injected: 1");
  EXPECT_FALSE(out.settings()["injected"]);
  for (const auto& d : out.docs) EXPECT_FALSE(d["injected"]);
}

TEST(K8sRender, PrintedCommandsQuoteWhatTheShellWouldSplit) {
  auto out = render_yaml(
      "extension: { sslSecret: scoring-tls, sslCname: \"*.example.com\", "
      "inferenceRouterServiceType: LoadBalancer }\n"
      "router: { session_ticket_key_file: \"/my keys/ticket.key\" }\n"
      "endpoints: [ { name: fraud, auth_mode: none, deployments: [ { name: blue, targets: "
      "[ \"10.0.0.5:5001\" ] } ] } ]\n");
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  std::string notes;
  for (const auto& n : out.rendered.notes) notes += n + "\n";
  EXPECT_NE(notes.find("--cname '*.example.com'"), std::string::npos) << notes;
  EXPECT_NE(notes.find("--from-file='ticket.key=/my keys/ticket.key'"), std::string::npos) << notes;
}

TEST(K8sRender, PemFilesBecomeASecretTheUserCreatesAndThePathsAreNeverPrinted) {
  settings::CommandLine cl;
  cl.config = {"sslCname=a.example.com", "inferenceRouterServiceType=LoadBalancer"};
  cl.config_protected = {"sslCertPemFile=/home/me/secret-cert-path.pem",
                         "sslKeyPemFile=/home/me/secret-key-path.pem"};
  auto out = render_yaml("", cl);
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  std::string everything = out.rendered.yaml;
  for (const auto& n : out.rendered.notes) everything += n;
  EXPECT_EQ(everything.find("secret-cert-path"), std::string::npos);
  EXPECT_EQ(everything.find("secret-key-path"), std::string::npos);
  EXPECT_NE(everything.find("--cert <sslCertPemFile> --key <sslKeyPemFile>"), std::string::npos);
  auto s = out.settings();
  EXPECT_EQ(s["extension"]["sslSecret"].as<std::string>(), "scoregate-tls");
  EXPECT_FALSE(s["protected"]["sslCertPemFile"]);
  bool volume = false;
  for (const auto& v : out.pod()["volumes"])
    volume |= v["name"].as<std::string>() == "tls" &&
              v["secret"]["secretName"].as<std::string>() == "scoregate-tls";
  EXPECT_TRUE(volume);
}

TEST(K8sRender, OddStringsStayStrings) {
  RenderOptions o;
  o.image = "registry.example.com:5000/team/scoregate:1.0#x";
  o.namespace_ = "ml-prod";
  o.name = "router";
  ASSERT_FALSE(options_problem(o));
  const std::string ca = std::string(kSecretVolumeRoot) + "/scoring-tls/ca: #1/root.pem";
  auto out = render_yaml(
      std::string(kTlsSettings) + "router: { trusted_ca_file: \"" + ca + "\" }\n", {}, o);
  ASSERT_EQ(out.docs.size(), 4u) << out.rendered.yaml;
  EXPECT_EQ(out.container()["image"].as<std::string>(), o.image);
  EXPECT_EQ(out.kind("Service")["metadata"]["name"].as<std::string>(), "router");
  EXPECT_EQ(out.kind("Service")["metadata"]["namespace"].as<std::string>(), "ml-prod");
  EXPECT_EQ(out.settings()["router"]["trusted_ca_file"].as<std::string>(), ca);
  // A numeric-looking image stays a string.
  o.image = "12345";
  auto numeric = render_yaml(kTlsSettings, {}, o);
  EXPECT_NE(numeric.rendered.yaml.find("\"12345\""), std::string::npos);
}

TEST(K8sRender, OptionsThatCannotNameObjectsAreRefused) {
  RenderOptions o;
  EXPECT_FALSE(options_problem(o));
  o.name = "Scoregate";
  EXPECT_TRUE(options_problem(o));
  o.name = "a:b";
  EXPECT_TRUE(options_problem(o));
  o = {};
  o.namespace_ = "azure ml";
  EXPECT_TRUE(options_problem(o));
  o = {};
  o.image = "";
  EXPECT_TRUE(options_problem(o));
}

}  // namespace
}  // namespace scoregate::k8s

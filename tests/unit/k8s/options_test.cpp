// k8s render's options (RenderOptions): each flag's effect on the manifests, and its refusals.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "k8s/render.hpp"
#include "k8s/rendered.hpp"

namespace scoregate::k8s {
namespace {

constexpr const char* kSettings =
    "extension:\n"
    "  sslSecret: scoring-tls\n"
    "  sslCname: \"scoring.example.com, *.scoring.example.com\"\n"
    "  inferenceRouterServiceType: LoadBalancer\n"
    "endpoints:\n"
    "  - name: fraud\n"
    "    auth_mode: none\n"
    "    deployments:\n"
    "      - name: blue\n"
    "        targets: [ \"dns:fraud-blue.models.svc.cluster.local:5001\", \"10.0.0.7:7000\" ]\n";

using Out = testing::RenderedDocs;

Out run(const RenderOptions& o, std::vector<std::string> config = {},
        const std::string& yaml = kSettings, std::vector<std::string> config_protected = {}) {
  settings::CommandLine cl;
  cl.config = std::move(config);
  cl.config_protected = std::move(config_protected);
  return testing::render_yaml(yaml, cl, o);
}

TEST(K8sOptions, DefaultsAddNothingOptional) {
  auto out = run({});
  EXPECT_EQ(out.kinds(), (std::vector<std::string>{"ConfigMap", "Deployment", "Service",
                                                   "PodDisruptionBudget"}));
  EXPECT_EQ(out.find("Deployment")["spec"]["replicas"].as<int>(), 3);
  EXPECT_FALSE(out.pod()["imagePullSecrets"]);
  EXPECT_FALSE(out.find("Service")["spec"]["externalTrafficPolicy"]);
  auto res = out.pod()["containers"][0]["resources"];
  EXPECT_EQ(res["requests"]["cpu"].as<std::string>(), "250m");
  EXPECT_EQ(res["limits"]["memory"].as<std::string>(), "1Gi");
  EXPECT_FALSE(res["limits"]["cpu"]);
  auto ann = out.find("Deployment")["spec"]["template"]["metadata"]["annotations"];
  EXPECT_EQ(ann["prometheus.io/scrape"].as<std::string>(), "true");
  EXPECT_EQ(ann["prometheus.io/port"].as<std::string>(), "9902");
  EXPECT_EQ(ann["prometheus.io/path"].as<std::string>(), "/metrics");
}

TEST(K8sOptions, HaSpreadsOverZonesPreferably) {
  auto spread = run({}).pod()["topologySpreadConstraints"][0];
  EXPECT_EQ(spread["topologyKey"].as<std::string>(), "topology.kubernetes.io/zone");
  EXPECT_EQ(spread["whenUnsatisfiable"].as<std::string>(), "ScheduleAnyway");
  EXPECT_EQ(spread["maxSkew"].as<int>(), 1);
  EXPECT_EQ(spread["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"].as<std::string>(),
            "scoregate");
  auto single = run({}, {"inferenceRouterHA=False"});
  EXPECT_FALSE(single.pod()["topologySpreadConstraints"]);
  EXPECT_EQ(single.find("Deployment")["spec"]["replicas"].as<int>(), 1);
}

TEST(K8sOptions, NamespaceReplicasPullSecretsResources) {
  RenderOptions o;
  o.namespace_ = "ml";
  o.create_namespace = true;
  o.replicas = 5;
  o.image_pull_secrets = {"regcred", "mirror.creds"};
  o.cpu_request = "500m";
  o.cpu_limit = "2";
  o.memory_request = "256Mi";
  o.memory_limit = "2Gi";
  auto out = run(o, {"inferenceRouterHA=False"});
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  EXPECT_EQ(out.kinds().front(), "Namespace");
  EXPECT_EQ(out.docs[0]["metadata"]["name"].as<std::string>(), "ml");
  EXPECT_FALSE(out.docs[0]["metadata"]["namespace"]);
  EXPECT_EQ(out.find("Deployment")["spec"]["replicas"].as<int>(), 5);
  EXPECT_EQ(out.pod()["imagePullSecrets"][1]["name"].as<std::string>(), "mirror.creds");
  auto res = out.pod()["containers"][0]["resources"];
  EXPECT_EQ(res["requests"]["cpu"].as<std::string>(), "500m");
  EXPECT_EQ(res["requests"]["memory"].as<std::string>(), "256Mi");
  EXPECT_EQ(res["limits"]["cpu"].as<std::string>(), "2");
  EXPECT_EQ(res["limits"]["memory"].as<std::string>(), "2Gi");
}

TEST(K8sOptions, QuantitiesAreCheckedAndRequestsStayUnderLimits) {
  auto with = [](auto set) {
    RenderOptions o;
    set(o);
    return options_problem(o);
  };
  EXPECT_FALSE(with([](RenderOptions& o) { o.cpu_request = "0.5"; }));
  EXPECT_FALSE(with([](RenderOptions& o) { o.memory_request = "1e8"; }));
  EXPECT_FALSE(with([](RenderOptions& o) { o.memory_limit = "1G"; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.cpu_request = "250 m"; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.memory_request = "128MB"; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.memory_limit = "-1Gi"; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.cpu_limit = "two"; }));
  auto above = with([](RenderOptions& o) { o.memory_request = "2Gi"; });  // default limit 1Gi
  ASSERT_TRUE(above);
  EXPECT_NE(above->find("--memory-limit"), std::string::npos);
  EXPECT_TRUE(with([](RenderOptions& o) {
    o.cpu_request = "1500m";
    o.cpu_limit = "1";
  }));
  EXPECT_FALSE(with([](RenderOptions& o) {
    o.cpu_request = "1000m";
    o.cpu_limit = "1";
  }));
}

TEST(K8sOptions, OtherUsageErrors) {
  auto with = [](auto set) {
    RenderOptions o;
    set(o);
    return options_problem(o);
  };
  EXPECT_TRUE(with([](RenderOptions& o) { o.replicas = 0; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.image_pull_secrets = {"Reg_Cred"}; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.cert_manager_issuer = "Lets Encrypt"; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.cert_manager_issuer_kind = "clusterissuer"; }));
  EXPECT_TRUE(with([](RenderOptions& o) { o.external_traffic_policy = "local"; }));
}

TEST(K8sOptions, ExternalTrafficPolicyOnlyWithExternalServices) {
  RenderOptions o;
  o.external_traffic_policy = "Local";
  EXPECT_EQ(run(o).find("Service")["spec"]["externalTrafficPolicy"].as<std::string>(), "Local");
  EXPECT_EQ(run(o, {"inferenceRouterServiceType=NodePort"})
                .find("Service")["spec"]["externalTrafficPolicy"]
                .as<std::string>(),
            "Local");
  auto refused = run(o, {"inferenceRouterServiceType=ClusterIP"});
  EXPECT_TRUE(refused.rendered.problems.has("K8S_TRAFFIC_POLICY_CLUSTER_IP"));
  EXPECT_TRUE(refused.rendered.yaml.empty());
}

TEST(K8sOptions, NetworkPolicyOpensScoringProbesDnsAndModelPorts) {
  RenderOptions o;
  o.network_policy = true;
  auto np = run(o).find("NetworkPolicy")["spec"];
  ASSERT_TRUE(np) << run(o).rendered.yaml;
  EXPECT_EQ(np["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>(),
            "scoregate");
  EXPECT_EQ(np["ingress"][0]["ports"][0]["port"].as<int>(), 8443);
  EXPECT_FALSE(np["ingress"][0]["from"]);  // from anywhere
  EXPECT_TRUE(np["ingress"][1]["from"][0]["namespaceSelector"].IsMap());
  EXPECT_EQ(np["ingress"][1]["ports"][0]["port"].as<int>(), 9902);
  auto dns = np["egress"][0];
  EXPECT_EQ(dns["to"][0]["podSelector"]["matchLabels"]["k8s-app"].as<std::string>(), "kube-dns");
  EXPECT_EQ(dns["ports"][0]["protocol"].as<std::string>(), "UDP");
  EXPECT_EQ(dns["ports"][1]["protocol"].as<std::string>(), "TCP");
  auto models = np["egress"][1]["ports"];
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["port"].as<int>(), 5001);
  EXPECT_EQ(models[1]["port"].as<int>(), 7000);
  EXPECT_EQ(np["egress"].size(), 2u);
  auto insecure = run(o, {"allowInsecureConnections=True"}).find("NetworkPolicy")["spec"];
  EXPECT_EQ(insecure["ingress"][0]["ports"][0]["port"].as<int>(), 8080);
}

TEST(K8sOptions, CertManagerCertificateForEverySslCnameIntoSslSecret) {
  RenderOptions o;
  o.cert_manager_issuer = "letsencrypt";
  o.cert_manager_issuer_kind = "ClusterIssuer";
  auto out = run(o);
  auto cert = out.find("Certificate");
  ASSERT_TRUE(cert) << out.rendered.problems.to_string();
  EXPECT_EQ(cert["apiVersion"].as<std::string>(), "cert-manager.io/v1");
  auto spec = cert["spec"];
  EXPECT_EQ(spec["secretName"].as<std::string>(), "scoring-tls");
  ASSERT_EQ(spec["dnsNames"].size(), 2u);
  EXPECT_EQ(spec["dnsNames"][0].as<std::string>(), "scoring.example.com");
  EXPECT_EQ(spec["dnsNames"][1].as<std::string>(), "*.scoring.example.com");
  EXPECT_EQ(spec["privateKey"]["algorithm"].as<std::string>(), "ECDSA");
  EXPECT_EQ(spec["privateKey"]["size"].as<int>(), 256);
  EXPECT_EQ(spec["privateKey"]["rotationPolicy"].as<std::string>(), "Always");
  EXPECT_EQ(spec["renewBefore"].as<std::string>(), "720h");
  EXPECT_EQ(spec["issuerRef"]["name"].as<std::string>(), "letsencrypt");
  EXPECT_EQ(spec["issuerRef"]["kind"].as<std::string>(), "ClusterIssuer");
  // The pod mounts the Secret cert-manager writes, where the router reads sslSecret.
  EXPECT_EQ(out.pod()["volumes"][1]["secret"]["secretName"].as<std::string>(), "scoring-tls");
}

TEST(K8sOptions, CertManagerIsRefusedWithoutSslSecret) {
  RenderOptions o;
  o.cert_manager_issuer = "ca-issuer";
  auto insecure = run(o, {"allowInsecureConnections=True"});
  EXPECT_TRUE(insecure.rendered.problems.has("K8S_CERT_MANAGER_INSECURE"));
  EXPECT_TRUE(insecure.rendered.yaml.empty());
  auto pem =
      run(o, {}, "extension: { sslCname: a.example.com, inferenceRouterServiceType: NodePort }\n",
          {"sslCertPemFile=/nonexistent/cert.pem", "sslKeyPemFile=/nonexistent/key.pem"});
  EXPECT_TRUE(pem.rendered.problems.has("K8S_CERT_MANAGER_NEEDS_SSL_SECRET"));
  EXPECT_TRUE(pem.rendered.yaml.empty());
  EXPECT_EQ(pem.rendered.problems.to_string().find("/nonexistent"), std::string::npos);
}

TEST(K8sOptions, TrustedCaOutsideTheSecretIsMountedFromItsOwnSecret) {
  const std::string yaml =
      std::string(kSettings) + "router: { trusted_ca_file: /pki/root ca.pem }\n";
  auto out = run({}, {}, yaml);
  ASSERT_FALSE(out.docs.empty()) << out.rendered.problems.to_string();
  auto settings = YAML::Load(out.find("ConfigMap")["data"]["scoregate.yaml"].as<std::string>());
  EXPECT_EQ(settings["router"]["trusted_ca_file"].as<std::string>(),
            "/etc/scoregate/trusted-ca/ca.crt");
  bool volume = false, mount = false;
  for (const auto& v : out.pod()["volumes"])
    volume |= v["name"].as<std::string>() == "trusted-ca" &&
              v["secret"]["secretName"].as<std::string>() == "scoregate-trusted-ca";
  for (const auto& m : out.pod()["containers"][0]["volumeMounts"])
    mount |=
        m["mountPath"].as<std::string>() == "/etc/scoregate/trusted-ca" && m["readOnly"].as<bool>();
  EXPECT_TRUE(volume && mount) << out.rendered.yaml;
  bool told = false;
  for (const auto& n : out.rendered.notes)
    told |= n.find(
                "kubectl -n azureml create secret generic scoregate-trusted-ca "
                "--from-file='ca.crt=/pki/root ca.pem'") != std::string::npos;
  EXPECT_TRUE(told);
  // Already inside the mounted TLS Secret (its ca.crt): nothing more to mount.
  auto inside = run({}, {},
                    std::string(kSettings) +
                        "router: { trusted_ca_file: /etc/scoregate/secrets/scoring-tls/ca.crt }\n");
  for (const auto& v : inside.pod()["volumes"])
    EXPECT_NE(v["name"].as<std::string>(), "trusted-ca");
}

}  // namespace
}  // namespace scoregate::k8s

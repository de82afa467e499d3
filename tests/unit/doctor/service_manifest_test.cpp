#include "doctor/service_manifest.hpp"

#include <gtest/gtest.h>

namespace scoregate::doctor {
namespace {

ServiceAddress parse(const std::string& yaml, Problems& p) {
  return parse_service_manifest(yaml, "svc.yaml", p);
}

TEST(DoctorServiceManifest, LoadBalancerIngress) {
  Problems p;
  auto s = parse(R"(kind: Service
metadata: {name: scoregate}
spec: {type: LoadBalancer, clusterIP: 10.96.0.10}
status: {loadBalancer: {ingress: [{ip: 20.1.2.3}, {hostname: lb.example.net}]}})",
                 p);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(s.ips, std::vector<std::string>{"20.1.2.3"});
  EXPECT_EQ(s.hostnames, std::vector<std::string>{"lb.example.net"});
  EXPECT_EQ(s.source, "Service 'scoregate' status.loadBalancer.ingress");
  EXPECT_TRUE(s.caution.empty());
}

TEST(DoctorServiceManifest, ExternalIpsThenClusterIp) {
  Problems p;
  auto s = parse(
      "kind: Service\nmetadata: {name: r}\nspec: {clusterIP: 10.0.0.1, externalIPs: "
      "[198.51.100.4]}\n",
      p);
  EXPECT_EQ(s.ips, std::vector<std::string>{"198.51.100.4"});
  EXPECT_EQ(s.source, "Service 'r' spec.externalIPs");
  EXPECT_TRUE(s.caution.empty());
  s = parse("kind: Service\nmetadata: {name: r}\nspec: {clusterIP: 10.0.0.1}\n", p);
  EXPECT_EQ(s.type, "ClusterIP");
  EXPECT_EQ(s.ips, std::vector<std::string>{"10.0.0.1"});
  EXPECT_NE(s.caution.find("only inside the cluster"), std::string::npos);
  s = parse("kind: Service\nmetadata: {name: r}\nspec: {type: NodePort, clusterIP: 10.0.0.1}\n", p);
  EXPECT_NE(s.caution.find("node"), std::string::npos);
  s = parse(
      "kind: Service\nmetadata: {name: r}\nspec: {type: LoadBalancer, clusterIP: 10.0.0.1}\n"
      "status: {loadBalancer: {}}\n",
      p);
  EXPECT_NE(s.caution.find("pending"), std::string::npos);
  EXPECT_TRUE(p.empty());
}

TEST(DoctorServiceManifest, ListOfOne) {
  Problems p;
  auto s = parse(
      "kind: List\nitems:\n- kind: Service\n  metadata: {name: r}\n"
      "  status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}\n",
      p);
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(s.ips, std::vector<std::string>{"1.2.3.4"});
}

TEST(DoctorServiceManifest, Problems) {
  for (const char* bad : {"kind: [", "kind: Deployment\n", "[1, 2]", "kind: List\nitems: []\n",
                          "kind: List\nitems: [{kind: Service}, {kind: Service}]\n", ""}) {
    Problems p;
    parse(bad, p);
    EXPECT_TRUE(p.has("DOCTOR_MANIFEST_INVALID")) << bad;
  }
  Problems p;
  parse("kind: Service\nmetadata: {name: r}\nspec: {clusterIP: None}\n", p);
  EXPECT_TRUE(p.has("DOCTOR_MANIFEST_NO_ADDRESS"));
}

}  // namespace
}  // namespace scoregate::doctor

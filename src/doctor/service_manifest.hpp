// The address a Kubernetes Service exposes, read from `kubectl get svc NAME -o yaml` saved to a
// file (`scoregate doctor --service-manifest`): what the DNS name of the endpoint should point
// at. Sans-IO: YAML text in; yaml-cpp parses it (tests/fuzz/fuzz_service_manifest.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace scoregate::doctor {

struct ServiceAddress {
  std::string name;                    // metadata.name
  std::string type;                    // spec.type (ClusterIP when absent, as Kubernetes does)
  std::vector<std::string> ips;        // addresses to expect
  std::vector<std::string> hostnames;  // load balancer hostnames to resolve and expect
  std::string source;                  // e.g. "Service 'scoregate' status.loadBalancer.ingress"
  // Set when the address is not one clients outside the cluster can use (ClusterIP, a
  // LoadBalancer still pending, NodePort): what that means and what to do.
  std::string caution;
};

// status.loadBalancer.ingress[].ip/hostname first, else spec.externalIPs, else spec.clusterIP
// (with a caution). A `kind: List` of exactly one Service is accepted (kubectl get svc -o yaml
// without a name). Problems: DOCTOR_MANIFEST_INVALID, DOCTOR_MANIFEST_NO_ADDRESS.
ServiceAddress parse_service_manifest(std::string_view yaml, const std::string& where,
                                      Problems& problems);

}  // namespace scoregate::doctor

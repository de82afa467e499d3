#include "doctor/service_manifest.hpp"

#include <yaml-cpp/yaml.h>

namespace scoregate::doctor {

namespace {

std::string scalar(const YAML::Node& node) {
  return node && node.IsScalar() ? node.Scalar() : std::string();
}

YAML::Node child(const YAML::Node& node, const char* key) {
  return node && node.IsMap() ? node[key] : YAML::Node();
}

void from_ingress(const YAML::Node& svc, ServiceAddress& out) {
  const auto ingress = child(child(child(svc, "status"), "loadBalancer"), "ingress");
  if (!ingress || !ingress.IsSequence()) return;
  for (const auto& i : ingress) {
    if (const auto ip = scalar(child(i, "ip")); !ip.empty()) out.ips.push_back(ip);
    if (const auto h = scalar(child(i, "hostname")); !h.empty()) out.hostnames.push_back(h);
  }
  if (!out.ips.empty() || !out.hostnames.empty())
    out.source = "Service '" + out.name + "' status.loadBalancer.ingress";
}

void from_spec(const YAML::Node& spec, ServiceAddress& out) {
  const auto external = child(spec, "externalIPs");
  if (external && external.IsSequence())
    for (const auto& ip : external)
      if (!scalar(ip).empty()) out.ips.push_back(scalar(ip));
  if (!out.ips.empty()) {
    out.source = "Service '" + out.name + "' spec.externalIPs";
    return;
  }
  const auto cluster_ip = scalar(child(spec, "clusterIP"));
  if (cluster_ip.empty() || cluster_ip == "None") return;
  out.ips.push_back(cluster_ip);
  out.source = "Service '" + out.name + "' spec.clusterIP";
}

std::string caution_for(const std::string& type) {
  if (type == "LoadBalancer")
    return "the LoadBalancer has no external address yet (EXTERNAL-IP <pending>): this is its "
           "cluster-internal IP; wait for the cloud to assign one, then point DNS at that";
  if (type == "NodePort")
    return "a NodePort Service is reached on a node's IP and the node port, not on this "
           "cluster-internal IP: point DNS at the nodes (or a load balancer in front of them)";
  return "a " + type +
         " Service is reachable only inside the cluster: this IP is not for "
         "clients outside it; use inferenceRouterServiceType=LoadBalancer (or NodePort) to "
         "expose the router";
}

YAML::Node the_service(const YAML::Node& root, const std::string& where, Problems& problems) {
  if (scalar(child(root, "kind")) != "List") return root;
  const auto items = child(root, "items");
  if (items && items.IsSequence() && items.size() == 1) return items[0];
  problems.error("DOCTOR_MANIFEST_INVALID", where,
                 "a List of " + std::to_string(items && items.IsSequence() ? items.size() : 0) +
                     " objects, not one Service",
                 "save one Service: kubectl get svc NAME -n azureml -o yaml > svc.yaml");
  return {};
}

}  // namespace

ServiceAddress parse_service_manifest(std::string_view yaml, const std::string& where,
                                      Problems& problems) {
  ServiceAddress out;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    problems.error("DOCTOR_MANIFEST_INVALID", where, std::string("not YAML: ") + e.what(),
                   "save the Service with kubectl get svc NAME -n azureml -o yaml > svc.yaml");
    return out;
  }
  const auto svc = the_service(root, where, problems);
  if (!svc) return out;
  if (scalar(child(svc, "kind")) != "Service") {
    problems.error("DOCTOR_MANIFEST_INVALID", where, "not a Service (kind: Service missing)",
                   "save the router's Service: kubectl get svc NAME -n azureml -o yaml");
    return out;
  }
  out.name = scalar(child(child(svc, "metadata"), "name"));
  const auto spec = child(svc, "spec");
  out.type = scalar(child(spec, "type"));
  if (out.type.empty()) out.type = "ClusterIP";
  from_ingress(svc, out);
  if (out.source.empty()) {
    from_spec(spec, out);
    if (out.source.find("clusterIP") != std::string::npos) out.caution = caution_for(out.type);
  }
  if (out.source.empty())
    problems.error(
        "DOCTOR_MANIFEST_NO_ADDRESS", where,
        "Service '" + out.name + "' has no address (no ingress, externalIPs or clusterIP)",
        "wait until kubectl get svc shows an address, then save it again");
  return out;
}

}  // namespace scoregate::doctor

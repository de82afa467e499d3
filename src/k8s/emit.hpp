// What the manifest writers of k8s/ share (render.cpp, objects.cpp): the render context and
// the yaml-cpp emitter helpers. Private to k8s/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "k8s/render.hpp"

namespace scoregate::k8s::detail {

struct Context {
  const RenderOptions& o;
  const PodSettings& pod;
  bool insecure;
  bool ha;
  std::string service_type;
  std::string settings_text;    // the ConfigMap's scoregate.yaml
  std::string settings_sha256;  // of settings_text, hex
  std::string config_map() const { return o.name + "-config"; }
  const char* port_name() const { return insecure ? "http" : "https"; }
};

// User-controlled text, always double-quoted.
YAML::Emitter& text(YAML::Emitter& out, const std::string& s);
void key(YAML::Emitter& out, const char* k);
void selector_labels(YAML::Emitter& out, const Context& x);
// `---`, apiVersion, kind and metadata (name, namespace unless cluster-scoped, labels); the
// document's map stays open.
void begin(YAML::Emitter& out, const Context& x, const char* api, const char* kind,
           const std::string& name, bool namespaced = true);

// The optional objects (objects.cpp).
void namespace_object(YAML::Emitter& out, const Context& x);
void network_policy(YAML::Emitter& out, const Context& x);
void certificate(YAML::Emitter& out, const Context& x);
void topology_spread(YAML::Emitter& out, const Context& x);

}  // namespace scoregate::k8s::detail

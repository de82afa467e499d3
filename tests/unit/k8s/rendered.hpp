// Test helper for k8s render: settings text in, the rendered documents out, with lookups.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "k8s/render.hpp"

namespace scoregate::k8s::testing {

struct RenderedDocs {
  Rendered rendered;
  std::vector<YAML::Node> docs;
  // The document of a kind, or a null node.
  YAML::Node find(const std::string& k) const {
    for (const auto& d : docs)
      if (d["kind"].as<std::string>() == k) return d;
    return YAML::Node();
  }
  // The same, for a kind that must be there (a failure names what was rendered).
  YAML::Node kind(const std::string& k) const {
    auto d = find(k);
    if (!d) ADD_FAILURE() << "no " << k << " in:\n" << rendered.yaml;
    return d;
  }
  std::vector<std::string> kinds() const {
    std::vector<std::string> all;
    for (const auto& d : docs) all.push_back(d["kind"].as<std::string>());
    return all;
  }
  YAML::Node pod() const { return kind("Deployment")["spec"]["template"]["spec"]; }
  YAML::Node container() const { return pod()["containers"][0]; }
  // The router's settings as the pod reads them, parsed.
  YAML::Node settings() const {
    return YAML::Load(kind("ConfigMap")["data"]["scoregate.yaml"].as<std::string>());
  }
};

// Loads and validates yaml (with flags cl) for k8s render, then renders with options; invalid
// settings leave their problems in rendered.problems and no documents.
inline RenderedDocs render_yaml(const std::string& yaml, const settings::CommandLine& cl = {},
                                const RenderOptions& options = {}) {
  auto loaded = settings::load_from_string(yaml, "test.yaml", cl);
  EXPECT_FALSE(loaded.problems.has_errors()) << loaded.problems.to_string();
  auto validated = settings::validate(loaded.config, settings::Purpose::render);
  RenderedDocs out;
  if (!validated.settings) {
    out.rendered.problems = validated.problems;
    return out;
  }
  out.rendered = render(*validated.settings, options);
  if (!out.rendered.yaml.empty())
    for (const auto& d : YAML::LoadAll(out.rendered.yaml)) out.docs.push_back(d);
  return out;
}

}  // namespace scoregate::k8s::testing

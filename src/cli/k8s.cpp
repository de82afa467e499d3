// `scoregate k8s render`: the manifests on stdout (for `| kubectl apply -f -`), everything a
// person must read (problems, notes) on stderr.
#include <iostream>

#include "cli/commands.hpp"

namespace scoregate::cli {

int k8s_render(const K8sRenderArgs& a) {
  if (auto why = k8s::options_problem(a.options)) {
    std::cerr << "scoregate k8s render: " << *why << "\n";
    return 2;
  }
  auto loaded = settings::load(a.settings);
  Problems all = loaded.problems;
  std::optional<settings::ValidatedSettings> validated;
  if (!settings::settings_unread(loaded.problems)) {  // one round lists every problem
    auto v = settings::validate(loaded.config, settings::Purpose::render);
    all.append(v.problems);
    if (!loaded.problems.has_errors()) validated = std::move(v.settings);
  }
  std::optional<k8s::Rendered> rendered;
  if (validated) {
    rendered = k8s::render(*validated, a.options);
    all.append(rendered->problems);
  }
  if (!all.empty()) std::cerr << all.to_string();
  if (all.has_errors()) {
    std::cerr << "scoregate k8s render: no manifests written; fix the problems above\n";
    return 1;
  }
  for (const auto& note : rendered->notes) std::cerr << "note: " << note << "\n";
  std::cout << rendered->yaml;
  return 0;
}

}  // namespace scoregate::cli

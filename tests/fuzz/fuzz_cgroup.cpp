// libFuzzer target for the container CPU-limit parsers (runtime/container.hpp): the text of
// cgroup files and /proc/self/cgroup in, a CPU count or nothing out; never a crash, overflow
// or hang. The input is split at the first two NUL bytes: cpu.max | cfs quota | cfs period,
// and the whole input is also read as /proc/self/cgroup.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/container.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace scoregate::runtime;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto a = all.find('\0');
  const std::string_view cpu_max = all.substr(0, a);
  std::string_view rest = a == std::string_view::npos ? std::string_view{} : all.substr(a + 1);
  const auto b = rest.find('\0');
  const std::string_view quota = rest.substr(0, b);
  const std::string_view period =
      b == std::string_view::npos ? std::string_view{} : rest.substr(b + 1);
  if (auto n = cpus_from_cpu_max(cpu_max); n && *n == 0) __builtin_trap();  // at least 1
  if (auto n = cpus_from_cfs(quota, period); n && *n == 0) __builtin_trap();
  for (std::string_view controller : {"", "cpu", "cpu,cpuacct"}) (void)cgroup_path(all, controller);
  CpuLimits limits;
  limits.cgroup_v2 = cpus_from_cpu_max(cpu_max);
  limits.cgroup_v1 = cpus_from_cfs(quota, period);
  limits.hardware = 2;
  if (usable_cpus(limits).count == 0) __builtin_trap();
  return 0;
}

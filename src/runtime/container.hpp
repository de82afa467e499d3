// What the container lets the process use: the CPUs it may run on (cgroup v2 cpu.max, cgroup
// v1 CFS quota, the affinity mask; the smallest wins) and the open-files limit. The parsers are
// sans-IO (file contents in, number out) so each case is unit-tested; detect_cpu_limits() and
// raise_open_files_limit() do the reading. See README "Workers and limits".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sched.h>

namespace scoregate::runtime {

// cgroup v2 `cpu.max` ("QUOTA PERIOD" or "max PERIOD"): ceil(quota/period), at least 1;
// nullopt when there is no limit or the text is not understood.
std::optional<unsigned> cpus_from_cpu_max(std::string_view cpu_max);

// cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`: the same; -1 means no limit.
std::optional<unsigned> cpus_from_cfs(std::string_view quota_us, std::string_view period_us);

// The CPUs of an affinity mask (sched_getaffinity), at least 1.
unsigned cpus_in_mask(const cpu_set_t& mask);

// The cgroup path of a controller in /proc/self/cgroup's contents: controller "" is the cgroup
// v2 line ("0::/path"), else a v1 line naming it ("4:cpu,cpuacct:/path").
std::optional<std::string> cgroup_path(std::string_view proc_self_cgroup,
                                       std::string_view controller);

struct CpuLimits {
  std::optional<unsigned> cgroup_v2, cgroup_v1, affinity;
  unsigned hardware = 0;  // the node's CPUs (std::thread::hardware_concurrency)
};
struct CpuCount {
  unsigned count = 1;
  std::string
      source;  // "cgroup v2 cpu.max", "cgroup v1 cpu.cfs_quota_us", "affinity mask", "cores"
};
// The smallest of the known limits, at least 1.
CpuCount usable_cpus(const CpuLimits& limits);

// Reads /proc/self/cgroup, the cgroup files under /sys/fs/cgroup (the process's cgroup and
// its parents: a parent's quota binds too) and the affinity mask.
CpuLimits detect_cpu_limits();

struct OpenFilesLimit {
  unsigned long long soft_before = 0, soft = 0, hard = 0;
  std::string error;  // getrlimit/setrlimit failure; the limits are then as they were
};
// Raises the soft RLIMIT_NOFILE to the hard limit (each client and model connection is a file).
OpenFilesLimit raise_open_files_limit();

// router.max_connections when it is 0 (unset): (open_files - kOpenFilesReserve) / 2, at least 1,
// at most UINT32_MAX. The reserve is for what is not a client connection (listeners, admin and
// probe connections, settings, certificate and key files read at a reload, the spare descriptor
// of each worker, logs); the halving because each proxied client connection may hold one model
// connection (README "Workers and limits").
constexpr unsigned long long kOpenFilesReserve = 64;
std::uint32_t connection_limit_for(unsigned long long open_files);

}  // namespace scoregate::runtime

#include "runtime/container.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace scoregate::runtime {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<long long> to_number(std::string_view s) {
  s = trim(s);
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<unsigned> ceil_ratio(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  long long n = quota / period + (quota % period != 0);  // no overflow near LLONG_MAX
  return static_cast<unsigned>(std::clamp<long long>(n, 1, 1 << 20));
}

std::optional<std::string> read_small(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class Read>
std::optional<unsigned> smallest_up_to(const std::filesystem::path& root, const std::string& path,
                                       Read read) {
  // From the process's cgroup up to the mount root; in a cgroup namespace the path may not
  // exist under this mount (the root is then the container's own cgroup).
  std::optional<unsigned> best;
  auto dir = root / std::filesystem::path(path).relative_path();
  for (;;) {
    if (auto n = read(dir); n && (!best || *n < *best)) best = n;
    if (dir == root || !dir.has_relative_path() || dir.string().size() <= root.string().size())
      break;
    dir = dir.parent_path();
  }
  return best;
}

}  // namespace

std::optional<unsigned> cpus_from_cpu_max(std::string_view cpu_max) {
  cpu_max = trim(cpu_max);
  auto space = cpu_max.find(' ');
  auto quota_text = cpu_max.substr(0, space);
  if (quota_text == "max") return std::nullopt;
  auto quota = to_number(quota_text);
  // "QUOTA" alone means the default period of 100000 us.
  auto period = space == std::string_view::npos ? std::optional<long long>(100000)
                                                : to_number(cpu_max.substr(space + 1));
  if (!quota || !period) return std::nullopt;
  return ceil_ratio(*quota, *period);
}

std::optional<unsigned> cpus_from_cfs(std::string_view quota_us, std::string_view period_us) {
  auto quota = to_number(quota_us), period = to_number(period_us);
  if (!quota || !period) return std::nullopt;
  return ceil_ratio(*quota, *period);
}

unsigned cpus_in_mask(const cpu_set_t& mask) {
  return static_cast<unsigned>(std::max(1, CPU_COUNT(&mask)));
}

std::optional<std::string> cgroup_path(std::string_view contents, std::string_view controller) {
  while (!contents.empty()) {
    auto eol = contents.find('\n');
    auto line = contents.substr(0, eol);
    contents = eol == std::string_view::npos ? std::string_view() : contents.substr(eol + 1);
    auto first = line.find(':');
    auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    auto hierarchy = line.substr(0, first);
    auto controllers = line.substr(first + 1, second - first - 1);
    auto path = std::string(trim(line.substr(second + 1)));
    if (controller.empty()) {
      if (hierarchy == "0" && controllers.empty()) return path;
      continue;
    }
    for (std::size_t start = 0; start <= controllers.size();) {
      auto comma = controllers.find(',', start);
      auto name =
          controllers.substr(start, comma == std::string_view::npos ? comma : comma - start);
      if (name == controller) return path;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  return std::nullopt;
}

CpuCount usable_cpus(const CpuLimits& limits) {
  CpuCount out{std::max(1u, limits.hardware), "cores"};
  const std::pair<const std::optional<unsigned>*, const char*> candidates[] = {
      {&limits.affinity, "affinity mask"},
      {&limits.cgroup_v2, "cgroup v2 cpu.max"},
      {&limits.cgroup_v1, "cgroup v1 cpu.cfs_quota_us"}};
  for (const auto& [value, source] : candidates)
    if (*value && **value < out.count) out = {std::max(1u, **value), source};
  return out;
}

CpuLimits detect_cpu_limits() {
  namespace fs = std::filesystem;
  CpuLimits limits;
  limits.hardware = std::thread::hardware_concurrency();
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (::sched_getaffinity(0, sizeof mask, &mask) == 0) limits.affinity = cpus_in_mask(mask);
  auto self = read_small("/proc/self/cgroup");
  if (!self) return limits;
  if (auto path = cgroup_path(*self, "")) {
    limits.cgroup_v2 = smallest_up_to("/sys/fs/cgroup", *path, [](const fs::path& dir) {
      auto text = read_small(dir / "cpu.max");
      return text ? cpus_from_cpu_max(*text) : std::nullopt;
    });
  }
  if (auto path = cgroup_path(*self, "cpu")) {
    for (const char* mount :
         {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpuacct,cpu"}) {
      std::error_code ec;
      if (!fs::is_directory(mount, ec)) continue;
      limits.cgroup_v1 = smallest_up_to(mount, *path, [](const fs::path& dir) {
        auto quota = read_small(dir / "cpu.cfs_quota_us");
        auto period = read_small(dir / "cpu.cfs_period_us");
        return quota && period ? cpus_from_cfs(*quota, *period) : std::nullopt;
      });
      break;
    }
  }
  return limits;
}

OpenFilesLimit raise_open_files_limit() {
  OpenFilesLimit out;
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.soft_before = out.soft = lim.rlim_cur;
  out.hard = lim.rlim_max;
  if (lim.rlim_cur == lim.rlim_max) return out;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    out.error = std::strerror(errno);
    return out;
  }
  out.soft = lim.rlim_cur;
  return out;
}

std::uint32_t connection_limit_for(unsigned long long open_files) {
  if (open_files <= kOpenFilesReserve + 2) return 1;
  return static_cast<std::uint32_t>(
      std::min<unsigned long long>((open_files - kOpenFilesReserve) / 2, UINT32_MAX));
}

}  // namespace scoregate::runtime

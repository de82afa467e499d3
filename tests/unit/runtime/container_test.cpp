#include <gtest/gtest.h>

#include "runtime/container.hpp"

using namespace scoregate::runtime;

TEST(CpuMax, NoLimit) { EXPECT_EQ(cpus_from_cpu_max("max 100000\n"), std::nullopt); }

TEST(CpuMax, RoundsUp) {
  EXPECT_EQ(cpus_from_cpu_max("150000 100000\n"), 2u);
  EXPECT_EQ(cpus_from_cpu_max("100000 100000"), 1u);
  EXPECT_EQ(cpus_from_cpu_max("400000 100000"), 4u);
}

TEST(CpuMax, SmallQuotaIsOneCpu) { EXPECT_EQ(cpus_from_cpu_max("10000 100000"), 1u); }

TEST(CpuMax, QuotaAloneUsesTheDefaultPeriod) { EXPECT_EQ(cpus_from_cpu_max("250000"), 3u); }

TEST(CpuMax, Garbage) {
  EXPECT_EQ(cpus_from_cpu_max(""), std::nullopt);
  EXPECT_EQ(cpus_from_cpu_max("lots 100000"), std::nullopt);
  EXPECT_EQ(cpus_from_cpu_max("100000 0"), std::nullopt);
  EXPECT_EQ(cpus_from_cpu_max("-5 100000"), std::nullopt);
}

TEST(CfsQuota, MinusOneIsNoLimit) { EXPECT_EQ(cpus_from_cfs("-1\n", "100000\n"), std::nullopt); }

TEST(CfsQuota, RoundsUp) {
  EXPECT_EQ(cpus_from_cfs("50000\n", "100000\n"), 1u);
  EXPECT_EQ(cpus_from_cfs("250000", "100000"), 3u);
  EXPECT_EQ(cpus_from_cfs("x", "100000"), std::nullopt);
}

TEST(Affinity, CountsTheMask) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  EXPECT_EQ(cpus_in_mask(mask), 1u);  // never 0 workers
  CPU_SET(0, &mask);
  EXPECT_EQ(cpus_in_mask(mask), 1u);
  CPU_SET(3, &mask);
  CPU_SET(7, &mask);
  EXPECT_EQ(cpus_in_mask(mask), 3u);
}

TEST(CgroupPath, FindsV2AndV1Lines) {
  const char* text =
      "12:cpuset:/\n4:cpu,cpuacct:/kubepods/burstable/pod1/abc\n1:name=systemd:/x\n0::/"
      "kubepods.slice/pod2\n";
  EXPECT_EQ(cgroup_path(text, ""), "/kubepods.slice/pod2");
  EXPECT_EQ(cgroup_path(text, "cpu"), "/kubepods/burstable/pod1/abc");
  EXPECT_EQ(cgroup_path(text, "cpuacct"), "/kubepods/burstable/pod1/abc");
  EXPECT_EQ(cgroup_path(text, "memory"), std::nullopt);
  EXPECT_EQ(cgroup_path("0::/\n", ""), "/");
  EXPECT_EQ(cgroup_path("", ""), std::nullopt);
  EXPECT_EQ(cgroup_path("garbage\n", "cpu"), std::nullopt);
}

TEST(UsableCpus, SmallestWins) {
  CpuLimits l;
  l.hardware = 8;
  EXPECT_EQ(usable_cpus(l).count, 8u);
  EXPECT_EQ(usable_cpus(l).source, "cores");
  l.cgroup_v2 = 2;
  l.affinity = 4;
  EXPECT_EQ(usable_cpus(l).count, 2u);
  EXPECT_EQ(usable_cpus(l).source, "cgroup v2 cpu.max");
  l.affinity = 1;
  EXPECT_EQ(usable_cpus(l).count, 1u);
  EXPECT_EQ(usable_cpus(l).source, "affinity mask");
  CpuLimits v1;
  v1.hardware = 16;
  v1.cgroup_v1 = 3;
  EXPECT_EQ(usable_cpus(v1).count, 3u);
  EXPECT_EQ(usable_cpus(CpuLimits{}).count, 1u);  // hardware unknown (0): one worker
}

TEST(OpenFiles, SoftIsRaisedToHard) {
  auto r = raise_open_files_limit();
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.soft, r.hard);
  EXPECT_LE(r.soft_before, r.soft);
}

// router.max_connections unset: (open files - 64) / 2, each client connection may hold a model
// connection (README "Workers and limits").
TEST(ConnectionLimit, HalfOfTheOpenFilesAfterTheReserve) {
  EXPECT_EQ(connection_limit_for(1048576), 524256u);
  EXPECT_EQ(connection_limit_for(65536), 32736u);
  EXPECT_EQ(connection_limit_for(1024), 480u);
  EXPECT_EQ(connection_limit_for(128), 32u);
}

TEST(ConnectionLimit, NeverZeroNorPastUint32) {
  EXPECT_EQ(connection_limit_for(0), 1u);
  EXPECT_EQ(connection_limit_for(64), 1u);
  EXPECT_EQ(connection_limit_for(66), 1u);
  EXPECT_EQ(connection_limit_for(70), 3u);
  EXPECT_EQ(connection_limit_for(~0ULL), UINT32_MAX);  // RLIM_INFINITY
}

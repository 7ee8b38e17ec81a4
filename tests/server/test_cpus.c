/* The default thread count: the CPU affinity mask and the cgroup CPU quota
 * (v2 cpu.max, v1 cfs quota and period) read from a cgroup tree built in a
 * temporary directory, the way the kernel lays it out. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv_config.h"
#include "srv_cpus.h"

static char root[64];

static void mk_root(void) {
  snprintf(root, sizeof root, "%s", "/tmp/gravitas-cg-XXXXXX");
  cr_assert_not_null(mkdtemp(root));
}

static void rm_root(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  cr_assert_eq(system(cmd), 0);
}

/* Writes text to root/rel, creating the directories on the way. */
static void put(const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(path, 0755);
    *p = '/';
  }
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "%s", path);
  fputs(text, f);
  fclose(f);
}

TestSuite(cpus, .init = mk_root, .fini = rm_root);

Test(cpus, no_cgroup_files_no_quota) {
  cr_assert_eq(srv_cgroup_cpus(root, "0::/\n"), 0u);
  cr_assert_eq(srv_cgroup_cpus(root, "4:cpu,cpuacct:/\n"), 0u);
  cr_assert_eq(srv_cgroup_cpus(root, ""), 0u);
  cr_assert_eq(srv_cgroup_cpus(NULL, "0::/\n"), 0u);
}

Test(cpus, v2_max_is_no_quota) {
  put("cpu.max", "max 100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "0::/\n"), 0u);
}

Test(cpus, v2_quota_rounds_up) {
  put("cpu.max", "150000 100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "0::/\n"), 2u);
  put("cpu.max", "200000 100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "0::/\n"), 2u);
  put("cpu.max", "25000 100000\n"); /* Kubernetes' 250m */
  cr_assert_eq(srv_cgroup_cpus(root, "0::/\n"), 1u);
}

Test(cpus, v2_smallest_quota_on_the_path_wins) {
  put("kubepods/cpu.max", "300000 100000\n");
  put("kubepods/pod1/cpu.max", "max 100000\n");
  put("kubepods/pod1/ctr/cpu.max", "800000 100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "0::/kubepods/pod1/ctr\n"), 3u);
  /* A sibling's quota does not apply. */
  put("other/cpu.max", "100000 100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "0::/kubepods/pod1/ctr\n"), 3u);
}

Test(cpus, v2_in_the_hybrid_layout) {
  put("unified/svc/cpu.max", "100000 100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "0::/svc\n"), 1u);
}

Test(cpus, v1_quota_and_period) {
  put("cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  put("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "3:cpu,cpuacct:/\n"), 0u);
  put("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n");
  put("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "12:pids:/docker/abc\n"
                                     "3:cpu,cpuacct:/docker/abc\n"
                                     "0::/docker/abc\n"),
               1u);
}

Test(cpus, v1_container_sees_its_cgroup_at_the_mount_point) {
  /* The path from /proc names the host's cgroup, which the container's
   * mount does not have: the mount point's own quota counts. */
  put("cpu/cpu.cfs_quota_us", "400000\n");
  put("cpu/cpu.cfs_period_us", "100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "2:cpuacct,cpu:/docker/abc\n"), 4u);
}

Test(cpus, v1_other_controllers_are_ignored) {
  put("cpuset/cpu.cfs_quota_us", "100000\n");
  put("cpuset/cpu.cfs_period_us", "100000\n");
  cr_assert_eq(srv_cgroup_cpus(root, "5:cpuset:/\n"), 0u);
}

Test(cpus, malformed_files_set_no_quota) {
  const char *bad[] = {"",
                       "150000\n",
                       "abc 100000\n",
                       "150000 0\n",
                       "-5 100000\n",
                       "150000 100000 7\n",
                       "150000x 100000\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    put("cpu.max", bad[i]);
    cr_assert_eq(srv_cgroup_cpus(root, "0::/\n"), 0u, "cpu.max \"%s\"", bad[i]);
  }
  put("cpu/cpu.cfs_quota_us", "50000\n");
  put("cpu/cpu.cfs_period_us", "zero\n");
  cr_assert_eq(srv_cgroup_cpus(root, "4:cpu:/\n"), 0u);
  /* Lines without the three fields. */
  cr_assert_eq(srv_cgroup_cpus(root, "garbage\n0:\n::\n"), 0u);
}

static const char *no_env(void *ctx, const char *name) {
  (void)ctx;
  (void)name;
  return NULL;
}

/* Each Criterion test runs in a process of its own: the mask set here does
 * not leak into other tests. */
Test(cpus, affinity_mask_bounds_the_default_threads) {
  cpu_set_t all;
  cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
  int first = -1;
  for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
    if (CPU_ISSET(c, &all)) first = c;
  cr_assert_geq(first, 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
  cr_assert_eq(srv_cpus(256), 1u);

  srv_config cfg;
  char err[256] = "";
  char *argv[] = {"gravitas", NULL};
  cr_assert_eq(srv_config_parse(&cfg, 1, argv, no_env, NULL, err, sizeof err),
               SRV_CONFIG_RUN, "%s", err);
  cr_assert_eq(cfg.threads, 1u, "one HTTP thread for one usable core");
  srv_config_free(&cfg);
}

Test(cpus, cap) {
  cr_assert_geq(srv_cpus(256), 1u);
  cr_assert_eq(srv_cpus(1), 1u);
}

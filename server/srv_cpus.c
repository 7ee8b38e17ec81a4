/* Cores this process may use (see srv_cpus.h). */
#define _GNU_SOURCE
#include "srv_cpus.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads up to cap-1 bytes of path into buf (NUL-terminated). */
static bool read_small(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  size_t n = fread(buf, 1, cap - 1, f);
  bool ok = !ferror(f);
  fclose(f);
  buf[n] = '\0';
  return ok && n > 0;
}

/* A whole decimal integer followed only by blanks (or, when next is not
 * NULL, by the rest, returned there). */
static bool parse_ll(const char *s, long long *v, const char **next) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (end == s || errno != 0) return false;
  if (next) {
    *next = end;
  } else {
    while (*end == ' ' || *end == '\n' || *end == '\t')
      end++;
    if (*end != '\0') return false;
  }
  *v = x;
  return true;
}

static unsigned ceil_cores(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  long long c = quota / period + (quota % period != 0);
  return c > UINT_MAX ? UINT_MAX : (unsigned)c;
}

/* The quota in dir (v2: cpu.max; v1: cpu.cfs_quota_us, cpu.cfs_period_us),
 * 0 when none. */
static unsigned quota_in(const char *dir, bool v2) {
  char path[PATH_MAX], buf[128];
  long long quota, period;
  if (v2) {
    if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path ||
        !read_small(path, buf, sizeof buf))
      return 0;
    if (strncmp(buf, "max", 3) == 0) return 0;
    const char *rest;
    if (!parse_ll(buf, &quota, &rest) || *rest != ' ' ||
        !parse_ll(rest + 1, &period, NULL))
      return 0;
    return ceil_cores(quota, period);
  }
  if (snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir) >=
          (int)sizeof path ||
      !read_small(path, buf, sizeof buf) || !parse_ll(buf, &quota, NULL))
    return 0;
  if (snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir) >=
          (int)sizeof path ||
      !read_small(path, buf, sizeof buf) || !parse_ll(buf, &period, NULL))
    return 0;
  return ceil_cores(quota, period);
}

static unsigned min_quota(unsigned a, unsigned b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return a < b ? a : b;
}

/* The smallest quota of base+cg and of each ancestor up to base. */
static unsigned walk(const char *base, const char *cg, bool v2) {
  char dir[PATH_MAX];
  int len = snprintf(dir, sizeof dir, "%s%s", base, cg);
  if (len < 0 || len >= (int)sizeof dir) return 0;
  while (len > 1 && dir[len - 1] == '/')
    dir[--len] = '\0';
  size_t base_len = strlen(base);
  unsigned best = 0;
  for (;;) {
    best = min_quota(best, quota_in(dir, v2));
    char *slash = strrchr(dir, '/');
    if (!slash || (size_t)(slash - dir) < base_len) break;
    *slash = '\0';
  }
  return best;
}

/* Whether the comma list of controllers names "cpu". */
static bool has_cpu(const char *list, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && list[j] != ',')
      j++;
    if (j - i == 3 && memcmp(list + i, "cpu", 3) == 0) return true;
    i = j + 1;
  }
  return false;
}

unsigned srv_cgroup_cpus(const char *root, const char *proc_cgroup) {
  if (!root || !proc_cgroup) return 0;
  unsigned best = 0;
  const char *line = proc_cgroup;
  while (*line) {
    const char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line) : strlen(line);
    /* "hierarchy-id:controllers:path" */
    const char *c1 = memchr(line, ':', n);
    const char *c2 =
        c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
    char cg[PATH_MAX], base[PATH_MAX];
    size_t plen = c2 ? n - (size_t)(c2 + 1 - line) : 0;
    if (c2 && plen > 0 && plen < sizeof cg && c2[1] == '/') {
      memcpy(cg, c2 + 1, plen);
      cg[plen] = '\0';
      size_t clen = (size_t)(c2 - c1 - 1);
      if (clen == 0 && c1 - line == 1 && line[0] == '0') {
        /* v2: one hierarchy mounted at root (or at root/unified in the
         * hybrid layout). In a container with its own cgroup namespace the
         * path is "/" and root is the container's cgroup. */
        best = min_quota(best, walk(root, cg, true));
        if (snprintf(base, sizeof base, "%s/unified", root) < (int)sizeof base)
          best = min_quota(best, walk(base, cg, true));
      } else if (has_cpu(c1 + 1, clen)) {
        /* v1: the cpu controller is mounted as root/cpu, root/cpu,cpuacct
         * or root/cpuacct,cpu; a container sees its own cgroup at the
         * mount point, where the path from /proc does not exist: the mount
         * point itself is tried too. */
        static const char *const mounts[] = {"cpu", "cpu,cpuacct",
                                             "cpuacct,cpu"};
        for (size_t m = 0; m < sizeof mounts / sizeof *mounts; m++) {
          if (snprintf(base, sizeof base, "%s/%s", root, mounts[m]) >=
              (int)sizeof base)
            continue;
          best = min_quota(best, walk(base, cg, false));
          best = min_quota(best, quota_in(base, false));
        }
      }
    }
    if (!eol) break;
    line = eol + 1;
  }
  return best;
}

unsigned srv_cpus(unsigned max) {
  unsigned n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    n = (unsigned)CPU_COUNT(&set);
  if (n == 0) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    n = online < 1 ? 1u
                   : (unsigned)(online > (long)UINT_MAX ? UINT_MAX : online);
  }
  char text[4096];
  if (read_small("/proc/self/cgroup", text, sizeof text)) {
    unsigned q = srv_cgroup_cpus("/sys/fs/cgroup", text);
    if (q > 0 && q < n) n = q;
  }
  if (n < 1) n = 1;
  return n > max ? max : n;
}

/* How many cores this process may use: the default of --threads ("one per
 * core", ARCHITECTURE). The machine's count overstates it in the two places
 * services usually run: a process pinned to some cores (taskset, cpusets,
 * systemd's CPUAffinity=) and a container with a CPU limit (a cgroup
 * quota, which is what Kubernetes' limits.cpu sets). */
#ifndef GRAVITAS_SRV_CPUS_H
#define GRAVITAS_SRV_CPUS_H

/* The cores the CPU quota of a cgroup allows, rounded up (a quota of 1.5
 * cores gives 2), or 0 when no quota applies. proc_cgroup is the text of
 * /proc/self/cgroup; root is where the cgroup file systems are mounted
 * ("/sys/fs/cgroup"). cgroup v2: cpu.max ("max 100000" or "150000 100000")
 * of the process's cgroup and of each ancestor, the smallest quota wins.
 * cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us of the cpu
 * controller's hierarchy, the same walk. A file that is missing or does
 * not parse sets no quota. */
unsigned srv_cgroup_cpus(const char *root, const char *proc_cgroup);

/* min(the CPUs of the affinity mask, srv_cgroup_cpus of this process), at
 * least 1 and at most max. Falls back to the online CPUs when the mask
 * cannot be read. */
unsigned srv_cpus(unsigned max);

#endif

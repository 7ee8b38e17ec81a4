/* What the C benchmarks share: wall and CPU clocks, and the peak memory of
 * one fit.
 *
 * Peak memory: the kernel's high-water mark
 * of the resident set (VmHWM) is reset through /proc/self/clear_refs (value
 * 5, Linux >= 4.0), the fit runs, and the peak above the resident set
 * before the fit is its working memory (the data it reads is already
 * resident). Linux only; on failure the numbers are 0. */
#ifndef GRAVITAS_BENCH_UTIL_H
#define GRAVITAS_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall-clock seconds (monotonic). */
static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the process, every thread: the wall time is unreliable on a
 * loaded host. */
static inline double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The value in KiB of a "Name:   123 kB" line of /proc/self/status. */
static inline long bench_status_kib(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  long v = 0;
  size_t len = strlen(name);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, name, len) == 0 && line[len] == ':') {
      v = strtol(line + len + 1, NULL, 10);
      break;
    }
  fclose(f);
  return v;
}

/* Resets VmHWM to the current VmRSS; returns that RSS (KiB). */
static inline long bench_mem_start(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
  return bench_status_kib("VmRSS");
}

/* Peak resident memory above start (KiB) since bench_mem_start. */
static inline long bench_mem_peak(long start) {
  long hwm = bench_status_kib("VmHWM");
  return hwm > start ? hwm - start : 0;
}

#endif

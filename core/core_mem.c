/* See core_mem.h. */
#include "core_mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

/* OpenBLAS's own entry point (cblas.h of OpenBLAS declares it; GSL's
 * gsl_cblas.h, which core/ includes, does not). */
void openblas_set_num_threads(int num_threads);

#define HUGE_PAGE ((size_t)2 << 20)

void *core_alloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  size_t bytes = n * size;
  if (bytes == 0) bytes = 1;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= HUGE_PAGE) {
    void *p = NULL;
    /* Round up so that the tail is a whole huge page too. */
    size_t rounded = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    if (rounded < bytes || posix_memalign(&p, HUGE_PAGE, rounded) != 0)
      return NULL;
    (void)madvise(p, rounded, MADV_HUGEPAGE); /* advice only: may fail */
    return p;
  }
#endif
  return malloc(bytes);
}

void *core_calloc(size_t n, size_t size) {
  void *p = core_alloc(n, size);
  if (p != NULL) memset(p, 0, n * size);
  return p;
}

void core_blas_single_thread(void) {
  openblas_set_num_threads(1);
}

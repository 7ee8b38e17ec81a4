/* Allocation of the large per-observation arrays of the estimators (columns
 * of the data, residuals, weights), and the BLAS threading policy.
 *
 * Why: on the virtual machines we run on, a first touch of a 4 KiB page
 * costs about 10 microseconds (a page fault through the hypervisor), so a fit
 * that touches 300 MB of fresh memory spent most of its time in the kernel
 * (perf: 36 % of the two-way FE fit at n = 1e6). Blocks of 2 MiB or more are
 * therefore aligned to 2 MiB and advised as transparent huge pages
 * (madvise(MADV_HUGEPAGE); the kernel's default "madvise" mode honours it),
 * which makes a first touch 512 times rarer. Smaller blocks are plain
 * malloc. Everything returned is released with free(). */
#ifndef GRAVITAS_CORE_MEM_H
#define GRAVITAS_CORE_MEM_H

#include <stddef.h>

/* n elements of size bytes, uninitialised; NULL on overflow or no memory.
 * n = 0 returns a valid (free-able) block. */
void *core_alloc(size_t n, size_t size);
/* The same, zero-filled. */
void *core_calloc(size_t n, size_t size);

/* Pins the BLAS (OpenBLAS) to the calling thread: the estimators call the
 * BLAS on long vectors, where OpenBLAS's worker threads spin in
 * sched_yield (19 % of the CPU of a fit) for no gain in wall time; the
 * server runs its own request threads. Idempotent. */
void core_blas_single_thread(void);

#endif

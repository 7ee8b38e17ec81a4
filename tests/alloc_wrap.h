/* An allocator for the tests of what the code does with the memory it gets,
 * for test executables linked with -Wl,--wrap=malloc -Wl,--wrap=calloc
 * (tests/CMakeLists.txt): every malloc and calloc of the code under test (and
 * of the test file) comes here; the libraries' own (Criterion, Jansson, GSL)
 * do not. Include it in one file of the executable.
 *
 *   alloc_zero_null = true;  malloc(0) and calloc(0, ...) answer NULL, as C
 *                            allows and some C libraries do (glibc answers a
 *                            unique pointer), so code that takes that NULL
 *                            for a lack of memory is caught on glibc too;
 *   alloc_fill = 0x7f;       every malloc'd block starts filled with that
 *                            byte (-1: left as the C library gives it), so a
 *                            result that depends on memory nobody wrote
 *                            changes with the byte. */
#ifndef GRAVITAS_TESTS_ALLOC_WRAP_H
#define GRAVITAS_TESTS_ALLOC_WRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static bool alloc_zero_null = false;
static int alloc_fill = -1;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);

void *__wrap_malloc(size_t n) {
  if (n == 0 && alloc_zero_null) return NULL;
  void *p = __real_malloc(n);
  if (p != NULL && alloc_fill >= 0) memset(p, alloc_fill, n);
  return p;
}

void *__wrap_calloc(size_t n, size_t size) {
  if ((n == 0 || size == 0) && alloc_zero_null) return NULL;
  return __real_calloc(n, size);
}

#endif

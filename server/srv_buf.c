/* The bounded growable buffer (see srv_buf.h). */
#include "srv_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_mem.h"

void srv_buf_init(srv_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

/* Makes room for `need` bytes plus the NUL. Growth doubles so that a body
 * arriving in many small chunks costs O(n) copies, but never allocates more
 * than the maximum allows. */
static srv_buf_result reserve(srv_buf *b, size_t need) {
  if (need > b->max || need == SIZE_MAX) return SRV_BUF_TOO_LARGE;
  if (need + 1 <= b->cap) return SRV_BUF_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need + 1) {
    if (cap > SIZE_MAX / 2) {
      cap = need + 1;
      break;
    }
    cap *= 2;
  }
  if (b->max < SIZE_MAX && cap > b->max + 1) cap = b->max + 1;
  /* A first block of 2 MiB or more is huge-page advised (core_mem.h: a
   * first touch of a 4 KiB page costs about 10 us on our VMs). */
  char *p = b->data == NULL ? core_alloc(cap, 1) : realloc(b->data, cap);
  if (p == NULL) return SRV_BUF_NOMEM;
  b->data = p;
  b->cap = cap;
  return SRV_BUF_OK;
}

srv_buf_result srv_buf_reserve(srv_buf *b, size_t n) {
  return reserve(b, n);
}

srv_buf_result srv_buf_append(srv_buf *b, const void *data, size_t n) {
  /* len <= max always holds, so the subtraction cannot wrap. */
  if (n > b->max - b->len) return SRV_BUF_TOO_LARGE;
  srv_buf_result r = reserve(b, b->len + n);
  if (r != SRV_BUF_OK) return r;
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
  return SRV_BUF_OK;
}

srv_buf_result srv_buf_printf(srv_buf *b, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return SRV_BUF_NOMEM;
  if ((size_t)n < sizeof small) return srv_buf_append(b, small, (size_t)n);
  /* Too long for the stack buffer: format straight into the reserved tail. */
  if ((size_t)n > b->max - b->len) return SRV_BUF_TOO_LARGE;
  srv_buf_result r = reserve(b, b->len + (size_t)n);
  if (r != SRV_BUF_OK) return r;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return SRV_BUF_OK;
}

char *srv_buf_steal(srv_buf *b) {
  char *p = b->data;
  srv_buf_init(b, b->max);
  return p;
}

void srv_buf_free(srv_buf *b) {
  if (b == NULL) return;
  free(b->data);
  srv_buf_init(b, b->max);
}

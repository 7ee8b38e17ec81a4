/* A growable byte buffer with a hard maximum: the one buffer type used for
 * request bodies, curl responses and rendered text (STYLE item 10). */
#ifndef GRAVITAS_SRV_BUF_H
#define GRAVITAS_SRV_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_buf {
  char *data; /* malloc'd, always NUL-terminated after a successful append */
  size_t len; /* bytes held, not counting the NUL */
  size_t cap; /* bytes allocated */
  size_t max; /* hard maximum of len */
} srv_buf;

typedef enum srv_buf_result {
  SRV_BUF_OK = 0,
  SRV_BUF_TOO_LARGE, /* the append would pass the maximum; nothing added */
  SRV_BUF_NOMEM      /* allocation failed; nothing added */
} srv_buf_result;

/* Makes an empty buffer that will never hold more than max bytes. Allocates
 * nothing until the first append. */
void srv_buf_init(srv_buf *b, size_t max);

/* Makes room for n bytes in all (a body of known Content-Length is then
 * read without a copy on growth). Same results as srv_buf_append; the
 * contents are unchanged. */
srv_buf_result srv_buf_reserve(srv_buf *b, size_t n);

/* Appends n bytes of data. Returns SRV_BUF_OK, SRV_BUF_TOO_LARGE when len + n
 * would exceed the maximum, or SRV_BUF_NOMEM; in both failure cases the
 * buffer is unchanged. n == 0 is OK and allocates the NUL terminator. */
srv_buf_result srv_buf_append(srv_buf *b, const void *data, size_t n);

/* Appends a printf-style formatted string; same results as srv_buf_append
 * (also SRV_BUF_NOMEM when the format itself fails). */
srv_buf_result srv_buf_printf(srv_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Hands the bytes to the caller (who frees them with free) and leaves the
 * buffer empty with the same maximum. Returns NULL when nothing was ever
 * appended. */
char *srv_buf_steal(srv_buf *b);

/* Frees the bytes and leaves an empty buffer with the same maximum. NULL is
 * a no-op. */
void srv_buf_free(srv_buf *b);

#endif

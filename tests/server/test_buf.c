/* The bounded buffer: growth, the hard maximum, printf, steal and free. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srv_buf.h"

Test(buf, grows_across_many_chunks) {
  srv_buf b;
  srv_buf_init(&b, 100000);
  for (int i = 0; i < 9973; i++)
    cr_assert_eq(srv_buf_append(&b, &"0123456789"[i % 10], 1), SRV_BUF_OK);
  cr_assert_eq(b.len, 9973u);
  cr_assert_eq(b.data[9972], '0' + 9972 % 10);
  cr_assert_eq(b.data[b.len], '\0');
  cr_assert_leq(b.cap, 100001u);
  srv_buf_free(&b);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0u);
  cr_assert_eq(b.max, 100000u);
}

Test(buf, exact_maximum_fits_one_more_byte_does_not) {
  srv_buf b;
  srv_buf_init(&b, 7);
  cr_assert_eq(srv_buf_append(&b, "gravity", 7), SRV_BUF_OK);
  cr_assert_eq(srv_buf_append(&b, "!", 1), SRV_BUF_TOO_LARGE);
  cr_assert_eq(b.len, 7u, "a refused append changes nothing");
  cr_assert_str_eq(b.data, "gravity");
  cr_assert_eq(srv_buf_append(&b, "", 0), SRV_BUF_OK);
  cr_assert_leq(b.cap, 8u, "never allocates past max + NUL");
  srv_buf_free(&b);
}

Test(buf, huge_append_is_refused_without_overflow) {
  srv_buf b;
  srv_buf_init(&b, 1024);
  cr_assert_eq(srv_buf_append(&b, "ab", 2), SRV_BUF_OK);
  cr_assert_eq(srv_buf_append(&b, "x", SIZE_MAX), SRV_BUF_TOO_LARGE);
  cr_assert_eq(srv_buf_append(&b, "x", SIZE_MAX - 1), SRV_BUF_TOO_LARGE);
  cr_assert_eq(b.len, 2u);
  srv_buf_free(&b);
}

Test(buf, zero_maximum_holds_nothing) {
  srv_buf b;
  srv_buf_init(&b, 0);
  cr_assert_eq(srv_buf_append(&b, "a", 1), SRV_BUF_TOO_LARGE);
  cr_assert_eq(srv_buf_append(&b, "", 0), SRV_BUF_OK);
  cr_assert_str_eq(b.data, "");
  srv_buf_free(&b);
}

Test(buf, printf_short_and_long) {
  srv_buf b;
  srv_buf_init(&b, 4096);
  cr_assert_eq(srv_buf_printf(&b, "k=%.4f;", 1.0372519), SRV_BUF_OK);
  char long_text[1001];
  memset(long_text, 'y', 1000);
  long_text[1000] = '\0';
  cr_assert_eq(srv_buf_printf(&b, "[%s]", long_text), SRV_BUF_OK);
  cr_assert_eq(b.len, 9u + 1002u);
  cr_assert_eq(strncmp(b.data, "k=1.0373;[yyy", 13), 0);
  cr_assert_eq(b.data[b.len - 1], ']');
  cr_assert_eq(srv_buf_printf(&b, "%s%s%s", long_text, long_text, long_text),
               SRV_BUF_OK);
  cr_assert_eq(srv_buf_printf(&b, "%s", long_text), SRV_BUF_TOO_LARGE);
  cr_assert_eq(b.len, 4011u);
  srv_buf_free(&b);
}

Test(buf, steal_hands_over_and_resets) {
  srv_buf b;
  srv_buf_init(&b, 64);
  cr_assert_null(srv_buf_steal(&b));
  srv_buf_append(&b, "trade", 5);
  char *p = srv_buf_steal(&b);
  cr_assert_str_eq(p, "trade");
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0u);
  cr_assert_eq(b.max, 64u);
  free(p);
  srv_buf_free(NULL);
}

/* A reservation (a body of known Content-Length) allocates once: appends up
 * to it never move the bytes; one past the maximum is refused. A block of
 * 2 MiB or more (huge-page advised) behaves the same. */
Test(buf, reserve_allocates_once) {
  const size_t sizes[] = {1000, (size_t)3 << 20};
  for (size_t k = 0; k < 2; k++) {
    size_t n = sizes[k];
    srv_buf b;
    srv_buf_init(&b, n);
    cr_assert_eq(srv_buf_reserve(&b, n + 1), SRV_BUF_TOO_LARGE);
    cr_assert_null(b.data, "a refused reservation allocates nothing");
    cr_assert_eq(srv_buf_reserve(&b, n), SRV_BUF_OK);
    cr_assert_eq(b.len, 0u);
    cr_assert_geq(b.cap, n + 1);
    const char *first = b.data;
    char chunk[997];
    memset(chunk, 'g', sizeof chunk);
    size_t sent = 0;
    while (sent < n) {
      size_t m = n - sent < sizeof chunk ? n - sent : sizeof chunk;
      cr_assert_eq(srv_buf_append(&b, chunk, m), SRV_BUF_OK);
      sent += m;
    }
    cr_assert_eq(b.data, first, "no reallocation after the reservation");
    cr_assert_eq(b.len, n);
    cr_assert_eq(b.data[n], '\0');
    cr_assert_eq(b.data[n - 1], 'g');
    cr_assert_eq(srv_buf_append(&b, "x", 1), SRV_BUF_TOO_LARGE);
    srv_buf_free(&b);
  }
}

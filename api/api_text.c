/* See api_text.h. */
#include "api_text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_num.h"
#include "core_mem.h"

/* Grows the buffer to at least need bytes. A first block of 2 MiB or more
 * comes from core_alloc (huge-page advised: on our VMs a first touch of a
 * 4 KiB page costs about 10 us, a third of writing a 19 MB answer). */
static bool grow(api_text *t, size_t need) {
  if (t->failed) return false;
  if (need <= t->cap) return true;
  size_t cap = t->cap ? t->cap : 4096;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      t->failed = true;
      return false;
    }
    cap *= 2;
  }
  char *s2 = t->s == NULL ? core_alloc(cap, 1) : realloc(t->s, cap);
  if (s2 == NULL) {
    t->failed = true;
    return false;
  }
  t->s = s2;
  t->cap = cap;
  return true;
}

void api_text_reserve(api_text *t, size_t n) {
  if (n <= SIZE_MAX - t->len - 1) (void)grow(t, t->len + n + 1);
}

void api_text_put(api_text *t, const char *s, size_t n) {
  if (t->failed) return;
  if (t->len + n + 1 > t->cap && !grow(t, t->len + n + 1)) return;
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
}

void api_text_raw(api_text *t, const char *s) {
  api_text_put(t, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included, as
 * Jansson's utf8_check_first/utf8_check_full). */
static size_t utf8_len(const unsigned char *s) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

void api_text_string(api_text *t, const char *s) {
  if (s == NULL) {
    api_text_put(t, "null", 4);
    return;
  }
  api_text_put(t, "\"", 1);
  const unsigned char *p = (const unsigned char *)s, *run = p;
  while (*p) {
    size_t n = utf8_len(p);
    if (n == 0) {
      t->failed = true;
      return;
    }
    if (n > 1 || (*p >= 0x20 && *p != '"' && *p != '\\')) {
      p += n;
      continue;
    }
    api_text_put(t, (const char *)run, (size_t)(p - run));
    char esc[8];
    const char *e = esc;
    size_t elen = 2;
    switch (*p) {
    case '"': e = "\\\""; break;
    case '\\': e = "\\\\"; break;
    case '\b': e = "\\b"; break;
    case '\f': e = "\\f"; break;
    case '\n': e = "\\n"; break;
    case '\r': e = "\\r"; break;
    case '\t': e = "\\t"; break;
    default: snprintf(esc, sizeof esc, "\\u%04X", (unsigned)*p); elen = 6;
    }
    api_text_put(t, e, elen);
    p++;
    run = p;
  }
  api_text_put(t, (const char *)run, (size_t)(p - run));
  api_text_put(t, "\"", 1);
}

void api_text_real(api_text *t, double x) {
  if (!isfinite(x)) {
    api_text_put(t, "null", 4);
    return;
  }
  char buf[API_NUM_BUF];
  api_text_put(t, buf, api_fmt_json_real(x, buf));
}

void api_text_int(api_text *t, long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", v);
  api_text_put(t, buf, n > 0 ? (size_t)n : 0);
}

void api_text_free(api_text *t) {
  free(t->s);
  *t = (api_text){0};
}

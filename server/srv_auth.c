/* Bearer-key checks (see srv_auth.h). */
#include "srv_auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

struct srv_auth {
  size_t n;
  unsigned char (*digests)[SHA256_DIGEST_LENGTH];
};

srv_auth *srv_auth_new(char *const *keys, size_t n) {
  srv_auth *a = calloc(1, sizeof *a);
  if (a == NULL) return NULL;
  if (n > 0) {
    a->digests = calloc(n, sizeof *a->digests);
    if (a->digests == NULL) {
      free(a);
      return NULL;
    }
  }
  for (size_t i = 0; i < n; i++)
    SHA256((const unsigned char *)keys[i], strlen(keys[i]), a->digests[i]);
  a->n = n;
  return a;
}

void srv_auth_free(srv_auth *a) {
  if (a == NULL) return;
  /* The digests are not secret in the way keys are, but there is no reason
   * to leave them in freed memory either. */
  if (a->digests) OPENSSL_cleanse(a->digests, a->n * sizeof *a->digests);
  free(a->digests);
  free(a);
}

bool srv_auth_enabled(const srv_auth *a) {
  return a != NULL && a->n > 0;
}

bool srv_ct_equal(const void *a, size_t alen, const void *b, size_t blen) {
  const volatile unsigned char *x = a;
  const volatile unsigned char *y = b;
  /* Walk the longer length so that a short guess costs as long as a long
   * one; the length difference itself is folded into the result. */
  size_t n = alen > blen ? alen : blen;
  unsigned char diff = (unsigned char)(alen != blen);
  for (size_t i = 0; i < n; i++) {
    unsigned char cx = i < alen ? x[i] : 0;
    unsigned char cy = i < blen ? y[i] : 0;
    diff |= (unsigned char)(cx ^ cy);
  }
  return diff == 0;
}

srv_auth_result srv_auth_check(const srv_auth *a, const char *authorization) {
  if (!srv_auth_enabled(a)) return SRV_AUTH_OK;
  if (authorization == NULL) return SRV_AUTH_MISSING;
  if (strncasecmp(authorization, "Bearer", 6) != 0) return SRV_AUTH_MALFORMED;
  const char *p = authorization + 6;
  if (*p != ' ') return SRV_AUTH_MALFORMED;
  while (*p == ' ')
    p++;
  size_t len = strlen(p);
  while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
    len--;
  if (len == 0) return SRV_AUTH_MALFORMED;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c >= 0x7f) return SRV_AUTH_MALFORMED;
  }
  /* Comparing fixed-size digests hides the key lengths; CRYPTO_memcmp runs
   * in constant time, and no early exit reveals which key matched. */
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)p, len, digest);
  int matched = 0;
  for (size_t i = 0; i < a->n; i++)
    matched |= CRYPTO_memcmp(digest, a->digests[i], sizeof digest) == 0;
  OPENSSL_cleanse(digest, sizeof digest);
  return matched ? SRV_AUTH_OK : SRV_AUTH_WRONG;
}

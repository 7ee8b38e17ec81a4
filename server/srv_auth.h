/* Bearer-key authentication for writes. Keys are kept only as SHA-256
 * digests and compared in constant time; they are never logged. */
#ifndef GRAVITAS_SRV_AUTH_H
#define GRAVITAS_SRV_AUTH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_auth srv_auth;

typedef enum srv_auth_result {
  SRV_AUTH_OK = 0,    /* a configured key matched, or no keys configured */
  SRV_AUTH_MISSING,   /* no Authorization header: 401 */
  SRV_AUTH_MALFORMED, /* not "Bearer <token>": 401 */
  SRV_AUTH_WRONG      /* a well-formed token that matches no key: 403 */
} srv_auth_result;

/* Builds the key set from n keys (copied as digests). n == 0 makes a set
 * that accepts every request. Returns NULL on allocation failure. */
srv_auth *srv_auth_new(char *const *keys, size_t n);

/* NULL is a no-op. */
void srv_auth_free(srv_auth *a);

/* True when keys are configured (writes need a key). */
bool srv_auth_enabled(const srv_auth *a);

/* Checks an Authorization header value (NULL when absent). The scheme name
 * is case-insensitive ("Bearer"), followed by one or more spaces and a
 * token of visible ASCII. Every configured key is compared, whatever
 * matches first, so the time taken does not depend on which key matched.
 * Returns one of srv_auth_result. */
srv_auth_result srv_auth_check(const srv_auth *a, const char *authorization);

/* Compares two byte strings in time that depends only on their lengths.
 * Returns true when they are equal (same length, same bytes). */
bool srv_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif

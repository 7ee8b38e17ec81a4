/* A thread-safe LRU cache bounded in bytes, holding reference-counted
 * immutable values (parsed models) by string key. An evicted value stays
 * alive until its last holder releases it, so a reader never sees it freed
 * under its feet. */
#ifndef GRAVITAS_SRV_CACHE_H
#define GRAVITAS_SRV_CACHE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_cache srv_cache;
typedef struct srv_cache_entry srv_cache_entry; /* a held reference */

typedef void (*srv_cache_free_fn)(void *value);

/* Creates a cache holding at most max_bytes of values (as declared at
 * insertion; an entry larger than the bound is still handed back to its
 * inserter but not kept). Returns NULL on allocation failure. */
srv_cache *srv_cache_new(size_t max_bytes, srv_cache_free_fn free_value);

/* Frees every entry not held; held entries are freed at their release.
 * NULL is a no-op. Call only when no other thread uses the cache. */
void srv_cache_free(srv_cache *c);

/* Looks key up. On a hit returns a held entry (release it with
 * srv_cache_release) and marks it most recently used; on a miss returns
 * NULL. Counts hits and misses. */
srv_cache_entry *srv_cache_get(srv_cache *c, const char *key);

/* Inserts value (of `bytes` bytes) under key, taking ownership of value. If
 * the key is already present the existing entry wins: value is freed and the
 * existing entry returned. Evicts least recently used entries to stay within
 * the bound. Returns a held entry, or NULL on allocation failure (value is
 * freed then too). */
srv_cache_entry *srv_cache_put(srv_cache *c, const char *key, void *value,
                               size_t bytes);

/* The value of a held entry. */
void *srv_cache_value(const srv_cache_entry *e);

/* Releases a held entry. NULL is a no-op. */
void srv_cache_release(srv_cache *c, srv_cache_entry *e);

/* Removes key (a held entry stays alive until released). Returns true when
 * it was present. */
bool srv_cache_remove(srv_cache *c, const char *key);

typedef struct srv_cache_stats {
  size_t entries, bytes, max_bytes;
  unsigned long long hits, misses, evictions;
} srv_cache_stats;

void srv_cache_stats_get(srv_cache *c, srv_cache_stats *out);

#endif

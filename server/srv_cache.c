/* Byte-bounded LRU cache with reference-counted entries (see srv_cache.h).
 * One mutex guards the hash table and the recency list; values themselves are
 * immutable, so holders read them without the lock. */
#include "srv_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct srv_cache_entry {
  char *key;
  void *value;
  size_t bytes;
  unsigned refs; /* holders, plus one while the entry is in the table */
  bool in_table;
  srv_cache_entry *prev, *next; /* recency list, head = most recent */
  srv_cache_entry *chain;       /* hash bucket chain */
};

struct srv_cache {
  pthread_mutex_t lock;
  srv_cache_entry **buckets;
  size_t nbuckets;
  srv_cache_entry *head, *tail;
  size_t entries, bytes, max_bytes;
  unsigned long long hits, misses, evictions;
  srv_cache_free_fn free_value;
};

static uint64_t hash_key(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

srv_cache *srv_cache_new(size_t max_bytes, srv_cache_free_fn free_value) {
  srv_cache *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->nbuckets = 1024;
  /* An array of pointers: one element is the size of a pointer. */
  // NOLINTNEXTLINE(bugprone-sizeof-expression)
  c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
  if (c->buckets == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
    free(c->buckets);
    free(c);
    return NULL;
  }
  c->max_bytes = max_bytes;
  c->free_value = free_value;
  return c;
}

static void entry_destroy(srv_cache *c, srv_cache_entry *e) {
  if (c->free_value && e->value) c->free_value(e->value);
  free(e->key);
  free(e);
}

static void list_unlink(srv_cache *c, srv_cache_entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void list_push_front(srv_cache *c, srv_cache_entry *e) {
  e->prev = NULL;
  e->next = c->head;
  if (c->head) c->head->prev = e;
  c->head = e;
  if (c->tail == NULL) c->tail = e;
}

static srv_cache_entry *table_find(srv_cache *c, const char *key) {
  srv_cache_entry *e = c->buckets[hash_key(key) % c->nbuckets];
  for (; e; e = e->chain)
    if (strcmp(e->key, key) == 0) return e;
  return NULL;
}

/* Takes e out of the table and the list; the table's reference is dropped
 * and e is destroyed when nobody else holds it. Lock held by caller. */
static void table_remove(srv_cache *c, srv_cache_entry *e) {
  srv_cache_entry **pp = &c->buckets[hash_key(e->key) % c->nbuckets];
  while (*pp && *pp != e)
    pp = &(*pp)->chain;
  if (*pp) *pp = e->chain;
  e->chain = NULL;
  list_unlink(c, e);
  e->in_table = false;
  c->entries--;
  c->bytes -= e->bytes;
  if (--e->refs == 0) entry_destroy(c, e);
}

void srv_cache_free(srv_cache *c) {
  if (c == NULL) return;
  while (c->head)
    table_remove(c, c->head);
  free(c->buckets);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

srv_cache_entry *srv_cache_get(srv_cache *c, const char *key) {
  pthread_mutex_lock(&c->lock);
  srv_cache_entry *e = table_find(c, key);
  if (e) {
    e->refs++;
    list_unlink(c, e);
    list_push_front(c, e);
    c->hits++;
  } else {
    c->misses++;
  }
  pthread_mutex_unlock(&c->lock);
  return e;
}

srv_cache_entry *srv_cache_put(srv_cache *c, const char *key, void *value,
                               size_t bytes) {
  srv_cache_entry *e = calloc(1, sizeof *e);
  char *k = strdup(key);
  if (e == NULL || k == NULL) {
    free(e);
    free(k);
    if (c->free_value && value) c->free_value(value);
    return NULL;
  }
  e->key = k;
  e->value = value;
  e->bytes = bytes;

  pthread_mutex_lock(&c->lock);
  srv_cache_entry *old = table_find(c, key);
  if (old) {
    old->refs++;
    list_unlink(c, old);
    list_push_front(c, old);
    pthread_mutex_unlock(&c->lock);
    entry_destroy(c, e);
    return old;
  }
  e->refs = 1; /* the caller's hold */
  if (bytes <= c->max_bytes) {
    while (c->tail && c->bytes + bytes > c->max_bytes) {
      table_remove(c, c->tail);
      c->evictions++;
    }
    size_t b = hash_key(key) % c->nbuckets;
    e->chain = c->buckets[b];
    c->buckets[b] = e;
    list_push_front(c, e);
    e->in_table = true;
    e->refs++;
    c->entries++;
    c->bytes += bytes;
  }
  pthread_mutex_unlock(&c->lock);
  return e;
}

void *srv_cache_value(const srv_cache_entry *e) {
  return e ? e->value : NULL;
}

void srv_cache_release(srv_cache *c, srv_cache_entry *e) {
  if (e == NULL) return;
  pthread_mutex_lock(&c->lock);
  bool destroy = (--e->refs == 0);
  pthread_mutex_unlock(&c->lock);
  if (destroy) entry_destroy(c, e);
}

bool srv_cache_remove(srv_cache *c, const char *key) {
  pthread_mutex_lock(&c->lock);
  srv_cache_entry *e = table_find(c, key);
  if (e) table_remove(c, e);
  pthread_mutex_unlock(&c->lock);
  return e != NULL;
}

void srv_cache_stats_get(srv_cache *c, srv_cache_stats *out) {
  pthread_mutex_lock(&c->lock);
  out->entries = c->entries;
  out->bytes = c->bytes;
  out->max_bytes = c->max_bytes;
  out->hits = c->hits;
  out->misses = c->misses;
  out->evictions = c->evictions;
  pthread_mutex_unlock(&c->lock);
}

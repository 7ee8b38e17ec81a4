/* Specification of the byte-bounded, reference-counted LRU model cache. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_cache.h"

static int freed;
static void count_free(void *v) {
  freed++;
  free(v);
}

static char *val(const char *s) {
  return strdup(s);
}

static void reset(void) {
  freed = 0;
}

TestSuite(cache, .init = reset);

Test(cache, miss_then_hit_counts_and_returns_the_same_value) {
  srv_cache *c = srv_cache_new(1000, count_free);
  cr_assert_null(srv_cache_get(c, "m_1"));
  srv_cache_entry *e = srv_cache_put(c, "m_1", val("alpha"), 100);
  cr_assert_not_null(e);
  srv_cache_release(c, e);
  srv_cache_entry *h = srv_cache_get(c, "m_1");
  cr_assert_not_null(h);
  cr_assert_str_eq(srv_cache_value(h), "alpha");
  srv_cache_release(c, h);
  srv_cache_stats st;
  srv_cache_stats_get(c, &st);
  cr_assert_eq(st.hits, 1);
  cr_assert_eq(st.misses, 1);
  cr_assert_eq(st.entries, 1);
  cr_assert_eq(st.bytes, 100);
  srv_cache_free(c);
  cr_assert_eq(freed, 1);
}

Test(cache, evicts_least_recently_used_to_stay_within_bytes) {
  srv_cache *c = srv_cache_new(300, count_free);
  srv_cache_release(c, srv_cache_put(c, "a", val("a"), 100));
  srv_cache_release(c, srv_cache_put(c, "b", val("b"), 100));
  srv_cache_release(c, srv_cache_put(c, "c", val("c"), 100));
  srv_cache_release(c, srv_cache_get(c, "a")); /* a is now most recent */
  srv_cache_release(c, srv_cache_put(c, "d", val("d"), 150));
  /* b and c were the least recent: both had to go to fit 150 bytes */
  cr_assert_null(srv_cache_get(c, "b"));
  cr_assert_null(srv_cache_get(c, "c"));
  srv_cache_entry *a = srv_cache_get(c, "a");
  cr_assert_not_null(a);
  srv_cache_release(c, a);
  srv_cache_stats st;
  srv_cache_stats_get(c, &st);
  cr_assert_eq(st.bytes, 250);
  cr_assert_eq(st.evictions, 2);
  cr_assert_eq(freed, 2);
  srv_cache_free(c);
  cr_assert_eq(freed, 4);
}

Test(cache, held_entry_survives_eviction_until_released) {
  srv_cache *c = srv_cache_new(100, count_free);
  srv_cache_entry *held = srv_cache_put(c, "a", val("kept"), 100);
  srv_cache_release(c, srv_cache_put(c, "b", val("b"), 100));
  cr_assert_eq(freed, 0, "evicted but still held: must not be freed");
  cr_assert_str_eq(srv_cache_value(held), "kept");
  srv_cache_release(c, held);
  cr_assert_eq(freed, 1);
  srv_cache_free(c);
  cr_assert_eq(freed, 2);
}

Test(cache, existing_key_wins_and_new_value_is_freed) {
  srv_cache *c = srv_cache_new(1000, count_free);
  srv_cache_release(c, srv_cache_put(c, "a", val("first"), 10));
  srv_cache_entry *e = srv_cache_put(c, "a", val("second"), 10);
  cr_assert_str_eq(srv_cache_value(e), "first");
  cr_assert_eq(freed, 1);
  srv_cache_release(c, e);
  srv_cache_free(c);
}

Test(cache, oversized_value_is_returned_but_not_kept) {
  srv_cache *c = srv_cache_new(50, count_free);
  srv_cache_entry *e = srv_cache_put(c, "big", val("big"), 51);
  cr_assert_not_null(e);
  cr_assert_null(srv_cache_get(c, "big"));
  srv_cache_release(c, e);
  cr_assert_eq(freed, 1);
  srv_cache_free(c);
}

Test(cache, remove_drops_the_entry) {
  srv_cache *c = srv_cache_new(1000, count_free);
  srv_cache_release(c, srv_cache_put(c, "a", val("a"), 10));
  cr_assert(srv_cache_remove(c, "a"));
  cr_assert_not(srv_cache_remove(c, "a"));
  cr_assert_null(srv_cache_get(c, "a"));
  srv_cache_free(c);
  cr_assert_eq(freed, 1);
}

struct worker_arg {
  srv_cache *c;
  int id;
};

static void *worker(void *p) {
  struct worker_arg *a = p;
  char key[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "k%d", (i * 7 + a->id) % 64);
    srv_cache_entry *e = srv_cache_get(a->c, key);
    if (e == NULL) e = srv_cache_put(a->c, key, val(key), 40);
    if (e && strcmp(srv_cache_value(e), key) != 0) abort();
    srv_cache_release(a->c, e);
  }
  return NULL;
}

Test(cache, concurrent_readers_and_writers_stay_consistent) {
  srv_cache *c = srv_cache_new(40 * 16, free);
  pthread_t t[4];
  struct worker_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (struct worker_arg){c, i};
    pthread_create(&t[i], NULL, worker, &args[i]);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  srv_cache_stats st;
  srv_cache_stats_get(c, &st);
  cr_assert_leq(st.bytes, 40 * 16);
  cr_assert_eq(st.hits + st.misses, 20000);
  srv_cache_free(c);
}

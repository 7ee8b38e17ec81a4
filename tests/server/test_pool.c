/* The worker pool: jobs run, in order on one worker, concurrently on
 * several; the queue bound; stop drains what was queued and refuses the
 * rest. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "srv_pool.h"

typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool open;
  atomic_int started, finished;
  int order[64];
  atomic_int n_order;
} gate;

static gate g;

static void gate_reset(void) {
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.cv, NULL);
  g.open = false;
  atomic_store(&g.started, 0);
  atomic_store(&g.finished, 0);
  atomic_store(&g.n_order, 0);
}

static void gate_open(void) {
  pthread_mutex_lock(&g.mu);
  g.open = true;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
}

/* Records its number, then waits for the gate. */
static void blocked_job(void *arg) {
  atomic_fetch_add(&g.started, 1);
  int i = atomic_fetch_add(&g.n_order, 1);
  if (i < 64) g.order[i] = (int)(intptr_t)arg;
  pthread_mutex_lock(&g.mu);
  while (!g.open)
    pthread_cond_wait(&g.cv, &g.mu);
  pthread_mutex_unlock(&g.mu);
  atomic_fetch_add(&g.finished, 1);
}

static void wait_for(atomic_int *v, int want) {
  for (int i = 0; i < 2000 && atomic_load(v) < want; i++)
    usleep(1000);
  cr_assert_eq(atomic_load(v), want);
}

Test(pool, one_worker_runs_jobs_in_order) {
  gate_reset();
  gate_open();
  srv_pool *p = srv_pool_new(1, 16);
  cr_assert_not_null(p);
  for (int i = 0; i < 10; i++)
    cr_assert(srv_pool_submit(p, blocked_job, (void *)(intptr_t)i));
  srv_pool_stop(p); /* drains */
  cr_assert_eq(atomic_load(&g.finished), 10);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(g.order[i], i);
  srv_pool_free(p);
}

Test(pool, workers_run_at_once_and_the_queue_is_bounded) {
  gate_reset();
  srv_pool *p = srv_pool_new(2, 2);
  cr_assert_not_null(p);
  cr_assert(srv_pool_submit(p, blocked_job, (void *)1));
  cr_assert(srv_pool_submit(p, blocked_job, (void *)2));
  wait_for(&g.started, 2); /* both workers busy at once */
  cr_assert_eq(srv_pool_running(p), 2u);
  cr_assert(srv_pool_submit(p, blocked_job, (void *)3));
  cr_assert(srv_pool_submit(p, blocked_job, (void *)4));
  cr_assert_eq(srv_pool_queued(p), 2u);
  cr_assert_not(srv_pool_submit(p, blocked_job, (void *)5),
                "a full queue refuses");
  gate_open();
  srv_pool_stop(p);
  cr_assert_eq(atomic_load(&g.finished), 4);
  cr_assert_not(srv_pool_submit(p, blocked_job, (void *)6),
                "a stopped pool refuses");
  cr_assert_eq(atomic_load(&g.finished), 4);
  srv_pool_free(p);
}

Test(pool, stop_runs_the_queued_jobs_to_their_end) {
  gate_reset();
  srv_pool *p = srv_pool_new(1, 8);
  for (int i = 0; i < 5; i++)
    cr_assert(srv_pool_submit(p, blocked_job, (void *)(intptr_t)i));
  wait_for(&g.started, 1);
  gate_open();
  srv_pool_free(p); /* stop + free */
  cr_assert_eq(atomic_load(&g.finished), 5);
}

Test(pool, bad_sizes_are_refused) {
  cr_assert_null(srv_pool_new(0, 4));
  cr_assert_null(srv_pool_new(2, 0));
  srv_pool_free(NULL);
  srv_pool_stop(NULL);
}

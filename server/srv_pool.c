/* The worker pool (see srv_pool.h): a ring of jobs under one mutex, one
 * condition variable for the workers. */
#include "srv_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct job {
  srv_job_fn fn;
  void *arg;
} job;

struct srv_pool {
  pthread_mutex_t mu;
  pthread_cond_t ready; /* a job was queued, or the pool is stopping */
  job *ring;
  size_t cap, head, count; /* ring of cap slots; count queued from head */
  size_t running;
  bool stopping;
  pthread_t *threads;
  unsigned n_threads;
};

static void *worker(void *arg) {
  srv_pool *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (p->count == 0 && !p->stopping)
      pthread_cond_wait(&p->ready, &p->mu);
    /* Stopping still drains the queue: every queued job holds a client
     * that waits for its answer. */
    if (p->count == 0) break;
    job j = p->ring[p->head];
    p->head = (p->head + 1) % p->cap;
    p->count--;
    p->running++;
    pthread_mutex_unlock(&p->mu);
    j.fn(j.arg);
    pthread_mutex_lock(&p->mu);
    p->running--;
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

srv_pool *srv_pool_new(unsigned workers, size_t max_queued) {
  if (workers == 0 || max_queued == 0) return NULL;
  srv_pool *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->ring = calloc(max_queued, sizeof *p->ring);
  p->threads = calloc(workers, sizeof *p->threads);
  if (p->ring == NULL || p->threads == NULL ||
      pthread_mutex_init(&p->mu, NULL) != 0) {
    free(p->ring);
    free(p->threads);
    free(p);
    return NULL;
  }
  if (pthread_cond_init(&p->ready, NULL) != 0) {
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->threads);
    free(p);
    return NULL;
  }
  p->cap = max_queued;
  for (unsigned i = 0; i < workers; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
      srv_pool_free(p); /* joins the n_threads started so far */
      return NULL;
    }
    p->n_threads++;
  }
  return p;
}

bool srv_pool_submit(srv_pool *p, srv_job_fn fn, void *arg) {
  pthread_mutex_lock(&p->mu);
  bool ok = !p->stopping && p->count < p->cap;
  if (ok) {
    p->ring[(p->head + p->count) % p->cap] = (job){fn, arg};
    p->count++;
    pthread_cond_signal(&p->ready);
  }
  pthread_mutex_unlock(&p->mu);
  return ok;
}

size_t srv_pool_queued(srv_pool *p) {
  pthread_mutex_lock(&p->mu);
  size_t n = p->count;
  pthread_mutex_unlock(&p->mu);
  return n;
}

size_t srv_pool_running(srv_pool *p) {
  pthread_mutex_lock(&p->mu);
  size_t n = p->running;
  pthread_mutex_unlock(&p->mu);
  return n;
}

void srv_pool_stop(srv_pool *p) {
  if (p == NULL) return;
  pthread_mutex_lock(&p->mu);
  bool joined = p->stopping;
  p->stopping = true;
  pthread_cond_broadcast(&p->ready);
  pthread_mutex_unlock(&p->mu);
  if (joined) return;
  for (unsigned i = 0; i < p->n_threads; i++)
    pthread_join(p->threads[i], NULL);
}

void srv_pool_free(srv_pool *p) {
  if (p == NULL) return;
  srv_pool_stop(p);
  pthread_cond_destroy(&p->ready);
  pthread_mutex_destroy(&p->mu);
  free(p->ring);
  free(p->threads);
  free(p);
}

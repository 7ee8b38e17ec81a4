/* A fixed pool of worker threads with a bounded FIFO of jobs: the work that
 * may block for long (fits, uploads, World Bank fetches) runs here, so that
 * libmicrohttpd's own threads only move bytes and answer reads
 * (PITFALLS: a blocking call inside the access handler stalls a pool
 * thread, and every connection that thread serves waits with it). */
#ifndef GRAVITAS_SRV_POOL_H
#define GRAVITAS_SRV_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct srv_pool srv_pool;

typedef void (*srv_job_fn)(void *arg);

/* Starts workers threads (>= 1) that run jobs in submission order; at most
 * max_queued jobs (>= 1) wait for a worker. Returns NULL when a thread
 * cannot be started or memory is short. */
srv_pool *srv_pool_new(unsigned workers, size_t max_queued);

/* Queues fn(arg). Returns false, and runs nothing, when max_queued jobs
 * are already waiting or the pool is stopping. */
bool srv_pool_submit(srv_pool *p, srv_job_fn fn, void *arg);

/* Jobs waiting for a worker, and jobs running, right now. */
size_t srv_pool_queued(srv_pool *p);
size_t srv_pool_running(srv_pool *p);

/* Refuses new jobs (srv_pool_submit answers false from now on), runs every
 * job already queued to its end and joins the workers. The pool stays valid
 * for srv_pool_submit until srv_pool_free. NULL is a no-op. */
void srv_pool_stop(srv_pool *p);

/* Stops the pool if needed and frees it. NULL is a no-op. */
void srv_pool_free(srv_pool *p);

#endif

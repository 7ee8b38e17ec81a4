/* Structured logging: one JSON object per line on stderr (or a stream the
 * tests choose). Lines are written whole, so threads never interleave. */
#ifndef GRAVITAS_SRV_LOG_H
#define GRAVITAS_SRV_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Sends every later line to f (NULL restores stderr). Call before threads
 * start; meant for tests. */
void srv_log_set_stream(FILE *f);

/* Writes {"level":level,"event":event, ...fields} as one line. Steals fields
 * (a JSON object or NULL), even on failure. A line that cannot be built is
 * dropped: logging never fails the caller. */
void srv_log_json(const char *level, const char *event, json_t *fields);

/* From now on, access lines (event "access" at level "info") are not
 * flushed one by one: a thread flushes the stream every interval_ms (0:
 * 100), and any other line flushes them first, in order. At 20,000+
 * requests a second a write(2) per line was a tenth of the cost of
 * GET /v1/potential; the price is that a kill -9 loses at most interval_ms
 * of access lines (never an error line). Gives stderr a 64 KiB buffer, so
 * call it before anything is logged and before threads start. Returns 0, or
 * -1 (lines stay flushed one by one). */
int srv_log_start_flusher(unsigned interval_ms);
/* Stops the flusher and flushes; lines are flushed one by one again. */
void srv_log_stop_flusher(void);

/* The access line of one request, as srv_log_json("info" or "error",
 * "access", {method, path, status, bytes, duration_ms, remote[, aborted]})
 * would write it, without building a JSON tree. */
void srv_log_access(bool error, const char *method, const char *path,
                    int status, size_t bytes, double duration_ms,
                    const char *remote, bool aborted);

/* A JSON string for s that is always valid: when s is not UTF-8 (a client
 * may send any bytes in a path), every byte >= 0x80 becomes '?'. Returns
 * NULL only when out of memory; s == NULL gives JSON null. */
json_t *srv_log_string(const char *s);

/* Writes an internal failure at level "error" with the source file and line
 * and a printf-style message: {"level":"error","event":event,"file","line",
 * "message"}. */
void srv_log_error_at(const char *file, int line, const char *event,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SRV_LOG_ERROR(event, ...)                                              \
  srv_log_error_at(__FILE__, __LINE__, (event), __VA_ARGS__)

#endif

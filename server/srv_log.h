/* Structured logging: one JSON object per line on stderr (or a stream the
 * tests choose). Lines are written whole, so threads never interleave. */
#ifndef GRAVITAS_SRV_LOG_H
#define GRAVITAS_SRV_LOG_H

#include <stdio.h>

#include <jansson.h>

/* Sends every later line to f (NULL restores stderr). Call before threads
 * start; meant for tests. */
void srv_log_set_stream(FILE *f);

/* Writes {"level":level,"event":event, ...fields} as one line. Steals fields
 * (a JSON object or NULL), even on failure. A line that cannot be built is
 * dropped: logging never fails the caller. */
void srv_log_json(const char *level, const char *event, json_t *fields);

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

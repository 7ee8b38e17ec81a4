/* Building answer bodies without checking every Jansson call: set and push
 * helpers that steal their value and remember any failure, numbers that are
 * written as null when not finite (with a warning saying which), and the
 * answer's "warnings" list. */
#ifndef GRAVITAS_API_OUT_H
#define GRAVITAS_API_OUT_H

#include <stdbool.h>

#include <jansson.h>

typedef struct api_out {
  json_t *warnings; /* owned JSON array of strings */
  bool failed;      /* an allocation or insertion failed somewhere */
} api_out;

/* Starts an empty warnings list. Returns false on allocation failure. */
bool api_out_init(api_out *o);

/* json_object_set_new / json_array_append_new that record a failure (a NULL
 * value or a NULL container counts as one). Both steal val in every case. */
void api_out_set(api_out *o, json_t *obj, const char *key, json_t *val);
void api_out_push(api_out *o, json_t *arr, json_t *val);

/* A real for a finite x; otherwise JSON null, with the warning "<what> is
 * not finite ... written as null" when what is not NULL. Returns a new
 * reference, or NULL on allocation failure. */
json_t *api_out_num(api_out *o, double x, const char *what);

/* Appends a printf-style warning sentence. */
void api_out_warn(api_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Moves the warnings into body as "warnings" and releases o. Returns false
 * when anything failed while building (body is then incomplete; the caller
 * still owns it). */
bool api_out_finish(api_out *o, json_t *body);

#endif

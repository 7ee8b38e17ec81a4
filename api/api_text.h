/* A growable text buffer for writing large JSON outputs directly, with the
 * exact bytes Jansson's json_dumps (JSON_COMPACT | JSON_REAL_PRECISION(17))
 * would write for the same values: for the potentials of a model answer,
 * where building and dumping a Jansson object per row was half of
 * POST /v1/models at 100,000 rows. */
#ifndef GRAVITAS_API_TEXT_H
#define GRAVITAS_API_TEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct api_text {
  char *s; /* NUL-terminated when not failed; owned */
  size_t len, cap;
  bool failed; /* out of memory, or a string that is not UTF-8 */
} api_text;

/* Makes room for n more bytes, so that a writer that knows about how much
 * it will write grows the buffer once (a failure shows on the next put). */
void api_text_reserve(api_text *t, size_t n);
/* Appends n bytes. */
void api_text_put(api_text *t, const char *s, size_t n);
/* Appends a NUL-terminated string as is. */
void api_text_raw(api_text *t, const char *s);
/* s as a JSON string (quoted and escaped as Jansson does), or null when s
 * is NULL; a string that is not valid UTF-8 fails the text (Jansson
 * refuses it too). */
void api_text_string(api_text *t, const char *s);
/* x as a JSON real (api_fmt_json_real), or null when x is not finite. */
void api_text_real(api_text *t, double x);
/* v as a JSON integer. */
void api_text_int(api_text *t, long long v);
/* Frees the text. */
void api_text_free(api_text *t);

#endif

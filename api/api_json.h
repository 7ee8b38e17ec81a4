/* Reading request bodies: parsing with Jansson's strict flags, the depth
 * limit, and declarative field specs that validate a whole JSON object in one
 * call, collecting every error with its RFC 6901 pointer (STYLE.md item 5). */
#ifndef GRAVITAS_API_JSON_H
#define GRAVITAS_API_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api.h"
#include "api_lift.h"

/* Longest JSON Pointer we build; longer ones are truncated safely. */
#define API_POINTER_MAX 512

/* Parses req's body as one JSON object. On success returns the object (owned
 * by the caller, json_decref). On failure writes the problem into res and
 * returns NULL: 400 malformed-json (empty body, syntax error with its line
 * and column, duplicate key, trailing data, a top-level value that is not an
 * object) or 422 limit-exceeded (nesting deeper than limits->max_json_depth).
 * limits may be NULL (no depth limit beyond Jansson's own). */
json_t *api_json_parse_body(const api_request *req, const api_limits *limits,
                            api_response *res);

/* The same, with the numeric columns of a dataset (/columns/<name>,
 * /data/columns/<name>) lifted into *lifted (api_lift.h; it must start
 * empty, and is empty again on failure): the decoder (api_data_decode)
 * takes them from there. The answer is the same as api_json_parse_body's
 * for every body, only faster and smaller for large columns. */
json_t *api_json_parse_body_lifted(const api_request *req,
                                   const api_limits *limits, api_response *res,
                                   api_lifted *lifted);

/* Nesting depth of v: 0 for a scalar, 1 for an empty array or object, ...
 * Stops counting at cap + 1 (so it never walks deeper than that). */
size_t api_json_depth(const json_t *v, size_t cap);

/* Builds "<base>/<escaped token>" into buf (size bufsz). Returns buf. */
const char *api_pointer_join(char *buf, size_t bufsz, const char *base,
                             const char *token);
/* Builds "<base>/<index>" into buf. Returns buf. */
const char *api_pointer_index(char *buf, size_t bufsz, const char *base,
                              size_t index);

/* Unknown members listed one by one before the rest are only counted. */
#define API_MAX_UNKNOWN 16

typedef enum api_ftype {
  API_F_STRING,  /* a JSON string */
  API_F_NUMBER,  /* integer or real */
  API_F_INTEGER, /* a JSON integer (not 3.0) */
  API_F_BOOL,
  API_F_OBJECT,
  API_F_ARRAY
} api_ftype;

/* One member of a request object. Bounds apply to numbers (and integers);
 * `allowed` (NULL-terminated, may be NULL) lists the accepted strings. */
typedef struct api_field {
  const char *name;
  api_ftype type;
  bool required;
  const char *const *allowed;
  bool has_min, min_exclusive;
  double min;
  bool has_max, max_exclusive;
  double max;
  const json_t **out; /* set to the (borrowed) value when present and valid,
                         else to NULL; may itself be NULL */
} api_field;

/* Validates obj (found at JSON Pointer `base`, "" for the body) against the
 * n field specs: obj must be an object; every required field present; every
 * present field of the right type, in bounds and among the allowed values;
 * no member outside the specs. Adds one error per fault to errs (all faults,
 * not only the first; unknown members beyond API_MAX_UNKNOWN are counted in
 * one final entry). Returns true when nothing was wrong. */
bool api_json_fields(const json_t *obj, const char *base,
                     const api_field *fields, size_t n, api_errors *errs);

/* Drops an incomplete UTF-8 sequence at the end of buf (left by a
 * truncating snprintf), so that Jansson accepts the text. Returns buf. */
char *api_utf8_trim(char *buf);

/* True when s[0, n) is strict UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF), the rule Jansson applies to JSON strings. */
bool api_utf8_valid(const char *s, size_t n);

/* Maximum nesting accepted by api_json_valid (Jansson's own parser depth
 * limit). */
#define API_JSON_VALID_MAX_DEPTH 2048

/* True when s[0, n) is one JSON text (RFC 8259; any value at the top,
 * surrounding white space allowed) in strict UTF-8, with no unpaired
 * surrogate escape and at most API_JSON_VALID_MAX_DEPTH levels of arrays
 * and objects. It accepts what Jansson's json_loadb accepts with
 * JSON_DECODE_ANY | JSON_ALLOW_NUL, apart from valid JSON that Jansson
 * cannot hold: integers beyond 64 bits, reals beyond DBL_MAX and "\u0000"
 * in an object key (fuzz_request checks the agreement on every input). No
 * allocation, one pass: the store checks a model's answer with it before
 * keeping it. */
bool api_json_valid(const char *s, size_t n);

/* Replaces each byte of the NUL-terminated s that does not start a valid
 * UTF-8 sequence with '?', so that a message quoting the input (a CSV cell,
 * or the token Jansson's error text quotes) can go into JSON. Returns s. */
char *api_utf8_sanitize(char *s);

/* "a string", "a number", ...: the noun phrase for a field type. */
const char *api_ftype_name(api_ftype t);

/* Writes "a, b, c" (the names of the n fields) into buf. Returns buf. */
const char *api_fields_list(const api_field *fields, size_t n, char *buf,
                            size_t bufsz);

#endif

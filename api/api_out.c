/* Answer-building helpers (see api_out.h). */
#include "api_out.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "api_json.h"

bool api_out_init(api_out *o) {
  o->warnings = json_array();
  o->failed = o->warnings == NULL;
  return !o->failed;
}

void api_out_set(api_out *o, json_t *obj, const char *key, json_t *val) {
  if (json_object_set_new(obj, key, val) != 0) o->failed = true;
}

void api_out_push(api_out *o, json_t *arr, json_t *val) {
  if (json_array_append_new(arr, val) != 0) o->failed = true;
}

json_t *api_out_num(api_out *o, double x, const char *what) {
  /* json_real refuses NaN and infinities (it returns NULL), so they must
   * never reach it. */
  if (isfinite(x)) return json_real(x);
  if (what != NULL)
    api_out_warn(o, "%s is not finite (%s) and is written as null.", what,
                 isnan(x) ? "undefined" : "infinite");
  return json_null();
}

void api_out_warn(api_out *o, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  api_out_push(o, o->warnings,
               json_string(api_utf8_sanitize(api_utf8_trim(buf))));
}

bool api_out_finish(api_out *o, json_t *body) {
  api_out_set(o, body, "warnings", o->warnings);
  o->warnings = NULL;
  return !o->failed;
}

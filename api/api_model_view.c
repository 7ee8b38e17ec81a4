/* Parsing a stored model answer into its immutable view (see
 * api_model_view.h). */
#include "api_model_view.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void api_model_view_free(api_model_view *v) {
  if (v == NULL) return;
  free(v->id);
  free(v->dataset_id);
  free(v->estimator);
  free(v->vcov);
  free(v->formula_text);
  free(v->body);
  core_formula_free(v->formula);
  for (size_t i = 0; i < v->n_coef; i++)
    free(v->coef_term[i]);
  free(v->coef_term);
  free(v->coef);
  if (v->pot_json != NULL)
    for (size_t i = 0; i < v->n_pot; i++)
      free(atomic_load(&v->pot_json[i]));
  free(v->pot_json);
  for (size_t f = 0; f < v->n_fe; f++)
    api_fe_map_clear(&v->fe[f]);
  free(v->fe);
  free(v->pot_rows);
  for (size_t i = 0; i < v->n_strings; i++)
    free(v->strings[i]);
  free(v->strings);
  free(v);
}

/* NULL-safe string comparison with NULL first. */
static int cmp_key(const char *a, const char *b) {
  if (a == NULL || b == NULL) return (a != NULL) - (b != NULL);
  return strcmp(a, b);
}

static int cmp_entry(const void *pa, const void *pb) {
  const api_pot_entry *a = pa, *b = pb;
  int c = cmp_key(a->reporter, b->reporter);
  if (c == 0) c = cmp_key(a->partner, b->partner);
  if (c == 0) c = (a->has_year > b->has_year) - (a->has_year < b->has_year);
  if (c == 0) c = (a->year > b->year) - (a->year < b->year);
  return c;
}

static double num_or_nan(const json_t *v) {
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static char *dup_member(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? strdup(s) : NULL;
}

static const char *class_name(const char *s) {
  static const core_pot_class classes[] = {
      CORE_CLASS_HUGE, CORE_CLASS_EXPANDING, CORE_CLASS_REMODELLING};
  if (s == NULL) return NULL;
  for (size_t i = 0; i < 3; i++) {
    const char *name = core_pot_class_name(classes[i]);
    if (strcmp(name, s) == 0) return name;
  }
  return NULL;
}

/* Interns a key string: rows of one pair share one copy. Returns NULL for
 * a JSON null or a missing member, and sets *fail on allocation failure. */
static const char *intern(api_model_view *v, const json_t *s, bool *fail) {
  const char *text = json_string_value(s);
  if (text == NULL) return NULL;
  for (size_t i = v->n_strings; i-- > 0;)
    if (strcmp(v->strings[i], text) == 0) return v->strings[i];
  char *copy = strdup(text);
  char **grown = realloc(v->strings, (v->n_strings + 1) * sizeof *grown);
  if (copy == NULL || grown == NULL) {
    free(copy);
    if (grown) v->strings = grown;
    *fail = true;
    return NULL;
  }
  v->strings = grown;
  v->strings[v->n_strings++] = copy;
  v->bytes += strlen(copy) + 1 + sizeof(char *);
  return copy;
}

static bool read_coefficients(api_model_view *v, const json_t *root) {
  const json_t *coefs = json_object_get(root, "coefficients");
  const json_t *collinear =
      json_object_get(json_object_get(root, "dropped"), "collinear");
  if (!json_is_array(coefs)) return false;
  size_t n = json_array_size(coefs) + json_array_size(collinear);
  v->coef_term = calloc(n ? n : 1, sizeof *v->coef_term);
  v->coef = calloc(n ? n : 1, sizeof *v->coef);
  if (v->coef_term == NULL || v->coef == NULL) return false;
  size_t i;
  const json_t *c;
  json_array_foreach(coefs, i, c) {
    const char *term = json_string_value(json_object_get(c, "term"));
    if (term == NULL) return false;
    v->coef_term[v->n_coef] = strdup(term);
    if (v->coef_term[v->n_coef] == NULL) return false;
    v->coef[v->n_coef++] = num_or_nan(json_object_get(c, "estimate"));
  }
  json_array_foreach(collinear, i, c) {
    const char *term = json_string_value(c);
    if (term == NULL) return false;
    v->coef_term[v->n_coef] = strdup(term);
    if (v->coef_term[v->n_coef] == NULL) return false;
    v->coef[v->n_coef++] = 0.0;
  }
  v->bytes += n * (sizeof(double) + sizeof(char *) + 32);
  return true;
}

static void read_potential_spec(api_model_view *v, const json_t *root) {
  const json_t *p = json_object_get(root, "potential");
  core_pot_spec_default(&v->pot);
  v->factor = NAN;
  if (!json_is_object(p)) return;
  const char *method = json_string_value(json_object_get(p, "method"));
  const char *smearing = json_string_value(json_object_get(p, "smearing"));
  const json_t *th = json_object_get(p, "thresholds");
  if (method == NULL || smearing == NULL || json_array_size(th) != 2) return;
  v->pot.method = strcmp(method, "log") == 0        ? CORE_POT_LOG
                  : strcmp(method, "frontier") == 0 ? CORE_POT_FRONTIER
                                                    : CORE_POT_LEVEL;
  v->pot.smearing = strcmp(smearing, "normal") == 0 ? CORE_SMEAR_NORMAL
                    : strcmp(smearing, "none") == 0 ? CORE_SMEAR_NONE
                                                    : CORE_SMEAR_DUAN;
  v->pot.lo = num_or_nan(json_array_get(th, 0));
  v->pot.hi = num_or_nan(json_array_get(th, 1));
  v->factor = num_or_nan(json_object_get(p, "factor"));
  v->has_potential_spec = true;
}

/* A key of a potential row: absent, null or a string. */
static bool key_ok(const json_t *k) {
  return k == NULL || json_is_null(k) || json_is_string(k);
}

static bool read_potentials(api_model_view *v, const json_t *root) {
  const json_t *rows = json_object_get(root, "potentials");
  if (rows == NULL) return true;
  if (!json_is_array(rows)) return false;
  size_t n = json_array_size(rows);
  v->pot_rows = calloc(n ? n : 1, sizeof *v->pot_rows);
  if (v->pot_rows == NULL) return false;
  bool fail = false;
  size_t i;
  const json_t *r;
  json_array_foreach(rows, i, r) {
    api_pot_entry *e = &v->pot_rows[i];
    if (!json_is_object(r) || !key_ok(json_object_get(r, "reporter")) ||
        !key_ok(json_object_get(r, "partner")))
      return false;
    e->reporter = intern(v, json_object_get(r, "reporter"), &fail);
    e->partner = intern(v, json_object_get(r, "partner"), &fail);
    const json_t *year = json_object_get(r, "year");
    e->has_year = json_is_integer(year);
    e->year = e->has_year ? (int)json_integer_value(year) : 0;
    e->actual = num_or_nan(json_object_get(r, "actual"));
    e->predicted = num_or_nan(json_object_get(r, "predicted"));
    e->k = num_or_nan(json_object_get(r, "k"));
    e->gap = num_or_nan(json_object_get(r, "gap"));
    e->cls = class_name(json_string_value(json_object_get(r, "class")));
    if (fail) return false;
  }
  v->n_pot = n;
  /* The rows, and the rendered answers of the ones asked for (~400 bytes
   * each at most, counted up front). */
  v->pot_json = calloc(n ? n : 1, sizeof *v->pot_json);
  if (v->pot_json == NULL) return false;
  for (size_t slot = 0; slot < n; slot++)
    atomic_init(&v->pot_json[slot], NULL);
  v->bytes += n * (sizeof *v->pot_rows + sizeof *v->pot_json + 400);
  qsort(v->pot_rows, n, sizeof *v->pot_rows, cmp_entry);
  return true;
}

/* "fixed_effect_values" (optional): one map per factor. */
static bool read_fe_values(api_model_view *v, const json_t *root) {
  const json_t *arr = json_object_get(root, "fixed_effect_values");
  if (arr == NULL) return true;
  if (!json_is_array(arr)) return false;
  size_t nf = json_array_size(arr);
  v->fe = calloc(nf ? nf : 1, sizeof *v->fe);
  if (v->fe == NULL) return false;
  v->n_fe = nf;
  api_text key = {0};
  bool ok = true;
  for (size_t f = 0; ok && f < nf; f++) {
    const json_t *e = json_array_get(arr, f);
    const char *label = json_string_value(json_object_get(e, "factor"));
    const json_t *levels = json_object_get(e, "levels");
    if (label == NULL || !json_is_array(levels)) {
      ok = false;
      break;
    }
    v->fe[f].label = strdup(label);
    ok = v->fe[f].label != NULL;
    size_t i;
    const json_t *lv;
    json_array_foreach(levels, i, lv) {
      const json_t *val = json_object_get(lv, "value");
      if (!ok || !json_is_number(val) ||
          !api_fe_key_text_json(json_object_get(lv, "key"), &key) ||
          !api_fe_map_put(&v->fe[f], key.s, json_number_value(val))) {
        ok = false;
        break;
      }
      v->bytes += key.len + 1 + 2 * (sizeof(char *) + sizeof(double));
    }
  }
  api_text_free(&key);
  return ok;
}

int api_model_view_build(const char *json_text, size_t len,
                         api_model_view **out, char *err, size_t errlen) {
  *out = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
  api_model_view *v = calloc(1, sizeof *v);
  const char *why = NULL;
  if (root == NULL || !json_is_object(root)) {
    why = "the stored model is not a JSON object";
    goto fail;
  }
  if (v == NULL) {
    why = "out of memory";
    goto fail;
  }
  v->id = dup_member(root, "id");
  v->dataset_id = dup_member(root, "dataset_id");
  v->estimator = dup_member(root, "estimator");
  v->vcov = dup_member(root, "vcov");
  v->formula_text = dup_member(root, "formula");
  if (!v->id || !v->dataset_id || !v->estimator || !v->vcov ||
      !v->formula_text) {
    why = "the stored model lacks id, dataset_id, estimator, vcov or formula";
    goto fail;
  }
  snprintf(v->etag, sizeof v->etag, "\"%s\"", v->id);
  core_err cerr;
  core_err_clear(&cerr);
  if (core_formula_parse(v->formula_text, &v->formula, &cerr) != CORE_OK) {
    why = "the stored formula does not parse";
    goto fail;
  }
  v->body = malloc(len + 1);
  if (v->body == NULL) {
    why = "out of memory";
    goto fail;
  }
  memcpy(v->body, json_text, len);
  v->body[len] = '\0';
  v->body_len = len;
  v->bytes = sizeof *v + len + 1 + strlen(v->formula_text) * 8;
  if (!read_coefficients(v, root)) {
    why = "the stored coefficients are malformed";
    goto fail;
  }
  read_potential_spec(v, root);
  if (!read_potentials(v, root)) {
    why = "the stored potentials are malformed";
    goto fail;
  }
  if (!read_fe_values(v, root)) {
    why = "the stored fixed-effect values are malformed";
    goto fail;
  }
  json_decref(root);
  *out = v;
  return 0;
fail:
  if (err != NULL && errlen > 0) snprintf(err, errlen, "%s", why);
  json_decref(root);
  api_model_view_free(v);
  return -1;
}

size_t api_model_view_find(const api_model_view *v, const char *reporter,
                           const char *partner, size_t *count) {
  size_t lo = 0, hi = v->n_pot;
  /* Lower bound of (reporter, partner or the smallest partner). */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const api_pot_entry *e = &v->pot_rows[mid];
    int c = cmp_key(e->reporter, reporter);
    if (c == 0 && partner != NULL) c = cmp_key(e->partner, partner);
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t end = lo;
  while (end < v->n_pot && cmp_key(v->pot_rows[end].reporter, reporter) == 0 &&
         (partner == NULL || cmp_key(v->pot_rows[end].partner, partner) == 0))
    end++;
  *count = end - lo;
  return lo;
}

/* See api_fe_key.h. */
#include "api_fe_key.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_num.h"

#define SEP "\x1f"

/* Which of the panel's values a part names (as part_codes in core_hdfe.c):
 * 1 reporter, 2 partner, 3 the year key, 4 a numeric column (*col), 0 none. */
static int part_kind(const core_panel *p, const char *name, size_t len,
                     const double **col) {
  char buf[CORE_NAME_MAX + 1];
  if (len > CORE_NAME_MAX) return 0;
  memcpy(buf, name, len);
  buf[len] = '\0';
  if (strcmp(buf, "reporter") == 0) return p->reporter ? 1 : 0;
  if (strcmp(buf, "partner") == 0) return p->partner ? 2 : 0;
  if (strcmp(buf, "year") == 0 && p->year &&
      core_panel_find(p, "year") >= (long)p->ncol)
    return 3;
  *col = core_panel_column(p, buf);
  return *col ? 4 : 0;
}

bool api_fe_factor_resolve(const core_panel *p, const char *label,
                           api_fe_factor *out) {
  out->n = 0;
  const char *s = label;
  for (;;) {
    const char *caret = strchr(s, '^');
    size_t len = caret ? (size_t)(caret - s) : strlen(s);
    /* The formula keeps no spaces inside a label part; trim anyway. */
    while (len > 0 && s[0] == ' ') {
      s++;
      len--;
    }
    while (len > 0 && s[len - 1] == ' ')
      len--;
    if (out->n == CORE_HDFE_MAX_FACTORS) return false;
    out->col[out->n] = NULL;
    out->kind[out->n] = part_kind(p, s, len, &out->col[out->n]);
    if (out->kind[out->n] == 0) return false;
    out->n++;
    if (!caret) return true;
    s = caret + 1;
  }
}

static double no_negative_zero(double v) {
  return v == 0.0 ? 0.0 : v;
}

json_t *api_fe_key_parts(const core_panel *p, const api_fe_factor *fac,
                         size_t r) {
  json_t *arr = json_array();
  for (size_t k = 0; arr != NULL && k < fac->n; k++) {
    json_t *v = NULL;
    int kind = fac->kind[k];
    if (kind == 1 || kind == 2) {
      const char *s = kind == 1 ? p->reporter[r] : p->partner[r];
      v = s ? json_string(s) : NULL;
    } else if (kind == 3) {
      v = json_integer(p->year[r]);
    } else if (!isnan(fac->col[k][r])) {
      v = json_real(no_negative_zero(fac->col[k][r]));
    }
    if (v == NULL || json_array_append_new(arr, v) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  return arr;
}

static void put_number(api_text *t, double v) {
  char buf[API_NUM_BUF];
  api_text_put(t, buf, api_fmt_g17(no_negative_zero(v), buf));
}

static void reset(api_text *t) {
  t->len = 0;
  t->failed = false;
  if (t->s) t->s[0] = '\0';
}

bool api_fe_key_text(const core_panel *p, const api_fe_factor *fac, size_t r,
                     api_text *t) {
  reset(t);
  api_text_put(t, "", 0);
  for (size_t k = 0; k < fac->n; k++) {
    if (k > 0) api_text_put(t, SEP, 1);
    int kind = fac->kind[k];
    if (kind == 1 || kind == 2) {
      const char *s = kind == 1 ? p->reporter[r] : p->partner[r];
      if (s == NULL) return false;
      api_text_raw(t, s);
    } else if (kind == 3) {
      api_text_int(t, p->year[r]);
    } else {
      if (isnan(fac->col[k][r])) return false;
      put_number(t, fac->col[k][r]);
    }
  }
  return !t->failed;
}

bool api_fe_key_text_json(const json_t *parts, api_text *t) {
  reset(t);
  api_text_put(t, "", 0);
  if (!json_is_array(parts) || json_array_size(parts) == 0) return false;
  size_t i;
  const json_t *v;
  json_array_foreach(parts, i, v) {
    if (i > 0) api_text_put(t, SEP, 1);
    if (json_is_string(v))
      api_text_raw(t, json_string_value(v));
    else if (json_is_integer(v))
      api_text_int(t, (long long)json_integer_value(v));
    else if (json_is_real(v))
      put_number(t, json_real_value(v));
    else
      return false;
  }
  return !t->failed;
}

/* ---- the map ------------------------------------------------------------ */

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static bool grow(api_fe_map *m) {
  size_t cap = m->cap ? 2 * m->cap : 64;
  char **keys = calloc(cap, sizeof *keys);
  double *value = malloc(cap * sizeof *value);
  if (keys == NULL || value == NULL) {
    free(keys);
    free(value);
    return false;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i] == NULL) continue;
    size_t s = hash(m->keys[i]) & (cap - 1);
    while (keys[s] != NULL)
      s = (s + 1) & (cap - 1);
    keys[s] = m->keys[i];
    value[s] = m->value[i];
  }
  free(m->keys);
  free(m->value);
  m->keys = keys;
  m->value = value;
  m->cap = cap;
  return true;
}

bool api_fe_map_put(api_fe_map *m, const char *key, double value) {
  if (2 * (m->n + 1) > m->cap && !grow(m)) return false;
  size_t s = hash(key) & (m->cap - 1);
  while (m->keys[s] != NULL) {
    if (strcmp(m->keys[s], key) == 0) return true;
    s = (s + 1) & (m->cap - 1);
  }
  m->keys[s] = strdup(key);
  if (m->keys[s] == NULL) return false;
  m->value[s] = value;
  m->n++;
  return true;
}

bool api_fe_map_get(const api_fe_map *m, const char *key, double *value) {
  if (m->cap == 0) return false;
  size_t s = hash(key) & (m->cap - 1);
  while (m->keys[s] != NULL) {
    if (strcmp(m->keys[s], key) == 0) {
      *value = m->value[s];
      return true;
    }
    s = (s + 1) & (m->cap - 1);
  }
  return false;
}

void api_fe_map_clear(api_fe_map *m) {
  for (size_t i = 0; i < m->cap; i++)
    free(m->keys[i]);
  free(m->keys);
  free(m->value);
  free(m->label);
  *m = (api_fe_map){0};
}

/* World Bank indicators through the store's cache (see srv_indicators.h). */
#include "srv_indicators.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "srv_log.h"
#include "srv_metrics.h"

struct srv_indicators {
  store *st;
  char *base_url;
  wb_config wb;
  int64_t ttl_seconds;
  atomic_int slots; /* fetches that may still start */
};

srv_indicators *srv_indicators_new(store *st, const srv_indicators_config *c) {
  srv_indicators *x = calloc(1, sizeof *x);
  if (x == NULL) return NULL;
  x->st = st;
  x->base_url = strdup(c->base_url ? c->base_url : WB_DEFAULT_BASE_URL);
  if (x->base_url == NULL) {
    free(x);
    return NULL;
  }
  wb_config_defaults(&x->wb);
  x->wb.base_url = x->base_url;
  if (c->timeout_ms > 0) {
    x->wb.timeout_total_ms = c->timeout_ms;
    if (x->wb.timeout_connect_ms > c->timeout_ms)
      x->wb.timeout_connect_ms = c->timeout_ms;
  }
  if (c->max_retries >= 0) x->wb.max_retries = c->max_retries;
  x->ttl_seconds = (int64_t)c->ttl_hours * 3600;
  atomic_init(&x->slots, c->max_fetches > 0 ? (int)c->max_fetches : 1);
  return x;
}

void srv_indicators_free(srv_indicators *x) {
  if (x == NULL) return;
  free(x->base_url);
  free(x);
}

static bool slot_acquire(srv_indicators *x) {
  int free_slots = atomic_load(&x->slots);
  while (free_slots > 0)
    if (atomic_compare_exchange_weak(&x->slots, &free_slots, free_slots - 1))
      return true;
  return false;
}

static void slot_release(srv_indicators *x) {
  atomic_fetch_add(&x->slots, 1);
}

static api_wb_error from_wb(wb_error_kind k) {
  switch (k) {
  case WB_OK: return API_WB_OK;
  case WB_E_INVALID_REQUEST: return API_WB_INVALID;
  case WB_E_UPSTREAM: return API_WB_UPSTREAM;
  case WB_E_TIMEOUT: return API_WB_TIMEOUT;
  case WB_E_NOMEM: break;
  }
  return API_WB_ERROR;
}

/* A row being collected, with its sort key (the country's position in the
 * request; unknown codes after the known ones, by text). */
typedef struct tmp_row {
  api_wb_row row;
  size_t ckey;
} tmp_row;

typedef struct rows_buf {
  tmp_row *items;
  size_t n, cap;
} rows_buf;

static bool rows_push(rows_buf *b, const api_wb_row *r, size_t ckey) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    tmp_row *grown = realloc(b->items, cap * sizeof *grown);
    if (grown == NULL) return false;
    b->items = grown;
    b->cap = cap;
  }
  b->items[b->n++] = (tmp_row){*r, ckey};
  return true;
}

static int cmp_rows(const void *pa, const void *pb) {
  const tmp_row *a = pa, *b = pb;
  if (a->row.indicator != b->row.indicator)
    return a->row.indicator < b->row.indicator ? -1 : 1;
  if (a->ckey != b->ckey) return a->ckey < b->ckey ? -1 : 1;
  int c = strcmp(a->row.country, b->row.country);
  if (c != 0) return c;
  return (a->row.year > b->row.year) - (a->row.year < b->row.year);
}

static size_t country_key(const char *const *countries, size_t n,
                          const char *code) {
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(countries[i], code) == 0) return i;
  return n;
}

/* What the cache holds for one indicator over the requested grid. */
typedef struct cache_state {
  size_t cells;   /* cached (country, year) values */
  bool complete;  /* every requested country and year is cached */
  int64_t oldest; /* fetched_unix of the oldest value (INT64_MAX if none) */
  char lastupdated[API_WB_DATE_MAX];
} cache_state;

static store_status cache_look(srv_indicators *x, const char *const *countries,
                               size_t n, const char *ind, int from, int to,
                               cache_state *cs) {
  *cs = (cache_state){0, true, INT64_MAX, ""};
  for (size_t c = 0; c < n; c++) {
    store_indicator_values *v = NULL;
    store_err err;
    store_status st = store_get_indicator_values(x->st, countries[c], ind, from,
                                                 to, &v, &err);
    if (st == STORE_INVALID) {
      cs->complete = false;
      continue;
    }
    if (st != STORE_OK) {
      SRV_LOG_ERROR("indicators", "cache read %s %s: %s", countries[c], ind,
                    err.msg);
      return st;
    }
    if (v->n < (size_t)(to - from + 1)) cs->complete = false;
    cs->cells += v->n;
    for (size_t i = 0; i < v->n; i++) {
      if (v->items[i].fetched_unix < cs->oldest)
        cs->oldest = v->items[i].fetched_unix;
      if (cs->lastupdated[0] == '\0')
        snprintf(cs->lastupdated, sizeof cs->lastupdated, "%s",
                 v->items[i].lastupdated);
    }
    store_indicator_values_free(v);
  }
  if (cs->cells == 0) cs->complete = false;
  return STORE_OK;
}

/* Appends the cached rows of indicator i to b. */
static bool cache_rows(srv_indicators *x, const char *const *countries,
                       size_t n, const char *ind, size_t i, int from, int to,
                       rows_buf *b, size_t *count) {
  for (size_t c = 0; c < n; c++) {
    store_indicator_values *v = NULL;
    store_err err;
    store_status st = store_get_indicator_values(x->st, countries[c], ind, from,
                                                 to, &v, &err);
    if (st == STORE_INVALID) continue;
    if (st != STORE_OK) return false;
    for (size_t k = 0; k < v->n; k++) {
      api_wb_row r = {.indicator = i,
                      .year = v->items[k].year,
                      .has_value = v->items[k].has_value,
                      .value = v->items[k].has_value ? v->items[k].value : NAN};
      snprintf(r.country, sizeof r.country, "%s", countries[c]);
      snprintf(r.lastupdated, sizeof r.lastupdated, "%s",
               v->items[k].lastupdated);
      if (!rows_push(b, &r, c)) {
        store_indicator_values_free(v);
        return false;
      }
      (*count)++;
    }
    store_indicator_values_free(v);
  }
  return true;
}

static void warn(api_wb_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(api_wb_result *r, const char *fmt, ...) {
  char text[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  json_array_append_new(r->warnings, json_string(text));
}

/* Stores the fetched rows of fetched indicator j (its status s). Returns
 * false (logged) when the store refuses them; the values are still served. */
static bool cache_put(srv_indicators *x, const wb_result *wr, size_t j,
                      const wb_indicator_status *s) {
  size_t k = 0;
  store_indicator_in *vals =
      malloc((wr->n_rows ? wr->n_rows : 1) * sizeof *vals);
  if (vals == NULL) return false;
  for (size_t r = 0; r < wr->n_rows; r++) {
    const wb_row *w = &wr->rows[r];
    if (w->indicator != wr->status[j].indicator) continue;
    vals[k++] = (store_indicator_in){w->country,
                                     s->indicator,
                                     w->year,
                                     w->has_value,
                                     w->has_value ? w->value : 0,
                                     s->lastupdated[0] ? s->lastupdated : NULL};
  }
  store_err err;
  store_status st = store_put_indicator_values(x->st, vals, k, &err);
  free(vals);
  if (st != STORE_OK) {
    SRV_LOG_ERROR("indicators", "cache write %s: %s", s->indicator, err.msg);
    return false;
  }
  return true;
}

/* Counts each indicator of the answer by its outcome, and the World Bank
 * requests made for it (/metrics). */
static void record_metrics(const api_wb_result *r, const wb_result *wr) {
  for (size_t i = 0; i < r->n_status; i++) {
    const api_wb_status *s = &r->status[i];
    srv_wb_outcome o = SRV_WB_ERROR;
    if (strcmp(s->source, "worldbank") == 0)
      o = SRV_WB_WORLDBANK;
    else if (strcmp(s->source, "cache") == 0)
      o = SRV_WB_CACHE;
    else if (strcmp(s->source, "stale-cache") == 0)
      o = SRV_WB_STALE_CACHE;
    else if (s->error == API_WB_INVALID)
      o = SRV_WB_INVALID;
    else if (s->error == API_WB_UPSTREAM)
      o = SRV_WB_UPSTREAM;
    else if (s->error == API_WB_TIMEOUT)
      o = SRV_WB_TIMEOUT;
    else if (s->error == API_WB_BUSY || r->error == API_WB_BUSY)
      o = SRV_WB_BUSY;
    srv_metrics_wb_indicator(o);
  }
  if (wr == NULL) return;
  size_t retries = 0;
  for (size_t j = 0; j < wr->n_status; j++)
    retries += wr->status[j].retries;
  srv_metrics_wb_requests(wr->requests, retries);
}

api_wb_error srv_indicators_get(srv_indicators *x, const char *const *countries,
                                size_t n, const char *const *indicators,
                                size_t m, int from, int to, api_wb_mode mode,
                                api_wb_result **out) {
  *out = NULL;
  api_wb_result *r = calloc(1, sizeof *r);
  rows_buf b = {NULL, 0, 0};
  const char **need = NULL;
  size_t *need_ix = NULL;
  cache_state *cs = NULL;
  wb_result *wr = NULL;
  if (r == NULL) return API_WB_ERROR;
  r->warnings = json_array();
  r->status = calloc(m ? m : 1, sizeof *r->status);
  need = calloc(m ? m : 1, sizeof *need);
  need_ix = calloc(m ? m : 1, sizeof *need_ix);
  cs = calloc(m ? m : 1, sizeof *cs);
  if (r->warnings == NULL || r->status == NULL || need == NULL ||
      need_ix == NULL || cs == NULL)
    goto nomem;
  r->n_status = m;
  if (x == NULL || n == 0 || m == 0 || from > to) {
    r->error = x == NULL ? API_WB_ERROR : API_WB_INVALID;
    snprintf(r->message, sizeof r->message, "%s",
             x == NULL ? "no World Bank fetcher is configured"
                       : "countries, indicators and a year range are needed");
    goto done;
  }
  int64_t now = (int64_t)time(NULL);
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    api_wb_status *s = &r->status[i];
    snprintf(s->indicator, sizeof s->indicator, "%s", indicators[i]);
    s->source = "error";
    if (cache_look(x, countries, n, indicators[i], from, to, &cs[i]) !=
        STORE_OK) {
      cs[i] = (cache_state){0, false, INT64_MAX, ""};
      warn(r, "%s: the indicator cache could not be read", indicators[i]);
    }
    bool fresh = cs[i].complete && x->ttl_seconds > 0 &&
                 now - cs[i].oldest < x->ttl_seconds;
    if (mode == API_WB_CACHE_ONLY && cs[i].cells == 0) {
      snprintf(s->message, sizeof s->message, "nothing is cached");
    } else if ((fresh && mode == API_WB_NORMAL) || mode == API_WB_CACHE_ONLY) {
      s->source = "cache";
      s->age_hours = (double)(now - cs[i].oldest) / 3600.0;
      snprintf(s->lastupdated, sizeof s->lastupdated, "%s", cs[i].lastupdated);
    } else {
      need[k] = indicators[i];
      need_ix[k++] = i;
    }
  }
  wb_error werr = {WB_OK, ""};
  bool ran = false;
  if (k > 0) {
    if (!slot_acquire(x)) {
      r->error = API_WB_BUSY;
      snprintf(r->message, sizeof r->message,
               "every World Bank fetch slot is in use; retry shortly");
      goto done;
    }
    wb_fetch_indicators(&x->wb, countries, n, need, k, from, to, &wr, &werr);
    slot_release(x);
    ran = true;
  }
  for (size_t j = 0; ran && j < k; j++) {
    size_t i = need_ix[j];
    api_wb_status *s = &r->status[i];
    const wb_indicator_status *ws = wr ? &wr->status[j] : NULL;
    if (ws != NULL && ws->ok) {
      s->source = "worldbank";
      s->age_hours = 0;
      snprintf(s->lastupdated, sizeof s->lastupdated, "%s", ws->lastupdated);
      if (!cache_put(x, wr, j, ws))
        warn(r, "%s: the fetched values could not be cached", s->indicator);
      for (size_t q = 0; q < wr->n_rows; q++) {
        const wb_row *w = &wr->rows[q];
        if (w->indicator != ws->indicator) continue;
        api_wb_row row = {.indicator = i,
                          .year = w->year,
                          .has_value = w->has_value,
                          .value = w->value};
        snprintf(row.country, sizeof row.country, "%s", w->country);
        snprintf(row.lastupdated, sizeof row.lastupdated, "%s",
                 ws->lastupdated);
        if (!rows_push(&b, &row, country_key(countries, n, w->country)))
          goto nomem;
        s->rows++;
      }
      continue;
    }
    wb_error_kind kind = ws ? ws->kind : werr.kind;
    const char *msg = ws ? ws->error : werr.message;
    s->error = from_wb(kind);
    snprintf(s->message, sizeof s->message, "%s", msg);
    bool unreachable = kind == WB_E_UPSTREAM || kind == WB_E_TIMEOUT;
    if (unreachable && cs[i].cells > 0) {
      s->source = "stale-cache";
      s->age_hours = (double)(now - cs[i].oldest) / 3600.0;
      snprintf(s->lastupdated, sizeof s->lastupdated, "%s", cs[i].lastupdated);
      warn(r,
           "%s: the World Bank could not be reached (%s); serving cached "
           "values fetched %.1f hours ago%s",
           s->indicator, msg, s->age_hours,
           cs[i].complete ? ""
                          : " (the cache does not cover every country "
                            "and year asked for)");
    } else if (r->error == API_WB_OK) {
      r->error = s->error;
      snprintf(r->message, sizeof r->message, "%s", msg);
    }
  }
  for (size_t i = 0; i < m; i++) {
    api_wb_status *s = &r->status[i];
    if (strcmp(s->source, "cache") != 0 &&
        strcmp(s->source, "stale-cache") != 0)
      continue;
    if (!cache_rows(x, countries, n, indicators[i], i, from, to, &b, &s->rows))
      goto nomem;
  }
  if (b.n > 0) qsort(b.items, b.n, sizeof *b.items, cmp_rows);
  r->rows = calloc(b.n ? b.n : 1, sizeof *r->rows);
  if (r->rows == NULL) goto nomem;
  for (size_t q = 0; q < b.n; q++)
    r->rows[q] = b.items[q].row;
  r->n_rows = b.n;
done:
  record_metrics(r, wr);
  free(b.items);
  free(need);
  free(need_ix);
  free(cs);
  wb_result_free(wr);
  *out = r;
  return r->error;
nomem:
  free(b.items);
  free(need);
  free(need_ix);
  free(cs);
  wb_result_free(wr);
  api_wb_result_free(r);
  return API_WB_ERROR;
}

/* GET /v1/potential: the fast path for other services. One pair's trade
 * potential (or every partner's) from a stored model, by default the model
 * the alias "default" points at. Answers straight from the cached view:
 * a binary search, no parsing, no store access on a cache hit. */
#include "api.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_svc.h"
#include "api_text.h"

#define DEFAULT_MODEL "default"
/* How many reporters, partners or years a 404 detail lists at most. */
#define LIST_IN_DETAIL 40

/* The entry of a pair for the year asked, or for the latest year with an
 * observed K (else the latest year) when want_year is false. rows are the
 * pair's rows in year order. NULL when the year is not there. */
static const api_pot_entry *pick(const api_pot_entry *rows, size_t n,
                                 bool want_year, long long year) {
  if (want_year) {
    for (size_t i = 0; i < n; i++)
      if (rows[i].has_year && rows[i].year == year) return &rows[i];
    return NULL;
  }
  for (size_t i = n; i-- > 0;)
    if (isfinite(rows[i].k)) return &rows[i];
  return n ? &rows[n - 1] : NULL;
}

/* {"id","estimator","formula"} of the model that made the scores. */
static void model_text(api_text *t, const api_model_view *v) {
  api_text_raw(t, "{\"id\":");
  api_text_string(t, v->id);
  api_text_raw(t, ",\"estimator\":");
  api_text_string(t, v->estimator);
  api_text_raw(t, ",\"formula\":");
  api_text_string(t, v->formula_text);
  api_text_put(t, "}", 1);
}

/* The answer for one pair-year: row i of the view with its model, the text
 * made once per view and row and shared (see api_model_view.pot_json). NULL
 * when out of memory. */
static const char *pair_text(const api_model_view *v, const api_pot_entry *e) {
  size_t i = (size_t)(e - v->pot_rows);
  char *t = atomic_load_explicit(&v->pot_json[i], memory_order_acquire);
  if (t != NULL) return t;
  /* The row's object, its closing brace replaced by the model member. */
  api_text text = {0};
  api_pot_entry_text(&text, e);
  if (!text.failed) text.len--;
  api_text_raw(&text, ",\"model\":");
  model_text(&text, v);
  api_text_put(&text, "}", 1);
  if (text.failed) {
    api_text_free(&text);
    return NULL;
  }
  t = text.s;
  char *expected = NULL;
  if (!atomic_compare_exchange_strong_explicit(&v->pot_json[i], &expected, t,
                                               memory_order_acq_rel,
                                               memory_order_acquire)) {
    free(t); /* another request made it first */
    t = expected;
  }
  return t;
}

/* Appends the distinct years of rows to buf as an increasing comma list.
 * The rows of several partners are each in year order but not together, so
 * each pass takes the smallest year above the last one shown. */
static void list_years(const api_model_view *v, size_t first, size_t n,
                       char *buf, size_t bufsz) {
  size_t used = strlen(buf);
  long long last = LLONG_MIN;
  for (size_t shown = 0; shown < LIST_IN_DETAIL; shown++) {
    long long next = LLONG_MAX;
    for (size_t i = first; i < first + n; i++) {
      const api_pot_entry *e = &v->pot_rows[i];
      if (e->has_year && e->year > last && e->year < next) next = e->year;
    }
    if (next == LLONG_MAX) return;
    int k =
        snprintf(buf + used, bufsz - used, "%s%lld", shown ? ", " : "", next);
    if (k < 0 || (size_t)k >= bufsz - used) return;
    used += (size_t)k;
    last = next;
  }
}

/* Appends distinct values (strings of key, or years) of rows to buf as a
 * comma list. */
static void list_values(const api_model_view *v, size_t first, size_t n,
                        int what, char *buf, size_t bufsz) {
  if (what == 2) {
    list_years(v, first, n, buf, bufsz);
    return;
  }
  size_t used = strlen(buf), shown = 0;
  const char *last = NULL;
  for (size_t i = first; i < first + n && shown < LIST_IN_DETAIL; i++) {
    const api_pot_entry *e = &v->pot_rows[i];
    char item_text[80];
    {
      const char *s = what == 0 ? e->reporter : e->partner;
      if (s == NULL || (last && strcmp(last, s) == 0)) continue;
      /* Partners of one reporter are sorted, reporters too: duplicates are
       * adjacent. */
      last = s;
      snprintf(item_text, sizeof item_text, "%s", s);
    }
    int k = snprintf(buf + used, bufsz - used, "%s%s", shown ? ", " : "",
                     item_text);
    if (k < 0 || (size_t)k >= bufsz - used) break;
    used += (size_t)k;
    shown++;
  }
}

static void not_found(api_response *res, const char *pointer,
                      const char *detail) {
  api_errors errs = {0};
  api_errors_add(&errs, pointer, "%s", detail);
  api_problem(res, API_E_NOT_FOUND, &errs, "%s", detail);
}

void api_get_potential(const api_request *req, api_response *res) {
  const char *reporter = api_query(req, "reporter");
  const char *partner = api_query(req, "partner");
  const char *model = api_query(req, "model");
  if (reporter == NULL || reporter[0] == '\0') {
    api_errors errs = {0};
    api_errors_add(&errs, "/query/reporter",
                   "is required (the reporter's code, e.g. CHN)");
    api_problem(res, API_E_BAD_QUERY, &errs, "The reporter is missing.");
    return;
  }
  bool want_year = api_query(req, "year") != NULL;
  long long year = 0;
  if (!api_query_int(req, res, "year", -9999, 9999, 0, &year)) return;
  api_model_ref ref;
  if (!api_model_open(req, res, model && model[0] ? model : DEFAULT_MODEL,
                      "/query/model", &ref))
    return;
  const api_model_view *v = ref.view;
  /* The answer depends only on the model and the query (the URL). */
  if (api_etag_matches(req->if_none_match, v->etag)) {
    res->status = 304;
    /* RFC 9110 15.4.5: a 304 carries the Cache-Control a 200 would. */
    api_response_header(res, "Cache-Control", "public, max-age=60");
    api_response_header(res, "ETag", v->etag);
    api_model_close(&ref);
    return;
  }
  char detail[1024];
  size_t count = 0;
  size_t first = api_model_view_find(v, reporter, NULL, &count);
  if (count == 0) {
    snprintf(detail, sizeof detail,
             "The model has no reporter '%.64s'; reporters: ", reporter);
    list_values(v, 0, v->n_pot, 0, detail, sizeof detail);
    not_found(res, "/query/reporter", detail);
    api_model_close(&ref);
    return;
  }
  if (partner != NULL) {
    size_t pc = 0;
    size_t pf = api_model_view_find(v, reporter, partner, &pc);
    const api_pot_entry *e =
        pc ? pick(&v->pot_rows[pf], pc, want_year, year) : NULL;
    if (pc == 0) {
      snprintf(detail, sizeof detail,
               "The model has no pair %.64s-%.64s; partners of %.64s: ",
               reporter, partner, reporter);
      list_values(v, first, count, 1, detail, sizeof detail);
      not_found(res, "/query/partner", detail);
    } else if (e == NULL) {
      snprintf(detail, sizeof detail,
               "The model has no year %lld for %.64s-%.64s; years: ", year,
               reporter, partner);
      list_values(v, pf, pc, 2, detail, sizeof detail);
      not_found(res, "/query/year", detail);
    } else {
      const char *t = pair_text(v, e);
      if (t == NULL)
        api_response_json(res, 500, NULL); /* no memory: the internal 500 */
      else
        api_response_raw(res, 200, "application/json", t, strlen(t));
    }
  } else {
    /* {"reporter","year","model","items":[one row per partner]}; rows of a
     * reporter are grouped by partner. */
    api_text t = {0};
    api_text_raw(&t, "{\"reporter\":");
    api_text_string(&t, reporter);
    api_text_raw(&t, ",\"year\":");
    if (want_year)
      api_text_int(&t, year);
    else
      api_text_raw(&t, "null");
    api_text_raw(&t, ",\"model\":");
    model_text(&t, v);
    api_text_raw(&t, ",\"items\":[");
    size_t items = 0;
    size_t i = first;
    while (i < first + count) {
      size_t j = i;
      while (j < first + count &&
             ((v->pot_rows[j].partner == NULL) ==
              (v->pot_rows[i].partner == NULL)) &&
             (v->pot_rows[i].partner == NULL ||
              strcmp(v->pot_rows[j].partner, v->pot_rows[i].partner) == 0))
        j++;
      const api_pot_entry *e = pick(&v->pot_rows[i], j - i, want_year, year);
      if (e != NULL) {
        if (items++ > 0) api_text_put(&t, ",", 1);
        api_pot_entry_text(&t, e);
      }
      i = j;
    }
    api_text_raw(&t, "]}");
    if (items == 0) {
      api_text_free(&t);
      snprintf(detail, sizeof detail,
               "The model has no year %lld for reporter %.64s; years: ", year,
               reporter);
      list_values(v, first, count, 2, detail, sizeof detail);
      not_found(res, "/query/year", detail);
    } else if (t.failed) {
      api_text_free(&t);
      api_response_json(res, 500, NULL); /* no memory: the internal 500 */
    } else {
      api_response_take(res, 200, "application/json", t.s, t.len);
    }
  }
  if (res->status == 200) {
    api_response_header(res, "Cache-Control", "public, max-age=60");
    api_response_header(res, "ETag", v->etag);
  }
  api_model_close(&ref);
}

/* World Bank indicators (see api_indicators.h): POST /v1/indicators/fetch
 * answers tidy values; POST /v1/datasets/from-worldbank builds and stores a
 * panel from them with the embedded default's steps (series gap filling,
 * pair products, a principal-component index, capital distance x oil
 * price); POST /v1/indicators/refresh fetches the default's series again
 * and re-installs the default on them. The fetching and caching live in
 * server/ behind api_service.indicators_get. */
#include "api_indicators.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_default.h"
#include "api_default_install.h"
#include "api_json.h"
#include "api_out.h"
#include "api_svc.h"
#include "core_pca.h"

#define YEAR_MIN 1960
#define YEAR_MAX 2100

void api_wb_result_free(api_wb_result *r) {
  if (r == NULL) return;
  free(r->rows);
  free(r->status);
  json_decref(r->warnings);
  free(r);
}

void api_wb_problem(api_response *res, const api_wb_result *r) {
  api_errors errs = {0};
  api_wb_error kind = r ? r->error : API_WB_ERROR;
  for (size_t i = 0; r && i < r->n_status; i++) {
    const api_wb_status *s = &r->status[i];
    if (strcmp(s->source, "error") != 0 || s->message[0] == '\0') continue;
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/indicators/%zu", i);
    api_errors_add(&errs, ptr, "%s", s->message);
  }
  const char *msg = r && r->message[0] ? r->message : "the fetch failed";
  switch (kind) {
  case API_WB_INVALID:
    api_problem(res, API_E_INVALID, &errs,
                "The World Bank refused the request: %s", msg);
    return;
  case API_WB_UPSTREAM:
    api_problem(res, API_E_UPSTREAM, &errs,
                "The World Bank API failed and nothing usable is cached: %s",
                msg);
    return;
  case API_WB_TIMEOUT:
    api_problem(res, API_E_UPSTREAM_TIMEOUT, &errs,
                "The World Bank API did not answer in time and nothing "
                "usable is cached: %s",
                msg);
    return;
  case API_WB_BUSY:
    api_problem(res, API_E_BUSY, &errs, "%s", msg);
    api_response_header(res, "Retry-After", "2");
    return;
  case API_WB_OK:
  case API_WB_ERROR: break;
  }
  api_problem(res, API_E_INTERNAL, &errs, "Indicators could not be served: %s",
              msg);
}

/* ---- input helpers ------------------------------------------------------ */

/* A country or indicator code: 1..63 of [A-Za-z0-9._-]. */
static bool code_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= API_WB_CODE_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* A variable name: a letter or '_', then letters, digits, '_'; at most 63,
 * not a key column. */
static bool var_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= 64 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return strcmp(s, "reporter") != 0 && strcmp(s, "partner") != 0 &&
         strcmp(s, "year") != 0;
}

/* Reads a JSON array of distinct codes (borrowed strings) into a new array
 * *out. Returns false after adding errors (nothing allocated then). */
static bool read_codes(const json_t *arr, const char *base, size_t max,
                       const char ***out, size_t *n, api_errors *errs) {
  *out = NULL;
  *n = 0;
  size_t len = json_array_size(arr);
  if (len == 0 || len > max) {
    api_errors_add(errs, base, "must list 1 to %zu codes", max);
    return false;
  }
  const char **v = calloc(len, sizeof *v);
  if (v == NULL) {
    api_errors_add(errs, base, "out of memory");
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < len; i++) {
    char ptr[API_POINTER_MAX];
    api_pointer_index(ptr, sizeof ptr, base, i);
    const char *s = json_string_value(json_array_get(arr, i));
    if (s == NULL || !code_ok(s)) {
      api_errors_add(errs, ptr,
                     "must be a code of 1 to %d letters, digits, '.', '_' or "
                     "'-'",
                     API_WB_CODE_MAX - 1);
      ok = false;
      continue;
    }
    for (size_t j = 0; j < i; j++)
      if (v[j] && strcasecmp(v[j], s) == 0) {
        api_errors_add(errs, ptr, "repeats '%s'", s);
        ok = false;
      }
    v[i] = s;
  }
  if (!ok) {
    free(v);
    return false;
  }
  *out = v;
  *n = len;
  return true;
}

static bool year_range(const json_t *jfrom, const json_t *jto, api_errors *errs,
                       int *from, int *to) {
  *from = (int)json_integer_value(jfrom);
  *to = (int)json_integer_value(jto);
  if (*from > *to) {
    api_errors_add(errs, "/to", "must not be before from (%d)", *from);
    return false;
  }
  if (*to - *from + 1 > API_WB_MAX_YEARS) {
    api_errors_add(errs, "/to", "at most %d years may be asked for at once",
                   API_WB_MAX_YEARS);
    return false;
  }
  return true;
}

static json_t *status_json(const api_wb_result *r) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < r->n_status; i++) {
    const api_wb_status *s = &r->status[i];
    json_t *o = json_pack("{s:s, s:s, s:I}", "indicator", s->indicator,
                          "source", s->source, "rows", (json_int_t)s->rows);
    if (o == NULL) break;
    json_object_set_new(o, "lastupdated",
                        s->lastupdated[0] ? json_string(s->lastupdated)
                                          : json_null());
    if (strcmp(s->source, "cache") == 0 ||
        strcmp(s->source, "stale-cache") == 0)
      json_object_set_new(o, "age_hours",
                          json_real(round(s->age_hours * 1000.0) / 1000.0));
    if (s->message[0])
      json_object_set_new(o, "message", json_string(s->message));
    json_array_append_new(arr, o);
  }
  return arr;
}

/* The service's indicators_get, or NULL after answering 503. */
static const api_service *wb_service(const api_request *req,
                                     api_response *res) {
  const api_service *svc = api_svc_get(req, res);
  if (svc == NULL) return NULL;
  if (svc->indicators_get == NULL) {
    api_errors errs = {0};
    api_errors_add(&errs, "", "no World Bank fetcher is configured");
    api_problem(res, API_E_UNAVAILABLE, &errs,
                "World Bank indicators are not available on this server.");
    return NULL;
  }
  return svc;
}

/* ---- POST /v1/indicators/fetch ------------------------------------------ */

void api_post_indicators_fetch(const api_request *req, api_response *res) {
  const api_service *svc = wb_service(req, res);
  if (svc == NULL) return;
  json_t *body = api_json_parse_body(req, &req->env->limits, res);
  if (body == NULL) return;
  const json_t *jc = NULL, *ji = NULL, *jf = NULL, *jt = NULL, *jr = NULL;
  const api_field fields[] = {
      {"countries", API_F_ARRAY, true, NULL, false, false, 0, false, false, 0,
       &jc},
      {"indicators", API_F_ARRAY, true, NULL, false, false, 0, false, false, 0,
       &ji},
      {"from", API_F_INTEGER, true, NULL, true, false, YEAR_MIN, true, false,
       YEAR_MAX, &jf},
      {"to", API_F_INTEGER, true, NULL, true, false, YEAR_MIN, true, false,
       YEAR_MAX, &jt},
      {"refresh", API_F_BOOL, false, NULL, false, false, 0, false, false, 0,
       &jr},
  };
  api_errors errs = {0};
  const char **countries = NULL, **indicators = NULL;
  size_t n = 0, m = 0;
  int from = 0, to = 0;
  api_wb_result *r = NULL;
  bool ok =
      api_json_fields(body, "", fields, sizeof fields / sizeof *fields, &errs);
  if (ok) {
    ok = read_codes(jc, "/countries", API_WB_MAX_COUNTRIES, &countries, &n,
                    &errs);
    ok = read_codes(ji, "/indicators", API_WB_MAX_INDICATORS, &indicators, &m,
                    &errs) &&
         ok;
    ok = year_range(jf, jt, &errs, &from, &to) && ok;
  }
  if (!ok) {
    api_problem(res, API_E_INVALID, &errs,
                "The request has invalid or missing fields.");
    goto cleanup;
  }
  api_wb_error e = svc->indicators_get(
      svc->ctx, countries, n, indicators, m, from, to,
      json_is_true(jr) ? API_WB_REFRESH : API_WB_NORMAL, &r);
  if (e != API_WB_OK || r == NULL) {
    api_wb_problem(res, r);
    goto cleanup;
  }
  api_out o;
  json_t *rows = json_array(), *answer = json_object();
  api_out_init(&o);
  for (size_t i = 0; rows && i < r->n_rows; i++) {
    const api_wb_row *w = &r->rows[i];
    json_t *row =
        json_pack("{s:s, s:s, s:i}", "country", w->country, "indicator",
                  r->status[w->indicator].indicator, "year", w->year);
    api_out_push(&o, rows, row);
    if (row == NULL) break;
    api_out_set(&o, row, "value",
                w->has_value ? api_out_num(&o, w->value, NULL) : json_null());
    api_out_set(&o, row, "lastupdated",
                w->lastupdated[0] ? json_string(w->lastupdated) : json_null());
  }
  api_out_set(&o, answer, "rows", rows);
  api_out_set(&o, answer, "status", status_json(r));
  size_t wi;
  json_t *wv;
  json_array_foreach(r->warnings, wi, wv) {
    api_out_push(&o, o.warnings, json_incref(wv));
  }
  if (!api_out_finish(&o, answer)) {
    json_decref(answer);
    api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
    goto cleanup;
  }
  api_response_json(res, 200, answer);
cleanup:
  free(countries);
  free(indicators);
  api_wb_result_free(r);
  json_decref(body);
}

/* ---- panels ------------------------------------------------------------- */

typedef enum side {
  SIDE_REPORTER,
  SIDE_PARTNER,
  SIDE_PRODUCT,
  SIDE_RATIO
} side;

static const char *const SIDES[] = {"reporter", "partner", "product", "ratio",
                                    NULL};

static side side_of(const char *s) {
  for (int k = 0; SIDES[k]; k++)
    if (strcmp(s, SIDES[k]) == 0) return (side)k;
  return SIDE_PRODUCT;
}

/* One output column from one indicator. */
typedef struct pvar {
  const char *name;
  size_t ind; /* index into the panel's indicator list */
  side sd;
} pvar;

typedef struct panel_req {
  const char *name; /* dataset name or NULL */
  const char *reporter;
  const char **partners;
  size_t np;
  int from, to;
  size_t ny;
  pvar *vars;
  size_t nv;
  const char **inds; /* distinct indicators to fetch */
  size_t ni;
  bool has_dist;
  const char *dist_name;
  bool has_index;
  const char *index_name;
  size_t *index_inds; /* indexes into inds */
  size_t nx;
  core_index_method index_method;
  const json_t *carry;   /* array or NULL */
  const json_t *outcome; /* object or NULL */
  const char *outcome_name;
} panel_req;

static void panel_req_clear(panel_req *p) {
  free(p->partners);
  free(p->vars);
  free(p->inds);
  free(p->index_inds);
}

static size_t add_ind(panel_req *p, const char *code) {
  for (size_t i = 0; i < p->ni; i++)
    /* inds[0..ni) are set below, each to a checked code; the analyzer loses
     * ni when parse_panel passes &p->np to read_codes. */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    if (strcmp(p->inds[i], code) == 0) return i;
  p->inds[p->ni] = code;
  return p->ni++;
}

static bool name_taken(const panel_req *p, const char *name) {
  for (size_t i = 0; i < p->nv; i++)
    /* vars[0..nv) are set by add_var, each to a key of "variables"; the
     * analyzer loses nv as it loses ni in add_ind. */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    if (strcmp(p->vars[i].name, name) == 0) return true;
  return (p->has_dist && strcmp(p->dist_name, name) == 0) ||
         (p->has_index && strcmp(p->index_name, name) == 0) ||
         (p->outcome_name && strcmp(p->outcome_name, name) == 0);
}

static bool add_var(panel_req *p, const char *name, const char *ptr,
                    const char *ind, side sd, api_errors *errs) {
  if (!var_ok(name) || name_taken(p, name)) {
    api_errors_add(errs, ptr,
                   "'%s' is not a usable variable name (letters, digits, "
                   "'_'; not a key column; not used twice)",
                   name);
    return false;
  }
  p->vars[p->nv++] = (pvar){name, add_ind(p, ind), sd};
  return true;
}

static bool parse_variable(panel_req *p, const char *name, const json_t *spec,
                           const char *ptr, api_errors *errs) {
  const json_t *ji = NULL, *js = NULL;
  const api_field f[] = {
      {"indicator", API_F_STRING, true, NULL, false, false, 0, false, false, 0,
       &ji},
      {"side", API_F_STRING, true, SIDES, false, false, 0, false, false, 0,
       &js},
  };
  if (!api_json_fields(spec, ptr, f, 2, errs)) return false;
  char ip[API_POINTER_MAX];
  if (!code_ok(json_string_value(ji))) {
    api_errors_add(errs, api_pointer_join(ip, sizeof ip, ptr, "indicator"),
                   "must be a World Bank indicator code");
    return false;
  }
  return add_var(p, name, ptr, json_string_value(ji),
                 side_of(json_string_value(js)), errs);
}

static bool parse_derived(panel_req *p, const json_t *d, api_errors *errs) {
  const json_t *jd = NULL, *jo = NULL, *jx = NULL;
  const api_field f[] = {
      {"economic_distance", API_F_OBJECT, false, NULL, false, false, 0, false,
       false, 0, &jd},
      {"openness", API_F_OBJECT, false, NULL, false, false, 0, false, false, 0,
       &jo},
      {"index", API_F_OBJECT, false, NULL, false, false, 0, false, false, 0,
       &jx},
  };
  if (!api_json_fields(d, "/derived", f, 3, errs)) return false;
  bool ok = true;
  if (jo) {
    const json_t *jn = NULL, *js = NULL, *ji = NULL;
    const api_field g[] = {
        {"name", API_F_STRING, false, NULL, false, false, 0, false, false, 0,
         &jn},
        {"side", API_F_STRING, false, SIDES, false, false, 0, false, false, 0,
         &js},
        {"indicator", API_F_STRING, false, NULL, false, false, 0, false, false,
         0, &ji},
    };
    if (!api_json_fields(jo, "/derived/openness", g, 3, errs)) return false;
    const char *ind = ji ? json_string_value(ji) : "NE.TRD.GNFS.ZS";
    if (!code_ok(ind)) {
      api_errors_add(errs, "/derived/openness/indicator",
                     "must be a World Bank indicator code");
      return false;
    }
    ok = add_var(p, jn ? json_string_value(jn) : "open", "/derived/openness",
                 ind, js ? side_of(json_string_value(js)) : SIDE_PRODUCT, errs);
  }
  if (jd) {
    const json_t *jn = NULL;
    const api_field g[] = {
        {"name", API_F_STRING, false, NULL, false, false, 0, false, false, 0,
         &jn},
    };
    if (!api_json_fields(jd, "/derived/economic_distance", g, 1, errs))
      return false;
    const char *name = jn ? json_string_value(jn) : "dist";
    if (!var_ok(name) || name_taken(p, name)) {
      api_errors_add(errs, "/derived/economic_distance/name",
                     "'%s' is not a usable variable name", name);
      return false;
    }
    if (strcmp(p->reporter, "CHN") != 0) {
      api_errors_add(errs, "/reporter",
                     "economic_distance uses the capital distances of "
                     "data/capitals.csv, which are measured from Beijing: "
                     "the reporter must be CHN");
      return false;
    }
    p->has_dist = true;
    p->dist_name = name;
  }
  if (jx) {
    static const char *const methods[] = {"first", "kaiser", NULL};
    const json_t *jn = NULL, *ji = NULL, *jm = NULL;
    const api_field g[] = {
        {"name", API_F_STRING, true, NULL, false, false, 0, false, false, 0,
         &jn},
        {"indicators", API_F_ARRAY, true, NULL, false, false, 0, false, false,
         0, &ji},
        {"method", API_F_STRING, false, methods, false, false, 0, false, false,
         0, &jm},
    };
    if (!api_json_fields(jx, "/derived/index", g, 3, errs)) return false;
    const char *name = json_string_value(jn);
    if (!var_ok(name) || name_taken(p, name)) {
      api_errors_add(errs, "/derived/index/name",
                     "'%s' is not a usable variable name", name);
      return false;
    }
    const char **codes = NULL;
    size_t nc = 0;
    if (!read_codes(ji, "/derived/index/indicators", API_WB_MAX_INDICATORS,
                    &codes, &nc, errs))
      return false;
    if (nc < 2) {
      free(codes);
      api_errors_add(errs, "/derived/index/indicators",
                     "an index needs at least 2 indicators");
      return false;
    }
    p->index_inds = calloc(nc, sizeof *p->index_inds);
    if (p->index_inds == NULL) {
      free(codes);
      api_errors_add(errs, "", "out of memory");
      return false;
    }
    for (size_t k = 0; k < nc; k++)
      p->index_inds[k] = add_ind(p, codes[k]);
    free(codes);
    p->nx = nc;
    p->has_index = true;
    p->index_name = name;
    p->index_method = jm && strcmp(json_string_value(jm), "kaiser") == 0
                          ? CORE_INDEX_KAISER
                          : CORE_INDEX_FIRST;
  }
  return ok;
}

/* Parses and checks the from-worldbank body into p. Returns false after
 * adding errors. */
static bool parse_panel(const json_t *body, panel_req *p, api_errors *errs) {
  const json_t *jr = NULL, *jp = NULL, *jf = NULL, *jt = NULL, *jv = NULL,
               *jd = NULL, *jo = NULL, *jc = NULL, *jn = NULL;
  const api_field fields[] = {
      {"reporter", API_F_STRING, true, NULL, false, false, 0, false, false, 0,
       &jr},
      {"partners", API_F_ARRAY, true, NULL, false, false, 0, false, false, 0,
       &jp},
      {"from", API_F_INTEGER, true, NULL, true, false, YEAR_MIN, true, false,
       YEAR_MAX, &jf},
      {"to", API_F_INTEGER, true, NULL, true, false, YEAR_MIN, true, false,
       YEAR_MAX, &jt},
      {"variables", API_F_OBJECT, true, NULL, false, false, 0, false, false, 0,
       &jv},
      {"derived", API_F_OBJECT, false, NULL, false, false, 0, false, false, 0,
       &jd},
      {"outcome", API_F_OBJECT, false, NULL, false, false, 0, false, false, 0,
       &jo},
      {"carry", API_F_ARRAY, false, NULL, false, false, 0, false, false, 0,
       &jc},
      {"name", API_F_STRING, false, NULL, false, false, 0, false, false, 0,
       &jn},
  };
  if (!api_json_fields(body, "", fields, sizeof fields / sizeof *fields, errs))
    return false;
  p->name = jn ? json_string_value(jn) : NULL;
  p->reporter = json_string_value(jr);
  if (!code_ok(p->reporter)) {
    api_errors_add(errs, "/reporter", "must be a country code");
    return false;
  }
  if (!read_codes(jp, "/partners", API_WB_MAX_COUNTRIES, &p->partners, &p->np,
                  errs))
    return false;
  for (size_t i = 0; i < p->np; i++)
    if (strcasecmp(p->partners[i], p->reporter) == 0) {
      char ptr[64];
      snprintf(ptr, sizeof ptr, "/partners/%zu", i);
      api_errors_add(errs, ptr, "the reporter cannot be its own partner");
      return false;
    }
  if (!year_range(jf, jt, errs, &p->from, &p->to)) return false;
  p->ny = (size_t)(p->to - p->from + 1);
  if (jo) {
    const json_t *on = NULL, *orows = NULL;
    const api_field g[] = {
        {"name", API_F_STRING, true, NULL, false, false, 0, false, false, 0,
         &on},
        {"rows", API_F_ARRAY, true, NULL, false, false, 0, false, false, 0,
         &orows},
    };
    if (!api_json_fields(jo, "/outcome", g, 2, errs)) return false;
    p->outcome = orows;
    p->outcome_name = json_string_value(on);
    if (!var_ok(p->outcome_name)) {
      api_errors_add(errs, "/outcome/name", "'%s' is not a usable name",
                     p->outcome_name);
      return false;
    }
  }
  size_t cap = json_object_size(jv) + 2 + API_WB_MAX_INDICATORS;
  p->vars = calloc(cap, sizeof *p->vars);
  p->inds = calloc(cap, sizeof *p->inds);
  if (p->vars == NULL || p->inds == NULL) {
    api_errors_add(errs, "", "out of memory");
    return false;
  }
  if (json_object_size(jv) > 64) {
    api_errors_add(errs, "/variables", "at most 64 variables");
    return false;
  }
  const char *key;
  const json_t *spec;
  bool ok = true;
  json_object_foreach((json_t *)jv, key, spec) {
    char ptr[API_POINTER_MAX];
    api_pointer_join(ptr, sizeof ptr, "/variables", key);
    ok = parse_variable(p, key, spec, ptr, errs) && ok;
  }
  if (!ok) return false;
  if (jd && !parse_derived(p, jd, errs)) return false;
  if (p->nv == 0 && !p->has_index && !p->has_dist) {
    api_errors_add(errs, "/variables", "asks for no variable");
    return false;
  }
  if (p->ni > API_WB_MAX_INDICATORS) {
    api_errors_add(errs, "/variables", "at most %d distinct indicators",
                   API_WB_MAX_INDICATORS);
    return false;
  }
  p->carry = jc;
  for (size_t i = 0; jc && i < json_array_size(jc); i++) {
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/carry/%zu", i);
    const json_t *ci = NULL, *cc = NULL;
    const api_field g[] = {
        {"indicator", API_F_STRING, true, NULL, false, false, 0, false, false,
         0, &ci},
        {"country", API_F_STRING, false, NULL, false, false, 0, false, false, 0,
         &cc},
    };
    if (!api_json_fields(json_array_get(jc, i), ptr, g, 2, errs)) ok = false;
  }
  return ok;
}

/* True when the series (country, indicator) is carried by the request's
 * carry rules. */
static bool carry_rule(const panel_req *p, const char *country,
                       const char *ind) {
  size_t i;
  json_t *c;
  json_array_foreach((json_t *)p->carry, i, c) {
    const char *ci = json_string_value(json_object_get(c, "indicator"));
    const char *cc = json_string_value(json_object_get(c, "country"));
    if (ci && strcmp(ci, ind) == 0 && (!cc || strcasecmp(cc, country) == 0))
      return true;
  }
  return false;
}

/* Working values: series[c][i][t], c = 0 the reporter, 1.. the partners. */
typedef struct panel_work {
  double *series;
  bool *used; /* [c][i] */
  size_t nc;
} panel_work;

static double *cell(const panel_req *p, panel_work *w, size_t c, size_t i) {
  return w->series + (c * p->ni + i) * p->ny;
}

/* Marks which series enter the panel: a reporter-side use needs the
 * reporter's series, a partner-side use the partners'. */
static void mark_used(const panel_req *p, panel_work *w) {
  for (size_t v = 0; v < p->nv; v++) {
    bool rep = p->vars[v].sd != SIDE_PARTNER;
    bool par = p->vars[v].sd != SIDE_REPORTER;
    for (size_t c = 0; c < w->nc; c++)
      if ((c == 0 && rep) || (c > 0 && par))
        w->used[c * p->ni + p->vars[v].ind] = true;
  }
  for (size_t k = 0; k < p->nx; k++)
    for (size_t c = 1; c < w->nc; c++)
      w->used[c * p->ni + p->index_inds[k]] = true;
}

static void pointer_msg(api_errors *errs, const char *ptr, const char *msg) {
  api_errors_add(errs, ptr, "%s", msg);
}

/* Builds the dataset rows into data ({"rows": [...]}) and the lists of
 * filled cells and remaining gaps. Returns false after answering. */
static bool build_rows(const panel_req *p, panel_work *w, json_t *rows,
                       json_t *filled, json_t *gaps, json_t **index_info,
                       api_out *o, api_response *res) {
  char why[512];
  api_errors errs = {0};
  for (size_t c = 0; c < w->nc; c++) {
    const char *cc = c == 0 ? p->reporter : p->partners[c - 1];
    for (size_t i = 0; i < p->ni; i++) {
      if (!w->used[c * p->ni + i]) continue;
      if (api_series_fill(cell(p, w, c, i), p->ny, p->from, cc, p->inds[i],
                          carry_rule(p, cc, p->inds[i]), filled, why,
                          sizeof why) != 0) {
        api_problem(res, API_E_INTERNAL, NULL, "%s", why);
        return false;
      }
    }
  }
  size_t nrow = p->np * p->ny;
  double *dist = NULL, *index = NULL, *outc = NULL;
  bool ok = false;
  if (p->has_dist) {
    dist = malloc(nrow * sizeof *dist);
    if (dist == NULL) goto nomem;
    for (size_t k = 0; k < p->np; k++) {
      double km = NAN;
      int rc = api_default_capital_km(p->partners[k], &km, why, sizeof why);
      if (rc <= 0) {
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/partners/%zu", k);
        if (rc == 0)
          api_errors_add(&errs, ptr,
                         "data/capitals.csv has no capital distance for %s",
                         p->partners[k]);
        else
          pointer_msg(&errs, ptr, why);
        continue;
      }
      for (size_t t = 0; t < p->ny; t++) {
        double usd = NAN;
        rc = api_default_oil_usd(p->from + (int)t, &usd, why, sizeof why);
        if (rc <= 0) {
          if (k == 0)
            api_errors_add(&errs, "/to",
                           "data/oil_price.csv has no crude oil price for %d",
                           p->from + (int)t);
          continue;
        }
        dist[k * p->ny + t] = km * usd;
      }
    }
    if (api_errors_count(&errs) > 0) {
      api_problem(res, API_E_INVALID, &errs,
                  "The economic distance cannot be formed for these partners "
                  "and years.");
      goto done;
    }
  }
  if (p->has_index) {
    index = malloc(nrow * sizeof *index);
    double *cols = malloc(p->nx * nrow * sizeof *cols);
    const double **colp = malloc(p->nx * sizeof *colp);
    core_pca_result *pca = NULL;
    core_err err;
    core_err_clear(&err);
    if (index == NULL || cols == NULL || colp == NULL) {
      free(cols);
      free(colp);
      goto nomem;
    }
    for (size_t k = 0; k < p->nx; k++) {
      for (size_t q = 0; q < p->np; q++)
        for (size_t t = 0; t < p->ny; t++)
          cols[k * nrow + q * p->ny + t] =
              cell(p, w, q + 1, p->index_inds[k])[t];
      colp[k] = cols + k * nrow;
    }
    int rc = core_pca(colp, nrow, p->nx, p->index_method, CORE_SCALE_NONE, &pca,
                      &err);
    free(cols);
    free(colp);
    if (rc != CORE_OK) {
      api_errors_add(&errs, "/derived/index", "%s", err.msg);
      api_problem(res, API_E_INVALID, &errs,
                  "The index cannot be formed on these values.");
      goto done;
    }
    for (size_t r = 0; r < nrow; r++)
      index[r] = pca->used[r] ? pca->index[r] : NAN;
    json_t *ev = json_array(), *ld = json_array();
    for (size_t k = 0; k < p->nx; k++) {
      api_out_push(o, ev, api_out_num(o, pca->eigenvalues[k], NULL));
      api_out_push(o, ld, api_out_num(o, pca->loadings[k * p->nx], NULL));
    }
    *index_info = json_pack(
        "{s:s, s:s, s:I, s:o, s:o, s:o}", "name", p->index_name, "method",
        p->index_method == CORE_INDEX_KAISER ? "kaiser" : "first", "n",
        (json_int_t)pca->n, "eigenvalues", ev, "loadings_pc1", ld, "kmo",
        api_out_num(o, pca->kmo_overall, NULL));
    for (size_t k = 0; k < pca->warnings.n; k++)
      api_out_warn(o, "%s: %s", p->index_name, pca->warnings.msgs[k]);
    core_pca_result_free(pca);
  }
  if (p->outcome) {
    outc = malloc(nrow * sizeof *outc);
    if (outc == NULL) goto nomem;
    for (size_t r = 0; r < nrow; r++)
      outc[r] = NAN;
    size_t i;
    json_t *row;
    json_array_foreach((json_t *)p->outcome, i, row) {
      char ptr[64];
      snprintf(ptr, sizeof ptr, "/outcome/rows/%zu", i);
      const json_t *rp = NULL, *ry = NULL, *rv = NULL;
      const api_field g[] = {
          {"partner", API_F_STRING, true, NULL, false, false, 0, false, false,
           0, &rp},
          {"year", API_F_INTEGER, true, NULL, false, false, 0, false, false, 0,
           &ry},
          {"value", API_F_NUMBER, false, NULL, false, false, 0, false, false, 0,
           &rv},
      };
      /* A null value is a missing outcome: checked without it. */
      json_t *shallow = json_is_object(row) ? json_copy(row) : NULL;
      if (shallow && json_is_null(json_object_get(shallow, "value")))
        json_object_del(shallow, "value");
      bool fields_ok =
          api_json_fields(shallow ? shallow : row, ptr, g, 3, &errs);
      json_decref(shallow); /* rp, ry, rv stay alive in row */
      if (!fields_ok) continue;
      size_t q = p->np;
      for (size_t k = 0; k < p->np; k++)
        if (strcasecmp(p->partners[k], json_string_value(rp)) == 0) q = k;
      json_int_t y = json_integer_value(ry);
      if (q == p->np || y < p->from || y > p->to) {
        api_errors_add(&errs, ptr, "is not one of the panel's pair-years");
        continue;
      }
      double *dst = &outc[q * p->ny + (size_t)(y - p->from)];
      if (!isnan(*dst)) {
        api_errors_add(&errs, ptr, "repeats a pair-year");
        continue;
      }
      /* A null or absent value stays missing (never filled). */
      if (rv && json_is_number(rv)) *dst = json_number_value(rv);
    }
    if (api_errors_count(&errs) > 0) {
      api_problem(res, API_E_INVALID, &errs, "The outcome rows are invalid.");
      goto done;
    }
  }
  for (size_t q = 0; q < p->np; q++)
    for (size_t t = 0; t < p->ny; t++) {
      size_t r = q * p->ny + t;
      int year = p->from + (int)t;
      json_t *row = json_pack("{s:s, s:s, s:i}", "reporter", p->reporter,
                              "partner", p->partners[q], "year", year);
      api_out_push(o, rows, row);
      if (row == NULL) goto nomem;
      double vals[72];
      const char *names[72];
      size_t nv = 0;
      /* r < np * ny = nrow: outc[] was set to NaN in full and dist[] in full
       * unless an error was counted (which answered above); the analyzer
       * does not relate r to nrow, nor the skipped cells to the count. */
      if (p->outcome) {
        names[nv] = p->outcome_name;
        // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign)
        vals[nv++] = outc[r];
      }
      for (size_t v = 0; v < p->nv; v++) {
        double a = cell(p, w, 0, p->vars[v].ind)[t];
        double b = cell(p, w, q + 1, p->vars[v].ind)[t];
        double x = NAN;
        switch (p->vars[v].sd) {
        case SIDE_REPORTER: x = a; break;
        case SIDE_PARTNER: x = b; break;
        case SIDE_PRODUCT: x = a * b; break;
        case SIDE_RATIO: x = b != 0 ? a / b : NAN; break;
        }
        names[nv] = p->vars[v].name;
        vals[nv++] = x;
      }
      if (p->has_index) {
        names[nv] = p->index_name;
        vals[nv++] = index[r];
      }
      if (p->has_dist) {
        names[nv] = p->dist_name;
        // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign)
        vals[nv++] = dist[r];
      }
      for (size_t k = 0; k < nv; k++) {
        bool fin = isfinite(vals[k]);
        api_out_set(o, row, names[k], fin ? json_real(vals[k]) : json_null());
        if (!fin)
          api_out_push(o, gaps,
                       json_pack("{s:s, s:i, s:s}", "partner", p->partners[q],
                                 "year", year, "variable", names[k]));
      }
    }
  ok = true;
  goto done;
nomem:
  api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
done:
  api_errors_clear(&errs);
  free(dist);
  free(index);
  free(outc);
  return ok;
}

/* Calls POST /v1/datasets in-process with {name, rows}; on success returns
 * its answer (owned) and the status in *status; otherwise leaves its
 * problem in res and returns NULL. */
static json_t *post_dataset(const api_request *req, const char *name,
                            json_t *rows, int *status, api_response *res) {
  json_t *b = json_pack("{s:O}", "rows", rows);
  if (b && name) json_object_set_new(b, "name", json_string(name));
  char *text = b ? json_dumps(b, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(b);
  if (text == NULL) {
    api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
    return NULL;
  }
  api_request sub = {.method = "POST",
                     .path = "/v1/datasets",
                     .content_type = "application/json",
                     .body = text,
                     .body_len = strlen(text),
                     .env = req->env};
  api_response out = {0};
  api_post_datasets(&sub, &out);
  free(text);
  if (out.status != 200 && out.status != 201) {
    *res = out; /* its problem is the answer */
    return NULL;
  }
  json_error_t jerr;
  json_t *answer = json_loadb(out.body, out.body_len, 0, &jerr);
  *status = out.status;
  api_response_free(&out);
  if (answer == NULL)
    api_problem(res, API_E_INTERNAL, NULL, "The dataset answer is not JSON.");
  return answer;
}

void api_post_datasets_from_worldbank(const api_request *req,
                                      api_response *res) {
  const api_service *svc = wb_service(req, res);
  if (svc == NULL) return;
  json_t *body = api_json_parse_body(req, &req->env->limits, res);
  if (body == NULL) return;
  panel_req p = {0};
  panel_work w = {0};
  api_wb_result *r = NULL;
  const char **countries = NULL;
  json_t *rows = NULL, *filled = NULL, *gaps = NULL, *index_info = NULL,
         *answer = NULL;
  api_out o;
  api_out_init(&o);
  api_errors errs = {0};
  if (!parse_panel(body, &p, &errs)) {
    api_problem(res, API_E_INVALID, &errs,
                "The request has invalid or missing fields.");
    goto cleanup;
  }
  w.nc = p.np + 1;
  countries = calloc(w.nc, sizeof *countries);
  /* p.ni is 0 when only the economic distance is asked for: malloc(0) may
   * answer NULL, which is not a lack of memory. */
  size_t ncell = w.nc * p.ni;
  w.series = malloc((ncell ? ncell * p.ny : 1) * sizeof *w.series);
  w.used = calloc(ncell ? ncell : 1, sizeof *w.used);
  if (countries == NULL || w.series == NULL || w.used == NULL) {
    api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
    goto cleanup;
  }
  countries[0] = p.reporter;
  for (size_t k = 0; k < p.np; k++)
    countries[k + 1] = p.partners[k];
  for (size_t k = 0; k < w.nc * p.ni * p.ny; k++)
    w.series[k] = NAN;
  if (p.ni > 0) {
    if (svc->indicators_get(svc->ctx, countries, w.nc, p.inds, p.ni, p.from,
                            p.to, API_WB_NORMAL, &r) != API_WB_OK ||
        r == NULL) {
      api_wb_problem(res, r);
      goto cleanup;
    }
    for (size_t k = 0; k < r->n_rows; k++) {
      const api_wb_row *x = &r->rows[k];
      if (!x->has_value || x->year < p.from || x->year > p.to) continue;
      for (size_t c = 0; c < w.nc; c++)
        if (strcasecmp(countries[c], x->country) == 0)
          cell(&p, &w, c, x->indicator)[x->year - p.from] = x->value;
    }
  }
  mark_used(&p, &w);
  rows = json_array();
  filled = json_array();
  gaps = json_array();
  if (rows == NULL || filled == NULL || gaps == NULL) {
    api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
    goto cleanup;
  }
  if (!build_rows(&p, &w, rows, filled, gaps, &index_info, &o, res))
    goto cleanup;
  int status = 0;
  answer = post_dataset(req, p.name, rows, &status, res);
  if (answer == NULL) goto cleanup;
  json_t *dw = json_object_get(answer, "warnings");
  size_t i;
  json_t *v;
  if (r) json_array_foreach(r->warnings, i, v) {
      if (json_is_array(dw)) json_array_append(dw, v);
    }
  json_array_foreach(o.warnings, i, v) {
    if (json_is_array(dw)) json_array_append(dw, v);
  }
  api_out_set(&o, answer, "interpolated", json_incref(filled));
  api_out_set(&o, answer, "gaps", json_incref(gaps));
  if (r) api_out_set(&o, answer, "indicators", status_json(r));
  if (index_info) api_out_set(&o, answer, "index", json_incref(index_info));
  if (o.failed) {
    api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
    goto cleanup;
  }
  api_response_json(res, status, answer);
  answer = NULL;
cleanup:
  json_decref(o.warnings);
  json_decref(answer);
  json_decref(rows);
  json_decref(filled);
  json_decref(gaps);
  json_decref(index_info);
  free(countries);
  free(w.series);
  free(w.used);
  panel_req_clear(&p);
  api_wb_result_free(r);
  json_decref(body);
}

/* ---- POST /v1/indicators/refresh ---------------------------------------- */

/* Writes the values of r into grid (the default's shape g) for the series
 * the default uses; cells r has no value for stay as they were. */
static void grid_overlay(const api_default_grid *g, const api_wb_result *r,
                         double *grid) {
  for (size_t k = 0; k < r->n_rows; k++) {
    const api_wb_row *x = &r->rows[k];
    if (x->year < g->year0 || x->year >= g->year0 + (int)g->n_years) continue;
    for (size_t c = 0; c < g->n_countries; c++) {
      if (strcasecmp(g->countries[c], x->country) != 0) continue;
      if (!api_default_grid_used(c, x->indicator)) continue;
      grid[(c * g->n_indicators + x->indicator) * g->n_years +
           (size_t)(x->year - g->year0)] = x->has_value ? x->value : NAN;
    }
  }
}

void api_post_indicators_refresh(const api_request *req, api_response *res) {
  const api_service *svc = wb_service(req, res);
  if (svc == NULL) return;
  if (req->body_len > 0) {
    json_t *body = api_json_parse_body(req, &req->env->limits, res);
    if (body == NULL) return;
    api_errors errs = {0};
    bool ok = api_json_fields(body, "", NULL, 0, &errs);
    json_decref(body);
    if (!ok) {
      api_problem(res, API_E_INVALID, &errs, "The refresh takes no fields.");
      return;
    }
  }
  api_default_grid g;
  api_default_grid_shape(&g);
  size_t cells = g.n_countries * g.n_indicators * g.n_years;
  double *old = malloc(cells * sizeof *old);
  double *fresh = malloc(cells * sizeof *fresh);
  api_wb_result *cached = NULL, *r = NULL;
  api_default *d = NULL;
  char *previous = NULL;
  json_t *answer = NULL;
  char why[512];
  int from = g.year0, to = g.year0 + (int)g.n_years - 1;
  if (old == NULL || fresh == NULL) {
    api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
    goto cleanup;
  }
  /* What the default stands on now: the values cached by the last refresh
   * or fetch, else the embedded data/ values. */
  if (api_default_grid_embedded(old, why, sizeof why) != 0) {
    api_problem(res, API_E_INTERNAL, NULL, "%s", why);
    goto cleanup;
  }
  if (svc->indicators_get(svc->ctx, g.countries, g.n_countries, g.indicators,
                          g.n_indicators, from, to, API_WB_CACHE_ONLY,
                          &cached) == API_WB_OK &&
      cached != NULL)
    grid_overlay(&g, cached, old);
  for (size_t k = 0; k < cells; k++)
    fresh[k] = NAN;
  if (svc->indicators_get(svc->ctx, g.countries, g.n_countries, g.indicators,
                          g.n_indicators, from, to, API_WB_REFRESH,
                          &r) != API_WB_OK ||
      r == NULL) {
    api_wb_problem(res, r);
    goto cleanup;
  }
  grid_overlay(&g, r, fresh);
  if (api_default_build_grid(fresh, &d, why, sizeof why) != 0) {
    api_errors errs = {0};
    api_errors_add(&errs, "", "%s", why);
    api_problem(res, API_E_UPSTREAM, &errs,
                "The refreshed World Bank values cannot build the default.");
    goto cleanup;
  }
  char model_id[API_MODEL_ID_LEN + 1], dataset_id[API_DATASET_ID_LEN + 1];
  if (api_default_install_built(req->env, d, model_id, &previous, dataset_id,
                                why, sizeof why) != 0) {
    api_problem(res, API_E_INTERNAL, NULL,
                "The refreshed default cannot be installed: %s", why);
    goto cleanup;
  }
  api_out o;
  api_out_init(&o);
  json_t *changed = json_array();
  for (size_t c = 0; c < g.n_countries; c++)
    for (size_t i = 0; i < g.n_indicators; i++) {
      if (!api_default_grid_used(c, i)) continue;
      for (size_t t = 0; t < g.n_years; t++) {
        size_t k = (c * g.n_indicators + i) * g.n_years + t;
        /* k < cells, and fresh[0..cells) was set to NaN before the overlay;
         * the analyzer does not relate k to cells. */
        // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage,clang-analyzer-core.UndefinedBinaryOperatorResult)
        bool same = (isnan(old[k]) && isnan(fresh[k])) || old[k] == fresh[k];
        if (same) continue;
        json_t *e =
            json_pack("{s:s, s:s, s:i}", "country", g.countries[c], "indicator",
                      g.indicators[i], "year", g.year0 + (int)t);
        api_out_push(&o, changed, e);
        if (e == NULL) continue;
        api_out_set(&o, e, "old", api_out_num(&o, old[k], NULL));
        api_out_set(&o, e, "new", api_out_num(&o, fresh[k], NULL));
      }
    }
  answer = json_object();
  api_out_set(&o, answer, "previous_model_id",
              previous ? json_string(previous) : json_null());
  api_out_set(&o, answer, "model_id", json_string(model_id));
  api_out_set(&o, answer, "dataset_id", json_string(dataset_id));
  api_out_set(&o, answer, "alias", json_string(API_DEFAULT_ALIAS));
  api_out_set(
      &o, answer, "alias_moved",
      json_boolean(previous == NULL || strcmp(previous, model_id) != 0));
  api_out_set(&o, answer, "changed", changed);
  api_out_set(&o, answer, "indicators", status_json(r));
  size_t wi;
  json_t *wv;
  json_array_foreach(r->warnings, wi, wv) {
    api_out_push(&o, o.warnings, json_incref(wv));
  }
  if (!api_out_finish(&o, answer)) {
    api_problem(res, API_E_INTERNAL, NULL, "Out of memory.");
    goto cleanup;
  }
  api_response_json(res, 200, answer);
  answer = NULL;
cleanup:
  json_decref(answer);
  free(previous);
  api_default_free(d);
  api_wb_result_free(cached);
  api_wb_result_free(r);
  free(old);
  free(fresh);
}

/* Stored models: GET /v1/models, GET and DELETE /v1/models/{id}, the
 * potentials of a model and predictions for new rows. {id} is a model id
 * or an alias name everywhere. */
#include "api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "api_core.h"
#include "api_fe_key.h"
#include "api_data.h"
#include "api_json.h"
#include "api_out.h"
#include "api_pot_scale.h"
#include "api_svc.h"
#include "core_formula.h"
#include "core_potential.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

/* ---- GET /v1/models ----------------------------------------------------- */

void api_get_models(const api_request *req, api_response *res) {
  const api_service *svc = api_svc_get(req, res);
  if (svc == NULL) return;
  long long limit;
  if (!api_query_int(req, res, "limit", 1, LIST_MAX, LIST_DEFAULT, &limit))
    return;
  char *items = NULL, *next = NULL;
  api_svc_status st = svc->model_list(svc->ctx, api_query(req, "after"),
                                      (size_t)limit, &items, &next);
  if (st != API_SVC_OK) {
    /* A cursor that is not one of ours names nothing: say which. */
    if (st == API_SVC_NOT_FOUND) {
      api_errors errs = {0};
      api_errors_add(&errs, "/query/after",
                     "is not a cursor from an earlier page's next");
      api_problem(res, API_E_BAD_QUERY, &errs, "The cursor is invalid.");
    } else {
      api_svc_problem(res, st, "", "The model list");
    }
    return;
  }
  json_error_t jerr;
  json_t *arr = json_loads(items, 0, &jerr);
  free(items);
  json_t *body = json_pack("{s:o, s:o}", "items", arr ? arr : json_array(),
                           "next", next ? json_string(next) : json_null());
  free(next);
  api_response_json(res, 200, body);
}

/* ---- GET /v1/models/{id} ------------------------------------------------ */

static void etag_header(api_response *res, const api_model_view *v) {
  api_response_header(res, "ETag", v->etag);
}

void api_get_model(const api_request *req, api_response *res) {
  api_model_ref ref;
  if (!api_model_open(req, res, req->params[0], "/path/id", &ref)) return;
  if (api_etag_matches(req->if_none_match, ref.view->etag)) {
    res->status = 304;
  } else {
    api_response_raw(res, 200, "application/json", ref.view->body,
                     ref.view->body_len);
  }
  etag_header(res, ref.view);
  api_model_close(&ref);
}

/* ---- DELETE /v1/models/{id} --------------------------------------------- */

/* Names the aliases that point at model id (for the 409 detail). */
static void aliases_of(const api_service *svc, const char *id, char *buf,
                       size_t bufsz) {
  buf[0] = '\0';
  char *items = NULL;
  if (svc->alias_list(svc->ctx, &items) != API_SVC_OK) return;
  json_error_t jerr;
  json_t *arr = json_loads(items, 0, &jerr);
  free(items);
  size_t i, used = 0;
  json_t *a;
  json_array_foreach(arr, i, a) {
    const char *target = json_string_value(json_object_get(a, "model_id"));
    const char *name = json_string_value(json_object_get(a, "name"));
    if (target == NULL || name == NULL || strcmp(target, id) != 0) continue;
    int n =
        snprintf(buf + used, bufsz - used, "%s'%s'", used ? ", " : "", name);
    if (n < 0 || (size_t)n >= bufsz - used) break;
    used += (size_t)n;
  }
  json_decref(arr);
}

void api_delete_model(const api_request *req, api_response *res) {
  const api_service *svc = api_svc_get(req, res);
  if (svc == NULL) return;
  const char *name = req->params[0];
  char *id = NULL;
  char what[200];
  snprintf(what, sizeof what, "The model '%.128s'", name);
  api_svc_status st = svc->model_resolve(svc->ctx, name, &id);
  if (st == API_SVC_OK) st = svc->model_delete(svc->ctx, id);
  if (st == API_SVC_CONFLICT) {
    char names[512];
    aliases_of(svc, id, names, sizeof names);
    api_errors errs = {0};
    api_errors_add(&errs, "/path/id",
                   "the alias %s points at this model; move it with PUT "
                   "/v1/aliases/{name} first",
                   names[0] ? names : "(unknown)");
    api_problem(res, API_E_CONFLICT, &errs,
                "The model %s is still aliased by %s.", id,
                names[0] ? names : "an alias");
  } else if (st != API_SVC_OK) {
    api_svc_problem(res, st, "/path/id", what);
  } else {
    res->status = 204;
  }
  free(id);
}

/* ---- GET /v1/models/{id}/potentials ------------------------------------- */

void api_pot_entry_text(api_text *t, const api_pot_entry *e) {
  api_text_raw(t, "{\"reporter\":");
  api_text_string(t, e->reporter);
  api_text_raw(t, ",\"partner\":");
  api_text_string(t, e->partner);
  api_text_raw(t, ",\"year\":");
  if (e->has_year)
    api_text_int(t, e->year);
  else
    api_text_raw(t, "null");
  api_text_raw(t, ",\"actual\":");
  api_text_real(t, e->actual);
  api_text_raw(t, ",\"predicted\":");
  api_text_real(t, e->predicted);
  api_text_raw(t, ",\"k\":");
  api_text_real(t, e->k);
  api_text_raw(t, ",\"class\":");
  api_text_string(t, e->cls);
  api_text_raw(t, ",\"gap\":");
  api_text_real(t, e->gap);
  api_text_put(t, "}", 1);
}

void api_get_model_potentials(const api_request *req, api_response *res) {
  long long year = 0;
  bool want_year = api_query(req, "year") != NULL;
  if (!api_query_int(req, res, "year", -9999, 9999, 0, &year)) return;
  api_model_ref ref;
  if (!api_model_open(req, res, req->params[0], "/path/id", &ref)) return;
  const char *reporter = api_query(req, "reporter");
  const char *partner = api_query(req, "partner");
  const api_model_view *v = ref.view;
  size_t first = 0, count = v->n_pot;
  if (reporter != NULL)
    first = api_model_view_find(v, reporter, partner, &count);
  /* Written as text: the bytes json_dumps makes of {"model_id",
   * "potentials": [rows]}, without a Jansson object per row (a model of
   * 100,000 rows took 0.5-1.8 s a request that way). */
  api_text t = {0};
  api_text_reserve(&t, 64 + 160 * (count < 1000000 ? count : 1000000));
  api_text_raw(&t, "{\"model_id\":");
  api_text_string(&t, v->id);
  api_text_raw(&t, ",\"potentials\":[");
  bool any = false;
  for (size_t i = first; !t.failed && i < first + count; i++) {
    const api_pot_entry *e = &v->pot_rows[i];
    if (partner != NULL &&
        (e->partner == NULL || strcmp(e->partner, partner) != 0))
      continue;
    if (want_year && (!e->has_year || e->year != year)) continue;
    if (any) api_text_put(&t, ",", 1);
    api_pot_entry_text(&t, e);
    any = true;
  }
  api_text_raw(&t, "]}");
  etag_header(res, v);
  api_model_close(&ref);
  if (t.failed) {
    api_text_free(&t);
    api_response_json(res, 200, NULL); /* the internal-error answer */
    return;
  }
  api_response_take(res, 200, "application/json", t.s, t.len);
}

/* ---- POST /v1/models/{id}/predict --------------------------------------- */

typedef struct predict_ctx {
  json_t *root;
  api_lifted lifted; /* numeric columns of the body (api_lift.h) */
  api_errors errs;
  api_data data;
  core_design *d;
  double *xb, *actual;
  core_pot_row *rows;
  core_warnings warnings;
} predict_ctx;

static void predict_free(predict_ctx *p) {
  json_decref(p->root);
  api_lifted_free(&p->lifted);
  api_errors_clear(&p->errs);
  api_data_free(&p->data);
  core_design_free(p->d);
  free(p->xb);
  free(p->actual);
  free(p->rows);
  core_warnings_clear(&p->warnings);
}

/* Gives the panel an all-missing column for each variable of the response
 * that the rows do not carry, so that rows without an outcome can be
 * predicted. The response's variables are those of "<response> ~ 1". A
 * missing regressor is left for the design to report. Returns false when
 * memory runs out. */
static bool add_missing_response(const core_formula *f, core_panel *panel) {
  const char *resp = core_formula_response_label(f);
  size_t len = strlen(resp) + 8;
  char *text = malloc(len);
  if (text == NULL) return false;
  snprintf(text, len, "%s ~ 1", resp);
  core_formula *rf = NULL;
  core_err err;
  core_err_clear(&err);
  core_status st = core_formula_parse(text, &rf, &err);
  free(text);
  if (st != CORE_OK) return st != CORE_ENOMEM;
  bool ok = true;
  for (size_t i = 0; ok && i < core_formula_n_vars(rf); i++) {
    const char *name = core_formula_var(rf, i);
    if (core_panel_column(panel, name) != NULL) continue;
    double *nan = malloc((panel->n ? panel->n : 1) * sizeof *nan);
    if (nan == NULL) {
      ok = false;
      break;
    }
    for (size_t r = 0; r < panel->n; r++)
      nan[r] = NAN;
    ok = core_panel_add_column(panel, name, nan, NULL, NULL) == CORE_OK;
    free(nan);
  }
  core_formula_free(rf);
  return ok;
}

/* Adds each row's fixed effects to its linear predictor; a row whose level
 * of some factor the model did not estimate gets NaN (its prediction is
 * null) and one warning counts them. False when memory runs out. */
static bool add_fixed_effects(const api_model_view *v, predict_ctx *p,
                              size_t nf) {
  api_text key = {0};
  size_t unknown = 0;
  char first[200] = "";
  /* Each factor's parts are looked up in the rows' panel once; a factor
   * whose parts the rows lack makes every row's level unknown. */
  api_fe_factor fac[CORE_HDFE_MAX_FACTORS];
  bool known[CORE_HDFE_MAX_FACTORS];
  for (size_t f = 0; f < nf; f++)
    known[f] = api_fe_factor_resolve(
        p->data.panel, core_formula_fe_label(v->formula, f), &fac[f]);
  for (size_t i = 0; i < p->d->n; i++) {
    size_t r = p->d->row[i];
    for (size_t f = 0; f < nf && isfinite(p->xb[i]); f++) {
      const char *label = core_formula_fe_label(v->formula, f);
      double fe = NAN;
      key.len = 0;
      if (key.s) key.s[0] = '\0';
      bool have = known[f] &&
                  api_fe_key_text(p->data.panel, &fac[f], r, &key) &&
                  api_fe_map_get(&v->fe[f], key.s, &fe);
      if (key.failed) {
        api_text_free(&key);
        return false;
      }
      if (!have) {
        if (unknown++ == 0) {
          /* The key with its parts joined by '^', as the factor is named. */
          for (char *c = key.s; c && *c; c++)
            if (*c == '\x1f') *c = '^';
          snprintf(first, sizeof first, "row %zu, %s = %s", r, label,
                   key.s && key.s[0] ? key.s : "(missing)");
        }
        p->xb[i] = NAN;
      } else {
        p->xb[i] += fe;
      }
    }
  }
  api_text_free(&key);
  if (unknown > 0 &&
      core_warn(&p->warnings,
                "%zu row%s %s a fixed-effect level the model did not "
                "estimate (first: %s): %s prediction%s null",
                unknown, unknown == 1 ? "" : "s", unknown == 1 ? "has" : "have",
                first, unknown == 1 ? "its" : "their",
                unknown == 1 ? " is" : "s are") != CORE_OK)
    return false;
  return true;
}

static json_t *predict_answer(const api_model_view *v, predict_ctx *p) {
  api_out o;
  if (!api_out_init(&o)) return NULL;
  for (size_t i = 0; i < p->warnings.n; i++)
    api_out_warn(&o, "%s", p->warnings.msgs[i]);
  const core_panel *panel = p->data.panel;
  json_t *arr = json_array();
  for (size_t i = 0; i < p->d->n; i++) {
    size_t r = p->d->row[i];
    const core_pot_row *pr = &p->rows[i];
    json_t *e = json_object();
    api_out_set(&o, e, "row", json_integer((json_int_t)r));
    if (panel->reporter)
      api_out_set(&o, e, "reporter",
                  panel->reporter[r] ? json_string(panel->reporter[r])
                                     : json_null());
    if (panel->partner)
      api_out_set(&o, e, "partner",
                  panel->partner[r] ? json_string(panel->partner[r])
                                    : json_null());
    if (panel->year) api_out_set(&o, e, "year", json_integer(panel->year[r]));
    api_out_set(&o, e, "linear_predictor", api_out_num(&o, p->xb[i], NULL));
    api_out_set(&o, e, "predicted", api_out_num(&o, pr->predicted, NULL));
    api_out_set(&o, e, "actual", api_out_num(&o, pr->actual, NULL));
    api_out_set(&o, e, "k", api_out_num(&o, pr->k, NULL));
    const char *cls = core_pot_class_name(pr->cls);
    api_out_set(&o, e, "class", cls ? json_string(cls) : json_null());
    api_out_set(&o, e, "gap", api_out_num(&o, pr->gap, NULL));
    api_out_push(&o, arr, e);
  }
  json_t *body = json_object();
  api_out_set(&o, body, "model_id", json_string(v->id));
  api_out_set(&o, body, "predictions", arr);
  api_out_set(&o, body, "dropped",
              json_pack("{s:I}", "missing_rows", (json_int_t)p->d->n_missing));
  if (!api_out_finish(&o, body)) {
    json_decref(body);
    return NULL;
  }
  return body;
}

static void predict(const api_request *req, api_response *res,
                    const api_model_view *v, predict_ctx *p) {
  p->root = api_json_parse_body_lifted(req, req->env ? &req->env->limits : NULL,
                                       res, &p->lifted);
  if (p->root == NULL) return;
  const json_t *data = NULL;
  const api_field fields[] = {
      {.name = "data", .type = API_F_OBJECT, .required = true, .out = &data}};
  if (!api_json_fields(p->root, "", fields, 1, &p->errs)) {
    api_problem(res, API_E_INVALID, &p->errs, "The request cannot be used.");
    return;
  }
  api_limits def;
  api_limits_default(&def);
  api_error_code code;
  if (!api_data_decode(data, "/data", req->env ? &req->env->limits : &def,
                       &p->lifted, &p->data, &code, &p->errs)) {
    api_problem(res, code, &p->errs, "The data cannot be used.");
    return;
  }
  size_t nf = core_formula_n_fe(v->formula);
  bool ppml = strcmp(v->estimator, "ppml") == 0;
  if (nf > 0 && (v->n_fe != nf || nf > CORE_HDFE_MAX_FACTORS)) {
    api_errors_add(&p->errs, "/path/id",
                   "this %s model was stored without its fixed-effect values "
                   "(answers stored before they were kept); fit it again to "
                   "predict new rows",
                   v->estimator);
    api_problem(res, API_E_NOT_SUPPORTED, &p->errs,
                "The model cannot predict new rows.");
    return;
  }
  if (!v->has_potential_spec || !isfinite(v->factor)) {
    api_errors_add(&p->errs, "/path/id",
                   "this model was stored without its retransformation "
                   "factor; fit it again to predict");
    api_problem(res, API_E_NOT_SUPPORTED, &p->errs,
                "The model cannot predict.");
    return;
  }
  if (!add_missing_response(v->formula, p->data.panel)) {
    api_errors_add(&p->errs, "", "out of memory");
    api_problem(res, API_E_INTERNAL, &p->errs, "Out of memory.");
    return;
  }
  core_err err;
  core_err_clear(&err);
  /* With fixed effects the design has the slopes only (as in the fit). */
  core_status st = nf > 0
                       ? core_design_build_fe(v->formula, p->data.panel,
                                              CORE_DESIGN_PREDICT, &p->d, &err)
                       : core_design_build(v->formula, p->data.panel,
                                           CORE_DESIGN_PREDICT, &p->d, &err);
  if (st != CORE_OK) {
    api_error_code c = api_core_code(st, false);
    if (st == CORE_EDOMAIN && err.n_rows > 0 && err.name[0] != '\0') {
      /* A term such as log(x * z) has no cell of its own: name the row. */
      char ptr[API_POINTER_MAX];
      if (core_panel_find(p->data.panel, err.name) >= 0)
        api_data_cell_pointer(&p->data, err.rows[0], err.name, ptr, sizeof ptr);
      else if (p->data.form == API_DATA_ROWS)
        api_pointer_index(ptr, sizeof ptr, "/data/rows", err.rows[0]);
      else
        snprintf(ptr, sizeof ptr, "/data/columns");
      api_errors_add(&p->errs, ptr, "%s", err.msg);
    } else {
      api_errors_add(&p->errs, "/data", "%s", err.msg);
    }
    api_problem(res, c, &p->errs, "The rows cannot be predicted.");
    return;
  }
  size_t n = p->d->n ? p->d->n : 1;
  p->xb = malloc(n * sizeof *p->xb);
  p->actual = malloc(n * sizeof *p->actual);
  p->rows = malloc(n * sizeof *p->rows);
  if (!p->xb || !p->actual || !p->rows) {
    api_errors_add(&p->errs, "", "out of memory");
    api_problem(res, API_E_INTERNAL, &p->errs, "Out of memory.");
    return;
  }
  /* Map each design column to its coefficient by label. */
  double *beta = malloc(p->d->p * sizeof *beta);
  if (beta == NULL) {
    api_errors_add(&p->errs, "", "out of memory");
    api_problem(res, API_E_INTERNAL, &p->errs, "Out of memory.");
    return;
  }
  for (size_t j = 0; j < p->d->p; j++) {
    beta[j] = NAN;
    for (size_t k = 0; k < v->n_coef; k++)
      if (strcmp(v->coef_term[k], p->d->col_label[j]) == 0)
        beta[j] = v->coef[k];
    if (isnan(beta[j])) {
      api_errors_add(&p->errs, "", "the stored model has no coefficient for %s",
                     p->d->col_label[j]);
      api_problem(res, API_E_INTERNAL, &p->errs,
                  "The stored model does not match its formula.");
      free(beta);
      return;
    }
  }
  for (size_t i = 0; i < p->d->n; i++) {
    double s = 0;
    for (size_t j = 0; j < p->d->p; j++)
      s += gsl_matrix_get(p->d->X, i, j) * beta[j];
    p->xb[i] = s;
    p->actual[i] = gsl_vector_get(p->d->y_level, i);
  }
  free(beta);
  if (nf > 0 && !add_fixed_effects(v, p, nf)) {
    api_errors_add(&p->errs, "", "out of memory");
    api_problem(res, API_E_INTERNAL, &p->errs, "Out of memory.");
    return;
  }
  core_err_clear(&err);
  if (v->pot.method == CORE_POT_FRONTIER) {
    /* A frontier model predicts the frontier exp(x b) of new rows; their
     * efficiency (K) needs their noise, which is not known. */
    size_t m = p->d->n ? p->d->n : 1;
    double *frontier = malloc(2 * m * sizeof *frontier);
    if (frontier == NULL) {
      api_errors_add(&p->errs, "", "out of memory");
      api_problem(res, API_E_INTERNAL, &p->errs, "Out of memory.");
      return;
    }
    double *unknown = frontier + m;
    for (size_t i = 0; i < p->d->n; i++) {
      frontier[i] = exp(p->xb[i]);
      unknown[i] = NAN;
    }
    st = core_potential_frontier(&v->pot, unknown, frontier, p->actual, p->d->n,
                                 p->rows, &err);
    free(frontier);
    if (st == CORE_OK)
      st = core_warn(&p->warnings,
                     "a stochastic frontier predicts the frontier exp(x b) of "
                     "new rows; their efficiency K is unknown and null");
  } else {
    /* Scaled as the model's own potentials (api_pot_scale.h). */
    api_pot_scale sc = api_pot_scale_of(
        ppml, core_formula_response_kind(v->formula), v->factor);
    /* p->xb is freed by predict_free; the analyzer takes &p->warnings as a
     * write to all of *p and so loses the pointer (passed on as const). */
    // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
    st = core_potential(&v->pot, sc.kind, sc.factor, p->xb, p->actual, p->d->n,
                        p->rows, &p->warnings, &err);
  }
  if (st != CORE_OK) {
    api_errors_add(&p->errs, "", "%s", err.msg);
    api_problem(res, api_core_code(st, false), &p->errs,
                "The potentials cannot be computed.");
    return;
  }
  json_t *body = predict_answer(v, p);
  if (body == NULL) {
    api_errors_add(&p->errs, "", "out of memory");
    api_problem(res, API_E_INTERNAL, &p->errs, "Out of memory.");
    return;
  }
  api_response_json(res, 200, body);
}

void api_post_model_predict(const api_request *req, api_response *res) {
  api_model_ref ref;
  if (!api_model_open(req, res, req->params[0], "/path/id", &ref)) return;
  predict_ctx p = {0};
  predict(req, res, ref.view, &p);
  predict_free(&p);
  api_model_close(&ref);
}

/* POST /v1/models: decode and validate a model request, fit it by OLS,
 * compute trade potentials and effects, and answer the model (201). */
#include "api.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

#include "api_canon.h"
#include "api_core.h"
#include "api_data.h"
#include "api_json.h"
#include "api_model_view.h"
#include "api_models.h"
#include "api_models_int.h"
#include "api_out.h"
#include "api_service.h"
#include "api_text.h"
#include "core_formula.h"
#include "core_interp.h"
#include "core_ols.h"
#include "core_potential.h"

static const char *const interp_names[] = {"none", "linear", "nearest", NULL};
static const char *const method_names[] = {"level", "log", "frontier", NULL};
static const char *const inefficiency_names[] = {"half_normal",
                                                 "truncated_normal", NULL};
static const char *const time_names[] = {"invariant", "bc92", NULL};
static const char *const smearing_names[] = {"duan", "normal", "none", NULL};
static const char *const estimator_names[] = {"ols", "sfa", "fe", "re", "ppml"};

static void free_ctx(model_ctx *c) {
  json_decref(c->root);
  json_decref(c->stored_data);
  api_lifted_free(&c->lifted);
  api_lifted_free(&c->stored_lifted);
  json_decref(c->by_json);
  api_errors_clear(&c->errs);
  api_data_free(&c->data);
  core_formula_free(c->formula);
  core_fill_list_clear(&c->filled);
  core_design_free(c->fit);
  core_design_free(c->pred);
  free(c->cluster);
  core_ols_result_free(c->ols);
  core_sfa_result_free(c->sfa);
  api_panel_free(c);
  free(c->sfa_group);
  free(c->sfa_period);
  for (size_t i = 0; i < sizeof c->owned / sizeof c->owned[0]; i++)
    free(c->owned[i]);
  free(c->owned_dropped);
  free(c->xb);
  free(c->actual);
  free(c->pot_rows);
  core_warnings_clear(&c->warnings);
}

/* Raises the problem code to answer: an invalid field outranks a limit,
 * which outranks something not supported yet. */
void api_mctx_raise(model_ctx *c, api_error_code code) {
  static const api_error_code order[] = {API_E_NOT_SUPPORTED, API_E_LIMIT,
                                         API_E_INVALID, API_E_INTERNAL};
  int have = -1, want = -1;
  for (int i = 0; i < 4; i++) {
    if (order[i] == c->code) have = i;
    if (order[i] == code) want = i;
  }
  if (want > have) c->code = code;
}

/* Answers the collected errors. Always returns false (for `return`). */
bool api_mctx_errors(model_ctx *c, const char *detail) {
  size_t n = api_errors_count(&c->errs);
  api_problem(c->res, c->code, &c->errs, "%s (%zu error%s)", detail, n,
              n == 1 ? "" : "s");
  return false;
}

bool api_mctx_pred_alloc(model_ctx *c) {
  const core_design *d = c->pred;
  size_t n = d->n ? d->n : 1;
  c->xb = malloc(n * sizeof *c->xb);
  c->actual = malloc(n * sizeof *c->actual);
  c->pot_rows = malloc(n * sizeof *c->pot_rows);
  if (!c->xb || !c->actual || !c->pot_rows)
    return api_mctx_internal(c, "Out of memory.");
  for (size_t i = 0; i < d->n; i++)
    c->actual[i] = gsl_vector_get(d->y_level, i);
  return true;
}

bool api_mctx_internal(model_ctx *c, const char *what) {
  /* Every problem body carries errors[] (openapi.yaml); a fault of the
   * server points at no field, so its pointer is the whole document. */
  api_errors_clear(&c->errs);
  api_errors_add(&c->errs, "", "%s", what);
  api_problem(c->res, API_E_INTERNAL, &c->errs, "%s", what);
  return false;
}

/* ---- step 1: the request's fields ------------------------------------- */

static bool valid_cluster_name(const char *var) {
  return strcmp(var, "reporter") == 0 || strcmp(var, "partner") == 0 ||
         strcmp(var, "year") == 0 || core_panel_valid_name(var);
}

/* The variance estimators named by a word; clustering is "cluster:<a>" or
 * "cluster:<a>+<b>". */
static const struct {
  const char *name;
  core_vcov_kind kind;
} fixed_vcov[] = {{"classical", CORE_VCOV_CLASSICAL},
                  {"hc0", CORE_VCOV_HC0},
                  {"hc1", CORE_VCOV_HC1},
                  {"hc2", CORE_VCOV_HC2},
                  {"hc3", CORE_VCOV_HC3}};

json_t *api_models_capabilities(void) {
  json_t *est = json_array(), *vcov = json_array(), *pot = json_array();
  bool ok = est != NULL && vcov != NULL && pot != NULL;
  for (size_t i = 0;
       ok && i < sizeof estimator_names / sizeof estimator_names[0]; i++)
    ok = json_array_append_new(est, json_string(estimator_names[i])) == 0;
  for (size_t i = 0; ok && i < sizeof fixed_vcov / sizeof fixed_vcov[0]; i++)
    ok = json_array_append_new(vcov, json_string(fixed_vcov[i].name)) == 0;
  ok = ok && json_array_append_new(vcov, json_string("cluster:<var>")) == 0 &&
       json_array_append_new(vcov, json_string("cluster:<a>+<b>")) == 0;
  for (size_t i = 0; ok && method_names[i] != NULL; i++)
    ok = json_array_append_new(pot, json_string(method_names[i])) == 0;
  if (!ok) {
    json_decref(est);
    json_decref(vcov);
    json_decref(pot);
    return NULL;
  }
  return json_pack("{s:o, s:o, s:o}", "estimators", est, "vcov", vcov,
                   "potential_methods", pot);
}

static void check_vcov(model_ctx *c, const json_t *v) {
  const char *s = json_string_value(v);
  for (size_t i = 0; i < sizeof fixed_vcov / sizeof fixed_vcov[0]; i++)
    if (strcmp(s, fixed_vcov[i].name) == 0) {
      c->vcov_kind = fixed_vcov[i].kind;
      snprintf(c->vcov_text, sizeof c->vcov_text, "%s", s);
      return;
    }
  const char *var = strncmp(s, "cluster:", 8) == 0 ? s + 8 : NULL;
  /* One variable, or two joined by '+' (two-way clustering). */
  char first[CORE_NAME_MAX + 1] = "", second[CORE_NAME_MAX + 1] = "";
  if (var != NULL) {
    const char *plus = strchr(var, '+');
    size_t len = plus ? (size_t)(plus - var) : strlen(var);
    if (len <= CORE_NAME_MAX) {
      memcpy(first, var, len);
      first[len] = '\0';
    }
    if (plus && strlen(plus + 1) <= CORE_NAME_MAX)
      memcpy(second, plus + 1, strlen(plus + 1) + 1);
    bool ok = valid_cluster_name(first) &&
              (plus == NULL ||
               (valid_cluster_name(second) && strcmp(first, second) != 0 &&
                strchr(plus + 1, '+') == NULL));
    if (ok) {
      c->vcov_kind = CORE_VCOV_CLUSTER;
      memcpy(c->cluster_var, first, sizeof first);
      memcpy(c->cluster_var2, second, sizeof second);
      snprintf(c->vcov_text, sizeof c->vcov_text, "cluster:%s", var);
      return;
    }
  }
  api_mctx_raise(c, API_E_INVALID);
  api_errors_add(&c->errs, "/vcov",
                 var ? "\"cluster:\" must be followed by a variable name, or "
                       "two different names joined by '+' (1 to 64 characters "
                       "of [A-Za-z0-9_.] each)"
                     : "must be one of \"classical\", \"hc0\", \"hc1\", "
                       "\"hc2\", \"hc3\", \"cluster:<variable>\" or "
                       "\"cluster:<a>+<b>\"");
}

static void check_estimator(model_ctx *c, const json_t *v) {
  const char *s = json_string_value(v);
  if (strcmp(s, "ols") == 0) return;
  for (size_t i = 1; i < sizeof estimator_names / sizeof estimator_names[0];
       i++)
    if (strcmp(s, estimator_names[i]) == 0) {
      c->est = (api_estimator)i;
      return;
    }
  api_mctx_raise(c, API_E_INVALID);
  api_errors_add(&c->errs, "/estimator",
                 "must be one of \"ols\", \"fe\", \"re\", \"ppml\" or "
                 "\"sfa\"");
}

/* The options that only the stochastic frontier takes, and what it needs
 * of the others: ML variance only, K = efficiency (the `frontier`
 * potential method, its default). */
static void check_sfa(model_ctx *c, const json_t *inefficiency,
                      const json_t *time, const json_t *vcov,
                      bool method_given) {
  if (c->est != API_EST_SFA) {
    if (inefficiency || time) {
      api_mctx_raise(c, API_E_INVALID);
      api_errors_add(&c->errs, inefficiency ? "/inefficiency" : "/time",
                     "applies only to the estimator \"sfa\"");
    }
    if (c->pot.method == CORE_POT_FRONTIER) {
      api_mctx_raise(c, API_E_INVALID);
      api_errors_add(&c->errs, "/potential/method",
                     "\"frontier\" needs the estimator \"sfa\"");
    }
    return;
  }
  c->sfa_truncated = inefficiency && strcmp(json_string_value(inefficiency),
                                            "truncated_normal") == 0;
  c->sfa_time = time ? json_string_value(time) : NULL;
  if (vcov && c->vcov_kind != CORE_VCOV_CLASSICAL) {
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, "/vcov",
                   "the stochastic frontier's variance is the inverse "
                   "Hessian of the likelihood: give \"classical\" or nothing");
  }
  if (!method_given) c->pot.method = CORE_POT_FRONTIER;
  if (c->pot.method != CORE_POT_FRONTIER) {
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, "/potential/method",
                   "the stochastic frontier's potential is \"frontier\" "
                   "(K = technical efficiency)");
  }
}

static void check_thresholds(model_ctx *c, const json_t *t) {
  const char *ptr = "/potential/thresholds";
  if (!json_is_array(t) || json_array_size(t) != 2) {
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, ptr,
                   "must be an array of two numbers [lo, hi] with "
                   "0 < lo < hi");
    return;
  }
  double x[2] = {0.0, 0.0};
  bool ok = true;
  for (size_t i = 0; i < 2; i++) {
    const json_t *v = json_array_get(t, i);
    char p[64];
    api_pointer_index(p, sizeof p, ptr, i);
    if (!json_is_number(v)) {
      api_errors_add(&c->errs, p, "must be a number");
      ok = false;
    } else if (!((x[i] = json_number_value(v)) > 0)) {
      api_errors_add(&c->errs, p, "must be > 0");
      ok = false;
    }
  }
  if (ok && !(x[0] < x[1])) {
    api_errors_add(&c->errs, ptr,
                   "lo must be below hi: [%.17g, %.17g] is not increasing",
                   x[0], x[1]);
    ok = false;
  }
  if (!ok) {
    api_mctx_raise(c, API_E_INVALID);
    return;
  }
  c->pot.lo = x[0];
  c->pot.hi = x[1];
}

static void check_potential(model_ctx *c, const json_t *obj) {
  const json_t *method = NULL, *smearing = NULL, *thresholds = NULL;
  const api_field fields[] = {
      {.name = "method",
       .type = API_F_STRING,
       .allowed = method_names,
       .out = &method},
      {.name = "smearing",
       .type = API_F_STRING,
       .allowed = smearing_names,
       .out = &smearing},
      {.name = "thresholds", .type = API_F_ARRAY, .out = &thresholds},
  };
  if (!api_json_fields(obj, "/potential", fields, 3, &c->errs))
    api_mctx_raise(c, API_E_INVALID);
  if (method)
    c->pot.method = strcmp(json_string_value(method), "log") == 0 ? CORE_POT_LOG
                    : strcmp(json_string_value(method), "frontier") == 0
                        ? CORE_POT_FRONTIER
                        : CORE_POT_LEVEL;
  if (smearing) {
    const char *s = json_string_value(smearing);
    c->pot.smearing = strcmp(s, "normal") == 0 ? CORE_SMEAR_NORMAL
                      : strcmp(s, "none") == 0 ? CORE_SMEAR_NONE
                                               : CORE_SMEAR_DUAN;
  }
  /* A thresholds member of the wrong type was reported by the spec. */
  const json_t *t = json_object_get(obj, "thresholds");
  if (t != NULL && json_is_array(t)) check_thresholds(c, t);
}

/* "diagnostics": a list of tests to add; "hausman" is the one offered. */
static void check_diagnostics(model_ctx *c, const json_t *list) {
  size_t i;
  const json_t *v;
  json_array_foreach(list, i, v) {
    char ptr[64];
    api_pointer_index(ptr, sizeof ptr, "/diagnostics", i);
    const char *s = json_string_value(v);
    if (s != NULL && strcmp(s, "hausman") == 0) {
      c->want_hausman = true;
      continue;
    }
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, ptr, "must be \"hausman\"");
  }
}

static void read_fields(model_ctx *c) {
  const json_t *data = NULL, *dataset_id = NULL, *formula = NULL,
               *estimator = NULL, *vcov = NULL, *potential = NULL,
               *interpolate = NULL, *confidence = NULL, *inefficiency = NULL,
               *time = NULL, *diagnostics = NULL, *by = NULL;
  const api_field fields[] = {
      {.name = "data", .type = API_F_OBJECT, .out = &data},
      {.name = "dataset_id", .type = API_F_STRING, .out = &dataset_id},
      {.name = "formula",
       .type = API_F_STRING,
       .required = true,
       .out = &formula},
      {.name = "estimator", .type = API_F_STRING, .out = &estimator},
      {.name = "vcov", .type = API_F_STRING, .out = &vcov},
      {.name = "potential", .type = API_F_OBJECT, .out = &potential},
      {.name = "interpolate",
       .type = API_F_STRING,
       .allowed = interp_names,
       .out = &interpolate},
      {.name = "confidence",
       .type = API_F_NUMBER,
       .has_min = true,
       .min_exclusive = true,
       .min = 0,
       .has_max = true,
       .max_exclusive = true,
       .max = 1,
       .out = &confidence},
      {.name = "inefficiency",
       .type = API_F_STRING,
       .allowed = inefficiency_names,
       .out = &inefficiency},
      {.name = "time",
       .type = API_F_STRING,
       .allowed = time_names,
       .out = &time},
      {.name = "diagnostics", .type = API_F_ARRAY, .out = &diagnostics},
      {.name = "by", .type = API_F_STRING, .out = &by},
  };
  if (!api_json_fields(c->root, "", fields, sizeof fields / sizeof fields[0],
                       &c->errs))
    api_mctx_raise(c, API_E_INVALID);

  bool has_data = json_object_get(c->root, "data") != NULL;
  bool has_ds = json_object_get(c->root, "dataset_id") != NULL;
  if (has_data && has_ds) {
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, "/dataset_id",
                   "give exactly one of data or dataset_id");
  } else if (!has_data && !has_ds) {
    api_mctx_raise(c, API_E_INVALID);
    api_errors_add(&c->errs, "/data",
                   "is required: the data inline, or the dataset_id of a "
                   "stored dataset");
  } else if (dataset_id != NULL) {
    c->stored_dataset = json_string_value(dataset_id);
  }
  if (formula != NULL) {
    size_t len = json_string_length(formula);
    size_t max = c->req->env ? c->req->env->limits.max_formula_len : 2048;
    if (len > max) {
      api_mctx_raise(c, API_E_LIMIT);
      api_errors_add(&c->errs, "/formula",
                     "is %zu bytes long; the limit is %zu bytes", len, max);
    } else if (strlen(json_string_value(formula)) != len) {
      api_mctx_raise(c, API_E_INVALID);
      api_errors_add(&c->errs, "/formula", "must not contain NUL characters");
    } else {
      c->formula_text = json_string_value(formula);
    }
  }
  if (estimator) check_estimator(c, estimator);
  if (vcov) check_vcov(c, vcov);
  c->vcov_given = vcov != NULL;
  if (potential) check_potential(c, potential);
  if (interpolate) {
    const char *s = json_string_value(interpolate);
    c->interp = strcmp(s, "linear") == 0    ? CORE_INTERP_LINEAR
                : strcmp(s, "nearest") == 0 ? CORE_INTERP_NEAREST
                                            : CORE_INTERP_NONE;
  }
  if (confidence) c->confidence = json_number_value(confidence);
  if (diagnostics) check_diagnostics(c, diagnostics);
  if (by) c->by = json_string_value(by);
  check_sfa(c, inefficiency, time, vcov,
            potential && json_object_get(potential, "method") != NULL);
  c->data_json = data;
}

/* ---- step 2: data, formula and their agreement ------------------------- */

/* Decodes the data, adding its faults to the others. Returns false only
 * after answering an internal error. */
/* Reads the stored dataset named by dataset_id into c->stored_data. Returns
 * false after answering when it cannot be had. */
static bool load_dataset(model_ctx *c) {
  if (c->svc == NULL) {
    api_errors_add(&c->errs, "/dataset_id", "no dataset store is configured");
    api_problem(c->res, API_E_UNAVAILABLE, &c->errs,
                "Stored datasets are not available.");
    return false;
  }
  char *content = NULL;
  size_t len = 0;
  api_svc_status st =
      c->svc->dataset_get(c->svc->ctx, c->stored_dataset, NULL, &content, &len);
  if (st != API_SVC_OK) {
    api_errors_clear(&c->errs);
    if (st == API_SVC_NOT_FOUND) {
      api_errors_add(&c->errs, "/dataset_id",
                     "no stored dataset has this id; POST /v1/datasets "
                     "first, or send the data inline");
      api_problem(c->res, API_E_NOT_FOUND, &c->errs, "Unknown dataset %.80s.",
                  c->stored_dataset);
      return false;
    }
    if (st == API_SVC_BUSY) {
      api_errors_add(&c->errs, "", "the store is busy");
      api_problem(c->res, API_E_BUSY, &c->errs, "The store is busy.");
      api_response_header(c->res, "Retry-After", "1");
      return false;
    }
    return api_mctx_internal(c, "The stored dataset cannot be read.");
  }
  json_error_t jerr;
  c->stored_data = api_lift_load(content, len, JSON_REJECT_DUPLICATES, 0, 0, 0,
                                 &c->stored_lifted, &jerr);
  free(content);
  if (c->stored_data == NULL)
    return api_mctx_internal(c, "The stored dataset is not valid JSON.");
  c->data_json = c->stored_data;
  return true;
}

static bool read_data(model_ctx *c) {
  /* A stored dataset is read only for a request whose fields are sound. */
  if (c->stored_dataset != NULL) {
    if (api_errors_count(&c->errs) > 0) return true;
    if (!load_dataset(c)) return false;
  }
  if (c->data_json == NULL) return true;
  api_limits def;
  api_limits_default(&def);
  const api_limits *lim = c->req->env ? &c->req->env->limits : &def;
  api_error_code code;
  const char *base = c->stored_dataset ? "/dataset_id" : "/data";
  const api_lifted *lifted = c->stored_dataset ? &c->stored_lifted : &c->lifted;
  if (api_data_decode(c->data_json, base, lim, lifted, &c->data, &code,
                      &c->errs))
    return true;
  if (code == API_E_INTERNAL) return api_mctx_internal(c, "Out of memory.");
  api_mctx_raise(c, code);
  return true;
}

static bool dataset_id(model_ctx *c) {
  if (!api_canon_dataset_id(c->data.panel, c->dataset_id))
    return api_mctx_internal(c, "The dataset id could not be computed.");
  return true;
}

/* True when name is a part of a fixed-effect factor ("a^b" has a and b)
 * and of no regressor or response. */
static bool only_in_fe(const core_formula *f, const char *name) {
  bool in_fe = false;
  size_t len = strlen(name);
  for (size_t i = 0; i < core_formula_n_fe(f) && !in_fe; i++) {
    const char *label = core_formula_fe_label(f, i);
    while (*label && !in_fe) {
      size_t part = strcspn(label, "^");
      in_fe = part == len && strncmp(label, name, len) == 0;
      label += part;
      if (*label == '^') label++;
    }
  }
  if (!in_fe) return false;
  /* The response and the regressors: the variables of "<lhs> ~ <rhs>"
   * without the '|' part would need a re-parse; a key in them is refused
   * later by the design (it cannot enter as a number). */
  return true;
}

static bool read_formula(model_ctx *c) {
  core_err err;
  core_err_clear(&err);
  core_status st = core_formula_parse(c->formula_text, &c->formula, &err);
  if (st != CORE_OK) {
    c->code = api_core_code(st, true);
    if (c->code == API_E_INTERNAL)
      return api_mctx_internal(c, "Out of memory.");
    if (err.pos >= 0)
      api_errors_add(&c->errs, "/formula", "%s (at byte %d)", err.msg, err.pos);
    else
      api_errors_add(&c->errs, "/formula", "%s", err.msg);
    return api_mctx_errors(c, "The formula cannot be parsed");
  }
  const core_panel *p = c->data.panel;
  char avail[1024];
  api_data_variables(&c->data, avail, sizeof avail);
  for (size_t v = 0; v < core_formula_n_vars(c->formula); v++) {
    const char *name = core_formula_var(c->formula, v);
    int pos = core_formula_var_pos(c->formula, v);
    if (core_panel_find(p, name) >= 0) continue;
    /* A text key (reporter, partner) may group rows as a fixed effect. */
    if (api_data_has_variable(&c->data, name) && only_in_fe(c->formula, name))
      continue;
    c->code = API_E_FORMULA;
    if (api_data_has_variable(&c->data, name))
      api_errors_add(&c->errs, "/formula",
                     "'%s' (at byte %d) is a text key; it can group rows "
                     "(cluster) but not enter the formula as a number",
                     name, pos);
    else
      api_errors_add(&c->errs, "/formula",
                     "unknown variable '%s' at byte %d; the data has: %s", name,
                     pos, avail);
  }
  if (api_errors_count(&c->errs) > 0)
    return api_mctx_errors(c, "The formula names variables the data lacks");
  const char *cvars[2] = {c->cluster_var, c->cluster_var2};
  for (size_t i = 0; i < 2 && c->vcov_kind == CORE_VCOV_CLUSTER; i++) {
    if (cvars[i][0] == '\0' || api_data_has_variable(&c->data, cvars[i]))
      continue;
    c->code = API_E_INVALID;
    api_errors_add(&c->errs, "/vcov",
                   "the cluster variable '%s' is not in the data; the data "
                   "has: %s",
                   cvars[i], avail);
    return api_mctx_errors(c, "The cluster variable is unknown");
  }
  return true;
}

static bool interpolate(model_ctx *c) {
  if (c->interp == CORE_INTERP_NONE) return true;
  core_panel *p = c->data.panel;
  if (p->year == NULL) {
    c->code = API_E_INVALID;
    api_errors_add(&c->errs, "/interpolate",
                   "interpolation needs a year key in the data");
    return api_mctx_errors(c, "Nothing to interpolate over");
  }
  /* Only the regressors' variables are filled: the response is the outcome
   * K compares with and is never made up. Its variables are those of the
   * formula "<response> ~ 1". */
  core_err err;
  core_err_clear(&err);
  const char *resp = core_formula_response_label(c->formula);
  size_t rlen = strlen(resp) + 8;
  char *rtext = malloc(rlen);
  core_formula *rf = NULL;
  if (rtext == NULL) return api_mctx_internal(c, "Out of memory.");
  snprintf(rtext, rlen, "%s ~ 1", resp);
  core_status st = core_formula_parse(rtext, &rf, &err);
  free(rtext);
  if (st != CORE_OK)
    return api_mctx_internal(c, "The response could not be read.");
  size_t nv = core_formula_n_vars(c->formula), ncols = 0;
  size_t *cols = malloc((nv ? nv : 1) * sizeof *cols);
  if (cols == NULL) {
    core_formula_free(rf);
    return api_mctx_internal(c, "Out of memory.");
  }
  for (size_t v = 0; v < nv; v++) {
    const char *name = core_formula_var(c->formula, v);
    bool in_response = false;
    for (size_t r = 0; r < core_formula_n_vars(rf) && !in_response; r++)
      in_response = strcmp(core_formula_var(rf, r), name) == 0;
    long j = core_panel_find(p, name);
    if (!in_response && j >= 0 && (size_t)j < p->ncol)
      cols[ncols++] = (size_t)j;
  }
  core_formula_free(rf);
  core_err_clear(&err);
  st = core_interp_panel(p, cols, ncols, c->interp, &c->filled, &err);
  free(cols);
  if (st == CORE_OK) return true;
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL)
    return api_mctx_internal(c, "Interpolation failed.");
  char ptr[API_POINTER_MAX];
  if (err.n_rows > 0)
    api_data_cell_pointer(&c->data, err.rows[0], "year", ptr, sizeof ptr);
  else
    api_data_pointer(&c->data, ptr, sizeof ptr);
  api_errors_add(&c->errs, ptr, "%s", err.msg);
  return api_mctx_errors(c, "The data cannot be interpolated");
}

/* ---- step 3: design, clusters and the fit ------------------------------- */

bool api_mctx_design_error(model_ctx *c, core_status st, const core_err *err) {
  char ptr[API_POINTER_MAX];
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL)
    return api_mctx_internal(c, "The design could not be built.");
  if (st == CORE_EDOMAIN) {
    bool is_var = core_panel_find(c->data.panel, err->name) >= 0;
    for (size_t i = 0; i < err->n_rows; i++) {
      if (is_var)
        api_data_cell_pointer(&c->data, err->rows[i], err->name, ptr,
                              sizeof ptr);
      else if (c->data.form == API_DATA_ROWS)
        api_pointer_index(ptr, sizeof ptr, "/data/rows", err->rows[i]);
      else
        snprintf(ptr, sizeof ptr, "/data/columns");
      if (is_var)
        api_errors_add(&c->errs, ptr, "is outside the domain of %s: %s",
                       err->name, err->msg);
      else
        api_errors_add(&c->errs, ptr, "row %zu: %s", err->rows[i], err->msg);
    }
    if (err->n_rows == 0) api_errors_add(&c->errs, "/formula", "%s", err->msg);
    if (err->rows_total > err->n_rows)
      api_errors_add(&c->errs, api_data_pointer(&c->data, ptr, sizeof ptr),
                     "%zu more rows are outside the domain",
                     err->rows_total - err->n_rows);
    return api_mctx_errors(c, err->msg);
  }
  /* No complete row is a fault of the data; everything else of the
   * formula. */
  api_errors_add(&c->errs, st == CORE_ETOOFEW ? "/data" : "/formula", "%s",
                 err->msg);
  return api_mctx_errors(c, st == CORE_ETOOFEW ? "No row can be used"
                                               : "The design cannot be built");
}

typedef struct cluster_key {
  const char *s; /* string key or NULL */
  double v;      /* numeric key */
  size_t i;      /* design row */
} cluster_key;

static int cmp_cluster(const void *a, const void *b) {
  const cluster_key *x = a, *y = b;
  /* make_clusters gives every key of one grouping a string, or none; the
   * analyzer cannot see that through qsort. */
  // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
  if (x->s || y->s) return strcmp(x->s, y->s);
  return (x->v > y->v) - (x->v < y->v);
}

/* Groups the fit rows by the cluster variable. Rows where it is missing are
 * left out of the fit (moved out of the design's first n_fit rows) and
 * counted as missing. */
static bool make_clusters(model_ctx *c) {
  core_design *d = c->fit;
  c->n_fit = d->n;
  if (c->vcov_kind != CORE_VCOV_CLUSTER) return true;
  const core_panel *p = c->data.panel;
  char **str = strcmp(c->cluster_var, "reporter") == 0  ? p->reporter
               : strcmp(c->cluster_var, "partner") == 0 ? p->partner
                                                        : NULL;
  const double *num = str ? NULL : core_panel_column(p, c->cluster_var);
  if (str == NULL && num == NULL)
    return api_mctx_internal(c, "Cluster lookup failed.");

  cluster_key *keys = malloc((d->n ? d->n : 1) * sizeof *keys);
  c->cluster = malloc((d->n ? d->n : 1) * sizeof *c->cluster);
  if (keys == NULL || c->cluster == NULL) {
    free(keys);
    return api_mctx_internal(c, "Out of memory.");
  }
  /* Compact the rows that have a cluster value to the top of X and y. */
  size_t m = 0;
  for (size_t i = 0; i < d->n; i++) {
    size_t r = d->row[i];
    const char *s = str ? str[r] : NULL;
    double v = num ? num[r] : 0;
    if (str ? s == NULL : isnan(v)) continue;
    if (m != i) {
      for (size_t j = 0; j < d->p; j++)
        gsl_matrix_set(d->X, m, j, gsl_matrix_get(d->X, i, j));
      gsl_vector_set(d->y, m, gsl_vector_get(d->y, i));
      gsl_vector_set(d->y_level, m, gsl_vector_get(d->y_level, i));
      d->row[m] = r;
    }
    keys[m] = (cluster_key){.s = s, .v = v, .i = m};
    m++;
  }
  c->cluster_missing = d->n - m;
  c->n_fit = m;
  qsort(keys, m, sizeof *keys, cmp_cluster);
  size_t g = 0;
  for (size_t i = 0; i < m; i++) {
    if (i > 0 && cmp_cluster(&keys[i - 1], &keys[i]) != 0) g++;
    c->cluster[keys[i].i] = g;
  }
  c->n_clusters = m ? g + 1 : 0;
  free(keys);
  if (c->n_clusters < 2) {
    c->code = API_E_INVALID;
    api_errors_add(&c->errs, "/vcov",
                   "clustering needs at least 2 clusters; '%s' has %zu "
                   "distinct value%s over the %zu rows used",
                   c->cluster_var, c->n_clusters, c->n_clusters == 1 ? "" : "s",
                   m);
    return api_mctx_errors(c, "Too few clusters");
  }
  return true;
}

static bool fit(model_ctx *c) {
  if (c->est == API_EST_FE || c->est == API_EST_RE || c->est == API_EST_PPML)
    return api_panel_fit(c);
  core_err err;
  core_err_clear(&err);
  core_status st = core_design_build(c->formula, c->data.panel, CORE_DESIGN_FIT,
                                     &c->fit, &err);
  if (st != CORE_OK) return api_mctx_design_error(c, st, &err);
  if (c->est == API_EST_SFA) return api_sfa_fit(c);
  if (!make_clusters(c)) return false;
  core_design *d = c->fit;
  if (c->n_fit == 0) {
    c->code = API_E_SINGULAR;
    api_errors_add(&c->errs, "/vcov",
                   "no row has a value of the cluster variable '%s'",
                   c->cluster_var);
    return api_mctx_errors(c, "No row can be used");
  }
  gsl_matrix_const_view X =
      gsl_matrix_const_submatrix(d->X, 0, 0, c->n_fit, d->p);
  gsl_vector_const_view y = gsl_vector_const_subvector(d->y, 0, c->n_fit);
  core_vcov_spec vs = {
      .kind = c->vcov_kind, .cluster = c->cluster, .n_clusters = c->n_clusters};
  core_err_clear(&err);
  st = core_ols_fit(&X.matrix, &y.vector, d->has_intercept, &vs, c->confidence,
                    &c->ols, &err);
  if (st == CORE_OK) {
    const core_ols_result *r = c->ols;
    c->tab = API_COEF_TABLE(r, t, d->p, d->col_label, d->col_kind);
    return true;
  }
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL) return api_mctx_internal(c, "The fit failed.");
  /* HC2 and HC3 fail on a row of leverage 1: the variance asked for is
   * at fault, not the formula. */
  bool hc = st == CORE_ESINGULAR &&
            (c->vcov_kind == CORE_VCOV_HC2 || c->vcov_kind == CORE_VCOV_HC3) &&
            err.n_rows > 0;
  api_errors_add(&c->errs, hc ? "/vcov" : "/formula",
                 "%s (n = %zu rows, k = %zu columns in the design)", err.msg,
                 c->n_fit, d->p);
  return api_mctx_errors(c, "The model cannot be estimated on these data");
}

static bool potentials(model_ctx *c) {
  if (c->est == API_EST_FE || c->est == API_EST_RE || c->est == API_EST_PPML)
    return api_panel_potentials(c);
  core_err err;
  core_err_clear(&err);
  core_status st = core_design_build(c->formula, c->data.panel,
                                     CORE_DESIGN_PREDICT, &c->pred, &err);
  if (st != CORE_OK) return api_mctx_design_error(c, st, &err);
  if (c->est == API_EST_SFA) return api_sfa_potentials(c);
  if (!api_mctx_pred_alloc(c)) return false;
  const core_design *d = c->pred;
  for (size_t i = 0; i < d->n; i++) {
    double s = 0;
    for (size_t j = 0; j < d->p; j++)
      if (!c->tab.dropped[j]) s += gsl_matrix_get(d->X, i, j) * c->tab.est[j];
    c->xb[i] = s;
  }
  /* The retransformation factor only exists for a response in logs; a
   * response in levels is predicted by x b itself (factor 1). */
  double factor = core_formula_response_kind(c->formula) == CORE_TERM_LEVEL
                      ? 1.0
                      : core_smearing_factor(c->pot.smearing, c->ols->resid,
                                             c->ols->n, c->ols->sigma2);
  c->factor = factor;
  core_err_clear(&err);
  st = core_potential(&c->pot, core_formula_response_kind(c->formula), factor,
                      c->xb, c->actual, d->n, c->pot_rows, &c->warnings, &err);
  if (st == CORE_OK) return true;
  c->code = api_core_code(st, false);
  if (c->code == API_E_INTERNAL)
    return api_mctx_internal(c, "The potentials failed.");
  api_errors_add(&c->errs, "/potential/thresholds", "%s", err.msg);
  return api_mctx_errors(c, "The potential cannot be computed");
}

/* ---- step 4: the answer ---------------------------------------------------
 */

static json_t *coefficients(model_ctx *c, api_out *o, json_t *collinear) {
  const api_coef_table *r = &c->tab;
  json_t *arr = json_array();
  core_term_kind resp = core_formula_response_kind(c->formula);
  for (size_t j = 0; j < r->p; j++) {
    const char *term = r->label[j];
    if (r->dropped[j]) {
      api_out_push(o, collinear, json_string(term));
      api_out_warn(o,
                   "The term %s was dropped: it is a linear combination of "
                   "earlier terms.",
                   term);
      continue;
    }
    char what[CORE_NAME_MAX + 64];
    json_t *co = json_object();
    api_out_set(o, co, "term", json_string(term));
#define NUM(key, x)                                                            \
  (snprintf(what, sizeof what, "coefficients[%s].%s", term, key),              \
   api_out_set(o, co, key, api_out_num(o, x, what)))
    NUM("estimate", r->est[j]);
    NUM("std_error", r->se[j]);
    NUM("statistic", r->stat[j]);
    NUM("p_value", r->p_value[j]);
    NUM("ci_low", r->ci_low[j]);
    NUM("ci_high", r->ci_high[j]);
    double value = NAN;
    core_effect_kind ek = core_effect(resp, r->kind[j], r->est[j], &value);
    if (ek == CORE_EFFECT_NONE) {
      api_out_set(o, co, "effect", json_null());
    } else {
      json_t *e = json_object();
      api_out_set(o, e, "kind",
                  json_string(ek == CORE_EFFECT_ELASTICITY
                                  ? "elasticity"
                                  : "semi_elasticity"));
      snprintf(what, sizeof what, "coefficients[%s].effect.value", term);
      api_out_set(o, e, "value", api_out_num(o, value, what));
      api_out_set(o, co, "effect", e);
    }
#undef NUM
    api_out_push(o, arr, co);
  }
  return arr;
}

static json_t *fit_json(model_ctx *c, api_out *o) {
  const core_ols_result *r = c->ols;
  json_t *f = json_object();
  api_out_set(o, f, "n", json_integer((json_int_t)r->n));
  api_out_set(o, f, "k", json_integer((json_int_t)r->k));
  api_out_set(o, f, "df_resid", json_integer((json_int_t)(r->n - r->k)));
  api_out_set(o, f, "r2", api_out_num(o, r->r2, "fit.r2"));
  api_out_set(o, f, "adj_r2", api_out_num(o, r->adj_r2, "fit.adj_r2"));
  api_out_set(o, f, "rmse", api_out_num(o, r->rmse, "fit.rmse"));
  /* F is undefined without a slope to test: null, and said so. */
  api_out_set(o, f, "f", api_out_num(o, r->f, "fit.f"));
  api_out_set(o, f, "f_p_value", api_out_num(o, r->f_p_value, "fit.f_p_value"));
  api_out_set(o, f, "log_likelihood",
              api_out_num(o, r->loglik, "fit.log_likelihood"));
  api_out_set(o, f, "aic", api_out_num(o, r->aic, "fit.aic"));
  api_out_set(o, f, "bic", api_out_num(o, r->bic, "fit.bic"));
  return f;
}

static json_t *interpolated_json(model_ctx *c, api_out *o) {
  const core_panel *p = c->data.panel;
  json_t *arr = json_array();
  for (size_t i = 0; i < c->filled.n; i++) {
    const core_fill *f = &c->filled.items[i];
    char entity[2 * API_KEY_MAX + 2];
    core_panel_entity(p, f->row, entity, sizeof entity);
    json_t *e = json_object();
    api_out_set(o, e, "entity", json_string(entity));
    api_out_set(o, e, "variable",
                json_string(f->col < p->ncol ? p->names[f->col] : ""));
    api_out_set(o, e, "year", json_integer(f->year));
    api_out_set(o, e, "value", api_out_num(o, f->value, "interpolated.value"));
    api_out_set(
        o, e, "kind",
        json_string(f->kind == CORE_FILL_CARRIED ? "carried" : "interpolated"));
    api_out_push(o, arr, e);
  }
  return arr;
}

/* The "potentials" array of the answer as JSON text, written directly (the
 * bytes json_dumps would make from one object per row; api_text.h). */
static void potentials_text(model_ctx *c, api_out *o, api_text *t) {
  const core_panel *p = c->data.panel;
  const core_design *d = c->pred;
  size_t bad_pred = 0;
  api_text_put(t, "[", 1);
  for (size_t i = 0; i < d->n; i++) {
    const core_pot_row *pr = &c->pot_rows[i];
    size_t r = d->row[i];
    api_text_raw(t, i ? ",{\"reporter\":" : "{\"reporter\":");
    api_text_string(t, p->reporter ? p->reporter[r] : NULL);
    api_text_raw(t, ",\"partner\":");
    api_text_string(t, p->partner ? p->partner[r] : NULL);
    api_text_raw(t, ",\"year\":");
    if (p->year)
      api_text_int(t, p->year[r]);
    else
      api_text_raw(t, "null");
    api_text_raw(t, ",\"row\":");
    api_text_int(t, (long long)r);
    /* Unobserved outcomes are null by definition; only a prediction that is
     * not finite deserves a warning (counted once below). */
    api_text_raw(t, ",\"actual\":");
    api_text_real(t, pr->actual);
    if (!isfinite(pr->predicted)) bad_pred++;
    api_text_raw(t, ",\"predicted\":");
    api_text_real(t, pr->predicted);
    api_text_raw(t, ",\"k\":");
    api_text_real(t, pr->k);
    api_text_raw(t, ",\"class\":");
    api_text_string(t, core_pot_class_name(pr->cls));
    api_text_raw(t, ",\"gap\":");
    api_text_real(t, pr->gap);
    api_text_put(t, "}", 1);
  }
  api_text_put(t, "]", 1);
  if (bad_pred > 0)
    api_out_warn(o,
                 "%zu prediction%s overflowed or are undefined and are "
                 "written as null, with their K and gap.",
                 bad_pred, bad_pred == 1 ? "" : "s");
}

static const char *method_name(core_pot_method m) {
  return m == CORE_POT_LOG        ? "log"
         : m == CORE_POT_FRONTIER ? "frontier"
                                  : "level";
}

/* The estimator options that enter the model id, "" when none. */
static void options_text(const model_ctx *c, char *buf, size_t bufsz) {
  /* Sized for the longest: an individual of two names and the test. */
  buf[0] = '\0';
  if (c->est == API_EST_SFA)
    snprintf(buf, bufsz, "inefficiency=%s;time=%s",
             c->sfa_truncated ? "truncated_normal" : "half_normal",
             c->sfa_time ? c->sfa_time : "none");
  else if (c->est == API_EST_RE)
    snprintf(buf, bufsz, "individual=%s%s", c->re_individual,
             c->want_hausman ? ";diagnostics=hausman" : "");
  else if (c->want_hausman)
    snprintf(buf, bufsz, "diagnostics=hausman");
  else if (c->by)
    snprintf(buf, bufsz, "by=%.64s", c->by);
}

static const char *smearing_name(core_smearing s) {
  return s == CORE_SMEAR_NORMAL ? "normal"
         : s == CORE_SMEAR_NONE ? "none"
                                : "duan";
}

/* The potential specification as answered, with the retransformation
 * factor that predictions of this model use. */
static json_t *potential_spec_json(model_ctx *c, api_out *o) {
  json_t *p = json_object();
  api_out_set(o, p, "method", json_string(method_name(c->pot.method)));
  api_out_set(o, p, "smearing", json_string(smearing_name(c->pot.smearing)));
  json_t *th = json_array();
  api_out_push(o, th, json_real(c->pot.lo));
  api_out_push(o, th, json_real(c->pot.hi));
  api_out_set(o, p, "thresholds", th);
  api_out_set(o, p, "factor", api_out_num(o, c->factor, "potential.factor"));
  return p;
}

/* The specification that identifies the model besides its data (the
 * canonical fields of api_model_spec), as stored beside the answer. */
static json_t *spec_json(model_ctx *c) {
  char options[320];
  options_text(c, options, sizeof options);
  return json_pack(
      "{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:[f, f]}, s:s, s:f}", "formula",
      core_formula_text(c->formula), "estimator", estimator_names[c->est],
      "options", options, "vcov", c->vcov_text, "potential", "method",
      method_name(c->pot.method), "smearing", smearing_name(c->pot.smearing),
      "thresholds", c->pot.lo, c->pot.hi, "interpolate",
      interp_names[c->interp], "confidence", c->confidence);
}

static void location_headers(api_response *res, const char *id) {
  char buf[API_MODEL_ID_LEN + 16];
  snprintf(buf, sizeof buf, "/v1/models/%s", id);
  api_response_header(res, "Location", buf);
  snprintf(buf, sizeof buf, "\"%s\"", id);
  api_response_header(res, "ETag", buf);
}

/* Answers a model that is already stored (200, its stored answer). Returns
 * true when it was found and answered. */
static bool answer_stored(model_ctx *c) {
  if (c->svc == NULL) return false;
  const api_model_view *v = NULL;
  void *handle = NULL;
  if (c->svc->model_acquire(c->svc->ctx, c->model_id, &v, &handle) !=
      API_SVC_OK)
    return false;
  api_response_raw(c->res, 200, "application/json", v->body, v->body_len);
  location_headers(c->res, c->model_id);
  c->svc->model_release(c->svc->ctx, handle);
  return true;
}

/* Stores the answer text (taken) and writes the response: 201 when this
 * request stored it, 200 when an identical model was stored meanwhile. */
static bool store_and_answer(model_ctx *c, char *text, size_t text_len) {
  int status = 201;
  api_timing_mark(&c->timing, "encode");
  if (c->svc != NULL) {
    json_t *spec = spec_json(c);
    char *spec_text = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS |
                                                  JSON_REAL_PRECISION(17))
                           : NULL;
    json_decref(spec);
    bool created = false;
    api_svc_status st =
        spec_text ? c->svc->model_put(c->svc->ctx, c->model_id, c->dataset_id,
                                      spec_text, text, &created)
                  : API_SVC_ERROR;
    free(spec_text);
    api_timing_mark(&c->timing, "store");
    if (st != API_SVC_OK) {
      free(text);
      if (st == API_SVC_BUSY) {
        api_errors_clear(&c->errs);
        api_errors_add(&c->errs, "", "the store is busy");
        api_problem(c->res, API_E_BUSY, &c->errs,
                    "The model was fitted but the store is busy; retry.");
        api_response_header(c->res, "Retry-After", "1");
        return false;
      }
      return api_mctx_internal(c, "The model could not be stored.");
    }
    if (!created) status = 200;
  }
  api_response_take(c->res, status, "application/json", text, text_len);
  location_headers(c->res, c->model_id);
  return true;
}

/* The answer's text: head (the members before "potentials"), the
 * potentials text and tail (the members after it) joined into one object,
 * in that order. NULL when out of memory. */
/* The tail of the answer: the annotations of the request and the warnings
 * (the rows' among them). Finishes o. */
static json_t *answer_tail(model_ctx *c, api_out *o) {
  json_t *tail = json_object();
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)c->annotations, key, value) {
    if (strcmp(key, "warnings") == 0) {
      size_t i;
      json_t *w;
      json_array_foreach(value, i, w)
          api_out_warn(o, "%s", json_string_value(w));
    } else {
      api_out_set(o, tail, key, json_incref(value));
    }
  }
  bool ok = api_out_finish(o, tail) && tail != NULL;
  if (!ok) {
    json_decref(tail);
    return NULL;
  }
  return tail;
}

/* The answer text: head (every member but the potentials and the tail),
 * "potentials" written row by row straight into the same buffer (no Jansson
 * tree, no second copy), then the tail. Finishes o. */
static char *write_answer(model_ctx *c, api_out *o, const json_t *head,
                          size_t *len) {
  const size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(17);
  char *h = json_dumps(head, flags);
  api_text out = {0};
  if (h != NULL) {
    size_t hl = strlen(h);
    /* About 200 bytes a row (country codes, year, row, four reals, class). */
    api_text_reserve(&out, hl + 256 + 200 * c->pred->n);
    /* "{...}" + "," + "\"potentials\":[...]" + "," + "...}" */
    api_text_put(&out, h, hl - 1);
    if (hl > 2) api_text_put(&out, ",", 1);
    free(h);
    api_text_raw(&out, "\"potentials\":");
    potentials_text(c, o, &out);
  } else {
    out.failed = true;
  }
  json_t *tail = answer_tail(c, o);
  char *t = tail != NULL ? json_dumps(tail, flags) : NULL;
  json_decref(tail);
  if (t != NULL) {
    size_t tl = strlen(t);
    if (tl > 2) api_text_put(&out, ",", 1);
    api_text_put(&out, t + 1, tl - 1);
    free(t);
  } else {
    out.failed = true;
  }
  if (out.failed) {
    api_text_free(&out);
    return NULL;
  }
  *len = out.len;
  return out.s;
}

static bool answer(model_ctx *c) {
  api_out o;
  if (!api_out_init(&o)) return api_mctx_internal(c, "Out of memory.");
  for (size_t i = 0; i < c->warnings.n; i++)
    api_out_warn(&o, "%s", c->warnings.msgs[i]);
  json_t *body = json_object();
  json_t *collinear = json_array();
  api_out_set(&o, body, "id", json_string(c->model_id));
  api_out_set(&o, body, "dataset_id", json_string(c->dataset_id));
  api_out_set(&o, body, "estimator", json_string(estimator_names[c->est]));
  api_out_set(&o, body, "vcov", json_string(c->vcov_text));
  api_out_set(&o, body, "formula", json_string(core_formula_text(c->formula)));
  api_out_set(&o, body, "coefficients", coefficients(c, &o, collinear));
  json_t *dropped = json_object();
  api_out_set(&o, dropped, "collinear", collinear);
  api_out_set(
      &o, dropped, "missing_rows",
      json_integer((json_int_t)(c->fit->n_missing + c->cluster_missing)));
  api_out_set(&o, body, "dropped", dropped);
  /* After "dropped": the panel estimators add their counts to it. */
  if (c->est == API_EST_SFA)
    api_sfa_answer(c, &o, body);
  else if (c->est == API_EST_OLS) {
    api_out_set(&o, body, "fit", fit_json(c, &o));
    json_t *ge = api_het_group_effects(c, &o);
    if (json_array_size(ge) > 0)
      api_out_set(&o, body, "group_effects", ge);
    else
      json_decref(ge);
    if (c->by_json) api_out_set(&o, body, "by_group", json_incref(c->by_json));
  } else
    api_panel_answer(c, &o, body);
  api_out_set(&o, body, "interpolated", interpolated_json(c, &o));
  api_out_set(&o, body, "potential", potential_spec_json(c, &o));
  size_t len = 0;
  char *text = write_answer(c, &o, body, &len);
  json_decref(body);
  if (text == NULL)
    return api_mctx_internal(c, "Out of memory writing the model.");
  return store_and_answer(c, text, len);
}

/* "by": the per-group fits, made before the answer is written. */
static bool by_groups(model_ctx *c) {
  if (c->by == NULL) return true;
  api_out o;
  if (!api_out_init(&o)) return api_mctx_internal(c, "Out of memory.");
  bool ok = api_het_by(c, &o, &c->by_json);
  for (size_t i = 0; ok && i < json_array_size(o.warnings); i++)
    core_warn(&c->warnings, "%s",
              json_string_value(json_array_get(o.warnings, i)));
  json_decref(o.warnings);
  return ok;
}

static bool make_ids(model_ctx *c) {
  char options[320];
  options_text(c, options, sizeof options);
  api_model_spec spec = {.formula = core_formula_text(c->formula),
                         .estimator = estimator_names[c->est],
                         .options = options,
                         .vcov = c->vcov_text,
                         .potential = c->pot,
                         .interpolate = interp_names[c->interp],
                         .confidence = c->confidence};
  if (!api_canon_model_id(c->dataset_id, &spec, c->model_id))
    return api_mctx_internal(c, "The model id could not be computed.");
  return true;
}

void api_models_post_annotated(const api_request *req, api_response *res,
                               const json_t *annotations) {
  model_ctx c = {.req = req,
                 .res = res,
                 .code = API_E_NOT_SUPPORTED,
                 .svc = req->env ? req->env->service : NULL,
                 .annotations = annotations};
  snprintf(c.vcov_text, sizeof c.vcov_text, "classical");
  c.vcov_kind = CORE_VCOV_CLASSICAL;
  core_pot_spec_default(&c.pot);
  c.interp = CORE_INTERP_NONE;
  c.confidence = 0.95;

  api_timing_start(&c.timing);
  c.root = api_json_parse_body_lifted(req, req->env ? &req->env->limits : NULL,
                                      res, &c.lifted);
  if (c.root == NULL) goto cleanup;
  /* Every fault of the fields and of the data is collected before
   * answering, so that a client can fix them all at once. */
  read_fields(&c);
  if (!read_data(&c)) goto cleanup;
  if (api_errors_count(&c.errs) > 0) {
    api_mctx_errors(&c, "The request cannot be used");
    goto cleanup;
  }
  /* Each step either succeeds or has written the problem. The dataset id is
   * taken from the data as sent, before any interpolation. */
  api_timing_mark(&c.timing, "parse");
  if (dataset_id(&c) && api_timing_mark(&c.timing, "id") && read_formula(&c) &&
      api_panel_prepare(&c) && make_ids(&c) &&
      api_timing_mark(&c.timing, "prep") && !answer_stored(&c) &&
      interpolate(&c) && fit(&c) && potentials(&c) && by_groups(&c) &&
      api_timing_mark(&c.timing, "fit"))
    answer(&c);
  api_timing_header(&c.timing, c.res);
cleanup:
  free_ctx(&c);
}

void api_post_models(const api_request *req, api_response *res) {
  api_models_post_annotated(req, res, NULL);
}

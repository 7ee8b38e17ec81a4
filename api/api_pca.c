/* POST /v1/pca: principal components of the listed variables, the composite
 * index, KMO and Bartlett's sphericity test (METHODS.md section 6). */
#include "api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_core.h"
#include "api_data.h"
#include "api_json.h"
#include "api_out.h"
#include "core_pca.h"

static const char *const method_names[] = {"first", "kaiser", NULL};
static const char *const scale_names[] = {"none", "unit", "percent", NULL};

static const char sign_convention[] =
    "each component is oriented so that the sum of its loadings is positive";

/* Everything one request holds, released in one place. */
typedef struct pca_ctx {
  json_t *root;
  api_lifted lifted; /* numeric columns of the body (api_lift.h) */
  api_errors errs;
  api_data data;
  const double **cols;
  const char **names;
  size_t p;
  size_t n_limit; /* errors that are limits exceeded: answered as
                     limit-exceeded when they are all there is */
  core_index_method method;
  core_index_scale scale;
  core_pca_result *r;
} pca_ctx;

static void free_ctx(pca_ctx *c) {
  json_decref(c->root);
  api_lifted_free(&c->lifted);
  api_errors_clear(&c->errs);
  api_data_free(&c->data);
  free(c->cols);
  free(c->names);
  core_pca_result_free(c->r);
}

/* Validates the variables list; records its names (borrowed). */
static void read_variables(pca_ctx *c, const json_t *vars,
                           const api_limits *lim) {
  size_t n = json_array_size(vars);
  char ptr[API_POINTER_MAX];
  if (n < 2) {
    api_errors_add(&c->errs, "/variables",
                   "must list at least 2 variables (it lists %zu)", n);
    return;
  }
  /* The duplicate check below is quadratic: bound n first. */
  if (n > lim->max_columns) {
    api_errors_add(&c->errs, "/variables",
                   "lists %zu variables; the limit is %zu", n,
                   lim->max_columns);
    c->n_limit++;
    return;
  }
  c->names = calloc(n, sizeof *c->names);
  if (c->names == NULL) return;
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(vars, i);
    api_pointer_index(ptr, sizeof ptr, "/variables", i);
    const char *s = json_string_value(v);
    if (s == NULL) {
      api_errors_add(&c->errs, ptr, "must be a string");
      continue;
    }
    bool dup = false;
    for (size_t k = 0; k < i && !dup; k++)
      dup = c->names[k] && strcmp(c->names[k], s) == 0;
    if (dup) {
      api_errors_add(&c->errs, ptr, "'%s' is listed twice", s);
      continue;
    }
    c->names[i] = s;
  }
  c->p = n;
}

/* Resolves the names against the decoded data. */
static void resolve(pca_ctx *c) {
  char avail[1024], ptr[API_POINTER_MAX];
  api_data_variables(&c->data, avail, sizeof avail);
  c->cols = calloc(c->p, sizeof *c->cols);
  if (c->cols == NULL) return;
  for (size_t i = 0; i < c->p; i++) {
    c->cols[i] = core_panel_column(c->data.panel, c->names[i]);
    if (c->cols[i] != NULL) continue;
    api_pointer_index(ptr, sizeof ptr, "/variables", i);
    if (api_data_has_variable(&c->data, c->names[i]))
      api_errors_add(&c->errs, ptr, "'%s' is a text key, not a number",
                     c->names[i]);
    else
      api_errors_add(&c->errs, ptr, "unknown variable '%s'; the data has: %s",
                     c->names[i], avail);
  }
}

/* A fault of the server: 500 with one error pointing at the document. */
static void internal(api_response *res, const char *what) {
  api_errors errs = {0};
  api_errors_add(&errs, "", "%s", what);
  api_problem(res, API_E_INTERNAL, &errs, "%s", what);
}

static bool pca_error(pca_ctx *c, api_response *res, core_status st,
                      const core_err *err) {
  char ptr[API_POINTER_MAX];
  api_error_code code = api_core_code(st, false);
  if (code == API_E_INTERNAL) {
    internal(res, err->msg[0] ? err->msg : "The analysis failed.");
    return false;
  }
  /* Too few rows is a fault of the data; anything else (a constant
   * column) of the variables, of the one named when the core names it. */
  const char *where = "/variables";
  for (size_t i = 0; i < c->p; i++)
    if (err->name[0] && strcmp(err->name, c->names[i]) == 0)
      where = api_pointer_index(ptr, sizeof ptr, "/variables", i);
  if (st == CORE_ETOOFEW) where = api_data_pointer(&c->data, ptr, sizeof ptr);
  api_errors_add(&c->errs, where, "%s", err->msg);
  api_problem(res, code, &c->errs, "The analysis cannot be done: %s", err->msg);
  return false;
}

static json_t *numbers(api_out *o, const double *x, size_t n, size_t stride,
                       const char *what) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    api_out_push(o, arr, api_out_num(o, x[i * stride], what));
  return arr;
}

static void answer(pca_ctx *c, api_response *res) {
  const core_pca_result *r = c->r;
  size_t p = r->p;
  api_out o;
  if (!api_out_init(&o)) {
    internal(res, "Out of memory.");
    return;
  }
  for (size_t i = 0; i < r->warnings.n; i++)
    api_out_warn(&o, "%s", r->warnings.msgs[i]);
  json_t *body = json_object();
  api_out_set(&o, body, "n", json_integer((json_int_t)r->n));
  api_out_set(&o, body, "n_dropped",
              json_integer((json_int_t)(r->n_rows - r->n)));
  json_t *vars = json_array();
  for (size_t i = 0; i < p; i++)
    api_out_push(&o, vars, json_string(c->names[i]));
  api_out_set(&o, body, "variables", vars);
  api_out_set(&o, body, "eigenvalues",
              numbers(&o, r->eigenvalues, p, 1, "an eigenvalue"));
  api_out_set(&o, body, "proportion",
              numbers(&o, r->proportion, p, 1, "a proportion of variance"));
  api_out_set(&o, body, "cumulative",
              numbers(&o, r->cumulative, p, 1, "a cumulative proportion"));
  /* Row i is variable i, column j is component j (openapi.yaml). */
  json_t *vec = json_array(), *load = json_array();
  for (size_t i = 0; i < p; i++) {
    api_out_push(&o, vec,
                 numbers(&o, r->eigenvectors + i * p, p, 1, "an eigenvector"));
    api_out_push(&o, load, numbers(&o, r->loadings + i * p, p, 1, "a loading"));
  }
  api_out_set(&o, body, "eigenvectors", vec);
  api_out_set(&o, body, "loadings", load);
  json_t *index = json_array();
  size_t bad_index = 0;
  for (size_t i = 0; i < r->n_rows; i++) {
    if (r->used[i] && !isfinite(r->index[i])) bad_index++;
    api_out_push(&o, index,
                 r->used[i] ? api_out_num(&o, r->index[i], NULL) : json_null());
  }
  if (bad_index > 0)
    api_out_warn(&o,
                 "%zu index value%s are not finite and are written as "
                 "null.",
                 bad_index, bad_index == 1 ? "" : "s");
  api_out_set(&o, body, "index", index);
  api_out_set(&o, body, "n_components_kept",
              json_integer((json_int_t)r->n_kept));
  json_t *kmo = json_object(), *per = json_object();
  api_out_set(&o, kmo, "overall",
              api_out_num(&o, r->kmo_overall, "kmo.overall"));
  for (size_t i = 0; i < p; i++)
    api_out_set(&o, per, c->names[i],
                api_out_num(&o, r->kmo_per_variable[i], NULL));
  api_out_set(&o, kmo, "per_variable", per);
  api_out_set(&o, body, "kmo", kmo);
  json_t *bart = json_object();
  api_out_set(&o, bart, "statistic",
              api_out_num(&o, r->bartlett_statistic, "bartlett.statistic"));
  api_out_set(&o, bart, "df", api_out_num(&o, r->bartlett_df, "bartlett.df"));
  api_out_set(&o, bart, "p_value",
              api_out_num(&o, r->bartlett_p_value, "bartlett.p_value"));
  api_out_set(&o, body, "bartlett", bart);
  api_out_set(&o, body, "sign_convention", json_string(sign_convention));
  if (!api_out_finish(&o, body)) {
    json_decref(body);
    internal(res, "Out of memory writing the answer.");
    return;
  }
  api_response_json(res, 200, body);
}

void api_post_pca(const api_request *req, api_response *res) {
  pca_ctx c = {0};
  api_limits def;
  api_limits_default(&def);
  const api_limits *lim = req->env ? &req->env->limits : &def;
  c.root = api_json_parse_body_lifted(req, lim, res, &c.lifted);
  if (c.root == NULL) goto cleanup;

  const json_t *data = NULL, *vars = NULL, *index = NULL;
  const api_field fields[] = {
      {.name = "data", .type = API_F_OBJECT, .required = true, .out = &data},
      {.name = "variables",
       .type = API_F_ARRAY,
       .required = true,
       .out = &vars},
      {.name = "index", .type = API_F_OBJECT, .out = &index},
  };
  api_json_fields(c.root, "", fields, 3, &c.errs);
  if (vars) read_variables(&c, vars, lim);
  if (index) {
    const json_t *method = NULL, *scale = NULL;
    const api_field ifields[] = {
        {.name = "method",
         .type = API_F_STRING,
         .allowed = method_names,
         .out = &method},
        {.name = "scale",
         .type = API_F_STRING,
         .allowed = scale_names,
         .out = &scale},
    };
    api_json_fields(index, "/index", ifields, 2, &c.errs);
    if (method && strcmp(json_string_value(method), "kaiser") == 0)
      c.method = CORE_INDEX_KAISER;
    if (scale)
      c.scale = strcmp(json_string_value(scale), "unit") == 0 ? CORE_SCALE_UNIT
                : strcmp(json_string_value(scale), "percent") == 0
                    ? CORE_SCALE_PERCENT
                    : CORE_SCALE_NONE;
  }
  if (data) {
    api_error_code code;
    size_t before = api_errors_count(&c.errs);
    if (!api_data_decode(data, "/data", lim, &c.lifted, &c.data, &code,
                         &c.errs)) {
      if (code == API_E_INTERNAL) {
        internal(res, "Out of memory.");
        goto cleanup;
      }
      if (code == API_E_LIMIT) c.n_limit += api_errors_count(&c.errs) - before;
    }
  }
  if (vars && c.p >= 2 && c.names == NULL) {
    internal(res, "Out of memory.");
    goto cleanup;
  }
  if (api_errors_count(&c.errs) > 0) {
    size_t n = api_errors_count(&c.errs);
    /* A limit is answered as such only when nothing else was wrong. */
    api_problem(res, n == c.n_limit ? API_E_LIMIT : API_E_INVALID, &c.errs,
                "The request cannot be used (%zu error%s)", n,
                n == 1 ? "" : "s");
    goto cleanup;
  }
  resolve(&c);
  if (c.cols == NULL) {
    internal(res, "Out of memory.");
    goto cleanup;
  }
  if (api_errors_count(&c.errs) > 0) {
    api_problem(res, API_E_INVALID, &c.errs,
                "The variables are not all numeric variables of the data.");
    goto cleanup;
  }
  core_err err;
  core_err_clear(&err);
  core_status st =
      core_pca(c.cols, c.data.panel->n, c.p, c.method, c.scale, &c.r, &err);
  if (st != CORE_OK) {
    pca_error(&c, res, st, &err);
    goto cleanup;
  }
  answer(&c, res);
cleanup:
  free_ctx(&c);
}

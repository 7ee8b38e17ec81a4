/* What the model handler's files share: the request context of POST
 * /v1/models and the helpers that answer from it. api_models.c owns the
 * request's life cycle (fields, data, formula, ids, storage, the answer);
 * each estimator other than OLS has its own file (api_models_sfa.c, ...)
 * that fills the common coefficient table and the potentials. Internal to
 * api/. */
#ifndef GRAVITAS_API_MODELS_INT_H
#define GRAVITAS_API_MODELS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api.h"
#include "api_canon.h"
#include "api_data.h"
#include "api_out.h"
#include "api_service.h"
#include "core_formula.h"
#include "core_interp.h"
#include "core_ols.h"
#include "core_potential.h"
#include "core_fe.h"
#include "core_hdfe.h"
#include "core_ppml.h"
#include "core_re.h"
#include "core_sfa.h"

typedef enum api_estimator {
  API_EST_OLS,
  API_EST_SFA,
  API_EST_FE, /* "fe", or "ols" with fixed effects after '|' */
  API_EST_RE,
  API_EST_PPML
} api_estimator;

/* The coefficient table every estimator fills, one entry per column of the
 * fit design (borrowed or owned arrays, see own_tab). */
typedef struct api_coef_table {
  size_t p;                   /* entries */
  const char *const *label;   /* p term labels */
  const core_term_kind *kind; /* p kinds (for the effects) */
  const bool *dropped;        /* collinear columns, left out of the answer */
  const double *est, *se, *stat, *p_value, *ci_low, *ci_high;
} api_coef_table;

/* The table of a core result r whose per-column arrays are named dropped,
 * beta, se, <stat>, p_value, ci_low and ci_high (OLS, FE, RE, PPML). */
#define API_COEF_TABLE(r, stat_, p_, label_, kind_)                            \
  ((api_coef_table){.p = (p_),                                                 \
                    .label = (const char *const *)(label_),                    \
                    .kind = (kind_),                                           \
                    .dropped = (r)->dropped,                                   \
                    .est = (r)->beta,                                          \
                    .se = (r)->se,                                             \
                    .stat = (r)->stat_,                                        \
                    .p_value = (r)->p_value,                                   \
                    .ci_low = (r)->ci_low,                                     \
                    .ci_high = (r)->ci_high})

/* Everything one request holds, released in one place (free_ctx). */
typedef struct model_ctx {
  const api_request *req;
  api_response *res;
  json_t *root;
  api_lifted lifted; /* numeric columns of the body (api_lift.h) */
  api_errors errs;
  api_error_code code; /* the problem to answer when errs is not empty */

  /* The validated specification. */
  const json_t *data_json;
  const char *formula_text;
  core_vcov_kind vcov_kind;
  char vcov_text[96];
  char cluster_var[CORE_NAME_MAX + 1];
  core_pot_spec pot;
  core_interp_mode interp;
  double confidence;

  api_data data;
  char dataset_id[API_DATASET_ID_LEN + 1];
  char model_id[API_MODEL_ID_LEN + 1];
  core_formula *formula;
  core_fill_list filled;
  core_design *fit;  /* estimation rows */
  core_design *pred; /* every row with all regressors */
  size_t n_fit;      /* rows of fit used (cluster rows may shrink it) */
  size_t cluster_missing;
  size_t *cluster;
  size_t n_clusters;
  api_estimator est;
  core_ols_result *ols;
  core_sfa_result *sfa;
  /* SFA options: u truncated normal (else half normal); panel over
   * (reporter, partner) pairs with "invariant" or "bc92" inefficiency. */
  bool sfa_truncated;
  const char *sfa_time; /* NULL (cross-section), "invariant", "bc92" */
  size_t *sfa_group;
  double *sfa_period;
  api_coef_table tab;
  bool vcov_given;                      /* the request named a variance */
  char cluster_var2[CORE_NAME_MAX + 1]; /* two-way: "cluster:a+b" */
  /* Panel estimators (api_models_panel.c). */
  size_t nf;                             /* factors absorbed */
  size_t *levels[CORE_HDFE_MAX_FACTORS]; /* per fit row */
  size_t n_levels[CORE_HDFE_MAX_FACTORS];
  size_t *panel_levels[CORE_HDFE_MAX_FACTORS]; /* per panel row */
  char re_individual[2 * CORE_NAME_MAX + 2];   /* RE's individual factor */
  bool want_hausman;
  bool has_hausman;
  core_hausman_result hausman;
  core_fe_result *fe;
  core_re_result *re;
  core_ppml_result *ppml;
  core_fe_result *fe_other; /* the other fit of a Hausman test */
  core_re_result *re_other;
  size_t *cluster2_ids; /* two-way: the second variable's ids */
  size_t n_clusters2;
  core_term_kind *kinds_owned; /* term kinds of a table built here */
  const char *by;              /* "by": fit per group of this variable (OLS) */
  json_t *by_json;             /* the per-group fits and the Wald test */
  double *owned[3]; /* arrays of tab allocated by an estimator's file */
  bool *owned_dropped;
  double *xb;
  double *actual;
  core_pot_row *pot_rows;
  double factor; /* retransformation factor of level predictions */
  core_warnings warnings;

  /* Storage (NULL without a service, as in handler tests). */
  const api_service *svc;
  const char *stored_dataset; /* dataset_id of the request, when given */
  json_t *stored_data;        /* the stored dataset's data object */
  api_lifted stored_lifted;   /* its numeric columns (api_lift.h) */
  const json_t *annotations;  /* members added to the answer (the default) */

  /* Server-Timing: parse (the body into fields and a panel), id (the
   * dataset's content hash), prep (formula, rows, model id; a cached answer
   * ends here), fit (interpolation, estimation, potentials), encode (the
   * answer's text), store (the durable write). */
  api_timing timing;
} model_ctx;

/* Raises the problem code to answer: an invalid field outranks a limit,
 * which outranks something not supported yet. */
void api_mctx_raise(model_ctx *c, api_error_code code);
/* Answers the collected errors. Always returns false (for `return`). */
bool api_mctx_errors(model_ctx *c, const char *detail);
/* Answers 500 with what as the detail. Always returns false. */
bool api_mctx_internal(model_ctx *c, const char *what);
/* Answers the problem of a failed core_design_build. Returns false. */
bool api_mctx_design_error(model_ctx *c, core_status st, const core_err *err);
/* Allocates xb, actual and pot_rows for the rows of c->pred and fills
 * actual from its outcome in levels. Returns false after answering 500 when
 * memory runs out. */
bool api_mctx_pred_alloc(model_ctx *c);

/* The panel estimators (api_models_panel.c): fixed effects, random
 * effects, PPML. prepare checks the formula and options against the
 * estimator after the formula is parsed (and before the model id is made);
 * fit and potentials build their own designs; answer adds their members.
 * Each returns false after answering a problem. */
bool api_panel_prepare(model_ctx *c);
bool api_panel_fit(model_ctx *c);
bool api_panel_potentials(model_ctx *c);
void api_panel_answer(model_ctx *c, api_out *o, json_t *body);
void api_panel_free(model_ctx *c);

/* Heterogeneity (api_models_het.c): the effects of x in the group g = 1
 * for every interaction x:g with a 0/1 variable g (an array, maybe
 * empty), and the per-group fits of "by" with the Wald test of equal
 * coefficients (*out; false after answering a problem). */
json_t *api_het_group_effects(model_ctx *c, api_out *o);
bool api_het_by(model_ctx *c, api_out *o, json_t **out);

/* The stochastic frontier (api_models_sfa.c): the fit on c->fit, then the
 * potentials of c->pred with K = efficiency; and its answer members. Each
 * returns false after answering a problem. */
bool api_sfa_fit(model_ctx *c);
bool api_sfa_potentials(model_ctx *c);
void api_sfa_answer(model_ctx *c, api_out *o, json_t *body);

#endif

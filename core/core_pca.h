/* Principal component analysis on the correlation matrix, the composite
 * index built from it (the paper's cbec), and the adequacy measures KMO and
 * Bartlett's sphericity test (METHODS.md section 6). */
#ifndef GRAVITAS_CORE_PCA_H
#define GRAVITAS_CORE_PCA_H

#include <stdbool.h>
#include <stddef.h>

#include "core_err.h"

typedef enum core_index_method {
  CORE_INDEX_FIRST, /* the first component's score */
  CORE_INDEX_KAISER /* components with eigenvalue > 1, weighted by their share
                       of the kept variance */
} core_index_method;

typedef enum core_index_scale {
  CORE_SCALE_NONE,
  CORE_SCALE_UNIT,   /* min-max to [0, 1] */
  CORE_SCALE_PERCENT /* min-max to [0, 100] */
} core_index_scale;

typedef struct core_pca_result {
  size_t n_rows;        /* rows given */
  size_t n;             /* complete rows used */
  size_t p;             /* variables */
  bool *used;           /* n_rows: true where the row was complete and used */
  double *mean, *sd;    /* p, sd with n - 1 */
  double *corr;         /* p x p row-major correlation matrix */
  double *eigenvalues;  /* p, descending */
  double *proportion;   /* p */
  double *cumulative;   /* p */
  double *eigenvectors; /* p x p row-major: element [i*p + j] is the weight
                           of variable i in component j; each component's
                           sign is chosen so the sum of its loadings is > 0 */
  double *loadings;     /* p x p, eigenvector * sqrt(eigenvalue) */
  double *scores;       /* n_rows x p row-major; NaN rows where !used */
  size_t n_kept;        /* components in the index (1 for FIRST) */
  double *index;        /* n_rows; NaN where !used */
  double kmo_overall;   /* NaN (with a warning) when R is singular */
  double *kmo_per_variable; /* p; NaN when R is singular */
  double bartlett_statistic, bartlett_df, bartlett_p_value; /* NaN likewise */
  core_warnings warnings; /* e.g. KMO < 0.5, singular R, constant column */
} core_pca_result;

/* PCA of p columns (each of n_rows doubles, NaN = missing; rows with any
 * missing value are left out). Errors: CORE_EINVAL (p < 2, a constant
 * column, an infinite value (err->rows[0]
 * is its row), a NULL cols or column, out NULL, an unknown method or
 * scale), CORE_ETOOFEW (fewer than 3 complete rows, or a column with no
 * observed value; with n <= p complete rows R is singular and KMO/Bartlett
 * are NaN with a warning), CORE_ENOMEM, CORE_EINTERNAL (eigen solver
 * failure). When one column is at fault err->name holds its 0-based index
 * in decimal ("2") and the message names it too. On success returns
 * CORE_OK and *out is owned by the caller (core_pca_result_free); on any
 * error *out is NULL.
 *
 * Details of the contract:
 * - sign: a component whose loadings sum to zero (within 1e-8 of the sum of
 *   their absolute values) is signed so that its largest entry is positive;
 * - KAISER keeps the components with eigenvalue > 1 + 1e-12 (so an identity
 *   R keeps none); with none it keeps the first and warns;
 * - R counts as singular when n <= p or its smallest eigenvalue is below
 *   1e-10 times the largest; KMO and Bartlett are then NaN with a warning;
 *   otherwise P = R^-1 and ln|R| come from a Cholesky factorisation;
 * - warnings: overall KMO < 0.5, per-variable KMO < 0.5 (positions counted
 *   from 1), KMO undefined (0/0: uncorrelated variables), singular R, a
 *   constant index that cannot be rescaled;
 * - loadings of eigenvalues that round to slightly below 0 are 0. */
core_status core_pca(const double *const *cols, size_t n_rows, size_t p,
                     core_index_method method, core_index_scale scale,
                     core_pca_result **out, core_err *err);
void core_pca_result_free(core_pca_result *r);

#endif

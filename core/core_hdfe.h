/* High-dimensional fixed effects: factors built from a panel, iterative
 * singleton dropping, the (weighted) within transformation over any number of
 * factors by alternating projections with Irons-Tuck acceleration, the
 * degrees of freedom the factors absorb, and the recovery of the fixed-effect
 * values from residuals (METHODS.md section 3). Used by the within OLS
 * (core_fe.h) and by PPML (weighted demeaning at each IRLS step).
 *
 * Conventions. A factor is an array of n level ids (size_t) in
 * 0..n_levels-1, aligned with the rows of the data; CORE_HDFE_NO_LEVEL marks
 * a row whose key is missing (or a row not used). A core_hdfe object holds
 * the factors over the kept rows only: m = core_hdfe_n_obs() rows, in the
 * original order, and every column it demeans has those m rows. Its
 * workspace is owned by the object, so one object must not be used by two
 * threads at once (allocate one per request); nothing is allocated inside
 * the iterations. */
#ifndef GRAVITAS_CORE_HDFE_H
#define GRAVITAS_CORE_HDFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core_err.h"
#include "core_panel.h"

/* Level id of a row that has no level (missing key, or excluded by `use`). */
#define CORE_HDFE_NO_LEVEL SIZE_MAX

/* Defaults of core_hdfe_opts (also used when opts is NULL). */
#define CORE_HDFE_DEFAULT_TOL 1e-8
#define CORE_HDFE_DEFAULT_MAX_ITER 10000
/* core_hdfe_demean solves its columns on two threads when it has at least
 * two columns and rows x columns reaches this (below, a thread costs more
 * than it saves). The result is the same bit for bit. */
#define CORE_HDFE_PARALLEL_MIN 200000

/* Most factors a model may have. */
#define CORE_HDFE_MAX_FACTORS 16

/* Builds the level ids of a factor from a panel. label is "reporter",
 * "partner", "year", the name of a numeric column (its distinct values are
 * the levels; compared exactly) or an interaction "a^b^..." of those (up to
 * CORE_HDFE_MAX_FACTORS parts). use (n = p->n entries, or NULL for all rows)
 * says which rows to consider. On success levels_out[i] (n entries, caller
 * allocated) is the level of row i, numbered 0, 1, ... in order of first
 * appearance among the used rows, or CORE_HDFE_NO_LEVEL for a row not used or
 * whose key (or any part of an interaction) is missing (NULL string, NaN);
 * *n_levels is the number of levels. Errors: CORE_EINVAL (NULL argument, an
 * empty or malformed label such as "a^^b"), CORE_EUNKNOWN_VAR (a part is
 * neither a key the panel has nor a numeric column; err->name set),
 * CORE_ENOMEM. */
core_status core_factor_from_panel(const core_panel *p, const char *label,
                                   const bool *use, size_t *levels_out,
                                   size_t *n_levels, core_err *err);

/* Iterative singleton dropping across all factors, as reghdfe and fixest do:
 * a row alone in its level of some factor is dropped, and this is repeated
 * until no factor has a level with exactly one kept row. keep (n entries) is
 * in/out: on input the rows that are candidates (false rows are ignored);
 * rows with CORE_HDFE_NO_LEVEL in any factor are set to false and not
 * counted as singletons. On output keep marks the rows kept and *n_dropped
 * (may be NULL) counts the singletons dropped. levels[f] has n entries, with
 * ids < n_levels[f]. Errors: CORE_EINVAL (NULL argument, nf = 0 or
 * > CORE_HDFE_MAX_FACTORS, an id out of range: err->rows), CORE_ENOMEM. */
core_status core_hdfe_drop_singletons(size_t n, size_t nf,
                                      const size_t *const *levels,
                                      const size_t *n_levels, bool *keep,
                                      size_t *n_dropped, core_err *err);

typedef struct core_hdfe core_hdfe; /* opaque */

/* Builds the factor structure over the rows i with keep[i] true (keep NULL:
 * all n rows); levels[f] (n entries, ids < n_levels[f]) are copied, and
 * levels without any kept row are removed (ids are renumbered internally;
 * the public functions below always speak in the caller's ids). Rows kept
 * must have a level in every factor. On success *out is owned by the caller
 * (core_hdfe_free). Errors: CORE_EINVAL (NULL argument, nf = 0 or
 * > CORE_HDFE_MAX_FACTORS, an id out of range or NO_LEVEL on a kept row:
 * err->rows), CORE_ETOOFEW (no kept row), CORE_ENOMEM. */
core_status core_hdfe_alloc(size_t n, size_t nf, const size_t *const *levels,
                            const size_t *n_levels, const bool *keep,
                            core_hdfe **out, core_err *err);
void core_hdfe_free(core_hdfe *h); /* NULL is a no-op */

size_t core_hdfe_n_obs(const core_hdfe *h);     /* m, the kept rows */
size_t core_hdfe_n_factors(const core_hdfe *h); /* nf */
/* The original row indices (0..n-1) of the m kept rows, in order (owned by
 * h). */
const size_t *core_hdfe_rows(const core_hdfe *h);
/* Levels of factor f that have at least one kept row. */
size_t core_hdfe_n_levels(const core_hdfe *h, size_t f);

typedef struct core_hdfe_opts {
  double tol;      /* convergence tolerance, > 0 (default 1e-8) */
  size_t max_iter; /* most accelerated iterations per column, >= 1 */
} core_hdfe_opts;

/* What one call did. */
typedef struct core_hdfe_info {
  size_t iterations; /* largest number of iterations over the columns */
  bool converged;    /* every column converged */
  double max_change; /* the last relative change of the worst column */
} core_hdfe_info;

/* The within transformation of k columns in place: each cols[j] (m values,
 * the kept rows in order) is replaced by its residual from the weighted
 * least-squares projection on the dummies of all factors, i.e.
 * x - D a with a = argmin sum_i w_i (x_i - (D a)_i)^2. w (m values, all
 * > 0 and finite) or NULL for unit weights.
 *
 * Algorithm: one factor is an exact one-pass demeaning (iterations = 1).
 * With more, the fixed-effect coefficients a are found by alternating
 * projections (block Gauss-Seidel over the factors) accelerated by
 * Irons-Tuck extrapolation every third sweep, as fixest; with exactly two
 * factors the sweep runs on the level cross-table (cost proportional to the
 * non-empty cells, not to m). A column has converged when the largest
 * change of any coefficient in a sweep is <= tol times the column scale
 * (the largest |x_i|; a zero column is done at once).
 *
 * Returns CORE_OK; CORE_ENOCONV when some column did not converge within
 * max_iter iterations (the columns then hold the last iterate and info says
 * so); CORE_EINVAL (NULL h or cols with k > 0, a NULL column, non-finite
 * data, a weight that is not finite and > 0: err->rows, bad opts). info may
 * be NULL. opts NULL means the defaults. */
core_status core_hdfe_demean(core_hdfe *h, double *const *cols, size_t k,
                             const double *w, const core_hdfe_opts *opts,
                             core_hdfe_info *info, core_err *err);

/* Recovers the fixed-effect values from r = y - X b (m values, kept rows in
 * order; not modified), with the same weights as the fit (or NULL):
 * fe[f][l] for each factor f and caller level id l < n_levels[f] given to
 * core_hdfe_alloc (levels without a kept row get NaN), so that
 * r_i = sum_f fe[f][level_f(i)] + e_i with e the within residual, i.e. the
 * fitted value in levels is x_i b + sum_f fe[f][level_f(i)].
 * Normalisation: the values are unique up to constants (one per factor
 * beyond the first, and one per extra connected component); for every
 * factor f >= 1 the values are shifted so that the level of f met first
 * (lowest caller id with a kept row) is 0, the shift going into factor 0.
 * With disconnected components only the sums over factors (the fitted
 * values) are identified. fe[f] are caller arrays of n_levels[f] doubles.
 * Errors as core_hdfe_demean (CORE_ENOCONV leaves the last iterate). */
core_status core_hdfe_recover_fe(core_hdfe *h, const double *r, const double *w,
                                 const core_hdfe_opts *opts, double *const *fe,
                                 core_hdfe_info *info, core_err *err);

/* True when every level of factor f (over the kept rows) sits within a
 * single cluster: cluster[i] is the cluster of kept row i (m entries). */
bool core_hdfe_nested_in(const core_hdfe *h, size_t f, const size_t *cluster);

/* Degrees of freedom absorbed by the factors (the rank of their dummies,
 * which include the constant):
 *   one factor: its levels;
 *   two factors: levels(A) + levels(B) - connected components of the
 *     bipartite graph of A and B levels (exact, by union-find);
 *   more: the fixest rule, an upper bound of the rank: the first two as
 *     above plus levels - 1 for each further factor (exact when the further
 *     factors add no redundancy of their own, e.g. no factor nested in
 *     another). *exact (may be NULL) says whether the count is exact.
 * nested (nf entries, or NULL for none) marks factors nested in the
 * cluster variable: following reghdfe they absorb no degrees of freedom
 * (their levels are already paid for by the cluster adjustment); the count
 * is then done over the other factors, and 1 is kept for the constant when
 * every factor is nested. Returns the count; 0 for a NULL h. */
size_t core_hdfe_df_absorbed(const core_hdfe *h, const bool *nested,
                             bool *exact);

/* Connected components of the bipartite graph of the first two factors
 * (1 when there is a single factor). */
size_t core_hdfe_components(const core_hdfe *h);

#endif

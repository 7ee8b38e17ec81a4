/* The panel: a column store of doubles (NaN = missing) with optional keys
 * reporter, partner (strings) and year (integer). Data without keys is a plain
 * cross-section. Every estimator in core/ reads its data from a panel. */
#ifndef GRAVITAS_CORE_PANEL_H
#define GRAVITAS_CORE_PANEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core_err.h"

#define CORE_NAME_MAX 64 /* longest variable name, bytes, excluding NUL */

typedef struct core_panel {
  size_t n;        /* number of rows */
  size_t ncol;     /* number of numeric columns */
  size_t cap;      /* allocated slots in names/cols */
  char **names;    /* ncol owned NUL-terminated names, unique */
  double **cols;   /* ncol owned arrays of n doubles; NaN = missing */
  char **reporter; /* NULL, or n owned strings (a NULL entry = missing key) */
  char **partner;  /* NULL, or n owned strings (a NULL entry = missing key) */
  int *year;       /* NULL, or n years */
  double *year_values; /* NULL, or year as doubles (filled by set_keys) */
} core_panel;

/* Allocates an empty panel of n rows (n may be 0). NULL on allocation failure.
 * The caller frees it with core_panel_free. */
core_panel *core_panel_alloc(size_t n);

/* Frees the panel and everything it owns. NULL is a no-op. */
void core_panel_free(core_panel *p);

/* Valid variable name: 1..CORE_NAME_MAX bytes of [A-Za-z0-9_.], not starting
 * with a digit, and not one of the reserved key names "reporter", "partner",
 * "year". Returns true when valid. */
bool core_panel_valid_name(const char *name);

/* Adds a numeric column, copying n = p->n values from `values` (which may be
 * NULL: the column starts all-missing). Non-finite values (inf) are stored as
 * NaN. Errors: CORE_EINVAL for an invalid or duplicate name, CORE_ENOMEM.
 * On success *index_out (if not NULL) is the new column's index. */
core_status core_panel_add_column(core_panel *p, const char *name,
                                  const double *values, size_t *index_out,
                                  core_err *err);

/* Index of the column called name, or -1. Looks at numeric columns only,
 * except that "year" resolves to a numeric view of the year key when the
 * panel has one (see core_panel_column): its index is then the virtual
 * (long)p->ncol, one past the real columns, so callers that index p->cols
 * must check index < p->ncol. -1 also for a NULL panel or name. */
long core_panel_find(const core_panel *p, const char *name);

/* Read-only values of the column called name (length p->n), or NULL when it
 * does not exist. "year" returns the year key as doubles when p->year is set
 * and no numeric column of that name exists (p->year_values). */
const double *core_panel_column(const core_panel *p, const char *name);

/* Sets the key arrays, copying them. Any of the three may be NULL (that key is
 * absent). Strings must be non-empty (NULL entries mean missing). Returns
 * CORE_OK, CORE_EINVAL (empty string: err->name is the key, err->rows[0] the
 * row; or a NULL panel) or CORE_ENOMEM. Replaces earlier keys, all three at
 * once; on failure the earlier keys stay as they were. */
core_status core_panel_set_keys(core_panel *p, const char *const *reporter,
                                const char *const *partner, const int *year,
                                core_err *err);

/* True when the panel has a year key and at least one of reporter/partner,
 * i.e. rows can be grouped into entity series over time. */
bool core_panel_is_longitudinal(const core_panel *p);

/* Writes into buf (size bufsz) the entity label of row i: "CHN-KAZ" for a
 * reporter-partner pair, just one code when only one key is present, "" when
 * the panel has neither (or i >= n). A missing (NULL) key prints as "NA".
 * The label is truncated to fit; bufsz 0 writes nothing. Returns buf. */
const char *core_panel_entity(const core_panel *p, size_t i, char *buf,
                              size_t bufsz);

/* Number of missing (NaN) cells in column j; 0 when j >= p->ncol (the year
 * view is never missing). */
size_t core_panel_missing(const core_panel *p, size_t j);

#endif

/* Filling gaps in panel series (METHODS.md section 10): linear interpolation
 * of interior gaps within each entity's series of a variable, optional
 * carrying of the nearest observed value beyond the ends, and a list of every
 * filled cell. */
#ifndef GRAVITAS_CORE_INTERP_H
#define GRAVITAS_CORE_INTERP_H

#include <stddef.h>

#include "core_err.h"
#include "core_panel.h"

typedef enum core_interp_mode {
  CORE_INTERP_NONE,    /* fill nothing */
  CORE_INTERP_LINEAR,  /* interior gaps only, linear in the year */
  CORE_INTERP_NEAREST  /* interior gaps linearly, leading and trailing gaps
                          carried from the nearest observed year */
} core_interp_mode;

typedef enum core_fill_kind {
  CORE_FILL_INTERPOLATED,
  CORE_FILL_CARRIED
} core_fill_kind;

typedef struct core_fill {
  size_t row;   /* panel row */
  size_t col;   /* panel column index */
  int year;
  double value; /* the value written */
  core_fill_kind kind;
} core_fill;

typedef struct core_fill_list {
  size_t n, cap;
  core_fill *items;
} core_fill_list;

/* Fills gaps in the given columns of p in place. Entities are the distinct
 * (reporter, partner) key combinations (either may be absent); within an
 * entity rows are ordered by year, and a year may appear at most once
 * (CORE_EINVAL naming the entity and year otherwise). A series with no
 * observed value stays missing. Requires a year key (CORE_EINVAL otherwise,
 * unless mode is NONE). Appends every filled cell to *filled (which the
 * caller owns and clears with core_fill_list_clear). */
core_status core_interp_panel(core_panel *p, const size_t *cols, size_t ncols,
                              core_interp_mode mode, core_fill_list *filled,
                              core_err *err);
void core_fill_list_clear(core_fill_list *l);

#endif

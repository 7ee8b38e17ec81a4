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
  CORE_INTERP_NONE,   /* fill nothing */
  CORE_INTERP_LINEAR, /* interior gaps only, linear in the year */
  CORE_INTERP_NEAREST /* interior gaps linearly, leading and trailing gaps
                         carried from the nearest observed year */
} core_interp_mode;

typedef enum core_fill_kind {
  CORE_FILL_INTERPOLATED,
  CORE_FILL_CARRIED
} core_fill_kind;

typedef struct core_fill {
  size_t row; /* panel row */
  size_t col; /* panel column index */
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
 * caller owns and clears with core_fill_list_clear).
 *
 * Details: rows are sorted by (reporter, partner, year) in O(n log n); a
 * missing key (NULL entry) is a key value of its own, so all rows with a
 * missing reporter and the same partner form one entity; with neither key
 * the whole panel is one series. Interior gaps get xu + t (xv - xu), t =
 * (year - yu) / (yv - yu), from the nearest observed years u < year < v
 * (years absent from the panel are simply not rows). Items are appended
 * column by column, each in (entity, year) order; cells that already had a
 * value are never touched. Returns CORE_OK (also for NONE, ncols == 0 or an
 * empty panel, which fill nothing); CORE_EINVAL for a NULL panel, an unknown
 * mode, NULL cols or filled, a column index >= p->ncol (the virtual year
 * column included), no year key, or a duplicate (entity, year) (err->name
 * "year", err->rows the two rows; nothing is written); CORE_ENOMEM, after
 * which the panel and *filled are as they were. */
core_status core_interp_panel(core_panel *p, const size_t *cols, size_t ncols,
                              core_interp_mode mode, core_fill_list *filled,
                              core_err *err);
void core_fill_list_clear(core_fill_list *l);

#endif

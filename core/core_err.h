/* Error and warning reporting for the estimation core: status codes, one error
 * struct filled by every fallible function, and a growable list of warnings.
 * The core never prints, aborts or exits; callers map codes to HTTP statuses.
 */
#ifndef GRAVITAS_CORE_ERR_H
#define GRAVITAS_CORE_ERR_H

#include <stddef.h>

typedef enum core_status {
  CORE_OK = 0,
  CORE_ENOMEM,       /* an allocation failed */
  CORE_EINVAL,       /* an argument or input value is invalid (see msg) */
  CORE_EPARSE,       /* formula syntax error; pos is the byte offset */
  CORE_EUNKNOWN_VAR, /* a formula names a variable the panel lacks; name set */
  CORE_EDOMAIN,      /* log() of a value <= 0 etc.; name and rows[] set */
  CORE_ESINGULAR,    /* the design (or a matrix to invert) is singular */
  CORE_ETOOFEW,      /* too few observations for the number of parameters */
  CORE_ENOTSUP,      /* parsed but not supported yet (e.g. fixed effects) */
  CORE_ENOCONV,      /* an iterative method did not converge */
  CORE_EINTERNAL     /* a bug or a numerical library failure */
} core_status;

#define CORE_ERR_MAX_ROWS 16

typedef struct core_err {
  core_status code;
  char msg[512];  /* one sentence for humans, no trailing newline */
  int pos;        /* formula byte offset (0-based), -1 when not applicable */
  char name[128]; /* the variable or term concerned, "" when not applicable */
  size_t n_rows;  /* how many entries of rows[] are set */
  size_t rows_total; /* how many rows are affected (may exceed n_rows) */
  size_t rows[CORE_ERR_MAX_ROWS]; /* 0-based panel row indices concerned */
} core_err;

/* Resets e to CORE_OK with empty fields (pos = -1). e may be NULL. */
void core_err_clear(core_err *e);

/* Sets code and a printf-style message on e (which may be NULL); keeps the
 * other fields as they are. Returns code, so callers can `return
 * core_err_set(...)`. */
core_status core_err_set(core_err *e, core_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a row index on e (up to CORE_ERR_MAX_ROWS kept, all counted). */
void core_err_add_row(core_err *e, size_t row);

/* Stable lower-case name of a status ("ok", "singular", ...). Never NULL. */
const char *core_status_name(core_status code);

/* A growable list of warning sentences owned by whoever holds the list. */
typedef struct core_warnings {
  size_t n, cap;
  char **msgs;
} core_warnings;

/* Appends a formatted warning. Returns CORE_OK or CORE_ENOMEM. w may be NULL
 * (then it does nothing and returns CORE_OK). */
core_status core_warn(core_warnings *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Moves every message of src to the end of dst; src ends empty. */
core_status core_warnings_move(core_warnings *dst, core_warnings *src);

/* Frees the messages (not w itself); w is left empty and reusable. NULL ok. */
void core_warnings_clear(core_warnings *w);

#endif

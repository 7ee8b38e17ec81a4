/* The embedded default dataset (China and the five Central Asian countries,
 * real values only) and the choice of the default specification on it: the
 * largest subset of the paper's regressors that the data can identify with at
 * least API_DEFAULT_MIN_DF residual degrees of freedom (see api_default.h
 * and data/SOURCES.md). */
#include "api_default.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_formula.h"
#include "core_interp.h"
#include "core_ols.h"
#include "core_pca.h"

#define NC 6           /* countries, China first */
#define NP (NC - 1)    /* partners */
#define NY 14          /* years */
#define YEAR0 2010     /* first year */
#define NROW (NP * NY) /* pair-years */

/* Fields and lines of the CSV files: far above what the files hold, so a
 * longer one is a malformed file rather than a limit. */
#define MAX_FIELDS 16
#define FIELD_MAX 128

static const char *const COUNTRY[NC] = {"CHN", "KAZ", "KGZ",
                                        "UZB", "TJK", "TKM"};

enum {
  I_PGDP,
  I_POP,
  I_NET,
  I_CPI,
  I_OPEN,
  I_BBND,
  I_SECR,
  I_LPI,
  I_RD,
  I_TER,
  NIND
};

static const char *const INDICATOR[NIND] = {
    "NY.GDP.PCAP.PP.CD", "SP.POP.TOTL",    "IT.NET.USER.ZS", "FP.CPI.TOTL",
    "NE.TRD.GNFS.ZS",    "IT.NET.BBND.P2", "IT.NET.SECR.P6", "LP.LPI.OVRL.XQ",
    "GB.XPD.RSDV.GD.ZS", "SE.TER.ENRR"};

/* The e-commerce enablers behind cbec (METHODS.md section 6, the ones the
 * data cover; internet users are left out because they enter as `net`). */
#define NENAB 5
static const int ENABLER[NENAB] = {I_BBND, I_SECR, I_LPI, I_RD, I_TER};

/* The series whose trailing gaps are carried from the last observed year
 * (data/SOURCES.md says why; NULL = every country). Every other series has
 * its interior gaps interpolated and nothing else. Leading gaps are never
 * carried: only the years from the first observed one on are filled. */
static const struct {
  const char *iso3;
  int ind;
} CARRY[] = {
    /* A survey published every two to four years: the latest edition is the
     * current assessment until the next one (TKM was last rated in 2018). */
    {NULL, I_LPI},
    /* One year (2023) after a steadily rising series. */
    {"TKM", I_BBND},
    /* 2021-2023 after a decade between 0.089 and 0.121 % of GDP. */
    {"TJK", I_RD},
};

/* The paper's regressors (equation 2) in its order, and the pair variables
 * they read. */
#define NREG 7
static const char *const TERM[NREG] = {"log(pgdp)", "log(pop)", "cbec",
                                       "log(net)",  "log(cpi)", "log(open)",
                                       "log(dist)"};
static const char *const REGVAR[NREG] = {"pgdp", "pop",  "cbec", "net",
                                         "cpi",  "open", "dist"};
#define RESPONSE "log(trade)"

/* Panel columns, in order. */
enum { V_TRADE, V_PGDP, V_POP, V_CBEC, V_NET, V_CPI, V_OPEN, V_DIST, NVAR };
static const char *const VARNAME[NVAR] = {"trade", "pgdp", "pop",  "cbec",
                                          "net",   "cpi",  "open", "dist"};

/* Everything read from the CSV files (NaN = the source has no value). */
typedef struct raw {
  double wdi[NC][NIND][NY];
  double distcap[NP];
  double oil[NY];
  double trade[NP][NY];
} raw;

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct errsink {
  char *buf;
  size_t len;
} errsink;

__attribute__((format(printf, 2, 3))) static int fail(errsink *e,
                                                      const char *fmt, ...) {
  if (e->buf && e->len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* ------------------------------------------------------------------------ */
/* A strict CSV reader: comma-separated, no quoting, LF or CRLF lines.      */
/* ------------------------------------------------------------------------ */

typedef struct reader {
  const char *name; /* file name for messages */
  const char *p, *end;
  size_t line; /* 1-based number of the line last read */
  size_t nf;
  char f[MAX_FIELDS][FIELD_MAX];
} reader;

/* Reads the next line into r->f. Returns 1 for a line, 0 at the end of the
 * text (a final newline is optional), -1 for a malformed line (message in
 * e). */
static int reader_next(reader *r, errsink *e) {
  if (r->p >= r->end) return 0;
  const char *eol = memchr(r->p, '\n', (size_t)(r->end - r->p));
  const char *stop = eol ? eol : r->end;
  const char *next = eol ? eol + 1 : r->end;
  r->line++;
  if (stop > r->p && stop[-1] == '\r') stop--;
  if (stop == r->p) return fail(e, "%s line %zu: empty line", r->name, r->line);
  r->nf = 0;
  const char *s = r->p;
  for (;;) {
    const char *comma = memchr(s, ',', (size_t)(stop - s));
    const char *fend = comma ? comma : stop;
    size_t len = (size_t)(fend - s);
    if (r->nf == MAX_FIELDS)
      return fail(e, "%s line %zu: more than %d fields", r->name, r->line,
                  MAX_FIELDS);
    if (len >= FIELD_MAX)
      return fail(e, "%s line %zu: field %zu is longer than %d bytes", r->name,
                  r->line, r->nf + 1, FIELD_MAX - 1);
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '"' || c < 0x20 || c == 0x7f)
        return fail(e,
                    "%s line %zu: field %zu has a quote or control character "
                    "(quoted fields are not supported)",
                    r->name, r->line, r->nf + 1);
    }
    memcpy(r->f[r->nf], s, len);
    r->f[r->nf][len] = '\0';
    r->nf++;
    if (!comma) break;
    s = comma + 1;
  }
  r->p = next;
  return 1;
}

/* Starts reading file; reads its header and finds the named columns (idx
 * gets each one's field index). Returns 0 or -1 (message in e). */
static int reader_open(reader *r, const api_default_file *file,
                       const char *const *cols, size_t ncols, size_t *idx,
                       errsink *e) {
  memset(r, 0, sizeof *r);
  r->name = file->name ? file->name : "(unnamed)";
  if (!file->text) return fail(e, "%s: no text", r->name);
  r->p = file->text;
  r->end = file->text + file->len;
  if (memchr(file->text, '\0', file->len))
    return fail(e, "%s: contains a NUL byte", r->name);
  int rc = reader_next(r, e);
  if (rc < 0) return -1;
  if (rc == 0) return fail(e, "%s: empty file, no header", r->name);
  for (size_t c = 0; c < ncols; c++) {
    size_t found = r->nf;
    for (size_t j = 0; j < r->nf; j++) {
      if (strcmp(r->f[j], cols[c]) != 0) continue;
      if (found != r->nf)
        return fail(e, "%s line 1: column \"%s\" appears twice", r->name,
                    cols[c]);
      found = j;
    }
    if (found == r->nf)
      return fail(e, "%s line 1: no column \"%s\"", r->name, cols[c]);
    idx[c] = found;
  }
  return 0;
}

/* The field of column c of the current line, or NULL (with a message) when
 * the line is too short. */
static const char *field(reader *r, size_t c, const char *col, errsink *e) {
  if (c >= r->nf) {
    fail(e, "%s line %zu: no field for column \"%s\" (%zu fields)", r->name,
         r->line, col, r->nf);
    return NULL;
  }
  return r->f[c];
}

/* Parses a decimal number written in full (digits, '.', sign, exponent; no
 * hex, inf or nan). An empty field is NaN when allow_empty. Returns 0 or -1
 * (message in e). */
static int parse_number(reader *r, const char *s, const char *col,
                        bool allow_empty, double *out, errsink *e) {
  if (*s == '\0') {
    if (allow_empty) {
      *out = NAN;
      return 0;
    }
    return fail(e, "%s line %zu: column \"%s\" is empty", r->name, r->line,
                col);
  }
  if (strspn(s, "0123456789.eE+-") != strlen(s))
    return fail(e, "%s line %zu: column \"%s\" is not a number: \"%s\"",
                r->name, r->line, col, s);
  char *endp = NULL;
  errno = 0;
  double v = strtod(s, &endp);
  if (endp == s || *endp != '\0' || errno == ERANGE || !isfinite(v))
    return fail(e, "%s line %zu: column \"%s\" is not a finite number: \"%s\"",
                r->name, r->line, col, s);
  *out = v;
  return 0;
}

/* Parses a year; *in_range is false (and 0 is returned) for a valid year
 * outside YEAR0..YEAR0+NY-1, whose row the caller skips. */
static int parse_year(reader *r, const char *s, int *t, bool *in_range,
                      errsink *e) {
  char *endp = NULL;
  errno = 0;
  long y = strtol(s, &endp, 10);
  if (*s == '\0' || endp == s || *endp != '\0' || errno == ERANGE ||
      y < -9999 || y > 9999 || strspn(s, "0123456789-") != strlen(s))
    return fail(e, "%s line %zu: year is not an integer: \"%s\"", r->name,
                r->line, s);
  *in_range = y >= YEAR0 && y < YEAR0 + NY;
  *t = (int)(y - YEAR0);
  return 0;
}

static int country_index(const char *s) {
  for (int c = 0; c < NC; c++)
    if (strcmp(s, COUNTRY[c]) == 0) return c;
  return -1;
}

/* True when the series of country c enters the panel: every indicator of the
 * partners, and China's except the enablers (cbec is partner-side). */
static bool used_series(int c, int ind) {
  if (c > 0) return true;
  for (int k = 0; k < NENAB; k++)
    if (ENABLER[k] == ind) return false;
  return true;
}

/* ------------------------------------------------------------------------ */
/* Reading the four files                                                   */
/* ------------------------------------------------------------------------ */

static int read_wdi(const api_default_file *file, raw *d, errsink *e) {
  static const char *const cols[] = {"iso3", "indicator", "year", "value"};
  size_t ix[4];
  reader r;
  bool seen[NC][NIND][NY];
  memset(seen, 0, sizeof seen);
  if (reader_open(&r, file, cols, 4, ix, e) < 0) return -1;
  int rc;
  while ((rc = reader_next(&r, e)) == 1) {
    const char *f[4];
    for (size_t c = 0; c < 4; c++)
      if (!(f[c] = field(&r, ix[c], cols[c], e))) return -1;
    int c = country_index(f[0]), ind = -1, t = 0;
    bool in_range = false;
    for (int i = 0; i < NIND; i++)
      if (strcmp(f[1], INDICATOR[i]) == 0) ind = i;
    if (parse_year(&r, f[2], &t, &in_range, e) < 0) return -1;
    if (c < 0 || ind < 0 || !in_range || !used_series(c, ind))
      continue; /* not used */
    if (seen[c][ind][t])
      return fail(e, "%s line %zu: a second row for %s %s %s", r.name, r.line,
                  f[0], f[1], f[2]);
    if (parse_number(&r, f[3], cols[3], true, &d->wdi[c][ind][t], e) < 0)
      return -1;
    seen[c][ind][t] = true;
  }
  if (rc < 0) return -1;
  for (int c = 0; c < NC; c++)
    for (int i = 0; i < NIND; i++)
      for (int t = 0; t < NY; t++)
        if (used_series(c, i) && !seen[c][i][t])
          return fail(e,
                      "%s: no row for %s %s %d (an empty value is a gap; a "
                      "missing row is an incomplete file)",
                      r.name, COUNTRY[c], INDICATOR[i], YEAR0 + t);
  return 0;
}

static int read_capitals(const api_default_file *file, raw *d, errsink *e) {
  static const char *const cols[] = {"iso3", "distcap_km_from_beijing"};
  size_t ix[2];
  reader r;
  bool seen[NP] = {false};
  if (reader_open(&r, file, cols, 2, ix, e) < 0) return -1;
  int rc;
  while ((rc = reader_next(&r, e)) == 1) {
    const char *iso = field(&r, ix[0], cols[0], e);
    const char *v = iso ? field(&r, ix[1], cols[1], e) : NULL;
    if (!v) return -1;
    int c = country_index(iso);
    if (c < 1) continue; /* China itself and other countries */
    if (seen[c - 1])
      return fail(e, "%s line %zu: a second row for %s", r.name, r.line, iso);
    if (parse_number(&r, v, cols[1], false, &d->distcap[c - 1], e) < 0)
      return -1;
    if (!(d->distcap[c - 1] > 0))
      return fail(e, "%s line %zu: distance must be > 0", r.name, r.line);
    seen[c - 1] = true;
  }
  if (rc < 0) return -1;
  for (int p = 0; p < NP; p++)
    if (!seen[p]) return fail(e, "%s: no row for %s", r.name, COUNTRY[p + 1]);
  return 0;
}

static int read_oil(const api_default_file *file, raw *d, errsink *e) {
  static const char *const cols[] = {"year", "wb_crude_oil_average_usd_bbl"};
  size_t ix[2];
  reader r;
  bool seen[NY] = {false};
  if (reader_open(&r, file, cols, 2, ix, e) < 0) return -1;
  int rc;
  while ((rc = reader_next(&r, e)) == 1) {
    const char *y = field(&r, ix[0], cols[0], e);
    const char *v = y ? field(&r, ix[1], cols[1], e) : NULL;
    if (!v) return -1;
    int t = 0;
    bool in_range = false;
    if (parse_year(&r, y, &t, &in_range, e) < 0) return -1;
    if (!in_range) continue;
    if (seen[t])
      return fail(e, "%s line %zu: a second row for %s", r.name, r.line, y);
    if (parse_number(&r, v, cols[1], false, &d->oil[t], e) < 0) return -1;
    if (!(d->oil[t] > 0))
      return fail(e, "%s line %zu: the oil price must be > 0", r.name, r.line);
    seen[t] = true;
  }
  if (rc < 0) return -1;
  for (int t = 0; t < NY; t++)
    if (!seen[t]) return fail(e, "%s: no row for %d", r.name, YEAR0 + t);
  return 0;
}

/* Keeps the rows with reporter CHN and flow total: China's own statistics,
 * never the partners' mirror figures (bilateral_trade_china_ca.SOURCES.md). */
static int read_trade(const api_default_file *file, raw *d, errsink *e) {
  static const char *const cols[] = {"reporter", "partner", "year", "flow",
                                     "value_usd"};
  size_t ix[5];
  reader r;
  if (reader_open(&r, file, cols, 5, ix, e) < 0) return -1;
  int rc;
  while ((rc = reader_next(&r, e)) == 1) {
    const char *f[5];
    for (size_t c = 0; c < 5; c++)
      if (!(f[c] = field(&r, ix[c], cols[c], e))) return -1;
    int t = 0;
    bool in_range = false;
    if (parse_year(&r, f[2], &t, &in_range, e) < 0) return -1;
    int c = country_index(f[1]);
    if (strcmp(f[0], "CHN") != 0 || strcmp(f[3], "total") != 0 || c < 1 ||
        !in_range)
      continue;
    if (!isnan(d->trade[c - 1][t]))
      return fail(e, "%s line %zu: a second CHN total for %s %s", r.name,
                  r.line, f[1], f[2]);
    double v = NAN;
    if (parse_number(&r, f[4], cols[4], false, &v, e) < 0) return -1;
    if (!(v > 0))
      return fail(e, "%s line %zu: trade must be > 0", r.name, r.line);
    d->trade[c - 1][t] = v;
  }
  return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Filling the country series                                               */
/* ------------------------------------------------------------------------ */

static bool carried(int c, int ind) {
  for (size_t i = 0; i < sizeof CARRY / sizeof CARRY[0]; i++)
    if (CARRY[i].ind == ind &&
        (!CARRY[i].iso3 || strcmp(CARRY[i].iso3, COUNTRY[c]) == 0))
      return true;
  return false;
}

static json_t *fill_entry(const char *entity, const char *variable, int year,
                          double value, const char *kind) {
  return json_pack("{s:s, s:s, s:i, s:f, s:s}", "entity", entity, "variable",
                   variable, "year", year, "value", value, "kind", kind);
}

int api_series_fill(double *s, size_t ny, int year0, const char *entity,
                    const char *variable, bool carry, json_t *filled,
                    char *errbuf, size_t errlen) {
  errsink es = {errbuf, errlen};
  errsink *e = &es;
  if (ny == 0) return 0;
  if (ny > API_SERIES_MAX_YEARS)
    return fail(e, "filling %s %s: more than %d years", entity, variable,
                API_SERIES_MAX_YEARS);
  size_t first = 0;
  if (carry)
    while (first < ny && isnan(s[first]))
      first++;
  size_t n = ny - first, col = 0;
  if (n == 0) return 0; /* nothing observed: the series stays missing */
  int rc = -1;
  core_err err;
  core_err_clear(&err);
  core_fill_list fl = {0, 0, NULL};
  int years[API_SERIES_MAX_YEARS];
  const char *keys[API_SERIES_MAX_YEARS];
  bool was_filled[API_SERIES_MAX_YEARS] = {false};
  double value[API_SERIES_MAX_YEARS] = {0};
  core_fill_kind kind[API_SERIES_MAX_YEARS] = {CORE_FILL_INTERPOLATED};
  core_panel *p = core_panel_alloc(n);
  if (!p) {
    fail(e, "out of memory");
    goto cleanup;
  }
  for (size_t j = 0; j < n; j++) {
    years[j] = year0 + (int)(first + j);
    keys[j] = entity;
  }
  if (core_panel_set_keys(p, keys, NULL, years, &err) != CORE_OK ||
      core_panel_add_column(p, "v", s + first, &col, &err) != CORE_OK ||
      core_interp_panel(p, &col, 1,
                        carry ? CORE_INTERP_NEAREST : CORE_INTERP_LINEAR, &fl,
                        &err) != CORE_OK) {
    fail(e, "filling %s %s: %s", entity, variable, err.msg);
    goto cleanup;
  }
  for (size_t i = 0; i < fl.n; i++) {
    const core_fill *f = &fl.items[i];
    size_t t = first + f->row;
    /* The list must name only cells that were gaps, with the value it
     * wrote; anything else would be a silent change of a source value. */
    if (f->row >= n || f->col != col || !isnan(s[t]) || was_filled[t] ||
        f->year != year0 + (int)t || !isfinite(f->value) ||
        f->value != p->cols[col][f->row]) {
      fail(e, "filling %s %s: inconsistent fill list", entity, variable);
      goto cleanup;
    }
    was_filled[t] = true;
    value[t] = f->value;
    kind[t] = f->kind;
  }
  for (size_t j = 0; j < n; j++) {
    double before = s[first + j], after = p->cols[col][j];
    if (!was_filled[first + j] && !(before == after) &&
        !(isnan(before) && isnan(after))) {
      fail(e, "filling %s %s: a cell changed without being listed", entity,
           variable);
      goto cleanup;
    }
  }
  for (size_t t = 0; filled && t < ny; t++) {
    if (!was_filled[t]) continue;
    json_t *item =
        fill_entry(entity, variable, year0 + (int)t, value[t],
                   kind[t] == CORE_FILL_CARRIED ? "carried" : "interpolated");
    if (!item || json_array_append_new(filled, item) != 0) {
      fail(e, "out of memory");
      goto cleanup;
    }
  }
  for (size_t t = 0; t < ny; t++)
    if (was_filled[t]) s[t] = value[t];
  rc = 0;
cleanup:
  core_fill_list_clear(&fl);
  core_panel_free(p);
  return rc;
}

/* One series of the default: its carry rule from CARRY. */
static int fill_series(double *s, int c, int ind, json_t *filled, errsink *e) {
  return api_series_fill(s, NY, YEAR0, COUNTRY[c], INDICATOR[ind],
                         carried(c, ind), filled, e->buf, e->len);
}

/* ------------------------------------------------------------------------ */
/* Specification choice                                                     */
/* ------------------------------------------------------------------------ */

typedef struct trial {
  bool built;     /* a design with at least one row exists */
  bool fitted;    /* core_ols_fit succeeded */
  bool full_rank; /* no column dropped */
  size_t n;       /* rows with the outcome and every regressor */
  size_t p;       /* columns (intercept included) */
  double df;      /* n - p */
  bool eligible;
} trial;

static size_t popcount(unsigned m) {
  size_t k = 0;
  for (; m; m &= m - 1)
    k++;
  return k;
}

/* Writes "log(trade) ~ t1 + t2 ..." for the regressors in mask. */
static void formula_text(unsigned mask, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "%s ~", RESPONSE);
  bool first = true;
  for (int j = 0; j < NREG && used < len; j++) {
    if (!(mask & (1u << j))) continue;
    used += (size_t)snprintf(buf + used, len - used, "%s%s",
                             first ? " " : " + ", TERM[j]);
    first = false;
  }
}

/* Fits the subset mask on panel. A subset that cannot be estimated (no
 * complete row, n <= k, rank 0) is a trial that is not eligible; other core
 * failures are errors. Returns 0 or -1 (message in e). */
static int try_subset(const core_panel *panel, unsigned mask, trial *tr,
                      errsink *e) {
  char text[256];
  core_formula *f = NULL;
  core_design *d = NULL;
  core_ols_result *r = NULL;
  core_err err;
  core_err_clear(&err);
  int rc = -1;
  memset(tr, 0, sizeof *tr);
  formula_text(mask, text, sizeof text);
  if (core_formula_parse(text, &f, &err) != CORE_OK) {
    fail(e, "formula %s: %s", text, err.msg);
    goto cleanup;
  }
  core_status st = core_design_build(f, panel, CORE_DESIGN_FIT, &d, &err);
  if (st == CORE_ETOOFEW) {
    rc = 0;
    goto cleanup;
  }
  if (st != CORE_OK) {
    fail(e, "design of %s: %s", text, err.msg);
    goto cleanup;
  }
  tr->built = true;
  tr->n = d->n;
  tr->p = d->p;
  tr->df = (double)d->n - (double)d->p;
  core_vcov_spec vc = {CORE_VCOV_CLASSICAL, NULL, 0};
  st = core_ols_fit(d->X, d->y, d->has_intercept, &vc, 0.95, &r, &err);
  if (st == CORE_ETOOFEW || st == CORE_ESINGULAR) {
    rc = 0;
    goto cleanup;
  }
  if (st != CORE_OK) {
    fail(e, "fit of %s: %s", text, err.msg);
    goto cleanup;
  }
  tr->fitted = true;
  tr->full_rank = r->k == r->p;
  tr->df = r->df_resid;
  tr->eligible = tr->full_rank && tr->df >= API_DEFAULT_MIN_DF;
  rc = 0;
cleanup:
  core_ols_result_free(r);
  core_design_free(d);
  core_formula_free(f);
  return rc;
}

/* True when subset a is preferred to subset b: more regressors, then more
 * observations, then earlier in the paper's order (at the first regressor,
 * in that order, that one subset has and the other lacks, the subset having
 * it wins). */
static bool better(unsigned a, const trial *ta, unsigned b, const trial *tb) {
  if (popcount(a) != popcount(b)) return popcount(a) > popcount(b);
  if (ta->n != tb->n) return ta->n > tb->n;
  for (int j = 0; j < NREG; j++) {
    unsigned bit = 1u << j;
    if ((a & bit) != (b & bit)) return (a & bit) != 0;
  }
  return false;
}

/* ------------------------------------------------------------------------ */
/* Descriptions                                                             */
/* ------------------------------------------------------------------------ */

/* A growable string for the sentences below. */
typedef struct strbuf {
  char *s;
  size_t len, cap;
  bool failed;
} strbuf;

__attribute__((format(printf, 2, 3))) static void
sb_printf(strbuf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0,
                      fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->failed = true;
      return;
    }
    if (b->s && b->len + (size_t)k < b->cap) {
      b->len += (size_t)k;
      return;
    }
    size_t cap = (b->cap ? b->cap : 128);
    while (cap <= b->len + (size_t)k)
      cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->failed = true;
      return;
    }
    if (!b->s) s[0] = '\0';
    b->s = s;
    b->cap = cap;
  }
}

/* Appends "CHN-TJK 2017-2023, CHN-TKM 2010-2023" for the rows where column
 * v of the pair panel is missing (partner order, runs of years joined).
 * Returns the number of missing rows. */
static size_t missing_ranges(const double *v, strbuf *b) {
  size_t count = 0;
  bool any = false;
  for (int p = 0; p < NP; p++) {
    bool entity_started = false;
    int t = 0;
    while (t < NY) {
      if (!isnan(v[p * NY + t])) {
        t++;
        continue;
      }
      int u = t;
      while (u + 1 < NY && isnan(v[p * NY + u + 1]))
        u++;
      count += (size_t)(u - t + 1);
      sb_printf(b, "%s", any ? (entity_started ? " and " : ", ") : "");
      if (!entity_started) sb_printf(b, "CHN-%s ", COUNTRY[p + 1]);
      if (u > t)
        sb_printf(b, "%d-%d", YEAR0 + t, YEAR0 + u);
      else
        sb_printf(b, "%d", YEAR0 + t);
      any = entity_started = true;
      t = u + 1;
    }
  }
  return count;
}

/* The reason regressor j is not in the chosen subset, measured: where its
 * variable is missing, how many pair-years with trade that costs, and what
 * adding it to the chosen subset gives. */
static char *exclusion_reason(const core_panel *panel, int j, const trial *with,
                              size_t n_outcome, size_t n_terms) {
  strbuf b = {NULL, 0, 0, false};
  const double *v = core_panel_column(panel, REGVAR[j]);
  const double *y = core_panel_column(panel, "trade");
  sb_printf(&b, "%s: ", TERM[j]);
  strbuf miss = {NULL, 0, 0, false};
  size_t nmiss = v ? missing_ranges(v, &miss) : 0;
  if (nmiss > 0) {
    sb_printf(&b, "%s is missing for %s", REGVAR[j], miss.s ? miss.s : "");
    size_t lost = 0;
    for (size_t i = 0; i < NROW; i++)
      if (!isnan(y[i]) && isnan(v[i])) lost++;
    if (lost > 0) {
      sb_printf(&b, ", which removes %zu of the %zu pair-years with trade (",
                lost, n_outcome);
      bool first = true;
      for (size_t i = 0; i < NROW; i++) {
        if (isnan(y[i]) || !isnan(v[i])) continue;
        sb_printf(&b, "%s%s %d", first ? "" : ", ", COUNTRY[i / NY + 1],
                  YEAR0 + (int)(i % NY));
        first = false;
      }
      sb_printf(&b, ")");
    }
    sb_printf(&b, "; ");
  }
  free(miss.s);
  if (!with->built)
    sb_printf(&b, "with it, no pair-year has the outcome and every regressor");
  else if (with->fitted && !with->full_rank)
    sb_printf(&b,
              "adding it to the %zu chosen regressors makes the design rank "
              "deficient (n = %zu)",
              n_terms, with->n);
  else
    sb_printf(&b,
              "adding it to the %zu chosen regressors leaves n = %zu and %g "
              "residual degree%s of freedom, fewer than %d",
              n_terms, with->n, with->df, with->df == 1 ? "" : "s",
              API_DEFAULT_MIN_DF);
  if (b.failed) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

static int add_warning(json_t *w, strbuf *b, errsink *e) {
  if (b->failed || !b->s || json_array_append_new(w, json_string(b->s)) != 0) {
    free(b->s);
    return fail(e, "out of memory");
  }
  free(b->s);
  memset(b, 0, sizeof *b);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

static json_t *real_or_null(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

static json_t *json_reals(const double *v, size_t n, size_t stride) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, real_or_null(v[i * stride])) != 0) {
      json_decref(a);
      return NULL;
    }
  return a;
}

/* Forms cbec by PCA over the partner-years of the enablers (already filled)
 * and records how. Returns 0 or -1. */
static int build_cbec(const raw *d, double *cbec, api_default *out,
                      errsink *e) {
  double cols[NENAB][NROW];
  const double *colp[NENAB];
  core_pca_result *pca = NULL;
  core_err err;
  core_err_clear(&err);
  int rc = -1;
  for (int k = 0; k < NENAB; k++) {
    for (int p = 0; p < NP; p++)
      for (int t = 0; t < NY; t++)
        cols[k][p * NY + t] = d->wdi[p + 1][ENABLER[k]][t];
    colp[k] = cols[k];
  }
  if (core_pca(colp, NROW, NENAB, CORE_INDEX_FIRST, CORE_SCALE_NONE, &pca,
               &err) != CORE_OK) {
    fail(e, "cbec: %s", err.msg);
    goto cleanup;
  }
  for (size_t i = 0; i < NROW; i++)
    cbec[i] = pca->used[i] ? pca->index[i] : NAN;
  json_t *en = json_array();
  for (int k = 0; en && k < NENAB; k++)
    if (json_array_append_new(en, json_string(INDICATOR[ENABLER[k]])) != 0) {
      json_decref(en);
      en = NULL;
    }
  out->cbec = json_pack("{s:s, s:s, s:o*, s:I, s:o*, s:o*, s:o*, s:o}",
                        "method", "first", "side", "partner", "enablers", en,
                        "n", (json_int_t)pca->n, "eigenvalues",
                        json_reals(pca->eigenvalues, NENAB, 1), "proportion",
                        json_reals(pca->proportion, NENAB, 1), "loadings_pc1",
                        json_reals(pca->loadings, NENAB, NENAB), "kmo",
                        real_or_null(pca->kmo_overall));
  if (!out->cbec || !json_is_array(json_object_get(out->cbec, "enablers")) ||
      !json_is_array(json_object_get(out->cbec, "eigenvalues")) ||
      !json_is_array(json_object_get(out->cbec, "proportion")) ||
      !json_is_array(json_object_get(out->cbec, "loadings_pc1"))) {
    fail(e, "out of memory");
    goto cleanup;
  }
  strbuf b = {NULL, 0, 0, false};
  for (size_t i = 0; i < pca->warnings.n; i++) {
    sb_printf(&b, "cbec: %s", pca->warnings.msgs[i]);
    if (add_warning(out->warnings, &b, e) < 0) goto cleanup;
  }
  sb_printf(&b,
            "cbec is the first principal component of %d partner-side "
            "enablers over %zu partner-years (%.1f%% of their variance)",
            NENAB, pca->n, 100.0 * pca->proportion[0]);
  if (pca->n < NROW) {
    sb_printf(&b, "; it is missing for ");
    missing_ranges(cbec, &b);
    sb_printf(&b, ", where an enabler is missing");
  }
  if (add_warning(out->warnings, &b, e) < 0) goto cleanup;
  rc = 0;
cleanup:
  core_pca_result_free(pca);
  return rc;
}

static int build_panel(const raw *d, const double *cbec, api_default *out,
                       errsink *e) {
  double v[NVAR][NROW];
  const char *rep[NROW], *par[NROW];
  int year[NROW];
  core_err err;
  core_err_clear(&err);
  for (int p = 0; p < NP; p++)
    for (int t = 0; t < NY; t++) {
      size_t i = (size_t)(p * NY + t);
      rep[i] = COUNTRY[0];
      par[i] = COUNTRY[p + 1];
      year[i] = YEAR0 + t;
      v[V_TRADE][i] = d->trade[p][t];
      v[V_PGDP][i] = d->wdi[0][I_PGDP][t] * d->wdi[p + 1][I_PGDP][t];
      v[V_POP][i] = d->wdi[0][I_POP][t] * d->wdi[p + 1][I_POP][t];
      v[V_CBEC][i] = cbec[i];
      v[V_NET][i] = d->wdi[0][I_NET][t] * d->wdi[p + 1][I_NET][t];
      v[V_CPI][i] = d->wdi[0][I_CPI][t] * d->wdi[p + 1][I_CPI][t];
      v[V_OPEN][i] = d->wdi[0][I_OPEN][t] * d->wdi[p + 1][I_OPEN][t];
      v[V_DIST][i] = d->distcap[p] * d->oil[t];
    }
  out->panel = core_panel_alloc(NROW);
  if (!out->panel) return fail(e, "out of memory");
  if (core_panel_set_keys(out->panel, rep, par, year, &err) != CORE_OK)
    return fail(e, "panel keys: %s", err.msg);
  for (int k = 0; k < NVAR; k++)
    if (core_panel_add_column(out->panel, VARNAME[k], v[k], NULL, &err) !=
        CORE_OK)
      return fail(e, "panel column %s: %s", VARNAME[k], err.msg);
  json_t *rows = json_array();
  out->data = rows ? json_pack("{s:o}", "rows", rows) : NULL;
  if (!out->data) return fail(e, "out of memory");
  for (size_t i = 0; i < NROW; i++) {
    json_t *row = json_pack("{s:s, s:s, s:i}", "reporter", rep[i], "partner",
                            par[i], "year", year[i]);
    if (!row || json_array_append_new(rows, row) != 0)
      return fail(e, "out of memory");
    for (int k = 0; k < NVAR; k++)
      if (json_object_set_new(row, VARNAME[k], real_or_null(v[k][i])) != 0)
        return fail(e, "out of memory");
  }
  return 0;
}

static int choose(api_default *out, errsink *e) {
  trial tr[1u << NREG];
  unsigned best = 0;
  const unsigned all = (1u << NREG) - 1;
  for (unsigned m = 1; m <= all; m++) {
    if (try_subset(out->panel, m, &tr[m], e) < 0) return -1;
    if (tr[m].eligible && (best == 0 || better(m, &tr[m], best, &tr[best])))
      best = m;
  }
  if (best == 0)
    return fail(e,
                "no subset of the regressors leaves %d residual degrees "
                "of freedom on these data",
                API_DEFAULT_MIN_DF);
  char text[256];
  core_formula *f = NULL;
  core_err err;
  core_err_clear(&err);
  formula_text(best, text, sizeof text);
  if (core_formula_parse(text, &f, &err) != CORE_OK)
    return fail(e, "formula %s: %s", text, err.msg);
  out->formula = strdup(core_formula_text(f));
  core_formula_free(f);
  formula_text(all, text, sizeof text);
  out->full_formula = strdup(text);
  if (!out->formula || !out->full_formula) return fail(e, "out of memory");
  out->n = tr[best].n;
  out->k = tr[best].p;
  out->n_terms = popcount(best);
  out->df_resid = tr[best].df;

  for (int j = 0; j < NREG; j++) {
    if (best & (1u << j)) continue;
    char *why = exclusion_reason(out->panel, j, &tr[best | (1u << j)],
                                 out->n_outcome, out->n_terms);
    json_t *item =
        why ? json_pack("{s:s, s:s}", "term", TERM[j], "reason", why) : NULL;
    free(why);
    if (!item || json_array_append_new(out->excluded, item) != 0)
      return fail(e, "out of memory");
  }

  strbuf b = {NULL, 0, 0, false};
  if (out->df_resid < API_DEFAULT_THIN_DF) {
    sb_printf(&b,
              "only %g residual degrees of freedom: the default fits %zu "
              "coefficients on the %zu pair-years where the outcome and its "
              "regressors are observed, so its standard errors, tests and "
              "trade potentials rest on very few observations",
              out->df_resid, out->k, out->n);
    if (add_warning(out->warnings, &b, e) < 0) return -1;
  }
  if (best != all) {
    const trial *t = &tr[all];
    sb_printf(&b,
              "the paper's full specification (%s) cannot be identified on "
              "these data: ",
              out->full_formula);
    if (!t->built)
      sb_printf(&b, "no pair-year has the outcome and all %d regressors", NREG);
    else if (t->fitted && !t->full_rank)
      sb_printf(&b, "its design is rank deficient");
    else
      sb_printf(&b,
                "only %zu pair-years have the outcome and all %d regressors, "
                "for %zu coefficients (%g residual degrees of freedom)",
                t->n, NREG, t->p, t->df);
    sb_printf(&b, "; the default uses %zu of the %d regressors", out->n_terms,
              NREG);
    if (add_warning(out->warnings, &b, e) < 0) return -1;
  }
  sb_printf(&b,
            "the outcome is China-reported total goods trade from published "
            "statements (data/SOURCES.md), not cross-border e-commerce, and "
            "is observed for %zu of the %d pair-years; it is never filled",
            out->n_outcome, NROW);
  return add_warning(out->warnings, &b, e);
}

static raw *raw_new(void) {
  raw *d = malloc(sizeof *d);
  if (!d) return NULL;
  for (int c = 0; c < NC; c++)
    for (int i = 0; i < NIND; i++)
      for (int t = 0; t < NY; t++)
        d->wdi[c][i][t] = NAN;
  for (int p = 0; p < NP; p++)
    for (int t = 0; t < NY; t++)
      d->trade[p][t] = NAN;
  return d;
}

static int build_raw(raw *d, api_default **out, errsink *e);

/* Reads the sources into d; the WDI values come from grid (laid out as
 * api_default_grid says) when it is not NULL, else from src->wdi. */
static int read_sources(const api_default_sources *src, const double *grid,
                        raw *d, errsink *e) {
  if (grid) {
    for (int c = 0; c < NC; c++)
      for (int i = 0; i < NIND; i++)
        for (int t = 0; t < NY; t++)
          if (used_series(c, i)) {
            double v = grid[((size_t)c * NIND + (size_t)i) * NY + (size_t)t];
            if (!isnan(v) && !isfinite(v))
              return fail(e, "the value of %s %s %d is not finite", COUNTRY[c],
                          INDICATOR[i], YEAR0 + t);
            d->wdi[c][i][t] = v;
          }
  } else if (read_wdi(&src->wdi, d, e) < 0) {
    return -1;
  }
  if (read_capitals(&src->capitals, d, e) < 0 ||
      read_oil(&src->oil, d, e) < 0 || read_trade(&src->trade, d, e) < 0)
    return -1;
  return 0;
}

static int build_from(const api_default_sources *src, const double *grid,
                      api_default **out, char *errbuf, size_t errlen) {
  errsink e = {errbuf, errlen};
  if (errbuf && errlen > 0) errbuf[0] = '\0';
  if (!out) return fail(&e, "no output pointer");
  *out = NULL;
  if (!src) return fail(&e, "no sources");
  raw *d = raw_new();
  if (!d) return fail(&e, "out of memory");
  int rc = read_sources(src, grid, d, &e) < 0 ? -1 : build_raw(d, out, &e);
  free(d);
  return rc;
}

int api_default_build_from(const api_default_sources *src, api_default **out,
                           char *errbuf, size_t errlen) {
  return build_from(src, NULL, out, errbuf, errlen);
}

/* Builds the default from values read into d (gaps are filled in place). */
static int build_raw(raw *d, api_default **out, errsink *ep) {
  errsink e = *ep;
  api_default *r = calloc(1, sizeof *r);
  int rc = -1;
  if (!r) return fail(&e, "out of memory");

  r->name = API_DEFAULT_NAME;
  r->filled = json_array();
  r->excluded = json_array();
  r->warnings = json_array();
  if (!r->filled || !r->excluded || !r->warnings) {
    fail(&e, "out of memory");
    goto cleanup;
  }
  /* Gaps are filled per country series, before any pair product. */
  for (int c = 0; c < NC; c++)
    for (int i = 0; i < NIND; i++)
      if (used_series(c, i) &&
          fill_series(d->wdi[c][i], c, i, r->filled, &e) < 0)
        goto cleanup;
  for (int p = 0; p < NP; p++)
    for (int t = 0; t < NY; t++)
      if (!isnan(d->trade[p][t])) r->n_outcome++;

  double cbec[NROW];
  if (build_cbec(d, cbec, r, &e) < 0 || build_panel(d, cbec, r, &e) < 0 ||
      choose(r, &e) < 0)
    goto cleanup;
  *out = r;
  r = NULL;
  rc = 0;
cleanup:
  api_default_free(r);
  return rc;
}

const api_default_file *api_default_file_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < api_default_n_files; i++)
    if (strcmp(api_default_files[i].name, name) == 0)
      return &api_default_files[i];
  return NULL;
}

/* The embedded sources. Returns 0 or -1 (message in e). */
static int embedded_sources(api_default_sources *src, errsink *e) {
  static const char *const names[4] = {"wdi_central_asia.csv", "capitals.csv",
                                       "oil_price.csv",
                                       "bilateral_trade_china_ca.csv"};
  const api_default_file *f[4];
  for (int i = 0; i < 4; i++)
    if (!(f[i] = api_default_file_find(names[i])))
      return fail(e, "the embedded data has no %s", names[i]);
  *src = (api_default_sources){*f[0], *f[1], *f[2], *f[3]};
  return 0;
}

int api_default_build(api_default **out, char *errbuf, size_t errlen) {
  errsink e = {errbuf, errlen};
  if (out) *out = NULL;
  api_default_sources src;
  if (embedded_sources(&src, &e) < 0) return -1;
  return api_default_build_from(&src, out, errbuf, errlen);
}

int api_default_build_grid(const double *grid, api_default **out, char *errbuf,
                           size_t errlen) {
  errsink e = {errbuf, errlen};
  if (out) *out = NULL;
  if (!grid) return fail(&e, "no values");
  api_default_sources src;
  if (embedded_sources(&src, &e) < 0) return -1;
  return build_from(&src, grid, out, errbuf, errlen);
}

void api_default_grid_shape(api_default_grid *g) {
  g->countries = COUNTRY;
  g->n_countries = NC;
  g->indicators = INDICATOR;
  g->n_indicators = NIND;
  g->year0 = YEAR0;
  g->n_years = NY;
}

bool api_default_grid_used(size_t c, size_t i) {
  return c < NC && i < NIND && used_series((int)c, (int)i);
}

int api_default_grid_embedded(double *grid, char *errbuf, size_t errlen) {
  errsink e = {errbuf, errlen};
  api_default_sources src;
  if (embedded_sources(&src, &e) < 0) return -1;
  raw *d = raw_new();
  if (!d) return fail(&e, "out of memory");
  int rc = read_wdi(&src.wdi, d, &e);
  if (rc == 0) memcpy(grid, d->wdi, sizeof d->wdi);
  free(d);
  return rc;
}

/* Reads the column col of the embedded file name on the line whose column
 * key equals want. Returns 1 found (value in *v), 0 not listed, -1 for a
 * malformed file (message in e). */
static int embedded_lookup(const char *name, const char *key, const char *want,
                           const char *col, double *v, errsink *e) {
  const api_default_file *f = api_default_file_find(name);
  if (!f) return fail(e, "the embedded data has no %s", name);
  const char *cols[2] = {key, col};
  size_t ix[2];
  reader r;
  if (reader_open(&r, f, cols, 2, ix, e) < 0) return -1;
  int rc;
  while ((rc = reader_next(&r, e)) == 1) {
    /* reader_open set both ix[] when it returned 0; the analyzer does not
     * follow fail() (variadic, so never inlined) to see that every other
     * return of reader_open is -1. */
    // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage)
    const char *k = field(&r, ix[0], cols[0], e);
    // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage)
    const char *x = k ? field(&r, ix[1], cols[1], e) : NULL;
    if (!x) return -1;
    if (strcmp(k, want) != 0) continue;
    if (parse_number(&r, x, col, false, v, e) < 0) return -1;
    return 1;
  }
  return rc < 0 ? -1 : 0;
}

int api_default_capital_km(const char *iso3, double *km, char *errbuf,
                           size_t errlen) {
  errsink e = {errbuf, errlen};
  return embedded_lookup("capitals.csv", "iso3", iso3,
                         "distcap_km_from_beijing", km, &e);
}

int api_default_oil_usd(int year, double *usd, char *errbuf, size_t errlen) {
  errsink e = {errbuf, errlen};
  char y[16];
  snprintf(y, sizeof y, "%d", year);
  return embedded_lookup("oil_price.csv", "year", y,
                         "wb_crude_oil_average_usd_bbl", usd, &e);
}

void api_default_free(api_default *d) {
  if (!d) return;
  json_decref(d->data);
  core_panel_free(d->panel);
  free(d->formula);
  free(d->full_formula);
  json_decref(d->filled);
  json_decref(d->excluded);
  json_decref(d->warnings);
  json_decref(d->cbec);
  free(d);
}

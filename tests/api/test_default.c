/* Tests of the embedded default dataset and the choice of the default
 * specification (api/api_default.h): the embedded bytes against data/ and
 * ../shared/data, the panel cell by cell against the source values, the
 * filled cells, the brute-force check of the specification rule, and every
 * error path of the CSV reader. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <jansson.h>

#include "api/api_default.h"

#define NP 5
#define NY 14
#define YEAR0 2010

static const char *const PARTNER[NP] = {"KAZ", "KGZ", "UZB", "TJK", "TKM"};
static const char *const FILES[4] = {"bilateral_trade_china_ca.csv",
                                     "capitals.csv", "oil_price.csv",
                                     "wdi_central_asia.csv"};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* The whole file at path (NUL-terminated, length in *len), or NULL. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    char *b = realloc(buf, cap * 2);
    if (!b) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = b;
    cap *= 2;
  }
  fclose(f);
  if (buf) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

static api_default *build_ok(void) {
  char err[512] = "";
  api_default *d = NULL;
  int rc = api_default_build(&d, err, sizeof err);
  cr_assert_eq(rc, 0, "build failed: %s", err);
  cr_assert_not_null(d);
  return d;
}

/* A CSV table split into lines and fields (test's own, independent of the
 * module's reader). */
typedef struct table {
  char *text;
  size_t nrow, ncol;
  char **cell; /* nrow x ncol, row 0 = header */
  char **line; /* nrow raw lines (without the newline) */
} table;

static table *table_parse(const char *text, size_t len) {
  table *t = calloc(1, sizeof *t);
  t->text = malloc(len + 1);
  memcpy(t->text, text, len);
  t->text[len] = '\0';
  size_t lines = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') lines++;
  t->line = calloc(lines + 1, sizeof *t->line);
  char *s = t->text;
  for (char *nl; (nl = strchr(s, '\n')); s = nl + 1) {
    *nl = '\0';
    t->line[t->nrow++] = s;
  }
  t->ncol = 1;
  for (const char *c = t->line[0]; *c; c++)
    if (*c == ',') t->ncol++;
  t->cell = calloc(t->nrow * t->ncol, sizeof *t->cell);
  for (size_t r = 0; r < t->nrow; r++) {
    char *copy = strdup(t->line[r]), *p = copy;
    for (size_t c = 0; c < t->ncol; c++) {
      char *comma = strchr(p, ',');
      if (comma) *comma = '\0';
      t->cell[r * t->ncol + c] = strdup(p);
      cr_assert(c + 1 == t->ncol || comma, "short line %zu", r);
      p = comma ? comma + 1 : p + strlen(p);
    }
    free(copy);
  }
  return t;
}

static void table_free(table *t) {
  if (!t) return;
  for (size_t i = 0; i < t->nrow * t->ncol; i++)
    free(t->cell[i]);
  free(t->cell);
  free(t->line);
  free(t->text);
  free(t);
}

static long table_col(const table *t, const char *name) {
  for (size_t c = 0; c < t->ncol; c++)
    if (strcmp(t->cell[c], name) == 0) return (long)c;
  return -1;
}

static const char *table_get(const table *t, size_t r, const char *col) {
  long c = table_col(t, col);
  cr_assert_geq(c, 0, "no column %s", col);
  return t->cell[r * t->ncol + (size_t)c];
}

static table *embedded_table(const char *name) {
  const api_default_file *f = api_default_file_find(name);
  cr_assert_not_null(f, "no embedded %s", name);
  return table_parse(f->text, f->len);
}

/* The source text of a WDI cell in the embedded copy ("" = gap). */
static const char *wdi_text(const table *w, const char *iso, const char *ind,
                            int year) {
  char y[8];
  snprintf(y, sizeof y, "%d", year);
  for (size_t r = 1; r < w->nrow; r++)
    if (strcmp(table_get(w, r, "iso3"), iso) == 0 &&
        strcmp(table_get(w, r, "indicator"), ind) == 0 &&
        strcmp(table_get(w, r, "year"), y) == 0)
      return table_get(w, r, "value");
  cr_assert_fail("no WDI row %s %s %d", iso, ind, year);
  return NULL;
}

static double num(const char *s) {
  if (!s || !*s) return NAN;
  char *end = NULL;
  double v = strtod(s, &end);
  cr_assert(end && *end == '\0', "not a number: %s", s);
  return v;
}

static const json_t *row_of(const api_default *d, int p, int year) {
  const json_t *rows = json_object_get(d->data, "rows");
  return json_array_get(rows, (size_t)(p * NY + (year - YEAR0)));
}

/* The pair value of variable var (NaN for null). */
static double cell(const api_default *d, int p, int year, const char *var) {
  const json_t *v = json_object_get(row_of(d, p, year), var);
  cr_assert_not_null(v, "no %s in row %s %d", var, PARTNER[p], year);
  if (json_is_null(v)) return NAN;
  cr_assert(json_is_real(v), "%s is not a real", var);
  return json_real_value(v);
}

/* The filled value of (entity, variable, year), or NaN when not filled. */
static double filled_value(const api_default *d, const char *iso,
                           const char *ind, int year, const char **kind) {
  size_t i;
  const json_t *f;
  json_array_foreach(d->filled, i, f) {
    if (strcmp(json_string_value(json_object_get(f, "entity")), iso) == 0 &&
        strcmp(json_string_value(json_object_get(f, "variable")), ind) == 0 &&
        json_integer_value(json_object_get(f, "year")) == year) {
      if (kind) *kind = json_string_value(json_object_get(f, "kind"));
      return json_real_value(json_object_get(f, "value"));
    }
  }
  return NAN;
}

/* The series value after filling: the source value, else the filled one. */
static double series(const api_default *d, const table *w, const char *iso,
                     const char *ind, int year) {
  double v = num(wdi_text(w, iso, ind, year));
  return isnan(v) ? filled_value(d, iso, ind, year, NULL) : v;
}

static void assert_rel(double got, double want, double tol, const char *what) {
  cr_assert(isfinite(got) && isfinite(want), "%s: %.17g vs %.17g", what, got,
            want);
  cr_assert_leq(fabs(got - want), tol * fabs(want), "%s: %.17g vs %.17g", what,
                got, want);
}

static char *dump(const json_t *j) {
  return json_dumps(j,
                    JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
}

/* ------------------------------------------------------------------------ */
/* Embedding                                                                */
/* ------------------------------------------------------------------------ */

Test(default_embed, files_are_the_data_folder_byte_for_byte) {
  cr_assert_eq(api_default_n_files, 4);
  for (size_t i = 0; i < 4; i++) {
    const api_default_file *f = api_default_file_find(FILES[i]);
    cr_assert_not_null(f, "%s", FILES[i]);
    cr_assert_eq(strlen(f->text), f->len, "%s: NUL inside or bad length",
                 FILES[i]);
    char path[512];
    snprintf(path, sizeof path, "%s/data/%s", GRAVITAS_SOURCE_DIR, FILES[i]);
    size_t len = 0;
    char *disk = slurp(path, &len);
    cr_assert_not_null(disk, "cannot read %s", path);
    cr_assert_eq(len, f->len, "%s: %zu bytes on disk, %zu embedded", FILES[i],
                 len, f->len);
    cr_assert_eq(memcmp(disk, f->text, len), 0, "%s differs", FILES[i]);
    free(disk);
  }
}

Test(default_embed, find) {
  cr_assert_null(api_default_file_find(NULL));
  cr_assert_null(api_default_file_find("nope.csv"));
  cr_assert_null(api_default_file_find("capitals"));
  cr_assert_str_eq(api_default_file_find("oil_price.csv")->name,
                   "oil_price.csv");
}

/* Every embedded row is a row of the shared original with the same bytes in
 * every column kept, and the rows kept are exactly those the default uses. */
Test(default_embed, rows_byte_identical_to_shared_data) {
  static const size_t expect_rows[4] = {13, 5, 14, 770};
  for (size_t i = 0; i < 4; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/%s", GRAVITAS_SHARED_DIR, FILES[i]);
    size_t len = 0;
    char *orig = slurp(path, &len);
    if (!orig) cr_skip_test("%s is absent", path);
    table *o = table_parse(orig, len);
    table *e = embedded_table(FILES[i]);
    cr_assert_eq(e->nrow - 1, expect_rows[i], "%s: %zu rows", FILES[i],
                 e->nrow - 1);
    /* Columns are a subset of the original's, in the original's order. */
    long last = -1;
    for (size_t c = 0; c < e->ncol; c++) {
      long oc = table_col(o, e->cell[c]);
      cr_assert_gt(oc, last, "%s: column %s", FILES[i], e->cell[c]);
      last = oc;
    }
    size_t next = 1; /* rows keep the original order */
    for (size_t r = 1; r < e->nrow; r++) {
      bool found = false;
      for (size_t q = next; q < o->nrow && !found; q++) {
        bool same = true;
        for (size_t c = 0; c < e->ncol && same; c++)
          same = strcmp(e->cell[r * e->ncol + c],
                        table_get(o, q, e->cell[c])) == 0;
        if (same) {
          found = true;
          next = q + 1;
        }
      }
      cr_assert(found, "%s: embedded line %zu \"%s\" is not in the original",
                FILES[i], r + 1, e->line[r]);
    }
    /* For the WDI file the whole line is the original line. */
    if (i == 3)
      for (size_t r = 1; r < e->nrow; r++) {
        bool found = false;
        for (size_t q = 1; q < o->nrow && !found; q++)
          found = strcmp(e->line[r], o->line[q]) == 0;
        cr_assert(found, "wdi line %zu", r + 1);
      }
    table_free(o);
    table_free(e);
    free(orig);
  }
}

/* The complete shared files give exactly the same default: the copies hold
 * every value the default uses and the reader ignores the rest. */
Test(default_embed, shared_originals_build_the_same_default) {
  char *text[4] = {NULL};
  size_t len[4] = {0};
  for (size_t i = 0; i < 4; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/%s", GRAVITAS_SHARED_DIR, FILES[i]);
    text[i] = slurp(path, &len[i]);
    if (!text[i]) cr_skip_test("%s is absent", path);
  }
  api_default_sources src = {{FILES[3], text[3], len[3]},
                             {FILES[1], text[1], len[1]},
                             {FILES[2], text[2], len[2]},
                             {FILES[0], text[0], len[0]}};
  char err[512] = "";
  api_default *a = NULL, *b = build_ok();
  cr_assert_eq(api_default_build_from(&src, &a, err, sizeof err), 0, "%s", err);
  const json_t *ja[] = {a->data, a->filled, a->excluded, a->warnings, a->cbec};
  const json_t *jb[] = {b->data, b->filled, b->excluded, b->warnings, b->cbec};
  for (size_t i = 0; i < 5; i++) {
    char *sa = dump(ja[i]), *sb = dump(jb[i]);
    cr_assert_str_eq(sa, sb, "part %zu differs", i);
    free(sa);
    free(sb);
  }
  cr_assert_str_eq(a->formula, b->formula);
  api_default_free(a);
  api_default_free(b);
  for (size_t i = 0; i < 4; i++)
    free(text[i]);
}

/* ------------------------------------------------------------------------ */
/* The panel                                                                */
/* ------------------------------------------------------------------------ */

Test(default_panel, seventy_rows_in_partner_year_order) {
  api_default *d = build_ok();
  cr_assert_str_eq(d->name, "china-central-asia-default");
  const json_t *rows = json_object_get(d->data, "rows");
  cr_assert_eq(json_object_size(d->data), 1);
  cr_assert(json_is_array(rows));
  cr_assert_eq(json_array_size(rows), 70);
  cr_assert_eq(d->panel->n, 70);
  static const char *const vars[] = {"trade", "pgdp", "pop",  "cbec",
                                     "net",   "cpi",  "open", "dist"};
  for (int p = 0; p < NP; p++)
    for (int y = YEAR0; y < YEAR0 + NY; y++) {
      const json_t *r = row_of(d, p, y);
      cr_assert_eq(json_object_size(r), 11);
      cr_assert_str_eq(json_string_value(json_object_get(r, "reporter")),
                       "CHN");
      cr_assert_str_eq(json_string_value(json_object_get(r, "partner")),
                       PARTNER[p]);
      cr_assert(json_is_integer(json_object_get(r, "year")));
      cr_assert_eq(json_integer_value(json_object_get(r, "year")), y);
      size_t i = (size_t)(p * NY + y - YEAR0);
      cr_assert_str_eq(d->panel->reporter[i], "CHN");
      cr_assert_str_eq(d->panel->partner[i], PARTNER[p]);
      cr_assert_eq(d->panel->year[i], y);
      /* The panel and the rows hold the same values. */
      for (size_t k = 0; k < 8; k++) {
        double a = cell(d, p, y, vars[k]);
        double b = core_panel_column(d->panel, vars[k])[i];
        cr_assert((isnan(a) && isnan(b)) || a == b, "%s %s %d", vars[k],
                  PARTNER[p], y);
      }
    }
  api_default_free(d);
}

/* China-reported totals: the 13 pair-years of bilateral_trade_china_ca.csv
 * with reporter CHN and flow total, and nothing else (never filled). */
Test(default_panel, outcome_is_exactly_the_chn_totals) {
  static const struct {
    int p, year;
    double usd;
  } want[13] = {{2, 2010, 2200000000.0},  {2, 2011, 2630000000.0},
                {2, 2012, 3380000000.0},  {1, 2018, 5610000000.0},
                {3, 2018, 1500000000.0},  {4, 2018, 8440000000.0},
                {0, 2021, 25250000000.0}, {0, 2022, 31200000000.0},
                {0, 2023, 41000000000.0}, {1, 2023, 19800000000.0},
                {2, 2023, 14000000000.0}, {3, 2023, 3900000000.0},
                {4, 2023, 10600000000.0}};
  api_default *d = build_ok();
  size_t seen = 0;
  for (int p = 0; p < NP; p++)
    for (int y = YEAR0; y < YEAR0 + NY; y++) {
      double v = cell(d, p, y, "trade");
      double expect = NAN;
      for (size_t i = 0; i < 13; i++)
        if (want[i].p == p && want[i].year == y) expect = want[i].usd;
      if (isnan(expect)) {
        cr_assert(isnan(v), "trade %s %d should be missing", PARTNER[p], y);
      } else {
        cr_assert_eq(v, expect, "trade %s %d", PARTNER[p], y);
        seen++;
      }
    }
  cr_assert_eq(seen, 13);
  cr_assert_eq(d->n_outcome, 13);
  /* The partners' own (mirror) figures never enter: UZB 2010 is China's
   * 2,200 million, not Uzbekistan's 2,085 million. */
  cr_assert_eq(cell(d, 2, 2010, "trade"), 2200000000.0);
  api_default_free(d);
}

Test(default_panel, cpi_missing_as_the_data_say) {
  api_default *d = build_ok();
  for (int y = YEAR0; y < YEAR0 + NY; y++) {
    cr_assert(isnan(cell(d, 4, y, "cpi")), "TKM cpi %d", y);
    if (y <= 2016)
      cr_assert(isfinite(cell(d, 3, y, "cpi")), "TJK cpi %d", y);
    else
      cr_assert(isnan(cell(d, 3, y, "cpi")), "TJK cpi %d", y);
  }
  cr_assert(isnan(cell(d, 2, 2023, "cpi")), "UZB cpi 2023 is not carried");
  cr_assert(isfinite(cell(d, 2, 2022, "cpi")));
  /* No CPI cell of any country is filled. */
  size_t i;
  const json_t *f;
  json_array_foreach(d->filled, i, f) cr_assert_str_neq(
      json_string_value(json_object_get(f, "variable")), "FP.CPI.TOTL");
  api_default_free(d);
}

/* A few cells with many digits, by hand: the product of the two source
 * values as written in data/wdi_central_asia.csv. */
Test(default_panel, pair_products_by_hand) {
  api_default *d = build_ok();
  table *w = embedded_table("wdi_central_asia.csv");
  cr_assert_str_eq(wdi_text(w, "CHN", "NY.GDP.PCAP.PP.CD", 2015),
                   "13463.3331511105");
  cr_assert_str_eq(wdi_text(w, "KAZ", "NY.GDP.PCAP.PP.CD", 2015),
                   "22484.3651382607");
  cr_assert_str_eq(wdi_text(w, "TKM", "NE.TRD.GNFS.ZS", 2015),
                   "81.2999305660859");
  cr_assert_str_eq(wdi_text(w, "CHN", "NE.TRD.GNFS.ZS", 2015),
                   "38.6971848362625");
  assert_rel(cell(d, 0, 2015, "pgdp"), 13463.3331511105 * 22484.3651382607,
             1e-15, "pgdp KAZ 2015");
  assert_rel(cell(d, 4, 2015, "open"), 38.6971848362625 * 81.2999305660859,
             1e-15, "open TKM 2015");
  assert_rel(cell(d, 0, 2015, "pop"), 1379860000.0 * 18084169.0, 1e-15,
             "pop KAZ 2015");
  table_free(w);
  api_default_free(d);
}

Test(default_panel, economic_distance) {
  api_default *d = build_ok();
  assert_rel(cell(d, 0, 2015, "dist"), 3655.658 * 50.75277777778, 1e-15,
             "dist KAZ 2015");
  assert_rel(cell(d, 4, 2023, "dist"), 4939.987 * 80.75569444444, 1e-15,
             "dist TKM 2023");
  api_default_free(d);
}

/* Every pair product, every row: the product of the two series values, where
 * a series value is the source value or, only where the source has none, a
 * listed filled value; a cell with neither is missing. */
Test(default_panel, every_product_from_source_or_listed_fill) {
  static const struct {
    const char *var, *ind;
  } prod[5] = {{"pgdp", "NY.GDP.PCAP.PP.CD"},
               {"pop", "SP.POP.TOTL"},
               {"net", "IT.NET.USER.ZS"},
               {"cpi", "FP.CPI.TOTL"},
               {"open", "NE.TRD.GNFS.ZS"}};
  api_default *d = build_ok();
  table *w = embedded_table("wdi_central_asia.csv");
  for (int p = 0; p < NP; p++)
    for (int y = YEAR0; y < YEAR0 + NY; y++)
      for (size_t k = 0; k < 5; k++) {
        double a = series(d, w, "CHN", prod[k].ind, y);
        double b = series(d, w, PARTNER[p], prod[k].ind, y);
        double got = cell(d, p, y, prod[k].var);
        if (isnan(a) || isnan(b))
          cr_assert(isnan(got), "%s %s %d", prod[k].var, PARTNER[p], y);
        else
          assert_rel(got, a * b, 1e-15, prod[k].var);
      }
  table_free(w);
  api_default_free(d);
}

/* The filled cells are exactly the documented ones: interior gaps of every
 * series (linear in the year), trailing gaps only of the LPI (all
 * countries), TKM broadband and TJK R&D; leading gaps never. */
Test(default_panel, filled_cells_are_exactly_the_documented_ones) {
  api_default *d = build_ok();
  table *w = embedded_table("wdi_central_asia.csv");
  static const char *const country[6] = {"CHN", "KAZ", "KGZ",
                                         "UZB", "TJK", "TKM"};
  static const char *const ind[10] = {
      "NY.GDP.PCAP.PP.CD", "SP.POP.TOTL",    "IT.NET.USER.ZS", "FP.CPI.TOTL",
      "NE.TRD.GNFS.ZS",    "IT.NET.BBND.P2", "IT.NET.SECR.P6", "LP.LPI.OVRL.XQ",
      "GB.XPD.RSDV.GD.ZS", "SE.TER.ENRR"};
  size_t expected = 0;
  for (size_t c = 0; c < 6; c++)
    for (size_t k = 0; k < 10; k++) {
      if (c == 0 && k >= 5) {
        /* China's enablers are not in the data (cbec is partner-side). */
        for (int t = 0; t < NY; t++)
          cr_assert(isnan(filled_value(d, "CHN", ind[k], YEAR0 + t, NULL)));
        continue;
      }
      double s[NY];
      int first = -1, last = -1;
      for (int t = 0; t < NY; t++) {
        s[t] = num(wdi_text(w, country[c], ind[k], YEAR0 + t));
        if (!isnan(s[t])) {
          if (first < 0) first = t;
          last = t;
        }
      }
      bool carry = strcmp(ind[k], "LP.LPI.OVRL.XQ") == 0 ||
                   (strcmp(country[c], "TKM") == 0 &&
                    strcmp(ind[k], "IT.NET.BBND.P2") == 0) ||
                   (strcmp(country[c], "TJK") == 0 &&
                    strcmp(ind[k], "GB.XPD.RSDV.GD.ZS") == 0);
      for (int t = 0; t < NY; t++) {
        const char *kind = NULL;
        double f = filled_value(d, country[c], ind[k], YEAR0 + t, &kind);
        if (!isnan(s[t]) || first < 0 || t < first || (t > last && !carry)) {
          cr_assert(isnan(f), "%s %s %d must not be filled", country[c], ind[k],
                    YEAR0 + t);
          continue;
        }
        expected++;
        cr_assert(isfinite(f), "%s %s %d must be filled", country[c], ind[k],
                  YEAR0 + t);
        if (t > last) {
          cr_assert_str_eq(kind, "carried");
          cr_assert_eq(f, s[last], "%s %s %d carried", country[c], ind[k],
                       YEAR0 + t);
        } else {
          int a = t, b = t;
          while (isnan(s[a]))
            a--;
          while (isnan(s[b]))
            b++;
          double want = s[a] + (s[b] - s[a]) * (double)(t - a) / (b - a);
          cr_assert_str_eq(kind, "interpolated");
          assert_rel(f, want, 1e-14, "interpolated");
        }
      }
    }
  /* Counted from SOURCES.md: 2 net + 2 broadband + 42 LPI (8 for each of
   * KAZ KGZ UZB TJK, 10 for TKM) + 3 R&D + 6 tertiary enrolment. */
  cr_assert_eq(expected, 55);
  cr_assert_eq(json_array_size(d->filled), 55);
  /* Named cells, in full. */
  const char *kind = NULL;
  assert_rel(filled_value(d, "TJK", "IT.NET.USER.ZS", 2018, &kind),
             21.96 + (27.5441 - 21.96) / 3.0, 1e-15, "TJK net 2018");
  cr_assert_str_eq(kind, "interpolated");
  cr_assert_eq(filled_value(d, "TKM", "LP.LPI.OVRL.XQ", 2023, &kind), 2.41);
  cr_assert_str_eq(kind, "carried");
  cr_assert_eq(filled_value(d, "TJK", "GB.XPD.RSDV.GD.ZS", 2023, &kind),
               0.08969);
  cr_assert(isnan(filled_value(d, "TKM", "GB.XPD.RSDV.GD.ZS", 2010, NULL)));
  cr_assert(isnan(filled_value(d, "TKM", "IT.NET.USER.ZS", 2023, NULL)));
  /* Entries have exactly the documented keys. */
  size_t i;
  const json_t *f;
  json_array_foreach(d->filled, i, f) {
    cr_assert_eq(json_object_size(f), 5);
    cr_assert(json_is_string(json_object_get(f, "entity")));
    cr_assert(json_is_string(json_object_get(f, "variable")));
    cr_assert(json_is_integer(json_object_get(f, "year")));
    cr_assert(json_is_real(json_object_get(f, "value")));
    cr_assert(json_is_string(json_object_get(f, "kind")));
  }
  table_free(w);
  api_default_free(d);
}

/* cbec recomputed independently: standardise the five filled partner-side
 * enablers over the complete partner-years, eigen-decompose the correlation
 * matrix with GSL, orient PC1 so its loadings sum > 0, score. */
Test(default_panel, cbec_is_the_first_component_of_the_enablers) {
  static const char *const en[5] = {"IT.NET.BBND.P2", "IT.NET.SECR.P6",
                                    "LP.LPI.OVRL.XQ", "GB.XPD.RSDV.GD.ZS",
                                    "SE.TER.ENRR"};
  api_default *d = build_ok();
  table *w = embedded_table("wdi_central_asia.csv");
  double x[70][5];
  bool ok[70];
  size_t n = 0;
  for (int p = 0; p < NP; p++)
    for (int t = 0; t < NY; t++) {
      size_t i = (size_t)(p * NY + t);
      ok[i] = true;
      for (size_t k = 0; k < 5; k++) {
        x[i][k] = series(d, w, PARTNER[p], en[k], YEAR0 + t);
        ok[i] = ok[i] && !isnan(x[i][k]);
      }
      n += ok[i];
    }
  cr_assert_eq(n, 65, "TKM 2010-2014 lack R&D (and 2010-2013 enrolment)");
  double mean[5] = {0}, sd[5] = {0};
  for (size_t k = 0; k < 5; k++) {
    for (size_t i = 0; i < 70; i++)
      if (ok[i]) mean[k] += x[i][k] / (double)n;
    for (size_t i = 0; i < 70; i++)
      if (ok[i]) sd[k] += (x[i][k] - mean[k]) * (x[i][k] - mean[k]);
    sd[k] = sqrt(sd[k] / (double)(n - 1));
  }
  gsl_matrix *r = gsl_matrix_calloc(5, 5), *v = gsl_matrix_alloc(5, 5);
  gsl_vector *ev = gsl_vector_alloc(5);
  for (size_t a = 0; a < 5; a++)
    for (size_t b = 0; b < 5; b++) {
      double s = 0;
      for (size_t i = 0; i < 70; i++)
        if (ok[i])
          s += (x[i][a] - mean[a]) / sd[a] * (x[i][b] - mean[b]) / sd[b];
      gsl_matrix_set(r, a, b, s / (double)(n - 1));
    }
  gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(5);
  gsl_eigen_symmv(r, ev, v, ws);
  gsl_eigen_symmv_sort(ev, v, GSL_EIGEN_SORT_VAL_DESC);
  double sum = 0;
  for (size_t k = 0; k < 5; k++)
    sum += gsl_matrix_get(v, k, 0);
  double sign = sum > 0 ? 1.0 : -1.0;
  for (int p = 0; p < NP; p++)
    for (int t = 0; t < NY; t++) {
      size_t i = (size_t)(p * NY + t);
      double got = cell(d, p, YEAR0 + t, "cbec");
      if (!ok[i]) {
        cr_assert(isnan(got), "cbec %s %d", PARTNER[p], YEAR0 + t);
        continue;
      }
      double score = 0;
      for (size_t k = 0; k < 5; k++)
        score += sign * gsl_matrix_get(v, k, 0) * (x[i][k] - mean[k]) / sd[k];
      cr_assert_leq(fabs(got - score), 1e-10, "cbec %s %d: %.17g vs %.17g",
                    PARTNER[p], YEAR0 + t, got, score);
    }
  const json_t *eig = json_object_get(d->cbec, "eigenvalues");
  cr_assert_eq(json_array_size(eig), 5);
  for (size_t k = 0; k < 5; k++)
    assert_rel(json_real_value(json_array_get(eig, k)), gsl_vector_get(ev, k),
               1e-10, "eigenvalue");
  cr_assert_eq(json_integer_value(json_object_get(d->cbec, "n")), 65);
  cr_assert_str_eq(json_string_value(json_object_get(d->cbec, "method")),
                   "first");
  gsl_eigen_symmv_free(ws);
  gsl_matrix_free(r);
  gsl_matrix_free(v);
  gsl_vector_free(ev);
  table_free(w);
  api_default_free(d);
}

/* ------------------------------------------------------------------------ */
/* The specification rule, checked by brute force                           */
/* ------------------------------------------------------------------------ */

static const char *const TERM[7] = {"log(pgdp)", "log(pop)", "cbec",
                                    "log(net)",  "log(cpi)", "log(open)",
                                    "log(dist)"};
static const char *const VAR[7] = {"pgdp", "pop",  "cbec", "net",
                                   "cpi",  "open", "dist"};

typedef struct bf {
  size_t n, p, rank;
  bool eligible;
} bf;

/* The test's own fit check: the complete rows of the subset, the design
 * with an intercept, its rank from the singular values (relative 1e-9). */
static bf brute(const api_default *d, unsigned mask) {
  bf r = {0, 1, 0, false};
  for (int j = 0; j < 7; j++)
    r.p += (mask >> j) & 1u;
  double X[70][8];
  for (int p = 0; p < NP; p++)
    for (int y = YEAR0; y < YEAR0 + NY; y++) {
      if (isnan(cell(d, p, y, "trade"))) continue;
      bool complete = true;
      size_t c = 1;
      X[r.n][0] = 1.0;
      for (int j = 0; j < 7; j++) {
        if (!(mask & (1u << j))) continue;
        double v = cell(d, p, y, VAR[j]);
        complete = complete && !isnan(v);
        X[r.n][c++] = j == 2 ? v : log(v);
      }
      if (complete) r.n++;
    }
  if (r.n < r.p) return r;
  gsl_matrix *a = gsl_matrix_alloc(r.n, r.p), *v = gsl_matrix_alloc(r.p, r.p);
  gsl_vector *s = gsl_vector_alloc(r.p), *work = gsl_vector_alloc(r.p);
  for (size_t i = 0; i < r.n; i++)
    for (size_t c = 0; c < r.p; c++)
      gsl_matrix_set(a, i, c, X[i][c]);
  /* Columns scaled to unit norm so that the rank does not depend on units. */
  for (size_t c = 0; c < r.p; c++) {
    gsl_vector_view col = gsl_matrix_column(a, c);
    double norm = gsl_blas_dnrm2(&col.vector);
    if (norm > 0) gsl_vector_scale(&col.vector, 1.0 / norm);
  }
  gsl_linalg_SV_decomp(a, v, s, work);
  for (size_t c = 0; c < r.p; c++)
    if (gsl_vector_get(s, c) > 1e-9 * gsl_vector_get(s, 0)) r.rank++;
  r.eligible = r.rank == r.p && r.n >= r.p + 5;
  gsl_matrix_free(a);
  gsl_matrix_free(v);
  gsl_vector_free(s);
  gsl_vector_free(work);
  return r;
}

static unsigned mask_of_formula(const char *formula) {
  unsigned m = 0;
  const char *rhs = strchr(formula, '~');
  cr_assert_not_null(rhs);
  for (int j = 0; j < 7; j++) {
    size_t len = strlen(TERM[j]);
    for (const char *s = rhs; (s = strstr(s, TERM[j])); s += len)
      if ((s[-1] == ' ') && (s[len] == '\0' || s[len] == ' ')) m |= 1u << j;
  }
  return m;
}

Test(default_spec, largest_subset_with_five_residual_df) {
  api_default *d = build_ok();
  unsigned chosen = mask_of_formula(d->formula);
  bf c = brute(d, chosen);
  cr_assert(c.eligible, "chosen %s: n %zu p %zu rank %zu", d->formula, c.n, c.p,
            c.rank);
  cr_assert_eq(d->n, c.n);
  cr_assert_eq(d->k, c.p);
  cr_assert_eq(d->df_resid, (double)(c.n - c.p));
  cr_assert_geq(d->df_resid, 5.0);
  size_t size = c.p - 1;
  cr_assert_eq(d->n_terms, size);
  for (unsigned m = 1; m < 128; m++) {
    if (m == chosen) continue;
    bf o = brute(d, m);
    if (!o.eligible) continue;
    size_t osize = o.p - 1;
    cr_assert_leq(osize, size, "a larger subset (mask %u) is eligible", m);
    if (osize < size) continue;
    cr_assert_leq(o.n, c.n, "subset %u of the same size has more rows", m);
    if (o.n < c.n) continue;
    /* Tie: the chosen subset comes first in the paper's order. */
    unsigned diff = m ^ chosen, low = diff & (~diff + 1u);
    cr_assert(chosen & low, "subset %u comes earlier in the paper's order", m);
  }
  /* On the 2026 data that is the paper's model without net and cpi. */
  cr_assert_str_eq(d->formula,
                   "log(trade) ~ log(pgdp) + log(pop) + cbec + log(open) + "
                   "log(dist)");
  cr_assert_eq(d->n, 13);
  cr_assert_eq(d->df_resid, 7.0);
  /* And the full specification is not identifiable: n = 8 for 8
   * coefficients. */
  bf full = brute(d, 127);
  cr_assert_eq(full.n, 8);
  cr_assert(!full.eligible);
  api_default_free(d);
}

Test(default_spec, exclusions_and_warnings_name_the_reasons) {
  api_default *d = build_ok();
  cr_assert_eq(json_array_size(d->excluded), 2);
  const json_t *net = json_array_get(d->excluded, 0);
  const json_t *cpi = json_array_get(d->excluded, 1);
  cr_assert_str_eq(json_string_value(json_object_get(net, "term")), "log(net)");
  cr_assert_str_eq(json_string_value(json_object_get(cpi, "term")), "log(cpi)");
  const char *rn = json_string_value(json_object_get(net, "reason"));
  const char *rc = json_string_value(json_object_get(cpi, "reason"));
  cr_assert_not_null(strstr(rn, "CHN-TKM 2018-2023"), "%s", rn);
  cr_assert_not_null(strstr(rn, "removes 2 of the 13"), "%s", rn);
  cr_assert_not_null(strstr(rn, "n = 11 and 4 residual"), "%s", rn);
  cr_assert_not_null(strstr(rc, "CHN-TJK 2017-2023"), "%s", rc);
  cr_assert_not_null(strstr(rc, "CHN-TKM 2010-2023"), "%s", rc);
  cr_assert_not_null(strstr(rc, "CHN-UZB 2023"), "%s", rc);
  cr_assert_not_null(strstr(rc, "removes 5 of the 13"), "%s", rc);
  cr_assert_not_null(strstr(rc, "n = 8 and 1 residual degree of"), "%s", rc);
  bool thin = false, full = false, outcome = false;
  size_t i;
  const json_t *w;
  json_array_foreach(d->warnings, i, w) {
    const char *s = json_string_value(w);
    cr_assert_not_null(s);
    thin = thin || strstr(s, "only 7 residual degrees of freedom") == s;
    full = full || strstr(s, "only 8 pair-years have the outcome and all 7");
    outcome = outcome || strstr(s, "not cross-border e-commerce");
  }
  cr_assert(thin && full && outcome);
  cr_assert_str_eq(d->full_formula,
                   "log(trade) ~ log(pgdp) + log(pop) + cbec + log(net) + "
                   "log(cpi) + log(open) + log(dist)");
  api_default_free(d);
}

Test(default_spec, deterministic) {
  api_default *a = build_ok(), *b = build_ok();
  cr_assert_str_eq(a->formula, b->formula);
  const json_t *ja[] = {a->data, a->filled, a->excluded, a->warnings, a->cbec};
  const json_t *jb[] = {b->data, b->filled, b->excluded, b->warnings, b->cbec};
  for (size_t i = 0; i < 5; i++) {
    char *sa = dump(ja[i]), *sb = dump(jb[i]);
    cr_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
  }
  api_default_free(a);
  api_default_free(b);
}

/* ------------------------------------------------------------------------ */
/* Error paths of api_default_build_from                                    */
/* ------------------------------------------------------------------------ */

/* The embedded sources with file `which` (0 wdi, 1 capitals, 2 oil, 3 trade)
 * having its first occurrence of `from` replaced by `to` (from = NULL: the
 * whole text replaced by to). */
typedef struct edited {
  api_default_sources src;
  char *text;
} edited;

static edited edit(int which, const char *from, const char *to) {
  edited e;
  const char *names[4] = {"wdi_central_asia.csv", "capitals.csv",
                          "oil_price.csv", "bilateral_trade_china_ca.csv"};
  api_default_file *slot[4] = {&e.src.wdi, &e.src.capitals, &e.src.oil,
                               &e.src.trade};
  for (int i = 0; i < 4; i++)
    *slot[i] = *api_default_file_find(names[i]);
  const char *orig = slot[which]->text;
  size_t olen = slot[which]->len;
  if (!from) {
    e.text = strdup(to);
  } else {
    const char *at = strstr(orig, from);
    cr_assert_not_null(at, "\"%s\" not in %s", from, names[which]);
    size_t pre = (size_t)(at - orig), fl = strlen(from), tl = strlen(to);
    e.text = malloc(olen - fl + tl + 1);
    memcpy(e.text, orig, pre);
    memcpy(e.text + pre, to, tl);
    memcpy(e.text + pre + tl, at + fl, olen - pre - fl + 1);
  }
  slot[which]->text = e.text;
  slot[which]->len = strlen(e.text);
  return e;
}

/* Builds from the edited sources and expects failure with a message that
 * contains want. */
static void expect_error(edited e, const char *want) {
  char err[512] = "";
  api_default *d = (api_default *)&err; /* must be reset to NULL */
  int rc = api_default_build_from(&e.src, &d, err, sizeof err);
  cr_assert_eq(rc, -1, "expected failure \"%s\"", want);
  cr_assert_null(d);
  cr_assert_not_null(strstr(err, want), "message \"%s\" lacks \"%s\"", err,
                     want);
  free(e.text);
}

Test(default_errors, missing_column) {
  expect_error(edit(0, "iso3,indicator", "iso,indicator"),
               "wdi_central_asia.csv line 1: no column \"iso3\"");
}

Test(default_errors, duplicate_column) {
  expect_error(edit(1, "iso3,", "iso3,iso3,"), "column \"iso3\" appears twice");
}

Test(default_errors, quoted_field) {
  expect_error(edit(1, "KGZ,", "\"KGZ\","), "capitals.csv line 3: field 1");
}

Test(default_errors, not_a_number) {
  expect_error(edit(2, "96.235", "96.2x5"),
               "oil_price.csv line 6: column \"wb_crude_oil_average_usd_bbl\" "
               "is not a number");
}

Test(default_errors, nan_text_is_not_a_number) {
  expect_error(edit(0, "9411.13821903204", "nan"), "is not a number: \"nan\"");
}

Test(default_errors, overflowing_number) {
  expect_error(edit(0, "9411.13821903204", "1e999"), "not a finite number");
}

Test(default_errors, lone_sign_is_not_a_number) {
  expect_error(edit(3, "2200000000", "-"), "not a finite number");
}

Test(default_errors, duplicate_wdi_row) {
  expect_error(
      edit(0, "CHN,NY.GDP.PCAP.PP.CD,2011,", "CHN,NY.GDP.PCAP.PP.CD,2010,"),
      "a second row for CHN NY.GDP.PCAP.PP.CD 2010");
}

Test(default_errors, incomplete_wdi_grid) {
  expect_error(
      edit(0, "CHN,NY.GDP.PCAP.PP.CD,2011,", "CHN,NY.GDP.PCAP.PP.CD,2009,"),
      "no row for CHN NY.GDP.PCAP.PP.CD 2011");
}

Test(default_errors, missing_capital) {
  expect_error(edit(1, "TKM,4939.987", "AFG,4180.438"), "no row for TKM");
}

Test(default_errors, duplicate_capital) {
  expect_error(edit(1, "TKM,4939.987", "KAZ,4939.987"),
               "capitals.csv line 6: a second row for KAZ");
}

Test(default_errors, zero_distance) {
  expect_error(edit(1, "3655.658", "0"), "distance must be > 0");
}

Test(default_errors, missing_oil_year) {
  expect_error(edit(2, "2019,", "2029,"), "oil_price.csv: no row for 2019");
}

Test(default_errors, duplicate_oil_year) {
  expect_error(edit(2, "2019,", "2018,"), "a second row for 2018");
}

Test(default_errors, negative_oil_price) {
  expect_error(edit(2, "61.4075", "-61.4075"), "oil price must be > 0");
}

Test(default_errors, duplicate_chn_total) {
  expect_error(edit(3, "CHN,UZB,2011", "CHN,UZB,2010"),
               "a second CHN total for UZB 2010");
}

Test(default_errors, zero_trade) {
  expect_error(edit(3, "2630000000", "0"), "trade must be > 0");
}

Test(default_errors, empty_trade_value) {
  expect_error(edit(3, "2630000000", ""), "column \"value_usd\" is empty");
}

Test(default_errors, empty_line) {
  expect_error(edit(2, "2012,", "\n2012,"), "oil_price.csv line 4: empty line");
}

Test(default_errors, empty_file) {
  expect_error(edit(1, NULL, ""), "capitals.csv: empty file, no header");
}

Test(default_errors, short_row) {
  expect_error(edit(1, "KGZ,3471.802", "KGZ"),
               "capitals.csv line 3: no field for column "
               "\"distcap_km_from_beijing\"");
}

Test(default_errors, bad_year) {
  expect_error(
      edit(0, "CHN,NY.GDP.PCAP.PP.CD,2011,", "CHN,NY.GDP.PCAP.PP.CD,20x1,"),
      "year is not an integer: \"20x1\"");
}

Test(default_errors, field_too_long) {
  char to[300];
  memset(to, '9', 200);
  memcpy(to + 200, ",", 2);
  expect_error(edit(2, "2015,", to), "longer than 127 bytes");
}

Test(default_errors, too_many_fields) {
  expect_error(edit(2, "2015,", "2015,,,,,,,,,,,,,,,,,,,,"),
               "more than 16 fields");
}

Test(default_errors, nul_byte) {
  edited e = edit(1, "KGZ", "KGZ");
  e.text[5] = '\0';
  expect_error(e, "capitals.csv: contains a NUL byte");
}

Test(default_errors, no_text) {
  edited e = edit(2, NULL, "x");
  e.src.oil.text = NULL;
  expect_error(e, "oil_price.csv: no text");
}

/* The WDI file with the value of every row whose line contains `tag`
 * emptied (a gap). */
static edited blank_wdi(const char *tag) {
  edited e = edit(0, "iso3", "iso3");
  const api_default_file *w = api_default_file_find("wdi_central_asia.csv");
  char *out = malloc(w->len + 1);
  size_t n = 0;
  for (const char *s = w->text; *s;) {
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    char line[256];
    cr_assert_lt(len, sizeof line);
    memcpy(line, s, len);
    line[len] = '\0';
    if (strstr(line, tag)) len = (size_t)(strrchr(line, ',') - line) + 1;
    memcpy(out + n, line, len); /* a blanked line keeps "iso3,ind,year," */
    n += len;
    len = strlen(line);
    if (nl) out[n++] = '\n';
    s += len + (nl ? 1 : 0);
  }
  out[n] = '\0';
  free(e.text);
  e.text = out;
  e.src.wdi.text = out;
  e.src.wdi.len = n;
  return e;
}

/* Without any secure-server value no partner-year is complete, so cbec
 * cannot be formed. */
Test(default_errors, cbec_without_complete_rows) {
  expect_error(blank_wdi(",IT.NET.SECR.P6,"), "cbec: ");
}

/* A negative GDP per capita makes log(pgdp) undefined on fitted rows. */
Test(default_errors, log_of_negative_product) {
  expect_error(edit(0, "CHN,NY.GDP.PCAP.PP.CD,2010,9411.13821903204",
                    "CHN,NY.GDP.PCAP.PP.CD,2010,-9411.13821903204"),
               "design of log(trade) ~ log(pgdp)");
}

/* Gaps that are not filled stay gaps: with KAZ's population blank in 2022 the
 * KAZ 2022 row loses pop, and with it one observation of the default. */
Test(default_errors, blank_values_stay_missing) {
  edited e = blank_wdi("KAZ,SP.POP.TOTL,2022,");
  char err[512] = "";
  api_default *d = NULL;
  cr_assert_eq(api_default_build_from(&e.src, &d, err, sizeof err), 0, "%s",
               err);
  /* An interior gap of a series is interpolated, so pop stays present... */
  cr_assert(isfinite(cell(d, 0, 2022, "pop")));
  const char *kind = NULL;
  cr_assert(isfinite(filled_value(d, "KAZ", "SP.POP.TOTL", 2022, &kind)));
  cr_assert_str_eq(kind, "interpolated");
  api_default_free(d);
  free(e.text);
  /* ...but a trailing one is not carried. */
  e = blank_wdi("KAZ,SP.POP.TOTL,2023,");
  cr_assert_eq(api_default_build_from(&e.src, &d, err, sizeof err), 0, "%s",
               err);
  cr_assert(isnan(cell(d, 0, 2023, "pop")));
  cr_assert_eq(d->n, 12);
  api_default_free(d);
  free(e.text);
}

/* With only two China-reported totals no subset has 5 residual degrees of
 * freedom. */
Test(default_errors, no_identifiable_subset) {
  expect_error(edit(3, NULL,
                    "reporter,partner,year,flow,value_usd\n"
                    "CHN,KAZ,2021,total,25250000000\n"
                    "CHN,KAZ,2022,total,31200000000\n"),
               "no subset of the regressors leaves 5 residual degrees");
}

Test(default_errors, null_arguments) {
  char err[128] = "";
  api_default *d = NULL;
  cr_assert_eq(api_default_build_from(NULL, &d, err, sizeof err), -1);
  cr_assert_null(d);
  cr_assert_str_eq(err, "no sources");
  edited e = edit(2, "2015", "2015");
  cr_assert_eq(api_default_build_from(&e.src, NULL, err, sizeof err), -1);
  cr_assert_str_eq(err, "no output pointer");
  /* No error buffer: still fails cleanly. */
  free(e.text);
  e = edit(2, "61.4075", "-61.4075");
  cr_assert_eq(api_default_build_from(&e.src, &d, NULL, 0), -1);
  cr_assert_null(d);
  free(e.text);
  api_default_free(NULL);
}

/* CRLF line endings and a missing final newline read the same. */
Test(default_errors, crlf_and_no_final_newline_are_accepted) {
  const api_default_file *oil = api_default_file_find("oil_price.csv");
  char *crlf = malloc(oil->len * 2 + 1);
  size_t n = 0;
  for (size_t i = 0; i < oil->len; i++) {
    if (oil->text[i] == '\n') crlf[n++] = '\r';
    crlf[n++] = oil->text[i];
  }
  n -= 2; /* drop the final CRLF */
  crlf[n] = '\0';
  edited e = edit(2, NULL, crlf);
  free(crlf);
  char err[512] = "";
  api_default *a = NULL, *b = build_ok();
  cr_assert_eq(api_default_build_from(&e.src, &a, err, sizeof err), 0, "%s",
               err);
  char *sa = dump(a->data), *sb = dump(b->data);
  cr_assert_str_eq(sa, sb);
  free(sa);
  free(sb);
  free(e.text);
  api_default_free(a);
  api_default_free(b);
}

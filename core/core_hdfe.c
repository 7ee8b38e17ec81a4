/* High-dimensional fixed effects (see core_hdfe.h): factors from a panel,
 * iterative singleton dropping, the weighted within transformation by
 * accelerated alternating projections in the space of the fixed-effect
 * coefficients (as fixest), degrees of freedom absorbed and FE recovery. */
#include "core_hdfe.h"

#include "core_mem.h"

#include <pthread.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Hash maps used to number levels                                          */
/* ------------------------------------------------------------------------ */

/* Open addressing, linear probing; keys are 64-bit codes or strings. */
typedef struct u64map {
  size_t cap; /* power of two */
  uint64_t *key;
  size_t *val;       /* SIZE_MAX = empty slot */
  const char **skey; /* string keys (string maps only) */
} u64map;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static uint64_t str_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return mix64(h);
}

static int map_init(u64map *m, size_t n, bool strings) {
  size_t cap = 16;
  while (cap < 2 * n + 2)
    cap <<= 1;
  m->cap = cap;
  m->key = malloc(cap * sizeof *m->key);
  m->val = malloc(cap * sizeof *m->val);
  m->skey = strings ? malloc(cap * sizeof *m->skey) : NULL;
  if (!m->key || !m->val || (strings && !m->skey)) return -1;
  for (size_t i = 0; i < cap; i++)
    m->val[i] = SIZE_MAX;
  return 0;
}

static void map_free(u64map *m) {
  free(m->key);
  free(m->val);
  free(m->skey);
  memset(m, 0, sizeof *m);
}

/* Id of key, inserting it with id *next (then incremented) when new. */
static size_t map_get_u64(u64map *m, uint64_t key, size_t *next) {
  size_t mask = m->cap - 1, i = (size_t)mix64(key) & mask;
  while (m->val[i] != SIZE_MAX) {
    if (m->key[i] == key) return m->val[i];
    i = (i + 1) & mask;
  }
  m->key[i] = key;
  m->val[i] = (*next)++;
  return m->val[i];
}

static size_t map_get_str(u64map *m, const char *s, size_t *next) {
  uint64_t h = str_hash(s);
  size_t mask = m->cap - 1, i = (size_t)h & mask;
  while (m->val[i] != SIZE_MAX) {
    if (m->key[i] == h && strcmp(m->skey[i], s) == 0) return m->val[i];
    i = (i + 1) & mask;
  }
  m->key[i] = h;
  m->skey[i] = s;
  m->val[i] = (*next)++;
  return m->val[i];
}

/* ------------------------------------------------------------------------ */
/* Factors from a panel                                                     */
/* ------------------------------------------------------------------------ */

/* Codes of one part of a label (reporter, partner, year or a numeric
 * column) for the used rows, in first-appearance order; NO_LEVEL when
 * missing or unused. */
static core_status part_codes(const core_panel *p, const char *name,
                              const bool *use, size_t *code, size_t *n_codes,
                              core_err *err) {
  const char *const *strs = NULL;
  const double *vals = NULL;
  const int *years = NULL;
  if (strcmp(name, "reporter") == 0) {
    strs = (const char *const *)p->reporter;
  } else if (strcmp(name, "partner") == 0) {
    strs = (const char *const *)p->partner;
  } else if (strcmp(name, "year") == 0 && p->year &&
             core_panel_find(p, "year") >= (long)p->ncol) {
    years = p->year;
  } else {
    vals = core_panel_column(p, name);
  }
  if (!strs && !vals && !years) {
    core_err_set(err, CORE_EUNKNOWN_VAR,
                 "fixed effect '%s' is neither a key of the data nor a "
                 "numeric column",
                 name);
    if (err) snprintf(err->name, sizeof err->name, "%s", name);
    return CORE_EUNKNOWN_VAR;
  }
  u64map m;
  memset(&m, 0, sizeof m);
  if (map_init(&m, p->n, strs != NULL) != 0) {
    map_free(&m);
    return core_err_set(err, CORE_ENOMEM, "out of memory numbering '%s'", name);
  }
  size_t next = 0;
  for (size_t i = 0; i < p->n; i++) {
    code[i] = CORE_HDFE_NO_LEVEL;
    if (use && !use[i]) continue;
    if (strs) {
      if (strs[i]) code[i] = map_get_str(&m, strs[i], &next);
    } else if (years) {
      code[i] = map_get_u64(&m, (uint64_t)(int64_t)years[i], &next);
    } else if (!isnan(vals[i])) {
      double v = vals[i] == 0.0 ? 0.0 : vals[i]; /* -0 and 0 alike */
      uint64_t bits;
      memcpy(&bits, &v, sizeof bits);
      code[i] = map_get_u64(&m, bits, &next);
    }
  }
  map_free(&m);
  *n_codes = next;
  return CORE_OK;
}

core_status core_factor_from_panel(const core_panel *p, const char *label,
                                   const bool *use, size_t *levels_out,
                                   size_t *n_levels, core_err *err) {
  if (!p || !label || !levels_out || !n_levels)
    return core_err_set(err, CORE_EINVAL,
                        "core_factor_from_panel: NULL argument");
  size_t len = strlen(label);
  if (len == 0 || len >= 1024)
    return core_err_set(err, CORE_EINVAL,
                        "fixed-effect label is empty or too long");
  char buf[1024];
  memcpy(buf, label, len + 1);
  const char *parts[CORE_HDFE_MAX_FACTORS];
  size_t np = 0;
  char *s = buf;
  for (;;) {
    char *caret = strchr(s, '^');
    if (caret) *caret = '\0';
    while (*s == ' ')
      s++;
    size_t pl = strlen(s);
    while (pl > 0 && s[pl - 1] == ' ')
      s[--pl] = '\0';
    if (pl == 0 || np == CORE_HDFE_MAX_FACTORS)
      return core_err_set(err, CORE_EINVAL, "malformed fixed-effect label '%s'",
                          label);
    parts[np++] = s;
    if (!caret) break;
    s = caret + 1;
  }
  size_t n = p->n;
  size_t *code = NULL;
  core_status st = part_codes(p, parts[0], use, levels_out, n_levels, err);
  if (st != CORE_OK || np == 1) return st;
  code = core_alloc(n, sizeof *code);
  if (!code)
    return core_err_set(err, CORE_ENOMEM, "out of memory building '%s'", label);
  for (size_t k = 1; k < np; k++) {
    size_t nc = 0;
    st = part_codes(p, parts[k], use, code, &nc, err);
    if (st != CORE_OK) break;
    u64map m;
    memset(&m, 0, sizeof m);
    if (map_init(&m, n, false) != 0) {
      map_free(&m);
      st = core_err_set(err, CORE_ENOMEM, "out of memory building '%s'", label);
      break;
    }
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
      if (levels_out[i] == CORE_HDFE_NO_LEVEL ||
          code[i] == CORE_HDFE_NO_LEVEL) {
        levels_out[i] = CORE_HDFE_NO_LEVEL;
        continue;
      }
      /* Both codes are < n, so the pair fits in 64 bits for any n we can
       * hold in memory (n < 2^32). */
      uint64_t key =
          (uint64_t)levels_out[i] * (uint64_t)(nc ? nc : 1) + (uint64_t)code[i];
      levels_out[i] = map_get_u64(&m, key, &next);
    }
    map_free(&m);
    *n_levels = next;
  }
  free(code);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Singletons                                                               */
/* ------------------------------------------------------------------------ */

static core_status check_factors(size_t n, size_t nf,
                                 const size_t *const *levels,
                                 const size_t *n_levels, const bool *keep,
                                 bool allow_missing, core_err *err) {
  if (!levels || !n_levels)
    return core_err_set(err, CORE_EINVAL, "no factors given");
  if (nf == 0 || nf > CORE_HDFE_MAX_FACTORS)
    return core_err_set(err, CORE_EINVAL, "number of factors %zu not in 1..%d",
                        nf, CORE_HDFE_MAX_FACTORS);
  for (size_t f = 0; f < nf; f++) {
    if (!levels[f])
      return core_err_set(err, CORE_EINVAL, "factor %zu has no levels", f);
    if (n_levels[f] >= UINT32_MAX)
      return core_err_set(err, CORE_EINVAL, "factor %zu has too many levels",
                          f);
    for (size_t i = 0; i < n; i++) {
      if (keep && !keep[i]) continue;
      size_t l = levels[f][i];
      if (l == CORE_HDFE_NO_LEVEL && allow_missing) continue;
      if (l >= n_levels[f]) {
        core_err_set(err, CORE_EINVAL,
                     "factor %zu: row %zu has level %s outside 0..%zu", f, i,
                     l == CORE_HDFE_NO_LEVEL ? "missing" : "id", n_levels[f]);
        core_err_add_row(err, i);
        return CORE_EINVAL;
      }
    }
  }
  return CORE_OK;
}

core_status core_hdfe_drop_singletons(size_t n, size_t nf,
                                      const size_t *const *levels,
                                      const size_t *n_levels, bool *keep,
                                      size_t *n_dropped, core_err *err) {
  if (!keep) return core_err_set(err, CORE_EINVAL, "no keep mask given");
  core_status st = check_factors(n, nf, levels, n_levels, keep, true, err);
  if (st != CORE_OK) return st;
  for (size_t i = 0; i < n; i++) {
    if (!keep[i]) continue;
    for (size_t f = 0; f < nf; f++)
      if (levels[f][i] == CORE_HDFE_NO_LEVEL) keep[i] = false;
  }
  size_t total = 0;
  for (size_t f = 0; f < nf; f++)
    total += n_levels[f];
  size_t *cnt = malloc((total ? total : 1) * sizeof *cnt);
  if (!cnt)
    return core_err_set(err, CORE_ENOMEM, "out of memory finding singletons");
  size_t dropped = 0;
  for (;;) {
    memset(cnt, 0, (total ? total : 1) * sizeof *cnt);
    size_t off = 0;
    for (size_t f = 0; f < nf; f++) {
      for (size_t i = 0; i < n; i++)
        if (keep[i]) cnt[off + levels[f][i]]++;
      off += n_levels[f];
    }
    size_t now = 0;
    for (size_t i = 0; i < n; i++) {
      if (!keep[i]) continue;
      off = 0;
      for (size_t f = 0; f < nf; f++) {
        if (cnt[off + levels[f][i]] == 1) {
          keep[i] = false;
          now++;
          break;
        }
        off += n_levels[f];
      }
    }
    dropped += now;
    if (now == 0) break;
  }
  free(cnt);
  if (n_dropped) *n_dropped = dropped;
  return CORE_OK;
}

/* ------------------------------------------------------------------------ */
/* The factor structure                                                     */
/* ------------------------------------------------------------------------ */

/* The scratch of one column's solve. */
typedef struct hdfe_ws {
  double *S;            /* Ltot: weighted sums of the column per level */
  double *coef;         /* Ltot: current coefficients */
  double *acc;          /* Ltot */
  double *X, *GX, *GGX; /* iterate vectors (LB for two factors, else Ltot) */
} hdfe_ws;

static void ws_free(hdfe_ws *ws) {
  free(ws->S);
  free(ws->coef);
  free(ws->acc);
  free(ws->X);
  free(ws->GX);
  free(ws->GGX);
  memset(ws, 0, sizeof *ws);
}

static bool ws_alloc(hdfe_ws *ws, size_t Ltot, size_t itlen) {
  size_t Lt = Ltot ? Ltot : 1, il = itlen ? itlen : 1;
  ws->S = malloc(Lt * sizeof *ws->S);
  ws->coef = malloc(Lt * sizeof *ws->coef);
  ws->acc = malloc(Lt * sizeof *ws->acc);
  ws->X = malloc(il * sizeof *ws->X);
  ws->GX = malloc(il * sizeof *ws->GX);
  ws->GGX = malloc(il * sizeof *ws->GGX);
  if (!ws->S || !ws->coef || !ws->acc || !ws->X || !ws->GX || !ws->GGX) {
    ws_free(ws);
    return false;
  }
  return true;
}

struct core_hdfe {
  size_t n, m, nf;
  size_t *rows;                          /* m original rows */
  uint32_t *lev[CORE_HDFE_MAX_FACTORS];  /* m compact ids per factor */
  size_t L[CORE_HDFE_MAX_FACTORS];       /* compact levels */
  size_t off[CORE_HDFE_MAX_FACTORS + 1]; /* offsets into coefficient space */
  size_t caller_L[CORE_HDFE_MAX_FACTORS];
  size_t *orig[CORE_HDFE_MAX_FACTORS]; /* compact id -> caller id */
  size_t Ltot;
  double *W;     /* Ltot: sum of weights per level (current weights) */
  double *cnt;   /* Ltot: counts (unit weights) */
  bool weighted; /* W currently holds weighted sums */
  /* Two factors: cross-table of (A, B) cells in CSR by A. */
  size_t nnz;
  size_t *cptr;   /* LA + 1 */
  uint32_t *cB;   /* nnz: B level of each cell */
  double *cW;     /* nnz: weight of each cell (current weights) */
  double *cN;     /* nnz: count of each cell */
  uint32_t *cell; /* m: cell of each row */
  size_t components;
  /* Workspaces (coefficient space): ws[0] always, ws[1] for a second
   * thread (allocated on first use, see demean_parallel). */
  hdfe_ws ws[2];
};

size_t core_hdfe_n_obs(const core_hdfe *h) {
  return h ? h->m : 0;
}
size_t core_hdfe_n_factors(const core_hdfe *h) {
  return h ? h->nf : 0;
}
const size_t *core_hdfe_rows(const core_hdfe *h) {
  return h ? h->rows : NULL;
}
size_t core_hdfe_n_levels(const core_hdfe *h, size_t f) {
  return (h && f < h->nf) ? h->L[f] : 0;
}
size_t core_hdfe_components(const core_hdfe *h) {
  return h ? h->components : 0;
}

void core_hdfe_free(core_hdfe *h) {
  if (!h) return;
  free(h->rows);
  for (size_t f = 0; f < CORE_HDFE_MAX_FACTORS; f++) {
    free(h->lev[f]);
    free(h->orig[f]);
  }
  free(h->W);
  free(h->cnt);
  free(h->cptr);
  free(h->cB);
  free(h->cW);
  free(h->cN);
  free(h->cell);
  ws_free(&h->ws[0]);
  ws_free(&h->ws[1]);
  free(h);
}

static size_t uf_find(size_t *parent, size_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

/* Connected components of the bipartite graph of factors f and g. Returns
 * 0 on allocation failure. */
static size_t pair_components(const core_hdfe *h, size_t f, size_t g) {
  size_t nn = h->L[f] + h->L[g];
  size_t *parent = malloc((nn ? nn : 1) * sizeof *parent);
  if (!parent) return 0;
  for (size_t i = 0; i < nn; i++)
    parent[i] = i;
  size_t comps = nn;
  for (size_t i = 0; i < h->m; i++) {
    size_t a = uf_find(parent, h->lev[f][i]);
    size_t b = uf_find(parent, h->L[f] + h->lev[g][i]);
    if (a != b) {
      parent[a] = b;
      comps--;
    }
  }
  free(parent);
  return comps;
}

/* The cross-table through a dense LA x LB table of cell ids, when that
 * table is small (at most 4 cells per row): two passes over the rows and
 * one over the table, against the sort's four passes of scattered reads
 * and writes. Cells of a level of A are in B order. Returns 0, -1 when out
 * of memory. */
static int build_crosstab_dense(core_hdfe *h) {
  size_t LA = h->L[0], LB = h->L[1], m = h->m, ncell = LA * LB;
  const uint32_t *la = h->lev[0], *lb = h->lev[1];
  uint32_t *id = core_alloc(ncell, sizeof *id);
  h->cptr = calloc(LA + 1, sizeof *h->cptr);
  h->cell = core_alloc(m, sizeof *h->cell);
  if (!id || !h->cptr || !h->cell) {
    free(id);
    return -1;
  }
  memset(id, 0, ncell * sizeof *id);
  for (size_t i = 0; i < m; i++)
    id[(size_t)la[i] * LB + lb[i]] = 1;
  size_t nnz = 0;
  for (size_t c = 0; c < ncell; c++)
    nnz += id[c];
  h->nnz = nnz;
  h->cB = malloc((nnz ? nnz : 1) * sizeof *h->cB);
  h->cW = malloc((nnz ? nnz : 1) * sizeof *h->cW);
  h->cN = calloc(nnz ? nnz : 1, sizeof *h->cN);
  if (!h->cB || !h->cW || !h->cN) {
    free(id);
    return -1;
  }
  size_t k = 0;
  for (size_t a = 0; a < LA; a++) {
    h->cptr[a] = k;
    uint32_t *row = id + a * LB;
    for (size_t b = 0; b < LB; b++)
      if (row[b]) {
        row[b] = (uint32_t)k;
        h->cB[k++] = (uint32_t)b;
      }
  }
  h->cptr[LA] = k;
  for (size_t i = 0; i < m; i++) {
    uint32_t c = id[(size_t)la[i] * LB + lb[i]];
    h->cell[i] = c;
    h->cN[c] += 1.0;
  }
  free(id);
  return 0;
}

/* Builds the A-B cross-table (two factors). */
static int build_crosstab(core_hdfe *h) {
  if (h->L[0] > 0 && h->L[1] <= (4 * h->m + 1024) / h->L[0])
    return build_crosstab_dense(h);
  size_t LA = h->L[0], LB = h->L[1], m = h->m;
  size_t *order = NULL, *pos = NULL;
  int rc = -1;
  h->cptr = calloc(LA + 1, sizeof *h->cptr);
  h->cell = core_alloc(m, sizeof *h->cell);
  order = core_alloc(m, sizeof *order);
  pos = malloc((LB ? LB : 1) * sizeof *pos);
  if (!h->cptr || !h->cell || !order || !pos) goto cleanup;
  /* Counting sort of the rows by A. */
  size_t *start = h->cptr; /* reuse as bucket starts, rebuilt below */
  for (size_t i = 0; i < m; i++)
    start[h->lev[0][i] + 1]++;
  for (size_t a = 0; a < LA; a++)
    start[a + 1] += start[a];
  size_t *fill = malloc((LA ? LA : 1) * sizeof *fill);
  if (!fill) goto cleanup;
  memcpy(fill, start, LA * sizeof *fill);
  for (size_t i = 0; i < m; i++)
    order[fill[h->lev[0][i]]++] = i;
  free(fill);
  /* Count distinct B within each A. */
  for (size_t b = 0; b < LB; b++)
    pos[b] = SIZE_MAX;
  size_t nnz = 0;
  for (size_t a = 0; a < LA; a++) {
    for (size_t k = start[a]; k < start[a + 1]; k++) {
      size_t b = h->lev[1][order[k]];
      if (pos[b] != a) {
        pos[b] = a;
        nnz++;
      }
    }
  }
  h->nnz = nnz;
  h->cB = malloc((nnz ? nnz : 1) * sizeof *h->cB);
  h->cW = malloc((nnz ? nnz : 1) * sizeof *h->cW);
  h->cN = calloc(nnz ? nnz : 1, sizeof *h->cN);
  if (!h->cB || !h->cW || !h->cN) goto cleanup;
  /* pos[b] now holds the cell index of b within the current A. */
  size_t *cellpos = pos;
  for (size_t b = 0; b < LB; b++)
    cellpos[b] = SIZE_MAX;
  size_t *rowA = malloc((LA + 1) * sizeof *rowA);
  if (!rowA) goto cleanup;
  size_t c = 0;
  for (size_t a = 0; a < LA; a++) {
    rowA[a] = c;
    size_t first = c;
    for (size_t k = start[a]; k < start[a + 1]; k++) {
      size_t i = order[k];
      size_t b = h->lev[1][i];
      if (cellpos[b] == SIZE_MAX || cellpos[b] < first) {
        cellpos[b] = c;
        h->cB[c] = (uint32_t)b;
        c++;
      }
      h->cell[i] = (uint32_t)cellpos[b];
      h->cN[cellpos[b]] += 1.0;
    }
  }
  rowA[LA] = c;
  memcpy(h->cptr, rowA, (LA + 1) * sizeof *rowA);
  free(rowA);
  rc = 0;
cleanup:
  free(order);
  free(pos);
  return rc;
}

typedef struct comp_job {
  const core_hdfe *h;
  size_t components; /* out: 0 on allocation failure */
} comp_job;

static void *comp_worker(void *arg) {
  comp_job *j = arg;
  j->components = pair_components(j->h, 0, 1);
  return NULL;
}

/* Length of the iterate vectors: LB with two factors, else Ltot. */
static size_t itlen_of(const core_hdfe *h) {
  return h->nf == 2 ? h->L[1] : h->Ltot;
}

core_status core_hdfe_alloc(size_t n, size_t nf, const size_t *const *levels,
                            const size_t *n_levels, const bool *keep,
                            core_hdfe **out, core_err *err) {
  if (out) *out = NULL;
  if (!out) return core_err_set(err, CORE_EINVAL, "core_hdfe_alloc: no out");
  core_status st = check_factors(n, nf, levels, n_levels, keep, false, err);
  if (st != CORE_OK) return st;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (!keep || keep[i]) m++;
  if (m == 0)
    return core_err_set(err, CORE_ETOOFEW,
                        "no observation left for the fixed effects");
  if (m >= UINT32_MAX)
    return core_err_set(err, CORE_EINVAL, "too many observations (%zu)", m);
  core_hdfe *h = calloc(1, sizeof *h);
  size_t *map = NULL;
  if (!h) goto nomem;
  h->n = n;
  h->m = m;
  h->nf = nf;
  h->rows = core_alloc(m, sizeof *h->rows);
  if (!h->rows) goto nomem;
  for (size_t i = 0, j = 0; i < n; i++)
    if (!keep || keep[i]) h->rows[j++] = i;
  size_t maxL = 1;
  for (size_t f = 0; f < nf; f++)
    if (n_levels[f] > maxL) maxL = n_levels[f];
  map = malloc(maxL * sizeof *map);
  if (!map) goto nomem;
  for (size_t f = 0; f < nf; f++) {
    h->caller_L[f] = n_levels[f];
    h->lev[f] = core_alloc(m, sizeof *h->lev[f]);
    if (!h->lev[f]) goto nomem;
    for (size_t l = 0; l < n_levels[f]; l++)
      map[l] = SIZE_MAX;
    size_t next = 0;
    /* Compact ids follow the caller's ids in increasing order, so the
     * "first level" of the normalisation is the lowest caller id. */
    for (size_t j = 0; j < m; j++)
      map[levels[f][h->rows[j]]] = 0;
    for (size_t l = 0; l < n_levels[f]; l++)
      if (map[l] == 0) map[l] = next++;
    h->L[f] = next;
    h->orig[f] = malloc((next ? next : 1) * sizeof *h->orig[f]);
    if (!h->orig[f]) goto nomem;
    for (size_t l = 0; l < n_levels[f]; l++)
      if (map[l] != SIZE_MAX) h->orig[f][map[l]] = l;
    for (size_t j = 0; j < m; j++)
      h->lev[f][j] = (uint32_t)map[levels[f][h->rows[j]]];
  }
  h->off[0] = 0;
  for (size_t f = 0; f < nf; f++)
    h->off[f + 1] = h->off[f] + h->L[f];
  h->Ltot = h->off[nf];
  size_t Lt = h->Ltot ? h->Ltot : 1;
  h->W = malloc(Lt * sizeof *h->W);
  h->cnt = calloc(Lt, sizeof *h->cnt);
  if (!h->W || !h->cnt || !ws_alloc(&h->ws[0], h->Ltot, itlen_of(h)))
    goto nomem;
  for (size_t f = 0; f < nf; f++)
    for (size_t j = 0; j < m; j++)
      h->cnt[h->off[f] + h->lev[f][j]] += 1.0;
  memcpy(h->W, h->cnt, h->Ltot * sizeof *h->W);
  h->weighted = false;
  if (nf == 2) {
    /* The components (union-find over the rows) on a second thread while
     * this one builds the cross-table: both only read the level ids. */
    comp_job cj = {h, 0};
    pthread_t th;
    bool two = m >= CORE_HDFE_PARALLEL_MIN &&
               pthread_create(&th, NULL, comp_worker, &cj) == 0;
    int ct = build_crosstab(h);
    if (two)
      pthread_join(th, NULL);
    else
      comp_worker(&cj);
    if (ct != 0) goto nomem;
    memcpy(h->cW, h->cN, h->nnz * sizeof *h->cW);
    h->components = cj.components;
    if (h->components == 0) goto nomem;
  } else {
    h->components = 1;
  }
  free(map);
  *out = h;
  return CORE_OK;
nomem:
  free(map);
  core_hdfe_free(h);
  return core_err_set(err, CORE_ENOMEM,
                      "out of memory building the fixed-effect structure");
}

/* ------------------------------------------------------------------------ */
/* Demeaning                                                                */
/* ------------------------------------------------------------------------ */

static core_status set_weights(core_hdfe *h, const double *w, core_err *err) {
  if (!w) {
    if (h->weighted) {
      memcpy(h->W, h->cnt, h->Ltot * sizeof *h->W);
      if (h->nf == 2) memcpy(h->cW, h->cN, h->nnz * sizeof *h->cW);
      h->weighted = false;
    }
    return CORE_OK;
  }
  for (size_t i = 0; i < h->m; i++) {
    if (!(isfinite(w[i]) && w[i] > 0)) {
      core_err_set(err, CORE_EINVAL,
                   "weight of observation %zu is not finite and > 0", i);
      core_err_add_row(err, h->rows[i]);
      return CORE_EINVAL;
    }
  }
  memset(h->W, 0, h->Ltot * sizeof *h->W);
  for (size_t f = 0; f < h->nf; f++) {
    double *Wf = h->W + h->off[f];
    const uint32_t *lf = h->lev[f];
    for (size_t i = 0; i < h->m; i++)
      Wf[lf[i]] += w[i];
  }
  if (h->nf == 2) {
    memset(h->cW, 0, h->nnz * sizeof *h->cW);
    for (size_t i = 0; i < h->m; i++)
      h->cW[h->cell[i]] += w[i];
  }
  h->weighted = true;
  return CORE_OK;
}

/* Two factors: one sweep beta -> beta' through alpha (stored in coef). */
static void sweep2(const core_hdfe *h, hdfe_ws *ws, const double *beta,
                   double *out) {
  size_t LA = h->L[0], LB = h->L[1];
  const double *SA = ws->S, *SB = ws->S + LA;
  const double *WA = h->W, *WB = h->W + LA;
  double *alpha = ws->coef;
  for (size_t a = 0; a < LA; a++) {
    double s = SA[a];
    for (size_t c = h->cptr[a]; c < h->cptr[a + 1]; c++)
      s -= h->cW[c] * beta[h->cB[c]];
    alpha[a] = s / WA[a];
  }
  memcpy(out, SB, LB * sizeof *out);
  for (size_t a = 0; a < LA; a++) {
    double al = alpha[a];
    for (size_t c = h->cptr[a]; c < h->cptr[a + 1]; c++)
      out[h->cB[c]] -= h->cW[c] * al;
  }
  for (size_t b = 0; b < LB; b++)
    out[b] /= WB[b];
}

/* Three or more factors: one Gauss-Seidel sweep over the factors, from
 * coefficients in to out (both Ltot). */
static void sweepQ(const core_hdfe *h, hdfe_ws *ws, const double *x,
                   const double *w, const double *in, double *out) {
  size_t nf = h->nf, m = h->m;
  memcpy(out, in, h->Ltot * sizeof *out);
  for (size_t q = 0; q < nf; q++) {
    double *acc = ws->acc + h->off[q];
    memset(acc, 0, h->L[q] * sizeof *acc);
    const uint32_t *lq = h->lev[q];
    for (size_t i = 0; i < m; i++) {
      double r = x[i];
      for (size_t f = 0; f < nf; f++)
        if (f != q) r -= out[h->off[f] + h->lev[f][i]];
      acc[lq[i]] += w ? w[i] * r : r;
    }
    double *oq = out + h->off[q];
    const double *Wq = h->W + h->off[q];
    for (size_t l = 0; l < h->L[q]; l++)
      oq[l] = acc[l] / Wq[l];
  }
}

static double max_abs_diff(const double *a, const double *b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs(a[i] - b[i]);
    if (e > d || isnan(e)) d = e;
  }
  return d;
}

/* Solves for the coefficients of column x: on return ws->coef holds them
 * (compact ids). Returns whether it converged. */
static bool solve_column(const core_hdfe *h, hdfe_ws *ws, const double *x,
                         const double *w, double tol, size_t max_iter,
                         size_t *iters, double *rel_change) {
  size_t m = h->m, nf = h->nf;
  double scale = 0;
  for (size_t i = 0; i < m; i++)
    if (fabs(x[i]) > scale) scale = fabs(x[i]);
  memset(ws->coef, 0, h->Ltot * sizeof *ws->coef);
  *iters = 0;
  *rel_change = 0;
  if (scale == 0) return true;
  memset(ws->S, 0, h->Ltot * sizeof *ws->S);
  for (size_t f = 0; f < nf; f++) {
    double *Sf = ws->S + h->off[f];
    const uint32_t *lf = h->lev[f];
    if (w)
      for (size_t i = 0; i < m; i++)
        Sf[lf[i]] += w[i] * x[i];
    else
      for (size_t i = 0; i < m; i++)
        Sf[lf[i]] += x[i];
  }
  if (nf == 1) {
    for (size_t l = 0; l < h->L[0]; l++)
      ws->coef[l] = ws->S[l] / h->W[l];
    *iters = 1;
    return true;
  }
  size_t len = nf == 2 ? h->L[1] : h->Ltot;
  double thresh = tol * scale;
  double *X = ws->X, *GX = ws->GX, *GGX = ws->GGX;
  memset(X, 0, len * sizeof *X);
  /* In the two-factor case coef holds alpha after each sweep; otherwise
   * X holds all coefficients. */
  for (size_t it = 0; it < max_iter; it++) {
    *iters = it + 1;
    if (nf == 2)
      sweep2(h, ws, X, GX);
    else
      sweepQ(h, ws, x, w, X, GX);
    double d = max_abs_diff(GX, X, len);
    *rel_change = d / scale;
    if (d <= thresh) {
      memcpy(X, GX, len * sizeof *X);
      goto done;
    }
    if (nf == 2)
      sweep2(h, ws, GX, GGX);
    else
      sweepQ(h, ws, x, w, GX, GGX);
    d = max_abs_diff(GGX, GX, len);
    *rel_change = d / scale;
    if (d <= thresh) {
      memcpy(X, GGX, len * sizeof *X);
      goto done;
    }
    /* Irons-Tuck: X' = GGX - (dGX . d2X / d2X . d2X) dGX. */
    double num = 0, den = 0;
    for (size_t i = 0; i < len; i++) {
      double dg = GGX[i] - GX[i];
      double d2 = dg - GX[i] + X[i];
      num += dg * d2;
      den += d2 * d2;
    }
    double t = (den > 0 && isfinite(num / den)) ? num / den : 0.0;
    for (size_t i = 0; i < len; i++)
      X[i] = GGX[i] - t * (GGX[i] - GX[i]);
  }
  /* Not converged: leave the last iterate in coef. */
  if (nf == 2)
    sweep2(h, ws, X, GX); /* alpha consistent with X; GX discarded */
  else
    memcpy(ws->coef, X, h->Ltot * sizeof *ws->coef);
  if (nf == 2) memcpy(ws->coef + h->L[0], X, h->L[1] * sizeof *X);
  return false;
done:
  if (nf == 2) {
    /* alpha for the final beta, then store beta after alpha. */
    sweep2(h, ws, X, GX);
    memcpy(ws->coef + h->L[0], X, h->L[1] * sizeof *X);
  } else {
    memcpy(ws->coef, X, h->Ltot * sizeof *ws->coef);
  }
  return true;
}

static core_status check_opts(const core_hdfe_opts *opts, double *tol,
                              size_t *max_iter, core_err *err) {
  *tol = CORE_HDFE_DEFAULT_TOL;
  *max_iter = CORE_HDFE_DEFAULT_MAX_ITER;
  if (!opts) return CORE_OK;
  if (!(opts->tol > 0) || !isfinite(opts->tol) || opts->max_iter < 1)
    return core_err_set(err, CORE_EINVAL,
                        "demeaning options need tol > 0 and max_iter >= 1");
  *tol = opts->tol;
  *max_iter = opts->max_iter;
  return CORE_OK;
}

static core_status check_column(const core_hdfe *h, const double *x,
                                core_err *err) {
  for (size_t i = 0; i < h->m; i++) {
    if (!isfinite(x[i])) {
      core_err_set(err, CORE_EINVAL,
                   "a column to demean has a non-finite value");
      core_err_add_row(err, h->rows[i]);
      return CORE_EINVAL;
    }
  }
  return CORE_OK;
}

/* Solves column x and subtracts its fitted effects. */
static bool demean_column(const core_hdfe *h, hdfe_ws *ws, double *x,
                          const double *w, double tol, size_t max_iter,
                          size_t *it, double *ch) {
  size_t m = h->m, nf = h->nf;
  bool conv = solve_column(h, ws, x, w, tol, max_iter, it, ch);
  if (nf == 1) {
    const uint32_t *l0 = h->lev[0];
    for (size_t i = 0; i < m; i++)
      x[i] -= ws->coef[l0[i]];
  } else if (nf == 2) {
    const uint32_t *l0 = h->lev[0], *l1 = h->lev[1];
    const double *a = ws->coef, *b = ws->coef + h->L[0];
    for (size_t i = 0; i < m; i++)
      x[i] -= a[l0[i]] + b[l1[i]];
  } else {
    for (size_t i = 0; i < m; i++) {
      double s = 0;
      for (size_t f = 0; f < nf; f++)
        s += ws->coef[h->off[f] + h->lev[f][i]];
      x[i] -= s;
    }
  }
  return conv;
}

/* Columns first, first + stride, ... of one demeaning call. */
typedef struct demean_job {
  const core_hdfe *h;
  hdfe_ws *ws;
  double *const *cols;
  size_t k;
  const double *w;
  double tol;
  size_t max_iter;
  size_t first, stride;
  bool conv;           /* out: every column converged */
  size_t worst_it;     /* out */
  double worst_change; /* out */
} demean_job;

static void *demean_worker(void *arg) {
  demean_job *j = arg;
  for (size_t c = j->first; c < j->k; c += j->stride) {
    size_t it;
    double ch;
    if (!demean_column(j->h, j->ws, j->cols[c], j->w, j->tol, j->max_iter, &it,
                       &ch))
      j->conv = false;
    if (it > j->worst_it) j->worst_it = it;
    if (ch > j->worst_change) j->worst_change = ch;
  }
  return NULL;
}

core_status core_hdfe_demean(core_hdfe *h, double *const *cols, size_t k,
                             const double *w, const core_hdfe_opts *opts,
                             core_hdfe_info *info, core_err *err) {
  if (info) {
    info->iterations = 0;
    info->converged = false;
    info->max_change = 0;
  }
  if (!h || (k > 0 && !cols))
    return core_err_set(err, CORE_EINVAL, "core_hdfe_demean: NULL argument");
  double tol;
  size_t max_iter;
  core_status st = check_opts(opts, &tol, &max_iter, err);
  if (st != CORE_OK) return st;
  for (size_t j = 0; j < k; j++) {
    if (!cols[j])
      return core_err_set(err, CORE_EINVAL, "column %zu to demean is NULL", j);
    if ((st = check_column(h, cols[j], err)) != CORE_OK) return st;
  }
  if ((st = set_weights(h, w, err)) != CORE_OK) return st;
  demean_job job[2];
  for (int t = 0; t < 2; t++)
    job[t] = (demean_job){h,        &h->ws[t], cols, k,    w, tol,
                          max_iter, (size_t)t, 2,    true, 0, 0};
  bool two = false;
  /* A second thread takes every other column when there is enough work
   * (bit-for-bit the same result: each column is solved on its own). */
  if (k >= 2 && h->m * k >= CORE_HDFE_PARALLEL_MIN &&
      (h->ws[1].S != NULL || ws_alloc(&h->ws[1], h->Ltot, itlen_of(h)))) {
    pthread_t th;
    if (pthread_create(&th, NULL, demean_worker, &job[1]) == 0) {
      demean_worker(&job[0]);
      pthread_join(th, NULL);
      two = true;
    }
  }
  if (!two) {
    job[0].stride = 1;
    demean_worker(&job[0]);
  }
  bool all_conv = job[0].conv && (!two || job[1].conv);
  size_t worst_it = job[0].worst_it;
  double worst_change = job[0].worst_change;
  if (two && job[1].worst_it > worst_it) worst_it = job[1].worst_it;
  if (two && job[1].worst_change > worst_change)
    worst_change = job[1].worst_change;
  if (info) {
    info->iterations = worst_it;
    info->converged = all_conv;
    info->max_change = worst_change;
  }
  if (!all_conv)
    return core_err_set(err, CORE_ENOCONV,
                        "the fixed-effect demeaning did not converge in %zu "
                        "iterations (last relative change %.3g, tolerance "
                        "%.3g)",
                        max_iter, worst_change, tol);
  return CORE_OK;
}

core_status core_hdfe_recover_fe(core_hdfe *h, const double *r, const double *w,
                                 const core_hdfe_opts *opts, double *const *fe,
                                 core_hdfe_info *info, core_err *err) {
  if (info) {
    info->iterations = 0;
    info->converged = false;
    info->max_change = 0;
  }
  if (!h || !r || !fe)
    return core_err_set(err, CORE_EINVAL,
                        "core_hdfe_recover_fe: NULL argument");
  for (size_t f = 0; f < h->nf; f++)
    if (!fe[f])
      return core_err_set(err, CORE_EINVAL, "no output array for factor %zu",
                          f);
  double tol;
  size_t max_iter;
  core_status st = check_opts(opts, &tol, &max_iter, err);
  if (st != CORE_OK) return st;
  if ((st = check_column(h, r, err)) != CORE_OK) return st;
  if ((st = set_weights(h, w, err)) != CORE_OK) return st;
  size_t it;
  double ch;
  hdfe_ws *ws = &h->ws[0];
  bool conv = solve_column(h, ws, r, w, tol, max_iter, &it, &ch);
  /* Normalise: the first level of every factor f >= 1 is 0. */
  for (size_t f = 1; f < h->nf; f++) {
    double c = ws->coef[h->off[f]];
    for (size_t l = 0; l < h->L[f]; l++)
      ws->coef[h->off[f] + l] -= c;
    for (size_t l = 0; l < h->L[0]; l++)
      ws->coef[l] += c;
  }
  for (size_t f = 0; f < h->nf; f++) {
    for (size_t l = 0; l < h->caller_L[f]; l++)
      fe[f][l] = NAN;
    for (size_t l = 0; l < h->L[f]; l++)
      fe[f][h->orig[f][l]] = ws->coef[h->off[f] + l];
  }
  if (info) {
    info->iterations = it;
    info->converged = conv;
    info->max_change = ch;
  }
  if (!conv)
    return core_err_set(err, CORE_ENOCONV,
                        "the fixed-effect recovery did not converge in %zu "
                        "iterations",
                        max_iter);
  return CORE_OK;
}

/* ------------------------------------------------------------------------ */
/* Degrees of freedom                                                       */
/* ------------------------------------------------------------------------ */

bool core_hdfe_nested_in(const core_hdfe *h, size_t f, const size_t *cluster) {
  if (!h || f >= h->nf || !cluster) return false;
  size_t *first = malloc((h->L[f] ? h->L[f] : 1) * sizeof *first);
  if (!first) return false;
  for (size_t l = 0; l < h->L[f]; l++)
    first[l] = SIZE_MAX;
  bool nested = true;
  for (size_t i = 0; i < h->m && nested; i++) {
    size_t l = h->lev[f][i];
    if (first[l] == SIZE_MAX)
      first[l] = cluster[i];
    else if (first[l] != cluster[i])
      nested = false;
  }
  free(first);
  return nested;
}

size_t core_hdfe_df_absorbed(const core_hdfe *h, const bool *nested,
                             bool *exact) {
  if (exact) *exact = true;
  if (!h) return 0;
  size_t idx[CORE_HDFE_MAX_FACTORS], k = 0;
  for (size_t f = 0; f < h->nf; f++)
    if (!nested || !nested[f]) idx[k++] = f;
  if (k == 0) return 1; /* the constant */
  if (k == 1) return h->L[idx[0]];
  size_t comps = (k == h->nf && h->nf == 2)
                     ? h->components
                     : pair_components(h, idx[0], idx[1]);
  if (comps == 0) comps = 1; /* allocation failure: the bound with 1 */
  size_t df = h->L[idx[0]] + h->L[idx[1]] - comps;
  for (size_t j = 2; j < k; j++)
    df += h->L[idx[j]] - 1;
  if (exact && k > 2) *exact = false;
  return df;
}

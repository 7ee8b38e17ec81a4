/* Canonical serialisations and content ids (see api_canon.h). */
#include "api_canon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api_num.h"

/* Output is collected in a buffer and flushed to the sink in large pieces,
 * so that hashing a million rows does not make a million sink calls. */
typedef struct writer {
  api_canon_sink sink;
  void *ctx;
  char buf[8192];
  size_t len;
  bool ok;
} writer;

static void flush(writer *w) {
  if (w->ok && w->len > 0) w->ok = w->sink(w->ctx, w->buf, w->len);
  w->len = 0;
}

static void put(writer *w, const char *s, size_t n) {
  if (!w->ok) return;
  if (w->len + n > sizeof w->buf) flush(w);
  if (n > sizeof w->buf) {
    if (w->ok) w->ok = w->sink(w->ctx, s, n);
    return;
  }
  memcpy(w->buf + w->len, s, n);
  w->len += n;
}

static void puts_(writer *w, const char *s) {
  put(w, s, strlen(s));
}

static void put_number(writer *w, double x) {
  char num[API_NUM_BUF];
  if (isnan(x))
    puts_(w, "NA");
  else
    put(w, num, api_fmt_g17(x, num)); /* the bytes of "%.17g" (api_num.h) */
  put(w, ";", 1);
}

static void put_key(writer *w, const char *s) {
  if (s == NULL) {
    puts_(w, "NA;");
    return;
  }
  char head[32];
  size_t n = strlen(s);
  snprintf(head, sizeof head, "%zu:", n);
  puts_(w, head);
  put(w, s, n);
  put(w, ";", 1);
}

static int cmp_names(const void *a, const void *b, void *names) {
  char **nm = names;
  return strcmp(nm[*(const size_t *)a], nm[*(const size_t *)b]);
}

/* Sorts column indices by name. qsort has no context argument (qsort_r is
 * a GNU extension), so a small merge sort over indices keeps this C17. */
static void sort_idx(size_t *idx, size_t *tmp, size_t n, char **names) {
  if (n < 2) return;
  size_t h = n / 2;
  sort_idx(idx, tmp, h, names);
  sort_idx(idx + h, tmp, n - h, names);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n)
    tmp[k++] = cmp_names(&idx[j], &idx[i], names) < 0 ? idx[j++] : idx[i++];
  while (i < h)
    tmp[k++] = idx[i++];
  while (j < n)
    tmp[k++] = idx[j++];
  memcpy(idx, tmp, n * sizeof *idx);
}

bool api_canon_dataset(const core_panel *p, api_canon_sink sink, void *ctx) {
  writer *w = malloc(sizeof *w);
  size_t *idx = malloc((p->ncol + 1) * sizeof *idx);
  size_t *tmp = malloc((p->ncol + 1) * sizeof *tmp);
  bool ok = false;
  if (w == NULL || idx == NULL || tmp == NULL) goto cleanup;
  w->sink = sink;
  w->ctx = ctx;
  w->len = 0;
  w->ok = true;
  for (size_t j = 0; j < p->ncol; j++)
    idx[j] = j;
  sort_idx(idx, tmp, p->ncol, p->names);

  char line[64];
  puts_(w, "gravitas-dataset-v1\n");
  snprintf(line, sizeof line, "rows %zu\n", p->n);
  puts_(w, line);
  puts_(w, "keys");
  if (p->reporter) puts_(w, " reporter");
  if (p->partner) puts_(w, " partner");
  if (p->year) puts_(w, " year");
  puts_(w, "\ncolumns");
  for (size_t j = 0; j < p->ncol; j++) {
    put(w, " ", 1);
    puts_(w, p->names[idx[j]]);
  }
  put(w, "\n", 1);
  for (size_t i = 0; i < p->n && w->ok; i++) {
    if (p->reporter) put_key(w, p->reporter[i]);
    if (p->partner) put_key(w, p->partner[i]);
    if (p->year) {
      snprintf(line, sizeof line, "%d;", p->year[i]);
      puts_(w, line);
    }
    for (size_t j = 0; j < p->ncol; j++)
      put_number(w, p->cols[idx[j]][i]);
    put(w, "\n", 1);
  }
  flush(w);
  ok = w->ok;
cleanup:
  free(w);
  free(idx);
  free(tmp);
  return ok;
}

static bool digest_sink(void *ctx, const char *bytes, size_t len) {
  return EVP_DigestUpdate(ctx, bytes, len) == 1;
}

/* Writes prefix + the first 32 hex digits of the digest into out. */
static void hex_id(const char *prefix, const unsigned char *md, char *out) {
  static const char hex[] = "0123456789abcdef";
  size_t o = strlen(prefix);
  memcpy(out, prefix, o);
  for (size_t i = 0; i < 16; i++) {
    out[o++] = hex[md[i] >> 4];
    out[o++] = hex[md[i] & 15];
  }
  out[o] = '\0';
}

bool api_canon_dataset_id(const core_panel *p,
                          char out[API_DATASET_ID_LEN + 1]) {
  out[0] = '\0';
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
            api_canon_dataset(p, digest_sink, md) &&
            EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen >= 16;
  if (ok) hex_id("ds_", digest, out);
  EVP_MD_CTX_free(md);
  return ok;
}

static const char *method_name(core_pot_method m) {
  return m == CORE_POT_LOG        ? "log"
         : m == CORE_POT_FRONTIER ? "frontier"
                                  : "level";
}

static const char *smearing_name(core_smearing s) {
  switch (s) {
  case CORE_SMEAR_DUAN: return "duan";
  case CORE_SMEAR_NORMAL: return "normal";
  case CORE_SMEAR_NONE: return "none";
  }
  return "?";
}

char *api_canon_model_spec(const api_model_spec *spec) {
#define SPEC_FORMAT                                                            \
  "gravitas-model-v1\n"                                                        \
  "formula=%s\n"                                                               \
  "estimator=%s\n"                                                             \
  "vcov=%s\n"                                                                  \
  "potential.method=%s\n"                                                      \
  "potential.smearing=%s\n"                                                    \
  "potential.thresholds=%.17g,%.17g\n"                                         \
  "interpolate=%s\n"                                                           \
  "confidence=%.17g\n"                                                         \
  "%s%s%s"
  /* Estimator options are a line of their own only when there are any, so
   * that the ids of models without options never change. */
  const char *opt = spec->options && spec->options[0] ? spec->options : NULL;
  const char *opt_key = opt ? "options=" : "", *opt_end = opt ? "\n" : "";
  if (opt == NULL) opt = "";
  int len = snprintf(NULL, 0, SPEC_FORMAT, spec->formula, spec->estimator,
                     spec->vcov, method_name(spec->potential.method),
                     smearing_name(spec->potential.smearing),
                     spec->potential.lo, spec->potential.hi, spec->interpolate,
                     spec->confidence, opt_key, opt, opt_end);
  if (len < 0) return NULL;
  char *text = malloc((size_t)len + 1);
  if (text == NULL) return NULL;
  snprintf(text, (size_t)len + 1, SPEC_FORMAT, spec->formula, spec->estimator,
           spec->vcov, method_name(spec->potential.method),
           smearing_name(spec->potential.smearing), spec->potential.lo,
           spec->potential.hi, spec->interpolate, spec->confidence, opt_key,
           opt, opt_end);
  return text;
#undef SPEC_FORMAT
}

bool api_canon_model_id(const char *dataset_id, const api_model_spec *spec,
                        char out[API_MODEL_ID_LEN + 1]) {
  out[0] = '\0';
  char *text = api_canon_model_spec(spec);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  bool ok = text != NULL && md != NULL &&
            EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
            EVP_DigestUpdate(md, dataset_id, strlen(dataset_id)) == 1 &&
            EVP_DigestUpdate(md, "\n", 1) == 1 &&
            EVP_DigestUpdate(md, text, strlen(text)) == 1 &&
            EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen >= 16;
  if (ok) hex_id("m_", digest, out);
  EVP_MD_CTX_free(md);
  free(text);
  return ok;
}

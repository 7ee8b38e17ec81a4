/* Tests of content ids (api/api_canon.c): the documented canonical bytes,
 * SHA-256 values computed independently (Python hashlib over the same
 * bytes, shown next to each constant), and invariance to key order and to
 * the rows/columns form. */
#include "api/api_testing.h"

#include <stdlib.h>

#include "api_canon.h"
#include "api_data.h"

static core_panel *panel_of(const char *text) {
  json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  cr_assert_not_null(j);
  api_limits lim;
  api_limits_default(&lim);
  api_data d;
  api_errors errs = {0};
  api_error_code code;
  cr_assert(api_data_decode(j, "/data", &lim, NULL, &d, &code, &errs), "%s",
            text);
  json_decref(j);
  return d.panel;
}

typedef struct text_buf {
  char s[4096];
  size_t n;
} text_buf;

static bool collect(void *ctx, const char *bytes, size_t len) {
  text_buf *b = ctx;
  if (b->n + len >= sizeof b->s) return false;
  memcpy(b->s + b->n, bytes, len);
  b->n += len;
  b->s[b->n] = '\0';
  return true;
}

static bool refuse(void *ctx, const char *bytes, size_t len) {
  (void)ctx;
  (void)bytes;
  (void)len;
  return false;
}

static const char two_rows[] =
    "{\"rows\": [{\"reporter\": \"CHN\", \"year\": 2015, \"b\": 1.5},"
    " {\"reporter\": \"KAZ\", \"year\": 2016, \"b\": -2.25, \"a\": 3}]}";

Test(canon, canonical_bytes_are_as_documented) {
  core_panel *p = panel_of(two_rows);
  text_buf b = {.n = 0};
  cr_assert(api_canon_dataset(p, collect, &b));
  cr_assert_str_eq(b.s, "gravitas-dataset-v1\n"
                        "rows 2\n"
                        "keys reporter year\n"
                        "columns a b\n"
                        "3:CHN;2015;NA;1.5;\n"
                        "3:KAZ;2016;3;-2.25;\n");
  cr_assert_not(api_canon_dataset(p, refuse, NULL),
                "a sink that stops makes it fail");
  core_panel_free(p);
}

Test(canon, dataset_id_is_sha256_of_the_canonical_bytes) {
  core_panel *p = panel_of(two_rows);
  char id[API_DATASET_ID_LEN + 1];
  cr_assert(api_canon_dataset_id(p, id));
  /* hashlib.sha256(b"gravitas-dataset-v1\nrows 2\nkeys reporter year\n"
   *   b"columns a b\n3:CHN;2015;NA;1.5;\n3:KAZ;2016;3;-2.25;\n")
   *   .hexdigest()[:32] */
  cr_assert_str_eq(id, "ds_937634a13d49e3aec8baed369288dd90");
  cr_assert_eq(strlen(id), API_DATASET_ID_LEN);
  core_panel_free(p);
}

Test(canon, same_content_same_id_in_any_form_and_key_order) {
  const char *forms[] = {
      two_rows,
      "{\"rows\": [{\"b\": 1.5, \"year\": 2015, \"reporter\": \"CHN\"},"
      " {\"a\": 3, \"b\": -2.25, \"year\": 2016, \"reporter\": \"KAZ\"}]}",
      "{\"rows\": [{\"reporter\": \"CHN\", \"year\": 2015, \"b\": 1.5, "
      "\"a\": null}, {\"reporter\": \"KAZ\", \"year\": 2016, \"b\": -2.25, "
      "\"a\": 3.0}]}",
      "{\"columns\": {\"a\": [null, 3], \"b\": [1.5, -2.25], \"year\": "
      "[2015, 2016], \"reporter\": [\"CHN\", \"KAZ\"]}}",
      "{\"columns\": {\"year\": [2015, 2016], \"b\": [1.5, -2.25], "
      "\"reporter\": [\"CHN\", \"KAZ\"], \"a\": [null, 3e0]}}",
  };
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    core_panel *p = panel_of(forms[i]);
    char id[API_DATASET_ID_LEN + 1];
    cr_assert(api_canon_dataset_id(p, id));
    cr_assert_str_eq(id, "ds_937634a13d49e3aec8baed369288dd90", "form %zu", i);
    core_panel_free(p);
  }
}

Test(canon, any_change_changes_the_id) {
  const char *variants[] = {
      /* a value in the last digit */
      "{\"rows\": [{\"reporter\": \"CHN\", \"year\": 2015, \"b\": "
      "1.5000000000000002}, {\"reporter\": \"KAZ\", \"year\": 2016, \"b\": "
      "-2.25, \"a\": 3}]}",
      /* row order */
      "{\"rows\": [{\"reporter\": \"KAZ\", \"year\": 2016, \"b\": -2.25, "
      "\"a\": 3}, {\"reporter\": \"CHN\", \"year\": 2015, \"b\": 1.5}]}",
      /* a missing key instead of none */
      "{\"rows\": [{\"reporter\": \"CHN\", \"partner\": null, \"year\": 2015,"
      " \"b\": 1.5}, {\"reporter\": \"KAZ\", \"year\": 2016, \"b\": -2.25, "
      "\"a\": 3}]}",
      /* a renamed column */
      "{\"rows\": [{\"reporter\": \"CHN\", \"year\": 2015, \"c\": 1.5},"
      " {\"reporter\": \"KAZ\", \"year\": 2016, \"c\": -2.25, \"a\": 3}]}",
      /* "NA" as a reporter code is not a missing reporter */
      "{\"rows\": [{\"reporter\": \"NA\", \"year\": 2015, \"b\": 1.5},"
      " {\"year\": 2016, \"b\": -2.25, \"a\": 3}]}",
      "{\"rows\": [{\"year\": 2015, \"b\": 1.5},"
      " {\"reporter\": \"NA\", \"year\": 2016, \"b\": -2.25, \"a\": 3}]}",
  };
  char seen[8][API_DATASET_ID_LEN + 1];
  core_panel *p0 = panel_of(two_rows);
  cr_assert(api_canon_dataset_id(p0, seen[0]));
  core_panel_free(p0);
  size_t n = sizeof variants / sizeof variants[0];
  for (size_t i = 0; i < n; i++) {
    core_panel *p = panel_of(variants[i]);
    cr_assert(api_canon_dataset_id(p, seen[i + 1]));
    core_panel_free(p);
    for (size_t k = 0; k <= i; k++)
      cr_assert_str_neq(seen[i + 1], seen[k], "variant %zu equals %zu", i, k);
  }
}

static api_model_spec spec_fixture(void) {
  api_model_spec s = {.formula = "y ~ x",
                      .estimator = "ols",
                      .vcov = "hc1",
                      .interpolate = "linear",
                      .confidence = 0.9};
  s.potential.method = CORE_POT_LOG;
  s.potential.smearing = CORE_SMEAR_NORMAL;
  s.potential.lo = 0.8;
  s.potential.hi = 1.2;
  return s;
}

Test(canon, model_spec_text) {
  api_model_spec s = spec_fixture();
  char *text = api_canon_model_spec(&s);
  cr_assert_str_eq(text, "gravitas-model-v1\n"
                         "formula=y ~ x\n"
                         "estimator=ols\n"
                         "vcov=hc1\n"
                         "potential.method=log\n"
                         "potential.smearing=normal\n"
                         "potential.thresholds=0.80000000000000004,1.2\n"
                         "interpolate=linear\n"
                         "confidence=0.90000000000000002\n");
  free(text);
}

Test(canon, model_id) {
  api_model_spec s = spec_fixture();
  char id[API_MODEL_ID_LEN + 1];
  cr_assert(api_canon_model_id("ds_0123456789abcdef0123456789abcdef", &s, id));
  /* hashlib.sha256(b"ds_0123456789abcdef0123456789abcdef\n" + spec text of
   * the test above).hexdigest()[:32] */
  cr_assert_str_eq(id, "m_673b06497be3a697daa96fa9268e77c8");
  char other[API_MODEL_ID_LEN + 1];
  s.confidence = 0.95;
  cr_assert(
      api_canon_model_id("ds_0123456789abcdef0123456789abcdef", &s, other));
  cr_assert_str_neq(id, other);
  s = spec_fixture();
  cr_assert(
      api_canon_model_id("ds_0123456789abcdef0123456789abcdee", &s, other));
  cr_assert_str_neq(id, other, "the dataset id is part of the model id");
}

/* Tests of api/api_model_view.c: a stored model answer parsed into its
 * immutable view (the coefficients predictions use, the potential spec, the
 * potentials sorted for binary search), the answers it refuses, and
 * api_model_view_find on present, absent and NULL keys. The answers are
 * hand-written in the stored form with China's goods trade with Central
 * Asia (US$, MOFCOM). */
#include "api/api_testing.h"

#include <stdlib.h>

#include "api_model_view.h"

#define HEAD                                                                   \
  "{\"id\": \"m_3f9c81aa07d24be1b6a0c3d5e8f71290\", \"dataset_id\": "          \
  "\"ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29\", \"estimator\": \"ols\", "          \
  "\"vcov\": \"hc1\", \"formula\": \"log(etrade) ~ log(gdp_r * gdp_p) + "      \
  "log(distcap * oil) + log(pop_p)\", "

#define COEFS                                                                  \
  "\"coefficients\": ["                                                        \
  "{\"term\": \"(Intercept)\", \"estimate\": -41.730581244316371},"            \
  "{\"term\": \"log(gdp_r*gdp_p)\", \"estimate\": 1.0148296315307421},"        \
  "{\"term\": \"log(distcap*oil)\", \"estimate\": -0.61490372819904632}]"

static const char minimal[] = HEAD COEFS "}";

static api_model_view *build_ok(const char *text) {
  api_model_view *v = NULL;
  char err[256] = "";
  int rc = api_model_view_build(text, strlen(text), &v, err, sizeof err);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_not_null(v);
  return v;
}

/* Asserts the text is refused with a sentence naming why. */
static void assert_refused(const char *text, const char *why) {
  api_model_view *v = (api_model_view *)&v; /* must become NULL */
  char err[256] = "";
  int rc = api_model_view_build(text, strlen(text), &v, err, sizeof err);
  cr_assert_eq(rc, -1, "accepted: %s", text);
  cr_assert_null(v);
  cr_assert(strstr(err, why), "err '%s' lacks '%s'", err, why);
}

static double coef_of(const api_model_view *v, const char *term) {
  for (size_t i = 0; i < v->n_coef; i++)
    if (strcmp(v->coef_term[i], term) == 0) return v->coef[i];
  cr_assert_fail("no coefficient %s", term);
  return NAN;
}

/* ---- building -------------------------------------------------------------
 */

Test(model_view, builds_from_a_minimal_answer) {
  api_model_view *v = build_ok(minimal);
  cr_assert_str_eq(v->id, "m_3f9c81aa07d24be1b6a0c3d5e8f71290");
  cr_assert_str_eq(v->dataset_id, "ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29");
  cr_assert_str_eq(v->estimator, "ols");
  cr_assert_str_eq(v->vcov, "hc1");
  cr_assert_str_eq(v->formula_text, "log(etrade) ~ log(gdp_r * gdp_p) + "
                                    "log(distcap * oil) + log(pop_p)");
  cr_assert_not_null(v->formula);
  cr_assert_str_eq(v->etag, "\"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"");
  cr_assert_eq(v->body_len, strlen(minimal));
  cr_assert_str_eq(v->body, minimal, "the stored bytes, exactly");
  cr_assert_eq(v->n_coef, 3);
  cr_assert_str_eq(v->coef_term[0], "(Intercept)");
  cr_assert_eq(v->coef[0], -41.730581244316371);
  cr_assert_eq(coef_of(v, "log(gdp_r*gdp_p)"), 1.0148296315307421);
  cr_assert_eq(coef_of(v, "log(distcap*oil)"), -0.61490372819904632);
  cr_assert_not(v->has_potential_spec, "answers stored before the spec");
  cr_assert(isnan(v->factor));
  cr_assert_eq(v->n_pot, 0);
  size_t count = 7;
  cr_assert_eq(api_model_view_find(v, "CHN", "KAZ", &count), 0);
  cr_assert_eq(count, 0);
  cr_assert_gt(v->bytes, strlen(minimal));
  api_model_view_free(v);
}

Test(model_view, reads_exactly_len_bytes_of_a_text_not_nul_terminated) {
  size_t len = strlen(minimal);
  char *buf = malloc(len + 16);
  cr_assert_not_null(buf);
  memcpy(buf, minimal, len);
  memcpy(buf + len, "garbage garbage", 16); /* past len: not part of it */
  api_model_view *v = NULL;
  char err[256] = "";
  cr_assert_eq(api_model_view_build(buf, len, &v, err, sizeof err), 0, "%s",
               err);
  cr_assert_eq(v->body_len, len);
  cr_assert_eq(memcmp(v->body, minimal, len), 0);
  cr_assert_eq(v->body[len], '\0');
  api_model_view_free(v);
  /* One byte short is not JSON. */
  cr_assert_eq(api_model_view_build(buf, len - 1, &v, err, sizeof err), -1);
  cr_assert_null(v);
  free(buf);
}

Test(model_view, collinear_terms_become_zero_coefficients) {
  api_model_view *v =
      build_ok(HEAD COEFS ", \"dropped\": {\"collinear\": [\"log(pop_p)\"], "
                          "\"missing_rows\": 57}}");
  cr_assert_eq(v->n_coef, 4);
  cr_assert_str_eq(v->coef_term[3], "log(pop_p)");
  cr_assert_eq(v->coef[3], 0.0);
  cr_assert_eq(coef_of(v, "log(gdp_r*gdp_p)"), 1.0148296315307421);
  api_model_view_free(v);
}

Test(model_view, a_null_estimate_is_nan) {
  api_model_view *v = build_ok(
      HEAD "\"coefficients\": [{\"term\": \"(Intercept)\", \"estimate\": "
           "null}]}");
  cr_assert_eq(v->n_coef, 1);
  cr_assert(isnan(v->coef[0]));
  api_model_view_free(v);
}

Test(model_view, reads_the_potential_spec) {
  api_model_view *v = build_ok(
      HEAD COEFS ", \"potential\": {\"method\": \"log\", \"smearing\": "
                 "\"normal\", \"thresholds\": [0.85, 1.15], \"factor\": "
                 "1.0412837905512217}}");
  cr_assert(v->has_potential_spec);
  cr_assert_eq(v->pot.method, CORE_POT_LOG);
  cr_assert_eq(v->pot.smearing, CORE_SMEAR_NORMAL);
  cr_assert_eq(v->pot.lo, 0.85);
  cr_assert_eq(v->pot.hi, 1.15);
  cr_assert_eq(v->factor, 1.0412837905512217);
  api_model_view_free(v);

  v = build_ok(HEAD COEFS ", \"potential\": {\"method\": \"level\", "
                          "\"smearing\": \"duan\", \"thresholds\": [0.8, "
                          "1.2], \"factor\": 1.0387219930150631}}");
  cr_assert_eq(v->pot.method, CORE_POT_LEVEL);
  cr_assert_eq(v->pot.smearing, CORE_SMEAR_DUAN);
  api_model_view_free(v);
}

Test(model_view, an_incomplete_potential_spec_is_no_spec) {
  api_model_view *v = build_ok(
      HEAD COEFS ", \"potential\": {\"method\": \"level\", \"smearing\": "
                 "\"duan\", \"thresholds\": [0.8]}}");
  cr_assert_not(v->has_potential_spec);
  cr_assert(isnan(v->factor));
  api_model_view_free(v);
}

/* ---- potentials -----------------------------------------------------------
 */

/* Rows out of order, with keys missing (null reporter or partner, no
 * year), as a dataset without keys gives them. */
static const char with_rows[] = HEAD COEFS
    ", \"potentials\": ["
    "{\"reporter\": \"CHN\", \"partner\": \"KGZ\", \"year\": 2023, "
    "\"actual\": 19800000000, \"predicted\": 13100000000, \"k\": "
    "1.5114503817, \"class\": \"remodelling_potential\", \"gap\": "
    "-6700000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2023, "
    "\"actual\": 41000000000, \"predicted\": 33170000000, \"k\": "
    "1.2360566777, \"class\": \"remodelling_potential\", \"gap\": "
    "-7830000000},"
    "{\"reporter\": \"RUS\", \"partner\": \"KAZ\", \"year\": 2023, "
    "\"actual\": 26120000000, \"predicted\": 23870000000, \"k\": "
    "1.0942605781, \"class\": \"expanding_potential\", \"gap\": "
    "-2250000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2021, "
    "\"actual\": 25250000000, \"predicted\": 24338000000, \"k\": "
    "1.0374722656, \"class\": \"expanding_potential\", \"gap\": -912000000},"
    "{\"reporter\": \"CHN\", \"partner\": null, \"year\": 2023, \"actual\": "
    "null, \"predicted\": 618500000000, \"k\": null, \"class\": null, "
    "\"gap\": null},"
    "{\"reporter\": null, \"partner\": null, \"year\": null, \"actual\": "
    "5610000000, \"predicted\": 7212000000, \"k\": 0.7778702163, \"class\": "
    "\"huge_potential\", \"gap\": 1602000000},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": null, "
    "\"actual\": null, \"predicted\": 28410000000, \"k\": null, \"class\": "
    "\"no_such_class\", \"gap\": null},"
    "{\"reporter\": \"CHN\", \"partner\": \"KAZ\", \"year\": 2022, "
    "\"actual\": 31200000000, \"predicted\": 28410000000, \"k\": "
    "1.0982048574, \"class\": \"expanding_potential\", \"gap\": "
    "-2790000000}]}";

static void assert_row(const api_pot_entry *e, const char *reporter,
                       const char *partner, bool has_year, int year) {
  if (reporter == NULL)
    cr_assert_null(e->reporter);
  else
    cr_assert_str_eq(e->reporter, reporter);
  if (partner == NULL)
    cr_assert_null(e->partner);
  else
    cr_assert_str_eq(e->partner, partner);
  cr_assert_eq(e->has_year, has_year);
  if (has_year) cr_assert_eq(e->year, year);
}

Test(model_view, potentials_are_sorted_with_missing_keys_first) {
  api_model_view *v = build_ok(with_rows);
  cr_assert_eq(v->n_pot, 8);
  const api_pot_entry *r = v->pot_rows;
  assert_row(&r[0], NULL, NULL, false, 0);
  assert_row(&r[1], "CHN", NULL, true, 2023);
  assert_row(&r[2], "CHN", "KAZ", false, 0);
  assert_row(&r[3], "CHN", "KAZ", true, 2021);
  assert_row(&r[4], "CHN", "KAZ", true, 2022);
  assert_row(&r[5], "CHN", "KAZ", true, 2023);
  assert_row(&r[6], "CHN", "KGZ", true, 2023);
  assert_row(&r[7], "RUS", "KAZ", true, 2023);
  api_model_view_free(v);
}

Test(model_view, potential_numbers_classes_and_nulls) {
  api_model_view *v = build_ok(with_rows);
  const api_pot_entry *kaz21 = &v->pot_rows[3];
  cr_assert_eq(kaz21->actual, 25250000000.0);
  cr_assert_eq(kaz21->predicted, 24338000000.0);
  cr_assert_eq(kaz21->k, 1.0374722656);
  cr_assert_eq(kaz21->gap, -912000000.0);
  cr_assert_str_eq(kaz21->cls, "expanding_potential");
  cr_assert_str_eq(v->pot_rows[0].cls, "huge_potential");
  cr_assert_str_eq(v->pot_rows[5].cls, "remodelling_potential");
  const api_pot_entry *chn = &v->pot_rows[1];
  cr_assert(isnan(chn->actual));
  cr_assert(isnan(chn->k));
  cr_assert(isnan(chn->gap));
  cr_assert_eq(chn->predicted, 618500000000.0);
  cr_assert_null(chn->cls);
  cr_assert_null(v->pot_rows[2].cls, "an unknown class name is no class");
  api_model_view_free(v);
}

Test(model_view, the_key_strings_of_one_pair_are_shared) {
  api_model_view *v = build_ok(with_rows);
  cr_assert_eq(v->pot_rows[3].reporter, v->pot_rows[7 - 1].reporter);
  cr_assert_eq(v->pot_rows[3].partner, v->pot_rows[4].partner);
  cr_assert_eq(v->pot_rows[3].partner, v->pot_rows[7].partner,
               "KAZ of CHN and of RUS: one copy");
  cr_assert_eq(v->n_strings, 4, "CHN, KGZ, KAZ, RUS");
  api_model_view_free(v);
}

/* ---- find -----------------------------------------------------------------
 */

Test(model_view_find, a_pair_is_its_rows_in_year_order) {
  api_model_view *v = build_ok(with_rows);
  size_t n = 0;
  size_t at = api_model_view_find(v, "CHN", "KAZ", &n);
  cr_assert_eq(at, 2);
  cr_assert_eq(n, 4, "no year first, then 2021, 2022, 2023");
  at = api_model_view_find(v, "RUS", "KAZ", &n);
  cr_assert_eq(at, 7);
  cr_assert_eq(n, 1);
  api_model_view_free(v);
}

Test(model_view_find, a_null_partner_means_every_partner) {
  api_model_view *v = build_ok(with_rows);
  size_t n = 0;
  size_t at = api_model_view_find(v, "CHN", NULL, &n);
  cr_assert_eq(at, 1, "the row without a partner comes first");
  cr_assert_eq(n, 6);
  api_model_view_free(v);
}

Test(model_view_find, a_null_reporter_finds_the_rows_without_one) {
  api_model_view *v = build_ok(with_rows);
  size_t n = 0;
  size_t at = api_model_view_find(v, NULL, NULL, &n);
  cr_assert_eq(at, 0);
  cr_assert_eq(n, 1);
  cr_assert_null(v->pot_rows[at].reporter);
  api_model_view_free(v);
}

Test(model_view_find, absent_keys_count_zero_at_their_place) {
  api_model_view *v = build_ok(with_rows);
  size_t n = 99;
  cr_assert_eq(api_model_view_find(v, "AFG", NULL, &n), 1);
  cr_assert_eq(n, 0);
  n = 99;
  cr_assert_eq(api_model_view_find(v, "CHN", "AFG", &n), 2);
  cr_assert_eq(n, 0);
  n = 99;
  cr_assert_eq(api_model_view_find(v, "CHN", "KAZZ", &n), 6);
  cr_assert_eq(n, 0);
  n = 99;
  cr_assert_eq(api_model_view_find(v, "RUS", "UZB", &n), 8);
  cr_assert_eq(n, 0);
  n = 99;
  cr_assert_eq(api_model_view_find(v, "USA", NULL, &n), 8);
  cr_assert_eq(n, 0);
  api_model_view_free(v);
}

Test(model_view_find, agrees_with_a_linear_scan_on_many_rows) {
  /* 6 reporters x 7 partners x 14 years, inserted in reverse. */
  const char *codes[] = {"CHN", "KAZ", "KGZ", "RUS", "TJK", "TKM", "UZB"};
  json_t *rows = json_array();
  for (int r = 5; r >= 0; r--)
    for (int p = 6; p >= 0; p--)
      for (int y = 2023; y >= 2010; y--)
        json_array_append_new(
            rows, json_pack("{s:s, s:s, s:i, s:f}", "reporter", codes[r],
                            "partner", codes[p], "year", y, "predicted",
                            1e9 * (1 + r) + 1e7 * p + 1e5 * (y - 2000)));
  json_t *doc = json_loads(minimal, 0, NULL);
  json_object_set_new(doc, "potentials", rows);
  char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(doc);
  api_model_view *v = build_ok(text);
  free(text);
  cr_assert_eq(v->n_pot, 6 * 7 * 14);
  for (size_t r = 0; r < 7; r++) {
    for (size_t p = 0; p < 7; p++) {
      size_t n = 0;
      size_t at = api_model_view_find(v, codes[r], codes[p], &n);
      cr_assert_eq(n, r < 6 ? 14u : 0u, "%s-%s", codes[r], codes[p]);
      for (size_t i = 0; i < n; i++) {
        const api_pot_entry *e = &v->pot_rows[at + i];
        cr_assert_str_eq(e->reporter, codes[r]);
        cr_assert_str_eq(e->partner, codes[p]);
        cr_assert_eq(e->year, 2010 + (int)i);
        cr_assert_eq(e->predicted,
                     1e9 * (1 + r) + 1e7 * p + 1e5 * (e->year - 2000));
      }
    }
  }
  api_model_view_free(v);
}

/* ---- refusals -------------------------------------------------------------
 */

Test(model_view_bad, text_that_is_not_json) {
  assert_refused("{\"id\": \"m_3f9c81aa07d24be1b6a0c3d5e8f71290\"",
                 "not a JSON object");
}

Test(model_view_bad, json_that_is_not_an_object) {
  assert_refused("[" HEAD COEFS "}]", "not a JSON object");
}

Test(model_view_bad, duplicate_members) {
  assert_refused(HEAD COEFS ", \"id\": \"m_x\"}", "not a JSON object");
}

Test(model_view_bad, missing_id) {
  assert_refused("{\"dataset_id\": \"ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29\", "
                 "\"estimator\": \"ols\", \"vcov\": \"hc1\", \"formula\": "
                 "\"log(etrade) ~ log(gdp_p)\", " COEFS "}",
                 "lacks id");
}

Test(model_view_bad, a_formula_that_is_not_a_string) {
  assert_refused("{\"id\": \"m_3f9c81aa07d24be1b6a0c3d5e8f71290\", "
                 "\"dataset_id\": \"ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29\", "
                 "\"estimator\": \"ols\", \"vcov\": \"hc1\", \"formula\": "
                 "42, " COEFS "}",
                 "formula");
}

Test(model_view_bad, a_formula_that_does_not_parse) {
  assert_refused("{\"id\": \"m_3f9c81aa07d24be1b6a0c3d5e8f71290\", "
                 "\"dataset_id\": \"ds_9b1e5a0c4f7d2e8a6b3c1d0f5e4a7b29\", "
                 "\"estimator\": \"ols\", \"vcov\": \"hc1\", \"formula\": "
                 "\"log(etrade ~ log(gdp_p)\", " COEFS "}",
                 "formula does not parse");
}

Test(model_view_bad, coefficients_missing) {
  assert_refused(HEAD "\"fit\": {\"n\": 13}}", "coefficients are malformed");
}

Test(model_view_bad, coefficients_not_an_array) {
  assert_refused(HEAD "\"coefficients\": {\"(Intercept)\": -41.73}}",
                 "coefficients are malformed");
}

Test(model_view_bad, a_coefficient_without_its_term) {
  assert_refused(HEAD "\"coefficients\": [{\"estimate\": -41.73}]}",
                 "coefficients are malformed");
}

Test(model_view_bad, a_collinear_term_that_is_not_a_string) {
  assert_refused(HEAD COEFS ", \"dropped\": {\"collinear\": [3]}}",
                 "coefficients are malformed");
}

Test(model_view_bad, potentials_not_an_array) {
  assert_refused(HEAD COEFS ", \"potentials\": {\"CHN-KAZ\": 1.0374722656}}",
                 "potentials are malformed");
}

Test(model_view_bad, a_potential_that_is_not_an_object) {
  assert_refused(HEAD COEFS ", \"potentials\": [1.0374722656]}",
                 "potentials are malformed");
}

Test(model_view_bad, a_potential_key_that_is_not_a_string) {
  assert_refused(HEAD COEFS ", \"potentials\": [{\"reporter\": 156, "
                            "\"partner\": \"KAZ\", \"year\": 2021}]}",
                 "potentials are malformed");
}

Test(model_view_bad, no_room_for_the_reason_is_still_a_refusal) {
  api_model_view *v = NULL;
  cr_assert_eq(api_model_view_build("[]", 2, &v, NULL, 0), -1);
  cr_assert_null(v);
  api_model_view_free(NULL);
}

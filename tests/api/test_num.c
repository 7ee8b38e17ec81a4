/* api_num: api_fmt_g17 writes the bytes of snprintf("%.17g") and
 * api_fmt_json_real those of Jansson's json_dumps with
 * JSON_REAL_PRECISION(17), checked on millions of values: log-uniform over
 * the exact range and beyond it, random bit patterns, integers, short
 * decimals, powers of ten and their neighbours, and dyadic fractions whose
 * 18-digit expansions end in 5 (ties of the 17-digit rounding, which glibc
 * breaks to even). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_num.h"

static uint64_t rng = 0x853C49E6748FEA9BULL;

static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static double unif(void) {
  return (double)(next() >> 11) * 0x1.0p-53;
}

static size_t n_checked;

static void check(double x) {
  char want[64], got[API_NUM_BUF];
  snprintf(want, sizeof want, "%.17g", x);
  size_t n = api_fmt_g17(x, got);
  cr_assert_str_eq(got, want, "%%.17g of %a", x);
  cr_assert_eq(n, strlen(want));
  if (isfinite(x)) {
    json_t *j = json_real(x);
    char *jt = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    size_t m = api_fmt_json_real(x, got);
    cr_assert_str_eq(got, jt, "Jansson real of %a", x);
    cr_assert_eq(m, strlen(jt));
    free(jt);
    json_decref(j);
  }
  n_checked++;
}

Test(num, log_uniform_values_in_and_around_the_exact_range) {
  for (int i = 0; i < 1000000; i++) {
    double x = pow(10.0, -8.0 + 50.0 * unif());
    check(next() & 1 ? x : -x);
  }
}

Test(num, random_bit_patterns) {
  for (int i = 0; i < 300000; i++) {
    uint64_t b = next();
    double x;
    memcpy(&x, &b, sizeof x);
    if (isnan(x)) continue;
    check(x);
  }
}

Test(num, integers_short_decimals_and_powers_of_ten) {
  for (int i = -1000; i <= 100000; i++)
    check((double)i);
  for (int i = 0; i < 200000; i++) {
    check((double)(int64_t)(next() >> (next() % 64)));
    check((double)(next() % 100000000) / 1000.0);
    check((double)(next() % 1000000) / 100.0);
  }
  for (int k = -10; k <= 40; k++) {
    double p = pow(10.0, k);
    check(p);
    check(nextafter(p, 0.0));
    check(nextafter(p, INFINITY));
    check(-p);
  }
  const double special[] = {0.0,
                            -0.0,
                            1e-5,
                            9.9999999999999991e-6,
                            1e38,
                            1.7e308,
                            4.9e-324,
                            2.2250738585072014e-308,
                            0.1,
                            0.2,
                            0.3,
                            1.0 / 3.0,
                            2.0 / 3.0,
                            M_PI,
                            M_E,
                            123456789012345678.0,
                            9007199254740993.0,
                            INFINITY,
                            -INFINITY,
                            41000000000.0,
                            -912000000.0};
  for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
    check(special[i]);
}

/* The decimal exponent is first guessed from the binary one, as
 * floor((e2 - 1) log10 2) with integer arithmetic: every binade of the range
 * written without snprintf (2^-17 .. 2^127), at both ends and next to them,
 * and the powers of ten inside each, four ulps either side. */
Test(num, every_binade_and_power_of_ten_of_the_fast_range) {
  for (int k = -20; k <= 130; k++) {
    double p = ldexp(1.0, k);
    double below = nextafter(p, 0.0), above = nextafter(p, INFINITY);
    check(p);
    check(below);
    check(above);
    check(-below);
    check(nextafter(ldexp(1.0, k + 1), 0.0));
  }
  for (int k = -6; k <= 39; k++) {
    double p = pow(10.0, k);
    double lo = p, hi = p;
    for (int i = 0; i < 4; i++) {
      lo = nextafter(lo, 0.0);
      hi = nextafter(hi, INFINITY);
      check(lo);
      check(hi);
    }
  }
}

Test(num, dyadic_fractions_and_their_ties) {
  /* a 2^-j with a odd has the exact expansion a 5^j / 10^j, ending in 5:
   * with 18 significant digits that is a tie at 17. */
  for (int j = 1; j <= 70; j++)
    for (int i = 0; i < 4000; i++) {
      uint64_t a = (next() >> 11) | 1;
      if (i % 2) a >>= next() % 40;
      a |= 1;
      check(ldexp((double)a, -j));
      check(ldexp((double)a, j % 12));
    }
  cr_log_info("%zu values checked", n_checked);
}

/* ---- the model answer written as text --------------------------------------
 */

#include "api/api_requests.h"

#include <gsl/gsl_errno.h>

#include "api_models.h"
#include "api_text.h"

static void gsl_quiet(void) {
  gsl_set_error_handler_off();
}

TestSuite(num_answer, .init = gsl_quiet);

/* The answer of POST /v1/models, whose potentials are written as text
 * (api_text.h), is byte for byte what json_dumps makes of its own parse:
 * keys with quotes, backslashes, control characters and non-ASCII letters,
 * numbers from 1e-300 to 1e300 and of both signs, and undefined values
 * (null). */
Test(num_answer, the_text_is_what_jansson_would_write) {
  const char *keys[] = {"K\"Z", "Kaz\\akh", "T\tKM", "Ürümqi",
                        "東京", "a\x01b",   "plain"};
  json_t *rows = json_array();
  for (size_t i = 0; i < 28; i++) {
    double x1 = pow(10.0, -300.0 + 600.0 * (double)i / 27.0);
    double x2 = (double)(i % 5) - 2.25 + 1e-9 * (double)i;
    json_t *r = json_pack("{s:s, s:s, s:i, s:f, s:f}", "reporter", keys[i % 7],
                          "partner", keys[(i + 3) % 7], "year",
                          2000 + (int)(i / 7), "x1", log(x1) * 1e-3, "x2", x2);
    json_object_set_new(r, "y",
                        json_real(exp(0.3 + 0.5 * x2 + 1e-4 * (double)i)));
    if (i == 5) json_object_set_new(r, "y", json_null()); /* unobserved */
    json_array_append_new(rows, r);
  }
  json_t *doc = json_pack("{s:{s:o}, s:s, s:s}", "data", "rows", rows,
                          "formula", "log(y) ~ x1 + x2", "vcov", "hc1");
  char *body = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  api_env env = test_env();
  call_in in = {.body = body};
  answer a = run(api_post_models, &env, &in);
  free(body);
  cr_assert_eq(a.status, 201, "%.500s", a.body);
  json_t *pots = json_object_get(a.json, "potentials");
  cr_assert_eq(json_array_size(pots), 28);
  cr_assert(json_is_null(json_object_get(json_array_get(pots, 5), "actual")));
  char *again = json_dumps(a.json, JSON_COMPACT | JSON_REAL_PRECISION(17));
  cr_assert_str_eq(a.body, again);
  /* The keys keep their order: potentials between potential and warnings. */
  const char *p1 = strstr(a.body, "\"potential\":"),
             *p2 = strstr(a.body, "\"potentials\":"),
             *p3 = strstr(a.body, "\"warnings\":");
  cr_assert(p1 && p2 && p3 && p1 < p2 && p2 < p3);
  free(again);
  answer_free(&a);
}

/* A string that is not UTF-8 fails the text (as Jansson refuses it). */
Test(num_answer, text_strings_escape_as_jansson_and_refuse_bad_utf8) {
  const char *ok[] = {"", "a\"b\\c", "\b\f\n\r\t\x1f\x7f", "é€𝄞", "/"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    api_text t = {0};
    api_text_string(&t, ok[i]);
    json_t *j = json_string(ok[i]);
    char *want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    cr_assert_str_eq(t.s, want);
    free(want);
    json_decref(j);
    api_text_free(&t);
  }
  const char *bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf",
                       "\xf4\x90\x80\x80"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    api_text t = {0};
    api_text_string(&t, bad[i]);
    cr_assert(t.failed, "bad string %zu accepted", i);
    cr_assert_null(json_string(bad[i]));
    api_text_free(&t);
  }
}

/* ---- api_parse_real against strtod ------------------------------------ */

static size_t n_parsed, n_fast;

/* When api_parse_real takes the number, it is strtod's, bit for bit. */
static void check_parse(const char *s) {
  double want = strtod(s, NULL), got = 0.0;
  n_parsed++;
  if (!api_parse_real(s, strlen(s), &got)) return;
  n_fast++;
  uint64_t a, b;
  memcpy(&a, &want, 8);
  memcpy(&b, &got, 8);
  cr_assert_eq(a, b, "%s: strtod %a, api_parse_real %a", s, want, got);
}

Test(num_parse, printed_doubles_at_every_precision) {
  char buf[64];
  n_parsed = n_fast = 0;
  for (int i = 0; i < 300000; i++) {
    uint64_t bits = next();
    double x;
    memcpy(&x, &bits, 8);
    if (!isfinite(x)) continue;
    int p = 1 + (int)(next() % 19);
    snprintf(buf, sizeof buf, "%.*g", p, x);
    check_parse(buf);
    snprintf(buf, sizeof buf, "%.17g", x);
    check_parse(buf);
    /* Values of everyday size, as data carry them. */
    double y = (unif() - 0.5) * pow(10.0, (double)(next() % 30) - 10.0);
    snprintf(buf, sizeof buf, "%.*g", p, y);
    check_parse(buf);
    snprintf(buf, sizeof buf, "%.17g", y);
    check_parse(buf);
    snprintf(buf, sizeof buf, "%.16g", y);
    check_parse(buf);
  }
  /* Most of them are read here, not by strtod. */
  cr_assert_gt(n_fast, n_parsed * 3 / 4, "%zu of %zu", n_fast, n_parsed);
}

Test(num_parse, random_digit_strings_and_exponents) {
  char buf[128];
  for (int i = 0; i < 600000; i++) {
    int nd = 1 + (int)(next() % 20), point = (int)(next() % (nd + 1));
    size_t k = 0;
    if (next() & 1) buf[k++] = '-';
    for (int d = 0; d < nd; d++) {
      if (d == point && d > 0) buf[k++] = '.';
      buf[k++] = (char)('0' + next() % 10);
    }
    if (next() % 3) {
      int e = (int)(next() % 720) - 360;
      k += (size_t)snprintf(buf + k, sizeof buf - k, "e%d", e);
    }
    buf[k] = '\0';
    check_parse(buf);
  }
}

Test(num_parse, halfway_cases_round_to_even) {
  char buf[64];
  /* (2M + 1) 2^(j - 1): exactly between two doubles; written in full. */
  for (int i = 0; i < 200000; i++) {
    uint64_t m = ((uint64_t)1 << 52) | (next() >> 12);
    uint64_t odd = 2 * m + 1; /* 54 bits */
    int j = (int)(next() % 16) - 3;
    if (j >= 1) {
      if (j - 1 > 9) continue;
      snprintf(buf, sizeof buf, "%llu", (unsigned long long)(odd << (j - 1)));
    } else {
      /* odd / 2^(1-j) = odd 5^(1-j) / 10^(1-j) */
      int t = 1 - j;
      unsigned __int128 v = odd;
      for (int r = 0; r < t; r++)
        v *= 5;
      char digs[48];
      int nd = 0;
      while (v > 0) {
        digs[nd++] = (char)('0' + (int)(v % 10));
        v /= 10;
      }
      size_t k = 0;
      for (int d = nd - 1; d >= 0; d--) {
        if (d == t - 1) buf[k++] = '.';
        buf[k++] = digs[d];
      }
      buf[k] = '\0';
    }
    check_parse(buf);
    /* And one unit above and below in the last digit. */
    size_t len = strlen(buf);
    char last = buf[len - 1];
    if (last < '9') {
      buf[len - 1] = (char)(last + 1);
      check_parse(buf);
    }
    if (last > '0') {
      buf[len - 1] = (char)(last - 1);
      check_parse(buf);
    }
  }
  const char *named[] = {"9007199254740993",
                         "9007199254740995",
                         "18014398509481986",
                         "18014398509481990",
                         "4503599627370496.5",
                         "4503599627370497.5",
                         "2.2250738585072011e-308",
                         "2.2250738585072014e-308",
                         "1.7976931348623157e308",
                         "1.7976931348623158e308",
                         "4.9406564584124654e-324",
                         "1e23",
                         "8.41e21",
                         "5e-324",
                         "0.1",
                         "-0.0",
                         "0e10",
                         "1e-400",
                         "1e400",
                         "7.3177701707893310e15",
                         "1448997445238699"};
  for (size_t i = 0; i < sizeof named / sizeof *named; i++)
    check_parse(named[i]);
}

Test(num_parse, declines_what_it_leaves_to_strtod) {
  double x = 42.0;
  /* 20 significant digits, a subnormal, an overflow: strtod's. */
  cr_assert_not(api_parse_real("12345678901234567890", 20, &x));
  cr_assert_not(api_parse_real("5e-324", 6, &x));
  cr_assert_not(api_parse_real("1e400", 5, &x));
  cr_assert_not(api_parse_real("1.5x", 4, &x));
  cr_assert_eq(x, 42.0, "nothing written");
  /* Leading zeros do not count; digits after the first nonzero one do,
   * zeros included. */
  cr_assert(
      api_parse_real("0000000000000000000000001.500000000000000000", 44, &x));
  cr_assert_eq(x, 1.5);
  cr_assert(api_parse_real("0.0000000000000000000000015", 27, &x));
  cr_assert_eq(x, 1.5e-24);
  cr_assert_not(api_parse_real("1.5000000000000000000", 21, &x));
  cr_assert(api_parse_real("-0.0", 4, &x));
  cr_assert(signbit(x) && x == 0.0);
}

Test(num_parse, exponent_limit_leaves_the_number_to_strtod) {
  /* Exponents beyond the table (or so long that their int would overflow:
   * reading stops past 100,000) are not read here; strtod answers 0 or
   * infinity for them. */
  double x = 42.0;
  cr_assert_not(api_parse_real("1e100001", 8, &x));
  cr_assert_not(api_parse_real("1e-100001", 9, &x));
  cr_assert_not(api_parse_real("1e99999999999999999999", 22, &x));
  cr_assert_not(api_parse_real("1e-343", 6, &x));
  cr_assert_not(api_parse_real("1e309", 5, &x));
  cr_assert_eq(x, 42.0, "nothing written");
  /* Zero with a readable exponent is zero, as strtod reads it. */
  cr_assert(api_parse_real("0e100001", 8, &x));
  cr_assert(x == 0.0 && !signbit(x));
  cr_assert(api_parse_real("-0.0e-400", 9, &x));
  cr_assert(x == 0.0 && signbit(x));
  /* The ends of the table, compared with strtod. */
  check_parse("1e-342");
  check_parse("9.999999999999999e-343");
  check_parse("1e308");
  check_parse("1.7976931348623157e308");
}

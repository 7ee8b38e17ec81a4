"""End-to-end: the NIST StRD linear regression datasets through HTTP.

Each dataset (tests/reference/nist/<name>.csv) is posted in the columns form
with its model formula; coefficients, standard errors, the residual standard
deviation (fit.rmse) and R^2 must agree with the certified values
(<name>.certified.json, NIST's 15-digit values) to at least 9 significant
digits, the bar METHODS.md section 2 sets for these lower/average difficulty
sets. The digits achieved are printed."""

import csv
import json
import math
import os
import sys
import unittest

import gravitas_e2e as g

MIN_DIGITS = 9.0

# name -> (formula, term labels in the certified parameter order)
CASES = {
    "Norris": ("y ~ x", ["(Intercept)", "x"]),
    "Pontius": ("y ~ x + I(x^2)", ["(Intercept)", "x", "I(x^2)"]),
    "NoInt1": ("y ~ x - 1", ["x"]),
    "Longley": ("y ~ x1 + x2 + x3 + x4 + x5 + x6",
                ["(Intercept)", "x1", "x2", "x3", "x4", "x5", "x6"]),
}


def nist_dir():
    return g.source_path("tests", "reference", "nist")


def load(name):
    """(columns dict of floats, certified dict) for a NIST dataset."""
    d = nist_dir()
    with open(os.path.join(d, name + ".csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    cols = {k: [float(r[k]) for r in rows] for k in rows[0]}
    with open(os.path.join(d, name + ".certified.json")) as f:
        cert = json.load(f)
    return cols, cert


class Nist(g.ServerTestCase, unittest.TestCase):
    digits = {}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls.digits:
            sys.stderr.write("\nNIST digits of agreement through HTTP "
                             "(minimum over each group):\n")
            for name, d in sorted(cls.digits.items()):
                sys.stderr.write("  %-8s " % name + "  ".join(
                    "%s %.2f" % (k, v) for k, v in d.items()) + "\n")

    def fit(self, name):
        cols, cert = load(name)
        formula, terms = CASES[name]
        req = {"data": {"columns": cols}, "formula": formula,
               "estimator": "ols", "vcov": "classical"}
        r = self.srv.post("/v1/models", req)
        # 201 when this server fits it first, 200 when another test did.
        self.assertIn(r.status, (200, 201), r.text)
        return req, r.json, cert, terms

    def check(self, name):
        req, m, cert, terms = self.fit(name)
        self.assertEqual(cert["n_obs"], len(req["data"]["columns"]["y"]))
        self.assertEqual([c["term"] for c in m["coefficients"]], terms)
        self.assertEqual(m["dropped"]["collinear"], [])
        self.assertEqual(m["dropped"]["missing_rows"], 0)
        self.assertEqual(m["fit"]["n"], cert["n_obs"])
        self.assertEqual(m["fit"]["k"], len(terms))
        self.assertEqual(m["fit"]["df_resid"], cert["anova"]["residual_df"])
        self.assertEqual(m["vcov"], "classical")
        self.assertEqual(m["estimator"], "ols")
        d_est = min(g.sig_digits(c["estimate"], want)
                    for c, want in zip(m["coefficients"],
                                       cert["coefficients"]))
        d_se = min(g.sig_digits(c["std_error"], want)
                   for c, want in zip(m["coefficients"], cert["std_errors"]))
        d_sd = g.sig_digits(m["fit"]["rmse"], cert["residual_sd"])
        d_r2 = g.sig_digits(m["fit"]["r2"], cert["r_squared"])
        d_f = g.sig_digits(m["fit"]["f"], cert["anova"]["f_statistic"])
        self.digits[name] = {"coef": d_est, "se": d_se, "sd": d_sd,
                             "r2": d_r2, "F": d_f}
        for i, (c, want, se) in enumerate(zip(m["coefficients"],
                                              cert["coefficients"],
                                              cert["std_errors"])):
            self.assertGreaterEqual(g.sig_digits(c["estimate"], want),
                                    MIN_DIGITS, "%s %s estimate %r vs %r" %
                                    (name, c["term"], c["estimate"], want))
            self.assertGreaterEqual(g.sig_digits(c["std_error"], se),
                                    MIN_DIGITS, "%s %s std_error %r vs %r" %
                                    (name, c["term"], c["std_error"], se))
            # t, p and the interval follow from estimate and se.
            self.assertAlmostEqual(c["statistic"],
                                   c["estimate"] / c["std_error"],
                                   delta=1e-12 * abs(c["statistic"]))
            self.assertLess(c["ci_low"], c["estimate"])
            self.assertGreater(c["ci_high"], c["estimate"])
            self.assertAlmostEqual(c["estimate"] - c["ci_low"],
                                   c["ci_high"] - c["estimate"],
                                   delta=1e-9 * (c["ci_high"] - c["ci_low"]))
            self.assertGreaterEqual(c["p_value"], 0.0)
            self.assertLessEqual(c["p_value"], 1.0)
            self.assertIsNone(c["effect"])  # level response: no elasticity
        self.assertGreaterEqual(d_sd, MIN_DIGITS, "%s rmse %r vs %r" % (
            name, m["fit"]["rmse"], cert["residual_sd"]))
        self.assertGreaterEqual(d_r2, MIN_DIGITS, "%s r2 %r vs %r" % (
            name, m["fit"]["r2"], cert["r_squared"]))
        self.assertGreaterEqual(d_f, MIN_DIGITS - 1, "%s F %r vs %r" % (
            name, m["fit"]["f"], cert["anova"]["f_statistic"]))
        # Log-likelihood, AIC and BIC from the certified residual SS.
        n, k = cert["n_obs"], len(terms)
        ssr = cert["anova"]["residual_ss"]
        ll = -n / 2 * (math.log(2 * math.pi) + math.log(ssr / n) + 1)
        self.assertGreaterEqual(g.sig_digits(m["fit"]["log_likelihood"], ll),
                                MIN_DIGITS)
        self.assertGreaterEqual(g.sig_digits(m["fit"]["aic"],
                                             -2 * ll + 2 * (k + 1)),
                                MIN_DIGITS)
        self.assertGreaterEqual(g.sig_digits(m["fit"]["bic"],
                                             -2 * ll + math.log(n) * (k + 1)),
                                MIN_DIGITS)
        return m

    def test_norris(self):
        self.check("Norris")

    def test_pontius(self):
        self.check("Pontius")

    def test_noint1(self):
        m = self.check("NoInt1")
        # NIST's R^2 without an intercept is the uncentred one; adjusted R^2
        # uses n / (n - k) (METHODS.md section 2).
        r2 = m["fit"]["r2"]
        n, k = m["fit"]["n"], m["fit"]["k"]
        self.assertAlmostEqual(m["fit"]["adj_r2"], 1 - (1 - r2) * n / (n - k),
                               delta=1e-13)

    def test_longley(self):
        m = self.check("Longley")
        r2 = m["fit"]["r2"]
        n, k = m["fit"]["n"], m["fit"]["k"]
        self.assertAlmostEqual(m["fit"]["adj_r2"],
                               1 - (1 - r2) * (n - 1) / (n - k), delta=1e-13)

    def test_longley_rows_form_gives_same_answer_and_ids(self):
        cols, _ = load("Longley")
        rows = [dict(zip(cols, vals)) for vals in zip(*cols.values())]
        formula = CASES["Longley"][0]
        a = self.srv.post("/v1/models", {"data": {"columns": cols},
                                         "formula": formula})
        b = self.srv.post("/v1/models", {"data": {"rows": rows},
                                         "formula": formula})
        self.assertIn(a.status, (200, 201), a.text)
        self.assertEqual(b.status, 200, b.text)
        self.assertEqual(a.json["coefficients"], b.json["coefficients"])
        self.assertEqual(a.json["fit"], b.json["fit"])
        # The same request again gives the same ids (content hashes).
        c = self.srv.post("/v1/models", {"data": {"columns": cols},
                                         "formula": formula})
        self.assertEqual(c.status, 200, c.text)
        self.assertEqual(c.json, a.json)
        self.assertEqual(c.json["dataset_id"], a.json["dataset_id"])
        self.assertEqual(c.json["coefficients"], a.json["coefficients"])
        # Another spec on the same data: same dataset, another model.
        d = self.srv.post("/v1/models", {"data": {"columns": cols},
                                         "formula": formula, "vcov": "hc1"})
        self.assertIn(d.status, (200, 201), d.text)
        self.assertEqual(d.json["dataset_id"], a.json["dataset_id"])
        self.assertNotEqual(d.json["id"], a.json["id"])
        self.assertEqual(d.json["vcov"], "hc1")
        for ca, cd in zip(a.json["coefficients"], d.json["coefficients"]):
            self.assertEqual(ca["estimate"], cd["estimate"])

    def test_hc_variances_on_norris_relations(self):
        # HC1 = HC0 * n / (n - k) exactly (METHODS.md section 2).
        cols, _ = load("Norris")
        res = {}
        for v in ("hc0", "hc1"):
            r = self.srv.post("/v1/models", {"data": {"columns": cols},
                                             "formula": "y ~ x", "vcov": v})
            self.assertIn(r.status, (200, 201), r.text)
            res[v] = r.json
        n, k = res["hc0"]["fit"]["n"], res["hc0"]["fit"]["k"]
        for c0, c1 in zip(res["hc0"]["coefficients"],
                          res["hc1"]["coefficients"]):
            self.assertGreaterEqual(
                g.sig_digits(c1["std_error"],
                             c0["std_error"] * math.sqrt(n / (n - k))), 12)

    def test_confidence_level_changes_only_the_interval(self):
        cols, _ = load("Norris")
        out = {}
        for conf in (0.95, 0.99):
            r = self.srv.post("/v1/models", {"data": {"columns": cols},
                                             "formula": "y ~ x",
                                             "confidence": conf})
            self.assertIn(r.status, (200, 201), r.text)
            out[conf] = r.json
        self.assertNotEqual(out[0.95]["id"], out[0.99]["id"])
        for a, b in zip(out[0.95]["coefficients"],
                        out[0.99]["coefficients"]):
            self.assertEqual(a["estimate"], b["estimate"])
            self.assertEqual(a["std_error"], b["std_error"])
            self.assertLess(b["ci_low"], a["ci_low"])
            self.assertGreater(b["ci_high"], a["ci_high"])


if __name__ == "__main__":
    unittest.main()

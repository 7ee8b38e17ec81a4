"""End-to-end: the extended gravity model of the Central Asia paper, in its
shape, on a small panel of real values (fixtures/gravity_chn_ca.csv, made by
fixtures/make_gravity_panel.py from the shared data; see its header for the
sources): China's reported total goods trade with KAZ, KGZ, TJK, TKM and UZB
(13 observed pair-years of 70), GDP and population of both sides, economic
distance (capital distance times the crude oil price) and the partner's
openness.

The reference is computed here independently: OLS solved exactly in rational
arithmetic on the same doubles (refmath.OlsReference; it agrees with
statsmodels to the digits statsmodels prints). Tolerances (relative):
coefficients 1e-9, standard errors 1e-8 and predictions 1e-9; the design's
condition number is about 1e4, so a backward-stable QR should do far
better (the digits achieved are printed). K, gap and class must be exactly consistent with the
returned actual and predicted values and the thresholds."""

import math
import sys
import unittest

import gravitas_e2e as g
import refmath

FORMULA = ("log(etrade) ~ log(gdp_r * gdp_p) + log(pop_r * pop_p) + "
           "log(distcap * oil) + open_p")
TERMS = ["(Intercept)", "log(gdp_r*gdp_p)", "log(pop_r*pop_p)",
         "log(distcap*oil)", "open_p"]
COEF_RTOL = 1e-9
SE_RTOL = 1e-8
PRED_RTOL = 1e-9
PARTNER_ID = {"KAZ": 1.0, "KGZ": 2.0, "TJK": 3.0, "TKM": 4.0, "UZB": 5.0}


def load_rows():
    return g.csv_rows("tests", "e2e", "fixtures", "gravity_chn_ca.csv")


def design_row(r):
    return [1.0, math.log(r["gdp_r"] * r["gdp_p"]),
            math.log(r["pop_r"] * r["pop_p"]),
            math.log(r["distcap"] * r["oil"]), r["open_p"]]


def rel(a, b):
    return abs(a - b) / abs(b) if b != 0 else abs(a)


class GravityPanel(g.ServerTestCase, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rows = load_rows()
        cls.used = [i for i, r in enumerate(cls.rows)
                    if r["etrade"] is not None]
        X = [design_row(cls.rows[i]) for i in cls.used]
        y = [math.log(cls.rows[i]["etrade"]) for i in cls.used]
        cls.ref = refmath.OlsReference(X, y)
        cls.digits = {}

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls.digits:
            sys.stderr.write("\ngravity panel, digits of agreement with the "
                             "exact reference: %s\n" % ", ".join(
                                 "%s %.2f" % kv for kv in cls.digits.items()))

    def fit(self, **kw):
        body = {"data": {"rows": self.rows}, "formula": FORMULA}
        body.update(kw)
        r = self.srv.post("/v1/models", body)
        self.assertIn(r.status, (200, 201), r.text)
        return r.json

    def test_panel_is_what_the_fixture_says(self):
        self.assertEqual(len(self.rows), 70)
        self.assertEqual(len(self.used), 13)

    def test_coefficients_and_fit(self):
        m = self.fit(vcov="classical")
        self.assertEqual([c["term"] for c in m["coefficients"]], TERMS)
        self.assertEqual(m["fit"]["n"], 13)
        self.assertEqual(m["fit"]["k"], 5)
        self.assertEqual(m["fit"]["df_resid"], 8)
        self.assertEqual(m["dropped"], {"collinear": [], "missing_rows": 57})
        self.assertEqual(m["interpolated"], [])
        coef = self.ref.coef()
        se = self.ref.se_classical()
        self.digits["coef"] = min(g.sig_digits(c["estimate"], b)
                                  for c, b in zip(m["coefficients"], coef))
        self.digits["se"] = min(g.sig_digits(c["std_error"], s)
                                for c, s in zip(m["coefficients"], se))
        for c, b, s in zip(m["coefficients"], coef, se):
            self.assertLess(rel(c["estimate"], b), COEF_RTOL,
                            "%s: %r vs %r" % (c["term"], c["estimate"], b))
            self.assertLess(rel(c["std_error"], s), SE_RTOL,
                            "%s: %r vs %r" % (c["term"], c["std_error"], s))
        self.assertLess(rel(m["fit"]["r2"], self.ref.r2()), 1e-11)
        self.assertLess(rel(m["fit"]["rmse"], self.ref.rmse()), 1e-10)
        # Effects: elasticities for log regressors, a semi-elasticity in
        # percent per unit for the level regressor, none for the intercept.
        eff = {c["term"]: c["effect"] for c in m["coefficients"]}
        self.assertIsNone(eff["(Intercept)"])
        for t in TERMS[1:4]:
            est = next(c["estimate"] for c in m["coefficients"]
                       if c["term"] == t)
            self.assertEqual(eff[t]["kind"], "elasticity")
            self.assertEqual(eff[t]["value"], est)
        b = next(c["estimate"] for c in m["coefficients"]
                 if c["term"] == "open_p")
        self.assertEqual(eff["open_p"]["kind"], "semi_elasticity")
        self.assertLess(rel(eff["open_p"]["value"], 100 * math.expm1(b)),
                        1e-12)

    def test_robust_and_cluster_variances(self):
        m = self.fit(vcov="hc1")
        self.assertEqual(m["vcov"], "hc1")
        for c, s in zip(m["coefficients"], self.ref.se_hc("hc1")):
            self.assertLess(rel(c["std_error"], s), SE_RTOL, c["term"])
        rows = [dict(r, pid=PARTNER_ID[r["partner"]]) for r in self.rows]
        r = self.srv.post("/v1/models", {"data": {"rows": rows},
                                         "formula": FORMULA,
                                         "vcov": "cluster:pid"})
        self.assertEqual(r.status, 201, r.text)
        m = r.json
        self.assertEqual(m["vcov"], "cluster:pid")
        groups = [PARTNER_ID[self.rows[i]["partner"]] for i in self.used]
        se, G = self.ref.se_cluster(groups)
        self.assertEqual(G, 5)
        for c, s in zip(m["coefficients"], se):
            self.assertLess(rel(c["std_error"], s), SE_RTOL, c["term"])
            # df = G - 1 for the t quantile: check the interval width.
        c = m["coefficients"][1]
        t4_975 = 2.7764451051977987  # Student t, 4 df, 0.975 quantile
        self.assertLess(rel(c["ci_high"] - c["estimate"],
                            t4_975 * c["std_error"]), 1e-9)

    def check_potentials(self, m, method, lo, hi, smearing="duan"):
        resid = [float(e) for e in self.ref.resid]
        if method == "log" or smearing == "none":
            factor = 1.0
        elif smearing == "duan":
            factor = sum(math.exp(e) for e in resid) / len(resid)
        else:
            factor = math.exp(float(self.ref.s2) / 2)
        pots = m["potentials"]
        with_actual = [p for p in pots if p["actual"] is not None]
        self.assertEqual(sorted(p["row"] for p in with_actual), self.used)
        self.assertEqual(len({p["row"] for p in pots}), len(pots))
        classes = set()
        for p in pots:
            src = self.rows[p["row"]]
            self.assertEqual((p["reporter"], p["partner"], p["year"]),
                             (src["reporter"], src["partner"], src["year"]))
            want = math.exp(self.ref.xb(design_row(src))) * factor
            self.assertLess(rel(p["predicted"], want), PRED_RTOL, p)
            if p["actual"] is None:
                self.assertIsNone(src["etrade"])
                self.assertIsNone(p["k"])
                self.assertIsNone(p["class"])
                self.assertIsNone(p["gap"])
                continue
            self.assertEqual(p["actual"], src["etrade"])
            if method == "level":
                k = p["actual"] / p["predicted"]
            else:
                k = math.log(p["actual"]) / math.log(p["predicted"])
            self.assertLess(rel(p["k"], k), 4e-16, p)
            self.assertLess(abs(p["gap"] - (p["predicted"] - p["actual"])),
                            4e-16 * p["actual"], p)
            if p["k"] <= lo:
                want_cls = "huge_potential"
            elif p["k"] < hi:
                want_cls = "expanding_potential"
            else:
                want_cls = "remodelling_potential"
            self.assertEqual(p["class"], want_cls, p)
            classes.add(p["class"])
        return classes

    def test_potentials_level_duan(self):
        m = self.fit(potential={"method": "level", "smearing": "duan",
                                "thresholds": [0.8, 1.2]})
        classes = self.check_potentials(m, "level", 0.8, 1.2)
        # Real data, residual sd ~0.3 in logs: K spreads over classes.
        self.assertGreaterEqual(len(classes), 2, classes)

    def test_potentials_default_spec_is_level_duan(self):
        a = self.fit()
        b = self.fit(potential={"method": "level", "smearing": "duan",
                                "thresholds": [0.8, 1.2]})
        self.assertEqual(a["potentials"], b["potentials"])

    def test_potentials_smearing_variants(self):
        for s in ("normal", "none"):
            with self.subTest(smearing=s):
                m = self.fit(potential={"smearing": s})
                self.check_potentials(m, "level", 0.8, 1.2, smearing=s)

    def test_potentials_log_method(self):
        m = self.fit(potential={"method": "log", "thresholds": [0.8, 1.2]})
        self.check_potentials(m, "log", 0.8, 1.2)
        for p in m["potentials"]:
            if p["k"] is not None:
                # Trade in dollars: both logs are about 21-25, so K ~ 1.
                self.assertEqual(p["class"], "expanding_potential", p)

    def test_potentials_custom_thresholds(self):
        lo, hi = 0.95, 1.05
        m = self.fit(potential={"thresholds": [lo, hi]})
        classes = self.check_potentials(m, "level", lo, hi)
        self.assertIn("huge_potential", classes)
        self.assertIn("remodelling_potential", classes)

    def test_interpolation(self):
        formula = ("log(etrade) ~ log(gdp_r * gdp_p) + log(distcap * oil) + "
                   "internet_p")
        body = {"data": {"rows": self.rows}, "formula": formula}
        r = self.srv.post("/v1/models", dict(body, interpolate="none"))
        self.assertEqual(r.status, 201, r.text)
        # TJK 2018, TKM 2018 and TKM 2023 lack internet_p.
        self.assertEqual(r.json["fit"]["n"], 10)
        self.assertEqual(r.json["dropped"]["missing_rows"], 60)
        self.assertEqual(r.json["interpolated"], [])

        def series(p):
            return {row["year"]: row["internet_p"] for row in self.rows
                    if row["partner"] == p}

        tjk, tkm = series("TJK"), series("TKM")
        want_tjk = [("CHN-TJK", 2018, tjk[2017] + (tjk[2020] - tjk[2017]) / 3,
                     "interpolated"),
                    ("CHN-TJK", 2019,
                     tjk[2017] + (tjk[2020] - tjk[2017]) * 2 / 3,
                     "interpolated")]
        want_tkm = [("CHN-TKM", y, tkm[2017], "carried")
                    for y in range(2018, 2024)]

        def got(m):
            self.assertNotIn("etrade", {e["variable"] for e in
                                        m["interpolated"]},
                             "the outcome must never be interpolated")
            return sorted((e["entity"], e["year"], e["value"], e["kind"])
                          for e in m["interpolated"]
                          if e["variable"] == "internet_p")

        def same(a, b):
            self.assertEqual(len(a), len(b), (a, b))
            for x, y in zip(a, b):
                self.assertEqual((x[0], x[1], x[3]), (y[0], y[1], y[3]))
                self.assertLess(rel(x[2], y[2]), 1e-14, (x, y))

        r = self.srv.post("/v1/models", dict(body, interpolate="linear"))
        self.assertEqual(r.status, 201, r.text)
        same(got(r.json), sorted(want_tjk))
        self.assertEqual(r.json["fit"]["n"], 11)  # TKM stays missing
        r = self.srv.post("/v1/models", dict(body, interpolate="nearest"))
        self.assertEqual(r.status, 201, r.text)
        same(got(r.json), sorted(want_tjk + want_tkm))
        self.assertEqual(r.json["fit"]["n"], 13)
        self.assertEqual(r.json["dropped"]["missing_rows"], 57)


if __name__ == "__main__":
    unittest.main()

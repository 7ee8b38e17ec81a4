"""End-to-end: the stochastic frontier (estimator "sfa") over HTTP against
published estimates.

Reference: the Philippine rice panel (43 farmers x 8 years, Coelli, Rao,
O'Donnell and Battese 2005) with the FRONTIER 4.1 estimates that the R
package `frontier` prints in tests/frontierTest.Rout.save (5 significant
digits; see tests/reference/sfa/README.md): b1 time-invariant half-normal
and b3 Battese-Coelli 1992 time-varying decay. Asserted to half a unit of
the last printed digit (relative 1e-4 where that is looser). The partner key
carries the farmer and the year key the period, as a gravity panel's
(reporter, partner) pair and year would."""

import csv
import math
import unittest

import gravitas_e2e as g

FORMULA = "log(PROD) ~ log(AREA) + log(LABOR) + log(NPK)"

# (coefficients, sigma2, gamma, eta, log-likelihood, LR statistic)
PUBLISHED = {
    "invariant": ([-0.83217, 0.45390, 0.28892, 0.22754], 0.15538, 0.46431,
                  None, -86.43, 36.953),
    "bc92": ([-0.75392, 0.47492, 0.30010, 0.19946], 0.12996, 0.36963,
             0.05891, -84.55, 40.713),
}


def rice_rows():
    path = g.source_path("tests", "reference", "sfa", "riceProdPhil.csv")
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append({"partner": "F" + r["FMERCODE"],
                         "year": 2000 + int(r["YEARDUM"]),
                         "PROD": float(r["PROD"]), "AREA": float(r["AREA"]),
                         "LABOR": float(r["LABOR"]), "NPK": float(r["NPK"])})
    return rows


def printed_close(got, want):
    """Within half a unit of the last printed digit of want, or 1e-4
    relative, whichever is looser."""
    text = repr(want)
    decimals = len(text.split(".")[1]) if "." in text else 0
    half_unit = 0.5 * 10 ** -decimals
    return abs(got - want) <= max(half_unit, 1e-4 * abs(want))


class Frontier(g.ServerTestCase, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rows = rice_rows()

    def fit(self, **extra):
        body = {"data": {"rows": self.rows}, "formula": FORMULA,
                "estimator": "sfa"}
        body.update(extra)
        return self.srv.post("/v1/models", body)

    def check_published(self, time):
        r = self.fit(time=time)
        self.assertIn(r.status, (200, 201), r.text)
        m = r.json
        coefs, sigma2, gamma, eta, loglik, lr = PUBLISHED[time]
        self.assertEqual(m["estimator"], "sfa")
        self.assertEqual([c["term"] for c in m["coefficients"]],
                         ["(Intercept)", "log(AREA)", "log(LABOR)",
                          "log(NPK)"])
        for c, want in zip(m["coefficients"], coefs):
            self.assertTrue(printed_close(c["estimate"], want),
                            (c["term"], c["estimate"], want))
        fr = m["frontier"]
        self.assertTrue(printed_close(fr["sigma2"], sigma2), fr)
        self.assertTrue(printed_close(fr["gamma"], gamma), fr)
        if eta is not None:
            self.assertTrue(printed_close(fr["eta"], eta), fr)
        self.assertTrue(printed_close(m["fit"]["log_likelihood"], loglik), m["fit"])
        self.assertTrue(printed_close(fr["lr_test"]["statistic"], lr), fr)
        self.assertEqual(fr["n_groups"], 43)
        self.assertTrue(m["convergence"]["converged"])
        # K is the technical efficiency, predicted the frontier.
        self.assertEqual(m["potential"]["method"], "frontier")
        for p in m["potentials"]:
            self.assertGreater(p["k"], 0)
            self.assertLessEqual(p["k"], 1)
            self.assertAlmostEqual(p["predicted"] * p["k"], p["actual"],
                                   delta=1e-9 * p["actual"])
        return m

    def test_time_invariant_half_normal(self):
        m = self.check_published("invariant")
        self.assertIsNone(m["frontier"]["eta_se"])

    def test_battese_coelli_1992(self):
        m = self.check_published("bc92")
        # Mean efficiency of the first and last year (published 0.78484 and
        # 0.84833: efficiency rises with eta > 0).
        by_year = {}
        for p in m["potentials"]:
            by_year.setdefault(p["year"], []).append(p["k"])
        first = sum(by_year[2001]) / len(by_year[2001])
        last = sum(by_year[2008]) / len(by_year[2008])
        self.assertTrue(printed_close(first, 0.78484), first)
        self.assertTrue(printed_close(last, 0.84833), last)

    def test_predict_gives_the_frontier(self):
        m = self.fit(time="bc92").json
        r = self.srv.post("/v1/models/%s/predict" % m["id"],
                          {"data": {"rows": self.rows[:3]}})
        self.assertEqual(r.status, 200, r.text)
        b = {c["term"]: c["estimate"] for c in m["coefficients"]}
        for p, row in zip(r.json["predictions"], self.rows[:3]):
            xb = (b["(Intercept)"] + b["log(AREA)"] * math.log(row["AREA"]) +
                  b["log(LABOR)"] * math.log(row["LABOR"]) +
                  b["log(NPK)"] * math.log(row["NPK"]))
            self.assertAlmostEqual(p["predicted"], math.exp(xb),
                                   delta=1e-12 * math.exp(xb))
            self.assertIsNone(p["k"])

    def test_options_enter_the_model_id(self):
        a = self.fit(time="bc92").json["id"]
        b = self.fit(time="invariant").json["id"]
        c = self.fit(time="bc92", inefficiency="half_normal").json["id"]
        self.assertNotEqual(a, b)
        self.assertEqual(a, c)

    def test_bad_requests(self):
        r = self.fit(vcov="hc1")
        self.assertProblem(r, 422, "invalid-request", ["/vcov"])
        r = self.fit(potential={"method": "level"})
        self.assertProblem(r, 422, "invalid-request", ["/potential/method"])
        r = self.srv.post("/v1/models", {"data": {"rows": self.rows},
                                         "formula": FORMULA, "time": "bc92"})
        self.assertProblem(r, 422, "invalid-request", ["/time"])
        r = self.srv.post("/v1/models", {"data": {"rows": self.rows},
                                         "formula": FORMULA,
                                         "potential": {"method": "frontier"}})
        self.assertProblem(r, 422, "invalid-request", ["/potential/method"])
        r = self.fit(formula="PROD ~ log(AREA)")
        self.assertProblem(r, 422, "invalid-request", ["/formula"])
        no_keys = [{k: v for k, v in row.items() if k != "partner"}
                   for row in self.rows]
        r = self.srv.post("/v1/models", {"data": {"rows": no_keys},
                                         "formula": FORMULA,
                                         "estimator": "sfa", "time": "bc92"})
        self.assertProblem(r, 422, "invalid-request", ["/time"])
        r = self.fit(inefficiency="exponential")
        self.assertProblem(r, 422, "invalid-request", ["/inefficiency"])


if __name__ == "__main__":
    unittest.main()

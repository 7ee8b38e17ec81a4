"""End-to-end: heterogeneity of effects (METHODS.md section 9) against R.

tests/reference/het/reference.R (R lm on tests/reference/panel/data.csv):
- the effect of lgdp_o where rta = 1 is, in R, the lgdp_o coefficient of a
  model with the dummy reversed, with R's own standard error; the service
  gives it as b_x + b_{x:g} with the delta-method standard error;
- "by": least squares per band, and the Wald test of equal coefficients
  computed in R from each fit's vcov().
Tolerance 1e-9 relative (closed forms; R printed with 17 digits)."""

import csv
import unittest

import gravitas_e2e as g

RTOL = 1e-9


def reference():
    out = {}
    with open(g.source_path("tests", "reference", "het", "values.csv")) as f:
        for r in csv.DictReader(f):
            out[(r["stat"], r["term"])] = float(r["value"])
    return out


def rows():
    out = []
    with open(g.source_path("tests", "reference", "panel", "data.csv")) as f:
        for r in csv.DictReader(f):
            if "" in (r["ltrade"], r["lgdp_o"], r["lgdp_d"], r["rta"]):
                continue
            out.append({"reporter": r["reporter"], "partner": r["partner"],
                        "year": int(r["year"]), "ltrade": float(r["ltrade"]),
                        "lgdp_o": float(r["lgdp_o"]),
                        "lgdp_d": float(r["lgdp_d"]), "rta": float(r["rta"]),
                        "band": float(r["band"])})
    return out


class Heterogeneity(g.ServerTestCase, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ref = reference()
        cls.rows = rows()

    def close(self, got, want, what):
        self.assertLessEqual(abs(got - want), RTOL * abs(want),
                             "%s: %.17g vs %.17g" % (what, got, want))

    def test_group_effect_of_an_interaction_with_a_dummy(self):
        r = self.srv.post("/v1/models", {
            "data": {"rows": self.rows},
            "formula": "ltrade ~ lgdp_o + lgdp_d + rta + lgdp_o:rta"})
        self.assertIn(r.status, (200, 201), r.text)
        ge = {(e["term"], e["group"]): e for e in r.json["group_effects"]}
        e = ge[("lgdp_o", "rta")]
        self.close(e["estimate"], self.ref[("group_effect", "lgdp_o")],
                   "effect")
        self.close(e["std_error"], self.ref[("group_effect_se", "lgdp_o")],
                   "se")

    def test_by_group_and_the_wald_test(self):
        r = self.srv.post("/v1/models", {
            "data": {"rows": self.rows},
            "formula": "ltrade ~ lgdp_o + lgdp_d", "by": "band"})
        self.assertIn(r.status, (200, 201), r.text)
        by = r.json["by_group"]
        self.assertEqual(by["variable"], "band")
        for grp in by["groups"]:
            band = grp["group"]
            c = {x["term"]: x for x in grp["coefficients"]}
            self.close(c["lgdp_o"]["estimate"],
                       self.ref[("band_coef_%s" % band, "lgdp_o")], band)
            self.assertEqual(grp["n"], self.ref[("band_n_%s" % band, "-")])
        self.close(by["wald"]["statistic"], self.ref[("wald", "-")], "wald")
        self.assertEqual(by["wald"]["df"], self.ref[("wald_df", "-")])

    def test_by_needs_least_squares(self):
        r = self.srv.post("/v1/models", {
            "data": {"rows": self.rows}, "formula": "ltrade ~ lgdp_o | band",
            "by": "rta"})
        self.assertProblem(r, 422, "invalid-request", ["/by"])
        r = self.srv.post("/v1/models", {
            "data": {"rows": self.rows}, "formula": "ltrade ~ lgdp_o",
            "by": "nosuch"})
        self.assertProblem(r, 422, "invalid-request", ["/by"])


if __name__ == "__main__":
    unittest.main()

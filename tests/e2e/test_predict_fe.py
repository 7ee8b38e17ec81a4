"""End-to-end: predictions for new rows of models with fixed effects and of
random-effects models (POST /v1/models/{id}/predict).

Reference: tests/reference/predict/predict.R (committed with predict.csv):
R fits on the rows of the data file whose 0-based position is not 3 modulo
10 and predicts the others (complete regressors, levels seen in the fit):
- fe: lm(ltrade ~ lgdp_o + lgdp_d + rta + factor(reporter) + factor(year))
  on tests/reference/panel/data.csv, predict() = the linear predictor;
- ppml: glm(trade ~ ldist + contig + lgdp_o + lgdp_d + rta + factor(exp) +
  factor(imp), quasipoisson) on tests/reference/ppml/gravity.csv,
  predict(type = "response") = the mean.
The service fits at its default tolerances (demeaning 1e-8, PPML deviance
1e-8): the bar is 1e-6 relative, as for the coefficients (test_panel.py).
"""

import csv
import unittest

import gravitas_e2e as g
from test_panel import panel_rows, ppml_rows

RTOL = 1e-6


def reference():
    out = {}
    path = g.source_path("tests", "reference", "predict", "predict.csv")
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out[(r["model"], int(r["row"]))] = float(r["value"])
    return out


class PredictWithFixedEffects(g.ServerTestCase, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ref = reference()

    def close(self, got, want, what):
        self.assertIsNotNone(got, what)
        self.assertLessEqual(abs(got - want), RTOL * abs(want),
                             "%s: got %.17g, want %.17g" % (what, got, want))

    def fit(self, rows, **body):
        body["data"] = {"rows": rows}
        r = self.srv.post("/v1/models", body)
        self.assertIn(r.status, (200, 201), r.text)
        return r.json

    def predict(self, model_id, rows):
        r = self.srv.post("/v1/models/%s/predict" % model_id,
                          {"data": {"rows": rows}})
        self.assertEqual(r.status, 200, r.text)
        return r.json

    def test_fe_predicts_held_out_rows_as_lm_with_dummies(self):
        rows = panel_rows()
        train = [r for i, r in enumerate(rows) if i % 10 != 3]
        held = [(i, r) for i, r in enumerate(rows)
                if ("fe", i) in self.ref]
        m = self.fit(train, estimator="fe",
                     formula="ltrade ~ lgdp_o + lgdp_d + rta | reporter + year")
        # The stored answer lists every estimated level by its key.
        vals = {v["factor"]: v["levels"] for v in m["fixed_effect_values"]}
        self.assertEqual(set(vals), {"reporter", "year"})
        self.assertEqual(len(vals["reporter"]), 30)
        self.assertEqual(sorted(l["key"][0] for l in vals["year"]),
                         list(range(2010, 2018)))
        # The outcome is left out of the new rows: predictions only.
        new = [{k: v for k, v in r.items() if k != "ltrade"} for _, r in held]
        ans = self.predict(m["id"], new)
        preds = ans["predictions"]
        self.assertEqual(len(preds), len(held))
        for (i, _), p in zip(held, preds):
            self.close(p["linear_predictor"], self.ref[("fe", i)],
                       "fe row %d" % i)
            self.close(p["predicted"], self.ref[("fe", i)], "fe row %d" % i)
            self.assertIsNone(p["k"])
        # The fit's own rows predict its potentials' values exactly.
        pot = self.srv.get("/v1/models/%s/potentials?reporter=C01&partner=C02"
                           % m["id"]).json["potentials"]
        own = [r for r in train if r["reporter"] == "C01" and
               r["partner"] == "C02" and r["ltrade"] is not None and
               r["rta"] is not None]
        got = self.predict(m["id"], own)["predictions"]
        by_year = {p["year"]: p["predicted"] for p in pot}
        for p in got:
            self.assertAlmostEqual(p["predicted"], by_year[p["year"]],
                                   delta=1e-12 * abs(by_year[p["year"]]))
            self.assertIsNotNone(p["k"])

    def test_unseen_levels_are_null_with_one_warning(self):
        rows = panel_rows()
        train = [r for r in rows if r["year"] <= 2015]
        m = self.fit(train, estimator="fe",
                     formula="ltrade ~ lgdp_o + lgdp_d + rta | reporter + year")
        new = [dict(rows[0], year=2016), dict(rows[1], reporter="ZZZ"),
               dict(rows[1])]
        for r in new:
            r["rta"] = 1.0
        ans = self.predict(m["id"], new)
        p = ans["predictions"]
        self.assertEqual(len(p), 3)
        self.assertIsNone(p[0]["predicted"])
        self.assertIsNone(p[0]["linear_predictor"])
        self.assertIsNone(p[1]["predicted"])
        self.assertIsNotNone(p[2]["predicted"])
        w = [x for x in ans["warnings"] if "did not estimate" in x]
        self.assertEqual(len(w), 1, ans["warnings"])
        self.assertIn("2 rows", w[0])
        self.assertIn("year = 2016", w[0])

    def test_ppml_predicts_held_out_means_as_glm_with_dummies(self):
        rows = ppml_rows()
        ref = {i: v for (mod, i), v in self.ref.items() if mod == "ppml"}
        train = [r for i, r in enumerate(rows) if i % 10 != 3]
        m = self.fit(train, estimator="ppml",
                     formula="trade ~ ldist + contig + lgdp_o + lgdp_d + rta"
                             " | reporter + partner")
        self.assertTrue(m["convergence"]["converged"])
        idx = sorted(ref)
        ans = self.predict(m["id"], [rows[i] for i in idx])
        preds = ans["predictions"]
        self.assertEqual(len(preds), len(idx))
        for i, p in zip(idx, preds):
            self.close(p["predicted"], ref[i], "ppml row %d" % i)
            if rows[i]["trade"] > 0:
                self.close(p["k"], rows[i]["trade"] / ref[i], "K row %d" % i)

    def test_re_predicts_its_potentials(self):
        rows = panel_rows()
        m = self.fit(rows, estimator="re",
                     formula="ltrade ~ lgdp_o + lgdp_d + rta + ldist")
        pot = self.srv.get("/v1/models/%s/potentials?reporter=C03"
                           % m["id"]).json["potentials"]
        want = {(p["partner"], p["year"]): p["predicted"] for p in pot}
        own = [r for r in rows if r["reporter"] == "C03" and
               all(r[k] is not None for k in
                   ("ltrade", "lgdp_o", "lgdp_d", "rta", "ldist"))]
        got = self.predict(m["id"], own)["predictions"]
        self.assertEqual(len(got), len(own))
        for p in got:
            w = want[(p["partner"], p["year"])]
            self.assertAlmostEqual(p["predicted"], w, delta=1e-12 * abs(w))


if __name__ == "__main__":
    unittest.main()

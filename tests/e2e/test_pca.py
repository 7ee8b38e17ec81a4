"""End-to-end: POST /v1/pca on four real e-commerce enablers (WDI 2019, ten
countries, three with gaps; fixtures/enablers_2019.csv made by
fixtures/make_enablers_2019.py) against an independent reference: the
correlation matrix computed exactly in rationals, a cyclic Jacobi
eigen-solver, KMO from the exact inverse, Bartlett's chi-square with its
closed-form tail for even df (refmath). Tolerances: eigenvalues 1e-12
relative, eigenvectors and loadings 1e-9 absolute (eigenvalue gaps >= 0.13),
KMO and Bartlett 1e-9 relative, index 1e-9 absolute."""

import csv
import math
import unittest

import gravitas_e2e as g
import refmath

VARS = ["internet", "broadband", "servers", "tertiary"]


def load_rows():
    path = g.source_path("tests", "e2e", "fixtures", "enablers_2019.csv")
    out = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            row = {"reporter": r["reporter"], "year": int(r["year"])}
            for v in VARS:
                row[v] = float(r[v]) if r[v] != "" else None
            out.append(row)
    return out


class Pca(g.ServerTestCase, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rows = load_rows()
        cls.used = [i for i, r in enumerate(cls.rows)
                    if all(r[v] is not None for v in VARS)]
        cols = [[cls.rows[i][v] for i in cls.used] for v in VARS]
        cls.cols = cols
        cls.R = refmath.correlation(cols)
        vals, vecs = refmath.jacobi_eigen(cls.R)
        p = len(VARS)
        # Sign convention: the sum of each component's loadings is positive.
        for j in range(p):
            if sum(vecs[i][j] for i in range(p)) < 0:
                for i in range(p):
                    vecs[i][j] = -vecs[i][j]
        cls.vals, cls.vecs = vals, vecs
        # Scores of the first component on standardised data.
        z = [[(c[k] - refmath.mean(c)) / refmath.sample_sd(c)
              for c in cols] for k in range(len(cls.used))]
        cls.pc1 = [sum(zk[i] * vecs[i][0] for i in range(p)) for zk in z]

    def run_pca(self, **index):
        body = {"data": {"rows": self.rows}, "variables": VARS}
        if index:
            body["index"] = index
        r = self.srv.post("/v1/pca", body)
        self.assertEqual(r.status, 200, r.text)
        return r.json

    def test_counts_and_variance_shares(self):
        a = self.run_pca()
        p = len(VARS)
        self.assertEqual(a["variables"], VARS)
        self.assertEqual(a["n"], 7)
        self.assertEqual(a["n_dropped"], 3)
        self.assertEqual(len(a["eigenvalues"]), p)
        for got, want in zip(a["eigenvalues"], self.vals):
            self.assertLess(abs(got - want) / want, 1e-12, (got, want))
        self.assertAlmostEqual(sum(a["eigenvalues"]), p, delta=1e-12)
        for ev, pr in zip(a["eigenvalues"], a["proportion"]):
            self.assertAlmostEqual(pr, ev / p, delta=1e-15)
        acc = 0.0
        for pr, cu in zip(a["proportion"], a["cumulative"]):
            acc += pr
            self.assertAlmostEqual(cu, acc, delta=1e-14)
        self.assertAlmostEqual(a["cumulative"][-1], 1.0, delta=1e-14)
        self.assertEqual(a["eigenvalues"], sorted(a["eigenvalues"],
                                                  reverse=True))

    def test_vectors_loadings_and_sign_convention(self):
        a = self.run_pca()
        p = len(VARS)
        V, L = a["eigenvectors"], a["loadings"]
        self.assertEqual([len(r) for r in V], [p] * p)
        for i in range(p):
            for j in range(p):
                self.assertAlmostEqual(V[i][j], self.vecs[i][j], delta=1e-9,
                                       msg="eigenvector [%d][%d]" % (i, j))
                self.assertAlmostEqual(
                    L[i][j], V[i][j] * math.sqrt(a["eigenvalues"][j]),
                    delta=1e-14)
        for j in range(p):
            self.assertGreater(sum(L[i][j] for i in range(p)), 0)
            for k in range(p):
                dot = sum(V[i][j] * V[i][k] for i in range(p))
                self.assertAlmostEqual(dot, float(j == k), delta=1e-13)
        self.assertTrue(a["sign_convention"])

    def test_kmo_and_bartlett(self):
        a = self.run_pca()
        p, n = len(VARS), 7
        P = refmath.float_inverse(self.R)
        r2 = {i: 0.0 for i in range(p)}
        a2 = {i: 0.0 for i in range(p)}
        for i in range(p):
            for j in range(p):
                if i != j:
                    r2[i] += self.R[i][j] ** 2
                    a2[i] += (P[i][j] / math.sqrt(P[i][i] * P[j][j])) ** 2
        overall = sum(r2.values()) / (sum(r2.values()) + sum(a2.values()))
        self.assertLess(abs(a["kmo"]["overall"] - overall) / overall, 1e-9)
        self.assertEqual(set(a["kmo"]["per_variable"]), set(VARS))
        for i, v in enumerate(VARS):
            want = r2[i] / (r2[i] + a2[i])
            self.assertLess(abs(a["kmo"]["per_variable"][v] - want) / want,
                            1e-9, v)
        stat = -(n - 1 - (2 * p + 5) / 6) * refmath.log_det_spd(self.R)
        b = a["bartlett"]
        self.assertEqual(b["df"], p * (p - 1) / 2)
        self.assertLess(abs(b["statistic"] - stat) / stat, 1e-9)
        pv = refmath.chi2_sf_even_df(stat, 6)
        self.assertLess(abs(b["p_value"] - pv) / pv, 1e-9)

    def test_index_first_unit_and_percent(self):
        lo, hi = min(self.pc1), max(self.pc1)
        want = [(s - lo) / (hi - lo) for s in self.pc1]
        a = self.run_pca(method="first", scale="unit")
        self.assertEqual(a["n_components_kept"], 1)
        self.assertEqual(len(a["index"]), len(self.rows))
        for i, v in enumerate(a["index"]):
            if i not in self.used:
                self.assertIsNone(v, self.rows[i]["reporter"])
        got = [a["index"][i] for i in self.used]
        for x, y in zip(got, want):
            self.assertAlmostEqual(x, y, delta=1e-9)
        self.assertEqual(min(got), 0.0)
        self.assertEqual(max(got), 1.0)
        pct = self.run_pca(method="first", scale="percent")
        for x, y in zip(pct["index"], a["index"]):
            if y is None:
                self.assertIsNone(x)
            else:
                self.assertAlmostEqual(x, 100 * y, delta=1e-12)
        # Unscaled: an increasing affine image of the unit index.
        raw = self.run_pca(method="first", scale="none")
        rv = [raw["index"][i] for i in self.used]
        rlo, rhi = min(rv), max(rv)
        for x, y in zip(rv, got):
            self.assertAlmostEqual((x - rlo) / (rhi - rlo), y, delta=1e-12)
        # The leading enablers score highest: RUS on top, PAK at the bottom.
        names = [self.rows[i]["reporter"] for i in self.used]
        self.assertEqual(names[got.index(1.0)], "RUS")
        self.assertEqual(names[got.index(0.0)], "PAK")

    def test_index_kaiser_with_one_component_equals_first(self):
        self.assertEqual(sum(1 for v in self.vals if v > 1), 1)
        k = self.run_pca(method="kaiser", scale="unit")
        f = self.run_pca(method="first", scale="unit")
        self.assertEqual(k["n_components_kept"], 1)
        for x, y in zip(k["index"], f["index"]):
            if y is None:
                self.assertIsNone(x)
            else:
                self.assertAlmostEqual(x, y, delta=1e-12)

    def test_columns_form_same_answer(self):
        cols = {v: [r[v] for r in self.rows] for v in VARS}
        r = self.srv.post("/v1/pca", {"data": {"columns": cols},
                                      "variables": VARS})
        self.assertEqual(r.status, 200, r.text)
        a = self.run_pca()
        self.assertEqual(r.json["eigenvalues"], a["eigenvalues"])
        self.assertEqual(r.json["n"], 7)


if __name__ == "__main__":
    unittest.main()

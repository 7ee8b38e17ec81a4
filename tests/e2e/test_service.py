"""End-to-end: the service around the estimator, against the real binary and
a real SQLite file. The embedded default and the /v1/potential fast path;
datasets (JSON and CSV, content ids, pagination, ETags); models fitted on a
stored dataset (201 then 200, the same id as inline data), read back, their
potentials, predictions for new rows; aliases; deletes and their conflicts;
and persistence across a clean restart and a kill -9.

Every answer is also validated against openapi.yaml by gravitas_e2e."""

import io
import math
import os
import shutil
import signal
import sqlite3
import tempfile
import time
import unittest

import gravitas_e2e as g

THRESHOLDS = (0.8, 1.2)

# Real values: China's reported goods trade with Kazakhstan and Kyrgyzstan
# (current US$), GDP (current US$) and population of the partner
# (World Bank WDI), capital distance from Beijing (CEPII, km), as in
# tests/e2e/fixtures/gravity_chn_ca.csv.
PANEL = ("tests", "e2e", "fixtures", "gravity_chn_ca.csv")
FORMULA = "log(etrade) ~ log(gdp_r * gdp_p) + log(pop_r * pop_p) + open_p"


def panel_rows():
    return g.csv_rows(*PANEL)


def rows_to_csv(rows):
    out = io.StringIO()
    names = list(rows[0].keys())
    out.write(",".join(names) + "\n")
    for r in rows:
        cells = []
        for n in names:
            v = r[n]
            cells.append("" if v is None else
                         (repr(v) if isinstance(v, float) else str(v)))
        out.write(",".join(cells) + "\n")
    return out.getvalue()


def class_of(k):
    if k is None:
        return None
    if k <= THRESHOLDS[0]:
        return "huge_potential"
    if k >= THRESHOLDS[1]:
        return "remodelling_potential"
    return "expanding_potential"


def wait_ready(srv, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        r = srv.get("/readyz")
        if r.status == 200:
            return r
        if time.monotonic() > deadline:
            raise AssertionError("not ready: %s\n%s" % (r.text, srv.stderr()))
        time.sleep(0.05)


class DefaultAndFastPath(g.ServerTestCase, unittest.TestCase):
    """The embedded default is installed at start and served by alias."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        wait_ready(cls.srv)

    def test_ready_names_its_checks(self):
        r = wait_ready(self.srv)
        self.assertEqual(r.json["checks"]["store"], "ok")
        self.assertEqual(r.json["checks"]["default_model"], "ok")

    def test_alias_default_points_at_the_default_model(self):
        r = self.srv.get("/v1/aliases")
        self.assertEqual(r.status, 200, r.text)
        names = {a["name"]: a["model_id"] for a in r.json["items"]}
        self.assertIn("default", names)
        m = self.srv.get("/v1/models/default")
        self.assertEqual(m.status, 200, m.text)
        self.assertEqual(m.json["id"], names["default"])
        self.assertEqual(m.headers["etag"], '"%s"' % names["default"])
        # The default says how it was built and why it differs from the
        # paper's full specification.
        d = m.json["default"]
        self.assertEqual(d["name"], "china-central-asia-default")
        self.assertTrue(any("residual degrees of freedom" in w
                            for w in m.json["warnings"]), m.json["warnings"])
        self.assertGreaterEqual(m.json["fit"]["df_resid"], 5)

    def test_pair_without_year_is_the_latest_observed(self):
        r = self.srv.get("/v1/potential?reporter=CHN&partner=KAZ")
        self.assertEqual(r.status, 200, r.text)
        p = r.json
        self.assertEqual((p["reporter"], p["partner"]), ("CHN", "KAZ"))
        # The latest year with observed trade in the embedded outcome.
        self.assertEqual(p["year"], 2023)
        self.assertEqual(p["actual"], 41000000000.0)
        self.assertAlmostEqual(p["k"], p["actual"] / p["predicted"],
                               delta=1e-15 * p["k"])
        self.assertEqual(p["gap"], p["predicted"] - p["actual"])
        self.assertEqual(p["class"], class_of(p["k"]))
        self.assertEqual(p["model"]["estimator"], "ols")
        self.assertIn("cache-control", r.headers)
        # The fast path agrees with the model's own potentials.
        rows = self.srv.get("/v1/models/default/potentials?reporter=CHN"
                            "&partner=KAZ&year=2023").json["potentials"]
        self.assertEqual(len(rows), 1)
        for key in ("actual", "predicted", "k", "class", "gap"):
            self.assertEqual(rows[0][key], p[key], key)

    def test_pair_and_year_without_outcome(self):
        r = self.srv.get("/v1/potential?reporter=CHN&partner=KGZ&year=2015")
        self.assertEqual(r.status, 200, r.text)
        self.assertIsNone(r.json["actual"])
        self.assertIsNone(r.json["k"])
        self.assertIsNone(r.json["class"])
        self.assertGreater(r.json["predicted"], 0)

    def test_every_partner(self):
        r = self.srv.get("/v1/potential?reporter=CHN")
        self.assertEqual(r.status, 200, r.text)
        partners = [i["partner"] for i in r.json["items"]]
        self.assertEqual(sorted(partners), ["KAZ", "KGZ", "TJK", "TKM", "UZB"])
        for i in r.json["items"]:
            self.assertEqual(i["class"], class_of(i["k"]))
        y = self.srv.get("/v1/potential?reporter=CHN&year=2018")
        self.assertEqual(y.json["year"], 2018)
        self.assertTrue(all(i["year"] == 2018 for i in y.json["items"]))

    def test_etag_gives_304(self):
        r = self.srv.get("/v1/potential?reporter=CHN&partner=KAZ")
        etag = r.headers["etag"]
        again = self.srv.get("/v1/potential?reporter=CHN&partner=KAZ",
                             headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.body, b"")

    def test_unknown_pairs_say_what_exists(self):
        r = self.srv.get("/v1/potential?reporter=CHN&partner=FRA")
        p = self.assertProblem(r, 404, "not-found", ["/query/partner"])
        self.assertIn("KAZ, KGZ, TJK, TKM, UZB", p["detail"])
        r = self.srv.get("/v1/potential?reporter=USA&partner=KAZ")
        p = self.assertProblem(r, 404, "not-found", ["/query/reporter"])
        self.assertIn("CHN", p["detail"])
        r = self.srv.get("/v1/potential?reporter=CHN&partner=KAZ&year=1990")
        p = self.assertProblem(r, 404, "not-found", ["/query/year"])
        self.assertIn("2010", p["detail"])
        self.assertIn("2023", p["detail"])
        r = self.srv.get("/v1/potential?reporter=CHN&model=nosuch")
        self.assertProblem(r, 404, "not-found", ["/query/model"])

    def test_bad_queries_are_400(self):
        for q in ("year=20x1", "year=", "year=+2020", "year=99999"):
            r = self.srv.get("/v1/potential?reporter=CHN&partner=KAZ&" + q)
            self.assertProblem(r, 400, "bad-query", ["/query/year"])
        r = self.srv.get("/v1/potential?partner=KAZ")
        self.assertProblem(r, 400, "bad-query", ["/query/reporter"])


def server_timing(r):
    """The metric names and durations of a Server-Timing header."""
    names, durs = [], []
    for part in r.headers["server-timing"].split(","):
        name, dur = part.strip().split(";dur=")
        names.append(name)
        durs.append(float(dur))
    return names, durs


class DatasetsModelsAliases(g.ServerTestCase, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        wait_ready(cls.srv)
        cls.rows = panel_rows()

    def post_dataset(self, name="chn-ca"):
        r = self.srv.post("/v1/datasets", {"name": name, "rows": self.rows})
        self.assertIn(r.status, (200, 201), r.text)
        return r

    def test_dataset_ids_are_content_hashes(self):
        first = self.post_dataset()
        ds = first.json["id"]
        self.assertRegex(ds, r"^ds_[0-9a-f]{32}$")
        self.assertEqual(first.json["n_rows"], len(self.rows))
        self.assertEqual(first.json["reporters"], ["CHN"])
        self.assertEqual(first.headers["location"], "/v1/datasets/" + ds)
        again = self.post_dataset()
        self.assertEqual(again.status, 200, again.text)
        self.assertEqual(again.json["id"], ds)
        for r in (first, again):
            names, durs = server_timing(r)
            self.assertEqual(names, ["parse", "id", "encode", "store",
                                     "total"])
            self.assertTrue(all(d >= 0 for d in durs), durs)
            self.assertLessEqual(sum(durs[:-1]), durs[-1] + 0.01, durs)
        # The same content as CSV has the same id.
        c = self.srv.post("/v1/datasets?name=chn-ca",
                          rows_to_csv(self.rows), content_type="text/csv")
        self.assertEqual(c.status, 200, c.text)
        self.assertEqual(c.json["id"], ds)
        # Read back with rows: every value is the value sent.
        r = self.srv.get("/v1/datasets/%s?rows=true" % ds)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(len(r.json["data"]["rows"]), len(self.rows))
        for sent, got in zip(self.rows, r.json["data"]["rows"]):
            for k, v in sent.items():
                self.assertEqual(got.get(k), v, k)
        n = self.srv.get("/v1/datasets/" + ds,
                         headers={"If-None-Match": r.headers["etag"]})
        self.assertEqual(n.status, 304)

    def test_dataset_list_pages(self):
        ids = set()
        for i in range(3):
            rows = [dict(r, open_p=r["open_p"] * 1.25) if j == i else r
                    for j, r in enumerate(self.rows)]
            r = self.srv.post("/v1/datasets", {"rows": rows})
            self.assertEqual(r.status, 201, r.text)
            ids.add(r.json["id"])
        seen, after, pages = set(), None, 0
        while True:
            q = "/v1/datasets?limit=1" + ("&after=" + after if after else "")
            r = self.srv.get(q)
            self.assertEqual(r.status, 200, r.text)
            self.assertLessEqual(len(r.json["items"]), 1)
            seen.update(i["id"] for i in r.json["items"])
            pages += 1
            after = r.json["next"]
            if after is None:
                break
        self.assertTrue(ids <= seen)
        self.assertGreaterEqual(pages, 3)
        r = self.srv.get("/v1/datasets?limit=0")
        self.assertProblem(r, 400, "bad-query", ["/query/limit"])

    def test_models_on_a_stored_dataset(self):
        ds = self.post_dataset().json["id"]
        body = {"dataset_id": ds, "formula": FORMULA, "vcov": "hc1"}
        first = self.srv.post("/v1/models", body)
        self.assertEqual(first.status, 201, first.text)
        mid = first.json["id"]
        self.assertEqual(first.json["dataset_id"], ds)
        self.assertEqual(first.headers["location"], "/v1/models/" + mid)
        again = self.srv.post("/v1/models", body)
        self.assertEqual(again.status, 200, again.text)
        self.assertEqual(again.json, first.json)
        # Server-Timing: every stage of a new fit, only the first three of
        # a cached one; durations in ms that add up to no more than total.
        self.assertEqual(server_timing(first)[0],
                         ["parse", "id", "prep", "fit", "encode", "store",
                          "total"])
        self.assertEqual(server_timing(again)[0],
                         ["parse", "id", "prep", "total"])
        for r in (first, again):
            names, durs = server_timing(r)
            self.assertTrue(all(d >= 0 for d in durs), durs)
            self.assertLessEqual(sum(durs[:-1]), durs[-1] + 0.01, durs)
        # The same data inline is the same model.
        inline = self.srv.post("/v1/models", {"data": {"rows": self.rows},
                                              "formula": FORMULA,
                                              "vcov": "hc1"})
        self.assertEqual(inline.status, 200, inline.text)
        self.assertEqual(inline.json["id"], mid)
        got = self.srv.get("/v1/models/" + mid)
        self.assertEqual(got.json, first.json)
        self.assertEqual(self.srv.get("/v1/models/" + mid, headers={
            "If-None-Match": got.headers["etag"]}).status, 304)
        listed = self.srv.get("/v1/models?limit=1000").json["items"]
        mine = [m for m in listed if m["id"] == mid]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["spec"]["vcov"], "hc1")
        self.assertEqual(mine[0]["dataset_id"], ds)

        # Predicting the model's own rows gives its potentials.
        pred = self.srv.post("/v1/models/%s/predict" % mid,
                             {"data": {"rows": self.rows}})
        self.assertEqual(pred.status, 200, pred.text)
        pots = {(p["partner"], p["year"]): p
                for p in first.json["potentials"]}
        self.assertEqual(len(pred.json["predictions"]), len(pots))
        for p in pred.json["predictions"]:
            ref = pots[(p["partner"], p["year"])]
            self.assertLessEqual(abs(p["predicted"] - ref["predicted"]),
                                 1e-12 * ref["predicted"])
            self.assertEqual(p["actual"], ref["actual"])
            if ref["k"] is not None:
                self.assertLessEqual(abs(p["k"] - ref["k"]), 1e-12 * ref["k"])
                self.assertEqual(p["class"], ref["class"])
            self.assertAlmostEqual(
                math.exp(p["linear_predictor"]) *
                first.json["potential"]["factor"], p["predicted"],
                delta=1e-12 * p["predicted"])
        # Rows without the outcome are predicted with K null.
        scenario = [dict(r, year=2030) for r in self.rows[:1]]
        for r in scenario:
            del r["etrade"]
        s = self.srv.post("/v1/models/%s/predict" % mid,
                          {"data": {"rows": scenario}})
        self.assertEqual(s.status, 200, s.text)
        self.assertIsNone(s.json["predictions"][0]["k"])
        # A regressor missing from the rows is the client's fault.
        bad = [{k: v for k, v in r.items() if k != "open_p"}
               for r in self.rows[:2]]
        r = self.srv.post("/v1/models/%s/predict" % mid,
                          {"data": {"rows": bad}})
        self.assertEqual(r.status, 422, r.text)

        # Potentials filtered by pair and year.
        p = self.srv.get("/v1/models/%s/potentials?reporter=CHN&partner=KGZ"
                         % mid)
        self.assertEqual(p.status, 200, p.text)
        self.assertTrue(p.json["potentials"])
        self.assertTrue(all(x["partner"] == "KGZ"
                            for x in p.json["potentials"]))

    def test_aliases_and_deletes(self):
        ds = self.post_dataset().json["id"]
        m1 = self.srv.post("/v1/models", {"dataset_id": ds,
                                          "formula": FORMULA}).json["id"]
        m2 = self.srv.post("/v1/models", {"dataset_id": ds, "formula": FORMULA,
                                          "vcov": "hc3"}).json["id"]
        self.assertNotEqual(m1, m2)
        put = self.srv.request("PUT", "/v1/aliases/chn-ca.prod",
                               body={"model_id": m1})
        self.assertEqual(put.status, 201, put.text)
        self.assertIsNone(put.json["previous"])
        # Resolved once (the server keeps the resolution), then moved: the
        # next resolution must see the move.
        self.assertEqual(self.srv.get("/v1/models/chn-ca.prod").json["id"], m1)
        moved = self.srv.request("PUT", "/v1/aliases/chn-ca.prod",
                                 body={"model_id": m2})
        self.assertEqual(moved.status, 200, moved.text)
        self.assertEqual(moved.json["previous"], m1)
        self.assertEqual(self.srv.get("/v1/models/chn-ca.prod").json["id"], m2)
        r = self.srv.get("/v1/potential?reporter=CHN&partner=KAZ"
                         "&model=chn-ca.prod")
        self.assertEqual(r.json["model"]["id"], m2)
        # An alias never dangles: deleting its model is a conflict.
        r = self.srv.request("DELETE", "/v1/models/" + m2)
        p = self.assertProblem(r, 409, "conflict")
        self.assertIn("chn-ca.prod", p["detail"])
        r = self.srv.request("PUT", "/v1/aliases/x",
                             body={"model_id": "m_" + "0" * 32})
        self.assertProblem(r, 404, "not-found", ["/model_id"])
        r = self.srv.request("PUT", "/v1/aliases/bad%20name",
                             body={"model_id": m1})
        self.assertProblem(r, 422, "invalid-request", ["/path/name"])
        # Deleting an unaliased model; it is gone afterwards.
        self.assertEqual(self.srv.request("DELETE", "/v1/models/" + m1).status,
                         204)
        self.assertProblem(self.srv.get("/v1/models/" + m1), 404, "not-found")
        self.assertProblem(self.srv.request("DELETE", "/v1/models/" + m1),
                           404, "not-found")

    def test_dataset_delete_keeps_models(self):
        rows = [dict(r, open_p=r["open_p"] * 1.5) for r in self.rows]
        ds = self.srv.post("/v1/datasets", {"rows": rows}).json["id"]
        m = self.srv.post("/v1/models", {"dataset_id": ds, "formula": FORMULA})
        self.assertEqual(m.status, 201, m.text)
        self.assertEqual(self.srv.request("DELETE", "/v1/datasets/" + ds).status,
                         204)
        self.assertProblem(self.srv.get("/v1/datasets/" + ds), 404)
        self.assertEqual(self.srv.get("/v1/models/" + m.json["id"]).status, 200)
        r = self.srv.post("/v1/models", {"dataset_id": ds, "formula": FORMULA,
                                         "vcov": "hc2"})
        self.assertProblem(r, 404, "not-found", ["/dataset_id"])

    def test_unknown_ids_are_404(self):
        self.assertProblem(self.srv.get("/v1/models/m_" + "a" * 32), 404)
        self.assertProblem(self.srv.get("/v1/models/nosuchalias"), 404)
        self.assertProblem(self.srv.get("/v1/models/nosuch/potentials"), 404)
        self.assertProblem(self.srv.post("/v1/models/nosuch/predict",
                                         {"data": {"rows": self.rows}}), 404)
        self.assertProblem(self.srv.get("/v1/datasets/ds_" + "b" * 32), 404)


class Persistence(unittest.TestCase):
    """Acknowledged writes survive a clean restart and a kill -9."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="gravitas-persist-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def start(self):
        srv = g.Server(data_dir=self.dir).start()
        wait_ready(srv)
        return srv

    def test_restart_and_kill9_keep_acknowledged_writes(self):
        rows = panel_rows()
        srv = self.start()
        try:
            ds = srv.post("/v1/datasets", {"rows": rows})
            self.assertEqual(ds.status, 201, ds.text)
            m = srv.post("/v1/models", {"dataset_id": ds.json["id"],
                                        "formula": FORMULA})
            self.assertEqual(m.status, 201, m.text)
            a = srv.request("PUT", "/v1/aliases/kept",
                            body={"model_id": m.json["id"]})
            self.assertEqual(a.status, 201, a.text)
        finally:
            srv.stop()
        srv = self.start()
        acked = []
        try:
            self.assertEqual(srv.get("/v1/models/kept").json, m.json)
            self.assertEqual(srv.get("/v1/datasets/" + ds.json["id"]).status,
                             200)
            # A stream of writes, then SIGKILL: every 2xx must be there.
            for i in range(25):
                v = [dict(r, open_p=r["open_p"] + i * 0.001) for r in rows]
                r = srv.post("/v1/models", {"data": {"rows": v},
                                            "formula": FORMULA})
                if r.status in (200, 201):
                    acked.append(r.json["id"])
        finally:
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait()
            srv.proc = None
        self.assertEqual(len(acked), 25)
        db = os.path.join(self.dir, "gravitas.db")
        con = sqlite3.connect(db)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone(),
                             ("ok",))
        finally:
            con.close()
        srv = self.start()
        try:
            for mid in acked:
                r = srv.get("/v1/models/" + mid)
                self.assertEqual(r.status, 200, mid)
            self.assertEqual(srv.get("/v1/models/kept").json["id"],
                             m.json["id"])
            # The default is found stored: the alias still points at it.
            self.assertEqual(srv.get("/v1/models/default").status, 200)
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()

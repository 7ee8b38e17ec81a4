"""World Bank endpoints end to end: the real binary against
tests/wbfixture/server.py (a local HTTP server playing the World Bank API
v2 on a free loopback port; no test touches the internet).

Every answer is checked against openapi.yaml.
"""

import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request
import json

import gravitas_e2e
from gravitas_e2e import Server, ServerTestCase, source_path


def g_valgrind():
    return gravitas_e2e.VALGRIND

FIXTURE = source_path("tests", "wbfixture", "server.py")

# The default's series and rules (api/api_default.c, data/SOURCES.md).
PARTNERS = ["KAZ", "KGZ", "UZB", "TJK", "TKM"]
ENABLERS = ["IT.NET.BBND.P2", "IT.NET.SECR.P6", "LP.LPI.OVRL.XQ",
            "GB.XPD.RSDV.GD.ZS", "SE.TER.ENRR"]


class Fixture:
    """The World Bank fixture server in a child process."""

    def __init__(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", FIXTURE],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline().strip())

    def url(self, scenario=None):
        if scenario:
            return "http://127.0.0.1:%d/scenario/%s/v2" % (self.port, scenario)
        return "http://127.0.0.1:%d/v2" % self.port

    def stats(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/_stats" % self.port,
                                    timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()


def wb_server(base_url, **env):
    e = {"GRAVITAS_WB_BASE_URL": base_url}
    e.update({k: str(v) for k, v in env.items()})
    srv = Server(env=e).start()
    return srv


def metrics(srv):
    """GET /metrics as {series: value} (labels kept in the series name)."""
    r = srv.get("/metrics")
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def fetch(srv, countries, indicators, frm, to, **extra):
    body = {"countries": countries, "indicators": indicators, "from": frm,
            "to": to}
    body.update(extra)
    return srv.post("/v1/indicators/fetch", body)


def default_request(outcome_rows):
    """The from-worldbank body that describes the embedded default."""
    return {
        "name": "china-central-asia-default",
        "reporter": "CHN", "partners": PARTNERS, "from": 2010, "to": 2023,
        "variables": {
            "pgdp": {"indicator": "NY.GDP.PCAP.PP.CD", "side": "product"},
            "pop": {"indicator": "SP.POP.TOTL", "side": "product"},
            "net": {"indicator": "IT.NET.USER.ZS", "side": "product"},
            "cpi": {"indicator": "FP.CPI.TOTL", "side": "product"},
        },
        "derived": {
            "openness": {"name": "open"},
            "economic_distance": {"name": "dist"},
            "index": {"name": "cbec", "indicators": ENABLERS,
                      "method": "first"},
        },
        "carry": [{"indicator": "LP.LPI.OVRL.XQ"},
                  {"indicator": "IT.NET.BBND.P2", "country": "TKM"},
                  {"indicator": "GB.XPD.RSDV.GD.ZS", "country": "TJK"}],
        "outcome": {"name": "trade", "rows": outcome_rows},
    }


class WorldBank(unittest.TestCase, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture()
        cls.addClassCleanup(cls.fx.stop)
        cls.srv = wb_server(cls.fx.url())
        cls.addClassCleanup(cls.srv.stop)

    def default_dataset(self):
        r = self.srv.get("/v1/aliases")
        self.assertEqual(r.status, 200, r.text)
        mid = [a for a in r.json["items"] if a["name"] == "default"][0][
            "model_id"] if isinstance(r.json, dict) else [
            a for a in r.json if a["name"] == "default"][0]["model_id"]
        m = self.srv.get("/v1/models/" + mid)
        self.assertEqual(m.status, 200, m.text)
        ds = self.srv.get("/v1/datasets/%s?rows=true" % m.json["dataset_id"])
        self.assertEqual(ds.status, 200, ds.text)
        return mid, ds.json

    def test_fetch_rows_statuses_nulls_and_lastupdated(self):
        r = fetch(self.srv, ["TKM", "KAZ"], ["LP.LPI.OVRL.XQ", "SP.POP.TOTL"],
                  2016, 2023)
        self.assertEqual(r.status, 200, r.text)
        rows = r.json["rows"]
        self.assertEqual(len(rows), 2 * 2 * 8)
        # Indicator order, then country order as asked, then year.
        self.assertEqual([(x["indicator"], x["country"], x["year"])
                          for x in rows[:3]],
                         [("LP.LPI.OVRL.XQ", "TKM", 2016),
                          ("LP.LPI.OVRL.XQ", "TKM", 2017),
                          ("LP.LPI.OVRL.XQ", "TKM", 2018)])
        lpi = {(x["country"], x["year"]): x for x in rows
               if x["indicator"] == "LP.LPI.OVRL.XQ"}
        # TKM was last rated in 2018: later years are null, never 0.
        self.assertIsNone(lpi[("TKM", 2019)]["value"])
        self.assertIsNotNone(lpi[("TKM", 2018)]["value"])
        for x in rows:
            self.assertEqual(x["lastupdated"], "2026-07-01")
        st = {s["indicator"]: s for s in r.json["status"]}
        self.assertEqual(st["SP.POP.TOTL"]["lastupdated"], "2026-07-01")
        self.assertIn(st["SP.POP.TOTL"]["source"], ("worldbank", "cache"))
        self.assertEqual(st["SP.POP.TOTL"]["rows"], 16)

    def test_fetch_values_are_the_source_digits(self):
        r = fetch(self.srv, ["CHN"], ["NY.GDP.PCAP.PP.CD"], 2010, 2011)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual([x["value"] for x in r.json["rows"]],
                         [9411.13821903204, 10456.7916826113])

    def test_second_call_is_a_cache_hit(self):
        # An indicator outside the default, so no other test has cached it.
        args = (["KGZ", "UZB"], ["FP.CPI.TOTL.ZG"], 2012, 2015)
        r1 = fetch(self.srv, *args)
        self.assertEqual(r1.status, 200, r1.text)
        self.assertEqual(r1.json["status"][0]["source"], "worldbank")
        before = self.fx.stats()["requests"]
        r2 = fetch(self.srv, *args)
        self.assertEqual(r2.status, 200, r2.text)
        self.assertEqual(r2.json["status"][0]["source"], "cache")
        self.assertEqual(self.fx.stats()["requests"], before)
        self.assertEqual(r1.json["rows"], r2.json["rows"])
        # refresh: true goes to the World Bank again.
        r3 = fetch(self.srv, *args, refresh=True)
        self.assertEqual(r3.json["status"][0]["source"], "worldbank")
        self.assertEqual(self.fx.stats()["requests"], before + 1)

    def test_world_bank_message_is_422_naming_the_indicator(self):
        series = 'gravitas_worldbank_indicators_total{outcome="invalid"}'
        before = metrics(self.srv)[series]
        r = fetch(self.srv, ["KAZ"], ["SP.POP.TOTL", "NOT.AN.INDICATOR"],
                  2020, 2021)
        self.assertEqual(r.status, 422, r.text)
        self.assertIn("NOT.AN.INDICATOR", r.json["detail"])
        self.assertEqual([e["pointer"] for e in r.json["errors"]],
                         ["/indicators/1"])
        self.assertEqual(metrics(self.srv)[series], before + 1)

    def test_bad_body_names_fields(self):
        r = fetch(self.srv, [], ["SP.POP.TOTL"], 2021, 2020)
        self.assertEqual(r.status, 422, r.text)
        ptrs = {e["pointer"] for e in r.json["errors"]}
        self.assertIn("/countries", ptrs)
        self.assertIn("/to", ptrs)

    def test_from_worldbank_rebuilds_the_default_value_for_value(self):
        _, ds = self.default_dataset()
        rows = ds["data"]["rows"]
        outcome = [{"partner": x["partner"], "year": x["year"],
                    "value": x["trade"]} for x in rows]
        r = self.srv.post("/v1/datasets/from-worldbank",
                          default_request(outcome))
        self.assertIn(r.status, (200, 201), r.text)
        # Same content, same id: the rebuilt panel is the default's.
        self.assertEqual(r.json["id"], ds["id"])
        again = self.srv.get("/v1/datasets/%s?rows=true" % r.json["id"])
        self.assertEqual(again.json["data"]["rows"], rows)
        kinds = {(f["entity"], f["variable"], f["year"]): f["kind"]
                 for f in r.json["interpolated"]}
        self.assertEqual(kinds[("TKM", "LP.LPI.OVRL.XQ", 2023)], "carried")
        self.assertTrue(any(g["variable"] == "trade" for g in r.json["gaps"]))
        self.assertEqual(len(r.json["indicators"]), 10)

    def test_from_worldbank_products_ratios_and_sides(self):
        body = {"reporter": "CHN", "partners": ["KAZ"], "from": 2020,
                "to": 2021,
                "variables": {
                    "pop_r": {"indicator": "SP.POP.TOTL", "side": "reporter"},
                    "pop_p": {"indicator": "SP.POP.TOTL", "side": "partner"},
                    "pop_x": {"indicator": "SP.POP.TOTL", "side": "product"},
                    "pop_q": {"indicator": "SP.POP.TOTL", "side": "ratio"}}}
        r = self.srv.post("/v1/datasets/from-worldbank", body)
        self.assertIn(r.status, (200, 201), r.text)
        ds = self.srv.get("/v1/datasets/%s?rows=true" % r.json["id"])
        row = ds.json["data"]["rows"][0]
        self.assertEqual(row["pop_x"], row["pop_r"] * row["pop_p"])
        self.assertEqual(row["pop_q"], row["pop_r"] / row["pop_p"])

    def test_from_worldbank_distance_needs_known_capitals(self):
        body = default_request([])
        body["partners"] = ["KAZ", "RUS"]
        r = self.srv.post("/v1/datasets/from-worldbank", body)
        self.assertEqual(r.status, 422, r.text)
        self.assertIn("/partners/1", [e["pointer"] for e in r.json["errors"]])

    def test_refresh_moves_the_default_alias(self):
        mid, ds = self.default_dataset()
        other = self.srv.post("/v1/models", {
            "dataset_id": ds["id"], "formula": "log(trade) ~ log(pgdp)"})
        self.assertIn(other.status, (200, 201), other.text)
        put = self.srv.request("PUT", "/v1/aliases/default",
                               {"model_id": other.json["id"]})
        self.assertIn(put.status, (200, 201), put.text)
        before = self.fx.stats()["requests"]
        r = self.srv.post("/v1/indicators/refresh", {})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json["previous_model_id"], other.json["id"])
        # The fixture serves the embedded values: the same default again.
        self.assertEqual(r.json["model_id"], mid)
        self.assertEqual(r.json["dataset_id"], ds["id"])
        self.assertTrue(r.json["alias_moved"])
        self.assertEqual(r.json["changed"], [])
        self.assertEqual({s["source"] for s in r.json["indicators"]},
                         {"worldbank"})
        self.assertEqual(self.fx.stats()["requests"], before + 10)
        p = self.srv.get("/v1/potential?reporter=CHN&partner=KAZ&year=2020")
        self.assertEqual(p.status, 200, p.text)


class WorldBankFailures(unittest.TestCase, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture()
        cls.addClassCleanup(cls.fx.stop)

    def test_html_is_502(self):
        srv = wb_server(self.fx.url("html200"))
        self.addCleanup(srv.stop)
        r = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)
        self.assertEqual(r.status, 502, r.text)
        self.assertIn("SP.POP.TOTL", r.json["detail"])
        self.assertEqual(metrics(srv)['gravitas_worldbank_indicators_total'
                                      '{outcome="upstream"}'], 1)

    def test_timeout_is_504(self):
        srv = wb_server(self.fx.url("delay-3000"), GRAVITAS_WB_TIMEOUT_MS=300)
        self.addCleanup(srv.stop)
        r = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)
        self.assertEqual(r.status, 504, r.text)
        self.assertIn("SP.POP.TOTL", r.json["detail"])
        self.assertEqual(metrics(srv)['gravitas_worldbank_indicators_total'
                                      '{outcome="timeout"}'], 1)

    def test_reads_are_answered_while_a_fetch_waits(self):
        """A World Bank fetch (a write) runs on the worker pool: with a
        single HTTP thread, reads are still answered while it waits on a
        World Bank that takes 3 s to answer."""
        srv = wb_server(self.fx.url("delay-3000"), GRAVITAS_THREADS=1,
                        GRAVITAS_WB_TTL_HOURS=0)
        self.addCleanup(srv.stop)
        paths = ("/healthz", "/v1",
                 "/v1/potential?reporter=CHN&partner=KAZ&year=2020")
        # Warm: the default model is installed (at start-up, in the
        # background), loaded and rendered.
        deadline = time.monotonic() + 60
        while srv.get(paths[2]).status != 200:
            self.assertLess(time.monotonic(), deadline, "no default model")
            time.sleep(0.1)
        for path in paths:
            self.assertEqual(srv.get(path).status, 200)
        done = {}

        def slow():
            t0 = time.monotonic()
            done["reply"] = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)
            done["seconds"] = time.monotonic() - t0

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.3)  # the fetch is waiting on the World Bank by now
        reads = []
        for path in paths:
            t0 = time.monotonic()
            r = srv.get(path)
            reads.append(time.monotonic() - t0)
            self.assertEqual(r.status, 200, r.text)
        # Before the pool, each read waited for the fetch (about 3 s).
        self.assertNotIn("reply", done, "the fetch was still waiting")
        self.assertLess(max(reads), 1.5, reads)
        t.join(60)
        self.assertEqual(done["reply"].status, 200, done["reply"].text)
        self.assertGreater(done["seconds"], 2.9)

    def test_write_whose_body_arrives_while_stopping_is_503(self):
        """SIGTERM while a fetch waits on a slow World Bank (a write running
        on the one worker) and while another write's body is still being
        sent: the fetch finishes and is answered 200; the other write, whose
        body only arrives after the grace period (so after the worker pool
        stopped taking jobs), is answered 503 busy with Retry-After and
        stores nothing; the server exits 0."""
        slow = 4 if g_valgrind() else 1
        fx = Fixture()
        self.addCleanup(fx.stop)
        srv = wb_server(fx.url("delay-%d" % (6000 * slow)), GRAVITAS_THREADS=1,
                        GRAVITAS_WB_TTL_HOURS=0,
                        GRAVITAS_SHUTDOWN_GRACE_MS=1000 * slow)
        self.addCleanup(srv.stop)
        deadline = time.monotonic() + 120
        while srv.get("/readyz").status != 200:  # the default is installed
            self.assertLess(time.monotonic(), deadline, "never ready")
            time.sleep(0.1)
        before = srv.get("/v1/datasets").json["items"]
        done = {}

        def fetch_a():
            done["a"] = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)

        a = threading.Thread(target=fetch_a)
        a.start()
        time.sleep(0.3 * slow)  # the fetch is waiting on the World Bank
        body = ("reporter,partner,year,y\nCHN,KAZ,2020,1.5\n"
                "CHN,KAZ,2021,2.5\n").encode()
        b = socket.create_connection((srv.host, srv.port), timeout=60)
        self.addCleanup(b.close)
        b.sendall(b"POST /v1/datasets HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: text/csv\r\nContent-Length: %d\r\n"
                  b"Connection: close\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3 * slow)  # its headers are read: it is in flight
        srv.proc.send_signal(signal.SIGTERM)
        # The grace period (1 s) starts with the "shutdown" line and ends
        # with both still in flight; the pool then stops taking jobs while
        # the fetch still waits (6 s in all).
        deadline = time.monotonic() + 30 * slow
        while not any('"event":"shutdown"' in line
                      for line in srv.stderr_lines()):
            self.assertLess(time.monotonic(), deadline, "no shutdown line")
            time.sleep(0.02)
        time.sleep(1.6 * slow)
        b.sendall(body[10:])
        raw = b""
        while True:
            chunk = b.recv(65536)
            if not chunk:
                break
            raw += chunk
        head, _, payload = raw.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 503"), raw[:500])
        self.assertIn(b"\r\nRetry-After: 1\r\n", head, raw[:500])
        problem = json.loads(payload)
        self.assertEqual(problem["type"], "https://gravitas.dev/problems/busy")
        a.join(120)
        self.assertEqual(done["a"].status, 200, done["a"].text)
        srv.proc.wait(60)
        self.assertEqual(srv.proc.returncode, 0, srv.stderr())
        shutdown = [json.loads(line) for line in srv.stderr_lines()
                    if '"event":"shutdown"' in line]
        self.assertEqual(shutdown[0]["in_flight"], 2, srv.stderr())
        # Nothing of the refused write was stored: the same data directory,
        # started again, holds the datasets it held before.
        again = Server(env={"GRAVITAS_WB_BASE_URL": fx.url()},
                       data_dir=srv.data_dir).start()
        self.addCleanup(again.stop)
        self.assertEqual(again.get("/v1/datasets").json["items"], before)

    def test_stale_cache_is_served_with_its_age_when_unreachable(self):
        fx = Fixture()
        self.addCleanup(fx.stop)
        # TTL 0: every call goes to the World Bank first.
        srv = wb_server(fx.url(), GRAVITAS_WB_TTL_HOURS=0)
        self.addCleanup(srv.stop)
        r1 = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)
        self.assertEqual(r1.status, 200, r1.text)
        self.assertEqual(r1.json["status"][0]["source"], "worldbank")
        fx.stop()
        r2 = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)
        self.assertEqual(r2.status, 200, r2.text)
        st = r2.json["status"][0]
        self.assertEqual(st["source"], "stale-cache")
        self.assertIn("age_hours", st)
        self.assertEqual(r2.json["rows"], r1.json["rows"])
        self.assertTrue(any("hours ago" in w and "SP.POP.TOTL" in w
                            for w in r2.json["warnings"]), r2.json["warnings"])
        # Nothing cached for another indicator: 502.
        r3 = fetch(srv, ["KAZ"], ["NE.TRD.GNFS.ZS"], 2020, 2021)
        self.assertEqual(r3.status, 502, r3.text)
        # Each outcome counted once in /metrics.
        m = metrics(srv)
        self.assertEqual(m['gravitas_worldbank_indicators_total'
                           '{outcome="worldbank"}'], 1)
        self.assertEqual(m['gravitas_worldbank_indicators_total'
                           '{outcome="stale_cache"}'], 1)
        self.assertEqual(m['gravitas_worldbank_indicators_total'
                           '{outcome="upstream"}'], 1)

    def test_retries_are_counted_in_metrics(self):
        fx = Fixture()
        self.addCleanup(fx.stop)
        srv = wb_server(fx.url("fail500-1"), GRAVITAS_WB_TTL_HOURS=0)
        self.addCleanup(srv.stop)
        r = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)
        self.assertEqual(r.status, 200, r.text)
        m = metrics(srv)
        served = fx.stats()["requests"]
        self.assertEqual(m["gravitas_worldbank_requests_total"], served)
        self.assertEqual(m["gravitas_worldbank_retries_total"], served - 1)
        self.assertGreaterEqual(served, 2, "the first answer was a 500")
        r = fetch(srv, ["KAZ"], ["SP.POP.TOTL"], 2020, 2021)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(metrics(srv)['gravitas_worldbank_indicators_total'
                                      '{outcome="worldbank"}'], 2)


if __name__ == "__main__":
    unittest.main()

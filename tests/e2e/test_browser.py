"""End-to-end: a web frontend in a real browser (headless Chromium, see
browser.py) calling the real server across origins, as the API's first kind
of client does. What the browser itself enforces is what is tested here:
the CORS preflight of JSON and authorised writes, which response headers a
script may read, Resource Timing's view of Server-Timing, conditional GETs,
a CSV picked in a file input and uploaded, problems readable by the page,
and an origin that is not configured getting nothing and writing nothing.

The frontend is served from http://127.0.0.1:P (allowed) and the same
server as http://localhost:P (a different origin, not allowed)."""

import json
import time
import unittest

import gravitas_e2e as g
from browser import Browser, PageServer

_seen_lines = {}
KEY = "browser-test-key-0123456789"
PANEL = g.source_path("tests", "e2e", "fixtures", "gravity_chn_ca.csv")
FORMULA = "log(etrade) ~ log(gdp_r * gdp_p) + log(pop_r * pop_p) + open_p"
PAGE = (b"<!doctype html><html><head><meta charset=utf-8>"
        b"<title>gravitas frontend</title></head><body>"
        b"<input type=file id=csv accept=\".csv,text/csv\"></body></html>")

# The helpers every script below may call: api(path, init) fetches from the
# server and gives back what a page can see of the answer.
JS_API = """
const base = args[0];
const seen = async (r) => {
  const headers = {};
  r.headers.forEach((v, k) => { headers[k] = v; });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  return {status: r.status, ok: r.ok, type: r.type, headers, json,
          length: text.length};
};
const api = async (path, init) => seen(await fetch(base + path, init || {}));
"""


def access_lines(srv, method, path_prefix):
    """The server's access-log records of method on paths starting with
    path_prefix, in order, once every request answered before this call is
    in the log: access lines are flushed every 100 ms, so a GET /healthz
    (which no browser script sends) is made and its line waited for."""
    start = _seen_lines.get(id(srv), 0)
    srv.get("/healthz")
    deadline = time.monotonic() + (120.0 if g.VALGRIND else 10.0)
    while True:
        lines = srv.stderr_lines()
        if any('"event":"access","method":"GET","path":"/healthz"' in line
               for line in lines[start:]):
            break
        if time.monotonic() > deadline:
            raise AssertionError("the access log did not show GET /healthz")
        time.sleep(0.02)
    _seen_lines[id(srv)] = len(lines)
    out = []
    for line in srv.stderr_lines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "access" and rec.get("method") == method and \
                rec.get("path", "").startswith(path_prefix):
            out.append(rec)
    return out


class BrowserCors(g.ServerTestCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pages = PageServer({"/": PAGE}).start()
        cls.addClassCleanup(cls.pages.stop)
        cls.server_args = ["--cors-origins", cls.pages.origin("127.0.0.1"),
                           "--api-keys", KEY]
        super().setUpClass()
        cls.browser = Browser().start()
        cls.addClassCleanup(cls.browser.stop)
        cls.base = cls.srv.base_url

    def setUp(self):
        self.browser.open(self.pages.url("127.0.0.1", "/"))

    def js(self, body, *args):
        """Runs body after JS_API on the current page; args[0] is the
        server's base URL."""
        return self.browser.run_async(JS_API + body, self.base, *args)

    def test_simple_read_is_readable_cross_origin(self):
        r = self.js("return await api('/v1');")
        self.assertNotIn("error", r, r)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["type"], "cors", r)
        self.assertIn("version", r["json"], r)
        self.assertEqual(r["headers"]["content-type"].split(";")[0],
                         "application/json", r)

    def test_json_write_with_key_is_preflighted_and_exposes_headers(self):
        before = len(access_lines(self.srv, "OPTIONS", "/v1/datasets"))
        r = self.js("""
          const rows = args[1];
          // A URL of its own: a preflight answer is cached per URL.
          return await api('/v1/datasets?name=from-the-browser',
            {method: 'POST',
             headers: {'Content-Type': 'application/json',
                       'Authorization': 'Bearer ' + args[2]},
             body: JSON.stringify({rows})});
        """, [{"reporter": "CHN", "partner": "KAZ", "year": 2019 + i,
               "etrade": 1.5 + i, "gdp": 2.0e11 + i} for i in range(4)], KEY)
        self.assertNotIn("error", r, r)
        self.assertIn(r["status"], (200, 201), r)
        ds = r["json"]["id"]
        # Each header the contract tells a frontend to read, readable.
        self.assertEqual(r["headers"].get("location"), "/v1/datasets/" + ds, r)
        self.assertEqual(r["headers"].get("etag"), '"%s"' % ds, r)
        timing = r["headers"].get("server-timing", "")
        for stage in ("parse", "id", "encode", "store", "total"):
            self.assertIn(stage + ";dur=", timing, r)
        # The browser asked first: a JSON body and an Authorization header
        # are not CORS-safelisted.
        pre = access_lines(self.srv, "OPTIONS", "/v1/datasets")
        self.assertEqual(len(pre), before + 1, "no preflight reached the server")
        self.assertEqual(pre[-1]["status"], 204, pre[-1])
        self.assertEqual(r["json"]["name"], "from-the-browser", r)

    def test_server_timing_reaches_resource_timing(self):
        # A page's own performance tools read Server-Timing through the
        # Resource Timing API, which needs Timing-Allow-Origin.
        r = self.js("""
          const url = base + '/v1/models';
          const a = await api('/v1/models', {method: 'POST',
            headers: {'Content-Type': 'application/json',
                      'Authorization': 'Bearer ' + args[2]},
            body: JSON.stringify({data: {rows: args[1]}, formula: args[3]})});
          const entries = performance.getEntriesByName(url)
            .filter(e => e.initiatorType === 'fetch');
          const last = entries[entries.length - 1];
          return {status: a.status, answer: a.json,
                  server_timing: last ? last.serverTiming.map(
                    s => ({name: s.name, duration: s.duration})) : null,
                  transfer: last ? last.responseStart : null};
        """, g.csv_rows("tests", "e2e", "fixtures", "gravity_chn_ca.csv"), KEY, FORMULA)
        self.assertNotIn("error", r, r)
        self.assertIn(r["status"], (200, 201), r)
        names = [s["name"] for s in r["server_timing"] or []]
        self.assertIn("total", names, r)
        self.assertIn("prep", names, r)
        total = [s["duration"] for s in r["server_timing"]
                 if s["name"] == "total"][0]
        self.assertGreater(total, 0.0, r)
        # Without Timing-Allow-Origin the detailed timings are zeroed.
        self.assertGreater(r["transfer"], 0.0, r)

    def test_csv_chosen_in_a_file_input_is_uploaded(self):
        # What a user does: pick the file; the page posts it as it is.
        el = self.browser.find_css("#csv")
        self.browser.send_keys(el, PANEL)
        r = self.js("""
          const file = document.getElementById('csv').files[0];
          const res = await api('/v1/datasets', {method: 'POST',
            headers: {'Content-Type': 'text/csv',
                      'Authorization': 'Bearer ' + args[1]},
            body: file});
          res.file = {name: file.name, size: file.size};
          return res;
        """, KEY)
        self.assertNotIn("error", r, r)
        self.assertIn(r["status"], (200, 201), r)
        with open(PANEL, "rb") as f:
            raw = f.read()
        self.assertEqual(r["file"]["size"], len(raw), r)
        self.assertEqual(r["json"]["n_rows"], raw.count(b"\n") - 1, r)
        self.assertIn("etrade", r["json"]["variables"], r)
        # The same bytes from a non-browser client: the same content id,
        # already stored (200).
        again = self.srv.post("/v1/datasets", raw, headers={
            "Content-Type": "text/csv", "Authorization": "Bearer " + KEY})
        self.assertEqual(again.status, 200, again.text)
        self.assertEqual(again.json["id"], r["json"]["id"])

    def test_conditional_get_with_if_none_match(self):
        r = self.js("""
          const first = await api('/v1/potential?reporter=CHN&partner=KAZ');
          const etag = first.headers['etag'];
          const again = await api('/v1/potential?reporter=CHN&partner=KAZ',
            {headers: {'If-None-Match': etag}, cache: 'no-store'});
          return {first, etag, again};
        """)
        self.assertNotIn("error", r, r)
        self.assertEqual(r["first"]["status"], 200, r)
        self.assertTrue(r["etag"], r)
        self.assertEqual(r["again"]["status"], 304, r)

    def test_problems_are_readable_by_the_page(self):
        r = self.js("""
          const bad = await api('/v1/models', {method: 'POST',
            headers: {'Content-Type': 'application/json',
                      'Authorization': 'Bearer ' + args[1]},
            body: JSON.stringify({data: {rows: [{reporter: 'CHN',
              partner: 'KAZ', year: 2020, y: 1}]}, formula: 'y ~ x',
              vcov: 'sideways'})});
          const nokey = await api('/v1/datasets', {method: 'POST',
            headers: {'Content-Type': 'text/csv'},
            body: 'reporter,partner,year,y\\nCHN,KAZ,2020,1\\n'});
          return {bad, nokey};
        """, KEY)
        self.assertNotIn("error", r, r)
        bad = r["bad"]
        self.assertEqual(bad["status"], 422, r)
        self.assertEqual(bad["headers"]["content-type"],
                         "application/problem+json", r)
        self.assertIn("/vcov", [e["pointer"] for e in bad["json"]["errors"]],
                      r)
        nokey = r["nokey"]
        self.assertEqual(nokey["status"], 401, r)
        self.assertEqual(nokey["json"]["status"], 401, r)

    def test_other_origin_reads_nothing_and_writes_nothing(self):
        before = self.srv.get("/v1/datasets?limit=1000").json
        posts = len(access_lines(self.srv, "POST", "/v1/datasets"))
        self.browser.open(self.pages.url("localhost", "/"))
        r = self.js("""
          const out = {};
          try { await fetch(base + '/v1'); out.read = 'answered'; }
          catch (e) { out.read = e.name; }
          try {
            await fetch(base + '/v1/datasets', {method: 'POST',
              headers: {'Content-Type': 'application/json',
                        'Authorization': 'Bearer ' + args[1]},
              body: JSON.stringify({name: 'should not exist',
                rows: [{reporter: 'CHN', partner: 'KAZ', year: 2020, y: 1}]})});
            out.write = 'answered';
          } catch (e) { out.write = e.name; }
          return out;
        """, KEY)
        self.assertEqual(r, {"read": "TypeError", "write": "TypeError"})
        after = self.srv.get("/v1/datasets?limit=1000").json
        self.assertEqual(before, after)
        # The browser stopped at the refused preflight: the POST itself never
        # reached the server.
        self.assertEqual(len(access_lines(self.srv, "POST", "/v1/datasets")),
                         posts)


if __name__ == "__main__":
    unittest.main()

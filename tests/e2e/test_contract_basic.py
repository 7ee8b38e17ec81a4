"""End-to-end: the process starts, answers the ops routes, serves its own
contract, and every documented route behaves as openapi.yaml says (status,
media type, body schema, 404/405 with Allow). Every response received here is
also validated against the contract by gravitas_e2e."""

import re
import socket
import subprocess
import time
import unittest

import yaml
from jsonschema import Draft202012Validator

import gravitas_e2e as g

class ContractDocument(unittest.TestCase):
    """openapi.yaml itself: well-formed OpenAPI 3.1 with valid schemas."""

    @classmethod
    def setUpClass(cls):
        cls.c = g.Contract.get()

    def test_header(self):
        d = self.c.doc
        self.assertEqual(d["openapi"], "3.1.0")
        self.assertEqual(d["info"]["version"], "0.1.0")
        self.assertEqual(d["servers"], [{"url": "http://localhost:8080"}])

    def test_paths_are_the_implemented_ones(self):
        """Every documented operation is routed: the server never answers it
        with the router's 404 or a 405 (the C test tests/server/test_routes.c
        checks the other direction, every route documented)."""
        ops = [(p, m.upper()) for p, item in self.c.doc["paths"].items()
               for m in item if m in g.HTTP_METHODS]
        self.assertGreaterEqual(len(ops), 7)
        srv = g.Server().start()
        self.addCleanup(srv.stop)
        for path, method in ops:
            concrete = re.sub(r"\{[^/]+\}", "x", path)
            with self.subTest(method=method, path=path):
                body = {} if method in ("POST", "PUT") else None
                r = srv.request(method, concrete, body=body, validate=False)
                self.assertNotEqual(r.status, 405, r.text)
                if r.status == 404:
                    self.assertNotEqual(r.json.get("detail"),
                                        "No resource at this path.", r.text)

    def test_every_schema_is_valid_2020_12(self):
        for name, schema in self.c.doc["components"]["schemas"].items():
            with self.subTest(schema=name):
                Draft202012Validator.check_schema(schema)

    def test_every_ref_resolves(self):
        refs = []

        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if k == "$ref":
                        refs.append(v)
                    else:
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(self.c.doc)
        self.assertGreater(len(refs), 20)
        for r in refs:
            with self.subTest(ref=r):
                self.assertTrue(r.startswith("#/components/"), r)
                self.c.resolver.resolve(r)

    def test_every_operation_documents_errors_and_ids(self):
        ids = set()
        for path, item in self.c.doc["paths"].items():
            for method, op in item.items():
                if method not in g.HTTP_METHODS:
                    continue
                with self.subTest(op="%s %s" % (method, path)):
                    self.assertNotIn(op["operationId"], ids)
                    ids.add(op["operationId"])
                    self.assertIn("default", op["responses"])
                    if "requestBody" in op:
                        for code in ("400", "413", "415", "422", "500"):
                            self.assertIn(code, op["responses"])

    def test_examples_validate(self):
        n = 0
        for path, item in self.c.doc["paths"].items():
            for method, op in item.items():
                if method not in g.HTTP_METHODS:
                    continue
                rb = op.get("requestBody")
                for mt, c in (rb or {}).get("content", {}).items():
                    for name, ex in c.get("examples", {}).items():
                        with self.subTest(example=name):
                            self.c.validate(ex["value"], c["schema"], name)
                            n += 1
                for status, r in op["responses"].items():
                    r = self.c.deref(r)
                    for mt, c in r.get("content", {}).items():
                        if "example" in c and g.is_json_media(mt):
                            with self.subTest(response=(path, status)):
                                self.c.validate(c["example"], c["schema"],
                                                "%s %s" % (path, status))
                                n += 1
        self.assertGreaterEqual(n, 5)

    def test_request_schema_rejects_what_the_server_rejects(self):
        # The contract must say what the server refuses, so clients can
        # validate before sending.
        v = self.c.validator(self.c.schema("ModelRequest"))
        ok = {"data": {"columns": {"y": [1.5, 2.5], "x": [3.25, 4.75]}},
              "formula": "y ~ x"}
        self.assertTrue(v.is_valid(ok))
        for bad in (
            {"data": ok["data"], "formul": "y ~ x"},
            {"data": ok["data"], "formula": 3},
            {"data": {"rows": []}, "formula": "y ~ x"},
            {"data": {"rows": [{"x": "abc"}]}, "formula": "y ~ x"},
            {"data": {"rows": [{"x": 1}], "columns": {"x": [1]}},
             "formula": "y ~ x"},
            dict(ok, vcov="hc4"),
            dict(ok, vcov="cluster:"),
            dict(ok, estimator="tobit"),
            dict(ok, interpolate="spline"),
            dict(ok, confidence=1.0),
            dict(ok, potential={"thresholds": [0.8]}),
            dict(ok, potential={"thresholds": [-1, 1.2]}),
            dict(ok, potential={"method": "frontier"}),
            dict(ok, potential={"smearing": "duan", "extra": 1}),
        ):
            with self.subTest(bad=bad):
                self.assertFalse(v.is_valid(bad))


class OpsRoutes(g.ServerTestCase, unittest.TestCase):

    def test_healthz(self):
        r = self.srv.get("/healthz")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(g.media_type(r.headers["content-type"]),
                         "application/json")
        self.assertEqual(r.json, {"status": "ok"})

    def test_listening_line(self):
        ev = self.srv.listening
        self.assertEqual(ev["level"], "info")
        self.assertEqual(ev["event"], "listening")
        self.assertEqual(ev["host"], "127.0.0.1")
        self.assertEqual(ev["port"], self.srv.port)
        n = sum(1 for line in self.srv.stderr_lines()
                if '"listening"' in line)
        self.assertEqual(n, 1, self.srv.stderr())

    def test_readyz(self):
        r = self.srv.get("/readyz")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json["status"], "ready")

    def test_openapi_is_served_verbatim(self):
        r = self.srv.get("/openapi.yaml")
        self.assertEqual(r.status, 200, r.text[:500])
        doc = yaml.safe_load(r.body)
        self.assertEqual(doc["openapi"], "3.1.0")
        self.assertEqual(doc, g.Contract.get().doc)
        self.assertEqual(r.body, g.Contract.get().text)

    def test_info_build_is_the_commit_built(self):
        """GET /v1 "build" is `git describe --always --dirty` of the tree the
        binary was built from (taken at build time, not when CMake last
        configured): the tree under test, which the build just compiled."""
        git = subprocess.run(["git", "-C", g.SOURCE_DIR, "describe",
                              "--always", "--dirty"], capture_output=True,
                             text=True)
        if git.returncode != 0:
            self.skipTest("the source tree is not a git checkout")
        # "-dirty" is left out of the comparison: a test file edited since
        # the build (ctest run by hand) makes the tree dirty, not the binary
        # stale.
        build = self.srv.get("/v1").json["build"]
        self.assertEqual(build.removesuffix("-dirty"),
                         git.stdout.strip().removesuffix("-dirty"))
        # The same string labels /metrics' build info.
        self.assertIn('gravitas_build_info{version="0.1.0",revision="%s"} 1'
                      % build, self.srv.get("/metrics").text)

    def test_info_lists_what_models_accept(self):
        """Each estimator, variance and potential method GET /v1 lists is
        accepted by POST /v1/models: a request that names it, with another
        field wrong on purpose, is refused for that other field only."""
        info = self.srv.get("/v1").json
        data = {"rows": [{"reporter": "CHN", "partner": "KAZ", "year": 2020,
                          "y": 1.0, "x": 2.0}]}

        def pointers(**fields):
            body = {"data": data, "formula": "y ~ x"}
            body.update(fields)
            r = self.srv.post("/v1/models", body)
            self.assertEqual(r.status, 422, r.text)
            return [e["pointer"] for e in r.json["errors"]]

        for est in info["estimators"]:
            self.assertNotIn("/estimator", pointers(estimator=est,
                                                    confidence=2), est)
        for v in info["vcov"]:
            v = v.replace("<var>", "partner").replace("<a>", "reporter") \
                 .replace("<b>", "partner")
            self.assertNotIn("/vcov", pointers(vcov=v, confidence=2), v)
        # A method is accepted with at least one estimator (frontier is the
        # stochastic frontier's own).
        for m in info["potential_methods"]:
            refused = [any(p.startswith("/potential/method") for p in
                           pointers(estimator=est, potential={"method": m},
                                    confidence=2))
                       for est in info["estimators"]]
            self.assertFalse(all(refused), m)
        # The control: a name that is not listed is refused at its field.
        self.assertIn("/estimator", pointers(estimator="tobit"))
        self.assertIn("/vcov", pointers(vcov="hc9"))

    def test_info(self):
        r = self.srv.get("/v1")
        self.assertEqual(r.status, 200, r.text)
        info = r.json
        self.assertEqual(info["service"], "gravitas")
        self.assertEqual(info["version"], "0.1.0")
        self.assertIn("ols", info["estimators"])
        for v in ("classical", "hc0", "hc1", "hc2", "hc3"):
            self.assertIn(v, info["vcov"])
        self.assertTrue(any(v.startswith("cluster") for v in info["vcov"]),
                        info["vcov"])
        self.assertEqual(set(info["estimators"]),
                         {"ols", "fe", "re", "ppml", "sfa"})
        self.assertEqual(set(info["potential_methods"]),
                         {"level", "log", "frontier"})
        # api_limits_default: 32 MiB, 1e6 rows, 256 columns, 2048, depth 32.
        self.assertEqual(info["limits"], {
            "max_body_bytes": 32 * 1024 * 1024, "max_rows": 1000000,
            "max_columns": 256, "max_formula_len": 2048,
            "max_json_depth": 32})
        self.assertGreaterEqual(info["threads"], 1)

    def test_metrics_exposition(self):
        for _ in range(3):
            self.assertEqual(self.srv.get("/healthz").status, 200)
        sample = re.compile(
            r'^[a-zA-Z_:][a-zA-Z0-9_:]*'
            r'(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})?'
            r' [-+]?([0-9.eE+-]+|NaN|\+Inf|-Inf)( -?[0-9]+)?$')
        # A request is counted when it completes, which may be just after
        # the client has its answer: poll briefly.
        deadline = time.monotonic() + 5
        while True:
            r = self.srv.get("/metrics")
            self.assertEqual(r.status, 200, r.text)
            self.assertEqual(g.media_type(r.headers["content-type"]),
                             "text/plain")
            samples = 0
            counted = 0.0
            for line in r.text.splitlines():
                if not line or line.startswith("# HELP ") or \
                        line.startswith("# TYPE "):
                    continue
                self.assertRegex(line, sample)
                samples += 1
                if 'route="/healthz"' in line and 'status="200"' in line \
                        and line.startswith("gravitas_http_requests_total"):
                    counted += float(line.rsplit(" ", 1)[1])
            self.assertGreater(samples, 0, r.text)
            if counted >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(counted, 3, r.text)
        self.assertIn("# TYPE gravitas_http_requests_total counter", r.text)

    def test_unknown_path_404(self):
        for path in ("/nope", "/v2", "/v1/models/extra/segments", "/healthz/x"):
            with self.subTest(path=path):
                r = self.srv.get(path)
                self.assertProblem(r, 404, "not-found")

    def test_wrong_method_405_with_allow(self):
        for method, path in (("POST", "/healthz"), ("DELETE", "/v1"),
                             ("GET", "/v1/pca"), ("PUT", "/v1/pca"),
                             ("PATCH", "/metrics")):
            with self.subTest(method=method, path=path):
                r = self.srv.request(method, path)
                self.assertProblem(r, 405, "method-not-allowed")
                allow = {m.strip() for m in r.headers["allow"].split(",")}
                self.assertTrue(self.srv.contract.methods(path) <= allow,
                                r.headers["allow"])

    def test_head_healthz(self):
        r = self.srv.request("HEAD", "/healthz", validate=False)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")


class Lifecycle(unittest.TestCase):

    def test_sigterm_exits_zero_after_traffic(self):
        srv = g.Server().start()
        try:
            for _ in range(5):
                self.assertEqual(srv.get("/healthz").status, 200)
        finally:
            srv.stop()  # asserts exit status 0

    def test_two_servers_get_different_ports(self):
        with g.Server() as a, g.Server() as b:
            self.assertNotEqual(a.port, b.port)
            self.assertEqual(a.get("/healthz").status, 200)
            self.assertEqual(b.get("/healthz").status, 200)

    def test_bad_flag_fails_fast_without_listening(self):
        proc = subprocess.run([g.binary_path(), "--port", "0", "--no-such",
                               "1"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=10)
        self.assertNotEqual(proc.returncode, 0)
        self.assertNotIn(b'"listening"', proc.stderr)
        self.assertTrue(proc.stderr.strip(), "no message for a bad flag")

    def test_sigterm_while_idle_connection_open(self):
        srv = g.Server().start()
        s = socket.create_connection((srv.host, srv.port), timeout=5)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # unfinished
            time.sleep(0.2)
        finally:
            srv.stop()
            s.close()

    def test_limits_follow_environment(self):
        with g.Server(env={"GRAVITAS_MAX_BODY_BYTES": "1024"}) as srv:
            r = srv.get("/v1")
            self.assertEqual(r.status, 200, r.text)
            self.assertEqual(r.json["limits"]["max_body_bytes"], 1024)


if __name__ == "__main__":
    unittest.main()

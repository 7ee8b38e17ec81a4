"""End-to-end: bad input never crashes the server nor gets a 5xx. Each case
must be answered with a 4xx application/problem+json whose errors[].pointer
names the offending field (RFC 6901, into the request body), and the server
must still answer /healthz afterwards (checked after every test)."""

import http.client
import json
import unittest

import gravitas_e2e as g

# A small real dataset: the first eight years of NIST's Longley data
# (y = total employment, x = GNP deflator, z = GNP, w = unemployed).
Y = [60323, 61122, 60171, 61187, 63221, 63639, 64989, 63761]
X = [83.0, 88.5, 88.2, 89.5, 96.2, 98.1, 99.0, 100.0]
Z = [234289, 259426, 258054, 284599, 328975, 346999, 365385, 363112]
W = [2356, 2325, 3682, 3351, 2099, 1932, 1870, 3578]
PARTNERS = ["KAZ", "KGZ", "TJK", "TKM", "UZB", "KAZ", "KGZ", "TJK"]


def rows(n=8):
    return [{"reporter": "CHN", "partner": PARTNERS[i], "year": 2010 + i,
             "y": Y[i], "x": X[i], "z": Z[i], "w": W[i]} for i in range(n)]


def model(**kw):
    body = {"data": {"rows": rows()}, "formula": "y ~ x + z"}
    body.update(kw)
    return body


class BadInput(g.ServerTestCase, unittest.TestCase):

    def tearDown(self):
        # Whatever the case, the server must still be up and healthy.
        self.assertTrue(self.srv.alive(), self.srv.stderr())
        self.assertHealthy()

    def post(self, body, path="/v1/models", **kw):
        r = self.srv.post(path, body, **kw)
        self.assertLess(r.status, 500, r.text)
        return r

    def bad(self, body, status, slug=None, pointers=(), path="/v1/models"):
        r = self.post(body, path=path)
        doc = body if not isinstance(body, (bytes, str)) else None
        return self.assertProblem(r, status, slug, list(pointers), doc)

    # ---- not JSON ---------------------------------------------------------
    def test_malformed_json(self):
        for text in (b'{"formula": "y ~ x",}', b'{formula: "y ~ x"}',
                     b'{"data": {"rows": [1, 2}]}', b"", b"   ",
                     b'{"formula": "y ~ x"} trailing', b"\xff\xfe{}",
                     b'{"formula": "y \xc3 ~ x"}'):
            with self.subTest(body=text):
                p = self.bad(text, 400, "malformed-json", [""])
                self.assertTrue(p["errors"][0]["detail"])

    def test_truncated_body(self):
        text = json.dumps(model()).encode()
        for cut in (1, len(text) // 2, len(text) - 1):
            with self.subTest(cut=cut):
                self.bad(text[:cut], 400, "malformed-json", [""])

    def test_body_shorter_than_content_length(self):
        text = json.dumps(model()).encode()
        head = ("POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" %
                (len(text) + 100)).encode()
        got = self.srv.raw(head + text, timeout=5)
        # The client stopped sending: no answer is needed, but if one comes
        # it must not be a 5xx or a 2xx.
        if got:
            status = int(got.split(b" ", 2)[1])
            self.assertTrue(400 <= status < 500, got[:300])

    def test_duplicate_key(self):
        text = b'{"data": {"rows": [{"y": 1.5, "x": 2.5}]}, ' \
               b'"formula": "y ~ x", "formula": "y ~ x - 1"}'
        self.bad(text, 400, "malformed-json", [""])
        text = b'{"data": {"rows": [{"y": 1.5, "x": 2.5, "x": 3.5}]}, ' \
               b'"formula": "y ~ x"}'
        self.bad(text, 400, "malformed-json", [""])

    def test_nan_and_infinity_literals(self):
        base = json.dumps(model())
        for lit in ("NaN", "Infinity", "-Infinity", "nan"):
            with self.subTest(lit=lit):
                text = base.replace('"x": 88.5', '"x": %s' % lit, 1)
                self.assertNotEqual(text, base)
                self.bad(text.encode(), 400, "malformed-json", [""])

    def test_huge_number(self):
        base = json.dumps(model())
        text = base.replace('"x": 88.5', '"x": 1e400', 1)
        self.assertNotEqual(text, base)
        r = self.post(text.encode())
        # Jansson refuses reals that overflow while parsing (400); a decoder
        # that got that far must name the cell (422).
        if r.status == 400:
            self.assertProblem(r, 400, "malformed-json", [""])
        else:
            self.assertProblem(r, 422, None, ["/data/rows/1/x"])
        text = base.replace('"year": 2011', '"year": 99999999999999999999', 1)
        r = self.post(text.encode())
        if r.status == 400:
            self.assertProblem(r, 400, "malformed-json", [""])
        else:
            self.assertProblem(r, 422, None, ["/data/rows/1/year"])

    def test_deep_nesting(self):
        # Deeper than limits.max_json_depth (32) but within Jansson's own cap.
        deep = "[" * 100 + "]" * 100
        r = self.post(('{"data": {"rows": [{"y": 1.5}]}, "formula": %s}'
                       % deep).encode())
        self.assertIn(r.status, (400, 422), r.text)
        self.assertProblem(r, r.status)
        self.assertIn(r.json["type"].rsplit("/", 1)[1],
                      ("malformed-json", "limit-exceeded", "invalid-request"))
        # Far deeper than any parser cap: must not blow the stack.
        r = self.post(b"[" * 100000)
        self.assertProblem(r, 400, "malformed-json")
        r = self.post(b'{"a":' * 50000 + b"1" + b"}" * 50000)
        self.assertIn(r.status, (400, 422), r.text)
        self.assertProblem(r, r.status)

    def test_body_not_an_object(self):
        for body in ([1, 2], [{"formula": "y ~ x"}], "y ~ x", 3, None):
            with self.subTest(body=body):
                text = json.dumps(body).encode()
                r = self.post(text)
                self.assertIn(r.status, (400, 422), r.text)
                self.assertProblem(r, r.status, None, [""])

    # ---- wrong types, unknown and missing fields ---------------------------
    def test_formula_not_a_string(self):
        body = model(formula=3)
        self.bad(body, 422, "invalid-request", ["/formula"])
        self.bad(model(formula=None), 422, "invalid-request", ["/formula"])
        self.bad(model(formula=["y ~ x"]), 422, "invalid-request",
                 ["/formula"])

    def test_row_value_not_a_number(self):
        body = model()
        body["data"]["rows"][2]["x"] = "abc"
        self.bad(body, 422, "invalid-request", ["/data/rows/2/x"])
        body = model()
        body["data"]["rows"][5]["z"] = True
        self.bad(body, 422, "invalid-request", ["/data/rows/5/z"])
        body = model()
        body["data"]["rows"][0]["y"] = {"v": 1}
        self.bad(body, 422, "invalid-request", ["/data/rows/0/y"])

    def test_column_value_not_a_number(self):
        body = {"data": {"columns": {"y": Y, "x": X[:3] + ["abc"] + X[4:]}},
                "formula": "y ~ x"}
        self.bad(body, 422, "invalid-request", ["/data/columns/x/3"])
        body = {"data": {"columns": {"y": Y, "x": 88.5}}, "formula": "y ~ x"}
        self.bad(body, 422, "invalid-request", ["/data/columns/x"])

    def test_columns_of_unequal_length(self):
        body = {"data": {"columns": {"y": Y, "x": X[:5]}}, "formula": "y ~ x"}
        p = self.bad(body, 422, "invalid-request")
        self.assertTrue(any(e["pointer"].startswith("/data/columns")
                            for e in p["errors"]), p)

    def test_key_types(self):
        body = model()
        body["data"]["rows"][1]["year"] = "2011"
        self.bad(body, 422, "invalid-request", ["/data/rows/1/year"])
        body = model()
        body["data"]["rows"][1]["year"] = 2011.5
        self.bad(body, 422, "invalid-request", ["/data/rows/1/year"])
        body = model()
        body["data"]["rows"][4]["reporter"] = 156
        self.bad(body, 422, "invalid-request", ["/data/rows/4/reporter"])

    def test_data_wrong_shape(self):
        self.bad(model(data=[]), 422, "invalid-request", ["/data"])
        self.bad(model(data={"rows": {"y": 1}}), 422, "invalid-request",
                 ["/data/rows"])
        self.bad(model(data={"rows": [1, 2]}), 422, "invalid-request",
                 ["/data/rows/0"])
        self.bad(model(data={}), 422, "invalid-request")
        both = {"rows": rows(), "columns": {"y": Y, "x": X}}
        self.bad(model(data=both), 422, "invalid-request")

    def test_other_field_types(self):
        self.bad(model(vcov=5), 422, "invalid-request", ["/vcov"])
        self.bad(model(confidence="high"), 422, "invalid-request",
                 ["/confidence"])
        for c in (0, 1, 1.5, -0.95):
            with self.subTest(confidence=c):
                self.bad(model(confidence=c), 422, "invalid-request",
                         ["/confidence"])
        self.bad(model(interpolate="spline"), 422, "invalid-request",
                 ["/interpolate"])
        self.bad(model(potential="log"), 422, "invalid-request",
                 ["/potential"])
        self.bad(model(potential={"method": "frontier"}), 422, None,
                 ["/potential/method"])
        self.bad(model(potential={"smearing": "mean"}), 422,
                 "invalid-request", ["/potential/smearing"])

    def test_unknown_field(self):
        body = model()
        body["formul"] = body.pop("formula")
        p = self.bad(body, 422, "invalid-request", ["/formul"])
        self.assertTrue(any(e["pointer"] in ("/formul", "/formula")
                            for e in p["errors"]))
        self.bad(model(formul="y ~ x"), 422, "invalid-request", ["/formul"])
        self.bad(model(potential={"methd": "log"}), 422, "invalid-request",
                 ["/potential/methd"])
        body = model()
        body["data"]["extra"] = 1
        self.bad(body, 422, "invalid-request", ["/data/extra"])

    def test_missing_required_fields(self):
        body = model()
        del body["formula"]
        self.bad(body, 422, "invalid-request", ["/formula"])
        body = model()
        del body["data"]
        self.bad(body, 422, "invalid-request", ["/data"])
        self.bad({}, 422, "invalid-request", ["/data", "/formula"])

    def test_pointer_escaping(self):
        # A key with '/' and '~' must be escaped as ~1 and ~0 (RFC 6901).
        body = model()
        body["a/b~c"] = 1
        self.bad(body, 422, "invalid-request", ["/a~1b~0c"])

    # ---- formulas -----------------------------------------------------------
    def test_variable_missing_from_data(self):
        p = self.bad(model(formula="y ~ x + gdp"), 422, None, ["/formula"])
        self.assertIn("gdp", json.dumps(p["errors"]))
        self.bad(model(formula="nope ~ x"), 422, None, ["/formula"])

    def test_formula_syntax(self):
        for f in ("y ~ ~ x", "y x", "~ x", "y ~", "y ~ log(x", "y ~ x +",
                  "y ~ foo(x)", "y ~ x + x", "", "   "):
            with self.subTest(formula=f):
                self.bad(model(formula=f), 422, None, ["/formula"])

    def test_formula_too_long(self):
        f = "y ~ x" + " + x" * 600  # 2405 bytes > max_formula_len 2048
        self.assertGreater(len(f), 2048)
        self.bad(model(formula=f), 422, None, ["/formula"])

    def test_fixed_effects_that_absorb_every_row(self):
        # Every year and every reporter-year level holds one row: all rows
        # are singletons, so nothing is left to estimate on.
        self.bad(model(formula="y ~ x + z | year"), 422, "singular-design",
                 ["/data"])
        self.bad(model(formula="y ~ x | reporter^year"), 422,
                 "singular-design", ["/data"])

    def test_estimator_not_available(self):
        for e in ("tobit", "OLS", "", 1):
            with self.subTest(estimator=e):
                self.bad(model(estimator=e), 422, None, ["/estimator"])

    def test_log_of_non_positive(self):
        body = model(formula="y ~ log(x) + z")
        body["data"]["rows"][3]["x"] = 0
        p = self.bad(body, 422, "domain-error", ["/data/rows/3/x"])
        body = model(formula="log(y) ~ x + z")
        body["data"]["rows"][1]["y"] = -61122
        body["data"]["rows"][6]["y"] = 0.0
        p = self.bad(body, 422, "domain-error", ["/data/rows/1/y",
                                                 "/data/rows/6/y"])
        self.assertNotIn("/data/rows/0/y", [e["pointer"] for e in p["errors"]])
        body = {"data": {"columns": {"y": Y, "x": X[:4] + [-1.0] + X[5:]}},
                "formula": "y ~ log(x)"}
        self.bad(body, 422, "domain-error", ["/data/columns/x/4"])
        body = model(formula="y ~ sqrt(x)")
        body["data"]["rows"][7]["x"] = -100.0
        self.bad(body, 422, "domain-error", ["/data/rows/7/x"])

    def test_log_of_missing_is_dropped_not_an_error(self):
        body = model(formula="y ~ log(x)")
        body["data"]["rows"][3]["x"] = None
        r = self.post(body)
        self.assertEqual(r.status, 201, r.text)
        self.assertEqual(r.json["dropped"]["missing_rows"], 1)
        self.assertEqual(r.json["fit"]["n"], 7)

    # ---- designs that cannot be estimated -----------------------------------
    def test_rank_zero_design(self):
        body = model(formula="y ~ x - 1")
        for r in body["data"]["rows"]:
            r["x"] = 0.0
        p = self.bad(body, 422, "singular-design")
        self.assertTrue(p["errors"], p)

    def test_collinear_column_is_dropped(self):
        body = model(formula="y ~ x + z + v")
        for r in body["data"]["rows"]:
            r["v"] = 2 * r["x"] - 3 * r["z"]  # exactly representable
        r = self.post(body)
        self.assertEqual(r.status, 201, r.text)
        m = r.json
        self.assertEqual(m["dropped"]["collinear"], ["v"])
        self.assertEqual(m["fit"]["k"], 3)
        self.assertEqual(m["fit"]["df_resid"], 8 - 3)
        kept = {c["term"]: c for c in m["coefficients"]}
        if "v" in kept:
            self.assertIsNone(kept["v"]["estimate"])
            self.assertIsNone(kept["v"]["std_error"])
        ref = self.post(model(formula="y ~ x + z"))
        self.assertEqual(ref.status, 201, ref.text)
        for c in ref.json["coefficients"]:
            self.assertGreaterEqual(
                g.sig_digits(kept[c["term"]]["estimate"], c["estimate"]), 9)
            self.assertGreaterEqual(
                g.sig_digits(kept[c["term"]]["std_error"], c["std_error"]), 9)

    def test_empty_dataset(self):
        self.bad(model(data={"rows": []}), 422, None, ["/data/rows"])
        self.bad(model(data={"columns": {}}), 422, None, ["/data/columns"])
        p = self.bad(model(data={"columns": {"y": [], "x": []}},
                           formula="y ~ x"), 422, None)
        self.assertTrue(any(e["pointer"].startswith("/data")
                            for e in p["errors"]), p)

    def test_no_complete_row(self):
        body = model()
        for r in body["data"]["rows"]:
            r["x"] = None
        p = self.bad(body, 422, None)
        self.assertTrue(p["errors"], p)

    def test_more_regressors_than_rows(self):
        body = {"data": {"rows": rows(3)}, "formula": "y ~ x + z + w"}
        p = self.bad(body, 422, None)
        self.assertTrue(p["errors"], p)
        # n == k: no residual degrees of freedom either.
        body = {"data": {"rows": rows(4)}, "formula": "y ~ x + z + w"}
        r = self.post(body)
        if r.status == 201:
            self.assertEqual(r.json["fit"]["df_resid"], 0)
            for c in r.json["coefficients"]:
                self.assertIsNone(c["std_error"])
        else:
            self.assertProblem(r, 422, None, request=body)

    def test_bad_vcov(self):
        p = self.bad(model(vcov="cluster:nope"), 422, None, ["/vcov"])
        self.assertIn("nope", json.dumps(p))
        for v in ("hc4", "cluster:", "cluster", "HC1", "robust", ""):
            with self.subTest(vcov=v):
                self.bad(model(vcov=v), 422, None, ["/vcov"])

    def test_cluster_on_one_cluster(self):
        body = model(vcov="cluster:g")
        for r in body["data"]["rows"]:
            r["g"] = 1.0
        r = self.post(body)
        if r.status != 201:
            self.assertProblem(r, 422, None, ["/vcov"])

    def test_bad_thresholds(self):
        for t, ptr in (([1.2, 0.8], "/potential/thresholds"),
                       ([0.8, 0.8], "/potential/thresholds"),
                       ([0, 1.2], "/potential/thresholds"),
                       ([-0.5, 1.2], "/potential/thresholds"),
                       ([0.8], "/potential/thresholds"),
                       ([0.8, 1.2, 2.0], "/potential/thresholds"),
                       (["low", 1.2], "/potential/thresholds"),
                       (0.8, "/potential/thresholds")):
            with self.subTest(thresholds=t):
                body = model(formula="log(y) ~ log(x) + log(z)",
                             potential={"thresholds": t})
                p = self.bad(body, 422, "invalid-request")
                self.assertTrue(any(e["pointer"].startswith(ptr)
                                    for e in p["errors"]), p)

    # ---- transport ------------------------------------------------------------
    def test_unsupported_media_type(self):
        text = json.dumps(model()).encode()
        for ct in ("text/plain", "application/x-www-form-urlencoded",
                   "application/xml", "multipart/form-data; boundary=x"):
            with self.subTest(ct=ct):
                r = self.srv.post("/v1/models", text, content_type=ct)
                self.assertProblem(r, 415, "unsupported-media-type")
        r = self.srv.post("/v1/models", text, content_type=None)
        self.assertProblem(r, 415, "unsupported-media-type")
        r = self.srv.post("/v1/models", text,
                          content_type="application/json; charset=utf-8")
        self.assertIn(r.status, (200, 201), r.text)
        # The same model again: stored, so 200 with the same answer.
        again = self.srv.post("/v1/models", text,
                              content_type="Application/JSON")
        self.assertEqual(again.status, 200, again.text)
        self.assertEqual(again.json, r.json)

    def test_pca_bad_input(self):
        data = {"rows": [{"a": 1.25 * i, "b": (i * 7) % 5 + 0.5,
                          "c": (i * i) % 7 - 2.75} for i in range(10)]}
        ok = {"data": data, "variables": ["a", "b", "c"]}
        r = self.post(ok, path="/v1/pca")
        self.assertEqual(r.status, 200, r.text)
        self.bad(dict(ok, variables=["a", "nope"]), 422, None,
                 ["/variables/1"], path="/v1/pca")
        self.bad(dict(ok, variables=["a"]), 422, None, ["/variables"],
                 path="/v1/pca")
        self.bad(dict(ok, variables="a"), 422, None, ["/variables"],
                 path="/v1/pca")
        self.bad(dict(ok, index={"method": "mean"}), 422, None,
                 ["/index/method"], path="/v1/pca")
        self.bad(dict(ok, index={"scale": "z"}), 422, None,
                 ["/index/scale"], path="/v1/pca")
        self.bad(dict(ok, extra=1), 422, "invalid-request", ["/extra"],
                 path="/v1/pca")
        const = {"rows": [dict(r, k=2.5) for r in data["rows"]]}
        self.bad({"data": const, "variables": ["a", "k"]}, 422, None,
                 path="/v1/pca")
        self.bad({"data": {"rows": data["rows"][:2]},
                  "variables": ["a", "b"]}, 422, None, path="/v1/pca")
        self.bad(b'{"data": ', 400, "malformed-json", [""], path="/v1/pca")


class BodyLimit(g.ServerTestCase, unittest.TestCase):
    """A server started with GRAVITAS_MAX_BODY_BYTES=1024."""

    server_env = {"GRAVITAS_MAX_BODY_BYTES": "1024"}

    def tearDown(self):
        self.assertTrue(self.srv.alive(), self.srv.stderr())
        self.assertHealthy()

    def small_body(self, n_bytes):
        body = {"data": {"rows": rows(4)}, "formula": "y ~ x"}
        text = json.dumps(body)
        return (text[:-1] + ", " + '"pad": "' +
                "x" * (n_bytes - len(text) - 11) + '"}').encode()

    def test_over_limit_413(self):
        text = self.small_body(2048)
        self.assertEqual(len(text), 2048)
        r = self.srv.post("/v1/models", text)
        self.assertProblem(r, 413, "body-too-large")
        r = self.srv.post("/v1/models", b"{" * 8000)
        self.assertProblem(r, 413, "body-too-large")
        r = self.srv.post("/v1/pca", b" " * 1025)
        self.assertProblem(r, 413, "body-too-large")

    def test_at_limit_is_read(self):
        body = {"data": {"rows": rows(4)}, "formula": "y ~ x"}
        text = json.dumps(body).encode()
        text += b" " * (1024 - len(text))
        self.assertEqual(len(text), 1024)
        r = self.srv.post("/v1/models", text)
        self.assertEqual(r.status, 201, r.text)
        # One byte more is refused.
        r = self.srv.post("/v1/models", text + b" ")
        self.assertProblem(r, 413, "body-too-large")

    def test_chunked_over_limit(self):
        conn = http.client.HTTPConnection(self.srv.host, self.srv.port,
                                          timeout=30)
        try:
            chunks = [b'{"formula": "' + b"x" * 600, b"y" * 600, b'"}']
            conn.request("POST", "/v1/models", body=iter(chunks),
                         headers={"Content-Type": "application/json"},
                         encode_chunked=True)
            resp = conn.getresponse()
            body = resp.read()
            r = g.Response(resp.status,
                           {k.lower(): v for k, v in resp.getheaders()}, body)
            self.srv.contract.check_response("POST", "/v1/models", r)
            self.assertProblem(r, 413, "body-too-large")
        except (ConnectionError, http.client.RemoteDisconnected):
            # Dropping the connection is an acceptable way to refuse a body
            # of unknown length (PITFALLS.md, libmicrohttpd); a crash is not,
            # and tearDown checks the server is still healthy.
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()

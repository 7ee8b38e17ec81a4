"""Helpers for the end-to-end suites: start the real gravitas binary on a free
port, talk HTTP to it, and check every answer against openapi.yaml.

Environment:
  GRAVITAS_BIN         path of the server binary (required)
  GRAVITAS_SOURCE_DIR  repository root (default: two levels above this file)
  GRAVITAS_VALGRIND    when 1, every Server runs under valgrind memcheck
                       (leak check at exit, tests/valgrind.supp); a server
                       whose valgrind reports errors or definite/indirect
                       leaks fails stop(). Timeouts are longer in this mode.
  GRAVITAS_VALGRIND_LOG_DIR  where the valgrind logs go (default: the
                       system temporary directory); a clean run's log is
                       deleted, a failing one is kept and named in the error
                       (so is the log of a server a test kills with SIGKILL)

Only the Python standard library plus python3-yaml and python3-jsonschema
(Debian packages) are used, so the suite runs under /usr/bin/python3.

Typical use:

    class T(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            cls.srv = Server().start()
            cls.addClassCleanup(cls.srv.stop)

        def test_health(self):
            r = self.srv.get("/healthz")
            self.assertEqual(r.status, 200, r.text)

Every response that request() returns has already been validated against
the contract: its status must be documented for the operation (or fall under
`default`), its media type must be one the contract lists, and a JSON body
must match the schema (Draft 2020-12, $ref resolved into openapi.yaml).
A JSON body that uses NaN/Infinity literals or repeats a key fails too.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import yaml
from jsonschema import Draft202012Validator, RefResolver

SOURCE_DIR = os.environ.get(
    "GRAVITAS_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
# Under valgrind the server runs 20-50x slower and the leak check at exit
# takes seconds, so start and stop get far longer deadlines.
VALGRIND = os.environ.get("GRAVITAS_VALGRIND", "") not in ("", "0")
START_TIMEOUT_S = 180.0 if VALGRIND else 10.0
STOP_TIMEOUT_S = 300.0 if VALGRIND else 15.0
# In the slow modes (valgrind, or GRAVITAS_E2E_WAIT_READY=1 as make
# test-sanitize sets) start() also waits, best effort, until /readyz answers
# 200 (the default model is installed after 'listening'), so tests that
# assume a ready server do not race the slow start-up.
WAIT_READY = VALGRIND or os.environ.get("GRAVITAS_E2E_WAIT_READY", "") \
    not in ("", "0")
READY_WAIT_S = 120.0
# The exit status valgrind uses when it found errors or definite/indirect
# leaks (distinct from every status gravitas itself returns).
VALGRIND_ERROR_EXIT = 99
REQUEST_TIMEOUT_S = 120.0
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options",
                "trace")


class ContractError(AssertionError):
    """A response that does not match openapi.yaml."""


def binary_path():
    """Path of the server binary from GRAVITAS_BIN; raises when unset or
    missing, so a misconfigured run fails loudly instead of skipping."""
    path = os.environ.get("GRAVITAS_BIN")
    if not path:
        raise RuntimeError("GRAVITAS_BIN is not set (path of the gravitas "
                           "binary)")
    if not os.access(path, os.X_OK):
        raise RuntimeError("GRAVITAS_BIN=%s is not an executable file" % path)
    return path


def source_path(*parts):
    return os.path.join(SOURCE_DIR, *parts)


def _reject_constant(name):
    raise ValueError("non-standard JSON literal %s" % name)


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate key %r" % k)
        obj[k] = v
    return obj


def strict_json(text):
    """Parses RFC 8259 JSON strictly: no NaN/Infinity, no duplicate keys."""
    return json.loads(text, parse_constant=_reject_constant,
                      object_pairs_hook=_no_duplicates)


def media_type(content_type):
    """'application/json; charset=utf-8' -> 'application/json'."""
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower()


def is_json_media(mt):
    return mt is not None and (mt == "application/json" or mt.endswith("+json"))


def pointer_tokens(pointer):
    """RFC 6901: '' -> [], '/a~1b/0' -> ['a/b', '0']."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError("JSON Pointer must start with '/': %r" % pointer)
    return [t.replace("~1", "/").replace("~0", "~")
            for t in pointer[1:].split("/")]


def pointer_resolve(doc, pointer):
    """The value at pointer in doc; raises KeyError/IndexError when absent."""
    cur = doc
    for tok in pointer_tokens(pointer):
        if isinstance(cur, dict):
            cur = cur[tok]
        elif isinstance(cur, list):
            if not re.fullmatch(r"0|[1-9][0-9]*", tok):
                raise KeyError(tok)
            cur = cur[int(tok)]
        else:
            raise KeyError(tok)
    return cur


def pointer_parent_exists(doc, pointer):
    """True when the pointer names an existing value of doc, or a member
    missing from an existing object (a required field that is absent)."""
    toks = pointer_tokens(pointer)
    try:
        pointer_resolve(doc, pointer)
        return True
    except (KeyError, IndexError, TypeError):
        pass
    if not toks:
        return False
    parent = "".join("/" + t.replace("~", "~0").replace("/", "~1")
                     for t in toks[:-1])
    try:
        return isinstance(pointer_resolve(doc, parent), dict)
    except (KeyError, IndexError, TypeError):
        return False


class Contract:
    """openapi.yaml, loaded once, with a JSON Schema validator per schema."""

    _instance = None

    def __init__(self, path=None):
        self.path = path or source_path("openapi.yaml")
        with open(self.path, "rb") as f:
            self.text = f.read()
        self.doc = yaml.safe_load(self.text)
        self.resolver = RefResolver.from_schema(self.doc)
        self._routes = []
        for p, item in self.doc.get("paths", {}).items():
            rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(p)) + "$"
            self._routes.append((re.compile(rx), p, item))
        # A literal segment beats a template ("/v1/datasets/from-worldbank"
        # before "/v1/datasets/{id}"), as in the server's route table.
        self._routes.sort(key=lambda r: r[1].count("{"))

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = Contract()
        return cls._instance

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            obj = self.resolver.resolve(obj["$ref"])[1]
        return obj

    def validator(self, schema):
        return Draft202012Validator(schema, resolver=self.resolver)

    def schema(self, name):
        return {"$ref": "#/components/schemas/" + name}

    def validate(self, instance, schema, what):
        errors = sorted(self.validator(schema).iter_errors(instance),
                        key=lambda e: list(e.absolute_path))
        if errors:
            lines = []
            for e in errors[:10]:
                loc = "/" + "/".join(str(p) for p in e.absolute_path)
                lines.append("  at %s: %s" % (loc, e.message[:300]))
            raise ContractError("%s does not match openapi.yaml:\n%s"
                                % (what, "\n".join(lines)))

    def validate_named(self, instance, name, what=None):
        self.validate(instance, self.schema(name), what or name)

    def path_item(self, path):
        """(template, path item) for a concrete URL path, or (None, None)."""
        for rx, template, item in self._routes:
            if rx.match(path):
                return template, item
        return None, None

    def methods(self, path):
        """Upper-case methods the contract documents for path (a set)."""
        _, item = self.path_item(path)
        if item is None:
            return set()
        return {m.upper() for m in item if m in HTTP_METHODS}

    def operation(self, method, path):
        _, item = self.path_item(path)
        if item is None:
            return None
        return item.get(method.lower())

    def check_response(self, method, path, resp):
        """Raises ContractError unless resp (a Response) is what the contract
        allows for method and path."""
        what = "%s %s -> %d" % (method, path, resp.status)
        mt = media_type(resp.headers.get("content-type"))
        op = self.operation(method, path)
        if op is None:
            # No such operation: only 404 (unknown path) or 405 (known path,
            # other method) are possible, both with the Problem body.
            template, _ = self.path_item(path)
            expected = 405 if template is not None else 404
            if resp.status != expected:
                raise ContractError("%s: the contract has no operation %s %s "
                                    "so the answer must be %d" %
                                    (what, method, path, expected))
            robj = self.deref(self.doc["components"]["responses"]["Problem"])
        else:
            responses = op.get("responses", {})
            robj = responses.get(str(resp.status), responses.get("default"))
            if robj is None:
                raise ContractError("%s: status not documented" % what)
            robj = self.deref(robj)
        content = robj.get("content", {})
        if not content:
            if resp.body:
                raise ContractError("%s: the contract documents no body" % what)
            return
        if mt not in content:
            raise ContractError("%s: Content-Type %r is not one of %s" %
                                (what, resp.headers.get("content-type"),
                                 sorted(content)))
        if is_json_media(mt):
            if resp.json_error is not None:
                raise ContractError("%s: body is not strict JSON (%s): %r" %
                                    (what, resp.json_error, resp.body[:300]))
            schema = content[mt].get("schema")
            if schema is not None:
                self.validate(resp.json, schema, what)
            if mt == "application/problem+json":
                if resp.json.get("status") != resp.status:
                    raise ContractError("%s: problem status %r differs from "
                                        "the HTTP status" %
                                        (what, resp.json.get("status")))
        if resp.status == 405:
            allow = resp.headers.get("allow")
            if allow is None:
                raise ContractError("%s: 405 without an Allow header" % what)
            got = {m.strip().upper() for m in allow.split(",") if m.strip()}
            documented = self.methods(path)
            if not documented <= got or not got <= documented | {"HEAD",
                                                                 "OPTIONS"}:
                raise ContractError("%s: Allow %r but the contract documents "
                                    "%s" % (what, allow, sorted(documented)))


class Response:
    """One HTTP answer: status, headers (lower-case names), raw body, text and
    parsed JSON (None when the body is not JSON)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.json = None
        self.json_error = None
        if is_json_media(media_type(headers.get("content-type"))):
            try:
                self.json = strict_json(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                self.json_error = str(e)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.text[:500])


class ServerError(AssertionError):
    """The server did not start, crashed, or did not stop cleanly."""


class Server:
    """The real gravitas binary on 127.0.0.1 and a free port.

    Server(env={...}, args=[...]).start() launches it with a fresh data
    directory and waits (up to START_TIMEOUT_S) for the one JSON
    'listening' line on stderr. stop() sends SIGTERM and requires exit
    status 0 (and, with GRAVITAS_VALGRIND, a clean valgrind report). All of
    stderr is kept and included in every failure message."""

    def __init__(self, env=None, args=None, binary=None, data_dir=None):
        """data_dir: use (and keep) this directory instead of a fresh
        temporary one that stop() removes; for restart tests."""
        self.binary = binary or binary_path()
        self.own_dir = data_dir is None
        self.fixed_dir = data_dir
        self.extra_env = dict(env or {})
        self.extra_args = list(args or [])
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.data_dir = None
        self.listening = None
        self._lines = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = None
        self.contract = Contract.get()
        self.validate = True

    # ---- life cycle -----------------------------------------------------
    def start(self):
        self.data_dir = (tempfile.mkdtemp(prefix="gravitas-e2e-")
                         if self.own_dir else self.fixed_dir)
        env = dict(os.environ)
        env.update(self.extra_env)
        argv = [self.binary, "--port", "0", "--host", self.host,
                "--data-dir", self.data_dir] + self.extra_args
        self.valgrind_log = None
        if VALGRIND:
            argv = self._valgrind_argv() + argv
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr,
                                        args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.is_set():
            if self.proc.poll() is not None:
                self._reader.join(2)
                self._cleanup_dir()
                raise ServerError("gravitas exited with status %d before "
                                  "listening; stderr:\n%s%s" %
                                  (self.proc.returncode, self.stderr(),
                                   self._valgrind_report(True)))
            if time.monotonic() > deadline:
                self._kill()
                raise ServerError("gravitas printed no 'listening' line "
                                  "within %.0f s; stderr:\n%s%s" %
                                  (START_TIMEOUT_S, self.stderr(),
                                   self._valgrind_report(True)))
            self._ready.wait(0.05)
        if WAIT_READY:
            self._wait_ready()
        return self

    def _wait_ready(self):
        """Polls /readyz until 200, the process exits or READY_WAIT_S pass;
        never fails (the tests judge readiness themselves)."""
        deadline = time.monotonic() + READY_WAIT_S
        while self.alive() and time.monotonic() < deadline:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                conn.request("GET", "/readyz")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            time.sleep(0.1)

    def _valgrind_argv(self):
        """valgrind and its options, with a fresh log file for this server
        (kept apart from stderr, which tests read line by line)."""
        vg = shutil.which("valgrind")
        if vg is None:
            raise ServerError("GRAVITAS_VALGRIND is set but valgrind is not "
                              "installed (apt-get install valgrind)")
        log_dir = os.environ.get("GRAVITAS_VALGRIND_LOG_DIR") or None
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        fd, self.valgrind_log = tempfile.mkstemp(
            prefix="gravitas-vg-", suffix=".log", dir=log_dir)
        os.close(fd)
        argv = [vg, "--tool=memcheck", "--leak-check=full",
                "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect",
                "--error-exitcode=%d" % VALGRIND_ERROR_EXIT,
                "--num-callers=40", "--log-file=" + self.valgrind_log]
        supp = source_path("tests", "valgrind.supp")
        if os.path.exists(supp):
            argv.append("--suppressions=" + supp)
        return argv

    def _valgrind_report(self, failed):
        """'' without valgrind. Otherwise the valgrind log as text for an
        error message when failed (the file is kept), else '' after
        deleting the log of a clean run."""
        path = self.valgrind_log
        if not path:
            return ""
        if not failed:
            try:
                os.unlink(path)
            except OSError:
                pass
            self.valgrind_log = None
            return ""
        try:
            with open(path, "r", errors="replace") as f:
                text = f.read()
        except OSError as e:
            text = "(cannot read: %s)" % e
        if len(text) > 60000:
            text = "...\n" + text[-60000:]
        return "\nvalgrind log %s:\n%s" % (path, text)

    def _valgrind_clean(self):
        """True unless the valgrind log's ERROR SUMMARY counts errors (also
        checked apart from the exit status, which a crash could mask)."""
        try:
            with open(self.valgrind_log, "r", errors="replace") as f:
                text = f.read()
        except OSError:
            return False
        counts = re.findall(r"ERROR SUMMARY: ([0-9]+) errors", text)
        return bool(counts) and all(c == "0" for c in counts)

    def _read_stderr(self, proc):
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self._lines.append(line)
            if not self._ready.is_set():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if (isinstance(obj, dict) and obj.get("event") == "listening"
                        and obj.get("level") == "info"
                        and isinstance(obj.get("port"), int)
                        and obj["port"] > 0):
                    self.listening = obj
                    self.port = obj["port"]
                    self._ready.set()
        proc.stderr.close()

    def stderr(self):
        """Everything the server wrote to stderr so far."""
        with self._lock:
            return "\n".join(self._lines)

    def stderr_lines(self):
        with self._lock:
            return list(self._lines)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait, and require exit status 0."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise ServerError("gravitas did not exit within %.0f s of "
                                      "SIGTERM; stderr:\n%s%s" %
                                      (STOP_TIMEOUT_S, self.stderr(),
                                       self._valgrind_report(True)))
            if self._reader is not None:
                self._reader.join(5)
            if VALGRIND and self.valgrind_log and (
                    proc.returncode == VALGRIND_ERROR_EXIT
                    or not self._valgrind_clean()):
                raise ServerError("valgrind found memory errors or leaks in "
                                  "gravitas (exit status %d); stderr:\n%s%s" %
                                  (proc.returncode, self.stderr(),
                                   self._valgrind_report(True)))
            if proc.returncode != 0:
                raise ServerError("gravitas exited with status %d (0 expected "
                                  "after SIGTERM); stderr:\n%s%s" %
                                  (proc.returncode, self.stderr(),
                                   self._valgrind_report(True)))
            self._valgrind_report(False)
        finally:
            self._cleanup_dir()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._cleanup_dir()

    def _cleanup_dir(self):
        if self.data_dir and self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            # Keep the original failure; still stop the process.
            try:
                self.stop()
            except ServerError:
                pass
        return False

    # ---- HTTP -----------------------------------------------------------
    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    def request(self, method, path, body=None, headers=None,
                content_type="application/json", validate=None):
        """Sends one request on a fresh connection and returns a Response
        validated against the contract. body may be bytes, str, or any other
        value (encoded as JSON). Raises ServerError (with stderr) when the
        connection fails or the server has died."""
        if not self.alive():
            raise ServerError("gravitas is not running; stderr:\n%s" %
                              self.stderr())
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = json.dumps(body, allow_nan=False).encode("utf-8")
            if content_type is not None:
                hdrs.setdefault("Content-Type", content_type)
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            raw = conn.getresponse()
            payload = raw.read()
            resp = Response(raw.status,
                            {k.lower(): v for k, v in raw.getheaders()},
                            payload)
        except (OSError, http.client.HTTPException) as e:
            raise ServerError("%s %s failed: %r (server %s); stderr:\n%s" %
                              (method, path, e,
                               "alive" if self.alive() else "dead",
                               self.stderr())) from e
        finally:
            conn.close()
        if validate if validate is not None else self.validate:
            try:
                self.contract.check_response(method, path.split("?", 1)[0],
                                             resp)
            except ContractError as e:
                raise ContractError("%s\nbody: %s" % (e, resp.text[:2000]))
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def raw(self, data, read=True, timeout=10.0, shutdown_write=True):
        """Sends raw bytes on a new TCP connection (for malformed HTTP such
        as a short body) and returns what came back (b'' when the server
        closed without answering or timed out)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        try:
            s.sendall(data)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
            chunks = []
            if read:
                try:
                    while True:
                        c = s.recv(65536)
                        if not c:
                            break
                        chunks.append(c)
                except (socket.timeout, ConnectionResetError):
                    pass
            return b"".join(chunks)
        finally:
            s.close()


class ServerTestCase:
    """Mixin for unittest.TestCase: one server per class (setUpClass), stopped
    and checked for exit status 0 at the end (addClassCleanup), with
    assertion helpers for problems. Set `server_env` to add environment."""

    server_env = {}
    server_args = []

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = Server(env=cls.server_env, args=cls.server_args).start()
        cls.addClassCleanup(cls.srv.stop)

    def assertProblem(self, resp, status, slug=None, pointers=None,
                      request=None):
        """resp is a problem+json with this status (and type slug); every
        pointer in `pointers` appears in errors[]; when the request document
        is given, each errors[].pointer must name a place in it (an existing
        value, or a member missing from an existing object). Returns the
        parsed problem."""
        self.assertEqual(resp.status, status, resp.text)
        self.assertEqual(media_type(resp.headers.get("content-type")),
                         "application/problem+json", resp.text)
        prob = resp.json
        if slug is not None:
            self.assertEqual(prob["type"],
                             "https://gravitas.dev/problems/" + slug,
                             resp.text)
        got = [e["pointer"] for e in prob.get("errors", [])]
        for p in pointers or []:
            self.assertIn(p, got, "pointer %r not in errors: %s" %
                          (p, resp.text))
        if request is not None and not isinstance(request, (bytes, str)):
            for p in got:
                self.assertTrue(pointer_parent_exists(request, p),
                                "errors[].pointer %r names nothing in the "
                                "request; %s" % (p, resp.text))
        return prob

    def assertHealthy(self):
        r = self.srv.get("/healthz")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json, {"status": "ok"})


def csv_rows(*path):
    """The rows of a committed CSV panel (path under the source tree) as the
    JSON rows form: reporter and partner strings, year an integer, every
    other column a float or None for an empty cell."""
    import csv
    rows = []
    with open(source_path(*path), newline="") as f:
        for r in csv.DictReader(f):
            row = {"reporter": r["reporter"], "partner": r["partner"],
                   "year": int(r["year"])}
            for k, v in r.items():
                if k not in row:
                    row[k] = float(v) if v != "" else None
            rows.append(row)
    return rows


def sig_digits(got, want):
    """Number of significant decimal digits on which got agrees with want
    (-log10 of the relative error; 17 when identical, 0 when got is None)."""
    import math
    if got is None:
        return 0.0
    if got == want:
        return 17.0
    if want == 0:
        return max(0.0, -math.log10(abs(got)))
    rel = abs(got - want) / abs(want)
    return max(0.0, min(17.0, -math.log10(rel)))

"""A real browser for the end-to-end suite: Debian's Chromium, headless,
driven through ChromeDriver's W3C WebDriver protocol (plain HTTP and JSON,
so the Python standard library is enough), and a loopback web server for the
pages a frontend would be served from.

Both come from deploy/install-deps.sh (packages chromium and
chromium-driver). Nothing is downloaded: the browser starts with the flags
that keep it off the network (no background networking, component updates,
sync or QUIC), in a fresh profile that stop() removes.

    with PageServer({"/": b"<!doctype html>..."}) as pages, Browser() as b:
        b.open(pages.url("127.0.0.1", "/"))
        result = b.run_async("return fetch(arguments[0]).then(r => r.status)",
                             "http://127.0.0.1:8080/healthz")

run_async() wraps the script in an async function whose value (or thrown
error, as {"error": "TypeError: ..."}) is what it returns, so each test's
JavaScript is a plain sequence of awaits.
"""

import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

CHROMIUM = os.environ.get("GRAVITAS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("GRAVITAS_CHROMEDRIVER", "/usr/bin/chromedriver")
START_TIMEOUT_S = 60.0
# A script's own deadline; the server under valgrind answers a fit in
# seconds, not milliseconds.
SCRIPT_TIMEOUT_S = 300.0
# Keep Chromium off the network (this machine has none) and quiet: no
# first-run, no update or sync traffic, no GPU, no shared memory limits.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--metrics-recording-only", "--password-store=basic",
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class BrowserError(AssertionError):
    """ChromeDriver or the browser failed (not a test's own assertion)."""


class Browser:
    """One headless Chromium session through ChromeDriver on a free port."""

    def __init__(self):
        self.driver = None
        self.port = None
        self.session = None
        self.profile = None
        self.log_path = None

    def start(self):
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                raise BrowserError(
                    "%s is missing: run deploy/install-deps.sh (it installs "
                    "Debian's chromium and chromium-driver)" % path)
        self.profile = tempfile.mkdtemp(prefix="gravitas-chromium-")
        self.log_path = os.path.join(self.profile, "chromedriver.log")
        self.port = free_port()
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, "--port=%d" % self.port,
             "--log-path=" + self.log_path],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                st = self._call("GET", "/status", timeout=2.0)
                if st.get("ready"):
                    break
            except OSError:
                pass
            if self.driver.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BrowserError("chromedriver did not start")
            time.sleep(0.05)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": CHROMIUM_ARGS + ["--user-data-dir=" + os.path.join(
                    self.profile, "profile")]},
            "timeouts": {"script": int(SCRIPT_TIMEOUT_S * 1000),
                         "pageLoad": 60000}}}}
        try:
            value = self._call("POST", "/session", caps, timeout=START_TIMEOUT_S)
        except BrowserError:
            self.stop()
            raise
        self.session = value["sessionId"]
        return self

    def stop(self):
        if self.session is not None:
            try:
                self._call("DELETE", "/session/" + self.session, timeout=30.0)
            except (OSError, BrowserError):
                pass
            self.session = None
        if self.driver is not None:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
            self.driver = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- WebDriver ---------------------------------------------------------
    def _call(self, method, path, body=None, timeout=SCRIPT_TIMEOUT_S + 30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data else {}
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            doc = json.loads(raw)
        except ValueError:
            raise BrowserError("chromedriver %s %s: %d %r" %
                               (method, path, resp.status, raw[:300]))
        value = doc.get("value")
        if resp.status != 200:
            raise BrowserError("chromedriver %s %s: %d %s" %
                               (method, path, resp.status,
                                json.dumps(value)[:2000]))
        return value

    def _session(self, method, path, body=None):
        return self._call(method, "/session/%s%s" % (self.session, path), body)

    def open(self, url):
        """Navigates to url and waits for its load event."""
        self._session("POST", "/url", {"url": url})

    def run_async(self, body, *args):
        """Runs body (JavaScript, with `arguments` available) as the body of
        an async function in the page; returns its value, or
        {"error": "<name>: <message>"} when it throws."""
        script = ("const done = arguments[arguments.length - 1];"
                  "const args = Array.prototype.slice.call(arguments, 0, -1);"
                  "(async function () {" + body + "}).apply(null, args)"
                  ".then(v => done(v === undefined ? null : v),"
                  " e => done({error: String(e && e.name) + ': ' +"
                  " String(e && e.message)}));")
        return self._session("POST", "/execute/async",
                             {"script": script, "args": list(args)})

    def find_css(self, selector):
        """The WebDriver element reference of the first match."""
        value = self._session("POST", "/element",
                              {"using": "css selector", "value": selector})
        return next(iter(value.values()))

    def send_keys(self, element, text):
        """Types text into element; into an <input type=file>, a file path
        is what a user picking that file would give the page."""
        self._session("POST", "/element/%s/value" % element, {"text": text})


class PageServer:
    """Serves fixed pages on 127.0.0.1 and a free port, as a frontend's own
    web server would. The same port is a different origin under the name
    localhost, so one server gives an allowed and a refused origin."""

    def __init__(self, pages):
        self.pages = dict(pages)
        self.httpd = None
        self.thread = None

    def start(self):
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    @property
    def port(self):
        return self.httpd.server_address[1]

    def origin(self, host="127.0.0.1"):
        return "http://%s:%d" % (host, self.port)

    def url(self, host, path):
        return self.origin(host) + path

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=10)
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

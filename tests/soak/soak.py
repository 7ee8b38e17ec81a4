"""Soak test (issue 6): a bounded load against the real gravitas binary.

64 client threads, each on its own keep-alive connection to 127.0.0.1, send
for SOAK_SECONDS (default 60) a mix of
  read       GET /v1/potential?reporter=CHN&partner=KAZ   (200)
  read       GET /v1/models/default                       (200)
  cached     POST /v1/models, always the same small body   (200; 201 once)
  new        POST /v1/models with a varying value          (201)
and then checks that
  - no answer was a 5xx (nor a transport error),
  - the server is alive at the end and exits 0 on SIGTERM,
  - its resident memory (VmRSS) grew less than 10 % between the end of a
    10 s warm-up and the end of the run.
Prints the requests per kind, the status counts and the memory.

The server runs with --max-concurrent-fits 64 (one per client: 503 busy is
the designed load shedding, not what this test looks for) and a model cache
of --cache-mb 8 (the cache is an LRU with that budget: the run fills it
during the warm-up, so its growth is bounded and a leak is what remains).

Environment: GRAVITAS_BIN (the binary, required), SOAK_SECONDS (default 60),
SOAK_WARMUP_SECONDS (10), SOAK_CONNECTIONS (64), SOAK_MAX_REQUESTS (a
per-thread cap, default 100000). Standard library only (/usr/bin/python3).
Exit status 0 when every check holds, 1 otherwise."""

import collections
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get("GRAVITAS_BIN", "")
SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WARMUP = float(os.environ.get("SOAK_WARMUP_SECONDS", "10"))
CONNS = int(os.environ.get("SOAK_CONNECTIONS", "64"))
MAX_REQ = int(os.environ.get("SOAK_MAX_REQUESTS", "100000"))
RSS_GROWTH_MAX = 0.10

ROWS = 30


def small_body(shift):
    """A small inline OLS request; shift changes the data (a new fit)."""
    rnd = random.Random(12345)
    xs = [rnd.uniform(1, 10) for _ in range(ROWS)]
    zs = [rnd.uniform(0, 5) for _ in range(ROWS)]
    ys = [1.0 + 0.5 * x - 0.25 * z + rnd.gauss(0, 1) for x, z in zip(xs, zs)]
    ys[0] += shift
    return json.dumps({"data": {"columns": {"y": ys, "x": xs, "z": zs}},
                       "formula": "y ~ x + z", "vcov": "hc1"}).encode()


def vm(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="gravitas-soak-")
        self.port = None
        self.lines = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [BIN, "--port", "0", "--host", "127.0.0.1", "--data-dir", self.dir,
             "--threads", "2", "--max-concurrent-fits", str(CONNS),
             "--cache-mb", "8"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 30
        while not self.ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("gravitas did not start:\n" +
                                   "\n".join(self.lines[-20:]))
        while time.monotonic() < deadline:
            try:
                if self.call(None, "GET", "/readyz")[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError("gravitas never became ready")

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if len(self.lines) > 2000:  # keep the tail only
                del self.lines[:1000]
            if not self.ready.is_set():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("event") == "listening":
                    self.port = obj["port"]
                    self.ready.set()

    def call(self, conn, method, path, body=None):
        own = conn is None
        if own:
            conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                              timeout=30)
        try:
            hdr = {"Content-Type": "application/json"} if body else {}
            conn.request(method, path, body=body, headers=hdr)
            r = conn.getresponse()
            r.read()
            return r.status, r.getheader("Connection", "")
        finally:
            if own:
                conn.close()


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        print("soak: GRAVITAS_BIN is not set to an executable", file=sys.stderr)
        return 1
    srv = Server()
    cached = small_body(0.0)
    first = srv.call(None, "POST", "/v1/models", cached)[0]
    counts = collections.Counter()          # (kind, status)
    errors = collections.Counter()          # (kind, exception name)
    lock = threading.Lock()
    seq = [0]
    stop_at = time.monotonic() + SECONDS
    kinds = (["potential"] * 5 + ["default"] * 2 + ["cached"] * 2 + ["new"])

    def worker(tid):
        rnd = random.Random(tid)
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        local = collections.Counter()
        lerr = collections.Counter()
        n = 0
        while time.monotonic() < stop_at and n < MAX_REQ:
            n += 1
            kind = rnd.choice(kinds)
            if kind == "potential":
                args = ("GET", "/v1/potential?reporter=CHN&partner=KAZ", None)
            elif kind == "default":
                args = ("GET", "/v1/models/default", None)
            elif kind == "cached":
                args = ("POST", "/v1/models", cached)
            else:
                with lock:
                    seq[0] += 1
                    s = seq[0]
                args = ("POST", "/v1/models", small_body(s * 1e-3))
            try:
                st, connhdr = srv.call(conn, *args)
                local[(kind, st)] += 1
                if connhdr.lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", srv.port,
                                                      timeout=30)
            except (OSError, http.client.HTTPException) as e:
                lerr[(kind, type(e).__name__)] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", srv.port,
                                                  timeout=30)
        conn.close()
        with lock:
            counts.update(local)
            errors.update(lerr)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(CONNS)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, WARMUP - (time.monotonic() - t0)))
    rss_warm = vm(srv.proc.pid, "VmRSS")
    samples = [(round(time.monotonic() - t0), rss_warm)]
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=5)
            if time.monotonic() > stop_at + 60:
                break
        if srv.proc.poll() is None:
            samples.append((round(time.monotonic() - t0),
                            vm(srv.proc.pid, "VmRSS")))
        if time.monotonic() > stop_at + 60:
            break
    elapsed = time.monotonic() - t0
    alive = srv.proc.poll() is None
    rss_end = vm(srv.proc.pid, "VmRSS") if alive else -1
    hwm = vm(srv.proc.pid, "VmHWM") if alive else -1
    hung = [t for t in threads if t.is_alive()]

    rc = None
    if alive:
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(30)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()
    else:
        rc = srv.proc.returncode
    shutil.rmtree(srv.dir, ignore_errors=True)

    total = sum(counts.values())
    by_kind = collections.Counter()
    for (kind, _), c in counts.items():
        by_kind[kind] += c
    print("soak: %.1f s, %d connections, %d requests (%.0f/s); first POST of "
          "the cached body: %d" % (elapsed, CONNS, total, total / elapsed,
                                   first))
    for kind in ("potential", "default", "cached", "new"):
        st = {s: c for (k, s), c in sorted(counts.items()) if k == kind}
        print("  %-9s %7d  statuses %s" % (kind, by_kind[kind], st))
    if errors:
        print("  transport errors: %s" % dict(errors))
    growth = (rss_end - rss_warm) / rss_warm if rss_warm > 0 and rss_end > 0 \
        else float("inf")
    print("  VmRSS after %.0f s warm-up %d kB, at the end %d kB (%+.1f %%), "
          "VmHWM %d kB" % (WARMUP, rss_warm, rss_end, 100 * growth, hwm))
    print("  VmRSS samples (s, kB): %s" % samples)
    print("  server exit status on SIGTERM: %s" % rc)

    fails = []
    n5xx = sum(c for (k, s), c in counts.items() if s >= 500)
    if n5xx:
        fails.append("%d answers were 5xx" % n5xx)
    if errors:
        fails.append("%d transport errors" % sum(errors.values()))
    unexpected = {(k, s): c for (k, s), c in counts.items()
                  if not (s == 200 or (k == "new" and s == 201))}
    if unexpected:
        fails.append("unexpected statuses: %s" % unexpected)
    if not alive:
        fails.append("the server died during the run")
    if hung:
        fails.append("%d client threads did not finish" % len(hung))
    if rc != 0:
        fails.append("exit status on SIGTERM: %s" % rc)
    if not growth < RSS_GROWTH_MAX:
        fails.append("VmRSS grew %.1f %% (limit %.0f %%)" %
                     (100 * growth, 100 * RSS_GROWTH_MAX))
    if by_kind["new"] == 0 or by_kind["cached"] == 0:
        fails.append("a kind of request was never sent")
    if fails:
        print("soak: FAILED: " + "; ".join(fails))
        print("server stderr (tail):\n" + "\n".join(srv.lines[-30:]))
        return 1
    print("soak: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""HTTP benchmarks of make bench (issue 6), each against a reference measured
in the same run:

  potential  GET /v1/potential?reporter=CHN&partner=KAZ on the default model
             with wrk (-c64 -d10s --latency), next to nginx serving the
             same body as a static file on loopback: requests/s and p99,
             in two layouts (potential_pair): servers and wrk on separate
             cores (taskset), and all of them sharing every core.
  ols        POST /v1/models (OLS, n = 1e5, 8 regressors + intercept, inline
             JSON columns, vcov hc1): time from sending the request to the
             full answer (the JSON encoding of the request is done before
             the clock starts; the server's parsing is included), against
             statsmodels OLS(...).fit(cov_type="HC1") in this process on the
             same data. The coefficients and standard errors are compared.
             Also against statsmodels doing the same work in this process
             (statsmodels_same_work: json.loads of the same body, the fit,
             json.dumps of an answer with every row's potential).
  ingest     POST /v1/datasets of 100,000 rows as JSON (rows form), as JSON
             (columns form) and as CSV: MB/s of request body.
  memory     peak RSS (VmHWM) of a fresh server after one POST /v1/models
             of 1e4, 1e5 and 3e5 rows.

Usage: bench_http.py GRAVITAS_BIN OUT.json   (rows for bench_report.py)
Every load is bounded (wrk -d10s; single requests with a timeout). Loopback
only. Never asserts on time."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Server  # noqa: E402

POTENTIAL_PATH = "/v1/potential?reporter=CHN&partner=KAZ"
K = 8
REGS = ["x%d" % (j + 1) for j in range(K)]
FORMULA = "y ~ " + " + ".join(REGS)
BIG_BODY = str(512 * 1024 * 1024)


def log(*a):
    print("bench_http:", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ols_data(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, K))
    beta = np.linspace(-0.8, 0.8, K)
    y = 1.0 + X @ beta + rng.standard_normal(n) * (1.0 + 0.5 * np.abs(X[:, 0]))
    return X, y


def ols_body(X, y):
    cols = {"y": y.tolist()}
    for j, name in enumerate(REGS):
        cols[name] = X[:, j].tolist()
    return json.dumps({"data": {"columns": cols}, "formula": FORMULA,
                       "vcov": "hc1"}).encode()


# ---- GET /v1/potential against nginx ------------------------------------
def wrk(url, duration="10s", threads=2, cpus=None):
    argv = ["wrk", "-t%d" % threads, "-c64", "-d" + duration, "--latency",
            "--timeout", "5s", url]
    if cpus is not None:
        argv = ["taskset", "-c", cpus] + argv
    out = subprocess.run(argv, capture_output=True, text=True,
                         timeout=120).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    m = re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s)\b", out, re.M)
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    p99 = float(m.group(1)) * scale
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p99_ms": p99,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(0) if errors else "", "raw": out}


def start_nginx(tmp, root, workers, cpus=None):
    """nginx serving root on a free loopback port with the given number of
    workers, pinned to cpus when given. Returns (process, port)."""
    port = free_port()
    conf = os.path.join(tmp, "nginx-%d.conf" % port)
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes %(workers)d;
pid %(tmp)s/nginx-%(port)d.pid;
error_log %(tmp)s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %(tmp)s/body;
  proxy_temp_path %(tmp)s/proxy;
  fastcgi_temp_path %(tmp)s/fastcgi;
  uwsgi_temp_path %(tmp)s/uwsgi;
  scgi_temp_path %(tmp)s/scgi;
  default_type application/json;
  server {
    listen 127.0.0.1:%(port)d;
    root %(root)s;
    location / { try_files $uri =404; }
  }
}
""" % {"tmp": tmp, "port": port, "root": root, "workers": workers})
    argv = ["/usr/sbin/nginx", "-p", tmp, "-c", conf]
    if cpus is not None:
        argv = ["taskset", "-c", cpus] + argv
    nginx = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return nginx, port
        except OSError:
            if nginx.poll() is not None or time.monotonic() > deadline:
                stop_nginx(nginx)
                raise RuntimeError("nginx did not start")
            time.sleep(0.05)


def stop_nginx(nginx):
    if nginx.poll() is None:
        nginx.send_signal(signal.SIGQUIT)
    try:
        nginx.wait(10)
    except subprocess.TimeoutExpired:
        nginx.kill()
        nginx.wait()


def cpu_split():
    """The usable CPUs split in two halves, as taskset lists: (servers,
    load generator). None on a single-CPU machine."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    half = len(cpus) // 2
    return (",".join(map(str, cpus[half:])), ",".join(map(str, cpus[:half])))


def potential_pair(binary, body, root, tmp, layout):
    """wrk against gravitas and against nginx in one layout:
    shared    both servers and wrk on every core: gravitas with 2 HTTP
              threads, nginx with 2 workers, wrk -t2 (the layout of the
              earlier tables; the tail is the scheduler's: four busy
              threads on two cores);
    separate  the servers pinned to one half of the cores and wrk to the
              other (taskset), gravitas with its default threads (one per
              usable core), nginx with as many workers, wrk with one thread
              per core of its half: load generator and server do not take
              each other's time slices, as on separate machines."""
    if layout == "shared":
        srv_cpus = wrk_cpus = None
        threads, wrk_threads = 2, 2
    else:
        srv_cpus, wrk_cpus = cpu_split()
        threads = None
        wrk_threads = len(wrk_cpus.split(","))
    srv = Server(binary, threads=threads, cpus=srv_cpus).start()
    nginx = None
    try:
        workers = srv.started_threads
        st, got = srv.request("GET", POTENTIAL_PATH)
        if st != 200 or got != body:
            raise RuntimeError("GET %s: %d, another body" % (POTENTIAL_PATH, st))
        nginx, nport = start_nginx(tmp, root, workers, srv_cpus)
        nurl = "http://127.0.0.1:%d%s" % (nport, POTENTIAL_PATH)
        gurl = "http://127.0.0.1:%d%s" % (srv.port, POTENTIAL_PATH)
        import urllib.request
        with urllib.request.urlopen(nurl, timeout=5) as r:
            if r.read() != body:  # nginx ignores the query string
                raise RuntimeError("nginx serves another body")
        wrk(gurl, "2s", wrk_threads, wrk_cpus)  # warm-up of both, not measured
        wrk(nurl, "2s", wrk_threads, wrk_cpus)
        log("wrk gravitas (%s cores)" % layout)
        g = wrk(gurl, "10s", wrk_threads, wrk_cpus)
        log("wrk nginx (%s cores)" % layout)
        ng = wrk(nurl, "10s", wrk_threads, wrk_cpus)
        rss = srv.proc_status("VmRSS")
    finally:
        if nginx is not None:
            stop_nginx(nginx)
        rc = srv.stop()
    return {"layout": layout, "gravitas": g, "nginx": ng,
            "server_threads": workers, "nginx_workers": workers,
            "server_cpus": srv_cpus, "wrk_cpus": wrk_cpus,
            "wrk_threads": wrk_threads, "server_exit": rc,
            "server_rss_kb": rss}


def bench_potential(binary):
    srv = Server(binary, threads=1).start()
    try:
        st, body = srv.request("GET", POTENTIAL_PATH)
    finally:
        srv.stop()
    if st != 200:
        raise RuntimeError("GET %s: %d" % (POTENTIAL_PATH, st))
    tmp = tempfile.mkdtemp(prefix="gravitas-bench-nginx-")
    try:
        root = os.path.join(tmp, "www")
        os.makedirs(os.path.join(root, "v1"))
        with open(os.path.join(root, "v1", "potential"), "wb") as f:
            f.write(body)
        # Run as root, nginx's workers run as nobody: they must read these.
        for d in (tmp, root, os.path.join(root, "v1")):
            os.chmod(d, 0o755)
        os.chmod(os.path.join(root, "v1", "potential"), 0o644)
        out = {"body_bytes": len(body), "layouts": []}
        layouts = ["separate", "shared"] if cpu_split() else ["shared"]
        for layout in layouts:
            out["layouts"].append(potential_pair(binary, body, root, tmp,
                                                 layout))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def server_timing(headers):
    """{stage: milliseconds} of a Server-Timing header."""
    out = {}
    for part in headers.get("server-timing", "").split(","):
        if ";dur=" in part:
            name, dur = part.strip().split(";dur=")
            out[name] = float(dur)
    return out


# ---- POST /v1/models (OLS 1e5) against statsmodels ----------------------
def statsmodels_same_work(sm, body):
    """What a Python service answering the same request would do: read the
    JSON body, fit OLS HC1 with statsmodels, and write an answer with the
    coefficient table and every row's potential (actual, predicted, K, class,
    gap), as POST /v1/models answers. Returns the answer's length."""
    d = json.loads(body)
    cols = d["data"]["columns"]
    y = np.asarray(cols["y"], dtype=float)
    X = np.column_stack([np.asarray(cols[r], dtype=float) for r in REGS])
    res = sm.OLS(y, sm.add_constant(X)).fit(cov_type="HC1")
    ci = res.conf_int()
    pred = res.fittedvalues
    k = y / pred
    cls = np.where(k <= 0.8, "huge_potential",
                   np.where(k >= 1.2, "remodelling_potential",
                            "expanding_potential"))
    gap = pred - y
    answer = {
        "coefficients": [
            {"term": t, "estimate": float(res.params[j]),
             "std_error": float(res.bse[j]),
             "statistic": float(res.tvalues[j]),
             "p_value": float(res.pvalues[j]), "ci_low": float(ci[j, 0]),
             "ci_high": float(ci[j, 1])}
            for j, t in enumerate(["(Intercept)"] + REGS)],
        "fit": {"n": int(res.nobs), "r2": float(res.rsquared),
                "f": float(res.fvalue)},
        "potentials": [
            {"row": i, "actual": float(y[i]), "predicted": float(pred[i]),
             "k": float(k[i]), "class": str(cls[i]), "gap": float(gap[i])}
            for i in range(len(y))]}
    return len(json.dumps(answer))


def bench_ols(binary, n=100000, reps=3):
    import statsmodels.api as sm
    srv = Server(binary, threads=2, extra_args=["--max-body-bytes",
                                                BIG_BODY]).start()
    http_wall, http_cpu, sm_wall, sm_cpu, stages = [], [], [], [], []
    same_wall, same_cpu = [], []
    diff_b = diff_se = 0.0
    try:
        for rep in range(reps):
            X, y = ols_data(n, 100 + rep)  # new data: a new fit (201) each time
            body = ols_body(X, y)          # encoding: outside the clock
            c0 = srv.cpu_seconds()
            t0 = time.perf_counter()
            st, ans = srv.request("POST", "/v1/models", body)
            http_wall.append(time.perf_counter() - t0)
            http_cpu.append(srv.cpu_seconds() - c0)
            if st != 201:
                raise RuntimeError("POST /v1/models: %d %s" % (st, ans[:300]))
            stages.append(server_timing(srv.last_headers))
            Xc = sm.add_constant(X)
            t0, c0 = time.perf_counter(), time.process_time()
            res = sm.OLS(y, Xc).fit(cov_type="HC1")
            _ = (res.params, res.bse, res.tvalues, res.pvalues,
                 res.conf_int(), res.rsquared, res.fvalue)
            sm_wall.append(time.perf_counter() - t0)
            sm_cpu.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            statsmodels_same_work(sm, body)
            same_wall.append(time.perf_counter() - t0)
            same_cpu.append(time.process_time() - c0)
            coefs = json.loads(ans)["coefficients"]
            gb = np.array([c["estimate"] for c in coefs])
            gse = np.array([c["std_error"] for c in coefs])
            diff_b = max(diff_b, float(np.max(np.abs(gb - res.params) /
                                              np.abs(res.params))))
            diff_se = max(diff_se, float(np.max(np.abs(gse - res.bse) /
                                                res.bse)))
        body_mb = len(body) / 1e6
        ans_mb = len(ans) / 1e6
    finally:
        rc = srv.stop()
    return {"n": n, "http_wall": min(http_wall), "http_server_cpu":
            min(http_cpu), "sm_wall": min(sm_wall), "sm_cpu": min(sm_cpu),
            "sm_same_wall": min(same_wall), "sm_same_cpu": min(same_cpu),
            "request_mb": body_mb, "answer_mb": ans_mb,
            "max_rel_diff_beta": diff_b, "max_rel_diff_se": diff_se,
            # Server-Timing of the request of the best server CPU time
            "stages_ms": stages[http_cpu.index(min(http_cpu))],
            "server_exit": rc}


# ---- dataset ingest -------------------------------------------------------
def codes(count):
    out = []
    for a in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            out.append("Q" + a + b)
            if len(out) == count:
                return out
    return out


def ingest_rows(n, seed):
    rng = np.random.default_rng(seed)
    reps, parts = codes(100), codes(100)
    vals = rng.lognormal(10, 2, (n, 6))
    rows = []
    for i in range(n):
        r = {"reporter": reps[i // 1000 % 100], "partner": parts[i // 10 % 100],
             "year": 2000 + i % 10}
        for j in range(6):
            r["v%d" % (j + 1)] = float(vals[i, j])
        rows.append(r)
    return rows


def bench_ingest(binary, n=100000, reps=3):
    srv = Server(binary, threads=2, extra_args=["--max-body-bytes",
                                                BIG_BODY]).start()
    out = {}
    try:
        for kind in ("json", "json-columns", "csv"):
            best = 1e300
            for rep in range(reps):
                rows = ingest_rows(n, 1000 * (kind == "csv") +
                                   2000 * (kind == "json-columns") + rep)
                if kind == "json":
                    body = json.dumps({"rows": rows}).encode()
                    ctype = "application/json"
                elif kind == "json-columns":
                    keys = list(rows[0].keys())
                    body = json.dumps({"columns": {
                        k: [r[k] for r in rows] for k in keys}}).encode()
                    ctype = "application/json"
                else:
                    keys = list(rows[0].keys())
                    lines = [",".join(keys)]
                    for r in rows:
                        lines.append(",".join(repr(r[k]) if isinstance(
                            r[k], float) else str(r[k]) for k in keys))
                    body = ("\n".join(lines) + "\n").encode()
                    ctype = "text/csv"
                t0 = time.perf_counter()
                st, ans = srv.request("POST", "/v1/datasets", body, ctype)
                dt = time.perf_counter() - t0
                if st != 201:
                    raise RuntimeError("POST /v1/datasets (%s): %d %s" %
                                       (kind, st, ans[:300]))
                best = min(best, dt)
            out[kind] = {"seconds": best, "mb": len(body) / 1e6,
                         "mb_s": len(body) / 1e6 / best}
    finally:
        out["server_exit"] = srv.stop()
    return out


# ---- peak memory against request size -----------------------------------
def bench_memory(binary, sizes=(10000, 100000, 300000)):
    out = []
    for n in sizes:
        X, y = ols_data(n, 7)
        body = ols_body(X, y)
        srv = Server(binary, threads=2, extra_args=["--max-body-bytes",
                                                    BIG_BODY]).start()
        try:
            base = srv.proc_status("VmHWM")
            st, ans = srv.request("POST", "/v1/models", body)
            if st != 201:
                raise RuntimeError("POST /v1/models n=%d: %d" % (n, st))
            peak = srv.proc_status("VmHWM")
        finally:
            rc = srv.stop()
        out.append({"n": n, "request_mb": len(body) / 1e6,
                    "answer_mb": len(ans) / 1e6, "hwm_before_kb": base,
                    "hwm_after_kb": peak, "server_exit": rc})
        del body, ans
    return out


def main():
    binary, out_path = sys.argv[1], sys.argv[2]
    res = {}
    log("potential (wrk vs nginx)")
    res["potential"] = bench_potential(binary)
    log("POST /v1/models OLS 1e5 vs statsmodels")
    res["ols"] = bench_ols(binary)
    log("ingest")
    res["ingest"] = bench_ingest(binary)
    log("memory")
    res["memory"] = bench_memory(binary)
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1)
    for lay in res["potential"]["layouts"]:
        for k in ("gravitas", "nginx"):
            lay[k].pop("raw", None)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

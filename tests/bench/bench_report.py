"""Turns the logs of tests/bench/run.sh into one Markdown table (stdout and
OUT.md): what, Gravitas, reference, ratio, target, met?. Every ratio is
between two numbers measured in the same run.

Usage: bench_report.py LOG_DIR OUT.md"""

import json
import os
import re
import sys

FIXEST_FE_1E6 = 0.18    # s, fixest::feols two-way FE OLS at 1e6 (published)
FIXEST_PPML_1E6 = 1.2   # s, fixest::fepois two-way PPML at 1e6 (published)


def read(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return f.read()
    except OSError:
        return ""


def load_json(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def s(x):
    return "%.3g s" % x if x >= 0.01 else "%.2g ms" % (x * 1e3)


def wc(w, c):
    return "%s wall, %s CPU" % (s(w), s(c))


def yes(b):
    return "yes" if b else "**no**"


def main():
    d, out = sys.argv[1], sys.argv[2]
    rows = []
    notes = []

    def row(what, g, ref, ratio, target, met):
        rows.append((what, g, ref, ratio, target, met))

    http = load_json(d, "http.json")
    if http:
        p = http["potential"]
        for lay in p["layouts"]:
            g, n = lay["gravitas"], lay["nginx"]
            r = g["rps"] / n["rps"]
            if lay["layout"] == "separate":
                where = ("servers on CPU %s, wrk -t%d on CPU %s (taskset); "
                         "server's default threads: %d, one per usable core"
                         % (lay["server_cpus"], lay["wrk_threads"],
                            lay["wrk_cpus"], lay["server_threads"]))
            else:
                where = ("servers and wrk -t%d sharing every core; server "
                         "--threads %d" % (lay["wrk_threads"],
                                           lay["server_threads"]))
            row("`GET /v1/potential?reporter=CHN&partner=KAZ`, wrk -c64 "
                "-d10s: requests/s (%d-byte body); %s" % (p["body_bytes"],
                                                          where),
                "%.0f/s" % g["rps"], "nginx static file, %d worker%s: "
                "%.0f/s" % (lay["nginx_workers"],
                            "s" if lay["nginx_workers"] != 1 else "",
                            n["rps"]),
                "%.2f" % r, ">= 0.50 of nginx", yes(r >= 0.5))
            row("same (%s cores): p99 latency" % lay["layout"],
                "%.2f ms" % g["p99_ms"], "nginx: %.2f ms" % n["p99_ms"],
                "%.2f" % (g["p99_ms"] / n["p99_ms"]), "< 5 ms",
                yes(g["p99_ms"] < 5.0))
            if g["non2xx"] or g["socket_errors"]:
                notes.append("wrk against gravitas (%s cores): %d non-2xx, %s"
                             % (lay["layout"], g["non2xx"],
                                g["socket_errors"]))
        o = http["ols"]
        r = o["http_wall"] / o["sm_wall"]
        row("`POST /v1/models` OLS n = %d, 8 regressors + intercept, hc1, "
            "inline JSON (%.1f MB in, %.1f MB out): send to full answer"
            % (o["n"], o["request_mb"], o["answer_mb"]),
            "%s wall (server CPU %s)" % (s(o["http_wall"]),
                                         s(o["http_server_cpu"])),
            "statsmodels OLS HC1 in-process: %s" % wc(o["sm_wall"],
                                                      o["sm_cpu"]),
            "%.1f (server CPU / sm CPU %.1f)" % (
                r, o["http_server_cpu"] / max(o["sm_cpu"], 1e-9)),
            "< 1 (faster than statsmodels)", yes(r < 1.0))
        if "sm_same_wall" in o:
            r2 = o["http_wall"] / o["sm_same_wall"]
            row("same request: Gravitas over HTTP against a Python process "
                "doing the same work (json.loads of the same body, "
                "statsmodels OLS HC1, json.dumps of an answer with every "
                "row's potential)",
                "%s wall (server CPU %s)" % (s(o["http_wall"]),
                                             s(o["http_server_cpu"])),
                "statsmodels, same work: %s" % wc(o["sm_same_wall"],
                                                  o["sm_same_cpu"]),
                "%.2f (server CPU / its CPU %.2f)" % (
                    r2, o["http_server_cpu"] / max(o["sm_same_cpu"], 1e-9)),
                "-", "-")
        st = o.get("stages_ms")
        if st:
            notes.append("`POST /v1/models` OLS n = %d, where the server's "
                         "time goes (its Server-Timing header, wall ms): %s"
                         % (o["n"], ", ".join("%s %.1f" % (k, v)
                                              for k, v in st.items())))
        notes.append("OLS over HTTP vs statsmodels: max relative difference "
                     "%.1e in the estimates, %.1e in the standard errors"
                     % (o["max_rel_diff_beta"], o["max_rel_diff_se"]))
    ols = read(d, "ols.log")
    sm = load_json(d, "sm.json")
    m = {int(a): (float(b), float(c)) for a, b, c in re.findall(
        r"n = (\d+): core_ols_fit .*?: ([0-9.]+) s wall, ([0-9.]+) s CPU",
        ols)}
    if 1000000 in m:
        w, c = m[1000000]
        if sm:
            ref = "statsmodels OLS HC1 (same shape): %s" % wc(
                sm["ols1e6"]["wall"], sm["ols1e6"]["cpu"])
            ratio = "%.2f wall, %.2f CPU" % (w / sm["ols1e6"]["wall"],
                                             c / sm["ols1e6"]["cpu"])
        else:
            ref, ratio = "-", "-"
        row("core_ols_fit n = 1e6, 8 columns, hc1 (bench_ols, best of 3)",
            wc(w, c), ref, ratio, "< 1 (faster than statsmodels)",
            yes(sm is not None and c < sm["ols1e6"]["cpu"]))
    if http:
        for kind, what in (("json", "JSON rows"),
                           ("json-columns", "JSON columns"), ("csv", "CSV")):
            i = http["ingest"].get(kind)
            if i is None:
                continue
            row("`POST /v1/datasets` 100,000 rows x 9 columns as %s "
                "(%.1f MB), best of 3" % (what, i["mb"]),
                "%.1f MB/s (%s)" % (i["mb_s"], s(i["seconds"])), "-", "-",
                "-", "-")
        for mm in http["memory"]:
            hwm = mm["hwm_after_kb"] / 1024.0
            row("peak RSS (VmHWM) of a fresh server after `POST /v1/models` "
                "OLS n = %d (%.1f MB request)" % (mm["n"], mm["request_mb"]),
                "%.0f MiB (%.0f MiB at start)" % (
                    hwm, mm["hwm_before_kb"] / 1024.0),
                "request body %.1f MB" % mm["request_mb"],
                "%.1f x the body" % (hwm * 1.048576 / mm["request_mb"]),
                "-", "-")
    fe = read(d, "fe.log")
    fm = {int(a): (float(b), float(c)) for a, b, c in re.findall(
        r"n = (\d+): core_fe_fit .*?: ([0-9.]+) s wall, ([0-9.]+) s CPU", fe)}
    fer = read(d, "fe_r.log")
    plm = re.search(r"plm two-way within, n = \d+: ([0-9.]+) s", fer)
    lm = re.search(r"lm with dummies, n = 10000 subsample: ([0-9.]+) s", fer)
    if 100000 in fm:
        w, c = fm[100000]
        row("two-way FE OLS n = 1e5, 10,000 x 200 levels, 5 regressors "
            "(bench_fe, best of 5)", wc(w, c),
            "R plm within two-ways: %s wall" % s(float(plm.group(1)))
            if plm else "R plm: not finished in the time budget",
            "%.1f (plm / Gravitas wall)" % (float(plm.group(1)) / w)
            if plm else "-", "faster than plm", yes(plm and
                                                   float(plm.group(1)) > w))
        row("same, statsmodels", wc(w, c),
            "no honest comparison: no two-factor within estimator in "
            "statsmodels; OLS with dummies needs a dense 1e5 x 10,200 "
            "design (8 GB)", "-", "-", "-")
        if lm:
            notes.append("R lm with factor dummies on a 10,000-row subsample:"
                         " %s" % s(float(lm.group(1))))
        else:
            notes.append("R lm with factor dummies on a 10,000-row "
                         "subsample (bench_fe.R) did not finish within the "
                         "time budget of bench_fe.R and was stopped")
    if 1000000 in fm:
        w, c = fm[1000000]
        row("two-way FE OLS n = 1e6 (bench_fe, best of 5; 2 threads)",
            wc(w, c), "fixest::feols with 2 threads, published: 0.18 s",
            "%.2f wall, %.2f CPU" % (w / FIXEST_FE_1E6, c / FIXEST_FE_1E6),
            "<= 0.18 s wall", yes(w <= FIXEST_FE_1E6))
    for n, mib, ratio, data in re.findall(
            r"n = (\d+): peak working memory ([0-9.]+) MiB = ([0-9.]+) x the "
            r"data \(([0-9.]+) MiB", fe):
        if int(n) == 1000000:
            row("two-way FE OLS n = 1e6: peak working memory of one fit "
                "(VmHWM above the resident data)", "%s MiB" % mib,
                "the data: %s MiB (y, 5 regressors, 2 factors)" % data,
                ratio + " x", "< 3 x the data", yes(float(ratio) < 3))
    pp = read(d, "ppml.log")
    for n, mib, ratio, data in re.findall(
            r"^two-way FE\s+n =\s+(\d+)\s+peak working memory ([0-9.]+) MiB "
            r"= ([0-9.]+) x the data \(([0-9.]+) MiB", pp, re.M):
        if int(n) == 1000000:
            row("PPML n = 1e6: peak working memory of one fit (VmHWM above "
                "the resident data)", "%s MiB" % mib,
                "the data: %s MiB (y, 5 regressors, 2 factors)" % data,
                ratio + " x", "< 3 x the data", yes(float(ratio) < 3))
    pm = re.findall(r"^(reduced \(for R glm\)|two-way FE)\s+n =\s+(\d+)\s+"
                    r"levels\s+(\d+) x\s+(\d+).*?wall\s+([0-9.]+) s\s+cpu\s+"
                    r"([0-9.]+) s\s+IRLS\s+(\d+)", pp, re.M)
    ppr = read(d, "ppml_r.log")
    glm = re.search(r"elapsed ([0-9.]+) s, cpu ([0-9.]+) s", ppr)
    for label, n, la, lb, w, c, it in pm:
        n, w, c = int(n), float(w), float(c)
        if label.startswith("reduced"):
            if glm:
                rw, rc = float(glm.group(1)), float(glm.group(2))
                row("PPML n = 1e5, 100 x 50 levels, 5 regressors (bench_ppml "
                    "reduced set, best of 5)", wc(w, c),
                    "R glm quasipoisson with dummies: %s" % wc(rw, rc),
                    "%.0f wall, %.0f CPU (R / Gravitas)" % (rw / w, rc / c),
                    "faster than glm", yes(rc > c))
            if sm:
                q = sm["ppml"]
                row("same data, statsmodels", wc(w, c),
                    "statsmodels GLM Poisson with dummies: %s" %
                    wc(q["wall"], q["cpu"]),
                    "%.0f wall, %.0f CPU (statsmodels / Gravitas)" %
                    (q["wall"] / w, q["cpu"] / c), "faster than statsmodels",
                    yes(q["cpu"] > c))
        elif n == 100000:
            row("PPML n = 1e5, 10,000 x 200 levels (bench_ppml, best of 5)",
                wc(w, c),
                "no reference: glm and statsmodels cannot hold the dense "
                "10,200 dummies", "-", "-", "-")
        else:
            row("PPML n = 1e6, 10,000 x 200 levels (bench_ppml, best of 5; "
                "2 threads)", wc(w, c),
                "fixest::fepois with 2 threads, published: 1.2 s",
                "%.2f wall, %.2f CPU" % (w / FIXEST_PPML_1E6,
                                         c / FIXEST_PPML_1E6),
                "<= 1.2 s wall", yes(w <= FIXEST_PPML_1E6))
    lines = ["| what | Gravitas | reference | ratio | target | met? |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(str(x).replace("|", "\\|")
                                       for x in r) + " |")
    text = "\n".join(lines) + "\n"
    if notes:
        text += "\n" + "\n".join("- " + n for n in notes) + "\n"
    hdr = read(d, "header.md")
    text = hdr + "\n" + text
    with open(out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()

"""statsmodels references of make bench (issue 5 and 6), timed in this
process:

  ols1e6  OLS with HC1 at n = 1e6, intercept + 7 regressors (the shape of
          bench_ols's 1e6 fit; numpy's generator, not the C data).
  ppml    GLM Poisson (the PPML point estimates) with dummies on the
          reduced-level data bench_ppml writes (n = 1e5, 100 x 50 levels,
          the set R's glm also fits); the C time is read from <csv>.ctime.

Two-way fixed-effects OLS with 10,000 x 200 levels has no honest statsmodels
counterpart: statsmodels has no absorbing (within) estimator for two
factors, and OLS with dummies needs a dense 1e5 x 10,200 design (8 GB).

Usage: bench_sm.py PPML_REDUCED.csv OUT.json"""

import json
import sys
import time

import numpy as np
import statsmodels.api as sm


def timed(f, reps):
    best_w = best_c = 1e300
    out = None
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        out = f()
        best_w = min(best_w, time.perf_counter() - t0)
        best_c = min(best_c, time.process_time() - c0)
    return out, best_w, best_c


def main():
    csv, out_path = sys.argv[1], sys.argv[2]
    res = {}
    rng = np.random.default_rng(1)
    n = 1000000
    X = sm.add_constant(rng.standard_normal((n, 7)))
    y = X @ np.linspace(-0.7, 0.7, 8) + rng.standard_normal(n)
    _, w, c = timed(lambda: sm.OLS(y, X).fit(cov_type="HC1").bse, 3)
    res["ols1e6"] = {"wall": w, "cpu": c}
    del X, y

    d = np.loadtxt(csv, delimiter=",", skiprows=1)
    y = d[:, 0]
    a = d[:, 6].astype(int)
    b = d[:, 7].astype(int)
    A = (a[:, None] == np.unique(a)[None, 1:]).astype(float)
    B = (b[:, None] == np.unique(b)[None, 1:]).astype(float)
    X = np.hstack([np.ones((len(y), 1)), d[:, 1:6], A, B])
    fit, w, c = timed(lambda: sm.GLM(y, X, family=sm.families.Poisson())
                      .fit(tol=1e-10, maxiter=100), 1)
    with open(csv + ".ctime") as f:
        cw, cc = (float(v) for v in f.read().split())
    res["ppml"] = {"n": len(y), "levels": [int(A.shape[1] + 1),
                                           int(B.shape[1] + 1)],
                   "wall": w, "cpu": c, "iterations": int(fit.fit_history[
                       "iteration"]), "b": [float(v) for v in fit.params[1:6]],
                   "c_wall": cw, "c_cpu": cc}
    with open(out_path, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

"""Cross-checks values.csv (R: lm + sandwich) against statsmodels on data.csv.

Run by make_reference.sh right after reference.R; exits non-zero when any
value differs by more than TOL relative, so a reference that R and
statsmodels do not agree on is never committed. Model C (x5 = x1 + x2, which
R drops) is checked against model A, since statsmodels keeps collinear
columns through a pseudo-inverse instead of dropping them.
Must run under Debian's /usr/bin/python3 (it has statsmodels).
"""
import csv
import math
import sys

import numpy as np
import statsmodels
import statsmodels.api as sm

TOL = 1e-9


def load_values(path):
    vals = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            vals[(row["model"], row["vcov"], row["stat"], row["term"])] = float(row["value"])
    return vals


def main():
    with open("data.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    col = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    groups = col["g"].astype(int)
    n = len(rows)
    ref = load_values("values.csv")
    designs = {
        "A": (["(Intercept)", "x1", "x2", "x3", "x4"], True),
        "B": (["x1", "x2", "x3", "x4"], False),
    }
    worst = {}

    def check(model, vcov, stat, term, got):
        want = ref[(model, vcov, stat, term)]
        err = abs(got - want) / max(abs(want), 1e-300)
        key = (model, stat)
        worst[key] = max(worst.get(key, 0.0), err)
        if not err <= TOL:
            print(f"MISMATCH {model} {vcov} {stat} {term}: statsmodels {got!r} R {want!r} rel {err:.3g}")
            return False
        return True

    ok = True
    for model, (terms, has_int) in designs.items():
        X = np.column_stack([np.ones(n) if t == "(Intercept)" else col[t] for t in terms])
        base = sm.OLS(col["y"], X, hasconst=has_int)
        for vcov in ["classical", "HC0", "HC1", "HC2", "HC3", "CR1"]:
            if vcov == "classical":
                fit = base.fit(use_t=True)
            elif vcov == "CR1":
                # use_t=True: t with G - 1 df, the Stata convention we follow.
                fit = base.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
            else:
                fit = base.fit(cov_type=vcov, use_t=True)
            ci = fit.conf_int(alpha=0.05)
            for j, t in enumerate(terms):
                ok &= check(model, vcov, "coef", t, fit.params[j])
                ok &= check(model, vcov, "se", t, fit.bse[j])
                ok &= check(model, vcov, "t", t, fit.tvalues[j])
                ok &= check(model, vcov, "p", t, fit.pvalues[j])
                ok &= check(model, vcov, "ci_low", t, ci[j, 0])
                ok &= check(model, vcov, "ci_high", t, ci[j, 1])
            # The F statistic (Wald on all slopes for robust variances).
            ok &= check(model, vcov, "f", "", float(np.squeeze(fit.fvalue)))
            if vcov == "classical":
                ok &= check(model, vcov, "f_p", "", float(np.squeeze(fit.f_pvalue)))
        fit = base.fit()
        k = X.shape[1]
        ok &= check(model, "any", "r2", "", fit.rsquared)
        ok &= check(model, "any", "adj_r2", "", fit.rsquared_adj)
        ok &= check(model, "any", "ssr", "", fit.ssr)
        ok &= check(model, "any", "loglik", "", fit.llf)
        # statsmodels counts k parameters in AIC/BIC, R (and Gravitas) k + 1.
        ok &= check(model, "any", "aic", "", fit.aic + 2)
        ok &= check(model, "any", "bic", "", fit.bic + math.log(n))
        if model == "A":
            h = fit.get_influence().hat_matrix_diag
            for i in range(n):
                ok &= check(model, "any", "leverage", str(i), h[i])
                ok &= check(model, "any", "resid", str(i), fit.resid[i])

    # Model C must equal model A once x5 is dropped.
    for (model, vcov, stat, term), v in ref.items():
        if model != "C" or stat in ("dropped",):
            continue
        a = ref.get(("A", vcov, stat, term))
        if a is None:
            print(f"MISSING in A: {vcov} {stat} {term}")
            ok = False
        elif not abs(a - v) <= TOL * max(abs(a), 1e-300):
            print(f"MISMATCH C vs A {vcov} {stat} {term}: {v!r} vs {a!r}")
            ok = False

    print(f"statsmodels {statsmodels.__version__}, numpy {np.__version__}: worst relative difference to R")
    for (model, stat), err in sorted(worst.items()):
        print(f"  {model} {stat:8s} {err:.2e}")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

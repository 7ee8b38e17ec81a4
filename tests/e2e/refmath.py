"""Independent reference arithmetic for the end-to-end tests, in the Python
standard library only: least squares solved exactly in rational arithmetic
(fractions.Fraction) on the very doubles the server sees, so the reference
carries no rounding error of its own until the final conversion to float;
and a cyclic Jacobi eigen-solver for small symmetric matrices (PCA).

None of this shares code or method with the server (which uses Householder
QR with column pivoting and GSL's symmetric eigen-solver)."""

import math
from fractions import Fraction


def frac_matrix(rows):
    return [[Fraction(v) for v in r] for r in rows]


def transpose(a):
    return [list(c) for c in zip(*a)]


def matmul(a, b):
    bt = transpose(b)
    return [[sum(x * y for x, y in zip(r, c)) for c in bt] for r in a]


def inverse(a):
    """Exact inverse of a square Fraction matrix by Gauss-Jordan elimination;
    raises ZeroDivisionError when singular."""
    n = len(a)
    m = [list(r) + [Fraction(int(i == j)) for j in range(n)]
         for i, r in enumerate(a)]
    for col in range(n):
        piv = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[piv] = m[piv], m[col]
        p = m[col][col]
        m[col] = [v / p for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    return [r[n:] for r in m]


class OlsReference:
    """OLS of y on X (lists of floats; X includes the intercept column when
    wanted), exactly. Attributes: beta, resid (Fractions), xtx_inv, ssr, n, k,
    and float helpers."""

    def __init__(self, X, y, intercept=True):
        self.n = len(y)
        self.k = len(X[0])
        self.X = frac_matrix(X)
        self.y = [Fraction(v) for v in y]
        xt = transpose(self.X)
        self.xtx_inv = inverse(matmul(xt, self.X))
        xty = [sum(a * b for a, b in zip(c, self.y)) for c in xt]
        self.beta = [sum(a * b for a, b in zip(r, xty)) for r in self.xtx_inv]
        self.fitted = [sum(a * b for a, b in zip(r, self.beta))
                       for r in self.X]
        self.resid = [a - b for a, b in zip(self.y, self.fitted)]
        self.ssr = sum(e * e for e in self.resid)
        if intercept:
            ybar = sum(self.y) / self.n
            self.sst = sum((v - ybar) ** 2 for v in self.y)
        else:
            self.sst = sum(v * v for v in self.y)

    @property
    def df(self):
        return self.n - self.k

    @property
    def s2(self):
        return self.ssr / self.df

    def coef(self):
        return [float(b) for b in self.beta]

    def se_classical(self):
        return [math.sqrt(float(self.s2 * self.xtx_inv[i][i]))
                for i in range(self.k)]

    def _sandwich(self, meat):
        v = matmul(matmul(self.xtx_inv, meat), self.xtx_inv)
        return v

    def se_hc(self, kind):
        """HC0 or HC1 standard errors."""
        meat = [[Fraction(0)] * self.k for _ in range(self.k)]
        for row, e in zip(self.X, self.resid):
            e2 = e * e
            for i in range(self.k):
                for j in range(self.k):
                    meat[i][j] += row[i] * row[j] * e2
        v = self._sandwich(meat)
        scale = Fraction(1)
        if kind == "hc1":
            scale = Fraction(self.n, self.n - self.k)
        return [math.sqrt(float(v[i][i] * scale)) for i in range(self.k)]

    def se_cluster(self, groups):
        """CR1 (Stata): sandwich over cluster sums times
        G/(G-1) * (n-1)/(n-k)."""
        sums = {}
        for row, e, g in zip(self.X, self.resid, groups):
            s = sums.setdefault(g, [Fraction(0)] * self.k)
            for i in range(self.k):
                s[i] += row[i] * e
        meat = [[sum(s[i] * s[j] for s in sums.values())
                 for j in range(self.k)] for i in range(self.k)]
        v = self._sandwich(meat)
        G = len(sums)
        scale = Fraction(G, G - 1) * Fraction(self.n - 1, self.n - self.k)
        return [math.sqrt(float(v[i][i] * scale)) for i in range(self.k)], G

    def r2(self):
        return float(1 - self.ssr / self.sst)

    def rmse(self):
        return math.sqrt(float(self.s2))

    def xb(self, row):
        """Linear prediction (float) for a row of floats."""
        return float(sum(Fraction(v) * b for v, b in zip(row, self.beta)))


def jacobi_eigen(a, tol=1e-15, max_sweeps=100):
    """Eigenvalues and eigenvectors (columns) of a small symmetric matrix by
    the cyclic Jacobi method, in floats. Returns (values, vectors) sorted by
    value, largest first; vectors[i][j] is component i of eigenvector j."""
    n = len(a)
    a = [list(map(float, r)) for r in a]
    v = [[float(i == j) for j in range(n)] for i in range(n)]
    for _ in range(max_sweeps):
        off = sum(a[i][j] ** 2 for i in range(n) for j in range(n) if i != j)
        if off < tol ** 2:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                if abs(a[p][q]) < 1e-300:
                    continue
                theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                t = math.copysign(1.0, theta) / (abs(theta) +
                                                 math.sqrt(theta * theta + 1))
                c = 1 / math.sqrt(t * t + 1)
                s = t * c
                for k in range(n):
                    akp, akq = a[k][p], a[k][q]
                    a[k][p] = c * akp - s * akq
                    a[k][q] = s * akp + c * akq
                for k in range(n):
                    apk, aqk = a[p][k], a[q][k]
                    a[p][k] = c * apk - s * aqk
                    a[q][k] = s * apk + c * aqk
                for k in range(n):
                    vkp, vkq = v[k][p], v[k][q]
                    v[k][p] = c * vkp - s * vkq
                    v[k][q] = s * vkp + c * vkq
    vals = [a[i][i] for i in range(n)]
    order = sorted(range(n), key=lambda i: -vals[i])
    return ([vals[i] for i in order],
            [[v[r][i] for i in order] for r in range(n)])


def chi2_sf_even_df(x, df):
    """Upper tail of chi-square with an even df: exp(-x/2) sum_{i<df/2}
    (x/2)^i / i!."""
    assert df % 2 == 0
    h = x / 2
    term, total = 1.0, 1.0
    for i in range(1, df // 2):
        term *= h / i
        total += term
    return math.exp(-h) * total


def mean(xs):
    return sum(xs) / len(xs)


def sample_sd(xs):
    m = mean(xs)
    return math.sqrt(sum((v - m) ** 2 for v in xs) / (len(xs) - 1))


def correlation(cols):
    """Correlation matrix (floats) of equally long columns, exactly computed
    in rationals from the doubles and rounded once."""
    fc = [[Fraction(v) for v in c] for c in cols]
    n = len(fc[0])
    cent = []
    for c in fc:
        m = sum(c) / n
        cent.append([v - m for v in c])
    ss = [sum(v * v for v in c) for c in cent]
    p = len(cols)
    r = [[0.0] * p for _ in range(p)]
    for i in range(p):
        for j in range(p):
            cov = sum(a * b for a, b in zip(cent[i], cent[j]))
            r[i][j] = float(cov) / math.sqrt(float(ss[i] * ss[j]))
        r[i][i] = 1.0
    return r


def float_inverse(a):
    return [[float(v) for v in r] for r in inverse(frac_matrix(a))]


def log_det_spd(a):
    """ln det of a symmetric positive-definite matrix (exact, then log)."""
    m = frac_matrix(a)
    n = len(m)
    det = Fraction(1)
    for col in range(n):
        piv = m[col][col]
        det *= piv
        for r in range(col + 1, n):
            f = m[r][col] / piv
            m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    return math.log(float(det))

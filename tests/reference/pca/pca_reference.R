# Reference values for core_pca (tests/core/test_pca.c) from R's prcomp on the
# committed e-commerce enabler data (enablers.csv), with KMO and Bartlett's
# sphericity test computed from the METHODS.md section 6 formulas and
# cross-checked against psych::KMO and psych::cortest.bartlett.
# Run from this folder:  Rscript pca_reference.R
# For each input X.csv (enablers.csv, enablers_macro.csv) it writes
# X.reference.csv (quantity,i,j,value; 0-based i, j; 17 significant digits)
# and appends the psych cross-check to psych_check.txt.
options(digits = 17)
reference <- function(file) {
  d <- read.csv(file, check.names = FALSE)
  x <- as.matrix(d[, -(1:2)])
  n <- nrow(x); p <- ncol(x)

  pc <- prcomp(x, center = TRUE, scale. = TRUE)
  ev <- pc$sdev^2
  V <- unname(pc$rotation)
  S <- unname(pc$x)
  # Our sign convention: each component's loadings (hence eigenvector entries)
  # sum to a positive number; an (essentially) zero sum makes the entry of
  # largest absolute value positive.
  for (j in 1:p) {
    s <- sum(V[, j])
    if (abs(s) <= 1e-8 * sum(abs(V[, j]))) s <- V[which.max(abs(V[, j])), j]
    if (s < 0) { V[, j] <- -V[, j]; S[, j] <- -S[, j] }
  }
  L <- V %*% diag(sqrt(ev))
  prop <- ev / sum(ev)
  R <- cor(x)

  # Composite indices.
  first <- S[, 1]
  kept <- which(ev > 1)
  if (length(kept) == 0) kept <- 1
  w <- ev[kept] / sum(ev[kept])
  kaiser <- as.vector(S[, kept, drop = FALSE] %*% w)
  unit <- function(v) (v - min(v)) / (max(v) - min(v))

  # KMO and Bartlett by the formulas.
  P <- solve(R)
  A <- -P / sqrt(outer(diag(P), diag(P)))
  off <- row(R) != col(R)
  r2 <- R^2 * off; a2 <- A^2 * off
  kmo <- sum(r2) / (sum(r2) + sum(a2))
  kmo_i <- colSums(r2) / (colSums(r2) + colSums(a2))
  chi <- -(n - 1 - (2 * p + 5) / 6) * log(det(R))
  df <- p * (p - 1) / 2
  pv <- pchisq(chi, df, lower.tail = FALSE)

  out <- data.frame(quantity = character(), i = integer(), j = integer(), value = character())
  put <- function(q, v, i = NA, j = NA) {
    out[nrow(out) + 1, ] <<- list(q, i, j, sprintf("%.17g", v))
  }
  put("n", n); put("p", p)
  for (k in 1:p) {
    put("mean", mean(x[, k]), k - 1); put("sd", sd(x[, k]), k - 1)
    put("eigenvalue", ev[k], k - 1); put("proportion", prop[k], k - 1)
    put("cumulative", cumsum(prop)[k], k - 1); put("kmo_variable", kmo_i[k], k - 1)
    for (m in 1:p) {
      put("corr", R[k, m], k - 1, m - 1)
      put("eigenvector", V[k, m], k - 1, m - 1)
      put("loading", L[k, m], k - 1, m - 1)
    }
  }
  for (r in 1:n) {
    for (m in 1:p) put("score", S[r, m], r - 1, m - 1)
    put("index_first", first[r], r - 1)
    put("index_kaiser", kaiser[r], r - 1)
    put("index_first_unit", unit(first)[r], r - 1)
    put("index_kaiser_percent", 100 * unit(kaiser)[r], r - 1)
  }
  put("n_kept", length(kept))
  put("kmo_overall", kmo)
  put("bartlett_statistic", chi); put("bartlett_df", df); put("bartlett_p_value", pv)
  write.csv(out, sub("\\.csv$", ".reference.csv", file), row.names = FALSE, quote = FALSE, na = "")

  # Cross-check with psych (an independent implementation).
  sink("psych_check.txt", append = TRUE)
  cat("==", file, "n =", n, "p =", p, "\n")
  if (requireNamespace("psych", quietly = TRUE)) {
    k <- psych::KMO(R)
    b <- psych::cortest.bartlett(R, n = n)
    cat(sprintf("KMO overall: formula %.17g psych %.17g rel.diff %.3g\n", kmo, k$MSA, abs(kmo - k$MSA) / kmo))
    cat(sprintf("KMO per variable max rel.diff %.3g\n", max(abs(kmo_i - k$MSAi) / kmo_i)))
    cat(sprintf("Bartlett chi2: formula %.17g psych %.17g rel.diff %.3g\n", chi, b$chisq, abs(chi - b$chisq) / chi))
    cat(sprintf("Bartlett df: formula %g psych %g\n", df, b$df))
    cat(sprintf("Bartlett p: formula %.17g psych %.17g rel.diff %.3g\n", pv, b$p.value, abs(pv - b$p.value) / pv))
  }
  sink()
}

unlink("psych_check.txt")
sink("psych_check.txt")
cat(R.version.string, "\n", "psych", as.character(packageVersion("psych")), "\n")
sink()
reference("enablers.csv")
reference("enablers_macro.csv")

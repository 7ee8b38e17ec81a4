# Reference values for core_ols from R (lm + sandwich), written to values.csv
# with 17 significant digits: model,vcov,stat,term,value (see README.md).
# Inference follows Gravitas' convention, not coeftest's: t, p-values, CIs and
# the F test use df = n - k for classical/HC and df = G - 1 for the cluster
# (CR1) variance, as Stata does.
suppressPackageStartupMessages(library(sandwich))
d <- read.csv("data.csv", colClasses = "numeric")
level <- 0.95
models <- list(
  A = y ~ x1 + x2 + x3 + x4,          # with intercept
  B = y ~ 0 + x1 + x2 + x3 + x4,      # without intercept (uncentred R^2)
  C = y ~ x1 + x2 + x5 + x3 + x4      # x5 = x1 + x2: R drops x5
)
kinds <- c("classical", "HC0", "HC1", "HC2", "HC3", "CR1")
rows <- list()
put <- function(model, vcov, stat, term, value) {
  rows[[length(rows) + 1L]] <<- data.frame(model = model, vcov = vcov,
    stat = stat, term = term, value = sprintf("%.17g", value))
}
for (m in names(models)) {
  fit <- lm(models[[m]], data = d)
  s <- summary(fit)
  b_all <- coef(fit)
  kept <- !is.na(b_all)
  b <- b_all[kept]
  n <- nobs(fit); k <- fit$rank; G <- length(unique(d$g))
  has_int <- attr(terms(fit), "intercept") == 1
  for (kind in kinds) {
    V <- switch(kind,
      classical = vcov(fit),
      CR1 = vcovCL(fit, cluster = ~g, type = "HC1", cadjust = TRUE),
      vcovHC(fit, type = kind))
    V <- V[names(b), names(b)]
    df <- if (kind == "CR1") G - 1 else n - k
    se <- sqrt(diag(V))
    tt <- b / se
    p <- 2 * pt(abs(tt), df, lower.tail = FALSE)
    q <- qt((1 + level) / 2, df)
    for (j in names(b_all)) {
      if (!kept[j]) { put(m, kind, "dropped", j, 1); next }
      put(m, kind, "coef", j, b[j]); put(m, kind, "se", j, se[j])
      put(m, kind, "t", j, tt[j]); put(m, kind, "p", j, p[j])
      put(m, kind, "ci_low", j, b[j] - q * se[j])
      put(m, kind, "ci_high", j, b[j] + q * se[j])
    }
    slopes <- setdiff(names(b), "(Intercept)")
    qn <- length(slopes)
    if (kind == "classical") {
      f <- unname(s$fstatistic["value"])
    } else {
      bs <- b[slopes]
      f <- drop(t(bs) %*% solve(V[slopes, slopes], bs)) / qn
    }
    put(m, kind, "f", "", f); put(m, kind, "f_df1", "", qn)
    put(m, kind, "f_df2", "", df)
    put(m, kind, "f_p", "", pf(f, qn, df, lower.tail = FALSE))
    put(m, kind, "df_inf", "", df)
    for (j in names(b)) for (l in names(b))
      put(m, kind, "V", paste0(j, ":", l), V[j, l])
  }
  put(m, "any", "k", "", k); put(m, "any", "n", "", n)
  put(m, "any", "r2", "", s$r.squared)
  put(m, "any", "adj_r2", "", s$adj.r.squared)
  put(m, "any", "ssr", "", sum(residuals(fit)^2))
  put(m, "any", "rmse", "", s$sigma)
  put(m, "any", "loglik", "", as.numeric(logLik(fit)))
  put(m, "any", "aic", "", AIC(fit)); put(m, "any", "bic", "", BIC(fit))
  put(m, "any", "n_clusters", "", G)
  if (m == "A") {
    h <- hatvalues(fit); r <- residuals(fit); fv <- fitted(fit)
    for (i in seq_len(n)) {
      put(m, "any", "leverage", as.character(i - 1L), h[i])
      put(m, "any", "resid", as.character(i - 1L), r[i])
      put(m, "any", "fitted", as.character(i - 1L), fv[i])
    }
  }
}
out <- do.call(rbind, rows)
write.table(out, "values.csv", sep = ",", quote = FALSE, row.names = FALSE)
cat("wrote values.csv:", nrow(out), "values;", R.version.string,
    "; sandwich", format(packageVersion("sandwich")), "\n")

# Reference values of the PPML tests (tests/core/test_ppml.c) from R's glm
# (quasipoisson, log link) with sandwich variances. Run from this directory
# after gen_data.R: Rscript reference.R. Writes values.csv (model, stat,
# term, value with 17 significant digits) and mu_<model>.csv (the fitted
# values of every input row, NA for rows the model does not use).
#
# Fixed effects enter glm as factor dummies placed BEFORE the regressors, so
# that R's pivoting drops a regressor absorbed by them (not a dummy).
# Convergence: glm(epsilon = 1e-10) then refits from those estimates with
# one IRLS step at a time (maxit = 1; epsilon stays 1e-10 because glm's rank
# tolerance is min(1e-7, epsilon / 1000)) until the IRLS weights (the previous iteration's mu) equal
# the final mu to ~1e-13 (at least 1e-12), so that sandwich's bread (previous mu) and scores
# (final mu) belong to the same point; the gap is printed.
suppressPackageStartupMessages({
  library(sandwich)
  library(lmtest)
})
fmt <- function(x) trimws(formatC(x, digits = 17, format = "g"))

values <- data.frame(model = character(), stat = character(),
                     term = character(), value = character())
put <- function(model, stat, term, value) {
  values <<- rbind(values, data.frame(model = model, stat = stat, term = term,
                                      value = fmt(value)))
}

fit_glm <- function(f, d) {
  m0 <- glm(f, family = quasipoisson(link = "log"), data = d,
            control = glm.control(epsilon = 1e-10, maxit = 100))
  m <- m0
  for (round in 1:6) {
    m <- suppressWarnings(glm(f, family = quasipoisson(link = "log"),
                              data = d, start = ifelse(is.na(coef(m)), 0, coef(m)),
                              control = glm.control(epsilon = 1e-10,
                                                    maxit = 1)))
    gap <- max(abs(weights(m, "working") / fitted(m) - 1))
    if (gap < 1e-13) break
  }
  cat(one_line(deparse(f, width.cutoff = 500L)), ": n =", nobs(m),
      ", refinement steps", round, ", weight/mu gap", format(gap, digits = 3), "\n")
  stopifnot(gap < 1e-12)
  m
}
one_line <- function(s) paste(s, collapse = " ")

# Poisson pseudo log-likelihood sum(y log mu - mu - lgamma(y + 1)).
pll <- function(y, mu) sum(ifelse(y > 0, y * log(mu), 0) - mu - lgamma(y + 1))

report <- function(model, m, terms, d, used, cl = list()) {
  b <- coef(m)
  y <- m$y
  mu <- fitted(m)
  for (t in terms) put(model, "coef", t, b[[t]])
  Vh <- vcovHC(m, type = "HC0")
  Vc <- summary(m, dispersion = 1)$cov.unscaled
  ct <- coeftest(m, vcov. = Vh)
  ci <- coefci(m, vcov. = Vh, level = 0.95)
  for (t in terms) {
    if (is.na(b[[t]])) next
    put(model, "se_hc0", t, sqrt(Vh[t, t]))
    put(model, "se_classical", t, sqrt(Vc[t, t]))
    put(model, "z_hc0", t, ct[t, 3])
    put(model, "p_hc0", t, ct[t, 4])
    put(model, "ci_low_hc0", t, ci[t, 1])
    put(model, "ci_high_hc0", t, ci[t, 2])
  }
  kept <- terms[!is.na(b[terms])]
  for (a in kept) for (c in kept) {
    put(model, "vhc0", paste(a, c, sep = ":"), Vh[a, c])
  }
  for (nm in names(cl)) {
    V <- vcovCL(m, cluster = cl[[nm]][used, , drop = FALSE], type = "HC0", cadjust = TRUE)
    for (t in kept) put(model, paste0("se_cl_", nm), t, sqrt(V[t, t]))
  }
  put(model, "stat", "n", nobs(m))
  put(model, "stat", "deviance", deviance(m))
  put(model, "stat", "null_deviance", m$null.deviance)
  put(model, "stat", "loglik", pll(y, mu))
  put(model, "stat", "pseudo_r2", cor(y, mu)^2)
  full <- rep(NA_real_, nrow(d))
  full[used] <- mu
  writeLines(ifelse(is.na(full), "NA", fmt(full)),
             paste0("mu_", model, ".csv"))
}

# Iterative removal of rows in fixed-effect levels whose outcome is all zero
# and of singletons (ppmlhdfe's separation(fe) with singleton dropping).
drop_fe <- function(d, factors) {
  keep <- rep(TRUE, nrow(d))
  n_zero <- 0
  n_single <- 0
  repeat {
    changed <- FALSE
    for (f in factors) {
      lv <- d[[f]]
      tot <- tapply(d$trade[keep], lv[keep], sum)
      cnt <- tapply(d$trade[keep], lv[keep], length)
      z <- keep & lv %in% names(tot)[tot == 0]
      if (any(z)) {
        n_zero <- n_zero + sum(z); keep[z] <- FALSE; changed <- TRUE
      }
      s1 <- keep & lv %in% names(cnt)[cnt == 1]
      if (any(s1)) {
        n_single <- n_single + sum(s1); keep[s1] <- FALSE; changed <- TRUE
      }
    }
    if (!changed) break
  }
  cat("  fixed effects", paste(factors, collapse = " + "), ": fe_zero", n_zero,
      "singleton", n_single, "\n")
  list(keep = keep, fe_zero = n_zero, singleton = n_single)
}

g <- read.csv("gravity.csv")
g$pair <- paste(g$exp, g$imp)
terms5 <- c("ldist", "contig", "lgdp_o", "lgdp_d", "rta")

# A: no fixed effects.
mA <- fit_glm(trade ~ ldist + contig + lgdp_o + lgdp_d + rta, g)
report("nofe", mA, c("(Intercept)", terms5), g, seq_len(nrow(g)),
       list(pair = g["pair"], exp_imp = g[c("exp", "imp")]))

# B: exporter and importer fixed effects as dummies.
drB <- drop_fe(g, c("exp", "imp"))
stopifnot(all(drB$keep))
mB <- fit_glm(trade ~ factor(exp) + factor(imp) + ldist + contig + lgdp_o +
                lgdp_d + rta, g)
report("fe2", mB, terms5, g, seq_len(nrow(g)),
       list(pair = g["pair"], exp_imp = g[c("exp", "imp")]))

# C: exporter-year and importer-year fixed effects on the small panel;
# lgdp_o is absorbed by exporter-year (R reports NA).
s <- read.csv("gravity_small.csv")
s$pair <- paste(s$exp, s$imp)
s$ey <- paste(s$exp, s$year)
s$iy <- paste(s$imp, s$year)
drC <- drop_fe(s, c("ey", "iy"))
mC <- fit_glm(trade ~ factor(ey) + factor(iy) + ldist + contig + rta + lgdp_o,
              s[drC$keep, ])
report("feyear", mC, c("ldist", "contig", "rta", "lgdp_o"), s,
       which(drC$keep), list(pair = s["pair"]))
put("feyear", "drop", "fe_zero", drC$fe_zero)
put("feyear", "drop", "singleton", drC$singleton)

# D: separation. Without fixed effects the rows with d = 1 are separated
# (d >= 0 on zeros, d = 0 on positives); R fits the rest and reports d as
# NA. With exporter and importer effects, exporter C05 has only zeros (its
# rows go first), then the d = 1 rows that remain are separated.
p <- read.csv("separation.csv")
keepD1 <- p$d == 0
mD1 <- fit_glm(trade ~ ldist + contig + lgdp_o + lgdp_d + d, p[keepD1, ])
report("sep_nofe", mD1, c("(Intercept)", "ldist", "contig", "lgdp_o",
                          "lgdp_d", "d"), p, which(keepD1))
put("sep_nofe", "drop", "separated", sum(!keepD1))
put("sep_nofe", "drop", "fe_zero", 0)

drD2 <- drop_fe(p, c("exp", "imp"))
keep <- drD2$keep
n_zero <- drD2$fe_zero
n_single <- drD2$singleton
sepD2 <- keep & p$d == 1
keepD2 <- keep & !sepD2
mD2 <- fit_glm(trade ~ factor(exp) + factor(imp) + ldist + contig + lgdp_o +
                 lgdp_d + d, p[keepD2, ])
report("sep_fe2", mD2, c("ldist", "contig", "lgdp_o", "lgdp_d", "d"), p,
       which(keepD2))
put("sep_fe2", "drop", "fe_zero", n_zero)
put("sep_fe2", "drop", "singleton", n_single)
put("sep_fe2", "drop", "separated", sum(sepD2))
cat("separation with FE: fe_zero", n_zero, "singleton", n_single,
    "separated", sum(sepD2), "\n")

write.csv(values, "values.csv", row.names = FALSE, quote = FALSE)
cat("values.csv:", nrow(values), "values\n")

# Fit statistics that the API derives for fe and re answers (the "fit"
# object of POST /v1/models), from R on data.csv (tests/e2e/test_panel.py):
# lm with pair dummies (singletons dropped as fixest does): logLik, AIC,
# BIC (R counts the absorbed levels, the slopes and sigma as parameters),
# adjusted R^2; plm random (swar): R^2 = 1 - SSR/SST of the quasi-demeaned
# regression (METHODS.md section 2; plm's r.squared type "rss" -- note that
# summary.plm prints type "cor", the squared correlation, instead) and its
# adjusted form.
# Run from this directory: Rscript fit_stats.R   (r-base-core, r-cran-plm)
suppressPackageStartupMessages(library(plm))
g <- read.csv("data.csv")
g <- g[complete.cases(g[, c("ltrade", "lgdp_o", "lgdp_d", "rta", "ldist")]), ]
drop_singletons <- function(d, f) {
  repeat {
    tab <- table(d[[f]]); s <- d[[f]] %in% names(tab)[tab == 1]
    if (!any(s)) break
    d <- d[!s, ]
  }
  d
}
d1 <- drop_singletons(g, "pair")
l1 <- lm(ltrade ~ lgdp_o + lgdp_d + rta + factor(pair), d1)
re <- plm(ltrade ~ lgdp_o + lgdp_d + rta + ldist, data = g,
          index = c("pair", "year"), model = "random", random.method = "swar")
v <- c(M1_loglik = as.numeric(logLik(l1)), M1_aic = AIC(l1), M1_bic = BIC(l1),
       M1_adj_r2 = summary(l1)$adj.r.squared,
       RE_r2 = r.squared(re, type = "rss"),
       RE_adj_r2 = r.squared(re, type = "rss", dfcor = TRUE))
write.csv(data.frame(stat = names(v), value = sprintf("%.17g", v)),
          "fit_stats.csv", row.names = FALSE)

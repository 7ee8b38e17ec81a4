# Reference values for heterogeneity (tests/e2e/test_heterogeneity.py):
# group effects through interactions with a 0/1 variable, and per-group fits
# with the Wald test of equal coefficients. Data: tests/reference/panel/data.csv.
# Run from this directory: Rscript reference.R   (needs r-base-core)
d <- read.csv("../panel/data.csv")
d <- d[complete.cases(d[, c("ltrade", "lgdp_o", "lgdp_d", "rta", "band")]), ]
out <- list()
put <- function(stat, term, value)
  out[[length(out) + 1]] <<- data.frame(stat = stat, term = term,
                                        value = sprintf("%.17g", value))
# Effect of lgdp_o where rta = 1: the lgdp_o coefficient once the dummy is
# reversed (norta = 1 - rta), so R's own standard error is the reference.
d$norta <- 1 - d$rta
m <- lm(ltrade ~ lgdp_o + lgdp_d + norta + lgdp_o:norta, d)
s <- summary(m)$coefficients
put("group_effect", "lgdp_o", s["lgdp_o", "Estimate"])
put("group_effect_se", "lgdp_o", s["lgdp_o", "Std. Error"])
# Per band fits and the Wald test of equal coefficients.
bands <- sort(unique(d$band))
fits <- lapply(bands, function(b) lm(ltrade ~ lgdp_o + lgdp_d, d[d$band == b, ]))
for (i in seq_along(bands)) {
  put(paste0("band_coef_", bands[i]), "lgdp_o", coef(fits[[i]])[["lgdp_o"]])
  put(paste0("band_n_", bands[i]), "-", nobs(fits[[i]]))
}
b1 <- coef(fits[[1]]); V1 <- vcov(fits[[1]])
k <- length(b1); G <- length(fits)
dvec <- unlist(lapply(2:G, function(g) coef(fits[[g]]) - b1))
C <- matrix(0, (G - 1) * k, (G - 1) * k)
for (g in 1:(G - 1)) for (h in 1:(G - 1)) {
  blk <- V1; if (g == h) blk <- blk + vcov(fits[[g + 1]])
  C[((g - 1) * k + 1):(g * k), ((h - 1) * k + 1):(h * k)] <- blk
}
W <- as.numeric(t(dvec) %*% solve(C, dvec))
put("wald", "-", W); put("wald_df", "-", (G - 1) * k)
put("wald_p", "-", pchisq(W, (G - 1) * k, lower.tail = FALSE))
write.csv(do.call(rbind, out), "values.csv", row.names = FALSE)

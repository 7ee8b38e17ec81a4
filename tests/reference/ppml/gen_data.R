# Generates the synthetic gravity datasets of the PPML tests (fixed seed).
# Run from this directory: Rscript gen_data.R
# Writes gravity.csv (30 x 29 pairs x 6 years), gravity_small.csv
# (12 x 11 pairs x 4 years) and separation.csv (a regressor that predicts
# zeros perfectly and an exporter whose trade is all zero).
RNGkind("Mersenne-Twister", "Inversion", "Rejection")

fmt <- function(x) trimws(formatC(x, digits = 17, format = "g"))

write_panel <- function(d, path) {
  out <- d
  for (v in names(out)) if (is.double(out[[v]])) out[[v]] <- fmt(out[[v]])
  write.csv(out, path, row.names = FALSE, quote = FALSE)
}

make_gravity <- function(n_c, years, seed, zero_shift) {
  set.seed(seed)
  x <- runif(n_c, 0, 10); yy <- runif(n_c, 0, 6)
  base <- rnorm(n_c, 10, 1.5); growth <- rnorm(n_c, 0.03, 0.02)
  fe_o <- rnorm(n_c, 0, 0.5); fe_d <- rnorm(n_c, 0, 0.5)
  pairs <- expand.grid(imp = seq_len(n_c), exp = seq_len(n_c))
  pairs <- pairs[pairs$exp != pairs$imp, c("exp", "imp")]
  np <- nrow(pairs)
  dist <- 1000 * sqrt((x[pairs$exp] - x[pairs$imp])^2 +
                      (yy[pairs$exp] - yy[pairs$imp])^2) + 150
  contig <- as.numeric(dist < quantile(dist, 0.1))
  rta_start <- ifelse(runif(np) < 0.3, sample(years, np, replace = TRUE), Inf)
  rows <- list()
  for (t in seq_along(years)) {
    lgdp <- base + growth * t + rnorm(n_c, 0, 0.05)
    rows[[t]] <- data.frame(
      exp = pairs$exp, imp = pairs$imp, year = years[t],
      ldist = log(dist), contig = contig,
      lgdp_o = lgdp[pairs$exp], lgdp_d = lgdp[pairs$imp],
      rta = as.numeric(years[t] >= rta_start),
      fo = fe_o[pairs$exp], fd = fe_d[pairs$imp])
  }
  d <- do.call(rbind, rows)
  eta <- 0.8 * d$lgdp_o + 0.9 * d$lgdp_d - 1.1 * d$ldist + 0.6 * d$contig +
    0.3 * d$rta + d$fo + d$fd
  eta <- eta - median(eta) + log(50)
  p0 <- plogis(zero_shift - 1.3 * (eta - log(50)))
  pos <- runif(nrow(d)) >= p0
  trade <- ifelse(pos, exp(eta) * rgamma(nrow(d), shape = 0.8, rate = 0.8) /
                         pmax(1 - p0, 0.05), 0)
  d$trade <- round(trade, 4)
  d$exp <- code_of(d$exp); d$imp <- code_of(d$imp)
  d[, c("exp", "imp", "year", "trade", "ldist", "contig", "lgdp_o", "lgdp_d",
        "rta")]
}

# Country codes C01, C02, ...
code_of <- function(i) paste0("C", formatC(i, width = 2, flag = "0"))

g <- make_gravity(30, 2015:2020, 20240611, -0.9)
write_panel(g, "gravity.csv")
cat("gravity.csv:", nrow(g), "rows,", round(100 * mean(g$trade == 0), 1),
    "% zeros\n")

s <- make_gravity(12, 2017:2020, 7, -0.9)
write_panel(s, "gravity_small.csv")
cat("gravity_small.csv:", nrow(s), "rows,", round(100 * mean(s$trade == 0), 1),
    "% zeros\n")

# Separation: 15 x 14 pairs x 2 years from a third draw. A dummy `d` is one
# on 20 rows with positive trade set to zero there (it separates them), and
# exporter C05 trades nothing (its fixed effect would be -Inf).
set.seed(99)
p <- make_gravity(15, 2019:2020, 99, -0.9)
pick <- sample(nrow(p), 20)
p$d <- 0; p$d[pick] <- 1; p$trade[pick] <- 0
p$trade[p$exp == "C05"] <- 0
p <- p[, c("exp", "imp", "year", "trade", "ldist", "contig", "lgdp_o",
           "lgdp_d", "d")]
write_panel(p, "separation.csv")
cat("separation.csv:", nrow(p), "rows,", sum(p$d), "rows with d = 1,",
    sum(p$exp == "C05"), "rows of C05,", round(100 * mean(p$trade == 0), 1),
    "% zeros\n")

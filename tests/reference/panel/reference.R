# Reference values for core_hdfe / core_fe / core_re (tests/core/test_fe.c,
# test_re.c, test_hdfe.c). Generates data.csv (a gravity-like panel, fixed
# seed) and values.csv (model,vcov,stat,term,value) with R's lm + factor
# dummies, sandwich and plm. Run from this directory: Rscript reference.R
# Needs r-base-core, r-cran-plm, r-cran-sandwich (Debian packages).
suppressPackageStartupMessages({ library(plm); library(sandwich) })
set.seed(20240611)
nr <- 30; np <- 30; years <- 2010:2017
cty <- sprintf("C%02d", 1:30)
g <- expand.grid(year = years, partner = cty, reporter = cty,
                 stringsAsFactors = FALSE)[, c("reporter", "partner", "year")]
g <- g[g$reporter != g$partner, ]
# Country-year GDPs, pair distance and a pair-level band, a time-varying RTA.
lgdp <- outer(rnorm(30, 26, 1.2), rep(1, 8)) +
  t(apply(matrix(rnorm(30 * 8, 0.02, 0.03), 30), 1, cumsum))
ri <- match(g$reporter, cty); pi <- match(g$partner, cty); ti <- g$year - 2009
g$lgdp_o <- lgdp[cbind(ri, ti)] + rnorm(nrow(g), 0, 0.01)
g$lgdp_d <- lgdp[cbind(pi, ti)] + rnorm(nrow(g), 0, 0.01)
xy <- matrix(runif(60, 0, 8000), 30)
g$ldist <- log(sqrt((xy[ri, 1] - xy[pi, 1])^2 + (xy[ri, 2] - xy[pi, 2])^2) + 50)
g$band <- as.integer(cut(g$ldist, quantile(g$ldist, 0:5 / 5), include.lowest = TRUE))
pair_u <- rnorm(30 * 30, 0, 0.8)
pid <- (ri - 1) * 30 + pi
g$rta <- as.numeric(runif(nrow(g)) < plogis(-1 + 0.3 * (ti - 4) - 0.2 * (g$ldist - 8)))
g$ltrade <- -20 + 0.9 * g$lgdp_o + 0.8 * g$lgdp_d - 1.1 * g$ldist + 0.35 * g$rta +
  pair_u[pid] + 0.05 * ti + rnorm(nrow(g), 0, 0.6 + 0.2 * g$rta)
# Missing cells (about 12%), and a few pairs seen once (singletons).
keep <- runif(nrow(g)) > 0.12
once <- sample(unique(pid), 6)
for (q in once) { w <- which(pid == q); keep[w] <- FALSE; keep[w[sample(length(w), 1)]] <- TRUE }
g <- g[keep, ]
g$pair <- (match(g$reporter, cty) - 1) * 30 + match(g$partner, cty)
rownames(g) <- NULL
write.csv(g, "data.csv", row.names = FALSE, quote = FALSE)

out <- list()
put <- function(model, vcov, stat, term, value)
  out[[length(out) + 1]] <<- data.frame(model = model, vcov = vcov, stat = stat,
                                        term = term, value = value)
put_coefs <- function(model, vcov, b, V, terms) {
  for (t in terms) { put(model, vcov, "coef", t, b[[t]]); put(model, vcov, "se", t, sqrt(V[t, t])) }
}
# Iterative singleton dropping over the given factors (fixest's rule).
drop_singletons <- function(d, fes) {
  repeat {
    s <- rep(FALSE, nrow(d))
    for (f in fes) { tab <- table(d[[f]]); s <- s | d[[f]] %in% names(tab)[tab == 1] }
    if (!any(s)) break
    d <- d[!s, ]
  }
  d
}
xs <- c("lgdp_o", "lgdp_d", "rta")

## M1: one-way FE (pair), singletons dropped; lm with dummies and plm within.
d1 <- drop_singletons(g, "pair")
put("M1", "-", "n", "-", nrow(d1)); put("M1", "-", "singletons", "-", nrow(g) - nrow(d1))
l1 <- lm(ltrade ~ lgdp_o + lgdp_d + rta + factor(pair), d1)
K1 <- l1$rank; n1 <- nrow(d1)
put("M1", "-", "df_absorbed", "-", K1 - 3)
put_coefs("M1", "classical", coef(l1), vcov(l1), xs)
put_coefs("M1", "HC1", coef(l1), vcovHC(l1, type = "HC1"), xs)
# Cluster by pair (nested in the cluster): sandwich counts the dummies
# (count_nested); reghdfe/fixest do not: K = slopes + 1 (constant).
Vc <- vcovCL(l1, cluster = ~pair, type = "HC1")
put_coefs("M1", "cluster_count", coef(l1), Vc, xs)
put_coefs("M1", "cluster", coef(l1), Vc * (n1 - K1) / (n1 - 3 - 1), xs)
put("M1", "-", "r2", "-", summary(l1)$r.squared)
p1 <- plm(ltrade ~ lgdp_o + lgdp_d + rta, data = d1, index = c("pair", "year"), model = "within")
put_coefs("M1", "plm", coef(p1), vcov(p1), xs)
put("M1", "-", "r2_within", "-", summary(p1)$r.squared[["rsq"]])
# ldist is time-invariant: collinear with the pair effect (NA in lm).
l1d <- lm(ltrade ~ lgdp_o + lgdp_d + rta + ldist + factor(pair), d1)
put("M1", "-", "ldist_na", "-", as.numeric(is.na(coef(l1d)[["ldist"]])))
# Fixed effects: fitted values in levels from lm (for the recovered FE).
put("M1", "-", "fitted_first", "-", fitted(l1)[[1]])
put("M1", "-", "fitted_last", "-", fitted(l1)[[length(fitted(l1))]])

## M2: two-way FE (pair + year), two-way clustering by reporter and partner.
d2 <- drop_singletons(g, c("pair", "year"))
put("M2", "-", "n", "-", nrow(d2)); put("M2", "-", "singletons", "-", nrow(g) - nrow(d2))
l2 <- lm(ltrade ~ lgdp_o + lgdp_d + rta + factor(pair) + factor(year), d2)
K2 <- l2$rank; n2 <- nrow(d2)
put("M2", "-", "df_absorbed", "-", K2 - 3)
put_coefs("M2", "classical", coef(l2), vcov(l2), xs)
put_coefs("M2", "HC1", coef(l2), vcovHC(l2, type = "HC1"), xs)
V2 <- vcovCL(l2, cluster = ~ reporter + partner, multi0 = FALSE, type = "HC1")
put_coefs("M2", "cluster2_count", coef(l2), V2, xs)
# pair is nested in reporter: only year absorbs (8 levels).
put_coefs("M2", "cluster2", coef(l2), V2 * (n2 - K2) / (n2 - 3 - length(unique(d2$year))), xs)
Vr <- vcovCL(l2, cluster = ~reporter, type = "HC1")
put_coefs("M2", "cluster_rep", coef(l2), Vr * (n2 - K2) / (n2 - 3 - length(unique(d2$year))), xs)
put("M2", "-", "r2", "-", summary(l2)$r.squared)
p2 <- plm(ltrade ~ lgdp_o + lgdp_d + rta, data = d2, index = c("pair", "year"),
          model = "within", effect = "twoways")
put_coefs("M2", "plm", coef(p2), vcov(p2), xs)
put("M2", "-", "r2_within", "-", summary(p2)$r.squared[["rsq"]])
put("M2", "-", "fitted_first", "-", fitted(l2)[[1]])

## M3: three factors reporter^year + partner + band (pair level).
g$ry <- paste(g$reporter, g$year, sep = "_")
d3 <- drop_singletons(g, c("ry", "partner", "band"))
put("M3", "-", "n", "-", nrow(d3)); put("M3", "-", "singletons", "-", nrow(g) - nrow(d3))
x3 <- c("lgdp_d", "rta")
l3 <- lm(ltrade ~ lgdp_d + rta + factor(ry) + factor(partner) + factor(band), d3)
put("M3", "-", "df_absorbed", "-", l3$rank - 2)
put_coefs("M3", "classical", coef(l3), vcov(l3), x3)
put_coefs("M3", "HC1", coef(l3), vcovHC(l3, type = "HC1"), x3)
put("M3", "-", "r2", "-", summary(l3)$r.squared)

## RE (Swamy-Arora) on the unbalanced panel (individual = pair) and Hausman.
pdat <- pdata.frame(g, index = c("pair", "year"))
re <- plm(ltrade ~ lgdp_o + lgdp_d + rta + ldist, data = pdat, model = "random",
          random.method = "swar")
fe <- plm(ltrade ~ lgdp_o + lgdp_d + rta + ldist, data = pdat, model = "within")
xr <- c("(Intercept)", xs, "ldist")
put_coefs("RE", "classical", coef(re), vcov(re), xr)
ec <- ercomp(re)
put("RE", "-", "sigma2_e", "-", ec$sigma2[["idios"]])
put("RE", "-", "sigma2_u", "-", ec$sigma2[["id"]])
th <- ec$theta
put("RE", "-", "theta_min", "-", min(th)); put("RE", "-", "theta_max", "-", max(th))
put("RE", "-", "theta_first", "-", th[[1]])
put("RE", "-", "n", "-", nrow(g))
ht <- phtest(fe, re)
put("RE", "-", "hausman", "-", ht$statistic[[1]])
put("RE", "-", "hausman_df", "-", ht$parameter[[1]])
put("RE", "-", "hausman_p", "-", ht$p.value[[1]])
put_coefs("RE", "within", coef(fe), vcov(fe), xs)

## RE on a balanced subset (pairs seen in all 8 years).
cnt <- table(g$pair); bal <- g[g$pair %in% names(cnt)[cnt == 8], ]
write.csv(data.frame(row = which(g$pair %in% names(cnt)[cnt == 8]) - 1),
          "balanced_rows.csv", row.names = FALSE)
reb <- plm(ltrade ~ lgdp_o + lgdp_d + rta + ldist, data = bal, index = c("pair", "year"),
           model = "random", random.method = "swar")
put_coefs("REB", "classical", coef(reb), vcov(reb), xr)
ecb <- ercomp(reb)
put("REB", "-", "sigma2_e", "-", ecb$sigma2[["idios"]])
put("REB", "-", "sigma2_u", "-", ecb$sigma2[["id"]])
put("REB", "-", "theta", "-", ecb$theta[[1]])
put("REB", "-", "n", "-", nrow(bal))
feb <- plm(ltrade ~ lgdp_o + lgdp_d + rta + ldist, data = bal, index = c("pair", "year"), model = "within")
htb <- phtest(feb, reb)
put("REB", "-", "hausman", "-", htb$statistic[[1]])

res <- do.call(rbind, out)
res$value <- sprintf("%.17g", res$value)
write.csv(res, "values.csv", row.names = FALSE, quote = FALSE)
cat("wrote", nrow(res), "values;", nrow(g), "rows\n")

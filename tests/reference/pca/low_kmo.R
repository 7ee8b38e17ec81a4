# Reference for the low-KMO test of tests/core/test_pca.c: a constructed
# (not real) 3-variable set where x3 is x1 + x2 plus small noise, so partial
# correlations dominate and the KMO is far below 0.5. Run: Rscript low_kmo.R
options(digits=17)
x1 <- c(3.17, 1.42, 4.88, 2.05, 5.61, 0.93, 3.76, 2.64, 4.12, 1.87, 5.03, 2.91)
x2 <- c(0.58, 2.71, 1.34, 3.92, 0.87, 2.26, 3.41, 1.09, 2.83, 0.45, 1.77, 3.15)
x3 <- x1 + x2 + c(0.11, -0.07, 0.05, -0.12, 0.09, 0.02, -0.04, 0.08, -0.10, 0.06, -0.03, 0.01)
R <- cor(cbind(x1,x2,x3)); print(R)
k <- psych::KMO(R); print(k$MSA, digits=17); print(k$MSAi, digits=17)
b <- psych::cortest.bartlett(R, n=12); print(b, digits=17)
ev <- eigen(R)$values; print(ev, digits=17)

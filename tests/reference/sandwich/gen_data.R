# Generates data.csv, the input of the sandwich/statsmodels reference values
# for core_ols (see README.md). Fixed seed; every value written with 17
# significant digits so that the C test reads back exactly the same doubles.
set.seed(20261123L)
n <- 400L
G <- 24L
# Unequal cluster sizes: every cluster gets one row, the rest are drawn with
# probabilities rising with the cluster number (sizes from ~3 to ~30).
g <- c(seq_len(G), sample.int(G, n - G, replace = TRUE, prob = seq_len(G)^1.3))
g <- sample(g)  # rows in random order
u <- rnorm(G, sd = 0.6)[g]  # cluster effect: errors correlated within clusters
x1 <- rnorm(n, mean = 10.37, sd = 3.13)
x2 <- 250 + 1000 * runif(n)
x3 <- exp(rnorm(n, mean = 0.4, sd = 0.55))
x4 <- 0.35 * x1 + rnorm(n, sd = 1.7) + 0.4 * u
x5 <- x1 + x2  # exactly collinear (in double arithmetic, then written exactly)
# Heteroskedastic errors: the spread grows with x3 and |x1 - 10|.
e <- rnorm(n) * (0.25 + 0.45 * x3 + 0.08 * abs(x1 - 10)) + u
y <- 1.7315 + 0.8123 * x1 - 0.00213 * x2 + 0.4471 * x3 - 0.2917 * x4 + e
d <- data.frame(y, x1, x2, x3, x4, x5, g = g - 1L)  # cluster ids 0..G-1
fmt <- function(v) if (is.integer(v)) as.character(v) else sprintf("%.17g", v)
out <- as.data.frame(lapply(d, fmt), stringsAsFactors = FALSE)
write.table(out, "data.csv", sep = ",", quote = FALSE, row.names = FALSE)
cat("wrote data.csv:", n, "rows,", G, "clusters, sizes",
    paste(range(table(g)), collapse = "-"), "\n")

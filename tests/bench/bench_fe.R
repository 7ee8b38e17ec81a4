# Times plm (two-way within) on the data bench_fe writes, and prints the
# ratio to the core's time. Usage:
#   ./bench_fe /tmp/bench_fe.csv          # prints the core time at 1e5
#   Rscript bench_fe.R /tmp/bench_fe.csv <core seconds at 1e5>
# lm with factor dummies needs a dense n x 10,200 design (8 GB at n = 1e5)
# and is only timed on a 1e4-row subsample.
suppressPackageStartupMessages(library(plm))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
core <- if (length(args) > 1) as.numeric(args[2]) else NA
t_plm <- min(sapply(1:3, function(i) system.time(
  plm(y ~ x1 + x2 + x3 + x4 + x5, data = d, index = c("a", "b"),
      model = "within", effect = "twoways"))[["elapsed"]]))
cat(sprintf("plm two-way within, n = %d: %.3f s\n", nrow(d), t_plm))
if (!is.na(core)) cat(sprintf("ratio plm / core: %.1f\n", t_plm / core))
s <- d[seq_len(10000), ]
t_lm <- system.time(lm(y ~ x1 + x2 + x3 + x4 + x5 + factor(a) + factor(b), s))[["elapsed"]]
cat(sprintf("lm with dummies, n = 10000 subsample: %.3f s\n", t_lm))

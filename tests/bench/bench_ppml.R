# R glm (quasipoisson, dummies) on the reduced-level PPML benchmark data
# written by bench_ppml (n = 1e5, factors of 100 and 50 levels: glm cannot
# hold the 10,000-level factor of the C benchmark as dummies, a 1e5 x 10,200
# dense model matrix). Usage:
#   build/tests/bench/bench_ppml --csv /tmp/bench_ppml_reduced.csv
#   Rscript tests/bench/bench_ppml.R /tmp/bench_ppml_reduced.csv
# Prints R's wall and CPU time, the C times read from <csv>.ctime (wall,
# cpu) and the ratios, and R's coefficients (compare with the C output).
args <- commandArgs(trailingOnly = TRUE)
path <- if (length(args) > 0) args[1] else "/tmp/bench_ppml_reduced.csv"
d <- read.csv(path)
d$a <- factor(d$a)
d$b <- factor(d$b)
t <- system.time(
  m <- glm(y ~ x1 + x2 + x3 + x4 + x5 + a + b, family = quasipoisson(),
           data = d, control = glm.control(epsilon = 1e-8, maxit = 100)))
r_s <- unname(t["elapsed"])
cat("R glm, n =", nrow(d), ", levels", nlevels(d$a), "x", nlevels(d$b),
    ": elapsed", format(r_s, digits = 4), "s, cpu",
    format(unname(t["user.self"] + t["sys.self"]), digits = 4), "s,",
    m$iter, "iterations\n")
b <- coef(m)[c("x1", "x2", "x3", "x4", "x5")]
cat("R b =", formatC(b, digits = 10, format = "f"), "\n")
ct <- paste0(path, ".ctime")
if (file.exists(ct)) {
  c_s <- as.numeric(strsplit(readLines(ct)[1], " ")[[1]])
  r_cpu <- unname(t["user.self"] + t["sys.self"])
  cat("C core_ppml_fit: wall", format(c_s[1], digits = 4), "s, cpu",
      format(c_s[2], digits = 4), "s; R / C: wall",
      format(r_s / c_s[1], digits = 3), ", cpu",
      format(r_cpu / c_s[2], digits = 3), "\n")
}

# Predictions for new rows of models with fixed effects
# (POST /v1/models/{id}/predict, tests/e2e/test_predict_fe.py). R fits on
# the training rows (0-based position in the data file not 3 modulo 10) and
# predicts the held-out rows (position 3 modulo 10) whose regressors are
# complete and whose levels the fit has seen:
#   fe:   lm(ltrade ~ lgdp_o + lgdp_d + rta + factor(reporter) + factor(year))
#         on ../panel/data.csv: predict() (the linear predictor);
#   ppml: glm(trade ~ ldist + contig + lgdp_o + lgdp_d + rta + factor(exp) +
#         factor(imp), quasipoisson) on ../ppml/gravity.csv at
#         epsilon = 1e-12: predict(type = "response") (the mean).
# Writes predict.csv: model,row,value (value with 17 significant digits).
# Run from this directory: Rscript predict.R   (r-base-core)
g <- read.csv("../panel/data.csv", stringsAsFactors = FALSE)
g$pos <- seq_len(nrow(g)) - 1
vars <- c("ltrade", "lgdp_o", "lgdp_d", "rta")
train <- g[g$pos %% 10 != 3 & complete.cases(g[, vars]), ]
test <- g[g$pos %% 10 == 3 & complete.cases(g[, vars[-1]]), ]
test <- test[test$reporter %in% train$reporter & test$year %in% train$year, ]
fe <- lm(ltrade ~ lgdp_o + lgdp_d + rta + factor(reporter) + factor(year),
         train)
out <- data.frame(model = "fe", row = test$pos,
                  value = sprintf("%.17g", predict(fe, test)))

p <- read.csv("../ppml/gravity.csv", stringsAsFactors = FALSE)
p$pos <- seq_len(nrow(p)) - 1
ptrain <- p[p$pos %% 10 != 3, ]
ptest <- p[p$pos %% 10 == 3, ]
# Levels whose training trade is all zero are separated (no finite effect).
pos_e <- unique(ptrain$exp[ptrain$trade > 0])
pos_i <- unique(ptrain$imp[ptrain$trade > 0])
ptrain <- ptrain[ptrain$exp %in% pos_e & ptrain$imp %in% pos_i, ]
ptest <- ptest[ptest$exp %in% pos_e & ptest$imp %in% pos_i, ]
pp <- suppressWarnings(glm(trade ~ ldist + contig + lgdp_o + lgdp_d + rta +
                             factor(exp) + factor(imp),
                           family = quasipoisson(link = "log"), data = ptrain,
                           control = glm.control(epsilon = 1e-12,
                                                 maxit = 200)))
stopifnot(pp$converged)
out <- rbind(out, data.frame(model = "ppml", row = ptest$pos,
                             value = sprintf("%.17g", predict(pp, ptest,
                                                              type = "response"))))
write.csv(out, "predict.csv", row.names = FALSE, quote = FALSE)
cat("fe:", sum(out$model == "fe"), "rows; ppml:", sum(out$model == "ppml"),
    "rows\n")

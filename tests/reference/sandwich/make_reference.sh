#!/bin/sh
# Regenerates data.csv and values.csv (the core_ols reference fixture) and
# cross-checks R's values against statsmodels; fails if they disagree.
set -eu
cd "$(dirname "$0")"
Rscript gen_data.R
Rscript reference.R
/usr/bin/python3 crosscheck.py

#!/usr/bin/python3
"""Copies into data/ the rows and columns of ../shared/data that the embedded
default dataset uses (see data/SOURCES.md). Every value is copied as its
source text, byte for byte: nothing is computed, rounded, filled or reordered
(rows keep their order in the source file). An empty cell stays empty.

Usage: data/make_data.py [SHARED_DATA_DIR]
SHARED_DATA_DIR defaults to ../../shared/data relative to this file.
"""

import csv
import os
import sys

COUNTRIES = ["CHN", "KAZ", "KGZ", "UZB", "TJK", "TKM"]
PARTNERS = COUNTRIES[1:]
YEARS = [str(y) for y in range(2010, 2024)]
# The e-commerce enablers behind cbec are partner-side only: China's are not
# copied.
ENABLERS = ["IT.NET.BBND.P2", "IT.NET.SECR.P6", "LP.LPI.OVRL.XQ",
            "GB.XPD.RSDV.GD.ZS", "SE.TER.ENRR"]
INDICATORS = [
    "NY.GDP.PCAP.PP.CD", "SP.POP.TOTL", "IT.NET.USER.ZS", "FP.CPI.TOTL",
    "NE.TRD.GNFS.ZS", "IT.NET.BBND.P2", "IT.NET.SECR.P6", "LP.LPI.OVRL.XQ",
    "GB.XPD.RSDV.GD.ZS", "SE.TER.ENRR",
]


def copy(src, dst, columns, keep):
    """Writes the given columns of the rows of src that keep() accepts."""
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(dst, "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(columns)
        n = 0
        for r in rows:
            if keep(r):
                out.writerow([r[c] for c in columns])
                n += 1
    return n


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "..", "shared", "data")
    j = os.path.join
    n = copy(j(shared, "wdi_central_asia.csv"), j(here, "wdi_central_asia.csv"),
             ["iso3", "indicator", "year", "value"],
             lambda r: r["iso3"] in COUNTRIES and r["indicator"] in INDICATORS
             and r["year"] in YEARS
             and not (r["iso3"] == "CHN" and r["indicator"] in ENABLERS))
    assert n == (len(COUNTRIES) * len(INDICATORS) - len(ENABLERS)) * len(
        YEARS), n
    n = copy(j(shared, "capitals.csv"), j(here, "capitals.csv"),
             ["iso3", "distcap_km_from_beijing"],
             lambda r: r["iso3"] in PARTNERS)
    assert n == len(PARTNERS), n
    n = copy(j(shared, "oil_price.csv"), j(here, "oil_price.csv"),
             ["year", "wb_crude_oil_average_usd_bbl"],
             lambda r: r["year"] in YEARS)
    assert n == len(YEARS), n
    n = copy(j(shared, "bilateral_trade_china_ca.csv"),
             j(here, "bilateral_trade_china_ca.csv"),
             ["reporter", "partner", "year", "flow", "value_usd", "source_id"],
             lambda r: r["reporter"] == "CHN" and r["flow"] == "total"
             and r["partner"] in PARTNERS and r["year"] in YEARS)
    assert n == 13, n


if __name__ == "__main__":
    main()

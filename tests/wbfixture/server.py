#!/usr/bin/python3
"""A local HTTP server that plays the World Bank API v2 in tests.

Run with Debian's /usr/bin/python3 (standard library only). It listens on
127.0.0.1, port 0 (the kernel picks a free port), prints the port on its own
line on stdout, then serves until killed.

Data endpoint (the shape the fetcher requests):
    /v2/country/{ISO;ISO;...}/indicator/{code}?format=json&date=Y1:Y2
        &per_page=N&page=k
Rows are generated from the committed copy of the real WDI extract
wdi_central_asia.csv (values copied verbatim as JSON numbers, empty cells as
null), in the exact layout of the recorded World Bank responses in samples/.
An indicator the CSV does not have is answered with the recorded
samples/error_invalid_indicator.json (HTTP 200), a list of countries none of
which the CSV has with samples/error_invalid_country_codes.json (HTTP 200).
Unknown codes mixed with known ones are ignored.

Misbehaviour is selected by a path prefix /scenario/<tokens>/v2/..., where
<tokens> is a comma-separated list of:
    pagesize-N   serve N rows per page whatever per_page asked
    strhdr       send page/pages/per_page/total as strings
    fail500-N    answer the first N requests of each URL with HTTP 500
    429-N        answer the first N requests of each URL with HTTP 429 and
                 Retry-After (seconds, token ra-S, default 1)
    delay-MS     sleep MS milliseconds before answering every request
    truncate     announce the full Content-Length, send half, close
    truncclose   no Content-Length, send half the JSON, close the connection
    malformed    a syntax error in the middle of the JSON
    html         the recorded HTML error page (BOM, HTTP 400, text/html)
    html200      the same page with HTTP 200
    message200   the recorded invalid-indicator message body, HTTP 200
    message400   the same body with HTTP 400
    lastupdchange  pages >= 2 report another lastupdated date
    shortpage    the last page drops its last row (total no longer adds up)
    oversize-N   the normal body padded with N bytes of JSON whitespace
    pagechange   pages >= 2 report one page more and a larger total
    sample-FILE  answer every data request with samples/FILE (HTTP 200)

Bodies are gzip-compressed when the request's Accept-Encoding allows gzip
(except truncate/truncclose, which must cut the plain bytes).

GET /_stats answers JSON: requests (data requests served), peak (highest
number of requests being answered at once), gzip (responses compressed),
user_agents (distinct User-Agent values), paths (every data request's path
and query, in arrival order).
"""

import csv
import gzip
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "samples")

# Names the real API puts next to the codes (iso2 codes are the World Bank's
# country.id values for these countries).
COUNTRIES = {
    "CHN": ("CN", "China"),
    "KAZ": ("KZ", "Kazakhstan"),
    "KGZ": ("KG", "Kyrgyz Republic"),
    "UZB": ("UZ", "Uzbekistan"),
    "TJK": ("TJ", "Tajikistan"),
    "TKM": ("TM", "Turkmenistan"),
    "RUS": ("RU", "Russian Federation"),
    "MNG": ("MN", "Mongolia"),
    "PAK": ("PK", "Pakistan"),
    "AFG": ("AF", "Afghanistan"),
}
INDICATOR_NAMES = {
    "NY.GDP.PCAP.PP.CD": "GDP per capita, PPP (current international $)",
    "NY.GDP.MKTP.CD": "GDP (current US$)",
    "SP.POP.TOTL": "Population, total",
    "IT.NET.BBND.P2": "Fixed broadband subscriptions (per 100 people)",
    "IT.NET.SECR.P6": "Secure Internet servers (per 1 million people)",
    "LP.LPI.OVRL.XQ":
        "Logistics performance index: Overall (1=low to 5=high)",
    "GB.XPD.RSDV.GD.ZS": "Research and development expenditure (% of GDP)",
    "SE.TER.ENRR": "School enrollment, tertiary (% gross)",
    "FP.CPI.TOTL.ZG": "Inflation, consumer prices (annual %)",
    "NE.EXP.GNFS.ZS": "Exports of goods and services (% of GDP)",
    "NE.IMP.GNFS.ZS": "Imports of goods and services (% of GDP)",
    "NE.TRD.GNFS.ZS": "Trade (% of GDP)",
    "IT.NET.USER.ZS": "Individuals using the Internet (% of population)",
    "FP.CPI.TOTL": "Consumer price index (2010 = 100)",
}
# The vintage of most series in the CSV (see ../shared/data/SOURCES.md).
LASTUPDATED = "2026-07-01"


def load_csv():
    data = {}
    with open(os.path.join(HERE, "wdi_central_asia.csv"), newline="") as f:
        for row in csv.DictReader(f):
            key = (row["iso3"], row["indicator"])
            data.setdefault(key, {})[int(row["year"])] = row["value"]
    return data


DATA = load_csv()
INDICATORS = {ind for (_, ind) in DATA}


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.active = 0
        self.peak = 0
        self.gzip = 0
        self.user_agents = []
        self.paths = []
        self.seen = {}  # URL -> times requested


STATE = State()


def parse_tokens(spec):
    tok = {}
    for t in spec.split(","):
        if not t:
            continue
        if t.startswith("sample-"):
            tok["sample"] = t[len("sample-"):]
            continue
        name, _, arg = t.partition("-")
        tok[name] = int(arg) if arg else True
    return tok


def header_json(page, pages, per_page, total, as_strings, lastupdated):
    def num(v):
        return '"%d"' % v if as_strings else "%d" % v
    return ('{"page":%s,"pages":%s,"per_page":%s,"total":%s,"sourceid":"2",'
            '"sourcename":"World Development Indicators","lastupdated":"%s"}'
            % (num(page), num(pages), num(per_page), num(total),
               lastupdated))


def row_json(iso3, ind, year, value):
    iso2, cname = COUNTRIES.get(iso3, (iso3, iso3))
    iname = INDICATOR_NAMES.get(ind, ind)
    # The CSV text is copied as the JSON number, so every digit survives.
    v = value if value != "" else "null"
    return ('{"indicator":{"id":%s,"value":%s},"country":{"id":%s,"value":%s},'
            '"countryiso3code":%s,"date":"%d","value":%s,"unit":"",'
            '"obs_status":"","decimal":0}'
            % (json.dumps(ind), json.dumps(iname), json.dumps(iso2),
               json.dumps(cname), json.dumps(iso3), year, v))


def data_body(countries, ind, date, per_page, page, tok):
    """Returns (status, body bytes) for a data request."""
    if ind not in INDICATORS:
        return 200, sample("error_invalid_indicator.json")
    known = [c for c in countries if (c, ind) in DATA]
    if not known:
        return 200, sample("error_invalid_country_codes.json")
    y1, _, y2 = date.partition(":")
    y1 = int(y1)
    y2 = int(y2) if y2 else y1
    rows = []
    for c in known:
        series = DATA[(c, ind)]
        for y in range(y2, y1 - 1, -1):
            if y in series:
                rows.append(row_json(c, ind, y, series[y]))
    pp = tok.get("pagesize", per_page)
    total = len(rows)
    pages = (total + pp - 1) // pp
    chunk = rows[(page - 1) * pp:page * pp]
    if tok.get("pagechange") and page >= 2:
        pages += 1
        total += pp
    if tok.get("shortpage") and page == pages and chunk:
        chunk = chunk[:-1]
    lastupdated = LASTUPDATED
    if tok.get("lastupdchange") and page >= 2:
        lastupdated = "2026-07-02"
    hdr = header_json(page, pages, pp, total, tok.get("strhdr", False),
                      lastupdated)
    body = "[" + hdr + "," + ("[" + ",".join(chunk) + "]" if rows else "null")
    if "oversize" in tok:
        body += " " * tok["oversize"]
    body += "]"
    return 200, body.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "wbfixture/1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, ctype="application/json;charset=utf-8",
                  extra=None, allow_gzip=True):
        if allow_gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            extra = dict(extra or {}, **{"Content-Encoding": "gzip"})
            with STATE.lock:
                STATE.gzip += 1
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (a timeout test, or a server that
            # stopped): what a real API would see, not a fixture error.
            pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/_stats":
            with STATE.lock:
                out = {"requests": STATE.requests, "peak": STATE.peak,
                       "gzip": STATE.gzip, "user_agents": STATE.user_agents,
                       "paths": STATE.paths}
            self.send_body(200, json.dumps(out).encode(), allow_gzip=False)
            return
        with STATE.lock:
            STATE.requests += 1
            STATE.active += 1
            STATE.peak = max(STATE.peak, STATE.active)
            ua = self.headers.get("User-Agent", "")
            if ua not in STATE.user_agents:
                STATE.user_agents.append(ua)
            STATE.paths.append(self.path)
            nth = STATE.seen.get(self.path, 0) + 1
            STATE.seen[self.path] = nth
        try:
            self.answer(url, nth)
        finally:
            with STATE.lock:
                STATE.active -= 1

    def answer(self, url, nth):
        parts = url.path.split("/")
        tok = {}
        if len(parts) > 2 and parts[1] == "scenario":
            tok = parse_tokens(urllib.parse.unquote(parts[2]))
            parts = [""] + parts[3:]
        # ["", "v2", "country", codes, "indicator", code]
        if (len(parts) != 6 or parts[1] != "v2" or parts[2] != "country"
                or parts[4] != "indicator"):
            self.send_body(404, b"not found", ctype="text/plain")
            return
        q = dict(urllib.parse.parse_qsl(url.query))
        countries = [urllib.parse.unquote(c) for c in parts[3].split(";")]
        ind = urllib.parse.unquote(parts[5])
        if "delay" in tok:
            time.sleep(tok["delay"] / 1000.0)
        if nth <= tok.get("fail500", 0):
            self.send_body(500, b"<html><body>Internal Server Error</body>"
                           b"</html>", ctype="text/html")
            return
        if nth <= tok.get("429", 0):
            self.send_body(429, b'{"error":"rate limited"}',
                           extra={"Retry-After": str(tok.get("ra", 1))})
            return
        if tok.get("html") or tok.get("html200"):
            self.send_body(200 if tok.get("html200") else 400,
                           sample("error_invalid_source_http400_body.html"),
                           ctype="text/html; charset=utf-8")
            return
        if tok.get("message200") or tok.get("message400"):
            self.send_body(200 if tok.get("message200") else 400,
                           sample("error_invalid_indicator.json"))
            return
        if "sample" in tok:
            self.send_body(200, sample(os.path.basename(tok["sample"])))
            return
        if q.get("format") != "json":
            self.send_body(400, sample("error_invalid_source_http400_body.html"),
                           ctype="text/html; charset=utf-8")
            return
        status, body = data_body(countries, ind, q.get("date", "1960:2030"),
                                 int(q.get("per_page", "50")),
                                 int(q.get("page", "1")), tok)
        if tok.get("malformed"):
            mid = len(body) // 2
            body = body[:mid] + b",,}" + body[mid:]
        if tok.get("truncate"):
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if tok.get("truncclose"):
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_body(status, body)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

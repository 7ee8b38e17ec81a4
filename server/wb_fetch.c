/* The World Bank indicator fetcher (see wb_fetch.h): builds the request
 * chains, drives them with the curl multi interface from the calling thread,
 * retries what is worth retrying, checks every page against the first, and
 * assembles the tidy result. */
#include "wb_fetch.h"

#include <curl/curl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "srv_buf.h"

#ifndef CURL_WRITEFUNC_ERROR
#define CURL_WRITEFUNC_ERROR 0
#endif

/* Longest country list quoted in an error message. */
#define COUNTRIES_QUOTE_MAX 120

void wb_config_defaults(wb_config *c) {
  c->base_url = WB_DEFAULT_BASE_URL;
  c->timeout_connect_ms = 5000;
  c->timeout_total_ms = 30000;
  c->max_retries = 3;
  c->backoff_base_ms = 500;
  c->backoff_max_ms = 8000;
  c->max_response_bytes = (size_t)16 << 20;
  c->max_in_flight = 4;
  c->user_agent = NULL;
}

int wb_error_http_status(wb_error_kind kind) {
  switch (kind) {
  case WB_OK: return 200;
  case WB_E_INVALID_REQUEST: return 422;
  case WB_E_UPSTREAM: return 502;
  case WB_E_TIMEOUT: return 504;
  case WB_E_NOMEM: return 500;
  }
  return 500;
}

const char *wb_error_kind_name(wb_error_kind kind) {
  switch (kind) {
  case WB_OK: return "ok";
  case WB_E_INVALID_REQUEST: return "invalid-request";
  case WB_E_UPSTREAM: return "upstream";
  case WB_E_TIMEOUT: return "timeout";
  case WB_E_NOMEM: return "no-memory";
  }
  return "unknown";
}

/* ---- run state --------------------------------------------------------- */

typedef struct ind_state {
  bool failed;
  wb_error_kind kind;
  char error[WB_ERR_MAX];
  unsigned attempts, retries;
  size_t pages;
  bool have_meta; /* lastupdated/sourceid taken from a finished group */
  char lastupdated[WB_CODE_MAX];
  bool has_sourceid;
  char sourceid[WB_CODE_MAX];
} ind_state;

/* One request chain: one indicator for one group of countries. */
typedef struct job {
  size_t ind, group;
  char *url_prefix; /* the URL up to and including "page=" */
  bool have_first;  /* page 1 arrived: pages/total/... below are known */
  long pages, total, per_page;
  char lastupdated[WB_CODE_MAX];
  wb_page **got; /* [n_slots], NULL until that page arrived */
  size_t n_slots, n_got;
} job;

typedef enum xstate { X_READY, X_RUNNING, X_FINISHED } xstate;

/* One page request, possibly attempted several times. */
typedef struct xfer {
  size_t job;
  long page;
  unsigned attempt; /* attempts started */
  xstate state;
  long long not_before; /* monotonic ms before which it may not start */
  CURL *easy;
  char *url;
  srv_buf body;
  bool over_cap, nomem;
  char errbuf[CURL_ERROR_SIZE];
} xfer;

typedef struct run {
  const wb_config *cfg;
  const char *const *countries;
  const char *const *indicators;
  size_t n_ind;
  int from, to;
  size_t n_groups;
  size_t *group_start; /* [n_groups + 1] */
  ind_state *inds;
  job *jobs;
  size_t n_jobs;
  xfer **x;
  size_t n_x, cap_x, scan;
  CURLM *multi;
  struct curl_slist *headers;
  int running;
  uint64_t rng;
  size_t requests;
} run;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: jitter only needs to decorrelate clients, not be secret. */
static uint64_t next_rand(run *r) {
  r->rng ^= r->rng >> 12;
  r->rng ^= r->rng << 25;
  r->rng ^= r->rng >> 27;
  return r->rng * 0x2545F4914F6CDD1DULL;
}

static void appendf(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends to a NUL-terminated buffer of n bytes, truncating silently. */
static void appendf(char *buf, size_t n, const char *fmt, ...) {
  size_t len = strlen(buf);
  if (len + 1 >= n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + len, n - len, fmt, ap);
  va_end(ap);
}

static void set_error(wb_error *err, wb_error_kind kind, const char *msg) {
  if (err == NULL) return;
  err->kind = kind;
  snprintf(err->message, sizeof err->message, "%s", msg);
}

/* Percent-encodes everything but RFC 3986 unreserved characters, so that a
 * code can never add a path segment, a query or another scheme. Returns a
 * malloc'd string or NULL when out of memory. */
static char *escape(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  char *out = malloc(3 * n + 1);
  if (out == NULL) return NULL;
  char *o = out;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      *o++ = (char)c;
    } else {
      *o++ = '%';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
  }
  *o = '\0';
  return out;
}

/* Writes "indicator "X" for countries A;B;C" (the list cut short) into buf. */
static void describe(const run *r, const job *j, char *buf, size_t n) {
  snprintf(buf, n, "indicator \"%s\" for countries ", r->indicators[j->ind]);
  size_t quoted = 0;
  for (size_t c = r->group_start[j->group]; c < r->group_start[j->group + 1];
       c++) {
    if (quoted > COUNTRIES_QUOTE_MAX) {
      appendf(buf, n, ";... (%zu in all)",
              r->group_start[j->group + 1] - r->group_start[j->group]);
      break;
    }
    appendf(buf, n, "%s%s", c == r->group_start[j->group] ? "" : ";",
            r->countries[c]);
    quoted += strlen(r->countries[c]) + 1;
  }
}

static void fail_indicator(run *r, const xfer *x, wb_error_kind kind,
                           const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Marks the transfer's indicator failed (the first failure is the one
 * reported) with "<World Bank request for> indicator ... (page k): msg". */
static void fail_indicator(run *r, const xfer *x, wb_error_kind kind,
                           const char *fmt, ...) {
  const job *j = &r->jobs[x->job];
  ind_state *is = &r->inds[j->ind];
  if (is->failed) return;
  is->failed = true;
  is->kind = kind;
  char what[WB_ERR_MAX / 2];
  describe(r, j, what, sizeof what);
  char detail[WB_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  is->error[0] = '\0';
  appendf(is->error, sizeof is->error, "World Bank %s, page %ld: %s", what,
          x->page, detail);
}

static bool push_xfer(run *r, size_t job_idx, long page) {
  if (r->n_x == r->cap_x) {
    size_t cap = r->cap_x ? 2 * r->cap_x : 64;
    /* An array of pointers: one element is the size of a pointer. */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    xfer **p = realloc(r->x, cap * sizeof *p);
    if (p == NULL) return false;
    r->x = p;
    r->cap_x = cap;
  }
  xfer *x = calloc(1, sizeof *x);
  if (x == NULL) return false;
  x->job = job_idx;
  x->page = page;
  x->state = X_READY;
  srv_buf_init(&x->body, r->cfg->max_response_bytes);
  r->x[r->n_x++] = x;
  return true;
}

static void xfer_free(xfer *x) {
  if (x == NULL) return;
  if (x->easy != NULL) curl_easy_cleanup(x->easy);
  free(x->url);
  srv_buf_free(&x->body);
  free(x);
}

/* The write callback: the response cap lives here (the decoded bytes are
 * counted, so a small gzip body cannot inflate past it). */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  xfer *x = ud;
  size_t n = size * nmemb;
  srv_buf_result br = srv_buf_append(&x->body, ptr, n);
  if (br == SRV_BUF_OK) return n;
  if (br == SRV_BUF_TOO_LARGE)
    x->over_cap = true;
  else
    x->nomem = true;
  return CURL_WRITEFUNC_ERROR;
}

/* Starts one attempt. Returns false when out of memory. */
static bool start_xfer(run *r, xfer *x) {
  const wb_config *cfg = r->cfg;
  const job *j = &r->jobs[x->job];
  if (x->url == NULL) {
    /* make_jobs gave every job its url_prefix before it pushed the job's
     * first transfer; the analyzer cannot match x->job to that job. */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    size_t n = strlen(j->url_prefix) + 24;
    x->url = malloc(n);
    if (x->url == NULL) return false;
    snprintf(x->url, n, "%s%ld", j->url_prefix, x->page);
  }
  CURL *e = curl_easy_init();
  if (e == NULL) return false;
  x->errbuf[0] = '\0';
  x->over_cap = false;
  x->nomem = false;
  srv_buf_free(&x->body);
  CURLcode rc = CURLE_OK;
  /* Every option is set even if one fails, then the first failure counts:
   * each must be exactly the type curl documents (long, pointer, off_t). */
  CURLcode o[] = {
      curl_easy_setopt(e, CURLOPT_URL, x->url),
      curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)x),
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write),
      curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)x),
      curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf),
      curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L),
      curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"),
      curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
      curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L),
      curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L),
      curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""),
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L),
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L),
      curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->timeout_connect_ms),
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cfg->timeout_total_ms),
      curl_easy_setopt(e, CURLOPT_USERAGENT,
                       cfg->user_agent ? cfg->user_agent
                                       : WB_DEFAULT_USER_AGENT),
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers),
      curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                       (curl_off_t)cfg->max_response_bytes),
  };
  for (size_t i = 0; i < sizeof o / sizeof o[0] && rc == CURLE_OK; i++)
    rc = o[i];
  if (rc != CURLE_OK || curl_multi_add_handle(r->multi, e) != CURLM_OK) {
    curl_easy_cleanup(e);
    return false;
  }
  x->easy = e;
  x->state = X_RUNNING;
  x->attempt++;
  r->running++;
  r->requests++;
  ind_state *is = &r->inds[j->ind];
  is->attempts++;
  if (x->attempt > 1) is->retries++;
  return true;
}

/* Schedules another attempt after a backoff with full jitter: a uniform
 * wait in [0, min(max, base * 2^(attempt-1))], or exactly Retry-After
 * (capped by max) when a 429 carried one. Returns false when the retries
 * are used up. */
static bool retry_later(run *r, xfer *x, long long retry_after_s) {
  const wb_config *cfg = r->cfg;
  if (x->attempt > (unsigned)cfg->max_retries) return false;
  long long wait;
  if (retry_after_s > 0) {
    /* Retry-After is honoured, but never beyond our own cap. */
    wait = retry_after_s > (long long)cfg->backoff_max_ms / 1000 + 1
               ? (long long)cfg->backoff_max_ms
               : retry_after_s * 1000;
    if (wait > cfg->backoff_max_ms) wait = cfg->backoff_max_ms;
  } else {
    long long cap = cfg->backoff_base_ms;
    for (unsigned k = 1; k < x->attempt && cap < cfg->backoff_max_ms; k++)
      cap *= 2;
    if (cap > cfg->backoff_max_ms) cap = cfg->backoff_max_ms;
    wait = cap > 0 ? (long long)(next_rand(r) % (uint64_t)(cap + 1)) : 0;
  }
  x->state = X_READY;
  x->not_before = now_ms() + wait;
  srv_buf_free(&x->body);
  return true;
}

static bool retryable_curl(CURLcode rc) {
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_GOT_NOTHING:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: return true;
  default: return false;
  }
}

/* Formats a World Bank message list: message 120 "Invalid value": text. */
static void quote_messages(const wb_page *p, char *buf, size_t n) {
  buf[0] = '\0';
  for (size_t k = 0; k < p->n_messages; k++) {
    const wb_msg *m = &p->messages[k];
    appendf(buf, n, "%smessage %s \"%s\": %s", k ? "; " : "", m->id, m->key,
            m->value);
  }
}

static void reject_with_messages(run *r, xfer *x, const wb_page *p, long code) {
  const job *j = &r->jobs[x->job];
  ind_state *is = &r->inds[j->ind];
  if (is->failed) return;
  is->failed = true;
  is->kind = WB_E_INVALID_REQUEST;
  char what[WB_ERR_MAX / 2];
  describe(r, j, what, sizeof what);
  char msgs[WB_ERR_MAX];
  quote_messages(p, msgs, sizeof msgs);
  is->error[0] = '\0';
  appendf(is->error, sizeof is->error,
          "World Bank rejected the request for %s (HTTP %ld): %s", what, code,
          msgs);
}

/* Checks a data page against its request and the chain's first page, then
 * keeps it (taking ownership). On any mismatch the indicator fails. */
static void accept_page(run *r, xfer *x, wb_page *p) {
  job *j = &r->jobs[x->job];
  const char *ind = r->indicators[j->ind];
  if (!j->have_first) {
    if (p->pages > WB_MAX_PAGES) {
      fail_indicator(r, x, WB_E_UPSTREAM,
                     "the response has %ld pages, more "
                     "than the %d allowed",
                     p->pages, WB_MAX_PAGES);
      goto drop;
    }
    if (p->pages > 0 && p->page != 1) {
      fail_indicator(r, x, WB_E_UPSTREAM, "asked for page 1, got page %ld",
                     p->page);
      goto drop;
    }
    if (p->pages == 0 && (p->total != 0 || p->n_rows != 0)) {
      fail_indicator(r, x, WB_E_UPSTREAM,
                     "the header says 0 pages but %ld "
                     "rows in all and %zu on this page",
                     p->total, p->n_rows);
      goto drop;
    }
    size_t slots = p->pages > 0 ? (size_t)p->pages : 1;
    /* An array of pointers: one element is the size of a pointer. */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    j->got = calloc(slots, sizeof *j->got);
    if (j->got == NULL) {
      fail_indicator(r, x, WB_E_NOMEM, "out of memory");
      goto drop;
    }
    j->n_slots = slots;
    j->have_first = true;
    j->pages = p->pages;
    j->total = p->total;
    j->per_page = p->per_page;
    memcpy(j->lastupdated, p->lastupdated, sizeof j->lastupdated);
    for (long k = 2; k <= p->pages; k++) {
      if (!push_xfer(r, x->job, k)) {
        fail_indicator(r, x, WB_E_NOMEM, "out of memory");
        goto drop;
      }
    }
  } else {
    /* A later page must describe the same result set as page 1, or the
     * data changed under us and mixing pages would be silently wrong. */
    if (p->pages != j->pages || p->total != j->total) {
      fail_indicator(r, x, WB_E_UPSTREAM,
                     "the page count changed between "
                     "pages: page 1 said %ld pages and %ld rows, page %ld "
                     "says %ld pages and %ld rows",
                     j->pages, j->total, x->page, p->pages, p->total);
      goto drop;
    }
    if (p->page != x->page) {
      fail_indicator(r, x, WB_E_UPSTREAM, "asked for page %ld, got page %ld",
                     x->page, p->page);
      goto drop;
    }
    if (p->per_page != j->per_page ||
        strcmp(p->lastupdated, j->lastupdated) != 0) {
      fail_indicator(r, x, WB_E_UPSTREAM,
                     "per_page or lastupdated changed "
                     "between pages (\"%s\" then \"%s\")",
                     j->lastupdated, p->lastupdated);
      goto drop;
    }
  }
  if (p->n_rows > (size_t)p->per_page) {
    fail_indicator(r, x, WB_E_UPSTREAM,
                   "the page holds %zu rows, more than "
                   "its per_page of %ld",
                   p->n_rows, p->per_page);
    goto drop;
  }
  for (size_t k = 0; k < p->n_rows; k++) {
    const wb_obs *o = &p->obs[k];
    if (strcasecmp(o->indicator, ind) != 0) {
      fail_indicator(r, x, WB_E_UPSTREAM, "row %zu is for indicator \"%s\"", k,
                     o->indicator);
      goto drop;
    }
    if (o->year < r->from || o->year > r->to) {
      fail_indicator(r, x, WB_E_UPSTREAM,
                     "row %zu is for year %d, outside "
                     "%d:%d",
                     k, o->year, r->from, r->to);
      goto drop;
    }
  }
  size_t slot = x->page > 0 ? (size_t)x->page - 1 : 0;
  if (slot >= j->n_slots || j->got[slot] != NULL) {
    fail_indicator(r, x, WB_E_UPSTREAM, "page %ld arrived twice", x->page);
    goto drop;
  }
  j->got[slot] = p;
  j->n_got++;
  if (j->n_got < j->n_slots) return;

  /* The chain is complete: the rows must add up to the announced total. */
  size_t sum = 0;
  for (size_t k = 0; k < j->n_slots; k++)
    sum += j->got[k]->n_rows;
  if (sum != (size_t)j->total) {
    fail_indicator(r, x, WB_E_UPSTREAM,
                   "the pages held %zu rows but the "
                   "header announced %ld",
                   sum, j->total);
    return;
  }
  ind_state *is = &r->inds[j->ind];
  is->pages += j->n_slots;
  const wb_page *first = j->got[0];
  if (!is->have_meta) {
    is->have_meta = true;
    memcpy(is->lastupdated, first->lastupdated, sizeof is->lastupdated);
    is->has_sourceid = first->has_sourceid;
    memcpy(is->sourceid, first->sourceid, sizeof is->sourceid);
  } else if (strcmp(is->lastupdated, first->lastupdated) != 0) {
    fail_indicator(r, x, WB_E_UPSTREAM,
                   "lastupdated differs between country "
                   "groups (\"%s\" and \"%s\")",
                   is->lastupdated, first->lastupdated);
  }
  return;
drop:
  wb_page_free(p);
}

/* Handles one finished attempt: accept, retry, or fail the indicator. */
static void finish_xfer(run *r, xfer *x, CURLcode rc) {
  long code = 0;
  curl_off_t retry_after = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
  curl_multi_remove_handle(r->multi, x->easy);
  curl_easy_cleanup(x->easy);
  x->easy = NULL;
  r->running--;
  x->state = X_FINISHED;
  ind_state *is = &r->inds[r->jobs[x->job].ind];
  if (is->failed) goto done;

  if (rc != CURLE_OK) {
    if (x->nomem) {
      fail_indicator(r, x, WB_E_NOMEM, "out of memory");
    } else if (x->over_cap || rc == CURLE_FILESIZE_EXCEEDED) {
      fail_indicator(r, x, WB_E_UPSTREAM,
                     "the response is larger than the "
                     "%zu-byte cap",
                     r->cfg->max_response_bytes);
    } else if (retryable_curl(rc) && retry_later(r, x, 0)) {
      return;
    } else {
      const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
      if (rc == CURLE_OPERATION_TIMEDOUT)
        fail_indicator(r, x, WB_E_TIMEOUT,
                       "timed out after %u attempts "
                       "(%s)",
                       x->attempt, why);
      else if (rc == CURLE_PARTIAL_FILE)
        fail_indicator(r, x, WB_E_UPSTREAM,
                       "the response was truncated on "
                       "each of %u attempts (%s)",
                       x->attempt, why);
      else
        fail_indicator(r, x, WB_E_UPSTREAM,
                       "transfer failed after %u "
                       "attempt%s (%s)",
                       x->attempt, x->attempt == 1 ? "" : "s", why);
    }
    goto done;
  }
  if (code == 429 || code >= 500) {
    if (retry_later(r, x, code == 429 ? (long long)retry_after : 0)) return;
    fail_indicator(r, x, WB_E_UPSTREAM, "HTTP %ld on each of %u attempts", code,
                   x->attempt);
    goto done;
  }

  wb_page *p = NULL;
  char perr[200];
  wb_parse_status ps =
      wb_parse_page(x->body.data ? x->body.data : "", x->body.len,
                    WB_ROWS_INDICATOR, &p, perr, sizeof perr);
  if (ps == WB_PARSE_OK && p->is_message) {
    /* A message body (HTTP 200 or 4xx) is the World Bank refusing the
     * indicator or country: our caller's request, not a fault to retry. */
    reject_with_messages(r, x, p, code);
    wb_page_free(p);
    goto done;
  }
  if (ps == WB_PARSE_NOMEM) {
    fail_indicator(r, x, WB_E_NOMEM, "out of memory");
    goto done;
  }
  if (code != 200) {
    wb_page_free(p);
    if (ps == WB_PARSE_OK)
      fail_indicator(r, x, WB_E_UPSTREAM, "HTTP %ld", code);
    else
      fail_indicator(r, x, WB_E_UPSTREAM, "HTTP %ld; %s", code, perr);
    goto done;
  }
  if (ps != WB_PARSE_OK) {
    fail_indicator(r, x, WB_E_UPSTREAM, "HTTP 200 with an unusable body: %s",
                   perr);
    goto done;
  }
  accept_page(r, x, p);
done:
  srv_buf_free(&x->body);
}

/* Builds the country groups: consecutive runs of countries whose escaped,
 * ';'-joined segment stays within the segment limit and keeps the longest
 * URL (longest indicator, largest page number) within WB_MAX_URL_LEN.
 * Returns WB_OK or WB_E_INVALID_REQUEST/WB_E_NOMEM with err set. */
static wb_error_kind make_groups(run *r, size_t n_countries, size_t fixed_len,
                                 wb_error *err) {
  r->group_start = malloc((n_countries + 1) * sizeof *r->group_start);
  if (r->group_start == NULL) {
    set_error(err, WB_E_NOMEM, "out of memory");
    return WB_E_NOMEM;
  }
  size_t budget = WB_MAX_URL_LEN > fixed_len ? WB_MAX_URL_LEN - fixed_len : 0;
  if (budget > WB_MAX_SEGMENT_LEN) budget = WB_MAX_SEGMENT_LEN;
  size_t seg = 0;
  r->n_groups = 0;
  for (size_t c = 0; c < n_countries; c++) {
    char *e = escape(r->countries[c]);
    if (e == NULL) {
      set_error(err, WB_E_NOMEM, "out of memory");
      return WB_E_NOMEM;
    }
    size_t len = strlen(e);
    free(e);
    if (len > budget) {
      char msg[WB_ERR_MAX];
      snprintf(msg, sizeof msg,
               "country code \"%.64s\" alone makes the World "
               "Bank URL longer than %d characters",
               r->countries[c], WB_MAX_URL_LEN);
      set_error(err, WB_E_INVALID_REQUEST, msg);
      return WB_E_INVALID_REQUEST;
    }
    if (r->n_groups == 0 || seg + 1 + len > budget) {
      r->group_start[r->n_groups++] = c;
      seg = len;
    } else {
      seg += 1 + len;
    }
  }
  r->group_start[r->n_groups] = n_countries;
  return WB_OK;
}

static wb_error_kind make_jobs(run *r, const char *base, size_t base_len,
                               wb_error *err) {
  r->n_jobs = r->n_ind * r->n_groups;
  r->jobs = calloc(r->n_jobs, sizeof *r->jobs);
  if (r->jobs == NULL) goto nomem;
  for (size_t i = 0; i < r->n_ind; i++) {
    char *ind = escape(r->indicators[i]);
    if (ind == NULL) goto nomem;
    for (size_t g = 0; g < r->n_groups; g++) {
      job *j = &r->jobs[i * r->n_groups + g];
      j->ind = i;
      j->group = g;
      srv_buf b;
      srv_buf_init(&b, SIZE_MAX - 1);
      bool ok = srv_buf_append(&b, base, base_len) == SRV_BUF_OK &&
                srv_buf_printf(&b, "/country/") == SRV_BUF_OK;
      for (size_t c = r->group_start[g]; ok && c < r->group_start[g + 1]; c++) {
        char *e = escape(r->countries[c]);
        ok = e != NULL &&
             srv_buf_printf(&b, "%s%s", c == r->group_start[g] ? "" : ";", e) ==
                 SRV_BUF_OK;
        free(e);
      }
      ok = ok && srv_buf_printf(&b,
                                "/indicator/%s?format=json&date=%d:%d"
                                "&per_page=%d&page=",
                                ind, r->from, r->to, WB_PER_PAGE) == SRV_BUF_OK;
      if (!ok) {
        srv_buf_free(&b);
        free(ind);
        goto nomem;
      }
      j->url_prefix = srv_buf_steal(&b);
      if (!push_xfer(r, i * r->n_groups + g, 1)) {
        free(ind);
        goto nomem;
      }
    }
    free(ind);
  }
  return WB_OK;
nomem:
  set_error(err, WB_E_NOMEM, "out of memory");
  return WB_E_NOMEM;
}

static wb_error_kind check_args(const wb_config *cfg,
                                const char *const *countries,
                                size_t n_countries,
                                const char *const *indicators, size_t n_ind,
                                int from, int to, wb_error *err) {
  char msg[WB_ERR_MAX];
  msg[0] = '\0';
  if (cfg == NULL || cfg->base_url == NULL || cfg->base_url[0] == '\0')
    snprintf(msg, sizeof msg, "no World Bank base URL configured");
  else if (cfg->timeout_connect_ms <= 0 || cfg->timeout_total_ms <= 0 ||
           cfg->max_retries < 0 || cfg->max_retries > 100 ||
           cfg->backoff_base_ms < 0 || cfg->backoff_max_ms < 0 ||
           cfg->max_response_bytes == 0 ||
           cfg->max_response_bytes >= SIZE_MAX / 2 || cfg->max_in_flight < 1)
    snprintf(msg, sizeof msg,
             "the World Bank fetcher configuration is out "
             "of range");
  else if (countries == NULL || n_countries == 0)
    snprintf(msg, sizeof msg, "no countries requested");
  else if (indicators == NULL || n_ind == 0)
    snprintf(msg, sizeof msg, "no indicators requested");
  else if (from < 1 || to > 9999 || from > to)
    snprintf(msg, sizeof msg,
             "the year range %d:%d is not within 1:9999 "
             "with from <= to",
             from, to);
  for (size_t c = 0; msg[0] == '\0' && c < n_countries; c++) {
    /* A NULL countries wrote a message above, which ends this loop before
     * it starts; the analyzer does not see what snprintf wrote. */
    // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
    if (countries[c] == NULL || countries[c][0] == '\0')
      snprintf(msg, sizeof msg, "country %zu is empty", c);
    else if (strlen(countries[c]) >= WB_CODE_MAX)
      snprintf(msg, sizeof msg,
               "country %zu (\"%.32s...\") is longer than "
               "%d characters",
               c, countries[c], WB_CODE_MAX - 1);
  }
  for (size_t i = 0; msg[0] == '\0' && i < n_ind; i++) {
    if (indicators[i] == NULL || indicators[i][0] == '\0')
      snprintf(msg, sizeof msg, "indicator %zu is empty", i);
    else if (strlen(indicators[i]) >= WB_CODE_MAX)
      snprintf(msg, sizeof msg,
               "indicator %zu (\"%.32s...\") is longer than "
               "%d characters",
               i, indicators[i], WB_CODE_MAX - 1);
  }
  if (msg[0] == '\0') return WB_OK;
  set_error(err, WB_E_INVALID_REQUEST, msg);
  return WB_E_INVALID_REQUEST;
}

/* Drives every transfer to its end. Returns false only when the multi
 * handle itself failed. */
static bool drive(run *r) {
  const int max = r->cfg->max_in_flight;
  for (;;) {
    long long now = now_ms();
    long long wake = -1;
    size_t ready = 0;
    while (r->scan < r->n_x && r->x[r->scan]->state == X_FINISHED)
      r->scan++;
    for (size_t i = r->scan; i < r->n_x; i++) {
      xfer *x = r->x[i];
      if (x->state != X_READY) continue;
      if (r->inds[r->jobs[x->job].ind].failed) {
        x->state = X_FINISHED; /* nothing left to learn for it */
        continue;
      }
      if (x->not_before > now) {
        if (wake < 0 || x->not_before < wake) wake = x->not_before;
        ready++;
        continue;
      }
      if (r->running >= max) {
        ready++;
        continue;
      }
      if (!start_xfer(r, x)) {
        x->state = X_FINISHED;
        fail_indicator(r, x, WB_E_NOMEM, "could not start a transfer");
      }
    }
    if (r->running == 0 && ready == 0) return true;

    int still = 0;
    if (curl_multi_perform(r->multi, &still) != CURLM_OK) return false;
    bool progressed = false;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE) continue;
      char *priv = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
      xfer *x = (xfer *)(void *)priv;
      if (x == NULL) continue;
      finish_xfer(r, x, m->data.result);
      progressed = true;
    }
    if (progressed) continue;
    long long t = 1000;
    if (wake >= 0 && wake - now < t) t = wake - now > 0 ? wake - now : 0;
    if (curl_multi_poll(r->multi, NULL, 0, (int)t, NULL) != CURLM_OK)
      return false;
  }
}

static wb_result *assemble(run *r, const char *const *indicators) {
  wb_result *res = calloc(1, sizeof *res);
  if (res == NULL) return NULL;
  res->calls = r->n_groups;
  res->requests = r->requests;
  res->status = calloc(r->n_ind, sizeof *res->status);
  if (res->status == NULL) goto nomem;
  res->n_status = r->n_ind;
  size_t total = 0;
  for (size_t i = 0; i < r->n_ind; i++) {
    wb_indicator_status *s = &res->status[i];
    const ind_state *is = &r->inds[i];
    s->indicator = strdup(indicators[i]);
    if (s->indicator == NULL) goto nomem;
    s->ok = !is->failed;
    s->kind = is->failed ? is->kind : WB_OK;
    memcpy(s->lastupdated, is->lastupdated, sizeof s->lastupdated);
    s->has_sourceid = is->has_sourceid;
    memcpy(s->sourceid, is->sourceid, sizeof s->sourceid);
    s->pages = is->pages;
    s->attempts = is->attempts;
    s->retries = is->retries;
    memcpy(s->error, is->error, sizeof s->error);
    if (!s->ok) continue;
    for (size_t g = 0; g < r->n_groups; g++) {
      const job *j = &r->jobs[i * r->n_groups + g];
      for (size_t k = 0; k < j->n_slots; k++)
        s->rows += j->got[k]->n_rows;
    }
    total += s->rows;
  }
  if (total > 0) {
    res->rows = calloc(total, sizeof *res->rows);
    if (res->rows == NULL) goto nomem;
  }
  for (size_t i = 0; i < r->n_ind; i++) {
    if (!res->status[i].ok) continue;
    for (size_t g = 0; g < r->n_groups; g++) {
      const job *j = &r->jobs[i * r->n_groups + g];
      for (size_t k = 0; k < j->n_slots; k++) {
        const wb_page *p = j->got[k];
        for (size_t o = 0; o < p->n_rows; o++) {
          wb_row *row = &res->rows[res->n_rows++];
          /* total counted these same rows, so res->rows has room for each
           * (and is NULL only when there is none); the analyzer does not
           * relate the two loops. */
          // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
          memcpy(row->country, p->obs[o].country, sizeof row->country);
          row->indicator = res->status[i].indicator;
          row->year = p->obs[o].year;
          row->has_value = p->obs[o].has_value;
          row->value = p->obs[o].has_value ? p->obs[o].value : NAN;
        }
      }
    }
  }
  return res;
nomem:
  wb_result_free(res);
  return NULL;
}

static void run_free(run *r) {
  for (size_t i = 0; i < r->n_x; i++) {
    if (r->x[i]->easy != NULL)
      curl_multi_remove_handle(r->multi, r->x[i]->easy);
    xfer_free(r->x[i]);
  }
  free(r->x);
  for (size_t k = 0; k < r->n_jobs; k++) {
    job *j = &r->jobs[k];
    for (size_t s = 0; s < j->n_slots; s++)
      wb_page_free(j->got[s]);
    free(j->got);
    free(j->url_prefix);
  }
  free(r->jobs);
  free(r->inds);
  free(r->group_start);
  if (r->multi != NULL) curl_multi_cleanup(r->multi);
  curl_slist_free_all(r->headers);
}

wb_error_kind wb_fetch_indicators(const wb_config *cfg,
                                  const char *const *countries,
                                  size_t n_countries,
                                  const char *const *indicators, size_t n_ind,
                                  int from, int to, wb_result **out,
                                  wb_error *err) {
  wb_error_kind kind = WB_OK;
  run r;
  memset(&r, 0, sizeof r);
  if (err != NULL) {
    err->kind = WB_OK;
    err->message[0] = '\0';
  }
  if (out == NULL) {
    set_error(err, WB_E_INVALID_REQUEST, "no result pointer given");
    return WB_E_INVALID_REQUEST;
  }
  *out = NULL;
  kind =
      check_args(cfg, countries, n_countries, indicators, n_ind, from, to, err);
  if (kind != WB_OK) return kind;
  r.cfg = cfg;
  r.countries = countries;
  r.indicators = indicators;
  r.n_ind = n_ind;
  r.from = from;
  r.to = to;
  r.rng = (uint64_t)now_ms() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)&r ^
          ((uint64_t)getpid() << 32);
  if (r.rng == 0) r.rng = 0x2545F4914F6CDD1DULL;

  /* The base without trailing slashes, and the longest URL apart from the
   * country segment, to size the groups. */
  size_t base_len = strlen(cfg->base_url);
  while (base_len > 0 && cfg->base_url[base_len - 1] == '/')
    base_len--;
  size_t max_ind = 0;
  for (size_t i = 0; i < n_ind; i++) {
    char *e = escape(indicators[i]);
    if (e == NULL) {
      kind = WB_E_NOMEM;
      set_error(err, kind, "out of memory");
      goto cleanup;
    }
    if (strlen(e) > max_ind) max_ind = strlen(e);
    free(e);
  }
  int tail = snprintf(NULL, 0,
                      "/indicator/?format=json&date=%d:%d&per_page=%d&page=%d",
                      from, to, WB_PER_PAGE, WB_MAX_PAGES);
  size_t fixed = base_len + strlen("/country/") + max_ind + (size_t)tail;
  kind = make_groups(&r, n_countries, fixed, err);
  if (kind != WB_OK) goto cleanup;

  r.inds = calloc(n_ind, sizeof *r.inds);
  r.multi = curl_multi_init();
  r.headers = curl_slist_append(NULL, "Accept: application/json");
  if (r.inds == NULL || r.multi == NULL || r.headers == NULL) {
    kind = WB_E_NOMEM;
    set_error(err, kind, "out of memory");
    goto cleanup;
  }
  kind = make_jobs(&r, cfg->base_url, base_len, err);
  if (kind != WB_OK) goto cleanup;
  if (!drive(&r)) {
    kind = WB_E_NOMEM;
    set_error(err, kind, "the curl multi handle failed");
    goto cleanup;
  }
  /* Every chain of an indicator that did not fail is complete; a gap would
   * be a bug here, and is reported rather than trusted. */
  for (size_t k = 0; k < r.n_jobs; k++) {
    job *j = &r.jobs[k];
    ind_state *is = &r.inds[j->ind];
    if (is->failed) continue;
    bool whole = j->have_first && j->n_got == j->n_slots;
    for (size_t s = 0; whole && s < j->n_slots; s++)
      whole = j->got[s] != NULL;
    if (!whole) {
      is->failed = true;
      is->kind = WB_E_UPSTREAM;
      snprintf(is->error, sizeof is->error,
               "World Bank indicator \"%s\": "
               "the response pages are incomplete",
               indicators[j->ind]);
    }
  }
  *out = assemble(&r, indicators);
  if (*out == NULL) {
    kind = WB_E_NOMEM;
    set_error(err, kind, "out of memory");
    goto cleanup;
  }
  size_t failed = 0;
  const ind_state *first = NULL;
  for (size_t i = 0; i < n_ind; i++) {
    if (!r.inds[i].failed) continue;
    if (first == NULL) first = &r.inds[i];
    failed++;
  }
  if (first != NULL) {
    kind = first->kind;
    if (err != NULL) {
      err->kind = kind;
      snprintf(err->message, sizeof err->message, "%s", first->error);
      if (failed > 1)
        appendf(err->message, sizeof err->message,
                " (and %zu more "
                "indicator%s failed)",
                failed - 1, failed == 2 ? "" : "s");
    }
  }
cleanup:
  run_free(&r);
  return kind;
}

void wb_result_free(wb_result *r) {
  if (r == NULL) return;
  for (size_t i = 0; i < r->n_status; i++)
    free(r->status[i].indicator);
  free(r->status);
  free(r->rows);
  free(r);
}

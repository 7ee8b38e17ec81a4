/* The pure parser of one World Bank API v2 response body (Jansson only, no
 * curl, no globals) so that it can be tested on recorded bodies and fuzzed. */
#ifndef GRAVITAS_WB_PARSE_H
#define GRAVITAS_WB_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest country or indicator code, sourceid or lastupdated kept, plus the
 * NUL. Longer codes in a row are refused (no real code comes close). */
#define WB_CODE_MAX 64
/* Longest message key or value kept, plus the NUL; longer texts are cut on
 * a UTF-8 character boundary. */
#define WB_TEXT_MAX 256
/* Largest pagination number accepted (page, pages, per_page, total). */
#define WB_PAGINATION_MAX 1000000000L

/* One observation of an indicator response row. */
typedef struct wb_obs {
  char country[WB_CODE_MAX];   /* countryiso3code, or country.id if empty */
  char indicator[WB_CODE_MAX]; /* indicator.id */
  int year;                    /* from "date", 0..9999 */
  bool has_value;              /* false when "value" is null */
  double value;                /* NaN when !has_value, never 0 for null */
} wb_obs;

/* One entry of a World Bank error body's "message" array. */
typedef struct wb_msg {
  char id[WB_CODE_MAX];  /* e.g. "120"; "" when absent */
  char key[WB_TEXT_MAX]; /* e.g. "Invalid value"; "" when absent */
  char value[WB_TEXT_MAX];
} wb_msg;

/* How the rows of a data page are read. */
typedef enum wb_rows_kind {
  WB_ROWS_INDICATOR, /* rows are indicator observations, decoded to obs */
  WB_ROWS_ANY        /* rows of another endpoint (countries, ...): counted */
} wb_rows_kind;

typedef enum wb_parse_status {
  WB_PARSE_OK = 0,
  WB_PARSE_NOT_JSON,  /* empty, HTML/XML or other text that is not JSON */
  WB_PARSE_MALFORMED, /* starts like JSON but does not parse (or truncated) */
  WB_PARSE_BAD_SHAPE, /* valid JSON that is not a World Bank response */
  WB_PARSE_NOMEM
} wb_parse_status;

/* One parsed body: either a data page or an error message list. */
typedef struct wb_page {
  bool is_message; /* the [{"message":[...]}] form */
  wb_msg *messages;
  size_t n_messages; /* >= 1 when is_message */

  /* Data pages only. */
  long page, pages, per_page, total; /* numbers or digit strings upstream */
  bool has_sourceid;                 /* false when null or absent */
  char sourceid[WB_CODE_MAX];        /* "" when !has_sourceid */
  bool has_lastupdated;
  char lastupdated[WB_CODE_MAX]; /* "" when absent or null */
  size_t n_rows;                 /* rows in the page (null rows: 0) */
  wb_obs *obs;                   /* WB_ROWS_INDICATOR: n_rows entries */
} wb_page;

/* Parses the len bytes at body (need not be NUL-terminated; a leading UTF-8
 * BOM is skipped). On WB_PARSE_OK *out is a new page the caller frees with
 * wb_page_free; it is either a data page or a message list (is_message).
 * Every other status leaves *out NULL and writes a one-line reason naming
 * the offending field or position into err (errlen bytes, may be 0):
 * WB_PARSE_NOT_JSON (empty or text such as an HTML page), WB_PARSE_MALFORMED
 * (syntax error or truncation, with Jansson's reason and line/column),
 * WB_PARSE_BAD_SHAPE (JSON of the wrong shape: a scalar, a missing or
 * negative pagination field, a non-integer year, a string value, ...),
 * WB_PARSE_NOMEM. Never reads outside body[0..len). */
wb_parse_status wb_parse_page(const char *body, size_t len, wb_rows_kind kind,
                              wb_page **out, char *err, size_t errlen);

/* Frees a page from wb_parse_page. NULL is a no-op. */
void wb_page_free(wb_page *p);

/* A stable lowercase name of a status ("ok", "not-json", ...). Never NULL. */
const char *wb_parse_status_name(wb_parse_status s);

#endif

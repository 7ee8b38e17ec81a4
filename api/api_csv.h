/* Datasets posted as text/csv: a strict RFC 4180 parser that builds the same
 * core_panel api_data_decode builds from the equivalent JSON, so that the
 * content id (api_canon_dataset_id) does not depend on the upload format.
 *
 * The format accepted:
 *   - an optional UTF-8 byte order mark, then a header row, then at least one
 *     data row; records end with CRLF or LF (a bare CR is refused), the last
 *     one with or without a line end; blank lines after the last record are
 *     ignored;
 *   - fields separated by commas, optionally enclosed in double quotes with
 *     "" for a quote inside; a quote inside an unquoted field, or anything
 *     but a comma or a line end after a closing quote, is malformed; NUL
 *     bytes are refused anywhere;
 *   - header names are unique and non-empty; "reporter" and "partner" are the
 *     string keys and "year" the integer key (-9999..9999, never missing);
 *     every other column is a numeric variable whose name passes
 *     core_panel_valid_name;
 *   - a numeric cell is a decimal number (sign, digits, point, exponent;
 *     spaces and tabs around it are ignored), or missing (NaN) when empty or
 *     NA; a key cell is missing when empty or an unquoted NA (a quoted "NA"
 *     is the code NA), otherwise 1..API_KEY_MAX bytes taken as they are.
 *
 * Every fault is named by a JSON Pointer as if the data had been posted in
 * the rows form at the top of the body: "/rows/<i>/<column>" (i counts data
 * rows from 0), "/rows/<i>" for a record with the wrong number of fields,
 * "/header/<j>" for the header (j from 0), and "/header" or "/rows" for the
 * body as a whole; the detail starts with the 1-based line and column
 * (field number) in the text: "line 19, column 3: ...". */
#ifndef GRAVITAS_API_CSV_H
#define GRAVITAS_API_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "api_data.h"

/* Decodes len bytes of CSV text at body (not NUL-terminated; never read past
 * body + len; body may be NULL when len is 0) under limits->max_rows and
 * limits->max_columns (numeric columns). Linear in len.
 *
 * On success returns true; out->panel holds the panel (free with
 * api_data_free), out->form is API_DATA_ROWS and out->base "" (so
 * api_data_cell_pointer names "/rows/<i>/<var>" as the parser does).
 *
 * On failure returns false with out->panel NULL, adds the faults to errs
 * (at most API_DATA_MAX_ERRORS cell faults are listed, then a count; a
 * structural fault stops the parse) and sets *code: API_E_MALFORMED_CSV
 * (any fault of the text or of a value), API_E_LIMIT (too many rows or
 * columns; the parse stops there) or API_E_INTERNAL (out of memory). */
bool api_csv_decode(const char *body, size_t len, const api_limits *limits,
                    api_data *out, api_error_code *code, api_errors *errs);

#endif

/* The persistence layer: datasets, models, aliases and the World Bank
 * indicator cache in one SQLite database (WAL, synchronous=FULL) at
 * <dir>/gravitas.db. A write that returned STORE_OK has been committed and
 * survives a crash or a kill -9 of the process.
 *
 * Threads: every function may be called from any thread at the same time.
 * The store keeps a small pool of connections; a call checks one out, so a
 * sqlite3 handle is never used by two threads at once. Writers of this
 * process are serialised by a mutex, so they never wait on each other inside
 * SQLite; busy_timeout only covers other processes holding the database.
 *
 * Ownership: everything handed back through an out parameter is allocated
 * by the store and released by the caller with the matching _free function
 * (all of which accept NULL). Strings passed in are borrowed.
 *
 * Errors: every function returns a store_status and, when err is not NULL,
 * fills err with the same status and a one-line message. Nothing aborts. */
#ifndef GRAVITAS_STORE_H
#define GRAVITAS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 2
/* PRAGMA application_id of a Gravitas store ("GRAV"). */
#define STORE_APPLICATION_ID 0x47524156
#define STORE_FILE_NAME "gravitas.db"
/* Ids, alias names and cursors' id parts: 1..STORE_KEY_MAX bytes of
 * [A-Za-z0-9._-]. Countries and indicators follow the same rule. */
#define STORE_KEY_MAX 128
/* The largest page a list call hands back. */
#define STORE_LIST_MAX 1000
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) plus the terminating NUL. */
#define STORE_TIME_LEN 25
/* The longest World Bank "lastupdated" text kept (plus NUL). */
#define STORE_LASTUPDATED_MAX 32

typedef enum store_status {
  STORE_OK = 0,
  STORE_NOT_FOUND, /* no such id / alias name */
  STORE_CONFLICT,  /* same id, different content; or a model still aliased */
  STORE_BUSY,      /* locked longer than busy_timeout: answer 503 */
  STORE_IO,        /* cannot create/open/write the files (disk, perms) */
  STORE_CORRUPT,   /* the file is not a database or fails its checks */
  STORE_NOMEM,     /* out of memory */
  STORE_INVALID    /* bad argument, bad cursor, or not our schema */
} store_status;

typedef struct store_err {
  store_status status;
  char msg[256];
} store_err;

/* A stable lower-case name for a status ("ok", "not_found", ...), for logs
 * and metrics; "unknown" for a value outside the enum. */
const char *store_status_name(store_status s);

typedef struct store store;

typedef struct store_options {
  /* How long a call waits for a lock (another process's write, a free
   * connection, this process's writer mutex) before STORE_BUSY. 0 means the
   * default, 5000 ms. */
  unsigned busy_timeout_ms;
  /* At most this many connections are opened. 0 means the default, 8. */
  unsigned max_connections;
} store_options;

/* Opens (creating when missing) the directory dir and the store in it, and
 * brings the schema to STORE_SCHEMA_VERSION. opts may be NULL (defaults).
 * Returns STORE_OK with *out set, or with *out NULL: STORE_INVALID (NULL or
 * empty dir, a database of a newer schema version, a database that is not a
 * Gravitas store), STORE_IO (the directory or file cannot be created or
 * opened), STORE_CORRUPT (the file is not a database), STORE_BUSY, or
 * STORE_NOMEM. */
store_status store_open(const char *dir, const store_options *opts, store **out,
                        store_err *err);

/* Checkpoints the WAL into the database file and closes every connection.
 * Call only when no other thread uses the store. NULL is a no-op. */
void store_close(store *st);

/* Runs PRAGMA integrity_check. Returns STORE_OK when SQLite answers "ok",
 * STORE_CORRUPT with SQLite's first complaint in err otherwise, or the
 * status of a failure to run the check (STORE_BUSY, STORE_IO, ...). */
store_status store_integrity_check(store *st, store_err *err);

/* ---- datasets ---------------------------------------------------------- */

typedef struct store_dataset {
  char *id;
  char *name; /* NULL when none was given */
  char created_at[STORE_TIME_LEN];
  int64_t n_rows;
  char *summary_json;     /* NULL when none was stored or not asked for */
  unsigned char *content; /* NULL unless asked for; NUL-terminated at */
  size_t content_len;     /* content[content_len] for convenience */
} store_dataset;

/* Stores a dataset under its content id. content (content_len > 0 bytes,
 * the canonical dataset) is required; name and summary_json (valid JSON)
 * may be NULL. Idempotent: when id already exists with the same content
 * nothing changes (the first name, summary and created_at stay) and
 * *created is false; a new row sets it true. Returns STORE_OK,
 * STORE_CONFLICT (id exists with different content), STORE_INVALID (a bad
 * id, NULL content, n_rows < 0, invalid summary JSON, too big), STORE_BUSY,
 * STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_put_dataset(store *st, const char *id, const char *name,
                               int64_t n_rows, const char *summary_json,
                               const void *content, size_t content_len,
                               bool *created, store_err *err);

#define STORE_WITH_SUMMARY 1u
#define STORE_WITH_CONTENT 2u

/* Reads dataset id; `with` (STORE_WITH_SUMMARY | STORE_WITH_CONTENT) says
 * which of the large fields to load. Returns STORE_OK with *out set (free it
 * with store_dataset_free), or with *out NULL: STORE_NOT_FOUND,
 * STORE_INVALID (a bad id), STORE_BUSY, STORE_IO, STORE_CORRUPT or
 * STORE_NOMEM. */
store_status store_get_dataset(store *st, const char *id, unsigned with,
                               store_dataset **out, store_err *err);

void store_dataset_free(store_dataset *d);

/* Deletes dataset id (models fitted on it stay: a model needs only its own
 * row). Returns STORE_OK, STORE_NOT_FOUND, STORE_INVALID (a bad id),
 * STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_delete_dataset(store *st, const char *id, store_err *err);

typedef struct store_dataset_page {
  store_dataset *items; /* summaries included, content not loaded */
  size_t n;
  char *next; /* cursor for the following page, NULL on the last page */
} store_dataset_page;

/* One page of at most limit (1..STORE_LIST_MAX) datasets in (created_at, id)
 * order, starting after the opaque cursor `after` (NULL = the beginning; a
 * cursor is an earlier page's `next`, URL-safe). Rows never change once
 * written, so walking the pages sees every dataset that existed throughout
 * exactly once, whatever is inserted or deleted meanwhile (even the row the
 * cursor came from). Returns STORE_OK with *out set (possibly with n == 0),
 * or with *out NULL: STORE_INVALID (bad limit or malformed cursor),
 * STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_list_datasets(store *st, const char *after, size_t limit,
                                 store_dataset_page **out, store_err *err);

void store_dataset_page_free(store_dataset_page *p);

/* ---- models ------------------------------------------------------------ */

typedef struct store_model {
  char *id;
  char *dataset_id;
  char created_at[STORE_TIME_LEN];
  char *spec_json;
  char *result_json; /* NULL in lists */
  int64_t bytes;     /* strlen(result_json): its weight in the cache */
} store_model;

/* Stores a fitted model. dataset_id is plain text: the dataset of a model
 * fitted on inline data need not be stored. spec_json and result_json must
 * be valid JSON. Idempotent like store_put_dataset: same id with the same
 * dataset_id and spec leaves the first row (and its result) and sets
 * *created false. Returns STORE_OK, STORE_CONFLICT (id exists with another
 * dataset_id or spec), STORE_INVALID (a bad id or dataset id, missing or
 * invalid JSON), STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_put_model(store *st, const char *id, const char *dataset_id,
                             const char *spec_json, const char *result_json,
                             bool *created, store_err *err);

/* Reads model id with its result. Returns STORE_OK with *out set (free with
 * store_model_free), or with *out NULL: STORE_NOT_FOUND, STORE_INVALID,
 * STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_get_model(store *st, const char *id, store_model **out,
                             store_err *err);

void store_model_free(store_model *m);

/* Deletes model id. An alias pointing at it must be moved or deleted first.
 * Returns STORE_OK, STORE_NOT_FOUND, STORE_CONFLICT (an alias points at it;
 * err names the alias), STORE_INVALID, STORE_BUSY, STORE_IO, STORE_CORRUPT
 * or STORE_NOMEM. */
store_status store_delete_model(store *st, const char *id, store_err *err);

typedef struct store_model_page {
  store_model *items; /* spec included, result not loaded */
  size_t n;
  char *next; /* cursor for the following page, NULL on the last page */
} store_model_page;

/* Like store_list_datasets, for models; dataset_id (may be NULL) keeps only
 * the models fitted on that dataset. A cursor is only meaningful with the
 * same filter it was issued under. Returns as store_list_datasets does (a
 * bad dataset_id is STORE_INVALID). */
store_status store_list_models(store *st, const char *dataset_id,
                               const char *after, size_t limit,
                               store_model_page **out, store_err *err);

void store_model_page_free(store_model_page *p);

/* ---- aliases ----------------------------------------------------------- */

/* Points alias name at model_id, creating or moving it. *previous (when
 * previous is not NULL) receives the former target (caller frees) or NULL
 * when the alias is new. Returns STORE_OK, STORE_NOT_FOUND (no model
 * model_id: an alias never dangles), STORE_INVALID (bad name or id),
 * STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM; *previous is NULL on
 * every failure. */
store_status store_put_alias(store *st, const char *name, const char *model_id,
                             char **previous, store_err *err);

/* The model id alias name points at, in *model_id (caller frees). Returns
 * STORE_OK, or with *model_id NULL: STORE_NOT_FOUND, STORE_INVALID,
 * STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_get_alias(store *st, const char *name, char **model_id,
                             store_err *err);

/* Removes alias name. Returns STORE_OK, STORE_NOT_FOUND, STORE_INVALID,
 * STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_delete_alias(store *st, const char *name, store_err *err);

typedef struct store_alias {
  char *name;
  char *model_id;
  char updated_at[STORE_TIME_LEN];
} store_alias;

typedef struct store_alias_list {
  store_alias *items; /* ordered by name */
  size_t n;
} store_alias_list;

/* Every alias (there are few). Returns STORE_OK with *out set, or with *out
 * NULL: STORE_BUSY, STORE_IO, STORE_CORRUPT or STORE_NOMEM. */
store_status store_list_aliases(store *st, store_alias_list **out,
                                store_err *err);

void store_alias_list_free(store_alias_list *l);

/* ---- World Bank indicator cache --------------------------------------- */

typedef struct store_indicator_in {
  const char *country;   /* ISO3 or World Bank code, e.g. "KAZ" */
  const char *indicator; /* e.g. "NY.GDP.MKTP.CD" */
  int year;
  bool has_value;          /* false: the source has no value (stored as NULL) */
  double value;            /* finite when has_value */
  const char *lastupdated; /* the source's date text, may be NULL */
} store_indicator_in;

/* Upserts n values (n may be 0) in one transaction, all stamped with the
 * same fetched_at (now): either all are stored or none. Returns STORE_OK,
 * STORE_INVALID (vals NULL with n > 0, a bad country or indicator, a
 * non-finite value, lastupdated longer than STORE_LASTUPDATED_MAX - 1;
 * nothing is written), STORE_BUSY, STORE_IO, STORE_CORRUPT or
 * STORE_NOMEM. */
store_status store_put_indicator_values(store *st,
                                        const store_indicator_in *vals,
                                        size_t n, store_err *err);

typedef struct store_indicator_value {
  int year;
  bool has_value; /* false: stored as NULL; value is then NaN */
  double value;
  char lastupdated[STORE_LASTUPDATED_MAX]; /* "" when none */
  char fetched_at[STORE_TIME_LEN];
  int64_t fetched_unix; /* fetched_at in seconds since the epoch */
} store_indicator_value;

typedef struct store_indicator_values {
  store_indicator_value *items; /* ordered by year */
  size_t n;
} store_indicator_values;

/* The cached values of (country, indicator) for year_from..year_to
 * inclusive. Returns STORE_OK with *out set (n == 0 when nothing is cached:
 * a miss is not an error), or with *out NULL: STORE_INVALID (bad country or
 * indicator, year_from > year_to), STORE_BUSY, STORE_IO, STORE_CORRUPT or
 * STORE_NOMEM. */
store_status store_get_indicator_values(store *st, const char *country,
                                        const char *indicator, int year_from,
                                        int year_to,
                                        store_indicator_values **out,
                                        store_err *err);

void store_indicator_values_free(store_indicator_values *v);

#endif

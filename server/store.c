/* The SQLite store (store.h): a pool of connections, the schema and its
 * migration, cached prepared statements, and SQLite's errors mapped to
 * store_status. */
#include "store.h"
#include "api_json.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_BUSY_MS 5000u
#define DEFAULT_MAX_CONNS 8u
#define MAX_CONNS 64u

/* Every statement the store runs more than once, prepared on first use per
 * connection and kept for its life. */
enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_DS_INSERT,
  Q_DS_SAME,
  Q_DS_GET,
  Q_DS_DELETE,
  Q_DS_LIST,
  Q_DS_LIST_AFTER,
  Q_M_INSERT,
  Q_M_SAME,
  Q_M_GET,
  Q_M_EXISTS,
  Q_M_ALIASED,
  Q_M_DELETE,
  Q_M_LIST,
  Q_M_LIST_AFTER,
  Q_M_LIST_DS,
  Q_M_LIST_DS_AFTER,
  Q_AL_GET,
  Q_AL_UPSERT,
  Q_AL_DELETE,
  Q_AL_LIST,
  Q_IND_PUT,
  Q_IND_GET,
  Q_COUNT
};

/* Columns of a dataset row in every SELECT below: id, name, created_at,
 * n_rows, summary, content. List queries bind ?1 = limit, ?2/?3 = the
 * cursor's created_at/id, ?4 = the dataset filter. */
#define DS_COLS "id, name, created_at, n_rows, summary"
#define M_COLS "id, dataset_id, created_at, spec"

static const char *const sql_text[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_DS_INSERT] = "INSERT INTO datasets(id, name, created_at, n_rows, "
                    "summary, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                    "ON CONFLICT(id) DO NOTHING",
    [Q_DS_SAME] = "SELECT content = ?2 FROM datasets WHERE id = ?1",
    [Q_DS_GET] = "SELECT id, name, created_at, n_rows, NULL, "
                 "CASE WHEN ?2 THEN summary END, "
                 "CASE WHEN ?3 THEN content END FROM datasets WHERE id = ?1",
    [Q_DS_DELETE] = "DELETE FROM datasets WHERE id = ?1",
    [Q_DS_LIST] = "SELECT " DS_COLS " FROM datasets "
                  "ORDER BY created_at, id LIMIT ?1",
    [Q_DS_LIST_AFTER] = "SELECT " DS_COLS " FROM datasets "
                        "WHERE (created_at, id) > (?2, ?3) "
                        "ORDER BY created_at, id LIMIT ?1",
    [Q_M_INSERT] = "INSERT INTO models(id, dataset_id, spec, result, "
                   "created_at, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                   "ON CONFLICT(id) DO NOTHING",
    [Q_M_SAME] = "SELECT dataset_id = ?2 AND spec = ?3 FROM models "
                 "WHERE id = ?1",
    [Q_M_GET] = "SELECT " M_COLS ", bytes, result FROM models WHERE id = ?1",
    [Q_M_EXISTS] = "SELECT 1 FROM models WHERE id = ?1",
    [Q_M_ALIASED] = "SELECT name FROM aliases WHERE model_id = ?1 "
                    "ORDER BY name LIMIT 1",
    [Q_M_DELETE] = "DELETE FROM models WHERE id = ?1",
    [Q_M_LIST] = "SELECT " M_COLS ", bytes FROM models "
                 "ORDER BY created_at, id LIMIT ?1",
    [Q_M_LIST_AFTER] = "SELECT " M_COLS ", bytes FROM models "
                       "WHERE (created_at, id) > (?2, ?3) "
                       "ORDER BY created_at, id LIMIT ?1",
    [Q_M_LIST_DS] = "SELECT " M_COLS ", bytes FROM models "
                    "WHERE dataset_id = ?4 ORDER BY created_at, id LIMIT ?1",
    [Q_M_LIST_DS_AFTER] = "SELECT " M_COLS ", bytes FROM models "
                          "WHERE dataset_id = ?4 AND "
                          "(created_at, id) > (?2, ?3) "
                          "ORDER BY created_at, id LIMIT ?1",
    [Q_AL_GET] = "SELECT model_id FROM aliases WHERE name = ?1",
    [Q_AL_UPSERT] = "INSERT INTO aliases(name, model_id, updated_at) "
                    "VALUES (?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET "
                    "model_id = excluded.model_id, "
                    "updated_at = excluded.updated_at",
    [Q_AL_DELETE] = "DELETE FROM aliases WHERE name = ?1",
    [Q_AL_LIST] = "SELECT name, model_id, updated_at FROM aliases "
                  "ORDER BY name",
    [Q_IND_PUT] = "INSERT INTO indicator_cache(country, indicator, year, "
                  "value, lastupdated, fetched_at) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                  "ON CONFLICT(country, indicator, year) DO UPDATE SET "
                  "value = excluded.value, "
                  "lastupdated = excluded.lastupdated, "
                  "fetched_at = excluded.fetched_at",
    [Q_IND_GET] = "SELECT year, value, lastupdated, fetched_at, "
                  "CAST(strftime('%s', fetched_at) AS INTEGER) "
                  "FROM indicator_cache WHERE country = ?1 AND "
                  "indicator = ?2 AND year BETWEEN ?3 AND ?4 ORDER BY year",
};

/* The schema (version 2). Models carry no foreign key to datasets: a model
 * fitted on inline data names a dataset that need not be stored. Aliases do
 * reference models, so an alias can never point at nothing. The CHECKs keep
 * text that is not JSON out of the small JSON columns; a model's result,
 * which can be tens of megabytes, is checked by store_put_model instead
 * (see upgrade_to_2). */
static const char schema_v2[] =
    "CREATE TABLE datasets ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " name TEXT,"
    " created_at TEXT NOT NULL,"
    " n_rows INTEGER NOT NULL CHECK (n_rows >= 0),"
    " summary TEXT CHECK (summary IS NULL OR json_valid(summary)),"
    " content BLOB NOT NULL);"
    "CREATE INDEX datasets_by_time ON datasets(created_at, id);"
    "CREATE TABLE models ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " dataset_id TEXT NOT NULL,"
    " spec TEXT NOT NULL CHECK (json_valid(spec)),"
    " result TEXT NOT NULL,"
    " created_at TEXT NOT NULL,"
    " bytes INTEGER NOT NULL);"
    "CREATE INDEX models_by_time ON models(created_at, id);"
    "CREATE INDEX models_by_dataset ON models(dataset_id, created_at, id);"
    "CREATE TABLE aliases ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " model_id TEXT NOT NULL REFERENCES models(id) ON DELETE RESTRICT,"
    " updated_at TEXT NOT NULL);"
    "CREATE INDEX aliases_by_model ON aliases(model_id);"
    "CREATE TABLE indicator_cache ("
    " country TEXT NOT NULL,"
    " indicator TEXT NOT NULL,"
    " year INTEGER NOT NULL,"
    " value REAL,"
    " lastupdated TEXT,"
    " fetched_at TEXT NOT NULL,"
    " PRIMARY KEY (country, indicator, year)) WITHOUT ROWID;";

typedef struct conn {
  sqlite3 *db;
  sqlite3_stmt *q[Q_COUNT];
} conn;

struct store {
  char *path;
  unsigned busy_ms;
  unsigned max_conns;
  pthread_mutex_t mu; /* guards idle, n_idle, n_open */
  pthread_cond_t cv;  /* signalled when a connection is returned */
  conn *idle[MAX_CONNS];
  unsigned n_idle;
  unsigned n_open;
  /* Serialises this process's write transactions, so they queue here in
   * order rather than polling SQLite's lock in the busy handler. */
  pthread_mutex_t wmu;
};

/* ---- errors ------------------------------------------------------------ */

const char *store_status_name(store_status s) {
  switch (s) {
  case STORE_OK: return "ok";
  case STORE_NOT_FOUND: return "not_found";
  case STORE_CONFLICT: return "conflict";
  case STORE_BUSY: return "busy";
  case STORE_IO: return "io";
  case STORE_CORRUPT: return "corrupt";
  case STORE_NOMEM: return "nomem";
  case STORE_INVALID: return "invalid";
  }
  return "unknown";
}

__attribute__((format(printf, 3, 4))) static store_status
fail(store_err *err, store_status s, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->status = s;
    if (vsnprintf(err->msg, sizeof err->msg, fmt, ap) < 0) err->msg[0] = '\0';
    va_end(ap);
  }
  return s;
}

static store_status ok(store_err *err) {
  if (err) {
    err->status = STORE_OK;
    err->msg[0] = '\0';
  }
  return STORE_OK;
}

static store_status map_rc(int rc) {
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return STORE_BUSY;
  case SQLITE_NOMEM: return STORE_NOMEM;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB: return STORE_CORRUPT;
  case SQLITE_CONSTRAINT:
    return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? STORE_CONFLICT : STORE_INVALID;
  case SQLITE_TOOBIG:
  case SQLITE_MISMATCH:
  case SQLITE_RANGE: return STORE_INVALID;
  default: return STORE_IO;
  }
}

/* Reports SQLite's failure rc of `what` on c (whose message is the latest
 * one, as each connection belongs to one thread at a time). */
static store_status db_fail(store_err *err, const conn *c, int rc,
                            const char *what) {
  const char *msg = c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
  return fail(err, map_rc(rc), "%s: %s (sqlite %d)", what, msg, rc);
}

/* ---- small helpers ----------------------------------------------------- */

static bool key_ok(const char *s) {
  if (!s) return false;
  size_t n = 0;
  for (; s[n]; n++) {
    unsigned char ch = (unsigned char)s[n];
    if (n >= STORE_KEY_MAX) return false;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
      return false;
  }
  return n > 0;
}

/* The current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ": fixed width, so the
 * text sorts in time order. */
static void now_text(char out[STORE_TIME_LEN]) {
  struct timespec ts;
  struct tm tm;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm)) {
    memset(&tm, 0, sizeof tm);
    tm.tm_year = 70;
    tm.tm_mday = 1;
    ts.tv_nsec = 0;
  }
  int year = tm.tm_year + 1900;
  if (year < 0) year = 0;
  if (year > 9999) year = 9999;
  if (snprintf(out, STORE_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               (int)(ts.tv_nsec / 1000000)) < 0)
    out[0] = '\0';
}

static void deadline(struct timespec *ts, clockid_t clk, unsigned ms) {
  clock_gettime(clk, ts);
  ts->tv_sec += (time_t)(ms / 1000u);
  ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static char *dup_mem(const void *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s) return NULL;
  if (n) memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

/* Copies text column i into *out (NULL for SQL NULL). Returns false when
 * memory ran out. */
static bool col_text(sqlite3_stmt *q, int i, char **out) {
  *out = NULL;
  if (sqlite3_column_type(q, i) == SQLITE_NULL) return true;
  const unsigned char *t = sqlite3_column_text(q, i);
  if (!t) return false;
  *out = dup_mem(t, (size_t)sqlite3_column_bytes(q, i));
  return *out != NULL;
}

/* Copies text column i into a fixed buffer, truncating; "" for NULL. */
static void col_fixed(sqlite3_stmt *q, int i, char *out, size_t cap) {
  const unsigned char *t = sqlite3_column_text(q, i);
  size_t n = t ? (size_t)sqlite3_column_bytes(q, i) : 0;
  if (n >= cap) n = cap - 1;
  if (n) memcpy(out, t, n);
  out[n] = '\0';
}

/* ---- connections ------------------------------------------------------- */

static void conn_close(conn *c) {
  if (!c) return;
  for (int i = 0; i < Q_COUNT; i++)
    sqlite3_finalize(c->q[i]);
  sqlite3_close(c->db);
  free(c);
}

/* The statement q of c, prepared on first use; reset before it is returned
 * so a previous failure leaves no trace. */
static int prep(conn *c, int q, sqlite3_stmt **out) {
  *out = NULL;
  /* c is a checked-out connection: write_begin and checkout set it whenever
   * they answer STORE_OK. The analyzer does not follow their error paths
   * into fail (variadic, so never inlined), which return other codes. */
  // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
  if (!c->q[q]) {
    int rc = sqlite3_prepare_v3(c->db, sql_text[q], -1,
                                SQLITE_PREPARE_PERSISTENT, &c->q[q], NULL);
    if (rc != SQLITE_OK) return rc;
  }
  *out = c->q[q];
  return SQLITE_OK;
}

/* Steps q for the next row of a loop: SQLITE_OK when a row is there,
 * SQLITE_DONE at the end, or the error. */
static int step_row(sqlite3_stmt *q) {
  int rc = sqlite3_step(q);
  return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Leaves a statement ready for its next use and its bound buffers free. */
static void done(sqlite3_stmt *q) {
  if (!q) return;
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
}

static int exec_q(conn *c, int q) {
  sqlite3_stmt *s;
  int rc = prep(c, q, &s);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(s);
  done(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Opens one connection with the per-connection settings. */
static store_status conn_open(const store *st, conn **out, store_err *err) {
  *out = NULL;
  conn *c = calloc(1, sizeof *c);
  if (!c) return fail(err, STORE_NOMEM, "out of memory opening the store");
  int rc = sqlite3_open_v2(
      st->path, &c->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    store_status s =
        c->db ? fail(err, map_rc(rc) == STORE_NOMEM ? STORE_NOMEM : STORE_IO,
                     "cannot open %s: %s (sqlite %d)", st->path,
                     sqlite3_errmsg(c->db), rc)
              : fail(err, STORE_NOMEM, "cannot open %s: %s", st->path,
                     sqlite3_errstr(rc));
    conn_close(c);
    return s;
  }
  sqlite3_extended_result_codes(c->db, 1);
  sqlite3_busy_timeout(c->db, (int)st->busy_ms);
  /* synchronous=FULL: in WAL mode every commit is synced, so an
   * acknowledged write survives power loss, not only a crash. */
  rc = sqlite3_exec(c->db,
                    "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
                    NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    store_status s =
        map_rc(rc) == STORE_CORRUPT
            ? fail(err, STORE_CORRUPT, "%s is not a usable database: %s",
                   st->path, sqlite3_errmsg(c->db))
            : db_fail(err, c, rc, "configuring a connection");
    conn_close(c);
    return s;
  }
  *out = c;
  return STORE_OK;
}

/* Takes an idle connection, opens a new one below the bound, or waits up to
 * busy_ms for one to come back. */
static store_status checkout(store *st, conn **out, store_err *err) {
  *out = NULL;
  struct timespec until;
  deadline(&until, CLOCK_MONOTONIC, st->busy_ms);
  pthread_mutex_lock(&st->mu);
  while (st->n_idle == 0 && st->n_open >= st->max_conns) {
    int rc = pthread_cond_timedwait(&st->cv, &st->mu, &until);
    if (rc == ETIMEDOUT && st->n_idle == 0 && st->n_open >= st->max_conns) {
      pthread_mutex_unlock(&st->mu);
      return fail(err, STORE_BUSY, "all %u store connections stayed busy",
                  st->max_conns);
    }
  }
  if (st->n_idle > 0) {
    *out = st->idle[--st->n_idle];
    pthread_mutex_unlock(&st->mu);
    return STORE_OK;
  }
  st->n_open++; /* reserve the slot; open outside the lock */
  pthread_mutex_unlock(&st->mu);
  store_status s = conn_open(st, out, err);
  if (s != STORE_OK) {
    pthread_mutex_lock(&st->mu);
    st->n_open--;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
  }
  return s;
}

static void checkin(store *st, conn *c) {
  if (!c) return;
  /* A failed call may have left its transaction open; the next user of the
   * connection must start clean. */
  if (!sqlite3_get_autocommit(c->db)) exec_q(c, Q_ROLLBACK);
  pthread_mutex_lock(&st->mu);
  st->idle[st->n_idle++] = c;
  pthread_cond_signal(&st->cv);
  pthread_mutex_unlock(&st->mu);
}

/* Starts a write: the process's writer mutex, a connection, and BEGIN
 * IMMEDIATE (which takes SQLite's write lock at once, so a busy database is
 * waited for by the busy handler instead of failing halfway). */
static store_status write_begin(store *st, conn **out, store_err *err) {
  *out = NULL;
  struct timespec until;
  deadline(&until, CLOCK_REALTIME, st->busy_ms);
  int rc = pthread_mutex_timedlock(&st->wmu, &until);
  if (rc != 0)
    return fail(err, STORE_BUSY, "waited %u ms for the store's writer lock",
                st->busy_ms);
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) {
    pthread_mutex_unlock(&st->wmu);
    return s;
  }
  rc = exec_q(c, Q_BEGIN);
  if (rc != SQLITE_OK) {
    s = db_fail(err, c, rc, "beginning a write");
    checkin(st, c);
    pthread_mutex_unlock(&st->wmu);
    return s;
  }
  *out = c;
  return STORE_OK;
}

/* Ends a write: commits when s is STORE_OK (a failed commit becomes the
 * result), rolls back otherwise. Returns the final status. */
static store_status write_end(store *st, conn *c, store_status s,
                              store_err *err) {
  if (s == STORE_OK) {
    int rc = exec_q(c, Q_COMMIT);
    if (rc != SQLITE_OK) s = db_fail(err, c, rc, "committing");
  }
  checkin(st, c); /* rolls back whatever is still open */
  pthread_mutex_unlock(&st->wmu);
  return s;
}

/* ---- open, migrate, close ---------------------------------------------- */

/* mkdir -p: creates dir and its missing parents. */
static store_status make_dirs(const char *dir, store_err *err) {
  /* The walk below starts after the first byte (store_open refuses "" too,
   * which the analyzer does not carry over to strlen). */
  size_t len = strlen(dir);
  if (len == 0) return fail(err, STORE_INVALID, "no directory");
  char *p = dup_mem(dir, len);
  if (!p) return fail(err, STORE_NOMEM, "out of memory");
  store_status s = STORE_OK;
  for (char *q = p + 1;; q++) {
    if (*q != '/' && *q != '\0') continue;
    char saved = *q;
    *q = '\0';
    if (mkdir(p, 0750) != 0 && errno != EEXIST) {
      s = fail(err, STORE_IO, "cannot create directory %s: %s", p,
               strerror(errno));
      break;
    }
    *q = saved;
    if (saved == '\0') break;
  }
  if (s == STORE_OK) {
    struct stat sb;
    if (stat(dir, &sb) != 0)
      s = fail(err, STORE_IO, "cannot use directory %s: %s", dir,
               strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
      s = fail(err, STORE_IO, "%s exists and is not a directory", dir);
  }
  free(p);
  return s;
}

static int pragma_int(conn *c, const char *sql, int64_t *out) {
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(c->db, sql, -1, &q, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int64(q, 0);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      *out = 0;
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(q);
  return rc;
}

/* Version 1 had CHECK (json_valid(result)) on models. SQLite's json_valid
 * builds a parse tree of the whole text: 0.13-0.2 s of CPU for the 18.8 MB
 * answer of a 100,000-row model, most of the cost of storing it.
 * store_put_model checks the result with api_json_valid instead (one pass,
 * no allocation). Dropping a CHECK leaves every stored record as it is, so
 * the table's definition is edited in place, inside the migration's
 * transaction, by the procedure SQLite documents for such changes
 * (lang_altertable.html, "Making Other Kinds Of Table Schema Changes"):
 * writable_schema, one more schema_version, then a check of the file. */
static store_status upgrade_to_2(store *st, conn *c, store_err *err) {
  static const char old_col[] =
      " result TEXT NOT NULL CHECK (json_valid(result)),";
  static const char new_col[] = " result TEXT NOT NULL,";
  int64_t cookie = 0, changed = 0, ok = 0;
  char sql[160];
  int rc = pragma_int(c, "PRAGMA schema_version", &cookie);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(c->db, "PRAGMA writable_schema = ON", NULL, NULL, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_stmt *q = NULL;
    rc = sqlite3_prepare_v2(
        c->db,
        "UPDATE sqlite_schema SET sql = replace(sql, ?1, ?2) "
        "WHERE type = 'table' AND name = 'models' AND instr(sql, ?1) > 0",
        -1, &q, NULL);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 1, old_col, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 2, new_col, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
      changed = sqlite3_changes(c->db);
    }
    sqlite3_finalize(q);
  }
  if (rc == SQLITE_OK && changed == 1) {
    snprintf(sql, sizeof sql, "PRAGMA schema_version = %lld",
             (long long)cookie + 1);
    rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
  }
  int off =
      sqlite3_exec(c->db, "PRAGMA writable_schema = OFF", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = off;
  if (rc != SQLITE_OK) return db_fail(err, c, rc, "upgrading the schema to 2");
  if (changed != 1)
    return fail(err, STORE_INVALID,
                "%s: version 1 store whose models table is not as created",
                st->path);
  rc = pragma_int(c, "SELECT quick_check = 'ok' FROM pragma_quick_check", &ok);
  if (rc != SQLITE_OK) return db_fail(err, c, rc, "checking the upgrade");
  if (!ok)
    return fail(err, STORE_CORRUPT, "%s: check failed after the upgrade",
                st->path);
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
  rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) return db_fail(err, c, rc, "upgrading the schema to 2");
  return STORE_OK;
}

/* Checks that the file is ours (or empty), switches it to WAL, and creates
 * or upgrades the schema inside one write transaction, so that two
 * processes opening a new store at once cannot both create it. */
static store_status migrate(store *st, conn *c, store_err *err) {
  int64_t app = 0, version = 0, tables = 0;
  /* Reading the header first also tells a non-database file apart. */
  int rc = pragma_int(c, "PRAGMA application_id", &app);
  if (rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
      return fail(err, STORE_CORRUPT, "%s is not a usable database: %s",
                  st->path, sqlite3_errmsg(c->db));
    return db_fail(err, c, rc, "reading the store header");
  }
  if (app != 0 && app != STORE_APPLICATION_ID)
    return fail(err, STORE_INVALID,
                "%s is not a Gravitas store (application_id %lld)", st->path,
                (long long)app);

  sqlite3_stmt *q = NULL;
  rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &q, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc != SQLITE_ROW) {
    store_status s = db_fail(err, c, rc, "switching to WAL");
    sqlite3_finalize(q);
    return s;
  }
  const unsigned char *mode = sqlite3_column_text(q, 0);
  bool wal = mode && strcmp((const char *)mode, "wal") == 0;
  sqlite3_finalize(q);
  if (!wal)
    return fail(err, STORE_IO, "%s cannot use WAL journaling", st->path);

  rc = exec_q(c, Q_BEGIN);
  if (rc != SQLITE_OK) return db_fail(err, c, rc, "beginning the migration");
  store_status s = STORE_OK;
  rc = pragma_int(c, "PRAGMA user_version", &version);
  if (rc == SQLITE_OK)
    rc = pragma_int(c, "SELECT count(*) FROM sqlite_schema", &tables);
  if (rc != SQLITE_OK) {
    s = db_fail(err, c, rc, "reading the schema version");
  } else if (version > STORE_SCHEMA_VERSION) {
    s = fail(err, STORE_INVALID,
             "%s has schema version %lld; this build knows up to %d", st->path,
             (long long)version, STORE_SCHEMA_VERSION);
  } else if (version == 0 && tables > 0) {
    s = fail(err, STORE_INVALID, "%s holds other tables: not a Gravitas store",
             st->path);
  } else if (version == 0) {
    char pragmas[96];
    if (snprintf(pragmas, sizeof pragmas,
                 "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                 STORE_APPLICATION_ID, STORE_SCHEMA_VERSION) < 0)
      pragmas[0] = '\0';
    rc = sqlite3_exec(c->db, schema_v2, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK) s = db_fail(err, c, rc, "creating the schema");
  }
  /* Older versions are upgraded here, one step at a time. */
  if (s == STORE_OK && version == 1) s = upgrade_to_2(st, c, err);
  if (s == STORE_OK) {
    rc = exec_q(c, Q_COMMIT);
    if (rc != SQLITE_OK) s = db_fail(err, c, rc, "committing the migration");
  }
  if (s != STORE_OK && !sqlite3_get_autocommit(c->db))
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  return s;
}

store_status store_open(const char *dir, const store_options *opts, store **out,
                        store_err *err) {
  store *st = NULL;
  conn *c = NULL;
  store_status s = STORE_OK;
  bool sync_ready = false, cv_ready = false, wmu_ready = false;
  if (out) *out = NULL;
  if (!out || !dir || !*dir)
    return fail(err, STORE_INVALID, "store_open needs a directory");
  if (!sqlite3_threadsafe())
    return fail(err, STORE_INVALID, "SQLite was built without threads");

  s = make_dirs(dir, err);
  if (s != STORE_OK) return s;
  st = calloc(1, sizeof *st);
  if (!st) return fail(err, STORE_NOMEM, "out of memory opening the store");
  size_t len = strlen(dir) + sizeof "/" STORE_FILE_NAME;
  st->path = malloc(len);
  if (!st->path) {
    s = fail(err, STORE_NOMEM, "out of memory opening the store");
    goto cleanup;
  }
  if (snprintf(st->path, len, "%s/%s", dir, STORE_FILE_NAME) < 0) {
    s = fail(err, STORE_INVALID, "bad directory name");
    goto cleanup;
  }
  st->busy_ms =
      opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : DEFAULT_BUSY_MS;
  st->max_conns =
      opts && opts->max_connections ? opts->max_connections : DEFAULT_MAX_CONNS;
  if (st->max_conns > MAX_CONNS) st->max_conns = MAX_CONNS;
  if (st->busy_ms > (unsigned)INT32_MAX) st->busy_ms = (unsigned)INT32_MAX;

  pthread_condattr_t ca;
  if (pthread_mutex_init(&st->mu, NULL) != 0 ||
      pthread_mutex_init(&st->wmu, NULL) != 0) {
    s = fail(err, STORE_NOMEM, "cannot create the store's mutexes");
    goto cleanup;
  }
  sync_ready = wmu_ready = true;
  if (pthread_condattr_init(&ca) != 0) {
    s = fail(err, STORE_NOMEM, "cannot create the store's condition");
    goto cleanup;
  }
  /* The wait for a free connection is measured on the monotonic clock so a
   * clock step cannot stretch or cut it. */
  int crc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (crc == 0) crc = pthread_cond_init(&st->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (crc != 0) {
    s = fail(err, STORE_NOMEM, "cannot create the store's condition");
    goto cleanup;
  }
  cv_ready = true;

  s = conn_open(st, &c, err);
  if (s != STORE_OK) goto cleanup;
  s = migrate(st, c, err);
  if (s != STORE_OK) goto cleanup;
  st->idle[0] = c;
  st->n_idle = st->n_open = 1;
  c = NULL;
  *out = st;
  st = NULL;
  s = ok(err);

cleanup:
  conn_close(c);
  if (st) {
    if (sync_ready) pthread_mutex_destroy(&st->mu);
    if (wmu_ready) pthread_mutex_destroy(&st->wmu);
    if (cv_ready) pthread_cond_destroy(&st->cv);
    free(st->path);
    free(st);
  }
  return s;
}

void store_close(store *st) {
  if (!st) return;
  /* Fold the WAL back into the database file so the directory holds one
   * self-contained file; SQLite would also do it at the last close, but a
   * TRUNCATE checkpoint leaves no large -wal file behind. */
  if (st->n_idle > 0)
    sqlite3_exec(st->idle[0]->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL,
                 NULL);
  for (unsigned i = 0; i < st->n_idle; i++)
    conn_close(st->idle[i]);
  pthread_mutex_destroy(&st->mu);
  pthread_mutex_destroy(&st->wmu);
  pthread_cond_destroy(&st->cv);
  free(st->path);
  free(st);
}

store_status store_integrity_check(store *st, store_err *err) {
  if (!st) return fail(err, STORE_INVALID, "no store");
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) return s;
  sqlite3_stmt *q = NULL;
  int rc = sqlite3_prepare_v2(c->db, "PRAGMA integrity_check(1)", -1, &q, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc != SQLITE_ROW) {
    s = db_fail(err, c, rc, "running integrity_check");
  } else {
    const unsigned char *t = sqlite3_column_text(q, 0);
    if (t && strcmp((const char *)t, "ok") == 0)
      s = ok(err);
    else
      s = fail(err, STORE_CORRUPT, "integrity_check: %s",
               t ? (const char *)t : "(no answer)");
  }
  sqlite3_finalize(q);
  checkin(st, c);
  return s;
}

/* ---- cursors ----------------------------------------------------------- */

/* A cursor is "<created_at>~<id>" of the last row of a page: every
 * character is URL-safe, and (created_at, id) is the sort key, so the next
 * page starts strictly after it even when that row is gone. */
static char *cursor_make(const char *created_at, const char *id) {
  size_t a = strlen(created_at), b = strlen(id);
  char *s = malloc(a + b + 2);
  if (!s) return NULL;
  /* The copy of id below, with its '\0', ends the string. */
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
  memcpy(s, created_at, a);
  s[a] = '~';
  memcpy(s + a + 1, id, b + 1);
  return s;
}

static bool cursor_parse(const char *cur, char time[STORE_TIME_LEN],
                         char id[STORE_KEY_MAX + 1]) {
  const char *tilde = strchr(cur, '~');
  if (!tilde || (size_t)(tilde - cur) != STORE_TIME_LEN - 1) return false;
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (size_t i = 0; i < STORE_TIME_LEN - 1; i++) {
    char ch = cur[i];
    if (shape[i] == 'd' ? (ch < '0' || ch > '9') : ch != shape[i]) return false;
  }
  if (!key_ok(tilde + 1)) return false;
  memcpy(time, cur, STORE_TIME_LEN - 1);
  time[STORE_TIME_LEN - 1] = '\0';
  size_t n = strlen(tilde + 1);
  memcpy(id, tilde + 1, n + 1);
  return true;
}

/* ---- datasets ---------------------------------------------------------- */

store_status store_put_dataset(store *st, const char *id, const char *name,
                               int64_t n_rows, const char *summary_json,
                               const void *content, size_t content_len,
                               bool *created, store_err *err) {
  if (created) *created = false;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(id)) return fail(err, STORE_INVALID, "bad dataset id");
  if (!content || content_len == 0)
    return fail(err, STORE_INVALID, "dataset %s has no content", id);
  if (n_rows < 0)
    return fail(err, STORE_INVALID, "dataset %s: negative row count", id);
  char now[STORE_TIME_LEN];
  now_text(now);
  conn *c;
  store_status s = write_begin(st, &c, err);
  if (s != STORE_OK) return s;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_DS_INSERT, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = name ? sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC)
              : sqlite3_bind_null(q, 2);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 3, now, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 4, n_rows);
  if (rc == SQLITE_OK)
    rc = summary_json ? sqlite3_bind_text(q, 5, summary_json, -1, SQLITE_STATIC)
                      : sqlite3_bind_null(q, 5);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_blob64(q, 6, content, content_len, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc != SQLITE_DONE) {
    s = db_fail(err, c, rc, "storing a dataset");
    done(q);
    return write_end(st, c, s, err);
  }
  bool inserted = sqlite3_changes(c->db) > 0;
  done(q);
  if (!inserted) {
    /* The id exists: the same content is a repeat, other content means two
     * inputs claim one id, which must never be papered over. */
    rc = prep(c, Q_DS_SAME, &q);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_blob64(q, 2, content, content_len, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc != SQLITE_ROW)
      s = db_fail(err, c, rc, "comparing a stored dataset");
    else if (sqlite3_column_int(q, 0) != 1)
      s = fail(err, STORE_CONFLICT,
               "dataset %s is already stored with other content", id);
    done(q);
  }
  s = write_end(st, c, s, err);
  if (s == STORE_OK) {
    if (created) *created = inserted;
    ok(err);
  }
  return s;
}

void store_dataset_free(store_dataset *d) {
  if (!d) return;
  free(d->id);
  free(d->name);
  free(d->summary_json);
  free(d->content);
  free(d);
}

/* Fills d from a row of DS_COLS (columns 0..4). Returns false when memory
 * ran out (d may then be partly filled; free its fields). */
static bool dataset_row(sqlite3_stmt *q, store_dataset *d, bool summary) {
  if (!col_text(q, 0, &d->id) || !col_text(q, 1, &d->name)) return false;
  col_fixed(q, 2, d->created_at, sizeof d->created_at);
  d->n_rows = sqlite3_column_int64(q, 3);
  return !summary || col_text(q, 4, &d->summary_json);
}

store_status store_get_dataset(store *st, const char *id, unsigned with,
                               store_dataset **out, store_err *err) {
  if (!out) return fail(err, STORE_INVALID, "no output");
  *out = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(id)) return fail(err, STORE_INVALID, "bad dataset id");
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) return s;
  store_dataset *d = NULL;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_DS_GET, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int(q, 2, (with & STORE_WITH_SUMMARY) != 0);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int(q, 3, (with & STORE_WITH_CONTENT) != 0);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) {
    s = fail(err, STORE_NOT_FOUND, "no dataset %s", id);
    goto cleanup;
  }
  if (rc != SQLITE_ROW) {
    s = db_fail(err, c, rc, "reading a dataset");
    goto cleanup;
  }
  d = calloc(1, sizeof *d);
  if (!d || !dataset_row(q, d, false) || !col_text(q, 5, &d->summary_json)) {
    s = fail(err, STORE_NOMEM, "out of memory reading dataset %s", id);
    goto cleanup;
  }
  if (sqlite3_column_type(q, 6) != SQLITE_NULL) {
    const void *b = sqlite3_column_blob(q, 6);
    size_t n = (size_t)sqlite3_column_bytes(q, 6);
    d->content = (unsigned char *)((b || n == 0) ? dup_mem(b, n) : NULL);
    if (!d->content) {
      s = fail(err, STORE_NOMEM, "out of memory reading dataset %s", id);
      goto cleanup;
    }
    d->content_len = n;
  }
  *out = d;
  d = NULL;
  s = ok(err);
cleanup:
  store_dataset_free(d);
  done(q);
  checkin(st, c);
  return s;
}

/* Runs a one-row DELETE (query qid with ?1 = key) as its own write.
 * Returns STORE_OK when a row went, STORE_NOT_FOUND when none was there. */
static store_status delete_one(store *st, int qid, const char *what,
                               const char *key, store_err *err) {
  conn *c;
  store_status s = write_begin(st, &c, err);
  if (s != STORE_OK) return s;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, qid, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc != SQLITE_DONE)
    s = db_fail(err, c, rc, "deleting");
  else if (sqlite3_changes(c->db) == 0)
    s = fail(err, STORE_NOT_FOUND, "no %s %s", what, key);
  done(q);
  /* Nothing changed on NOT_FOUND, so rolling back loses nothing. */
  s = write_end(st, c, s, err);
  return s == STORE_OK ? ok(err) : s;
}

store_status store_delete_dataset(store *st, const char *id, store_err *err) {
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(id)) return fail(err, STORE_INVALID, "bad dataset id");
  return delete_one(st, Q_DS_DELETE, "dataset", id, err);
}

void store_dataset_page_free(store_dataset_page *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) {
    free(p->items[i].id);
    free(p->items[i].name);
    free(p->items[i].summary_json);
  }
  free(p->items);
  free(p->next);
  free(p);
}

/* Binds the list parameters common to datasets and models. */
static int bind_page(sqlite3_stmt *q, size_t limit, const char *after,
                     const char *time, const char *id) {
  /* One row more than asked tells whether another page follows. */
  int rc = sqlite3_bind_int64(q, 1, (sqlite3_int64)limit + 1);
  if (rc == SQLITE_OK && after)
    rc = sqlite3_bind_text(q, 2, time, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK && after)
    rc = sqlite3_bind_text(q, 3, id, -1, SQLITE_STATIC);
  return rc;
}

store_status store_list_datasets(store *st, const char *after, size_t limit,
                                 store_dataset_page **out, store_err *err) {
  if (!out) return fail(err, STORE_INVALID, "no output");
  *out = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (limit == 0 || limit > STORE_LIST_MAX)
    return fail(err, STORE_INVALID, "limit must be 1..%d", STORE_LIST_MAX);
  char ctime[STORE_TIME_LEN], cid[STORE_KEY_MAX + 1];
  if (after && !cursor_parse(after, ctime, cid))
    return fail(err, STORE_INVALID, "malformed cursor");
  store_dataset_page *p = calloc(1, sizeof *p);
  if (p) p->items = calloc(limit, sizeof *p->items);
  if (!p || !p->items) {
    store_dataset_page_free(p);
    return fail(err, STORE_NOMEM, "out of memory listing datasets");
  }
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) {
    store_dataset_page_free(p);
    return s;
  }
  sqlite3_stmt *q = NULL;
  int rc = prep(c, after ? Q_DS_LIST_AFTER : Q_DS_LIST, &q);
  if (rc == SQLITE_OK) rc = bind_page(q, limit, after, ctime, cid);
  bool more = false;
  while (rc == SQLITE_OK && (rc = step_row(q)) == SQLITE_OK) {
    if (p->n == limit) {
      more = true;
      break;
    }
    store_dataset *d = &p->items[p->n++];
    if (!dataset_row(q, d, true)) {
      s = fail(err, STORE_NOMEM, "out of memory listing datasets");
      goto cleanup;
    }
  }
  if (!more && rc != SQLITE_DONE) {
    s = db_fail(err, c, rc, "listing datasets");
    goto cleanup;
  }
  if (more) {
    const store_dataset *last = &p->items[p->n - 1];
    p->next = cursor_make(last->created_at, last->id);
    if (!p->next) {
      s = fail(err, STORE_NOMEM, "out of memory listing datasets");
      goto cleanup;
    }
  }
  *out = p;
  p = NULL;
  s = ok(err);
cleanup:
  store_dataset_page_free(p);
  done(q);
  checkin(st, c);
  return s;
}

/* ---- models ------------------------------------------------------------ */

store_status store_put_model(store *st, const char *id, const char *dataset_id,
                             const char *spec_json, const char *result_json,
                             bool *created, store_err *err) {
  if (created) *created = false;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(id)) return fail(err, STORE_INVALID, "bad model id");
  if (!key_ok(dataset_id))
    return fail(err, STORE_INVALID, "model %s: bad dataset id", id);
  if (!spec_json || !result_json)
    return fail(err, STORE_INVALID, "model %s needs a spec and a result", id);
  char now[STORE_TIME_LEN];
  now_text(now);
  size_t bytes = strlen(result_json);
  if (!api_json_valid(result_json, bytes))
    return fail(err, STORE_INVALID, "model %s: the result is not JSON", id);
  conn *c;
  store_status s = write_begin(st, &c, err);
  if (s != STORE_OK) return s;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_M_INSERT, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 2, dataset_id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 3, spec_json, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text64(q, 4, result_json, bytes, SQLITE_STATIC,
                             SQLITE_UTF8);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 5, now, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, 6, (sqlite3_int64)bytes);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc != SQLITE_DONE) {
    s = db_fail(err, c, rc, "storing a model");
    done(q);
    return write_end(st, c, s, err);
  }
  bool inserted = sqlite3_changes(c->db) > 0;
  done(q);
  if (!inserted) {
    /* A repeat keeps the first result: a refit of the same (dataset, spec)
     * may differ in the last bits, and the id already names that one. */
    rc = prep(c, Q_M_SAME, &q);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 2, dataset_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 3, spec_json, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc != SQLITE_ROW)
      s = db_fail(err, c, rc, "comparing a stored model");
    else if (sqlite3_column_int(q, 0) != 1)
      s = fail(err, STORE_CONFLICT,
               "model %s is already stored with another dataset or spec", id);
    done(q);
  }
  s = write_end(st, c, s, err);
  if (s == STORE_OK) {
    if (created) *created = inserted;
    ok(err);
  }
  return s;
}

static void model_fields_free(store_model *m) {
  free(m->id);
  free(m->dataset_id);
  free(m->spec_json);
  free(m->result_json);
}

void store_model_free(store_model *m) {
  if (!m) return;
  model_fields_free(m);
  free(m);
}

/* Fills m from a row of M_COLS, bytes (columns 0..4). Returns false when
 * memory ran out. */
static bool model_row(sqlite3_stmt *q, store_model *m) {
  if (!col_text(q, 0, &m->id) || !col_text(q, 1, &m->dataset_id) ||
      !col_text(q, 3, &m->spec_json))
    return false;
  col_fixed(q, 2, m->created_at, sizeof m->created_at);
  m->bytes = sqlite3_column_int64(q, 4);
  return true;
}

store_status store_get_model(store *st, const char *id, store_model **out,
                             store_err *err) {
  if (!out) return fail(err, STORE_INVALID, "no output");
  *out = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(id)) return fail(err, STORE_INVALID, "bad model id");
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) return s;
  store_model *m = NULL;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_M_GET, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc == SQLITE_DONE) {
    s = fail(err, STORE_NOT_FOUND, "no model %s", id);
    goto cleanup;
  }
  if (rc != SQLITE_ROW) {
    s = db_fail(err, c, rc, "reading a model");
    goto cleanup;
  }
  m = calloc(1, sizeof *m);
  if (!m || !model_row(q, m) || !col_text(q, 5, &m->result_json)) {
    s = fail(err, STORE_NOMEM, "out of memory reading model %s", id);
    goto cleanup;
  }
  *out = m;
  m = NULL;
  s = ok(err);
cleanup:
  store_model_free(m);
  done(q);
  checkin(st, c);
  return s;
}

store_status store_delete_model(store *st, const char *id, store_err *err) {
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(id)) return fail(err, STORE_INVALID, "bad model id");
  conn *c;
  store_status s = write_begin(st, &c, err);
  if (s != STORE_OK) return s;
  /* Name the alias that holds the model, rather than letting the foreign
   * key fail without saying which. */
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_M_ALIASED, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    const unsigned char *alias = sqlite3_column_text(q, 0);
    s = fail(err, STORE_CONFLICT, "model %s is the target of alias '%s'", id,
             alias ? (const char *)alias : "?");
  } else if (rc != SQLITE_DONE)
    s = db_fail(err, c, rc, "looking up aliases");
  done(q);
  if (s == STORE_OK) {
    rc = prep(c, Q_M_DELETE, &q);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
      s = db_fail(err, c, rc, "deleting a model");
    else if (sqlite3_changes(c->db) == 0)
      s = fail(err, STORE_NOT_FOUND, "no model %s", id);
    done(q);
  }
  s = write_end(st, c, s, err);
  return s == STORE_OK ? ok(err) : s;
}

void store_model_page_free(store_model_page *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++)
    model_fields_free(&p->items[i]);
  free(p->items);
  free(p->next);
  free(p);
}

store_status store_list_models(store *st, const char *dataset_id,
                               const char *after, size_t limit,
                               store_model_page **out, store_err *err) {
  if (!out) return fail(err, STORE_INVALID, "no output");
  *out = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (limit == 0 || limit > STORE_LIST_MAX)
    return fail(err, STORE_INVALID, "limit must be 1..%d", STORE_LIST_MAX);
  if (dataset_id && !key_ok(dataset_id))
    return fail(err, STORE_INVALID, "bad dataset id");
  char ctime[STORE_TIME_LEN], cid[STORE_KEY_MAX + 1];
  if (after && !cursor_parse(after, ctime, cid))
    return fail(err, STORE_INVALID, "malformed cursor");
  store_model_page *p = calloc(1, sizeof *p);
  if (p) p->items = calloc(limit, sizeof *p->items);
  if (!p || !p->items) {
    store_model_page_free(p);
    return fail(err, STORE_NOMEM, "out of memory listing models");
  }
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) {
    store_model_page_free(p);
    return s;
  }
  int qid = dataset_id ? (after ? Q_M_LIST_DS_AFTER : Q_M_LIST_DS)
                       : (after ? Q_M_LIST_AFTER : Q_M_LIST);
  sqlite3_stmt *q = NULL;
  int rc = prep(c, qid, &q);
  if (rc == SQLITE_OK) rc = bind_page(q, limit, after, ctime, cid);
  if (rc == SQLITE_OK && dataset_id)
    rc = sqlite3_bind_text(q, 4, dataset_id, -1, SQLITE_STATIC);
  bool more = false;
  while (rc == SQLITE_OK && (rc = step_row(q)) == SQLITE_OK) {
    if (p->n == limit) {
      more = true;
      break;
    }
    if (!model_row(q, &p->items[p->n++])) {
      s = fail(err, STORE_NOMEM, "out of memory listing models");
      goto cleanup;
    }
  }
  if (!more && rc != SQLITE_DONE) {
    s = db_fail(err, c, rc, "listing models");
    goto cleanup;
  }
  if (more) {
    const store_model *last = &p->items[p->n - 1];
    p->next = cursor_make(last->created_at, last->id);
    if (!p->next) {
      s = fail(err, STORE_NOMEM, "out of memory listing models");
      goto cleanup;
    }
  }
  *out = p;
  p = NULL;
  s = ok(err);
cleanup:
  store_model_page_free(p);
  done(q);
  checkin(st, c);
  return s;
}

/* ---- aliases ----------------------------------------------------------- */

store_status store_put_alias(store *st, const char *name, const char *model_id,
                             char **previous, store_err *err) {
  if (previous) *previous = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(name)) return fail(err, STORE_INVALID, "bad alias name");
  if (!key_ok(model_id)) return fail(err, STORE_INVALID, "bad model id");
  char now[STORE_TIME_LEN];
  now_text(now);
  char *prev = NULL;
  conn *c;
  store_status s = write_begin(st, &c, err);
  if (s != STORE_OK) return s;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_M_EXISTS, &q);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 1, model_id, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc == SQLITE_DONE)
    s = fail(err, STORE_NOT_FOUND, "no model %s for alias '%s'", model_id,
             name);
  else if (rc != SQLITE_ROW)
    s = db_fail(err, c, rc, "looking up a model");
  done(q);
  if (s == STORE_OK) {
    rc = prep(c, Q_AL_GET, &q);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
      if (!col_text(q, 0, &prev))
        s = fail(err, STORE_NOMEM, "out of memory moving alias '%s'", name);
    } else if (rc != SQLITE_DONE) {
      s = db_fail(err, c, rc, "reading an alias");
    }
    done(q);
  }
  if (s == STORE_OK) {
    rc = prep(c, Q_AL_UPSERT, &q);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 2, model_id, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 3, now, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc != SQLITE_DONE) s = db_fail(err, c, rc, "writing an alias");
    done(q);
  }
  s = write_end(st, c, s, err);
  if (s != STORE_OK) {
    free(prev);
    return s;
  }
  if (previous)
    *previous = prev;
  else
    free(prev);
  return ok(err);
}

store_status store_get_alias(store *st, const char *name, char **model_id,
                             store_err *err) {
  if (!model_id) return fail(err, STORE_INVALID, "no output");
  *model_id = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(name)) return fail(err, STORE_INVALID, "bad alias name");
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) return s;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_AL_GET, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(q);
  if (rc == SQLITE_DONE)
    s = fail(err, STORE_NOT_FOUND, "no alias '%s'", name);
  else if (rc != SQLITE_ROW)
    s = db_fail(err, c, rc, "reading an alias");
  else if (!col_text(q, 0, model_id) || !*model_id)
    s = fail(err, STORE_NOMEM, "out of memory reading alias '%s'", name);
  else
    s = ok(err);
  done(q);
  checkin(st, c);
  return s;
}

store_status store_delete_alias(store *st, const char *name, store_err *err) {
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(name)) return fail(err, STORE_INVALID, "bad alias name");
  return delete_one(st, Q_AL_DELETE, "alias", name, err);
}

void store_alias_list_free(store_alias_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) {
    free(l->items[i].name);
    free(l->items[i].model_id);
  }
  free(l->items);
  free(l);
}

store_status store_list_aliases(store *st, store_alias_list **out,
                                store_err *err) {
  if (!out) return fail(err, STORE_INVALID, "no output");
  *out = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  store_alias_list *l = calloc(1, sizeof *l);
  if (!l) return fail(err, STORE_NOMEM, "out of memory listing aliases");
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) {
    free(l);
    return s;
  }
  size_t cap = 0;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_AL_LIST, &q);
  while (rc == SQLITE_OK && (rc = step_row(q)) == SQLITE_OK) {
    if (l->n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      store_alias *grown = realloc(l->items, ncap * sizeof *grown);
      if (!grown) {
        s = fail(err, STORE_NOMEM, "out of memory listing aliases");
        goto cleanup;
      }
      l->items = grown;
      cap = ncap;
    }
    store_alias *a = &l->items[l->n++];
    memset(a, 0, sizeof *a);
    if (!col_text(q, 0, &a->name) || !col_text(q, 1, &a->model_id)) {
      s = fail(err, STORE_NOMEM, "out of memory listing aliases");
      goto cleanup;
    }
    col_fixed(q, 2, a->updated_at, sizeof a->updated_at);
  }
  if (rc != SQLITE_DONE) {
    s = db_fail(err, c, rc, "listing aliases");
    goto cleanup;
  }
  *out = l;
  l = NULL;
  s = ok(err);
cleanup:
  store_alias_list_free(l);
  done(q);
  checkin(st, c);
  return s;
}

/* ---- indicator cache --------------------------------------------------- */

store_status store_put_indicator_values(store *st,
                                        const store_indicator_in *vals,
                                        size_t n, store_err *err) {
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (n > 0 && !vals) return fail(err, STORE_INVALID, "no values");
  /* Validate everything before writing anything: the batch is all or
   * nothing. */
  for (size_t i = 0; i < n; i++) {
    const store_indicator_in *v = &vals[i];
    if (!key_ok(v->country))
      return fail(err, STORE_INVALID, "value %zu: bad country code", i);
    if (!key_ok(v->indicator))
      return fail(err, STORE_INVALID, "value %zu: bad indicator code", i);
    /* SQLite would store NaN as NULL and keep infinities: both would be
     * silent corruption of "missing" versus "measured". */
    if (v->has_value && !isfinite(v->value))
      return fail(err, STORE_INVALID, "value %zu (%s %s %d) is not finite", i,
                  v->country, v->indicator, v->year);
    if (v->lastupdated && strlen(v->lastupdated) >= STORE_LASTUPDATED_MAX)
      return fail(err, STORE_INVALID, "value %zu: lastupdated too long", i);
  }
  if (n == 0) return ok(err);
  char now[STORE_TIME_LEN];
  now_text(now);
  conn *c;
  store_status s = write_begin(st, &c, err);
  if (s != STORE_OK) return s;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_IND_PUT, &q);
  for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
    const store_indicator_in *v = &vals[i];
    rc = sqlite3_bind_text(q, 1, v->country, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_text(q, 2, v->indicator, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 3, v->year);
    if (rc == SQLITE_OK)
      rc = v->has_value ? sqlite3_bind_double(q, 4, v->value)
                        : sqlite3_bind_null(q, 4);
    if (rc == SQLITE_OK)
      rc = v->lastupdated
               ? sqlite3_bind_text(q, 5, v->lastupdated, -1, SQLITE_STATIC)
               : sqlite3_bind_null(q, 5);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 6, now, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    done(q);
  }
  if (rc != SQLITE_OK) s = db_fail(err, c, rc, "caching indicator values");
  s = write_end(st, c, s, err);
  return s == STORE_OK ? ok(err) : s;
}

void store_indicator_values_free(store_indicator_values *v) {
  if (!v) return;
  free(v->items);
  free(v);
}

store_status store_get_indicator_values(store *st, const char *country,
                                        const char *indicator, int year_from,
                                        int year_to,
                                        store_indicator_values **out,
                                        store_err *err) {
  if (!out) return fail(err, STORE_INVALID, "no output");
  *out = NULL;
  if (!st) return fail(err, STORE_INVALID, "no store");
  if (!key_ok(country)) return fail(err, STORE_INVALID, "bad country code");
  if (!key_ok(indicator)) return fail(err, STORE_INVALID, "bad indicator code");
  if (year_from > year_to)
    return fail(err, STORE_INVALID, "year range %d..%d is empty", year_from,
                year_to);
  store_indicator_values *v = calloc(1, sizeof *v);
  if (!v) return fail(err, STORE_NOMEM, "out of memory reading indicators");
  conn *c;
  store_status s = checkout(st, &c, err);
  if (s != STORE_OK) {
    free(v);
    return s;
  }
  size_t cap = 0;
  sqlite3_stmt *q = NULL;
  int rc = prep(c, Q_IND_GET, &q);
  if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, country, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(q, 2, indicator, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 3, year_from);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int(q, 4, year_to);
  while (rc == SQLITE_OK && (rc = step_row(q)) == SQLITE_OK) {
    if (v->n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      store_indicator_value *grown = realloc(v->items, ncap * sizeof *grown);
      if (!grown) {
        s = fail(err, STORE_NOMEM, "out of memory reading indicators");
        goto cleanup;
      }
      v->items = grown;
      cap = ncap;
    }
    store_indicator_value *it = &v->items[v->n++];
    memset(it, 0, sizeof *it);
    it->year = sqlite3_column_int(q, 0);
    it->has_value = sqlite3_column_type(q, 1) != SQLITE_NULL;
    it->value = it->has_value ? sqlite3_column_double(q, 1) : NAN;
    col_fixed(q, 2, it->lastupdated, sizeof it->lastupdated);
    col_fixed(q, 3, it->fetched_at, sizeof it->fetched_at);
    it->fetched_unix = sqlite3_column_int64(q, 4);
  }
  if (rc != SQLITE_DONE) {
    s = db_fail(err, c, rc, "reading indicator values");
    goto cleanup;
  }
  *out = v;
  v = NULL;
  s = ok(err);
cleanup:
  store_indicator_values_free(v);
  done(q);
  checkin(st, c);
  return s;
}

/* Specification of the SQLite store: schema and reopening, idempotent
 * content-addressed puts, pagination under concurrent change, aliases, the
 * indicator cache, every error status, concurrent writers, and durability
 * of every acknowledged write across a kill -9. */
/* nftw and strptime are X/Open. */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

/* ---- fixtures ---------------------------------------------------------- */

static char tmp[64];

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void make_tmp(void) {
  snprintf(tmp, sizeof tmp, "/tmp/gravitas-store-XXXXXX");
  cr_assert_not_null(mkdtemp(tmp));
}

static void remove_tmp(void) {
  if (tmp[0]) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = make_tmp, .fini = remove_tmp, .timeout = 120);

/* The path of a file or directory inside the test's tmp dir. */
static char *in_tmp(const char *rel) {
  static char buf[4][256];
  static int k;
  char *b = buf[k++ % 4];
  snprintf(b, sizeof buf[0], "%s/%s", tmp, rel);
  return b;
}

static store *open_ok(const char *dir) {
  store *st = NULL;
  store_err err;
  store_status s = store_open(dir, NULL, &st, &err);
  cr_assert_eq(s, STORE_OK, "store_open(%s): %s", dir, err.msg);
  cr_assert_not_null(st);
  return st;
}

static void ds_id(char out[40], unsigned long long i) {
  snprintf(out, 40, "ds_%032llx", i * 0x9E3779B97F4A7C15ull);
}

static void m_id(char out[40], unsigned long long i) {
  snprintf(out, 40, "m_%032llx", i * 0xC2B2AE3D27D4EB4Full + 7);
}

/* Deterministic binary content for dataset i, NUL bytes included, 1..3000
 * bytes long, so a mix-up of rows or a truncation cannot go unnoticed. */
static size_t content_for(unsigned long long i, unsigned char *buf,
                          size_t cap) {
  uint64_t x = i * 6364136223846793005ull + 1442695040888963407ull;
  size_t n = 1 + (size_t)(x % 2999);
  if (n > cap) n = cap;
  for (size_t k = 0; k < n; k++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    buf[k] = (unsigned char)(x >> 56);
  }
  return n;
}

static void summary_for(unsigned long long i, char *buf, size_t cap) {
  snprintf(buf, cap,
           "{\"rows\":%llu,\"variables\":[\"etrade\",\"pgdp\"],"
           "\"mean_pgdp\":%.17g}",
           i, 3141.592653589793 * (double)(i + 1));
}

static void put_ds(store *st, unsigned long long i, bool *created) {
  char id[40], sum[160];
  unsigned char buf[3000];
  ds_id(id, i);
  summary_for(i, sum, sizeof sum);
  size_t n = content_for(i, buf, sizeof buf);
  store_err err;
  store_status s = store_put_dataset(st, id, "panel", (int64_t)i, sum, buf, n,
                                     created, &err);
  cr_assert_eq(s, STORE_OK, "put dataset %llu: %s", i, err.msg);
}

static void check_ds(store *st, unsigned long long i) {
  char id[40], sum[160];
  unsigned char buf[3000];
  ds_id(id, i);
  summary_for(i, sum, sizeof sum);
  size_t n = content_for(i, buf, sizeof buf);
  store_dataset *d = NULL;
  store_err err;
  store_status s = store_get_dataset(
      st, id, STORE_WITH_SUMMARY | STORE_WITH_CONTENT, &d, &err);
  cr_assert_eq(s, STORE_OK, "dataset %llu (%s): %s", i, id, err.msg);
  cr_assert_str_eq(d->id, id);
  cr_assert_eq(d->n_rows, (int64_t)i);
  cr_assert_str_eq(d->summary_json, sum);
  cr_assert_eq(d->content_len, n, "dataset %llu length", i);
  cr_assert_eq(memcmp(d->content, buf, n), 0, "dataset %llu content", i);
  cr_assert_eq(d->content[n], 0);
  store_dataset_free(d);
}

static void spec_for(unsigned long long i, char *buf, size_t cap) {
  snprintf(buf, cap,
           "{\"formula\":\"log(etrade) ~ log(pgdp) + log(dist)\","
           "\"estimator\":\"ols\",\"vcov\":\"hc1\",\"seed\":%llu}",
           i);
}

static void result_for(unsigned long long i, char *buf, size_t cap) {
  snprintf(buf, cap,
           "{\"coefficients\":[{\"term\":\"log(pgdp)\",\"estimate\":%.17g}],"
           "\"fit\":{\"n\":%llu,\"r2\":0.91372846152093817}}",
           0.70318849201347261 + (double)i * 1e-9, 40 + i);
}

static sqlite3 *raw_open(const char *dir) {
  char path[300];
  snprintf(path, sizeof path, "%s/" STORE_FILE_NAME, dir);
  sqlite3 *db = NULL;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  return db;
}

static long long raw_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *q = NULL;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK, "%s: %s",
               sql, sqlite3_errmsg(db));
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW, "%s", sql);
  long long v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return v;
}

static void raw_exec(sqlite3 *db, const char *sql) {
  cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s: %s",
               sql, sqlite3_errmsg(db));
}

/* ---- opening and the schema -------------------------------------------- */

Test(store, open_creates_missing_directories_and_the_schema_in_wal) {
  const char *dir = in_tmp("a/b/data");
  store *st = open_ok(dir);
  cr_assert_eq(store_integrity_check(st, NULL), STORE_OK);
  store_close(st);

  struct stat sb;
  cr_assert_eq(stat(dir, &sb), 0);
  cr_assert(S_ISDIR(sb.st_mode));
  sqlite3 *db = raw_open(dir);
  cr_assert_eq(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
  cr_assert_eq(raw_int(db, "PRAGMA application_id"), STORE_APPLICATION_ID);
  sqlite3_stmt *q;
  cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
  sqlite3_finalize(q);
  /* Every table with exactly the columns the design names. */
  static const char *const expect[][2] = {
      {"datasets", "id,name,created_at,n_rows,summary,content"},
      {"models", "id,dataset_id,spec,result,created_at,bytes"},
      {"aliases", "name,model_id,updated_at"},
      {"indicator_cache",
       "country,indicator,year,value,lastupdated,fetched_at"},
  };
  for (size_t t = 0; t < sizeof expect / sizeof expect[0]; t++) {
    char sql[128], cols[256] = "";
    snprintf(sql, sizeof sql,
             "SELECT group_concat(name, ',') FROM pragma_table_info('%s')",
             expect[t][0]);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    const unsigned char *got = sqlite3_column_text(q, 0);
    cr_assert_not_null(got, "table %s missing", expect[t][0]);
    snprintf(cols, sizeof cols, "%s", (const char *)got);
    sqlite3_finalize(q);
    cr_assert_str_eq(cols, expect[t][1], "columns of %s", expect[t][0]);
  }
  /* The result is checked by store_put_model, not by SQLite. */
  cr_assert_eq(raw_int(db, "SELECT instr(sql, 'json_valid(result)') FROM "
                           "sqlite_schema WHERE name = 'models'"),
               0);
  sqlite3_close(db);
}

/* Turns the store in dir back into version 1: the models table with
 * CHECK (json_valid(result)), as version 1 created it. */
static void make_v1(const char *dir) {
  sqlite3 *db = raw_open(dir);
  long long cookie = raw_int(db, "PRAGMA schema_version");
  char sql[128];
  raw_exec(db, "PRAGMA writable_schema = ON");
  raw_exec(db, "UPDATE sqlite_schema SET sql = replace(sql, "
               "' result TEXT NOT NULL,', "
               "' result TEXT NOT NULL CHECK (json_valid(result)),') "
               "WHERE name = 'models'");
  snprintf(sql, sizeof sql, "PRAGMA schema_version = %lld", cookie + 1);
  raw_exec(db, sql);
  raw_exec(db, "PRAGMA writable_schema = OFF");
  raw_exec(db, "PRAGMA user_version = 1");
  sqlite3_close(db);
  db = raw_open(dir);
  cr_assert_eq(raw_int(db, "SELECT instr(sql, 'json_valid(result)') > 0 "
                           "FROM sqlite_schema WHERE name = 'models'"),
               1);
  /* Version 1's CHECK is in force again. */
  cr_assert_neq(sqlite3_exec(db,
                             "INSERT INTO models VALUES ('m_x', 'ds_x', '{}', "
                             "'not json', '2026-01-01T00:00:00.000Z', 8)",
                             NULL, NULL, NULL),
                SQLITE_OK);
  sqlite3_close(db);
}

Test(store, a_version_1_store_is_upgraded_and_keeps_its_models) {
  store *st = open_ok(tmp);
  char mid[40], dsid[40], spec[200], res[300];
  m_id(mid, 7);
  ds_id(dsid, 7);
  spec_for(7, spec, sizeof spec);
  result_for(7, res, sizeof res);
  cr_assert_eq(store_put_model(st, mid, dsid, spec, res, NULL, NULL), STORE_OK);
  cr_assert_eq(store_put_alias(st, "default", mid, NULL, NULL), STORE_OK);
  store_close(st);
  make_v1(tmp);

  st = open_ok(tmp);
  cr_assert_eq(store_integrity_check(st, NULL), STORE_OK);
  store_model *m = NULL;
  cr_assert_eq(store_get_model(st, mid, &m, NULL), STORE_OK);
  cr_assert_str_eq(m->result_json, res);
  store_model_free(m);
  store_err err;
  cr_assert_eq(store_put_model(st, "m_2", dsid, spec, "{\"fit\":", NULL, &err),
               STORE_INVALID, "a result that is not JSON is still refused");
  cr_assert(strstr(err.msg, "not JSON"), "%s", err.msg);
  cr_assert_eq(
      store_put_model(st, "m_2", dsid, spec, "{\"fit\":{}}", NULL, &err),
      STORE_OK, "%s", err.msg);
  store_close(st);

  sqlite3 *db = raw_open(tmp);
  cr_assert_eq(raw_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
  cr_assert_eq(raw_int(db, "SELECT instr(sql, 'json_valid(result)') FROM "
                           "sqlite_schema WHERE name = 'models'"),
               0);
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM models"), 2);
  sqlite3_close(db);
  /* Opening again is a no-op. */
  store_close(open_ok(tmp));
}

Test(store, a_version_1_store_with_another_models_table_is_refused) {
  store_close(open_ok(tmp));
  sqlite3 *db = raw_open(tmp);
  raw_exec(db, "PRAGMA user_version = 1"); /* without the CHECK */
  sqlite3_close(db);
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(tmp, NULL, &st, &err), STORE_INVALID);
  cr_assert_null(st);
  cr_assert(strstr(err.msg, "not as created"), "%s", err.msg);
  db = raw_open(tmp);
  cr_assert_eq(raw_int(db, "PRAGMA user_version"), 1, "nothing changed");
  sqlite3_close(db);
}

Test(store, reopening_after_a_clean_close_keeps_everything_and_no_wal) {
  store *st = open_ok(tmp);
  for (unsigned long long i = 1; i <= 20; i++)
    put_ds(st, i, NULL);
  char mid[40], spec[200], res[300];
  m_id(mid, 5);
  char dsid[40];
  ds_id(dsid, 5);
  spec_for(5, spec, sizeof spec);
  result_for(5, res, sizeof res);
  cr_assert_eq(store_put_model(st, mid, dsid, spec, res, NULL, NULL), STORE_OK);
  cr_assert_eq(store_put_alias(st, "default", mid, NULL, NULL), STORE_OK);
  store_indicator_in v = {"KAZ", "NY.GDP.MKTP.CD",   2019,
                          true,  181667068549.31583, "2025-07-01"};
  cr_assert_eq(store_put_indicator_values(st, &v, 1, NULL), STORE_OK);
  store_close(st);

  /* The TRUNCATE checkpoint at close leaves no WAL content behind. */
  struct stat sb;
  if (stat(in_tmp(STORE_FILE_NAME "-wal"), &sb) == 0)
    cr_assert_eq(sb.st_size, 0);

  st = open_ok(tmp);
  for (unsigned long long i = 1; i <= 20; i++)
    check_ds(st, i);
  store_model *m = NULL;
  cr_assert_eq(store_get_model(st, mid, &m, NULL), STORE_OK);
  cr_assert_str_eq(m->result_json, res);
  cr_assert_str_eq(m->spec_json, spec);
  cr_assert_str_eq(m->dataset_id, dsid);
  cr_assert_eq(m->bytes, (int64_t)strlen(res));
  store_model_free(m);
  char *target = NULL;
  cr_assert_eq(store_get_alias(st, "default", &target, NULL), STORE_OK);
  cr_assert_str_eq(target, mid);
  free(target);
  store_indicator_values *iv = NULL;
  cr_assert_eq(store_get_indicator_values(st, "KAZ", "NY.GDP.MKTP.CD", 2019,
                                          2019, &iv, NULL),
               STORE_OK);
  cr_assert_eq(iv->n, 1);
  cr_assert_eq(iv->items[0].value, 181667068549.31583);
  store_indicator_values_free(iv);
  cr_assert_eq(store_integrity_check(st, NULL), STORE_OK);
  store_close(st);
}

Test(store, opening_twice_at_once_shares_one_schema) {
  store *a = open_ok(tmp);
  store *b = open_ok(tmp);
  put_ds(a, 77, NULL);
  check_ds(b, 77);
  store_close(a);
  store_close(b);
}

Test(store, open_rejects_a_missing_directory_argument) {
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(NULL, NULL, &st, &err), STORE_INVALID);
  cr_assert_null(st);
  cr_assert_eq(err.status, STORE_INVALID);
  cr_assert_eq(store_open("", NULL, &st, &err), STORE_INVALID);
  cr_assert_eq(store_open(tmp, NULL, NULL, &err), STORE_INVALID);
}

Test(store, open_reports_a_directory_that_is_a_file_as_io) {
  FILE *f = fopen(in_tmp("plain"), "w");
  cr_assert_not_null(f);
  fputs("not a directory\n", f);
  fclose(f);
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(in_tmp("plain"), NULL, &st, &err), STORE_IO);
  cr_assert_null(st);
  cr_assert(strstr(err.msg, "not a directory"), "%s", err.msg);
  /* A directory below a regular file cannot be created either. */
  cr_assert_eq(store_open(in_tmp("plain/sub"), NULL, &st, &err), STORE_IO);
  cr_assert(strstr(err.msg, "cannot create directory"), "%s", err.msg);
  /* Nor inside /proc, which refuses new entries even to root. */
  cr_assert_eq(store_open("/proc/gravitas-store-test", NULL, &st, &err),
               STORE_IO);
}

Test(store, open_reports_an_unopenable_database_file_as_io) {
  /* The database path is a directory: SQLite cannot open it. */
  cr_assert_eq(mkdir(in_tmp(STORE_FILE_NAME), 0700), 0);
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(tmp, NULL, &st, &err), STORE_IO);
  cr_assert_null(st);
  cr_assert(strstr(err.msg, STORE_FILE_NAME), "%s", err.msg);
}

Test(store, open_reports_an_unwritable_directory_as_io) {
  if (geteuid() == 0) cr_skip_test("root ignores directory permissions");
  cr_assert_eq(mkdir(in_tmp("ro"), 0500), 0);
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(in_tmp("ro"), NULL, &st, &err), STORE_IO);
  cr_assert_null(st);
  chmod(in_tmp("ro"), 0700);
}

Test(store, open_reports_a_file_that_is_not_a_database_as_corrupt) {
  FILE *f = fopen(in_tmp(STORE_FILE_NAME), "w");
  cr_assert_not_null(f);
  for (int i = 0; i < 512; i++)
    fputs("this is not an SQLite database; ", f);
  fclose(f);
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(tmp, NULL, &st, &err), STORE_CORRUPT, "%s", err.msg);
  cr_assert_null(st);
  cr_assert(strstr(err.msg, "not a usable database"), "%s", err.msg);
}

Test(store, open_refuses_a_newer_schema_version) {
  store_close(open_ok(tmp));
  sqlite3 *db = raw_open(tmp);
  char sql[64], want[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
           STORE_SCHEMA_VERSION + 1);
  raw_exec(db, sql);
  sqlite3_close(db);
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(tmp, NULL, &st, &err), STORE_INVALID);
  cr_assert_null(st);
  snprintf(want, sizeof want, "schema version %d", STORE_SCHEMA_VERSION + 1);
  cr_assert(strstr(err.msg, want), "%s", err.msg);
}

Test(store, open_refuses_another_applications_database) {
  sqlite3 *db = raw_open(tmp);
  raw_exec(db, "CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT)");
  sqlite3_close(db);
  store *st = (store *)1;
  store_err err;
  cr_assert_eq(store_open(tmp, NULL, &st, &err), STORE_INVALID);
  cr_assert(strstr(err.msg, "not a Gravitas store"), "%s", err.msg);
  /* Nothing was added to it. */
  db = raw_open(tmp);
  cr_assert_eq(raw_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
  raw_exec(db, "PRAGMA application_id = 1234567");
  sqlite3_close(db);
  cr_assert_eq(store_open(tmp, NULL, &st, &err), STORE_INVALID);
  cr_assert(strstr(err.msg, "application_id 1234567"), "%s", err.msg);
}

Test(store, integrity_check_reports_a_damaged_file_as_corrupt) {
  store *st = open_ok(tmp);
  for (unsigned long long i = 0; i < 300; i++)
    put_ds(st, i, NULL);
  store_close(st);
  /* Overwrite the middle of the file (table and index pages) with a
   * pattern that cannot be a valid b-tree page. */
  int fd = open(in_tmp(STORE_FILE_NAME), O_RDWR);
  cr_assert_geq(fd, 0);
  off_t size = lseek(fd, 0, SEEK_END);
  cr_assert_gt(size, 40 * 4096);
  unsigned char junk[4096];
  memset(junk, 0xA5, sizeof junk);
  for (off_t page = 2; page * 4096 < size; page += 3)
    cr_assert_eq(pwrite(fd, junk, sizeof junk, page * 4096),
                 (ssize_t)sizeof junk);
  close(fd);
  store_err err;
  st = NULL;
  store_status s = store_open(tmp, NULL, &st, &err);
  if (s == STORE_OK) {
    s = store_integrity_check(st, &err);
    store_close(st);
  }
  cr_assert_eq(s, STORE_CORRUPT, "status %s: %s", store_status_name(s),
               err.msg);
}

Test(store, status_names_are_stable) {
  cr_assert_str_eq(store_status_name(STORE_OK), "ok");
  cr_assert_str_eq(store_status_name(STORE_NOT_FOUND), "not_found");
  cr_assert_str_eq(store_status_name(STORE_CONFLICT), "conflict");
  cr_assert_str_eq(store_status_name(STORE_BUSY), "busy");
  cr_assert_str_eq(store_status_name(STORE_IO), "io");
  cr_assert_str_eq(store_status_name(STORE_CORRUPT), "corrupt");
  cr_assert_str_eq(store_status_name(STORE_NOMEM), "nomem");
  cr_assert_str_eq(store_status_name(STORE_INVALID), "invalid");
  cr_assert_str_eq(store_status_name((store_status)99), "unknown");
}

Test(store, null_store_and_null_outputs_are_invalid_not_crashes) {
  store_dataset *d = (store_dataset *)1;
  cr_assert_eq(store_get_dataset(NULL, "ds_1", 0, &d, NULL), STORE_INVALID);
  cr_assert_null(d);
  cr_assert_eq(
      store_put_dataset(NULL, "ds_1", NULL, 1, NULL, "x", 1, NULL, NULL),
      STORE_INVALID);
  cr_assert_eq(store_integrity_check(NULL, NULL), STORE_INVALID);
  store *st = open_ok(tmp);
  cr_assert_eq(store_get_dataset(st, "ds_1", 0, NULL, NULL), STORE_INVALID);
  cr_assert_eq(store_get_model(st, "m_1", NULL, NULL), STORE_INVALID);
  cr_assert_eq(store_get_alias(st, "default", NULL, NULL), STORE_INVALID);
  cr_assert_eq(store_list_datasets(st, NULL, 10, NULL, NULL), STORE_INVALID);
  cr_assert_eq(store_list_models(st, NULL, NULL, 10, NULL, NULL),
               STORE_INVALID);
  cr_assert_eq(store_list_aliases(st, NULL, NULL), STORE_INVALID);
  cr_assert_eq(store_get_indicator_values(st, "KAZ", "X", 1, 2, NULL, NULL),
               STORE_INVALID);
  store_close(st);
  store_close(NULL);
  store_dataset_free(NULL);
  store_model_free(NULL);
  store_dataset_page_free(NULL);
  store_model_page_free(NULL);
  store_alias_list_free(NULL);
  store_indicator_values_free(NULL);
}

/* ---- datasets ---------------------------------------------------------- */

Test(store, dataset_put_is_idempotent_and_keeps_the_first_row) {
  store *st = open_ok(tmp);
  bool created = false;
  put_ds(st, 42, &created);
  cr_assert(created);
  char id[40];
  ds_id(id, 42);
  store_dataset *first = NULL;
  cr_assert_eq(store_get_dataset(st, id, 0, &first, NULL), STORE_OK);
  cr_assert_str_eq(first->name, "panel");
  cr_assert_null(first->summary_json, "not asked for");
  cr_assert_null(first->content, "not asked for");

  /* Same content again, under another name and summary, a little later. */
  struct timespec pause = {0, 5 * 1000 * 1000};
  nanosleep(&pause, NULL);
  unsigned char buf[3000];
  size_t n = content_for(42, buf, sizeof buf);
  created = true;
  store_err err;
  cr_assert_eq(store_put_dataset(st, id, "renamed", 42, "{\"other\":1}", buf, n,
                                 &created, &err),
               STORE_OK, "%s", err.msg);
  cr_assert_not(created);
  store_dataset *again = NULL;
  cr_assert_eq(store_get_dataset(st, id, STORE_WITH_SUMMARY, &again, NULL),
               STORE_OK);
  cr_assert_str_eq(again->name, "panel");
  cr_assert_str_eq(again->created_at, first->created_at);
  char sum[160];
  summary_for(42, sum, sizeof sum);
  cr_assert_str_eq(again->summary_json, sum);
  cr_assert_null(again->content);
  store_dataset_free(first);
  store_dataset_free(again);
  check_ds(st, 42);
  store_close(st);
}

Test(store, dataset_created_at_is_utc_with_milliseconds) {
  store *st = open_ok(tmp);
  time_t before = time(NULL);
  put_ds(st, 3, NULL);
  char id[40];
  ds_id(id, 3);
  store_dataset *d = NULL;
  cr_assert_eq(store_get_dataset(st, id, 0, &d, NULL), STORE_OK);
  cr_assert_eq(strlen(d->created_at), 24);
  struct tm tm = {0};
  char *end = strptime(d->created_at, "%Y-%m-%dT%H:%M:%S", &tm);
  cr_assert_not_null(end, "%s", d->created_at);
  cr_assert_eq(end[0], '.');
  cr_assert_eq(end[4], 'Z');
  time_t t = timegm(&tm);
  cr_assert(t >= before - 1 && t <= time(NULL) + 1, "%s", d->created_at);
  store_dataset_free(d);
  store_close(st);
}

Test(store, dataset_with_the_same_id_and_other_content_conflicts) {
  store *st = open_ok(tmp);
  put_ds(st, 9, NULL);
  char id[40];
  ds_id(id, 9);
  unsigned char buf[3000];
  size_t n = content_for(9, buf, sizeof buf);
  buf[n / 2] ^= 1; /* one bit differs */
  bool created = true;
  store_err err;
  cr_assert_eq(
      store_put_dataset(st, id, "panel", 9, NULL, buf, n, &created, &err),
      STORE_CONFLICT);
  cr_assert_not(created);
  cr_assert_eq(err.status, STORE_CONFLICT);
  cr_assert(strstr(err.msg, id), "%s", err.msg);
  /* A prefix of the content is other content too. */
  content_for(9, buf, sizeof buf);
  cr_assert_eq(
      store_put_dataset(st, id, "panel", 9, NULL, buf, n - 1, NULL, NULL),
      STORE_CONFLICT);
  check_ds(st, 9);
  store_close(st);
}

Test(store, dataset_inputs_are_validated_and_nothing_is_stored) {
  store *st = open_ok(tmp);
  const unsigned char c[] = "gravitas-dataset-v1\nrows 1\n";
  char long_id[STORE_KEY_MAX + 2];
  memset(long_id, 'a', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  const char *bad_ids[] = {NULL,     "",      "ds_../x",    "ds 1",
                           "ds_1/2", long_id, "ds_\xc3\xa9"};
  store_err err;
  for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
    cr_assert_eq(store_put_dataset(st, bad_ids[i], NULL, 1, NULL, c, sizeof c,
                                   NULL, &err),
                 STORE_INVALID, "id %zu", i);
    cr_assert(strstr(err.msg, "bad dataset id"), "%s", err.msg);
  }
  /* The longest allowed id works. */
  long_id[STORE_KEY_MAX] = '\0';
  cr_assert_eq(
      store_put_dataset(st, long_id, NULL, 1, NULL, c, sizeof c, NULL, &err),
      STORE_OK, "%s", err.msg);
  cr_assert_eq(
      store_put_dataset(st, "ds_a", NULL, 1, NULL, NULL, 5, NULL, &err),
      STORE_INVALID);
  cr_assert_eq(store_put_dataset(st, "ds_a", NULL, 1, NULL, c, 0, NULL, &err),
               STORE_INVALID);
  cr_assert_eq(
      store_put_dataset(st, "ds_a", NULL, -1, NULL, c, sizeof c, NULL, &err),
      STORE_INVALID);
  cr_assert_eq(store_put_dataset(st, "ds_a", NULL, 1, "{\"rows\": 1", c,
                                 sizeof c, NULL, &err),
               STORE_INVALID, "summary that is not JSON: %s", err.msg);
  store_dataset *d = (store_dataset *)1;
  cr_assert_eq(store_get_dataset(st, "ds_a", 0, &d, &err), STORE_NOT_FOUND);
  cr_assert_null(d);
  cr_assert_eq(store_get_dataset(st, "bad id", 0, &d, &err), STORE_INVALID);
  cr_assert_eq(store_delete_dataset(st, "", &err), STORE_INVALID);
  store_close(st);
}

Test(store, dataset_without_name_or_summary_reads_back_null) {
  store *st = open_ok(tmp);
  const unsigned char c[] = {0x00, 0x01, 0x00, 0xff};
  bool created = false;
  cr_assert_eq(store_put_dataset(st, "ds_nul", NULL, 0, NULL, c, sizeof c,
                                 &created, NULL),
               STORE_OK);
  cr_assert(created);
  store_dataset *d = NULL;
  cr_assert_eq(store_get_dataset(st, "ds_nul",
                                 STORE_WITH_SUMMARY | STORE_WITH_CONTENT, &d,
                                 NULL),
               STORE_OK);
  cr_assert_null(d->name);
  cr_assert_null(d->summary_json);
  cr_assert_eq(d->n_rows, 0);
  cr_assert_eq(d->content_len, 4);
  cr_assert_eq(memcmp(d->content, c, 4), 0);
  store_dataset_free(d);
  store_close(st);
}

Test(store, dataset_delete_answers_found_then_not_found) {
  store *st = open_ok(tmp);
  put_ds(st, 1, NULL);
  put_ds(st, 2, NULL);
  char id[40];
  ds_id(id, 1);
  store_err err;
  cr_assert_eq(store_delete_dataset(st, id, &err), STORE_OK, "%s", err.msg);
  cr_assert_eq(store_delete_dataset(st, id, &err), STORE_NOT_FOUND);
  cr_assert(strstr(err.msg, id), "%s", err.msg);
  store_dataset *d = NULL;
  cr_assert_eq(store_get_dataset(st, id, 0, &d, &err), STORE_NOT_FOUND);
  check_ds(st, 2);
  /* Deleted content may come back, and is then new again. */
  bool created = false;
  put_ds(st, 1, &created);
  cr_assert(created);
  store_close(st);
}

/* ---- pagination -------------------------------------------------------- */

typedef struct seen {
  char ids[200][40];
  int count[200];
  size_t n;
} seen;

static int seen_index(seen *s, const char *id) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->ids[i], id) == 0) return (int)i;
  cr_assert_lt(s->n, 200);
  snprintf(s->ids[s->n], 40, "%s", id);
  s->count[s->n] = 0;
  return (int)s->n++;
}

Test(store, dataset_pages_see_every_row_once_while_rows_come_and_go) {
  store *st = open_ok(tmp);
  for (unsigned long long i = 0; i < 57; i++)
    put_ds(st, i, NULL);
  static seen s;
  memset(&s, 0, sizeof s);
  char *cursor = NULL;
  char last_key[200] = "";
  unsigned long long extra = 1000;
  int pages = 0;
  bool deleted_cursor_row = false;
  for (;;) {
    store_dataset_page *p = NULL;
    store_err err;
    cr_assert_eq(store_list_datasets(st, cursor, 10, &p, &err), STORE_OK, "%s",
                 err.msg);
    pages++;
    cr_assert_leq(p->n, 10);
    for (size_t i = 0; i < p->n; i++) {
      char key[200];
      snprintf(key, sizeof key, "%s~%s", p->items[i].created_at,
               p->items[i].id);
      cr_assert_gt(strcmp(key, last_key), 0, "order: %s after %s", key,
                   last_key);
      snprintf(last_key, sizeof last_key, "%s", key);
      s.count[seen_index(&s, p->items[i].id)]++;
      cr_assert_not_null(p->items[i].summary_json);
    }
    free(cursor);
    cursor = p->next ? strdup(p->next) : NULL;
    if (p->next) cr_assert_eq(p->n, 10, "only a full page has a next");
    /* Meanwhile: new rows arrive and the row the cursor names goes. */
    put_ds(st, extra++, NULL);
    put_ds(st, extra++, NULL);
    if (p->n > 0 && pages == 2) {
      cr_assert_eq(store_delete_dataset(st, p->items[p->n - 1].id, NULL),
                   STORE_OK);
      deleted_cursor_row = true;
    }
    store_dataset_page_free(p);
    if (!cursor) break;
    cr_assert_lt(pages, 100);
  }
  cr_assert(deleted_cursor_row);
  for (unsigned long long i = 0; i < 57; i++) {
    char id[40];
    ds_id(id, i);
    int k = seen_index(&s, id);
    cr_assert_eq(s.count[k], 1, "dataset %llu seen %d times", i, s.count[k]);
  }
  for (size_t k = 0; k < s.n; k++)
    cr_assert_eq(s.count[k], 1, "%s seen %d times", s.ids[k], s.count[k]);
  store_close(st);
}

Test(store, list_limits_and_cursors_are_validated) {
  store *st = open_ok(tmp);
  put_ds(st, 1, NULL);
  store_dataset_page *p = (store_dataset_page *)1;
  store_err err;
  cr_assert_eq(store_list_datasets(st, NULL, 0, &p, &err), STORE_INVALID);
  cr_assert_null(p);
  cr_assert_eq(store_list_datasets(st, NULL, STORE_LIST_MAX + 1, &p, &err),
               STORE_INVALID);
  const char *bad[] = {"",
                       "ds_1",
                       "2026-11-23T03:39:11.123Z",
                       "2026-11-23T03:39:11.123Z~",
                       "2026-11-23 03:39:11.123Z~ds_1",
                       "2026-11-23T03:39:11Z~ds_1",
                       "2026-11-23T03:39:11.123Z~ds 1",
                       "x026-11-23T03:39:11.123Z~ds_1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(store_list_datasets(st, bad[i], 10, &p, &err), STORE_INVALID,
                 "cursor '%s'", bad[i]);
    cr_assert(strstr(err.msg, "cursor"), "%s", err.msg);
    store_model_page *mp = (store_model_page *)1;
    cr_assert_eq(store_list_models(st, NULL, bad[i], 10, &mp, &err),
                 STORE_INVALID, "cursor '%s'", bad[i]);
    cr_assert_null(mp);
  }
  /* A well-formed cursor past the end gives an empty last page. */
  cr_assert_eq(
      store_list_datasets(st, "9999-12-31T23:59:59.999Z~zz", 10, &p, &err),
      STORE_OK);
  cr_assert_eq(p->n, 0);
  cr_assert_null(p->next);
  store_dataset_page_free(p);
  /* Exactly `limit` rows left: one page, no next. */
  cr_assert_eq(store_list_datasets(st, NULL, 1, &p, &err), STORE_OK);
  cr_assert_eq(p->n, 1);
  cr_assert_null(p->next);
  store_dataset_page_free(p);
  store_model_page *mp = NULL;
  cr_assert_eq(store_list_models(st, NULL, NULL, 0, &mp, &err), STORE_INVALID);
  cr_assert_eq(store_list_models(st, "bad id", NULL, 5, &mp, &err),
               STORE_INVALID);
  store_close(st);
}

/* ---- models ------------------------------------------------------------ */

static void put_model(store *st, unsigned long long i, unsigned long long ds,
                      bool *created) {
  char id[40], dsid[40], spec[200], res[300];
  m_id(id, i);
  ds_id(dsid, ds);
  spec_for(i, spec, sizeof spec);
  result_for(i, res, sizeof res);
  store_err err;
  cr_assert_eq(store_put_model(st, id, dsid, spec, res, created, &err),
               STORE_OK, "model %llu: %s", i, err.msg);
}

Test(store, model_put_is_idempotent_and_keeps_the_first_result) {
  store *st = open_ok(tmp);
  bool created = false;
  /* Its dataset was never stored (inline data): that is allowed. */
  put_model(st, 1, 1, &created);
  cr_assert(created);
  char id[40], dsid[40], spec[200], res[300];
  m_id(id, 1);
  ds_id(dsid, 1);
  spec_for(1, spec, sizeof spec);
  result_for(1, res, sizeof res);
  created = true;
  cr_assert_eq(store_put_model(st, id, dsid, spec,
                               "{\"coefficients\":[],\"refit\":true}", &created,
                               NULL),
               STORE_OK);
  cr_assert_not(created);
  store_model *m = NULL;
  cr_assert_eq(store_get_model(st, id, &m, NULL), STORE_OK);
  cr_assert_str_eq(m->id, id);
  cr_assert_str_eq(m->dataset_id, dsid);
  cr_assert_str_eq(m->spec_json, spec);
  cr_assert_str_eq(m->result_json, res);
  cr_assert_eq(m->bytes, (int64_t)strlen(res));
  cr_assert_eq(strlen(m->created_at), 24);
  store_model_free(m);
  store_close(st);
}

Test(store, model_with_the_same_id_and_other_inputs_conflicts) {
  store *st = open_ok(tmp);
  put_model(st, 2, 2, NULL);
  char id[40], dsid[40], spec[200], res[300];
  m_id(id, 2);
  ds_id(dsid, 3);
  spec_for(2, spec, sizeof spec);
  result_for(2, res, sizeof res);
  store_err err;
  cr_assert_eq(store_put_model(st, id, dsid, spec, res, NULL, &err),
               STORE_CONFLICT, "another dataset");
  cr_assert(strstr(err.msg, id), "%s", err.msg);
  ds_id(dsid, 2);
  spec_for(3, spec, sizeof spec);
  cr_assert_eq(store_put_model(st, id, dsid, spec, res, NULL, &err),
               STORE_CONFLICT, "another spec");
  store_close(st);
}

Test(store, model_inputs_are_validated) {
  store *st = open_ok(tmp);
  store_err err;
  const char *spec = "{\"estimator\":\"ols\"}", *res = "{\"fit\":{}}";
  cr_assert_eq(store_put_model(st, "m/1", "ds_1", spec, res, NULL, &err),
               STORE_INVALID);
  cr_assert_eq(store_put_model(st, "m_1", NULL, spec, res, NULL, &err),
               STORE_INVALID);
  cr_assert_eq(store_put_model(st, "m_1", "ds 1", spec, res, NULL, &err),
               STORE_INVALID);
  cr_assert_eq(store_put_model(st, "m_1", "ds_1", NULL, res, NULL, &err),
               STORE_INVALID);
  cr_assert_eq(store_put_model(st, "m_1", "ds_1", spec, NULL, NULL, &err),
               STORE_INVALID);
  cr_assert_eq(
      store_put_model(st, "m_1", "ds_1", "estimator=ols", res, NULL, &err),
      STORE_INVALID, "spec that is not JSON");
  cr_assert_eq(
      store_put_model(st, "m_1", "ds_1", spec, "{\"fit\":", NULL, &err),
      STORE_INVALID, "result that is not JSON");
  store_model *m = (store_model *)1;
  cr_assert_eq(store_get_model(st, "m_1", &m, &err), STORE_NOT_FOUND);
  cr_assert_null(m);
  cr_assert(strstr(err.msg, "m_1"), "%s", err.msg);
  cr_assert_eq(store_get_model(st, "", &m, &err), STORE_INVALID);
  cr_assert_eq(store_delete_model(st, "m_1", &err), STORE_NOT_FOUND);
  cr_assert_eq(store_delete_model(st, NULL, &err), STORE_INVALID);
  store_close(st);
}

Test(store, model_pages_filter_by_dataset_and_omit_results) {
  store *st = open_ok(tmp);
  for (unsigned long long i = 0; i < 23; i++)
    put_model(st, i, i % 3, NULL); /* datasets 0, 1, 2 */
  char ds1[40];
  ds_id(ds1, 1);
  size_t total = 0, of_ds1 = 0;
  char *cursor = NULL;
  do {
    store_model_page *p = NULL;
    cr_assert_eq(store_list_models(st, NULL, cursor, 4, &p, NULL), STORE_OK);
    for (size_t i = 0; i < p->n; i++) {
      cr_assert_null(p->items[i].result_json);
      cr_assert_not_null(p->items[i].spec_json);
      cr_assert_gt(p->items[i].bytes, 0);
    }
    total += p->n;
    free(cursor);
    cursor = p->next ? strdup(p->next) : NULL;
    store_model_page_free(p);
  } while (cursor);
  cr_assert_eq(total, 23);
  do {
    store_model_page *p = NULL;
    cr_assert_eq(store_list_models(st, ds1, cursor, 3, &p, NULL), STORE_OK);
    for (size_t i = 0; i < p->n; i++)
      cr_assert_str_eq(p->items[i].dataset_id, ds1);
    of_ds1 += p->n;
    free(cursor);
    cursor = p->next ? strdup(p->next) : NULL;
    store_model_page_free(p);
  } while (cursor);
  cr_assert_eq(of_ds1, 8); /* i = 1, 4, ..., 22 */
  store_model_page *p = NULL;
  cr_assert_eq(store_list_models(st, "ds_none", NULL, 3, &p, NULL), STORE_OK);
  cr_assert_eq(p->n, 0);
  cr_assert_null(p->next);
  store_model_page_free(p);
  store_close(st);
}

Test(store, deleting_a_dataset_keeps_its_models) {
  store *st = open_ok(tmp);
  put_ds(st, 4, NULL);
  put_model(st, 4, 4, NULL);
  char dsid[40], mid[40];
  ds_id(dsid, 4);
  m_id(mid, 4);
  cr_assert_eq(store_delete_dataset(st, dsid, NULL), STORE_OK);
  store_model *m = NULL;
  cr_assert_eq(store_get_model(st, mid, &m, NULL), STORE_OK);
  store_model_free(m);
  cr_assert_eq(store_delete_model(st, mid, NULL), STORE_OK);
  cr_assert_eq(store_get_model(st, mid, &m, NULL), STORE_NOT_FOUND);
  store_close(st);
}

/* ---- aliases ----------------------------------------------------------- */

Test(store, alias_is_created_moved_listed_and_deleted) {
  store *st = open_ok(tmp);
  put_model(st, 1, 1, NULL);
  put_model(st, 2, 1, NULL);
  char m1[40], m2[40];
  m_id(m1, 1);
  m_id(m2, 2);
  char *prev = (char *)1;
  store_err err;
  cr_assert_eq(store_put_alias(st, "default", m1, &prev, &err), STORE_OK, "%s",
               err.msg);
  cr_assert_null(prev, "a new alias has no previous target");
  cr_assert_eq(store_put_alias(st, "default", m2, &prev, &err), STORE_OK);
  cr_assert_str_eq(prev, m1);
  free(prev);
  cr_assert_eq(store_put_alias(st, "cn-ca.2020", m1, NULL, &err), STORE_OK);
  char *target = NULL;
  cr_assert_eq(store_get_alias(st, "default", &target, &err), STORE_OK);
  cr_assert_str_eq(target, m2);
  free(target);

  store_alias_list *l = NULL;
  cr_assert_eq(store_list_aliases(st, &l, &err), STORE_OK);
  cr_assert_eq(l->n, 2);
  cr_assert_str_eq(l->items[0].name, "cn-ca.2020");
  cr_assert_str_eq(l->items[0].model_id, m1);
  cr_assert_str_eq(l->items[1].name, "default");
  cr_assert_str_eq(l->items[1].model_id, m2);
  cr_assert_eq(strlen(l->items[1].updated_at), 24);
  store_alias_list_free(l);

  cr_assert_eq(store_delete_alias(st, "cn-ca.2020", &err), STORE_OK);
  cr_assert_eq(store_delete_alias(st, "cn-ca.2020", &err), STORE_NOT_FOUND);
  cr_assert_eq(store_get_alias(st, "cn-ca.2020", &target, &err),
               STORE_NOT_FOUND);
  cr_assert_null(target);
  cr_assert(strstr(err.msg, "cn-ca.2020"), "%s", err.msg);
  store_close(st);
}

Test(store, alias_to_a_missing_model_is_refused_and_nothing_changes) {
  store *st = open_ok(tmp);
  put_model(st, 1, 1, NULL);
  char m1[40];
  m_id(m1, 1);
  cr_assert_eq(store_put_alias(st, "default", m1, NULL, NULL), STORE_OK);
  char *prev = (char *)1;
  store_err err;
  cr_assert_eq(store_put_alias(st, "default", "m_missing", &prev, &err),
               STORE_NOT_FOUND);
  cr_assert_null(prev);
  cr_assert(strstr(err.msg, "m_missing"), "%s", err.msg);
  char *target = NULL;
  cr_assert_eq(store_get_alias(st, "default", &target, NULL), STORE_OK);
  cr_assert_str_eq(target, m1);
  free(target);
  cr_assert_eq(store_put_alias(st, "bad name", m1, NULL, &err), STORE_INVALID);
  cr_assert_eq(store_put_alias(st, "x", "", NULL, &err), STORE_INVALID);
  cr_assert_eq(store_get_alias(st, "", &target, &err), STORE_INVALID);
  cr_assert_eq(store_delete_alias(st, NULL, &err), STORE_INVALID);
  store_alias_list *l = NULL;
  cr_assert_eq(store_list_aliases(st, &l, NULL), STORE_OK);
  cr_assert_eq(l->n, 1);
  store_alias_list_free(l);
  store_close(st);
}

Test(store, an_aliased_model_cannot_be_deleted_until_the_alias_moves) {
  store *st = open_ok(tmp);
  put_model(st, 1, 1, NULL);
  put_model(st, 2, 1, NULL);
  char m1[40], m2[40];
  m_id(m1, 1);
  m_id(m2, 2);
  cr_assert_eq(store_put_alias(st, "default", m1, NULL, NULL), STORE_OK);
  store_err err;
  cr_assert_eq(store_delete_model(st, m1, &err), STORE_CONFLICT);
  cr_assert(strstr(err.msg, "'default'"), "%s", err.msg);
  store_model *m = NULL;
  cr_assert_eq(store_get_model(st, m1, &m, NULL), STORE_OK, "still there");
  store_model_free(m);
  cr_assert_eq(store_put_alias(st, "default", m2, NULL, NULL), STORE_OK);
  cr_assert_eq(store_delete_model(st, m1, &err), STORE_OK, "%s", err.msg);
  store_close(st);
}

/* ---- indicator cache --------------------------------------------------- */

Test(store, indicator_values_round_trip_and_null_stays_null) {
  store *st = open_ok(tmp);
  /* NY.GDP.MKTP.CD style values with all their digits; 2023 has no value
   * at the source; 0 is a real measurement and must not become missing. */
  store_indicator_in in[] = {
      {"KAZ", "NY.GDP.MKTP.CD", 2021, true, 197112255360.26944, "2025-07-01"},
      {"KAZ", "NY.GDP.MKTP.CD", 2022, true, 225496442113.92529, "2025-07-01"},
      {"KAZ", "NY.GDP.MKTP.CD", 2023, false, 0.0, "2025-07-01"},
      {"KAZ", "NY.GDP.MKTP.CD", 2020, true, 0.0, NULL},
      {"KAZ", "SP.POP.TOTL", 2021, true, 19196465.0, "2025-06-30"},
      {"UZB", "NY.GDP.MKTP.CD", 2021, true, 69600000000.123456, "x"},
  };
  time_t before = time(NULL);
  store_err err;
  cr_assert_eq(store_put_indicator_values(st, in, 6, &err), STORE_OK, "%s",
               err.msg);
  store_indicator_values *v = NULL;
  cr_assert_eq(store_get_indicator_values(st, "KAZ", "NY.GDP.MKTP.CD", 1990,
                                          2030, &v, &err),
               STORE_OK);
  cr_assert_eq(v->n, 4);
  cr_assert_eq(v->items[0].year, 2020);
  cr_assert(v->items[0].has_value);
  cr_assert_eq(v->items[0].value, 0.0);
  cr_assert_str_eq(v->items[0].lastupdated, "");
  cr_assert_eq(v->items[1].year, 2021);
  cr_assert_eq(v->items[1].value, 197112255360.26944, "exact to the bit");
  cr_assert_str_eq(v->items[1].lastupdated, "2025-07-01");
  cr_assert_eq(v->items[2].value, 225496442113.92529);
  cr_assert_eq(v->items[3].year, 2023);
  cr_assert_not(v->items[3].has_value);
  cr_assert(isnan(v->items[3].value));
  for (size_t i = 0; i < v->n; i++) {
    cr_assert_eq(strlen(v->items[i].fetched_at), 24);
    cr_assert(v->items[i].fetched_unix >= before - 1 &&
                  v->items[i].fetched_unix <= time(NULL) + 1,
              "fetched_unix %lld", (long long)v->items[i].fetched_unix);
  }
  store_indicator_values_free(v);
  store_close(st);

  /* In the file the missing value is SQL NULL, not 0. */
  sqlite3 *db = raw_open(tmp);
  cr_assert_eq(raw_int(db, "SELECT value IS NULL FROM indicator_cache WHERE "
                           "country='KAZ' AND year=2023 AND "
                           "indicator='NY.GDP.MKTP.CD'"),
               1);
  cr_assert_eq(raw_int(db, "SELECT value IS NULL FROM indicator_cache WHERE "
                           "country='KAZ' AND year=2020 AND "
                           "indicator='NY.GDP.MKTP.CD'"),
               0);
  sqlite3_close(db);
}

Test(store, indicator_values_are_replaced_and_filtered_by_year) {
  store *st = open_ok(tmp);
  store_indicator_in in[] = {
      {"TJK", "NE.TRD.GNFS.ZS", 2018, true, 61.876543210987654, "2024-01-01"},
      {"TJK", "NE.TRD.GNFS.ZS", 2019, true, 59.123456789012345, "2024-01-01"},
      {"TJK", "NE.TRD.GNFS.ZS", 2020, true, 54.987654321098765, "2024-01-01"},
  };
  cr_assert_eq(store_put_indicator_values(st, in, 3, NULL), STORE_OK);
  /* A refresh: 2019 revised, 2020 withdrawn by the source. */
  store_indicator_in upd[] = {
      {"TJK", "NE.TRD.GNFS.ZS", 2019, true, 60.000000000000007, "2025-02-02"},
      {"TJK", "NE.TRD.GNFS.ZS", 2020, false, 0.0, "2025-02-02"},
  };
  cr_assert_eq(store_put_indicator_values(st, upd, 2, NULL), STORE_OK);
  store_indicator_values *v = NULL;
  cr_assert_eq(store_get_indicator_values(st, "TJK", "NE.TRD.GNFS.ZS", 2019,
                                          2020, &v, NULL),
               STORE_OK);
  cr_assert_eq(v->n, 2);
  cr_assert_eq(v->items[0].value, 60.000000000000007);
  cr_assert_str_eq(v->items[0].lastupdated, "2025-02-02");
  cr_assert_not(v->items[1].has_value);
  store_indicator_values_free(v);
  /* A miss is an empty answer, not an error. */
  cr_assert_eq(store_get_indicator_values(st, "TKM", "NE.TRD.GNFS.ZS", 2019,
                                          2020, &v, NULL),
               STORE_OK);
  cr_assert_eq(v->n, 0);
  store_indicator_values_free(v);
  cr_assert_eq(store_put_indicator_values(st, NULL, 0, NULL), STORE_OK);
  store_close(st);
}

Test(store, an_invalid_indicator_batch_writes_nothing) {
  store *st = open_ok(tmp);
  char long_lu[STORE_LASTUPDATED_MAX + 1];
  memset(long_lu, '7', sizeof long_lu - 1);
  long_lu[sizeof long_lu - 1] = '\0';
  struct {
    store_indicator_in bad;
    const char *why;
  } cases[] = {
      {{"KGZ", "SP.POP.TOTL", 2020, true, NAN, NULL}, "not finite"},
      {{"KGZ", "SP.POP.TOTL", 2020, true, INFINITY, NULL}, "not finite"},
      {{"KGZ", "SP.POP.TOTL", 2020, true, -INFINITY, NULL}, "not finite"},
      {{"K G", "SP.POP.TOTL", 2020, true, 1.5, NULL}, "bad country"},
      {{NULL, "SP.POP.TOTL", 2020, true, 1.5, NULL}, "bad country"},
      {{"KGZ", "", 2020, true, 1.5, NULL}, "bad indicator"},
      {{"KGZ", "SP.POP.TOTL", 2020, true, 1.5, long_lu}, "too long"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    store_indicator_in batch[3] = {
        {"KGZ", "SP.POP.TOTL", 2018, true, 6322800.0, "2025-07-01"},
        {"KGZ", "SP.POP.TOTL", 2019, true, 6456900.0, "2025-07-01"},
        cases[k].bad,
    };
    store_err err;
    cr_assert_eq(store_put_indicator_values(st, batch, 3, &err), STORE_INVALID,
                 "case %zu", k);
    cr_assert(strstr(err.msg, cases[k].why), "case %zu: %s", k, err.msg);
    cr_assert(strstr(err.msg, "value 2"), "names the entry: %s", err.msg);
  }
  store_err err;
  cr_assert_eq(store_put_indicator_values(st, NULL, 2, &err), STORE_INVALID);
  store_indicator_values *v = (store_indicator_values *)1;
  cr_assert_eq(store_get_indicator_values(st, "KGZ", "SP.POP.TOTL", 2000, 2030,
                                          &v, &err),
               STORE_OK);
  cr_assert_eq(v->n, 0, "all or nothing");
  store_indicator_values_free(v);
  cr_assert_eq(store_get_indicator_values(st, "KGZ", "SP.POP.TOTL", 2021, 2020,
                                          &v, &err),
               STORE_INVALID);
  cr_assert_null(v);
  cr_assert_eq(
      store_get_indicator_values(st, "KGZ", "SP POP", 2020, 2021, &v, &err),
      STORE_INVALID);
  cr_assert_eq(
      store_get_indicator_values(st, "", "SP.POP.TOTL", 2020, 2021, &v, &err),
      STORE_INVALID);
  store_close(st);
}

/* ---- busy and out of memory -------------------------------------------- */

Test(store, a_write_lock_held_elsewhere_gives_busy_after_the_timeout) {
  store_options o = {.busy_timeout_ms = 150};
  store *st = NULL;
  cr_assert_eq(store_open(tmp, &o, &st, NULL), STORE_OK);
  put_ds(st, 1, NULL);
  /* Another process (here: another connection) holds the write lock. */
  sqlite3 *other = raw_open(tmp);
  sqlite3_busy_timeout(other, 1000);
  raw_exec(other, "BEGIN IMMEDIATE");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char id[40];
  ds_id(id, 2);
  store_err err;
  cr_assert_eq(store_put_dataset(st, id, NULL, 1, NULL, "abc", 3, NULL, &err),
               STORE_BUSY, "%s", err.msg);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double waited = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  cr_assert(waited >= 0.14 && waited < 5.0, "waited %.3f s", waited);
  cr_assert_eq(err.status, STORE_BUSY);
  cr_assert(strstr(err.msg, "locked"), "%s", err.msg);
  cr_assert_eq(store_put_alias(st, "default", "m_1", NULL, &err), STORE_BUSY);
  cr_assert_eq(store_delete_dataset(st, id, &err), STORE_BUSY);
  store_indicator_in v = {"CHN", "SP.POP.TOTL", 2020, true, 1411100000.0, NULL};
  cr_assert_eq(store_put_indicator_values(st, &v, 1, &err), STORE_BUSY);
  /* Readers are not blocked by a writer in WAL mode. */
  check_ds(st, 1);
  raw_exec(other, "ROLLBACK");
  sqlite3_close(other);
  /* And once the lock is gone the same write goes through. */
  cr_assert_eq(store_put_dataset(st, id, NULL, 1, NULL, "abc", 3, NULL, &err),
               STORE_OK, "%s", err.msg);
  store_close(st);
}

Test(store, running_out_of_memory_is_nomem_and_the_store_recovers) {
  store *st = open_ok(tmp);
  put_ds(st, 1, NULL);
  size_t n = 8u << 20;
  unsigned char *big = malloc(n);
  cr_assert_not_null(big);
  for (size_t i = 0; i < n; i++)
    big[i] = (unsigned char)(i * 2654435761u >> 24);
  /* SQLite's own allocations now fail beyond 1 MiB more than it holds. */
  sqlite3_int64 used = sqlite3_memory_used();
  sqlite3_hard_heap_limit64(used + (1 << 20));
  store_err err;
  store_status s =
      store_put_dataset(st, "ds_big", NULL, 1, NULL, big, n, NULL, &err);
  sqlite3_hard_heap_limit64(0);
  cr_assert_eq(s, STORE_NOMEM, "%s: %s", store_status_name(s), err.msg);
  store_dataset *d = NULL;
  cr_assert_eq(store_get_dataset(st, "ds_big", 0, &d, NULL), STORE_NOT_FOUND);
  cr_assert_eq(
      store_put_dataset(st, "ds_big", NULL, 1, NULL, big, n, NULL, &err),
      STORE_OK, "%s", err.msg);
  cr_assert_eq(store_get_dataset(st, "ds_big", STORE_WITH_CONTENT, &d, NULL),
               STORE_OK);
  cr_assert_eq(d->content_len, n);
  cr_assert_eq(memcmp(d->content, big, n), 0);
  store_dataset_free(d);
  free(big);
  check_ds(st, 1);
  cr_assert_eq(store_integrity_check(st, NULL), STORE_OK);
  store_close(st);
}

/* ---- concurrency ------------------------------------------------------- */

#define WRITERS 4
#define PER_WRITER 60

typedef struct worker {
  store *st;
  int index;
  int failures;
  char msg[300];
} worker;

static void *writer_main(void *arg) {
  worker *w = arg;
  for (int k = 0; k < PER_WRITER; k++) {
    unsigned long long i = (unsigned long long)(w->index * 1000 + k);
    char id[40], mid[40], sum[160], spec[200], res[300];
    unsigned char buf[3000];
    ds_id(id, i);
    m_id(mid, i);
    summary_for(i, sum, sizeof sum);
    spec_for(i, spec, sizeof spec);
    result_for(i, res, sizeof res);
    size_t n = content_for(i, buf, sizeof buf);
    store_err err;
    store_status s = store_put_dataset(w->st, id, "panel", (int64_t)i, sum, buf,
                                       n, NULL, &err);
    if (s == STORE_OK)
      s = store_put_model(w->st, mid, id, spec, res, NULL, &err);
    if (s == STORE_OK) s = store_put_alias(w->st, "default", mid, NULL, &err);
    if (s == STORE_OK) {
      store_dataset_page *p = NULL;
      s = store_list_datasets(w->st, NULL, 20, &p, &err);
      store_dataset_page_free(p);
    }
    if (s != STORE_OK) {
      if (w->failures++ == 0)
        snprintf(w->msg, sizeof w->msg, "%s: %s", store_status_name(s),
                 err.msg);
    }
  }
  return NULL;
}

Test(store, concurrent_writers_and_readers_never_see_busy) {
  /* Fewer connections than threads, so some calls wait for one. */
  store_options o = {.max_connections = 3};
  store *st = NULL;
  cr_assert_eq(store_open(tmp, &o, &st, NULL), STORE_OK);
  pthread_t th[WRITERS];
  worker w[WRITERS];
  for (int t = 0; t < WRITERS; t++) {
    w[t] = (worker){.st = st, .index = t + 1};
    cr_assert_eq(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
  }
  for (int t = 0; t < WRITERS; t++)
    pthread_join(th[t], NULL);
  for (int t = 0; t < WRITERS; t++)
    cr_assert_eq(w[t].failures, 0, "writer %d: %d failures, first %s", t,
                 w[t].failures, w[t].msg);
  for (int t = 1; t <= WRITERS; t++)
    for (int k = 0; k < PER_WRITER; k++)
      check_ds(st, (unsigned long long)(t * 1000 + k));
  size_t total = 0;
  char *cursor = NULL;
  do {
    store_dataset_page *p = NULL;
    cr_assert_eq(store_list_datasets(st, cursor, 97, &p, NULL), STORE_OK);
    total += p->n;
    free(cursor);
    cursor = p->next ? strdup(p->next) : NULL;
    store_dataset_page_free(p);
  } while (cursor);
  cr_assert_eq(total, WRITERS * PER_WRITER);
  cr_assert_eq(store_integrity_check(st, NULL), STORE_OK);
  store_close(st);
}

/* ---- durability across kill -9 ----------------------------------------- */

/* The child: writes dataset i, model i and moves alias "default" to model i,
 * then acknowledges i on the pipe, forever. An acknowledgement is written
 * only after every store call for i returned STORE_OK. */
static _Noreturn void child_writer(const char *dir, int fd,
                                   unsigned long long start) {
  store *st = NULL;
  if (store_open(dir, NULL, &st, NULL) != STORE_OK) _exit(2);
  for (unsigned long long i = start;; i++) {
    char id[40], mid[40], sum[160], spec[200], res[300];
    unsigned char buf[3000];
    ds_id(id, i);
    m_id(mid, i);
    summary_for(i, sum, sizeof sum);
    spec_for(i, spec, sizeof spec);
    result_for(i, res, sizeof res);
    size_t n = content_for(i, buf, sizeof buf);
    if (store_put_dataset(st, id, "panel", (int64_t)i, sum, buf, n, NULL,
                          NULL) != STORE_OK ||
        store_put_model(st, mid, id, spec, res, NULL, NULL) != STORE_OK ||
        store_put_alias(st, "default", mid, NULL, NULL) != STORE_OK)
      _exit(3);
    uint64_t ack = i;
    if (write(fd, &ack, sizeof ack) != (ssize_t)sizeof ack) _exit(4);
  }
}

/* Runs one child until `want` acknowledgements, kills it with SIGKILL, and
 * returns the highest acknowledged i (every i from start on was acked). */
static unsigned long long run_and_kill(unsigned long long start, size_t want) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    close(fds[0]);
    child_writer(tmp, fds[1], start);
  }
  close(fds[1]);
  size_t got = 0;
  unsigned long long expect = start;
  uint64_t ack;
  while (got < want) {
    ssize_t r = read(fds[0], &ack, sizeof ack);
    if (r < 0 && errno == EINTR) continue;
    cr_assert_eq(r, (ssize_t)sizeof ack, "child stopped early");
    cr_assert_eq(ack, expect);
    expect++;
    got++;
  }
  cr_assert_eq(kill(pid, SIGKILL), 0);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
            "the child must die by SIGKILL, not exit (status %d)", status);
  /* Acknowledgements still in the pipe were made before the kill too. */
  ssize_t r;
  while ((r = read(fds[0], &ack, sizeof ack)) == (ssize_t)sizeof ack) {
    cr_assert_eq(ack, expect);
    expect++;
  }
  close(fds[0]);
  return expect - 1;
}

Test(store, every_acknowledged_write_survives_kill_9) {
  unsigned long long start = 0, first[3], last = 0;
  for (int round = 0; round < 3; round++) {
    first[round] = start;
    last = run_and_kill(start, 300);
    store *st = open_ok(tmp);
    store_err err;
    cr_assert_eq(store_integrity_check(st, &err), STORE_OK, "round %d: %s",
                 round, err.msg);
    /* This round's acknowledgements and every earlier round's. */
    for (unsigned long long i = 0; i <= last; i++) {
      bool acked = false;
      for (int r = 0; r <= round; r++)
        acked |= i >= first[r] && (r == round || i < first[r + 1] - 1);
      if (!acked) continue;
      check_ds(st, i);
      char mid[40], spec[200], res[300];
      m_id(mid, i);
      spec_for(i, spec, sizeof spec);
      result_for(i, res, sizeof res);
      store_model *m = NULL;
      cr_assert_eq(store_get_model(st, mid, &m, &err), STORE_OK,
                   "round %d model %llu: %s", round, i, err.msg);
      cr_assert_str_eq(m->spec_json, spec);
      cr_assert_str_eq(m->result_json, res);
      store_model_free(m);
    }
    /* The alias was moved at least as far as the last acknowledgement (one
     * more write may have committed before its ack was sent). */
    char *target = NULL;
    cr_assert_eq(store_get_alias(st, "default", &target, NULL), STORE_OK);
    unsigned long long j;
    bool found = false;
    for (j = last; j <= last + 1 && !found; j++) {
      char mid[40];
      m_id(mid, j);
      found = strcmp(target, mid) == 0;
    }
    cr_assert(found, "round %d: alias at %s, last ack %llu", round, target,
              last);
    free(target);
    store_close(st);
    start = last + 2; /* beyond anything the child may have committed */
  }
}

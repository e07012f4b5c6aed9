/* SPDX-License-Identifier: MIT */
/*
 * SQLite 3 dialect. Storage choices: decimals, dates and times are TEXT
 * (NUMERIC affinity would round long decimals; ISO text sorts correctly);
 * blobs are real BLOBs written as X'..' literals and read back as hex
 * (the libdbi driver reads values through text and would cut at a NUL);
 * reals are read as an exact mantissa and exponent (see select_column).
 * -0.0 cannot be kept: SQLite stores it as 0.
 * Connections run with foreign keys on, WAL, synchronous=NORMAL and a busy
 * timeout, each overridable in the URL.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conn.h"

static int pragma_value(const dbsync__url *url, const char *key, const char *dflt,
                        const char *const *allowed, const char **out, dbsync_error *err);
static const char *const journal_modes[] = {"wal", "delete", "truncate", "persist", "memory", "off", NULL};
static const char *const sync_modes[] = {"normal", "full", "extra", "off", NULL};

static int sqlite_configure(dbi_conn dbi, const dbsync__url *url, dbsync_error *err)
{
    /* Every option is checked before the file is opened (and maybe created). */
    const char *unused;
    if (pragma_value(url, "journal_mode", "wal", journal_modes, &unused, err) ||
        pragma_value(url, "synchronous", "normal", sync_modes, &unused, err))
        return DBSYNC_EINVALID;
    const char *path = url->path;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? dbsync__strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : dbsync__strdup(".");
    if (!dir)
        return dbsync__error_nomem(err);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_DB,
                          "cannot open sqlite3 database %.200s: folder %.200s does not exist",
                          path, dir);
        free(dir);
        return DBSYNC_ERROR;
    }
    /* create=false: open an existing file only (a typo'd path must not
     * leave a new empty database behind). */
    const char *create = dbsync__url_option(url, "create");
    if (create && strcasecmp(create, "true") && strcasecmp(create, "false")) {
        free(dir);
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "database URL option create=%.40s: expected true or false", create);
    }
    if (create && !strcasecmp(create, "false") && stat(path, &st) != 0) {
        dbsync__error_set(err, DBSYNC_ENOTFOUND, DBSYNC_ECLASS_DB,
                          "sqlite3 database %.300s does not exist", path);
        free(dir);
        return DBSYNC_ENOTFOUND;
    }
    int rc = dbi_conn_set_option(dbi, "sqlite3_dbdir", dir);
    free(dir);
    if (rc == 0)
        rc = dbi_conn_set_option(dbi, "dbname", slash ? slash + 1 : path);
    const char *timeout = dbsync__url_option(url, "timeout");
    int64_t ms = 5000;
    if (timeout && (dbsync__parse_int64(timeout, &ms) != 0 || ms < 0 || ms > 86400000))
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "database URL option timeout=%.40s: not a number of milliseconds",
                                 timeout);
    if (rc == 0)
        rc = dbi_conn_set_option_numeric(dbi, "sqlite3_timeout", (int)ms);
    for (size_t i = 0; rc == 0 && i < url->n_options; i++) {
        const char *k = url->keys[i];
        if (!strcmp(k, "timeout") || !strcmp(k, "journal_mode") || !strcmp(k, "synchronous") ||
            !strcmp(k, "create"))
            continue;
        rc = dbi_conn_set_option(dbi, k, url->values[i]);
    }
    if (rc != 0)
        return dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_DB, "cannot set sqlite3 options");
    return DBSYNC_OK;
}

/* The libdbi sqlite3 driver prints "no tables in statement !" for statements
 * that return rows without naming a table; a comment naming one quiets it. */
#define QUIET " /* from sqlite_master */"

/* Returns the option's value when it is one of the words allowed (PRAGMA
 * values cannot be quoted, so only known words reach the statement). */
static int pragma_value(const dbsync__url *url, const char *key, const char *dflt,
                        const char *const *allowed, const char **out, dbsync_error *err)
{
    const char *v = dbsync__url_option(url, key);
    if (!v) {
        *out = dflt;
        return DBSYNC_OK;
    }
    for (size_t i = 0; allowed[i]; i++)
        if (!strcasecmp(v, allowed[i])) {
            *out = allowed[i];
            return DBSYNC_OK;
        }
    return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                             "database URL option %s=%.40s: unknown value", key, v);
}

static int sqlite_after_connect(dbsync_conn *conn, const dbsync__url *url)
{
    const char *jm, *sy;
    int rc = pragma_value(url, "journal_mode", "wal", journal_modes, &jm, &conn->error);
    if (!rc)
        rc = pragma_value(url, "synchronous", "normal", sync_modes, &sy, &conn->error);
    if (rc)
        return rc;
    char sql[96];
    rc = dbsync__exec(conn, "PRAGMA foreign_keys=ON", "enabling foreign keys");
    snprintf(sql, sizeof sql, "PRAGMA journal_mode=%s" QUIET, jm);
    if (!rc)
        rc = dbsync__exec(conn, sql, "setting the journal mode");
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", sy);
    if (!rc)
        rc = dbsync__exec(conn, sql, "setting synchronous");
    return rc;
}

/*
 * SQLite parses decimal text with long double arithmetic, which is not
 * always correctly rounded (and where long double is double, as under
 * valgrind, often wrong). A double is an integer times a power of two, and
 * both are exact in SQL: (M * pow(2, E1) * pow(2, E2)), split in two powers
 * so neither overflows nor underflows.
 */
static void sqlite_real_literal(dbsync__buf *sql, double d)
{
    if (d == 0) {
        dbsync__buf_puts(sql, "0.0");
        return;
    }
    int exp;
    double frac = frexp(d, &exp); /* d = frac * 2^exp, 0.5 <= |frac| < 1 */
    int64_t m = (int64_t)ldexp(frac, 53);
    int e = exp - 53;
    if (e == 0) {
        dbsync__buf_put_int64(sql, m);
        dbsync__buf_puts(sql, ".0");
        return;
    }
    dbsync__buf_putc(sql, '(');
    dbsync__buf_put_int64(sql, m);
    dbsync__buf_puts(sql, " * pow(2, ");
    dbsync__buf_put_int64(sql, e / 2);
    dbsync__buf_puts(sql, ") * pow(2, ");
    dbsync__buf_put_int64(sql, e - e / 2);
    dbsync__buf_puts(sql, "))");
}

/*
 * Expressions in a select list must suit the libdbi sqlite3 driver, which
 * guesses result types by parsing the statement: an unaliased expression is
 * copied into a 128-byte buffer (longer ones overflow it) and an aliased
 * function call it does not know is freed twice. A parenthesized expression
 * with an alias, "(EXPR) AS name", is read as a string and is safe; the
 * alias uses the reserved sync_ prefix so it never names a real column.
 */
static void sqlite_select_column(dbsync__buf *sql, const dbsync_column *col, const char *q,
                                 unsigned index)
{
    switch (col->type) {
    case DBSYNC_TYPE_REAL: {
        /* SQLite's own float-to-text is not exact (it rounds in the 17th
         * digit, and under emulators worse). Scaling by powers of two is
         * exact, so the value leaves as "MANTISSA EXPONENT", two integers,
         * and the reader rebuilds it with ldexp: r = m * 2^(e - 60). */
        char e[256];
        snprintf(e, sizeof e, "CAST(floor(log2(abs(%s))) AS INTEGER)", q);
        dbsync__buf_printf(sql,
                           "(CASE WHEN %s IS NULL THEN NULL WHEN %s = 0 THEN '0 0' ELSE "
                           "printf('%%d %%d', CAST(%s * pow(2, (60 - %s) / 2) * "
                           "pow(2, (60 - %s) - (60 - %s) / 2) AS INTEGER), %s) END) AS sync_c%u",
                           q, q, q, e, e, e, e, index);
        break;
    }
    case DBSYNC_TYPE_BLOB:
        dbsync__buf_printf(sql, "(CASE WHEN %s IS NULL THEN NULL ELSE hex(%s) END) AS sync_c%u", q,
                           q, index);
        break;
    default:
        dbsync__buf_puts(sql, q);
        break;
    }
}

void dbsync__hex_blob_literal(dbsync__buf *sql, const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    dbsync__buf_puts(sql, "X'");
    for (size_t i = 0; i < len; i++) {
        char h[2] = {digits[data[i] >> 4], digits[data[i] & 15]};
        dbsync__buf_append(sql, h, 2);
    }
    dbsync__buf_putc(sql, '\'');
}

/*
 * Operations as runs of the same table and command, each run one JSON array
 * of keys read by json_each: SQLite parses a few tokens per run instead of
 * a VALUES row per operation, which makes tracking nearly free on bulk
 * writes. The outer ORDER BY keeps the log order.
 */
static int sqlite_write_ops(dbsync_conn *conn, const dbsync__pending_op *ops, size_t n)
{
    dbsync__buf *b = &conn->sql;
    dbsync__buf_reset(b);
    dbsync__buf_puts(b, "INSERT INTO sync_operations (row_id, content_type_id, command) "
                        "SELECT r, c, m FROM (");
    size_t run = 0;
    for (size_t i = 0; i < n; run++) {
        size_t j = i;
        if (run)
            dbsync__buf_puts(b, " UNION ALL ");
        dbsync__buf_puts(b, "SELECT value AS r, ");
        dbsync__buf_put_int64(b, ops[i].content_type_id);
        dbsync__buf_printf(b, " AS c, '%c' AS m, ", ops[i].command);
        dbsync__buf_put_int64(b, (int64_t)run);
        dbsync__buf_puts(b, " AS g, key AS k FROM json_each('[");
        for (; j < n && ops[j].content_type_id == ops[i].content_type_id &&
               ops[j].command == ops[i].command;
             j++) {
            if (j > i)
                dbsync__buf_putc(b, ',');
            dbsync__buf_put_int64(b, ops[j].row_id);
        }
        dbsync__buf_puts(b, "]')");
        i = j;
    }
    dbsync__buf_puts(b, ") ORDER BY g, k");
    if (b->oom)
        return dbsync__error_nomem(&conn->error);
    return dbsync__exec(conn, b->data, "writing the operations log");
}

static int sqlite_write_lock(dbsync_conn *conn)
{
    /* BEGIN IMMEDIATE already holds the database's only write lock. */
    (void)conn;
    return DBSYNC_OK;
}

static int sqlite_classify(const char *m)
{
    if (strstr(m, "UNIQUE constraint failed") || strstr(m, "PRIMARY KEY must be unique"))
        return DBSYNC_EEXISTS;
    if (strstr(m, "FOREIGN KEY constraint failed"))
        return DBSYNC_ECONFLICT;
    if (strstr(m, "NOT NULL constraint failed") || strstr(m, "datatype mismatch"))
        return DBSYNC_EINVALID;
    return DBSYNC_ERROR;
}

const dbsync__dialect dbsync__dialect_sqlite3 = {
    .name = "sqlite3",
    .ident_quote = '"',
    .pk_ddl = "INTEGER PRIMARY KEY AUTOINCREMENT",
    .inline_fk = true,
    .fk_suffix = "",
    .ddl_in_transaction = true,
    .insert_returning = false,
    .begin_sql = "BEGIN IMMEDIATE",
    .true_literal = "1",
    .false_literal = "0",
    .create_table_suffix = "",
    .configure = sqlite_configure,
    .after_connect = sqlite_after_connect,
    /* decimals, dates and times as TEXT: see the top of this file */
    .types = {NULL, "INTEGER", "INTEGER", "REAL", "TEXT", "TEXT", "BLOB", "TEXT", "TEXT", "TEXT"},
    .text_sized = NULL,
    .text_sized_max = 0,
    .select_column = sqlite_select_column,
    .real_literal = sqlite_real_literal,
    .blob_literal = dbsync__hex_blob_literal,
    .text_key_prefix = "",
    .table_exists_sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s",
    .key_inserted = NULL,
    .write_ops = sqlite_write_ops,
    .write_lock = sqlite_write_lock,
    .defer_fk_sql = "PRAGMA defer_foreign_keys=ON",
    .defer_fk_end_sql = NULL,
    .deferred_fk_unchecked = false,
    .error_aborts_transaction = false,
    .fk_off_sql = "PRAGMA foreign_keys=OFF",
    .fk_on_sql = "PRAGMA foreign_keys=ON",
    .classify_error = sqlite_classify,
};


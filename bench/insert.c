/* SPDX-License-Identifier: MIT */
/*
 * bench/insert: the same N rows (default 100,000) inserted in one
 * transaction into a fresh SQLite file four ways, in one run:
 *   1. raw sqlite3 prepared statements writing the row and its operation
 *      (the physical limit of tracking);
 *   2. untracked libdbi: one INSERT per row with quoted values;
 *   3. tracked, through the generated accessor benchdb_item_insert;
 *   4. tracked, through the generated accessor with a transaction per
 *      100 rows (what an app committing often pays).
 * Prints a Markdown table with times and ratios to untracked libdbi, and
 * writes it to FILE when given: bench/insert [-n ROWS] [-o FILE] [DIR]
 * (-w WAY runs one way alone, for profiling).
 */
#include <sqlite3.h>
#include <dbi/dbi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchdb.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/insert: %s: %s\n", what, msg);
    exit(1);
}

/* The i-th row, the same for every way. */
static void row_text(long i, char *name, char *price, char *at)
{
    snprintf(name, 64, "item %ld 'quoted'", i);
    snprintf(price, 32, "%ld.%02ld", i % 100000, i % 100);
    snprintf(at, 32, "2026-11-%02ld 10:%02ld:%02ld", 1 + i % 28, i % 60, (i / 60) % 60);
}

static void fresh(const char *path)
{
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* The same settings dbsync uses: WAL, synchronous=NORMAL, foreign keys. */
static double way_raw(const char *path, long n)
{
    sqlite3 *db;
    fresh(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("sqlite3_open", sqlite3_errmsg(db));
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                     "CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
                     " price TEXT, qty INTEGER NOT NULL, at TEXT);"
                     "CREATE TABLE sync_operations (row_id INTEGER NOT NULL, content_type_id "
                     "INTEGER NOT NULL, command TEXT NOT NULL, \"order\" INTEGER PRIMARY KEY "
                     "AUTOINCREMENT, version_id INTEGER);",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins, *op;
    sqlite3_prepare_v2(db, "INSERT INTO item (name, price, qty, at) VALUES (?, ?, ?, ?)", -1, &ins, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO sync_operations (row_id, content_type_id, command) VALUES (?, 1, 'i')",
                       -1, &op, NULL);
    double t0 = now();
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (long i = 0; i < n; i++) {
        char name[64], price[32], at[32];
        row_text(i, name, price, at);
        sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, price, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 3, i);
        sqlite3_bind_text(ins, 4, at, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die("insert", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        sqlite3_bind_int64(op, 1, sqlite3_last_insert_rowid(db));
        if (sqlite3_step(op) != SQLITE_DONE)
            die("insert op", sqlite3_errmsg(db));
        sqlite3_reset(op);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    double t = now() - t0;
    sqlite3_finalize(ins);
    sqlite3_finalize(op);
    sqlite3_close(db);
    return t;
}

static dbi_result dq(dbi_conn c, const char *sql)
{
    dbi_result r = dbi_conn_query(c, sql);
    if (!r) {
        const char *m;
        dbi_conn_error(c, &m);
        die(sql, m);
    }
    return r;
}

static double way_libdbi(const char *dir, const char *file, long n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    fresh(path);
    dbi_inst inst;
    dbi_initialize_r(NULL, &inst);
    dbi_conn c = dbi_conn_new_r("sqlite3", inst);
    dbi_conn_set_option(c, "sqlite3_dbdir", dir);
    dbi_conn_set_option(c, "dbname", file);
    if (dbi_conn_connect(c) < 0)
        die("connect", path);
    dbi_result_free(dq(c, "PRAGMA journal_mode=WAL /* from sqlite_master */"));
    dbi_result_free(dq(c, "PRAGMA synchronous=NORMAL"));
    dbi_result_free(dq(c, "PRAGMA foreign_keys=ON"));
    dbi_result_free(dq(c, "CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT "
                          "NULL, price TEXT, qty INTEGER NOT NULL, at TEXT)"));
    double t0 = now();
    dbi_result_free(dq(c, "BEGIN IMMEDIATE"));
    char *sql = malloc(1024);
    for (long i = 0; i < n; i++) {
        char name[64], price[32], at[32];
        row_text(i, name, price, at);
        char *qn, *qp, *qa;
        dbi_conn_quote_string_copy(c, name, &qn);
        dbi_conn_quote_string_copy(c, price, &qp);
        dbi_conn_quote_string_copy(c, at, &qa);
        snprintf(sql, 1024, "INSERT INTO item (name, price, qty, at) VALUES (%s, %s, %ld, %s)", qn,
                 qp, i, qa);
        free(qn);
        free(qp);
        free(qa);
        dbi_result_free(dq(c, sql));
        (void)dbi_conn_sequence_last(c, NULL);
    }
    dbi_result_free(dq(c, "COMMIT"));
    double t = now() - t0;
    free(sql);
    dbi_conn_close(c);
    dbi_shutdown_r(inst);
    return t;
}

static double way_tracked(const char *dir, const char *file, long n, long per_tx)
{
    char url[4200];
    snprintf(url, sizeof url, "%s/%s", dir, file);
    fresh(url);
    snprintf(url, sizeof url, "sqlite3:%s/%s", dir, file);
    dbsync_conn *db;
    dbsync_error err;
    if (dbsync_conn_open(&db, url, &benchdb_schema, &err) || dbsync_conn_create_all(db))
        die("open", err.message);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (i % per_tx == 0 && dbsync_conn_begin(db))
            die("begin", dbsync_conn_error(db)->message);
        char name[64], price[32], at[32];
        row_text(i, name, price, at);
        benchdb_item it = BENCHDB_ITEM_INIT;
        it.name = name;
        it.price = price;
        it.qty = i;
        if (dbsync_datetime_parse(&it.at, at))
            die("datetime", at);
        it.has_at = true;
        if (benchdb_item_insert(db, &it))
            die("insert", dbsync_conn_error(db)->message);
        if ((i + 1) % per_tx == 0 || i + 1 == n)
            if (dbsync_conn_commit(db))
                die("commit", dbsync_conn_error(db)->message);
    }
    double t = now() - t0;
    dbsync_status st;
    if (dbsync_status_get(db, &st) || st.operations != n)
        die("check", "the log does not hold one operation per row");
    dbsync_conn_close(db);
    return t;
}

int main(int argc, char **argv)
{
    long n = 100000;
    const char *out = NULL;
    int opt;
    const char *only = NULL;
    while ((opt = getopt(argc, argv, "n:o:w:")) != -1) {
        if (opt == 'n')
            n = atol(optarg);
        else if (opt == 'w')
            only = optarg;
        else if (opt == 'o')
            out = optarg;
        else {
            fprintf(stderr, "usage: bench/insert [-n ROWS] [-o FILE] [-w raw|dbi|tracked] [DIR]\n");
            return 2;
        }
    }
    const char *dir = optind < argc ? argv[optind] : ".";
    if (n <= 0) {
        fprintf(stderr, "bench/insert: -n must be positive\n");
        return 2;
    }
    if (only) { /* one way alone, for profiling */
        double t = !strcmp(only, "raw")       ? way_raw("bench-raw.db", n)
                   : !strcmp(only, "dbi")     ? way_libdbi(dir, "bench-dbi.db", n)
                   : !strcmp(only, "tracked") ? way_tracked(dir, "bench-tracked.db", n, n)
                                              : -1;
        if (t < 0) {
            fprintf(stderr, "bench/insert: unknown way %s\n", only);
            return 2;
        }
        printf("%s: %.3f s\n", only, t);
        return 0;
    }
    char raw_path[4200];
    snprintf(raw_path, sizeof raw_path, "%s/bench-raw.db", dir);
    double raw = way_raw(raw_path, n);
    double dbi = way_libdbi(dir, "bench-dbi.db", n);
    double trk = way_tracked(dir, "bench-tracked.db", n, n);
    double trk100 = way_tracked(dir, "bench-tracked100.db", n, 100);
    char table[2048];
    snprintf(table, sizeof table,
             "| way (%ld rows, SQLite, WAL) | seconds | vs untracked libdbi |\n"
             "|---|---:|---:|\n"
             "| raw sqlite3 prepared statements, row + operation | %.3f | %.2f |\n"
             "| untracked libdbi, one INSERT per row | %.3f | 1.00 |\n"
             "| tracked, generated accessor, one transaction | %.3f | %.2f |\n"
             "| tracked, generated accessor, a transaction per 100 rows | %.3f | %.2f |\n",
             n, raw, raw / dbi, dbi, trk, trk / dbi, trk100, trk100 / dbi);
    fputs(table, stdout);
    if (out) {
        FILE *fp = fopen(out, "w");
        if (!fp)
            die("write", out);
        fputs(table, fp);
        fclose(fp);
    }
    return 0;
}

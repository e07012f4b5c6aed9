/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the cmocka test programs: a fresh temporary folder per
 * test program under tests/tmp, and paths into the source tree.
 */
#ifndef DBSYNC_TESTUTIL_H
#define DBSYNC_TESTUTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif
#ifndef TEST_BUILDDIR
#define TEST_BUILDDIR "."
#endif

/* Returns a path in a static rotating buffer: TEST_SRCDIR "/" rel. */
static inline const char *tu_src(const char *rel)
{
    static char bufs[8][1024];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 1024, "%s/%s", TEST_SRCDIR, rel);
    return b;
}

/* A new empty folder for this test program: TEST_BUILDDIR/tests/tmp/<name>-<pid>. */
static inline const char *tu_tmpdir(const char *name)
{
    static char dir[2048];
    char base[1024];
    snprintf(base, sizeof base, "%s/tests/tmp", TEST_BUILDDIR);
    mkdir(base, 0777);
    snprintf(dir, sizeof dir, "%.1000s/%.100s-%ld", base, name, (long)getpid());
    mkdir(dir, 0777);
    return dir;
}

/* Path of a file in the folder returned by tu_tmpdir (rotating static buffer). */
static inline const char *tu_tmpfile(const char *dir, const char *file)
{
    static char bufs[8][2300];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 2300, "%.2048s/%.200s", dir, file);
    return b;
}

/* A sqlite3 URL for a fresh database file (removed first). */
static inline const char *tu_sqlite_url(const char *dir, const char *file)
{
    static char bufs[4][2400];
    static int i;
    char *b = bufs[i++ % 4];
    char path[2300];
    snprintf(path, sizeof path, "%.2048s/%.200s", dir, file);
    unlink(path);
    char wal[2400];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path);
    unlink(wal);
    snprintf(b, 2400, "sqlite3:%s", path);
    return b;
}

/*
 * Opens the database a test runs on: a fresh SQLite file in dir, or, when
 * DBSYNC_TEST_URL is set (tests/backend.sh sets it), that server database
 * with every table of the schema and the sync_* tables dropped first.
 * Fails the test on error. Include <dbsync/dbsync.h> before this header.
 */
#ifdef DBSYNC_DBSYNC_H
static inline dbsync_conn *tu_open(const char *dir, const char *file, const dbsync_schema *schema)
{
    dbsync_conn *c;
    dbsync_error err;
    const char *url = getenv("DBSYNC_TEST_URL");
    if (url && *url) {
        if (dbsync_conn_open(&c, url, schema, &err))
            fail_msg("open %s: %s", url, err.message);
        int pg = !strcmp(dbsync_conn_backend(c), "pgsql");
        if (!pg)
            dbsync_conn_exec(c, "SET FOREIGN_KEY_CHECKS = 0");
        const char *sync_tables[] = {"sync_operations", "sync_versions", "sync_nodes",
                                     "sync_content_types"};
        for (size_t i = 0; i < schema->n_tables + 4; i++) {
            const char *name = i < schema->n_tables ? schema->tables[i].name
                                                    : sync_tables[i - schema->n_tables];
            char sql[256];
            snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %c%s%c%s", pg ? '"' : '`', name,
                     pg ? '"' : '`', pg ? " CASCADE" : "");
            if (dbsync_conn_exec(c, sql))
                fail_msg("%s: %s", sql, dbsync_conn_error(c)->message);
        }
        if (!pg)
            dbsync_conn_exec(c, "SET FOREIGN_KEY_CHECKS = 1");
    } else if (dbsync_conn_open(&c, tu_sqlite_url(dir, file), schema, &err)) {
        fail_msg("open: %s", err.message);
    }
    if (dbsync_conn_create_all(c))
        fail_msg("create_all: %s", dbsync_conn_error(c)->message);
    return c;
}
#endif

#endif

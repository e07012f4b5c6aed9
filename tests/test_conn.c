/* SPDX-License-Identifier: MIT */
/*
 * Connections: URL parsing (good and malformed), opening SQLite files with
 * their default and overridden settings, transactions, table creation.
 */
#include "testutil.h"

#include "conn.h"

static const char *dir;

static const char schema_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<schema name=\"t\" version=\"1\">\n"
    "  <table name=\"parent\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"name\" type=\"text\" nullable=\"false\" default=\"x\"/>\n"
    "    <unique columns=\"name\"/>\n"
    "  </table>\n"
    "  <table name=\"child\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"parent_id\" type=\"integer\" references=\"parent\" on-delete=\"cascade\"/>\n"
    "    <index columns=\"parent_id\"/>\n"
    "  </table>\n"
    "  <table name=\"scratch\" sync=\"false\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "  </table>\n"
    "</schema>\n";

static dbsync_schema *schema;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir("conn");
    dbsync_error err;
    if (dbsync_schema_load_memory(&schema, schema_xml, sizeof schema_xml - 1, "t.xml", &err)) {
        fprintf(stderr, "schema: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dbsync_schema_free(schema);
    return 0;
}

static void url_ok(const char *text, const char *scheme, const char *path, const char *user,
                   const char *password, const char *host, const char *port, const char *db)
{
    dbsync__url u;
    dbsync_error err;
    int rc = dbsync__url_parse(&u, text, &err);
    if (rc)
        fail_msg("%s: %s", text, err.message);
#define SAME(a, b)                                                                                 \
    do {                                                                                           \
        if ((a) == NULL || (b) == NULL)                                                            \
            assert_ptr_equal((a), (b));                                                            \
        else                                                                                       \
            assert_string_equal((a), (b));                                                         \
    } while (0)
    SAME(u.scheme, scheme);
    SAME(u.path, path);
    SAME(u.user, user);
    SAME(u.password, password);
    SAME(u.host, host);
    SAME(u.port, port);
    SAME(u.dbname, db);
    dbsync__url_free(&u);
}

static void url_bad(const char *text, const char *fragment)
{
    dbsync__url u;
    dbsync_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dbsync__url_parse(&u, text, &err), DBSYNC_EINVALID);
    if (!strstr(err.message, fragment))
        fail_msg("%s: message \"%s\" lacks \"%s\"", text ? text : "(null)", err.message, fragment);
}

static void test_conn__url_parse(void **state)
{
    (void)state;
    url_ok("sqlite3:/tmp/a.db", "sqlite3", "/tmp/a.db", NULL, NULL, NULL, NULL, NULL);
    url_ok("sqlite3:rel/a.db", "sqlite3", "rel/a.db", NULL, NULL, NULL, NULL, NULL);
    url_ok("sqlite3:///tmp/a%20b.db", "sqlite3", "/tmp/a b.db", NULL, NULL, NULL, NULL, NULL);
    url_ok("pgsql://u:p%40ss@db.local:5433/shop", "pgsql", NULL, "u", "p@ss", "db.local", "5433",
           "shop");
    url_ok("pgsql://localhost/shop", "pgsql", NULL, NULL, NULL, "localhost", NULL, "shop");
    url_ok("mysql://root@127.0.0.1:3306/x", "mysql", NULL, "root", NULL, "127.0.0.1", "3306", "x");
    url_ok("mysql://u:p@[::1]:3306/x", "mysql", NULL, "u", "p", "::1", "3306", "x");
    dbsync__url u;
    assert_int_equal(dbsync__url_parse(&u, "sqlite3:a.db?timeout=100&journal_mode=delete", NULL), 0);
    assert_int_equal(u.n_options, 2);
    assert_string_equal(dbsync__url_option(&u, "timeout"), "100");
    assert_string_equal(dbsync__url_option(&u, "journal_mode"), "delete");
    assert_null(dbsync__url_option(&u, "other"));
    dbsync__url_free(&u);
}

static void test_conn__url_malformed(void **state)
{
    (void)state;
    url_bad(NULL, "empty database URL");
    url_bad("", "empty database URL");
    url_bad("nocolon", "no scheme");
    url_bad(":x", "no scheme");
    url_bad("nosuch://x/y", "unknown backend \"nosuch\"");
    url_bad("sqlite3:", "no file path");
    url_bad("sqlite3:/tmp/", "names a folder");
    url_bad("pgsql://", "no database name");
    url_bad("pgsql://host", "no database name");
    url_bad("pgsql:host/db", "expected pgsql://");
    url_bad("pgsql://host:99999/db", "bad port \"99999\"");
    url_bad("pgsql://host:abc/db", "bad port \"abc\"");
    url_bad("pgsql://host:/db", "bad port");
    url_bad("mysql://[::1/db", "unclosed [");
    url_bad("sqlite3:a.db?timeout", "option \"timeout\" is not key=value");
    url_bad("sqlite3:a.db?=1", "is not key=value");
    url_bad("sqlite3:a%zz.db", "bad %-escape in the path");
    url_bad("sqlite3:a%00.db", "bad %-escape in the path");
    url_bad("sqlite3:a.db?bad-key=1", "bad option name");
    /* messages never show a password */
    url_bad("pgsql://ann:s3cret@host:99999/db", "\"pgsql://ann:***@host:99999/db\": bad port");
    url_bad("mysql://ann:s3cret@host/db?x", "\"mysql://ann:***@host/db?x\"");
}

/* Opening with a bad URL fails cleanly and creates no file. */
static void test_conn__open_refused(void **state)
{
    (void)state;
    dbsync_conn *c = (dbsync_conn *)1;
    dbsync_error err;
    assert_int_equal(dbsync_conn_open(&c, "sqlite3:", schema, &err), DBSYNC_EINVALID);
    assert_null(c);
    assert_int_equal(err.klass, DBSYNC_ECLASS_ARG);
    char url[1400];
    snprintf(url, sizeof url, "sqlite3:%s/never.db?journal_mode=bogus", dir);
    assert_int_equal(dbsync_conn_open(&c, url, schema, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "journal_mode=bogus: unknown value"));
    snprintf(url, sizeof url, "sqlite3:%s/never.db?timeout=-5", dir);
    assert_int_equal(dbsync_conn_open(&c, url, schema, &err), DBSYNC_EINVALID);
    snprintf(url, sizeof url, "sqlite3:%s/no/such/folder/x.db", dir);
    assert_int_equal(dbsync_conn_open(&c, url, schema, &err), DBSYNC_ERROR);
    assert_int_equal(err.klass, DBSYNC_ECLASS_DB);
    assert_int_equal(dbsync_conn_open(&c, "sqlite3:x.db", NULL, &err), DBSYNC_EINVALID);
    struct stat st;
    assert_int_not_equal(stat(tu_tmpfile(dir, "never.db"), &st), 0);
}

/* A hand-made (or corrupted) descriptor is checked before it is trusted. */
static void test_conn__bad_descriptor_refused(void **state)
{
    (void)state;
    static const dbsync_column cols[] = {
        {"id", DBSYNC_TYPE_INTEGER, DBSYNC_COLUMN_PRIMARY_KEY, 0, 0, 0, NULL, -1,
         DBSYNC_ON_DELETE_RESTRICT, 0, DBSYNC_NO_OFFSET, 0},
        {"sync_state", DBSYNC_TYPE_TEXT, DBSYNC_COLUMN_NULLABLE, 0, 0, 0, NULL, -1,
         DBSYNC_ON_DELETE_RESTRICT, 8, DBSYNC_NO_OFFSET, 0},
    };
    static const dbsync_table tables[] = {
        {"thing", DBSYNC_TABLE_SYNCED, 2, cols, 0, 0, NULL, 0, NULL, 16, 0}};
    static const dbsync_schema bad = {DBSYNC_SCHEMA_MAGIC, "hand", NULL, 1, tables, NULL};
    dbsync_conn *c = (dbsync_conn *)1;
    dbsync_error err;
    assert_int_equal(dbsync_conn_open(&c, tu_sqlite_url(dir, "bad.db"), &bad, &err),
                     DBSYNC_EINVALID);
    assert_null(c);
    assert_non_null(strstr(err.message, "sync_state"));
    static const dbsync_schema notmagic = {0, "hand", NULL, 1, tables, NULL};
    assert_int_equal(dbsync_conn_open(&c, tu_sqlite_url(dir, "bad.db"), &notmagic, &err),
                     DBSYNC_EINVALID);
}

static char *pragma(dbsync_conn *c, const char *sql)
{
    dbi_result r = dbsync__query(c, sql, "pragma");
    assert_non_null(r);
    assert_true(dbi_result_next_row(r));
    char *s = dbi_result_get_as_string_copy_idx(r, 1);
    dbi_result_free(r);
    return s;
}

static void expect_pragma(dbsync_conn *c, const char *sql, const char *value)
{
    char *s = pragma(c, sql);
    assert_string_equal(s, value);
    free(s);
}

static void test_conn__sqlite_defaults(void **state)
{
    (void)state;
    dbsync_conn *c;
    dbsync_error err;
    assert_int_equal(dbsync_conn_open(&c, tu_sqlite_url(dir, "defaults.db"), schema, &err), 0);
    assert_string_equal(dbsync_conn_backend(c), "sqlite3");
    assert_ptr_equal(dbsync_conn_schema(c), schema);
    expect_pragma(c, "PRAGMA journal_mode /* from sqlite_master */", "wal");
    expect_pragma(c, "PRAGMA foreign_keys /* from sqlite_master */", "1");
    expect_pragma(c, "PRAGMA synchronous /* from sqlite_master */", "1");
    expect_pragma(c, "PRAGMA busy_timeout /* from sqlite_master */", "5000");
    dbsync_conn_close(c);
    char url[1400];
    snprintf(url, sizeof url, "%s?journal_mode=delete&synchronous=full&timeout=250",
             tu_sqlite_url(dir, "override.db"));
    assert_int_equal(dbsync_conn_open(&c, url, schema, &err), 0);
    expect_pragma(c, "PRAGMA journal_mode /* from sqlite_master */", "delete");
    expect_pragma(c, "PRAGMA synchronous /* from sqlite_master */", "2");
    expect_pragma(c, "PRAGMA busy_timeout /* from sqlite_master */", "250");
    dbsync_conn_close(c);
}

static void test_conn__transactions(void **state)
{
    (void)state;
    dbsync_conn *c;
    assert_int_equal(dbsync_conn_open(&c, tu_sqlite_url(dir, "tx.db"), schema, NULL), 0);
    assert_int_equal(dbsync_conn_create_all(c), 0);
    assert_false(dbsync_conn_in_transaction(c));
    assert_int_equal(dbsync_conn_commit(c), DBSYNC_ETXN);
    assert_int_equal(dbsync_conn_rollback(c), DBSYNC_ETXN);
    assert_int_equal(dbsync_conn_begin(c), 0);
    assert_true(dbsync_conn_in_transaction(c));
    assert_int_equal(dbsync_conn_begin(c), DBSYNC_ETXN);
    assert_non_null(strstr(dbsync_conn_error(c)->message, "do not nest"));
    assert_true(dbsync_conn_in_transaction(c));
    assert_int_equal(dbsync_conn_create_all(c), DBSYNC_ETXN);
    assert_int_equal(dbsync_conn_exec(c, "INSERT INTO scratch (id) VALUES (1)"), 0);
    assert_int_equal(dbsync_conn_rollback(c), 0);
    assert_false(dbsync_conn_in_transaction(c));
    expect_pragma(c, "SELECT COUNT(*) FROM scratch", "0");
    assert_int_equal(dbsync_conn_begin(c), 0);
    assert_int_equal(dbsync_conn_exec(c, "INSERT INTO scratch (id) VALUES (2)"), 0);
    assert_int_equal(dbsync_conn_commit(c), 0);
    expect_pragma(c, "SELECT COUNT(*) FROM scratch", "1");
    /* A bad statement reports the database's message. */
    assert_int_equal(dbsync_conn_exec(c, "INSERT INTO nosuch VALUES (1)"), DBSYNC_ERROR);
    assert_non_null(strstr(dbsync_conn_error(c)->message, "no such table"));
    assert_int_equal(dbsync_conn_error(c)->klass, DBSYNC_ECLASS_DB);
    /* Closing with an open transaction rolls it back. */
    assert_int_equal(dbsync_conn_begin(c), 0);
    assert_int_equal(dbsync_conn_exec(c, "INSERT INTO scratch (id) VALUES (3)"), 0);
    dbsync_conn_close(c);
    char url[1400];
    snprintf(url, sizeof url, "sqlite3:%s", tu_tmpfile(dir, "tx.db"));
    assert_int_equal(dbsync_conn_open(&c, url, schema, NULL), 0);
    expect_pragma(c, "SELECT COUNT(*) FROM scratch", "1");
    dbsync_conn_close(c);
}

static void test_conn__create_all(void **state)
{
    (void)state;
    dbsync_conn *c;
    assert_int_equal(dbsync_conn_open(&c, tu_sqlite_url(dir, "create.db"), schema, NULL), 0);
    assert_int_equal(dbsync_conn_create_all(c), 0);
    assert_int_equal(dbsync_conn_create_all(c), 0); /* idempotent */
    expect_pragma(c,
                  "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE "
                  "type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name)",
                  "child,parent,scratch,sync_content_types,sync_lock,sync_nodes,sync_operations,"
                  "sync_versions");
    expect_pragma(c, "SELECT COUNT(*) FROM sync_content_types", "2"); /* synced tables only */
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT table_name FROM sync_content_types WHERE content_type_id = %ld",
             (long)dbsync_content_type_id("parent"));
    expect_pragma(c, sql, "parent");
    expect_pragma(c,
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = "
                  "'child_parent_id_idx'",
                  "1");
    /* The default and the unique constraint are in the table. */
    assert_int_equal(dbsync_conn_exec(c, "INSERT INTO parent DEFAULT VALUES"), 0);
    expect_pragma(c, "SELECT name FROM parent", "x");
    assert_int_equal(dbsync_conn_exec(c, "INSERT INTO parent DEFAULT VALUES"), DBSYNC_ERROR);
    /* Foreign keys are enforced. */
    assert_int_equal(dbsync_conn_exec(c, "INSERT INTO child (parent_id) VALUES (99)"), DBSYNC_ERROR);
    assert_non_null(strstr(dbsync_conn_error(c)->message, "FOREIGN KEY"));
    dbsync_conn_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conn__url_parse),      cmocka_unit_test(test_conn__url_malformed),
        cmocka_unit_test(test_conn__open_refused),   cmocka_unit_test(test_conn__sqlite_defaults),
        cmocka_unit_test(test_conn__bad_descriptor_refused),
        cmocka_unit_test(test_conn__transactions),   cmocka_unit_test(test_conn__create_all),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

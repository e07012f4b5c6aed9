/* SPDX-License-Identifier: MIT */
/*
 * Synchronization in-process over real HTTP on loopback: a dbsync server in
 * a libmicrohttpd thread, nodes on their own SQLite files, the libcurl
 * client. One case per compression rule, per conflict kind and
 * resolution, unique swaps and conflicts, signatures, versions, replayed
 * pushes, a writer during a push, repair and query; after each scenario
 * every database's synced tables must equal the server's.
 */
#include <dbsync/dbsync.h>

#include "testutil.h"
#include "testserver.h"

#include "http.h"
#include "sync_internal.h"

static const char schema_xml[] =
    "<schema name=\"sy\" version=\"1\">\n"
    "  <table name=\"customer\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"email\" type=\"text\" nullable=\"false\"/>\n"
    "    <column name=\"name\" type=\"text\"/>\n"
    "    <column name=\"credit\" type=\"decimal\" precision=\"30\" scale=\"2\"/>\n"
    "    <column name=\"photo\" type=\"blob\"/>\n"
    "    <unique columns=\"email\"/>\n"
    "  </table>\n"
    "  <table name=\"purchase\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"customer_id\" type=\"integer\" references=\"customer\" on-delete=\"cascade\"/>\n"
    "    <column name=\"total\" type=\"real\"/>\n"
    "    <column name=\"at\" type=\"datetime\"/>\n"
    "  </table>\n"
    "  <table name=\"note\" sync=\"false\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"body\" type=\"text\"/>\n"
    "  </table>\n"
    "</schema>\n";

static dbsync_schema *schema;
static const dbsync_table *customer, *purchase;
static const char *dir;
static int counter;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir("sync");
    dbsync_error err;
    if (dbsync_schema_load_memory(&schema, schema_xml, sizeof schema_xml - 1, "sy.xml", &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    customer = dbsync_schema_table(schema, "customer");
    purchase = dbsync_schema_table(schema, "purchase");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dbsync_schema_free(schema);
    dbsync_global_cleanup();
    return 0;
}

/* The server's database: a fresh SQLite file, or the server database of
 * DBSYNC_TEST_URL emptied (tests/backend.sh: PostgreSQL, MariaDB). */
static ts_server *server(void)
{
    char file[64];
    snprintf(file, sizeof file, "server%d.db", ++counter);
    return ts_start_conn(tu_open(dir, file, schema), schema, NULL);
}

static dbsync_conn *node(ts_server *ts)
{
    char file[64];
    dbsync_conn *c;
    dbsync_error err;
    snprintf(file, sizeof file, "node%d.db", ++counter);
    if (dbsync_conn_open(&c, tu_sqlite_url(dir, file), schema, &err))
        fail_msg("%s", err.message);
    if (dbsync_conn_create_all(c) || dbsync_register(c, ts->url, NULL))
        fail_msg("node: %s", dbsync_conn_error(c)->message);
    return c;
}

#define OK(c, call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_)                                                                                   \
            fail_msg("%s: %d %s", #call, rc_, dbsync_conn_error(c)->message);                     \
    } while (0)

/* Sets columns from "col=value" pairs ("\\N": NULL) and writes. */
static void fill(const dbsync_table *t, dbsync_value *v, const char *const *pairs)
{
    for (size_t i = 0; pairs[i]; i++) {
        const char *eq = strchr(pairs[i], '=');
        char col[64];
        snprintf(col, sizeof col, "%.*s", (int)(eq - pairs[i]), pairs[i]);
        int k = dbsync_table_column(t, col);
        assert_true(k >= 0);
        dbsync_value_clear(&v[k]);
        if (!strcmp(eq + 1, "\\N"))
            continue;
        if (dbsync_value_parse(&v[k], t, &t->columns[k], eq + 1, NULL))
            fail_msg("bad value %s", pairs[i]);
    }
}

static int64_t ins(dbsync_conn *c, const dbsync_table *t, const char *const *pairs)
{
    dbsync_value v[8];
    OK(c, dbsync_row_init(t, v));
    fill(t, v, pairs);
    OK(c, dbsync_row_insert(c, t, v));
    int64_t id = v[t->primary_key].u.i;
    dbsync_row_clear(t, v);
    return id;
}

static int try_upd(dbsync_conn *c, const dbsync_table *t, int64_t id, const char *const *pairs)
{
    dbsync_value v[8];
    int rc = dbsync_row_get(c, t, id, v);
    if (rc)
        return rc;
    fill(t, v, pairs);
    rc = dbsync_row_update(c, t, v, NULL);
    dbsync_row_clear(t, v);
    return rc;
}

static void upd(dbsync_conn *c, const dbsync_table *t, int64_t id, const char *const *pairs)
{
    OK(c, try_upd(c, t, id, pairs));
}

/* Every synced row of a database, as text, ordered by table and key. */
static char *dump(dbsync_conn *c)
{
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync__buf_puts(&b, "");
    for (size_t t = 0; t < schema->n_tables; t++) {
        const dbsync_table *table = &schema->tables[t];
        if (!(table->flags & DBSYNC_TABLE_SYNCED))
            continue;
        dbsync_iter *it;
        dbsync_value v[8];
        OK(c, dbsync_iter_new(&it, c, table, NULL));
        while (dbsync_iter_next_values(it, v) == DBSYNC_OK) {
            dbsync__buf_puts(&b, table->name);
            for (size_t k = 0; k < table->n_columns; k++) {
                char *s = NULL;
                dbsync_value_format(&s, &v[k]);
                dbsync__buf_printf(&b, " %s", s ? s : "NULL");
                free(s);
            }
            dbsync__buf_putc(&b, '\n');
            dbsync_row_clear(table, v);
        }
        dbsync_iter_free(it);
    }
    return dbsync__buf_take(&b);
}

static void same(dbsync_conn *a, dbsync_conn *b)
{
    char *x = dump(a), *y = dump(b);
    if (strcmp(x, y))
        fail_msg("databases differ:\n--- one\n%s--- other\n%s", x, y);
    free(x);
    free(y);
}

static void expect_dump_has(dbsync_conn *c, const char *line)
{
    char *x = dump(c);
    if (!strstr(x, line))
        fail_msg("\"%s\" not in:\n%s", line, x);
    free(x);
}

static void expect_dump_lacks(dbsync_conn *c, const char *line)
{
    char *x = dump(c);
    if (strstr(x, line))
        fail_msg("\"%s\" unexpectedly in:\n%s", line, x);
    free(x);
}

static int64_t unpushed(dbsync_conn *c)
{
    dbsync_status st;
    OK(c, dbsync_status_get(c, &st));
    return st.unpushed;
}

/* Pushes, pulling first when needed, until both ends agree. */
static void sync_ok(dbsync_conn *c, ts_server *ts)
{
    OK(c, dbsync_sync(c, ts->url, NULL));
    assert_int_equal(unpushed(c), 0);
}

/* ---- compression rules ---- */

static void test_sync__compress_local(void **state)
{
    (void)state;
    bool an;
    assert_int_equal(dbsync__compress_local("i", 1, &an), 'i');
    assert_false(an);
    assert_int_equal(dbsync__compress_local("iuu", 3, &an), 'i'); /* i u* -> i */
    assert_int_equal(dbsync__compress_local("iud", 3, &an), 0);   /* i u* d -> nothing */
    assert_int_equal(dbsync__compress_local("id", 2, &an), 0);
    assert_int_equal(dbsync__compress_local("uu", 2, &an), 'u');  /* u u* -> u */
    assert_int_equal(dbsync__compress_local("uud", 3, &an), 'd'); /* u* d -> d */
    assert_int_equal(dbsync__compress_local("d", 1, &an), 'd');
    assert_false(an);
    assert_int_equal(dbsync__compress_local("di", 2, &an), 'u'); /* a reused key: warned */
    assert_true(an);
    assert_int_equal(dbsync__compress_local("idi", 3, &an), 'i');
    assert_true(an);
    assert_int_equal(dbsync__compress_local("uiu", 3, &an), 'u');
    assert_true(an);
}

static void test_sync__compress_server(void **state)
{
    (void)state;
    assert_int_equal(dbsync__compress_server('i', 'i'), 'i'); /* single ops stay */
    assert_int_equal(dbsync__compress_server('u', 'u'), 'u');
    assert_int_equal(dbsync__compress_server('d', 'd'), 'd');
    assert_int_equal(dbsync__compress_server('i', 'd'), 0);   /* i ... d -> nothing */
    assert_int_equal(dbsync__compress_server('i', 'u'), 'i'); /* i ... x -> i */
    assert_int_equal(dbsync__compress_server('u', 'd'), 'd'); /* u ... d -> d */
    assert_int_equal(dbsync__compress_server('u', 'i'), 'u'); /* u ... x -> u */
    assert_int_equal(dbsync__compress_server('d', 'i'), 'u'); /* d ... x -> u */
    assert_int_equal(dbsync__compress_server('d', 'u'), 'u');
}

/* A log compressed end to end: what the server stores for a push. */
static void test_sync__push_compresses(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts);
    int64_t c1 = ins(a, customer, (const char *[]){"email=a", NULL});
    upd(a, customer, c1, (const char *[]){"name=x", NULL});
    upd(a, customer, c1, (const char *[]){"name=y", NULL});
    int64_t c2 = ins(a, customer, (const char *[]){"email=b", NULL});
    OK(a, dbsync_row_delete(a, customer, c2)); /* i d: nothing reaches the server */
    OK(a, dbsync_push(a, ts->url, NULL));
    int64_t n;
    OK(ts->conn, dbsync__query_int(ts->conn, "SELECT COUNT(*) FROM sync_operations", &n));
    assert_int_equal(n, 1);
    OK(ts->conn, dbsync__query_int(ts->conn, "SELECT COUNT(*) FROM sync_operations WHERE command = 'i'", &n));
    assert_int_equal(n, 1);
    same(a, ts->conn);
    assert_int_equal(unpushed(a), 0);
    dbsync_conn_close(a);
    ts_stop(ts);
}

static void test_sync__push_pull(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c1 = ins(a, customer, (const char *[]){"email=ann@x", "credit=123456789012345678901234567.89",
                                                   "photo=00ff00", "name=\xc3\xa9", NULL});
    ins(a, purchase, (const char *[]){"customer_id=1", "total=0.1", "at=2026-11-26 10:00:00.5", NULL});
    ins(a, customer, (const char *[]){"email=bob@x", "name=\\N", NULL});
    assert_int_equal(c1, 1);
    OK(a, dbsync_push(a, ts->url, NULL));
    OK(a, dbsync_push(a, ts->url, NULL)); /* nothing left: fine */
    OK(b, dbsync_pull(b, ts->url, NULL));
    same(a, ts->conn);
    same(b, ts->conn);
    assert_int_equal(unpushed(b), 0);
    dbsync_status st;
    OK(b, dbsync_status_get(b, &st));
    assert_int_equal(st.version_id, 1);
    assert_true(st.node_id > 0);
    /* local-only rows stay home */
    dbsync_value v[2];
    OK(a, dbsync_row_init(dbsync_schema_table(schema, "note"), v));
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

/* ---- conflicts ---- */

static void test_sync__update_update(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c = ins(a, customer, (const char *[]){"email=c@x", "name=orig", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    upd(a, customer, c, (const char *[]){"name=from a", NULL});
    upd(b, customer, c, (const char *[]){"name=from b", NULL});
    sync_ok(a, ts);
    assert_int_equal(dbsync_push(b, ts->url, NULL), DBSYNC_EPULLREQUIRED);
    assert_non_null(strstr(dbsync_conn_error(b)->message, "pull first"));
    sync_ok(b, ts); /* the node's row wins */
    OK(a, dbsync_pull(a, ts->url, NULL));
    expect_dump_has(ts->conn, "from b");
    same(a, ts->conn);
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__server_update_local_delete(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c = ins(a, customer, (const char *[]){"email=d@x", "name=orig", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    upd(a, customer, c, (const char *[]){"name=kept by a", NULL});
    OK(b, dbsync_row_delete(b, customer, c));
    sync_ok(a, ts);
    OK(b, dbsync_pull(b, ts->url, NULL)); /* the row comes back; the delete is dropped */
    expect_dump_has(b, "kept by a");
    assert_int_equal(unpushed(b), 0);
    sync_ok(b, ts);
    same(a, ts->conn);
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__server_delete_local_update(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c = ins(a, customer, (const char *[]){"email=e@x", "name=orig", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    OK(a, dbsync_row_delete(a, customer, c));
    upd(b, customer, c, (const char *[]){"name=b wants it", NULL});
    sync_ok(a, ts);
    expect_dump_lacks(ts->conn, "e@x");
    sync_ok(b, ts); /* the local update became an insert: the row is back */
    expect_dump_has(ts->conn, "b wants it");
    OK(a, dbsync_pull(a, ts->url, NULL));
    same(a, ts->conn);
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__delete_delete(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c = ins(a, customer, (const char *[]){"email=f@x", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    OK(a, dbsync_row_delete(a, customer, c));
    OK(b, dbsync_row_delete(b, customer, c));
    sync_ok(a, ts);
    OK(b, dbsync_pull(b, ts->url, NULL));
    assert_int_equal(unpushed(b), 0); /* the local delete is dropped */
    same(a, ts->conn);
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__dependency(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c = ins(a, customer, (const char *[]){"email=g@x", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    OK(a, dbsync_row_delete(a, customer, c));
    char ref[32];
    snprintf(ref, sizeof ref, "customer_id=%lld", (long long)c);
    ins(b, purchase, (const char *[]){ref, "total=9.5", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts); /* the parent is kept, and pushed again */
    expect_dump_has(ts->conn, "g@x");
    OK(a, dbsync_pull(a, ts->url, NULL));
    same(a, ts->conn);
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__reversed_dependency(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c = ins(a, customer, (const char *[]){"email=h@x", "name=parent", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    char ref[32];
    snprintf(ref, sizeof ref, "customer_id=%lld", (long long)c);
    ins(a, purchase, (const char *[]){ref, "total=1", NULL});
    OK(b, dbsync_row_delete(b, customer, c));
    sync_ok(a, ts);
    OK(b, dbsync_pull(b, ts->url, NULL)); /* the parent comes back from the server */
    expect_dump_has(b, "h@x");
    assert_int_equal(unpushed(b), 0);
    same(b, ts->conn);
    same(a, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__insert_conflict(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t ka = ins(a, customer, (const char *[]){"email=from-a", NULL});
    int64_t kb = ins(b, customer, (const char *[]){"email=from-b", NULL});
    assert_int_equal(ka, kb); /* keys assigned independently collide */
    char ref[32];
    snprintf(ref, sizeof ref, "customer_id=%lld", (long long)kb);
    int64_t p = ins(b, purchase, (const char *[]){ref, "total=2", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts); /* b's row gets a new key, its purchase follows it */
    dbsync_value v[8];
    OK(b, dbsync_row_get(b, purchase, p, v));
    assert_true(v[1].u.i > ka);
    int64_t newkey = v[1].u.i;
    dbsync_row_clear(purchase, v);
    OK(b, dbsync_row_get(b, customer, newkey, v));
    assert_string_equal(v[1].u.s, "from-b");
    dbsync_row_clear(customer, v);
    OK(a, dbsync_pull(a, ts->url, NULL));
    same(a, ts->conn);
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__unique_swap(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t c1 = ins(a, customer, (const char *[]){"email=one", NULL});
    int64_t c2 = ins(a, customer, (const char *[]){"email=two", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    upd(a, customer, c1, (const char *[]){"email=tmp", NULL});
    upd(a, customer, c2, (const char *[]){"email=one", NULL});
    upd(a, customer, c1, (const char *[]){"email=two", NULL});
    sync_ok(a, ts); /* the server swaps */
    same(a, ts->conn);
    OK(b, dbsync_pull(b, ts->url, NULL)); /* and so does the node */
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

static void test_sync__unique_conflict_changes_nothing(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    ins(a, customer, (const char *[]){"email=a-first", NULL});
    sync_ok(a, ts);
    sync_ok(b, ts);
    ins(a, customer, (const char *[]){"email=taken", NULL});
    ins(b, customer, (const char *[]){"email=other", NULL});
    ins(b, customer, (const char *[]){"email=taken", NULL});
    sync_ok(a, ts);
    char *before = dump(b);
    int64_t before_ops = unpushed(b);
    assert_int_equal(dbsync_pull(b, ts->url, NULL), DBSYNC_ECONFLICT);
    const char *m = dbsync_conn_error(b)->message;
    if (!strstr(m, "customer") || !strstr(m, "email"))
        fail_msg("the message should name table and columns: %s", m);
    char *after = dump(b);
    assert_string_equal(before, after); /* nothing changed */
    assert_int_equal(unpushed(b), before_ops);
    free(before);
    free(after);
    /* the application resolves it, then syncs */
    dbsync_value v[8];
    dbsync_filter f = {"email", DBSYNC_FILTER_EQ, "taken"};
    dbsync_query q = DBSYNC_QUERY_INIT;
    q.filters = &f;
    q.n_filters = 1;
    dbsync_iter *it;
    OK(b, dbsync_iter_new(&it, b, customer, &q));
    OK(b, dbsync_iter_next_values(it, v));
    int64_t id = v[0].u.i;
    dbsync_row_clear(customer, v);
    dbsync_iter_free(it);
    upd(b, customer, id, (const char *[]){"email=taken-by-b", NULL});
    sync_ok(b, ts);
    OK(a, dbsync_pull(a, ts->url, NULL));
    same(a, ts->conn);
    same(b, ts->conn);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

/* ---- signatures, versions, replays ---- */

static long raw_post(dbsync_conn *c, const char *url, const char *path, const char *body,
                     const char *sig, char **answer)
{
    dbsync__http_response r = {0};
    if (dbsync__http_request(c, "POST", url, path, body, strlen(body), sig, NULL, &r))
        fail_msg("%s", dbsync_conn_error(c)->message);
    long status = r.status;
    if (answer)
        *answer = dbsync__strdup(r.body ? r.body : "");
    dbsync__http_response_clear(&r);
    return status;
}

static void node_secret(dbsync_conn *c, int64_t *id, char secret[129])
{
    dbi_result r = dbsync__query(c, "SELECT node_id, secret FROM sync_nodes WHERE is_self = 1", "x");
    assert_non_null(r);
    assert_true(dbi_result_next_row(r));
    *id = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
    snprintf(secret, 129, "%s", dbi_result_get_string_idx(r, 2));
    dbi_result_free(r);
}

static void test_sync__signatures_and_replays(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    int64_t ida, idb;
    char sa[129], sb[129], sig[65], body[512];
    node_secret(a, &ida, sa);
    node_secret(b, &idb, sb);
    snprintf(body, sizeof body,
             "{\"protocol\":1,\"node_id\":%lld,\"latest_version_id\":0,\"push_id\":\"p1\","
             "\"operations\":1,\"columns\":{\"customer\":[\"id\",\"email\",\"name\",\"credit\","
             "\"photo\"]}}\n[%ld,7,\"i\",[7,\"raw@x\",null,\"1.50\",\"AP8=\"]]\n",
             (long long)ida, (long)dbsync_content_type_id("customer"));
    char *ans;
    /* missing */
    assert_int_equal(raw_post(a, ts->url, "/push", body, NULL, &ans), 401);
    assert_non_null(strstr(ans, "not signed"));
    free(ans);
    /* wrong */
    assert_int_equal(raw_post(a, ts->url, "/push", body, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", &ans), 401);
    assert_non_null(strstr(ans, "bad_signature"));
    free(ans);
    /* signed by b, claiming to be a */
    dbsync__hmac_hex(sb, body, strlen(body), sig);
    assert_int_equal(raw_post(a, ts->url, "/push", body, sig, &ans), 401);
    free(ans);
    /* right, then the same push again: recognized, not applied twice */
    dbsync__hmac_hex(sa, body, strlen(body), sig);
    assert_int_equal(raw_post(a, ts->url, "/push", body, sig, &ans), 200);
    assert_non_null(strstr(ans, "\"version_id\":1"));
    free(ans);
    assert_int_equal(raw_post(a, ts->url, "/push", body, sig, &ans), 200);
    assert_non_null(strstr(ans, "\"version_id\":1"));
    assert_non_null(strstr(ans, "replayed"));
    free(ans);
    int64_t n;
    OK(ts->conn, dbsync__query_int(ts->conn, "SELECT COUNT(*) FROM sync_versions", &n));
    assert_int_equal(n, 1);
    /* a stale version is refused with the server's version */
    char body2[512];
    snprintf(body2, sizeof body2,
             "{\"protocol\":1,\"node_id\":%lld,\"latest_version_id\":0,\"push_id\":\"p2\","
             "\"operations\":0,\"columns\":{}}\n", (long long)idb);
    dbsync__hmac_hex(sb, body2, strlen(body2), sig);
    assert_int_equal(raw_post(b, ts->url, "/push", body2, sig, &ans), 409);
    assert_non_null(strstr(ans, "pull_required"));
    free(ans);
    /* an operation that cannot be applied changes nothing */
    snprintf(body2, sizeof body2,
             "{\"protocol\":1,\"node_id\":%lld,\"latest_version_id\":1,\"push_id\":\"p3\","
             "\"operations\":1,\"columns\":{\"purchase\":[\"id\",\"customer_id\",\"total\","
             "\"at\"]}}\n[%ld,8,\"i\",[8,999,1.5,null]]\n",
             (long long)idb, (long)dbsync_content_type_id("purchase"));
    dbsync__hmac_hex(sb, body2, strlen(body2), sig);
    assert_int_equal(raw_post(b, ts->url, "/push", body2, sig, &ans), 422);
    free(ans);
    OK(ts->conn, dbsync__query_int(ts->conn, "SELECT COUNT(*) FROM purchase", &n));
    assert_int_equal(n, 0);
    OK(ts->conn, dbsync__query_int(ts->conn, "SELECT COUNT(*) FROM sync_versions", &n));
    assert_int_equal(n, 1);
    /* an operation line that does not match the header */
    snprintf(body2, sizeof body2,
             "{\"protocol\":1,\"node_id\":%lld,\"latest_version_id\":1,\"push_id\":\"p4\","
             "\"operations\":2,\"columns\":{}}\n[%ld,8,\"d\"]\n",
             (long long)idb, (long)dbsync_content_type_id("purchase"));
    dbsync__hmac_hex(sb, body2, strlen(body2), sig);
    assert_int_equal(raw_post(b, ts->url, "/push", body2, sig, &ans), 400);
    assert_non_null(strstr(ans, "announced"));
    free(ans);
    /* malformed bodies */
    assert_int_equal(raw_post(b, ts->url, "/push", "{", NULL, &ans), 400);
    free(ans);
    assert_int_equal(raw_post(b, ts->url, "/pull", "{\"protocol\":2}", NULL, &ans), 400);
    free(ans);
    assert_int_equal(raw_post(b, ts->url, "/nowhere", "{}", NULL, &ans), 404);
    free(ans);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    ts_stop(ts);
}

/* A write made while a push is on its way stays unpushed, and goes next time. */
typedef struct during {
    const char *url;
    int fired;
} during;

static int write_during_push(const char *stage, int64_t done, int64_t total, void *payload)
{
    (void)total;
    during *d = payload;
    if (strcmp(stage, "push") || done != 0 || d->fired++)
        return 0;
    dbsync_conn *other;
    if (dbsync_conn_open(&other, d->url, schema, NULL))
        return 1;
    ins(other, customer, (const char *[]){"email=written during the push", NULL});
    dbsync_conn_close(other);
    return 0;
}

static void test_sync__write_during_push(void **state)
{
    (void)state;
    ts_server *ts = server();
    char file[64], url[2600];
    snprintf(file, sizeof file, "node%d.db", ++counter);
    snprintf(url, sizeof url, "%s", tu_sqlite_url(dir, file));
    dbsync_conn *a;
    OK(a, dbsync_conn_open(&a, url, schema, NULL));
    OK(a, dbsync_conn_create_all(a));
    OK(a, dbsync_register(a, ts->url, NULL));
    ins(a, customer, (const char *[]){"email=before", NULL});
    during d = {url, 0};
    dbsync_client_options o = DBSYNC_CLIENT_OPTIONS_INIT;
    o.progress = write_during_push;
    o.payload = &d;
    OK(a, dbsync_push(a, ts->url, &o));
    assert_int_equal(d.fired, 1);
    assert_int_equal(unpushed(a), 1); /* the new write */
    expect_dump_lacks(ts->conn, "during the push");
    OK(a, dbsync_push(a, ts->url, NULL));
    assert_int_equal(unpushed(a), 0);
    same(a, ts->conn);
    dbsync_conn_close(a);
    ts_stop(ts);
}

static int count_row(const dbsync_table *t, const dbsync_value *v, void *payload)
{
    (void)t;
    (void)v;
    (*(int *)payload)++;
    return 0;
}

static void test_sync__repair_and_query(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a = node(ts), *b = node(ts);
    for (int i = 0; i < 25; i++) {
        char e[32];
        snprintf(e, sizeof e, "email=r%d", i);
        ins(a, customer, (const char *[]){e, i % 2 ? "name=odd" : "name=\\N", NULL});
    }
    sync_ok(a, ts);
    /* b goes astray: rows written around dbsync, a stale log */
    ins(b, customer, (const char *[]){"email=stray", NULL});
    OK(b, dbsync_conn_exec(b, "INSERT INTO customer (id, email) VALUES (900, 'around')"));
    dbsync_client_options o = DBSYNC_CLIENT_OPTIONS_INIT;
    o.page_size = 7; /* several pages */
    OK(b, dbsync_repair(b, ts->url, &o));
    same(b, ts->conn);
    assert_int_equal(unpushed(b), 0);
    dbsync_status st;
    OK(b, dbsync_status_get(b, &st));
    assert_int_equal(st.version_id, 1);
    /* pulls page too */
    dbsync_conn *c = node(ts);
    OK(c, dbsync_pull(c, ts->url, &o));
    same(c, ts->conn);
    /* a remote query */
    int n = 0;
    dbsync_filter f = {"name", DBSYNC_FILTER_EQ, "odd"};
    OK(c, dbsync_query_remote(c, ts->url, customer, &f, 1, count_row, &n, &o));
    assert_int_equal(n, 12);
    n = 0;
    dbsync_filter nf = {"name", DBSYNC_FILTER_IS_NULL, NULL};
    OK(c, dbsync_query_remote(c, ts->url, customer, &nf, 1, count_row, &n, &o));
    assert_int_equal(n, 13);
    dbsync_conn_close(a);
    dbsync_conn_close(b);
    dbsync_conn_close(c);
    ts_stop(ts);
}

/* ---- hooks ---- */

static int refuse_before, refuse_after, hook_calls;

static int hook_before(dbsync_conn *conn, const dbsync_hook_info *info, char *message,
                       size_t size, void *payload)
{
    (void)conn;
    (void)payload;
    hook_calls++;
    assert_string_equal(info->procedure, "push");
    assert_true(info->node_id > 0);
    if (refuse_before)
        snprintf(message, size, "closed for inventory");
    return refuse_before;
}

static int hook_after(dbsync_conn *conn, const dbsync_hook_info *info, char *message,
                      size_t size, void *payload)
{
    (void)payload;
    hook_calls++;
    assert_true(info->version_id > 0);
    /* the hook sees the pushed rows, inside the push's transaction */
    int64_t n;
    assert_int_equal(dbsync__query_int(conn, "SELECT COUNT(*) FROM customer", &n), 0);
    assert_true(n > 0);
    if (refuse_after)
        snprintf(message, size, "audit failed");
    return refuse_after;
}

static void test_sync__push_hooks(void **state)
{
    (void)state;
    char file[64];
    snprintf(file, sizeof file, "server%d.db", ++counter);
    dbsync_server_options o = DBSYNC_SERVER_OPTIONS_INIT;
    o.before_push = hook_before;
    o.after_push = hook_after;
    ts_server *ts = ts_start_conn(tu_open(dir, file, schema), schema, &o);
    dbsync_conn *a = node(ts);
    ins(a, customer, (const char *[]){"email=hooked", NULL});
    refuse_before = 1;
    assert_int_equal(dbsync_push(a, ts->url, NULL), DBSYNC_EUSER);
    assert_non_null(strstr(dbsync_conn_error(a)->message, "closed for inventory"));
    refuse_before = 0;
    refuse_after = 1;
    assert_int_equal(dbsync_push(a, ts->url, NULL), DBSYNC_EUSER);
    assert_non_null(strstr(dbsync_conn_error(a)->message, "audit failed"));
    int64_t n;
    OK(ts->conn, dbsync__query_int(ts->conn, "SELECT COUNT(*) FROM customer", &n));
    assert_int_equal(n, 0); /* refused after applying: rolled back whole */
    OK(ts->conn, dbsync__query_int(ts->conn, "SELECT COUNT(*) FROM sync_versions", &n));
    assert_int_equal(n, 0);
    assert_int_equal(unpushed(a), 1);
    refuse_after = 0;
    OK(a, dbsync_push(a, ts->url, NULL));
    same(a, ts->conn);
    assert_int_equal(hook_calls, 5);
    dbsync_conn_close(a);
    ts_stop(ts);
}

static void test_sync__errors(void **state)
{
    (void)state;
    ts_server *ts = server();
    dbsync_conn *a;
    OK(a, dbsync_conn_open(&a, tu_sqlite_url(dir, "unregistered.db"), schema, NULL));
    OK(a, dbsync_conn_create_all(a));
    assert_int_equal(dbsync_push(a, ts->url, NULL), DBSYNC_ENOTREGISTERED);
    assert_int_equal(dbsync_push(a, "ftp://x", NULL), DBSYNC_EINVALID);
    OK(a, dbsync_register(a, ts->url, NULL));
    assert_int_equal(dbsync_register(a, ts->url, NULL), DBSYNC_EEXISTS);
    /* nobody listens there */
    assert_int_equal(dbsync_pull(a, "http://127.0.0.1:9", NULL), DBSYNC_ENET);
    assert_int_equal(dbsync_conn_error(a)->klass, DBSYNC_ECLASS_NET);
    OK(a, dbsync_conn_begin(a));
    assert_int_equal(dbsync_push(a, ts->url, NULL), DBSYNC_ETXN);
    OK(a, dbsync_conn_rollback(a));
    dbsync_conn_close(a);
    ts_stop(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync__compress_local),
        cmocka_unit_test(test_sync__compress_server),
        cmocka_unit_test(test_sync__push_compresses),
        cmocka_unit_test(test_sync__push_pull),
        cmocka_unit_test(test_sync__update_update),
        cmocka_unit_test(test_sync__server_update_local_delete),
        cmocka_unit_test(test_sync__server_delete_local_update),
        cmocka_unit_test(test_sync__delete_delete),
        cmocka_unit_test(test_sync__dependency),
        cmocka_unit_test(test_sync__reversed_dependency),
        cmocka_unit_test(test_sync__insert_conflict),
        cmocka_unit_test(test_sync__unique_swap),
        cmocka_unit_test(test_sync__unique_conflict_changes_nothing),
        cmocka_unit_test(test_sync__signatures_and_replays),
        cmocka_unit_test(test_sync__write_during_push),
        cmocka_unit_test(test_sync__repair_and_query),
        cmocka_unit_test(test_sync__push_hooks),
        cmocka_unit_test(test_sync__errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

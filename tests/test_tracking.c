/* SPDX-License-Identifier: MIT */
/*
 * Tracked writes through the value-array runtime: the exact operations
 * logged for sequences of writes, rollbacks, cascades and local-only
 * tables; refusals that change nothing; SQL-looking values stored verbatim.
 */
#include "conn.h"

#include "testutil.h"

static const char schema_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<schema name=\"trk\" version=\"1\">\n"
    "  <table name=\"customer\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"email\" type=\"text\" length=\"200\" nullable=\"false\"/>\n"
    "    <column name=\"credit\" type=\"decimal\" precision=\"12\" scale=\"2\" default=\"0\"/>\n"
    "    <column name=\"vip\" type=\"boolean\" default=\"false\"/>\n"
    "    <column name=\"photo\" type=\"blob\"/>\n"
    "    <column name=\"born\" type=\"date\"/>\n"
    "    <column name=\"score\" type=\"real\"/>\n"
    "    <unique columns=\"email\"/>\n"
    "  </table>\n"
    "  <table name=\"purchase\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"customer_id\" type=\"integer\" references=\"customer\" on-delete=\"cascade\"/>\n"
    "    <column name=\"at\" type=\"datetime\" nullable=\"false\"/>\n"
    "    <column name=\"slot\" type=\"time\"/>\n"
    "  </table>\n"
    "  <table name=\"line\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"purchase_id\" type=\"integer\" references=\"purchase\" on-delete=\"cascade\"/>\n"
    "    <column name=\"note\" type=\"text\"/>\n"
    "  </table>\n"
    "  <table name=\"review\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"customer_id\" type=\"integer\" references=\"customer\" on-delete=\"set-null\"/>\n"
    "  </table>\n"
    "  <table name=\"invoice\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"purchase_id\" type=\"integer\" references=\"purchase\"/>\n"
    "  </table>\n"
    "  <table name=\"draft\" sync=\"false\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"body\" type=\"text\"/>\n"
    "  </table>\n"
    "</schema>\n";

static dbsync_schema *schema;
static const dbsync_table *customer, *purchase, *line, *review, *invoice, *draft;
static const char *dir;

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir("tracking");
    dbsync_error err;
    if (dbsync_schema_load_memory(&schema, schema_xml, sizeof schema_xml - 1, "trk.xml", &err)) {
        fprintf(stderr, "schema: %s\n", err.message);
        return -1;
    }
    customer = dbsync_schema_table(schema, "customer");
    purchase = dbsync_schema_table(schema, "purchase");
    line = dbsync_schema_table(schema, "line");
    review = dbsync_schema_table(schema, "review");
    invoice = dbsync_schema_table(schema, "invoice");
    draft = dbsync_schema_table(schema, "draft");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dbsync_schema_free(schema);
    return 0;
}

/* The backend the suite runs on (DBSYNC_TEST_URL, see tu_open). */
static const char *backend = "sqlite3";

static dbsync_conn *open_db(const char *file)
{
    dbsync_conn *c = tu_open(dir, file, schema);
    backend = dbsync_conn_backend(c);
    return c;
}

static int collect(const dbsync_operation *op, void *payload)
{
    dbsync__buf *b = payload;
    dbsync__buf_printf(b, "%s%c %s %lld", b->len ? "; " : "", op->command,
                       op->table ? op->table : "?", (long long)op->row_id);
    return 0;
}

/* The whole log as "c table id; ..." */
static void expect_log(dbsync_conn *c, const char *expected)
{
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync__buf_puts(&b, "");
    b.len = 0;
    assert_int_equal(dbsync_oplog_foreach(c, false, collect, &b), 0);
    assert_string_equal(b.data ? b.data : "", expected);
    dbsync__buf_free(&b);
}

/* Sets column `name` of a value array from its text form ("\\N" = NULL). */
static void set(const dbsync_table *t, dbsync_value *v, const char *name, const char *text)
{
    int i = dbsync_table_column(t, name);
    assert_true(i >= 0);
    dbsync_value_clear(&v[i]);
    if (!strcmp(text, "\\N")) {
        v[i].type = t->columns[i].type;
        v[i].is_null = true;
        return;
    }
    dbsync_error err;
    if (dbsync_value_parse(&v[i], t, &t->columns[i], text, &err))
        fail_msg("%s", err.message);
}

static int64_t insert(dbsync_conn *c, const dbsync_table *t, const char *const *pairs)
{
    dbsync_value v[16];
    assert_int_equal(dbsync_row_init(t, v), 0);
    for (size_t i = 0; pairs[i]; i += 2)
        set(t, v, pairs[i], pairs[i + 1]);
    int rc = dbsync_row_insert(c, t, v);
    if (rc)
        fail_msg("insert %s: %s", t->name, dbsync_conn_error(c)->message);
    int64_t id = v[t->primary_key].u.i;
    dbsync_row_clear(t, v);
    return id;
}

static int try_insert(dbsync_conn *c, const dbsync_table *t, const char *const *pairs)
{
    dbsync_value v[16];
    assert_int_equal(dbsync_row_init(t, v), 0);
    for (size_t i = 0; pairs[i]; i += 2)
        set(t, v, pairs[i], pairs[i + 1]);
    int rc = dbsync_row_insert(c, t, v);
    dbsync_row_clear(t, v);
    return rc;
}

static char *text_of(dbsync_conn *c, const dbsync_table *t, int64_t id, const char *col)
{
    dbsync_value v[16];
    if (dbsync_row_get(c, t, id, v))
        return NULL;
    char *s = NULL;
    int i = dbsync_table_column(t, col);
    if (v[i].is_null)
        s = dbsync__strdup("\\N");
    else
        assert_int_equal(dbsync_value_format(&s, &v[i]), 0);
    dbsync_row_clear(t, v);
    return s;
}

static void expect_text(dbsync_conn *c, const dbsync_table *t, int64_t id, const char *col,
                        const char *expected)
{
    char *s = text_of(c, t, id, col);
    if (!s)
        fail_msg("get %s %lld: %s", t->name, (long long)id, dbsync_conn_error(c)->message);
    assert_string_equal(s, expected);
    free(s);
}

static void test_tracking__insert_update_delete(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("basic.db");
    int64_t a = insert(c, customer, (const char *[]){"email", "a@x", NULL});
    int64_t b = insert(c, customer, (const char *[]){"email", "b@x", "credit", "12.5", NULL});
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    expect_text(c, customer, a, "credit", "0.00"); /* the default */
    expect_text(c, customer, b, "credit", "12.50");
    expect_text(c, customer, a, "vip", "false");
    expect_text(c, customer, a, "photo", "\\N");

    dbsync_value v[16];
    assert_int_equal(dbsync_row_get(c, customer, b, v), 0);
    set(customer, v, "vip", "true");
    bool mask[16] = {false};
    mask[dbsync_table_column(customer, "vip")] = true;
    assert_int_equal(dbsync_row_update(c, customer, v, mask), 0);
    dbsync_row_clear(customer, v);
    expect_text(c, customer, b, "vip", "true");
    expect_text(c, customer, b, "credit", "12.50");

    assert_int_equal(dbsync_row_delete(c, customer, a), 0);
    assert_int_equal(dbsync_row_get(c, customer, a, v), DBSYNC_ENOTFOUND);
    expect_log(c, "i customer 1; i customer 2; u customer 2; d customer 1");

    dbsync_status st;
    assert_int_equal(dbsync_status_get(c, &st), 0);
    assert_int_equal(st.operations, 4);
    assert_int_equal(st.unpushed, 4);
    assert_int_equal(st.node_id, 0);
    assert_int_equal(st.version_id, 0);
    dbsync_conn_close(c);
}

static void test_tracking__rollback_leaves_nothing(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("rollback.db");
    insert(c, customer, (const char *[]){"email", "keep@x", NULL});
    assert_int_equal(dbsync_conn_begin(c), 0);
    int64_t id = insert(c, customer, (const char *[]){"email", "gone@x", NULL});
    insert(c, purchase, (const char *[]){"customer_id", "2", "at", "2024-01-01 10:00:00", NULL});
    assert_int_equal(dbsync_row_delete(c, customer, 1), 0);
    assert_int_equal(dbsync_conn_rollback(c), 0);
    dbsync_value v[16];
    assert_int_equal(dbsync_row_get(c, customer, id, v), DBSYNC_ENOTFOUND);
    expect_text(c, customer, 1, "email", "keep@x");
    expect_log(c, "i customer 1");
    /* Then a committed transaction logs in order, once. */
    assert_int_equal(dbsync_conn_begin(c), 0);
    int64_t p = insert(c, customer, (const char *[]){"email", "p@x", NULL});
    char pid[32], expected[128];
    snprintf(pid, sizeof pid, "%lld", (long long)p);
    int64_t q = insert(c, purchase, (const char *[]){"customer_id", pid, "at", "2024-01-01 10:00:00", NULL});
    assert_int_equal(dbsync_conn_commit(c), 0);
    /* SQLite takes key 2 again (it was never committed, so no one saw it);
     * PostgreSQL's sequences do not roll back. Either way the log is exact. */
    assert_true(p >= 2);
    snprintf(expected, sizeof expected, "i customer 1; i customer %lld; i purchase %lld",
             (long long)p, (long long)q);
    expect_log(c, expected);
    dbsync_conn_close(c);
}

static void test_tracking__local_only_not_logged(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("local.db");
    int64_t d = insert(c, draft, (const char *[]){"body", "hello", NULL});
    dbsync_value v[16];
    assert_int_equal(dbsync_row_get(c, draft, d, v), 0);
    set(draft, v, "body", "changed");
    assert_int_equal(dbsync_row_update(c, draft, v, NULL), 0);
    dbsync_row_clear(draft, v);
    expect_text(c, draft, d, "body", "changed");
    assert_int_equal(dbsync_row_delete(c, draft, d), 0);
    insert(c, customer, (const char *[]){"email", "x@x", NULL});
    expect_log(c, "i customer 1");
    dbsync_conn_close(c);
}

static void test_tracking__cascades_logged(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("cascade.db");
    int64_t cu = insert(c, customer, (const char *[]){"email", "c@x", NULL});
    int64_t p1 = insert(c, purchase, (const char *[]){"customer_id", "1", "at", "2024-01-01 00:00:00", NULL});
    int64_t p2 = insert(c, purchase, (const char *[]){"customer_id", "1", "at", "2024-01-02 00:00:00", NULL});
    insert(c, line, (const char *[]){"purchase_id", "1", "note", "a", NULL});
    insert(c, line, (const char *[]){"purchase_id", "2", "note", "b", NULL});
    insert(c, review, (const char *[]){"customer_id", "1", NULL});
    assert_int_equal(p1 + p2, 3);
    assert_int_equal(dbsync_row_delete(c, customer, cu), 0);
    expect_log(c, "i customer 1; i purchase 1; i purchase 2; i line 1; i line 2; i review 1; "
                  "d line 1; d purchase 1; d line 2; d purchase 2; u review 1; d customer 1");
    expect_text(c, review, 1, "customer_id", "\\N");
    dbsync_value v[16];
    assert_int_equal(dbsync_row_get(c, line, 1, v), DBSYNC_ENOTFOUND);
    dbsync_conn_close(c);
}

static void test_tracking__restrict_changes_nothing(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("restrict.db");
    insert(c, customer, (const char *[]){"email", "r@x", NULL});
    insert(c, purchase, (const char *[]){"customer_id", "1", "at", "2024-01-01 00:00:00", NULL});
    insert(c, line, (const char *[]){"purchase_id", "1", NULL});
    insert(c, invoice, (const char *[]){"purchase_id", "1", NULL});
    /* Deleting the customer would cascade to the purchase, which an invoice
     * restricts: nothing at all may change, in or out of a transaction. */
    assert_int_equal(dbsync_row_delete(c, customer, 1), DBSYNC_ECONFLICT);
    assert_non_null(strstr(dbsync_conn_error(c)->message,
                           "delete purchase 1: still referenced by invoice 1 (column purchase_id)"));
    expect_log(c, "i customer 1; i purchase 1; i line 1; i invoice 1");
    expect_text(c, line, 1, "purchase_id", "1");

    assert_int_equal(dbsync_conn_begin(c), 0);
    insert(c, customer, (const char *[]){"email", "s@x", NULL});
    assert_int_equal(dbsync_row_delete(c, customer, 1), DBSYNC_ECONFLICT);
    assert_true(dbsync_conn_in_transaction(c));
    assert_int_equal(dbsync_conn_commit(c), 0);
    expect_text(c, line, 1, "purchase_id", "1");
    expect_text(c, customer, 2, "email", "s@x");
    expect_log(c, "i customer 1; i purchase 1; i line 1; i invoice 1; i customer 2");
    dbsync_conn_close(c);
}

static void test_tracking__refusals_change_nothing(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("refuse.db");
    insert(c, customer, (const char *[]){"email", "u@x", NULL});
    /* unique */
    assert_int_equal(try_insert(c, customer, (const char *[]){"email", "u@x", NULL}), DBSYNC_EEXISTS);
    if (strcmp(backend, "pgsql")) /* PostgreSQL names the constraint itself */
        assert_non_null(strstr(dbsync_conn_error(c)->message,
                               "insert customer: customer 1 already has the same email"));
    else
        assert_non_null(strstr(dbsync_conn_error(c)->message, "customer_email_key"));
    /* an explicit key that is taken */
    assert_int_equal(try_insert(c, customer, (const char *[]){"id", "1", "email", "new@x", NULL}),
                     DBSYNC_EEXISTS);
    if (strcmp(backend, "pgsql"))
        assert_non_null(strstr(dbsync_conn_error(c)->message,
                               "insert customer: customer 1 already has the same key id"));
    /* NOT NULL */
    assert_int_equal(try_insert(c, customer, (const char *[]){"email", "\\N", NULL}), DBSYNC_EINVALID);
    assert_non_null(strstr(dbsync_conn_error(c)->message, "column customer.email: NULL is not allowed"));
    /* missing reference */
    assert_int_equal(try_insert(c, purchase, (const char *[]){"customer_id", "42", "at", "2024-01-01 00:00:00", NULL}),
                     DBSYNC_ECONFLICT);
    /* SQLite's message names no column: the runtime finds it. PostgreSQL's does. */
    const char *m = dbsync_conn_error(c)->message;
    if (!strcmp(backend, "pgsql"))
        assert_non_null(strstr(m, "Key (customer_id)=(42) is not present in table \"customer\""));
    else
        assert_non_null(strstr(m, "insert purchase: column customer_id refers to customer 42, which does not exist"));
    /* update and delete of a missing row */
    dbsync_value v[16];
    assert_int_equal(dbsync_row_init(customer, v), 0);
    set(customer, v, "id", "77");
    set(customer, v, "email", "z@x");
    assert_int_equal(dbsync_row_update(c, customer, v, NULL), DBSYNC_ENOTFOUND);
    assert_non_null(strstr(dbsync_conn_error(c)->message, "update customer 77: no such row"));
    dbsync_row_clear(customer, v);
    assert_int_equal(dbsync_row_delete(c, customer, 77), DBSYNC_ENOTFOUND);
    /* a value of the wrong type */
    assert_int_equal(dbsync_row_init(customer, v), 0);
    set(customer, v, "email", "t@x");
    dbsync_value_clear(&v[dbsync_table_column(customer, "born")]);
    v[dbsync_table_column(customer, "born")] = (dbsync_value){.type = DBSYNC_TYPE_TEXT, .u.s = NULL, .is_null = false};
    assert_int_equal(dbsync_row_insert(c, customer, v), DBSYNC_EINVALID);
    v[dbsync_table_column(customer, "born")] = (dbsync_value){.type = DBSYNC_TYPE_DATE, .is_null = true};
    dbsync_row_clear(customer, v);
    expect_log(c, "i customer 1");
    dbsync_status st;
    assert_int_equal(dbsync_status_get(c, &st), 0);
    assert_int_equal(st.operations, 1);
    dbsync_conn_close(c);
}

static void test_tracking__sql_looking_values(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("inject.db");
    const char *nasty[] = {"'; DROP TABLE customer; --", "\"", "--", ";", "a'b''c",
                           "\\'", "x\\", "\xe2\x82\xac \xf0\x9f\x98\x80", "", NULL};
    for (size_t i = 0; nasty[i]; i++) {
        char email[64];
        snprintf(email, sizeof email, "%zu", i);
        int64_t id = insert(c, customer, (const char *[]){"email", email, NULL});
        int64_t l = insert(c, purchase, (const char *[]){"customer_id", email[0] == '0' ? "1" : "1", "at", "2024-01-01 00:00:00", NULL});
        int64_t ln = insert(c, line, (const char *[]){"purchase_id", "1", "note", nasty[i], NULL});
        (void)id;
        (void)l;
        expect_text(c, line, ln, "note", nasty[i]);
    }
    expect_text(c, customer, 1, "email", "0");
    /* Filters take such values too, as values. */
    dbsync_filter f = {"note", DBSYNC_FILTER_EQ, "'; DROP TABLE customer; --"};
    dbsync_query q = DBSYNC_QUERY_INIT;
    q.filters = &f;
    q.n_filters = 1;
    dbsync_iter *it;
    assert_int_equal(dbsync_iter_new(&it, c, line, &q), 0);
    dbsync_value v[16];
    assert_int_equal(dbsync_iter_next_values(it, v), 0);
    assert_string_equal(v[2].u.s, "'; DROP TABLE customer; --");
    dbsync_row_clear(line, v);
    assert_int_equal(dbsync_iter_next_values(it, v), DBSYNC_ITEROVER);
    dbsync_iter_free(it);
    dbsync_conn_close(c);
}

static void test_tracking__types_roundtrip(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("types.db");
    int64_t id = insert(c, customer, (const char *[]){"email", "\xc3\xa9t\xc3\xa9", "credit", "-9999999999.99",
                                                      "photo", "00ff0041ff00", "born", "2024-02-29",
                                                      "score", "0.1", NULL});
    expect_text(c, customer, id, "email", "\xc3\xa9t\xc3\xa9");
    expect_text(c, customer, id, "credit", "-9999999999.99");
    expect_text(c, customer, id, "photo", "00ff0041ff00");
    expect_text(c, customer, id, "born", "2024-02-29");
    dbsync_value v[16];
    assert_int_equal(dbsync_row_get(c, customer, id, v), 0);
    assert_true(v[6].u.r == 0.1);
    assert_int_equal(v[4].u.blob.len, 6);
    assert_memory_equal(v[4].u.blob.data, "\x00\xff\x00\x41\xff\x00", 6);
    dbsync_row_clear(customer, v);
    int64_t e = insert(c, customer, (const char *[]){"email", "e", "photo", "", NULL});
    assert_int_equal(dbsync_row_get(c, customer, e, v), 0);
    assert_false(v[4].is_null); /* an empty blob is not NULL */
    assert_int_equal(v[4].u.blob.len, 0);
    dbsync_row_clear(customer, v);
    int64_t p = insert(c, purchase, (const char *[]){"at", "9999-12-31 23:59:59.999999", "slot", "00:00:00.000001", NULL});
    expect_text(c, purchase, p, "at", "9999-12-31 23:59:59.999999");
    expect_text(c, purchase, p, "slot", "00:00:00.000001");
    expect_text(c, purchase, p, "customer_id", "\\N");
    /* an explicit key is kept, and generated keys continue above it */
    int64_t k100 = insert(c, customer, (const char *[]){"id", "100", "email", "hundred", NULL});
    int64_t k101 = insert(c, customer, (const char *[]){"email", "next", NULL});
    assert_int_equal(k100, 100);
    assert_int_equal(k101, 101);
    assert_int_equal(try_insert(c, customer, (const char *[]){"id", "100", "email", "again", NULL}),
                     DBSYNC_EEXISTS);
    int64_t k = insert(c, customer, (const char *[]){"id", "9223372036854775807", "email", "max", NULL});
    assert_true(k == INT64_MAX);
    expect_text(c, customer, k, "email", "max");
    dbsync_conn_close(c);
}

static void test_tracking__iterate(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("iter.db");
    const char *emails[] = {"d", "b", "a", "c"};
    for (int i = 0; i < 4; i++)
        insert(c, customer, (const char *[]){"email", emails[i], "vip", i % 2 ? "true" : "false", NULL});
    dbsync_filter f = {"vip", DBSYNC_FILTER_EQ, "false"};
    dbsync_query q = DBSYNC_QUERY_INIT;
    q.order_by = "email";
    dbsync_iter *it;
    dbsync_value v[16];
    char got[16] = "";
    assert_int_equal(dbsync_iter_new(&it, c, customer, &q), 0);
    while (dbsync_iter_next_values(it, v) == 0) {
        strcat(got, v[1].u.s);
        dbsync_row_clear(customer, v);
    }
    dbsync_iter_free(it);
    assert_string_equal(got, "abcd");
    q.filters = &f;
    q.n_filters = 1;
    q.descending = true;
    got[0] = '\0';
    assert_int_equal(dbsync_iter_new(&it, c, customer, &q), 0);
    while (dbsync_iter_next_values(it, v) == 0) {
        strcat(got, v[1].u.s);
        dbsync_row_clear(customer, v);
    }
    dbsync_iter_free(it);
    assert_string_equal(got, "da");
    q.limit = 1;
    q.filters = NULL;
    q.n_filters = 0;
    got[0] = '\0';
    assert_int_equal(dbsync_iter_new(&it, c, customer, &q), 0);
    while (dbsync_iter_next_values(it, v) == 0) {
        strcat(got, v[1].u.s);
        dbsync_row_clear(customer, v);
    }
    dbsync_iter_free(it);
    assert_string_equal(got, "d");
    /* bad queries */
    dbsync_filter bad = {"nosuch", DBSYNC_FILTER_EQ, "1"};
    q.filters = &bad;
    q.n_filters = 1;
    assert_int_equal(dbsync_iter_new(&it, c, customer, &q), DBSYNC_EINVALID);
    assert_non_null(strstr(dbsync_conn_error(c)->message, "unknown column \"nosuch\" in table customer"));
    dbsync_filter badv = {"vip", DBSYNC_FILTER_EQ, "maybe"};
    q.filters = &badv;
    assert_int_equal(dbsync_iter_new(&it, c, customer, &q), DBSYNC_EINVALID);
    dbsync_filter isnull = {"photo", DBSYNC_FILTER_IS_NULL, NULL};
    q.filters = &isnull;
    q.limit = 0;
    int n = 0;
    assert_int_equal(dbsync_iter_new(&it, c, customer, &q), 0);
    while (dbsync_iter_next_values(it, v) == 0) {
        n++;
        dbsync_row_clear(customer, v);
    }
    dbsync_iter_free(it);
    assert_int_equal(n, 4);
    q.filters = NULL;
    q.n_filters = 0;
    q.order_by = "nosuch";
    assert_int_equal(dbsync_iter_new(&it, c, customer, &q), DBSYNC_EINVALID);
    dbsync_conn_close(c);
}

/* Many writes in one transaction cross the log's batch size. */
static void test_tracking__large_transaction(void **state)
{
    (void)state;
    dbsync_conn *c = open_db("large.db");
    assert_int_equal(dbsync_conn_begin(c), 0);
    const int n = 1234;
    for (int i = 0; i < n; i++) {
        char e[32];
        snprintf(e, sizeof e, "user%d", i);
        insert(c, customer, (const char *[]){"email", e, NULL});
    }
    for (int i = 1; i <= n; i += 2)
        assert_int_equal(dbsync_row_delete(c, customer, i), 0);
    /* reading a row while operations wait in the buffer */
    dbsync_value v[16];
    assert_int_equal(dbsync_row_get(c, customer, 2, v), 0);
    assert_string_equal(v[1].u.s, "user1");
    dbsync_row_clear(customer, v);
    dbsync_status st;
    assert_int_equal(dbsync_status_get(c, &st), 0); /* reads its own writes */
    assert_int_equal(st.operations, n + n / 2);
    assert_int_equal(dbsync_conn_commit(c), 0);
    assert_int_equal(dbsync_status_get(c, &st), 0);
    assert_int_equal(st.operations, n + n / 2);
    assert_int_equal(st.unpushed, n + n / 2);
    /* the first and the last operations are where they belong */
    dbsync__buf b = DBSYNC__BUF_INIT;
    assert_int_equal(dbsync_oplog_foreach(c, true, collect, &b), 0);
    assert_true(strncmp(b.data, "i customer 1; i customer 2;", 27) == 0);
    assert_non_null(strstr(b.data, "i customer 1234; d customer 1; d customer 3;"));
    assert_true(strcmp(b.data + b.len - 15, "d customer 1233") == 0);
    dbsync__buf_free(&b);
    /* and a rolled back large transaction leaves no operation behind */
    assert_int_equal(dbsync_conn_begin(c), 0);
    for (int i = 0; i < 700; i++) {
        char e[32];
        snprintf(e, sizeof e, "tmp%d", i);
        insert(c, customer, (const char *[]){"email", e, NULL});
    }
    assert_int_equal(dbsync_conn_rollback(c), 0);
    assert_int_equal(dbsync_status_get(c, &st), 0);
    assert_int_equal(st.operations, n + n / 2);
    dbsync_conn_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tracking__insert_update_delete),
        cmocka_unit_test(test_tracking__rollback_leaves_nothing),
        cmocka_unit_test(test_tracking__local_only_not_logged),
        cmocka_unit_test(test_tracking__cascades_logged),
        cmocka_unit_test(test_tracking__restrict_changes_nothing),
        cmocka_unit_test(test_tracking__refusals_change_nothing),
        cmocka_unit_test(test_tracking__sql_looking_values),
        cmocka_unit_test(test_tracking__types_roundtrip),
        cmocka_unit_test(test_tracking__iterate),
        cmocka_unit_test(test_tracking__large_transaction),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

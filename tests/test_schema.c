/* SPDX-License-Identifier: MIT */
/*
 * Tests of the schema model and its XML loader (src/schema.c,
 * src/schema_xml.c).
 *
 * Good schemas live in tests/schema/good/ and every field of their model is
 * checked here. Bad schemas live in tests/schema/bad/NAME.xml, one problem
 * each; the table bad_cases below holds, for every file, the line the error
 * must name and a substring of the message (the message must also start with
 * "PATH:LINE: "). test_schema__bad_files_listed fails when a file of that
 * folder is missing from the table or the other way round.
 */
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>

#include "testutil.h"

#include <libxml/parser.h>

#include "dbsync/schema.h"
#include "schema_internal.h"

/* ---- helpers ---- */

/* FNV-1a 32, written again here so the test does not trust the library's. */
static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *data = NULL;
    size_t n = 0, cap = 0, got;
    char chunk[4096];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + got + 1 > cap) {
            cap = (n + got + 1) * 2;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        memcpy(data + n, chunk, got);
        n += got;
    }
    fclose(f);
    if (!data)
        data = calloc(1, 1);
    data[n] = '\0';
    *len = n;
    return data;
}

static dbsync_schema *load_good(const char *rel)
{
    dbsync_schema *s = NULL;
    dbsync_error err = {0};
    int rc = dbsync_schema_load_file(&s, tu_src(rel), &err);
    if (rc != DBSYNC_OK)
        fail_msg("%s: %s", rel, err.message);
    assert_non_null(s);
    return s;
}

/* ---- the good schema: every field ---- */

typedef struct exp_column {
    const char *name;
    dbsync_type type;
    unsigned flags, length, precision, scale;
    const char *def;
    int ref;
    dbsync_on_delete on_delete;
    unsigned line;
} exp_column;

typedef struct exp_key {
    const char *name; /* NULL: checked separately */
    unsigned line;
    size_t n;
    unsigned columns[4];
} exp_key;

typedef struct exp_table {
    const char *name;
    unsigned flags, line, primary_key;
    size_t n_columns;
    const exp_column *columns;
    size_t n_uniques;
    const exp_key *uniques;
    size_t n_indexes;
    const exp_key *indexes;
} exp_table;

#define N DBSYNC_COLUMN_NULLABLE
#define PK DBSYNC_COLUMN_PRIMARY_KEY
#define I DBSYNC_TYPE_INTEGER
#define R_RESTRICT DBSYNC_ON_DELETE_RESTRICT
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* libxml2 gives an element the line where its start tag ends. */
static const exp_column purchase_columns[] = {
    {"id", I, PK, 0, 0, 0, NULL, -1, R_RESTRICT, 7},
    {"customer_id", I, 0, 0, 0, 0, NULL, 1, DBSYNC_ON_DELETE_CASCADE, 10},
    {"agent_id", I, N, 0, 0, 0, NULL, 2, DBSYNC_ON_DELETE_SET_NULL, 11},
    {"parent_id", I, N, 0, 0, 0, NULL, 0, R_RESTRICT, 12},
    {"coupon_id", I, N, 0, 0, 0, "7", 3, R_RESTRICT, 14},
    {"at", DBSYNC_TYPE_DATETIME, 0, 0, 0, 0, "2024-02-29 23:59:59.500000", -1, R_RESTRICT, 15},
    {"total", DBSYNC_TYPE_DECIMAL, N, 0, 12, 2, "-1.50", -1, R_RESTRICT, 16},
    {"quantity", I, N, 0, 0, 0, "42", -1, R_RESTRICT, 17},
};
static const exp_key purchase_uniques[] = {{"purchase_customer_id_at_key", 8, 2, {1, 5}}};
static const exp_key purchase_indexes[] = {
    {"purchase_at_idx", 18, 1, {5}},
    {"purchase_agent_id_coupon_id_idx", 19, 2, {2, 4}},
};

static const exp_column customer_columns[] = {
    {"id", I, PK, 0, 0, 0, NULL, -1, R_RESTRICT, 22},
    {"email", DBSYNC_TYPE_TEXT, 0, 200, 0, 0, "nobody@example.com", -1, R_RESTRICT, 24},
    {"nick", DBSYNC_TYPE_TEXT, N, 3, 0, 0, "Zo\xc3\xab", -1, R_RESTRICT, 25},
    {"credit", DBSYNC_TYPE_DECIMAL, N, 0, 5, 0, "0", -1, R_RESTRICT, 26},
    {"rate", DBSYNC_TYPE_DECIMAL, N, 0, 4, 4, "0.5000", -1, R_RESTRICT, 27},
    {"vip", DBSYNC_TYPE_BOOLEAN, N, 0, 0, 0, "true", -1, R_RESTRICT, 28},
    {"active", DBSYNC_TYPE_BOOLEAN, 0, 0, 0, 0, "false", -1, R_RESTRICT, 29},
    {"score", DBSYNC_TYPE_REAL, N, 0, 0, 0, "0.10000000000000001", -1, R_RESTRICT, 30},
    {"weight", DBSYNC_TYPE_REAL, 0, 0, 0, 0, "1000", -1, R_RESTRICT, 31},
    {"photo", DBSYNC_TYPE_BLOB, N, 0, 0, 0, NULL, -1, R_RESTRICT, 32},
    {"born", DBSYNC_TYPE_DATE, N, 0, 0, 0, "2000-02-29", -1, R_RESTRICT, 33},
    {"wakes", DBSYNC_TYPE_TIME, N, 0, 0, 0, "07:30:00", -1, R_RESTRICT, 34},
    {"naps", DBSYNC_TYPE_TIME, 0, 0, 0, 0, "13:05:09.250000", -1, R_RESTRICT, 35},
    {"seen", DBSYNC_TYPE_DATETIME, N, 0, 0, 0, NULL, -1, R_RESTRICT, 36},
    {"big", I, N, 0, 0, 0, "-9223372036854775808", -1, R_RESTRICT, 37},
    {"note", DBSYNC_TYPE_TEXT, N, 0, 0, 0, NULL, -1, R_RESTRICT, 38},
};
static const exp_key customer_uniques[] = {
    {"customer_email_key", 39, 1, {1}},
    {"customer_nick_born_key", 40, 2, {2, 10}},
};

static const exp_column agent_columns[] = {
    {"id", I, PK, 0, 0, 0, NULL, -1, R_RESTRICT, 43},
    {"code", I, 0, 0, 0, 0, NULL, -1, R_RESTRICT, 44},
    {"has_code", DBSYNC_TYPE_BOOLEAN, N, 0, 0, 0, NULL, -1, R_RESTRICT, 46},
    {"has_note", DBSYNC_TYPE_BOOLEAN, N, 0, 0, 0, "false", -1, R_RESTRICT, 47},
    {"note", DBSYNC_TYPE_TEXT, N, 0, 0, 0, "", -1, R_RESTRICT, 48},
};

static const exp_column coupon_columns[] = {
    {"id", I, PK, 0, 0, 0, NULL, -1, R_RESTRICT, 51},
    {"label", DBSYNC_TYPE_TEXT, N, 0, 0, 0, NULL, -1, R_RESTRICT, 52},
};

static const exp_column warehouse_columns[] = {
    {"id", I, PK, 0, 0, 0, NULL, -1, R_RESTRICT, 55},
    {"first_long_column_name", I, N, 0, 0, 0, NULL, -1, R_RESTRICT, 56},
    {"second_long_column_name", I, N, 0, 0, 0, NULL, -1, R_RESTRICT, 57},
};
static const exp_key warehouse_uniques[] = {{NULL, 58, 2, {1, 2}}};

#define WAREHOUSE "warehouse_location_with_a_rather_long_name"

static const exp_column draft_columns[] = {
    {"id", I, PK, 0, 0, 0, NULL, -1, R_RESTRICT, 62},
    {"customer_id", I, N, 0, 0, 0, NULL, 1, DBSYNC_ON_DELETE_CASCADE, 63},
};

static const exp_table every_tables[] = {
    {"purchase", DBSYNC_TABLE_SYNCED, 6, 0, COUNT(purchase_columns), purchase_columns,
     COUNT(purchase_uniques), purchase_uniques, COUNT(purchase_indexes), purchase_indexes},
    {"customer", DBSYNC_TABLE_SYNCED, 21, 0, COUNT(customer_columns), customer_columns,
     COUNT(customer_uniques), customer_uniques, 0, NULL},
    {"agent", DBSYNC_TABLE_SYNCED, 42, 0, COUNT(agent_columns), agent_columns, 0, NULL, 0, NULL},
    {"coupon", DBSYNC_TABLE_SYNCED, 50, 0, COUNT(coupon_columns), coupon_columns, 0, NULL, 0,
     NULL},
    {WAREHOUSE, DBSYNC_TABLE_SYNCED, 54, 0, COUNT(warehouse_columns), warehouse_columns,
     COUNT(warehouse_uniques), warehouse_uniques, 0, NULL},
    {"draft", 0, 61, 0, COUNT(draft_columns), draft_columns, 0, NULL, 0, NULL},
};

static void check_keys(const char *table, const dbsync_key *keys, size_t n, const exp_key *exp,
                       size_t n_exp)
{
    assert_int_equal(n, n_exp);
    if (n)
        assert_non_null(keys);
    for (size_t k = 0; k < n; k++) {
        print_message("  key %s/%zu\n", table, k);
        if (exp[k].name)
            assert_string_equal(keys[k].name, exp[k].name);
        assert_int_equal(keys[k].line, exp[k].line);
        assert_int_equal(keys[k].n_columns, exp[k].n);
        for (size_t i = 0; i < exp[k].n; i++)
            assert_int_equal(keys[k].columns[i], exp[k].columns[i]);
    }
}

static void check_every(const dbsync_schema *s, const char *file)
{
    assert_int_equal(s->magic, DBSYNC_SCHEMA_MAGIC);
    assert_string_equal(s->name, "every");
    assert_string_equal(s->version, "2.1-beta");
    assert_string_equal(s->file, file);
    assert_int_equal(s->n_tables, COUNT(every_tables));
    for (size_t ti = 0; ti < s->n_tables; ti++) {
        const dbsync_table *t = &s->tables[ti];
        const exp_table *e = &every_tables[ti];
        print_message("table %s\n", e->name);
        assert_string_equal(t->name, e->name);
        assert_int_equal(t->flags, e->flags);
        assert_int_equal(t->line, e->line);
        assert_int_equal(t->primary_key, e->primary_key);
        assert_int_equal(t->struct_size, 0);
        assert_int_equal(t->n_columns, e->n_columns);
        for (size_t ci = 0; ci < t->n_columns; ci++) {
            const dbsync_column *c = &t->columns[ci];
            const exp_column *x = &e->columns[ci];
            print_message("  column %s\n", x->name);
            assert_string_equal(c->name, x->name);
            assert_int_equal(c->type, x->type);
            assert_int_equal(c->flags, x->flags);
            assert_int_equal(c->length, x->length);
            assert_int_equal(c->precision, x->precision);
            assert_int_equal(c->scale, x->scale);
            if (x->def)
                assert_string_equal(c->default_value, x->def);
            else
                assert_null(c->default_value);
            assert_int_equal(c->ref_table, x->ref);
            assert_int_equal(c->on_delete, x->on_delete);
            assert_int_equal(c->offset, 0);
            assert_true(c->has_offset == DBSYNC_NO_OFFSET);
            assert_int_equal(c->line, x->line);
        }
        check_keys(e->name, t->uniques, t->n_uniques, e->uniques, e->n_uniques);
        check_keys(e->name, t->indexes, t->n_indexes, e->indexes, e->n_indexes);
    }
    /* The long unique name: cut to 54 bytes, "_", 8 hex digits of the hash
     * of the full name. */
    const char *full = WAREHOUSE "_first_long_column_name_second_long_column_name_key";
    char expected[64];
    snprintf(expected, sizeof expected, "%.54s_%08x", full, (unsigned)fnv1a(full));
    assert_string_equal(s->tables[4].uniques[0].name, expected);
    assert_int_equal(strlen(expected), 63);
}

static void test_schema__good_every_field(void **state)
{
    (void)state;
    dbsync_schema *s = load_good("tests/schema/good/every.xml");
    check_every(s, tu_src("tests/schema/good/every.xml"));
    assert_int_equal(dbsync__schema_check(s, NULL), DBSYNC_OK);
    dbsync_schema_free(s);
}

static void test_schema__good_key_names(void **state)
{
    (void)state;
    dbsync_schema *s = load_good("tests/schema/good/key-names.xml");
    char name[64];
    assert_int_equal(s->n_tables, 4);
    assert_null(s->version);
    /* Latin-1 in the file, UTF-8 in the model. */
    assert_string_equal(s->tables[0].columns[1].default_value, "caf\xc3\xa9");
    assert_string_equal(s->tables[0].uniques[0].name, "a_b_c_key");
    /* Taken by table a_b's unique: hashed with table and column list. */
    snprintf(name, sizeof name, "a_b_c_key_%08x", (unsigned)fnv1a("a\nb_c\nkey"));
    assert_string_equal(s->tables[1].uniques[0].name, name);
    snprintf(name, sizeof name, "a_b_c_key_%08x", (unsigned)fnv1a("a\nb,c\nkey"));
    assert_string_equal(s->tables[1].uniques[1].name, name);
    assert_string_equal(s->tables[1].indexes[0].name, "a_b_c_idx");
    assert_string_equal(s->tables[1].indexes[1].name, "a_c_b_idx");
    /* Taken by the table T_X_IDX (ignoring case). */
    snprintf(name, sizeof name, "t_x_idx_%08x", (unsigned)fnv1a("t\nx\nidx"));
    assert_string_equal(s->tables[2].indexes[0].name, name);
    dbsync_schema_free(s);
}

/* ---- the grammar ---- */

static void test_schema__grammar_identical(void **state)
{
    (void)state;
    size_t len;
    char *file = read_whole(tu_src("codegen/dbsync-schema.rng"), &len);
    const char *embedded = dbsync__schema_grammar();
    assert_non_null(embedded);
    assert_int_equal(strlen(embedded), len);
    assert_memory_equal(embedded, file, len);
    free(file);
}

/* ---- loading from memory ---- */

static void test_schema__load_memory(void **state)
{
    (void)state;
    size_t len;
    char *xml = read_whole(tu_src("tests/schema/good/every.xml"), &len);
    dbsync_schema *s = NULL;
    dbsync_error err = {0};
    assert_int_equal(dbsync_schema_load_memory(&s, xml, len, "inline.xml", &err), DBSYNC_OK);
    check_every(s, "inline.xml");
    dbsync_schema_free(s);

    /* Without a name, messages say <memory>; the length is honoured. */
    assert_int_equal(dbsync_schema_load_memory(&s, xml, 200, NULL, &err), DBSYNC_EINVALID);
    assert_null(s);
    assert_int_equal(err.klass, DBSYNC_ECLASS_SCHEMA);
    assert_true(err.line > 0);
    assert_true(strncmp(err.message, "<memory>:", 9) == 0);
    free(xml);

    const char *bad =
        "<schema name=\"m\">\n<table name=\"t\">\n<column name=\"id\" type=\"integer\" "
        "primary-key=\"true\"/>\n<column name=\"x\" type=\"money\"/>\n</table>\n"
        "</schema>\n";
    assert_int_equal(dbsync_schema_load_memory(&s, bad, strlen(bad), "m.xml", &err),
                     DBSYNC_EINVALID);
    assert_string_equal(err.message, "m.xml:4: column \"x\" of table \"t\": unknown type \"money\" "
                                     "(expected integer, boolean, real, decimal, text, blob, "
                                     "date, time or datetime)");
    assert_int_equal(err.line, 4);
    assert_int_equal(err.code, DBSYNC_EINVALID);

    /* A NULL error record is fine. */
    assert_int_equal(dbsync_schema_load_memory(&s, bad, strlen(bad), "m.xml", NULL),
                     DBSYNC_EINVALID);
    assert_int_equal(dbsync_schema_load_memory(NULL, bad, strlen(bad), "m.xml", &err),
                     DBSYNC_EINVALID);
    assert_int_equal(err.klass, DBSYNC_ECLASS_ARG);
}

/* Lines past 65535 are reported exactly (XML_PARSE_BIG_LINES). */
static void test_schema__big_line_numbers(void **state)
{
    (void)state;
    size_t blank = 70000;
    const char *head = "<schema name=\"big\">\n<table name=\"t\">\n<column name=\"id\" "
                       "type=\"integer\" primary-key=\"true\"/>\n";
    const char *tail = "<column name=\"x\" type=\"integer\" default=\"x\"/>\n</table>\n</schema>\n";
    size_t len = strlen(head) + blank + strlen(tail);
    char *xml = malloc(len + 1);
    assert_non_null(xml);
    strcpy(xml, head);
    memset(xml + strlen(head), '\n', blank);
    strcpy(xml + strlen(head) + blank, tail);
    dbsync_schema *s = NULL;
    dbsync_error err = {0};
    assert_int_equal(dbsync_schema_load_memory(&s, xml, len, "big.xml", &err), DBSYNC_EINVALID);
    /* Past 65535, libxml2 keeps exact lines on text nodes only and derives
     * an element's line from the text that follows it: one more here. */
    unsigned line = (unsigned)(3 + blank + 1);
    assert_true(err.line == line || err.line == line + 1);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "big.xml:%u: ", err.line);
    assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
    free(xml);
}

/* ---- model functions ---- */

static void test_schema__content_type_id(void **state)
{
    (void)state;
    /* FNV-1a 32 of "customer" is 0xa4bdaa19; masked to 31 bits. */
    assert_int_equal(fnv1a("customer"), 0xa4bdaa19u);
    assert_int_equal(dbsync_content_type_id("customer"), 616409625);
    assert_int_equal(dbsync_content_type_id("customer"), (int32_t)(fnv1a("customer") & 0x7fffffff));
    assert_int_equal(dbsync_content_type_id("purchase"), (int32_t)(fnv1a("purchase") & 0x7fffffff));
    assert_true(dbsync_content_type_id("") > 0);

    dbsync_schema *s = load_good("tests/schema/good/every.xml");
    for (size_t i = 0; i < s->n_tables; i++) {
        int32_t id = dbsync_content_type_id(s->tables[i].name);
        assert_true(id > 0);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(id, dbsync_content_type_id(s->tables[j].name));
    }
    dbsync_schema_free(s);
}

static void test_schema__lookups(void **state)
{
    (void)state;
    dbsync_schema *s = load_good("tests/schema/good/every.xml");
    const dbsync_table *t = dbsync_schema_table(s, "customer");
    assert_ptr_equal(t, &s->tables[1]);
    assert_null(dbsync_schema_table(s, "Customer"));
    assert_null(dbsync_schema_table(s, "nothing"));
    assert_null(dbsync_schema_table(NULL, "customer"));
    assert_null(dbsync_schema_table(s, NULL));
    assert_int_equal(dbsync_table_column(t, "id"), 0);
    assert_int_equal(dbsync_table_column(t, "note"), 15);
    assert_int_equal(dbsync_table_column(t, "nothing"), -1);
    assert_int_equal(dbsync_table_column(NULL, "id"), -1);
    assert_int_equal(dbsync_table_column(t, NULL), -1);
    dbsync_schema_free(s);
    dbsync_schema_free(NULL);

    static const char *const names[] = {"integer", "boolean", "real", "decimal", "text",
                                        "blob",    "date",    "time", "datetime"};
    for (int i = 0; i < 9; i++) {
        assert_string_equal(dbsync_type_name((dbsync_type)(DBSYNC_TYPE_INTEGER + i)), names[i]);
        assert_int_equal(dbsync__type_from_name(names[i]), DBSYNC_TYPE_INTEGER + i);
    }
    assert_string_equal(dbsync_type_name((dbsync_type)0), "unknown");
    assert_string_equal(dbsync_type_name((dbsync_type)99), "unknown");
    assert_int_equal(dbsync__type_from_name("money"), 0);
}

/* Defaults, one function: the cases the good schema does not show. */
static void test_schema__default_canonical(void **state)
{
    (void)state;
    static const struct {
        dbsync_type type;
        unsigned length, precision, scale;
        const char *text, *canon; /* canon NULL: invalid */
    } cases[] = {
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, "-0", "0"},
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, "9223372036854775807", "9223372036854775807"},
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, "-9223372036854775809", NULL},
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, " 1", NULL},
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, "1 ", NULL},
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, "0x10", NULL},
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, "", NULL},
        {DBSYNC_TYPE_INTEGER, 0, 0, 0, "-", NULL},
        {DBSYNC_TYPE_BOOLEAN, 0, 0, 0, "0", "false"},
        {DBSYNC_TYPE_BOOLEAN, 0, 0, 0, "true", "true"},
        {DBSYNC_TYPE_BOOLEAN, 0, 0, 0, "TRUE", NULL},
        {DBSYNC_TYPE_REAL, 0, 0, 0, "-2.5e-3", "-0.0025000000000000001"},
        {DBSYNC_TYPE_REAL, 0, 0, 0, "3", "3"},
        {DBSYNC_TYPE_REAL, 0, 0, 0, "inf", NULL},
        {DBSYNC_TYPE_REAL, 0, 0, 0, "0x1p3", NULL},
        {DBSYNC_TYPE_REAL, 0, 0, 0, "1e", NULL},
        {DBSYNC_TYPE_REAL, 0, 0, 0, ".", NULL},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 2, "0", "0.00"},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 2, "-1.5", "-1.50"},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 2, "-0.00", "0.00"},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 2, "+007.1", "7.10"},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 2, "5.", "5.00"},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 2, "10", NULL},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 2, "1.500", NULL},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 0, "999", "999"},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 0, "1000", NULL},
        {DBSYNC_TYPE_DECIMAL, 0, 3, 0, "1.0", NULL},
        {DBSYNC_TYPE_DECIMAL, 0, 65, 30, "-12345678901234567890123456789012345.1",
         "-12345678901234567890123456789012345.100000000000000000000000000000"},
        {DBSYNC_TYPE_TEXT, 2, 0, 0, "\xc3\xa9\xc3\xa9", "\xc3\xa9\xc3\xa9"},
        {DBSYNC_TYPE_TEXT, 2, 0, 0, "abc", NULL},
        {DBSYNC_TYPE_DATE, 0, 0, 0, "2000-02-29", "2000-02-29"},
        {DBSYNC_TYPE_DATE, 0, 0, 0, "1900-02-29", NULL},
        {DBSYNC_TYPE_DATE, 0, 0, 0, "2024-04-31", NULL},
        {DBSYNC_TYPE_DATE, 0, 0, 0, "2024-1-01", NULL},
        {DBSYNC_TYPE_TIME, 0, 0, 0, "23:59:59.999999", "23:59:59.999999"},
        {DBSYNC_TYPE_TIME, 0, 0, 0, "12:00:00.0", "12:00:00"},
        {DBSYNC_TYPE_TIME, 0, 0, 0, "12:60:00", NULL},
        {DBSYNC_TYPE_DATETIME, 0, 0, 0, "2024-01-02 03:04:05", "2024-01-02 03:04:05"},
        {DBSYNC_TYPE_DATETIME, 0, 0, 0, "2024-01-02T03:04:05.000001", "2024-01-02 03:04:05.000001"},
        {DBSYNC_TYPE_DATETIME, 0, 0, 0, "2024-01-02", NULL},
        {DBSYNC_TYPE_BLOB, 0, 0, 0, "00", NULL},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        dbsync_column c = {"c",
                           cases[i].type,
                           N,
                           cases[i].length,
                           cases[i].precision,
                           cases[i].scale,
                           NULL,
                           -1,
                           R_RESTRICT,
                           0,
                           DBSYNC_NO_OFFSET,
                           0};
        char out[DBSYNC__DEFAULT_BUFSIZE], why[160];
        const char *canon = NULL;
        int rc = dbsync__default_canonical(&c, cases[i].text, out, &canon, why, sizeof why);
        print_message("default %s \"%s\": %s\n", dbsync_type_name(c.type), cases[i].text,
                      rc == DBSYNC_OK ? canon : why);
        if (cases[i].canon) {
            assert_int_equal(rc, DBSYNC_OK);
            assert_string_equal(canon, cases[i].canon);
        } else {
            assert_int_equal(rc, DBSYNC_EINVALID);
            assert_null(canon);
            assert_true(why[0] != '\0');
        }
    }
}

/* Real defaults do not depend on the process locale. */
static void test_schema__locale(void **state)
{
    (void)state;
    const char *locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
    const char *set = NULL;
    for (size_t i = 0; i < COUNT(locales) && !set; i++)
        set = setlocale(LC_NUMERIC, locales[i]);
    if (!set) {
        if (getenv("DBSYNC_TEST_LOCALE_REQUIRED"))
            fail_msg("no comma-decimal locale could be set");
        skip();
    }
    dbsync_column c = {"c", DBSYNC_TYPE_REAL, N, 0, 0, 0, NULL, -1, R_RESTRICT, 0, 0, 0};
    char out[DBSYNC__DEFAULT_BUFSIZE], why[160];
    const char *canon;
    int rc = dbsync__default_canonical(&c, "0.5", out, &canon, why, sizeof why);
    setlocale(LC_NUMERIC, "C");
    assert_int_equal(rc, DBSYNC_OK);
    assert_string_equal(canon, "0.5");
}

/* ---- the model check on generated-style descriptors ---- */

static const dbsync_column gen_columns[] = {
    {"id", DBSYNC_TYPE_INTEGER, PK, 0, 0, 0, NULL, -1, R_RESTRICT, 0, DBSYNC_NO_OFFSET, 3},
    {"price", DBSYNC_TYPE_DECIMAL, N, 0, 8, 2, "1.00", -1, R_RESTRICT, 8, DBSYNC_NO_OFFSET, 4},
    {"parent", DBSYNC_TYPE_INTEGER, N, 0, 0, 0, NULL, 0, DBSYNC_ON_DELETE_SET_NULL, 16, 24, 5},
};
static const unsigned gen_key_columns[] = {1, 2};
static const dbsync_key gen_uniques[] = {{"item_price_parent_key", 2, gen_key_columns, 6}};
static const dbsync_table gen_tables[] = {
    {"item", DBSYNC_TABLE_SYNCED, 3, gen_columns, 0, 1, gen_uniques, 0, NULL, 32, 2},
};
static const dbsync_schema gen_schema = {DBSYNC_SCHEMA_MAGIC, "gen", NULL, 1, gen_tables, NULL};

static void test_schema__check_generated(void **state)
{
    (void)state;
    dbsync_error err = {0};
    assert_int_equal(dbsync__schema_check(&gen_schema, &err), DBSYNC_OK);

    dbsync_schema s = gen_schema;
    dbsync_table t = gen_tables[0];
    dbsync_column c[3];
    dbsync_key k = gen_uniques[0];
    memcpy(c, gen_columns, sizeof c);
    t.columns = c;
    t.uniques = &k;
    s.tables = &t;

    s.magic = 1;
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "bad magic"));
    s.magic = DBSYNC_SCHEMA_MAGIC;

    c[2].on_delete = (dbsync_on_delete)7;
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_string_equal(err.message, "column \"parent\" of table \"item\": unknown on-delete "
                                     "action 7");
    assert_int_equal(err.line, 5);
    c[2].on_delete = DBSYNC_ON_DELETE_SET_NULL;

    c[2].ref_table = 1;
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "references a table that does not exist"));
    c[2].ref_table = 0;

    c[1].default_value = "1.001";
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "default \"1.001\" has 3 digits after the point"));
    c[1].default_value = "1.00";

    t.primary_key = 1;
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "primary_key is 1"));
    t.primary_key = 0;

    k.name = "ITEM";
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_string_equal(err.message, "unique of table \"item\": its name \"ITEM\" is taken");
    k.name = NULL;
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    k.name = gen_uniques[0].name;

    unsigned bad_columns[] = {1, 3};
    k.columns = bad_columns;
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "column index 3 out of range"));
    k.columns = gen_key_columns;

    s.n_tables = 0;
    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_EINVALID);
    assert_string_equal(err.message, "schema \"gen\" has no tables");
    s.n_tables = 1;

    assert_int_equal(dbsync__schema_check(&s, &err), DBSYNC_OK);
}

/* ---- bad schemas ---- */

static const struct bad_case {
    const char *file; /* tests/schema/bad/FILE.xml */
    unsigned line;
    const char *message; /* a substring of the message */
} bad_cases[] = {
    {"unknown-type", 6, "column \"price\" of table \"item\": unknown type \"money\""},
    {"fk-unknown-table", 9,
     "table \"purchase\": column \"customer_id\" references unknown table \"client\""},
    {"fk-wrong-case", 6, "references unknown table \"Customer\" (did you mean \"customer\"?)"},
    {"fk-not-integer", 6,
     "column \"parent\" of table \"item\": a column with references must be of type integer,"
     " not text"},
    {"fk-synced-to-local-only", 9,
     "column \"note_id\" of table \"item\": a synced table cannot reference the local-only table \"note\""},
    {"fk-set-null-not-nullable", 7,
     "column \"parent_id\" of table \"item\": on-delete=\"set-null\" needs a nullable column"},
    {"on-delete-without-references", 6,
     "column \"parent_id\" of table \"item\": on-delete is only allowed with references"},
    {"on-delete-unknown", 6,
     "column \"parent_id\" of table \"item\": unknown on-delete action \"nothing\""},
    {"duplicate-table", 7, "table \"Item\" is defined twice (first at line 4)"},
    {"duplicate-column", 7,
     "column \"Label\" of table \"item\" is defined twice (first at line 6)"},
    {"no-primary-key", 4, "table \"item\" has no primary key"},
    {"two-primary-keys", 6,
     "table \"item\": column \"code\" is a second primary key (the first is \"id\""},
    {"primary-key-not-integer", 5,
     "column \"code\" of table \"item\": the primary key must be of type integer, not text"},
    {"primary-key-nullable", 5,
     "column \"id\" of table \"item\": a primary key cannot be nullable"},
    {"primary-key-default", 9,
     "column \"id\" of table \"box\": a primary key cannot have a default"},
    {"reserved-table", 4, "table \"sync_item\": the name starts with \"sync_\""},
    {"reserved-column", 6,
     "column \"SYNC_state\" of table \"item\": the name starts with \"sync_\""},
    {"invalid-identifier", 6,
     "column \"unit price\" of table \"item\": the name is not a valid identifier"},
    {"identifier-too-long", 6, "the name is not a valid identifier"},
    {"c-keyword-column", 6, "column \"default\" of table \"item\": the name is a C keyword"},
    {"c-keyword-table", 4, "table \"_Bool\": the name is a C keyword"},
    {"reserved-c-identifier", 6, "column \"_Count\" of table \"item\": the name is reserved in C"},
    {"schema-name", 3, "schema \"my-shop\": the name is not a valid identifier"},
    {"default-integer-overflow", 6,
     "column \"stock\" of table \"item\": default \"9223372036854775808\" is out of the 64-b"
     "it integer range"},
    {"default-integer-syntax", 6, "default \"1.0\" is not an integer"},
    {"default-bad-date", 6,
     "column \"born\" of table \"item\": default \"2023-02-29\" is not a valid date"},
    {"default-bad-time", 6, "default \"24:00:00\" is not a valid time"},
    {"default-bad-datetime", 6, "default \"2024-01-01 10:00\" is not a valid datetime"},
    {"default-decimal-too-many-digits", 6,
     "default \"1234.5\" has 4 digits before the point; decimal(5,2) allows 3"},
    {"default-decimal-scale", 6,
     "default \"1.234\" has 3 digits after the point, more than the scale 2"},
    {"default-decimal-exponent", 6, "default \"1e5\" is not a decimal number"},
    {"default-bad-boolean", 6,
     "column \"vip\" of table \"item\": default \"yes\" is not a boolean"},
    {"default-real", 6, "default \"1e999\" is out of the range of a real"},
    {"default-real-syntax", 6, "default \"nan\" is not a number"},
    {"default-text-length", 6,
     "default \"\xc3\xa9t\xc3\xa9s\" has 4 characters, more than the length 3"},
    {"default-blob", 6, "column \"photo\" of table \"item\": a blob column cannot have a default"},
    {"length-on-integer", 6,
     "column \"stock\" of table \"item\": length is only allowed on text columns"},
    {"length-zero", 6, "column \"code\" of table \"item\": length must be at least 1"},
    {"length-not-a-number", 6,
     "column \"code\" of table \"item\": length must be a whole number, not \"ten\""},
    {"decimal-without-precision", 6,
     "column \"price\" of table \"item\": a decimal column needs a precision (1 to 65)"},
    {"decimal-precision-too-large", 6,
     "column \"price\" of table \"item\": precision 66 is larger than 65"},
    {"scale-larger-than-precision", 6,
     "column \"price\" of table \"item\": scale 4 is larger than precision 3"},
    {"scale-on-real", 6,
     "column \"price\" of table \"item\": scale is only allowed on decimal columns"},
    {"unique-unknown-column", 7, "unique of table \"item\": unknown column \"colour\""},
    {"unique-duplicate-column", 7, "unique of table \"item\": column \"a\" is listed twice"},
    {"unique-duplicate", 8,
     "unique of table \"item\": the same columns as another unique (first at line 7)"},
    {"unique-empty", 6, "unique of table \"item\": no columns"},
    {"index-unknown-column", 6, "index of table \"item\": unknown column \"name\""},
    {"has-collision", 6,
     "column \"has_stock\" of table \"item\": the name collides with the flag has_stock"},
    {"no-tables", 3, "schema \"shop\" has no tables"},
    {"table-without-columns", 4, "table \"item\" has no columns"},
    {"malformed", 6, "XML syntax error: Opening and ending tag mismatch"},
    {"malformed-attribute", 4, "XML syntax error: "},
    {"unknown-element", 6,
     "table \"item\": unknown element <colum> (expected <column>, <unique> or <index>)"},
    {"unknown-attribute", 6, "column \"price\" of table \"item\": unknown attribute \"nulable\""},
    {"bad-boolean-attribute", 6,
     "column \"price\" of table \"item\": nullable must be \"true\" or \"false\", not \"no\""},
    {"missing-type", 6, "column \"price\" of table \"item\": missing attribute \"type\""},
    {"text-in-column", 7, "column \"price\" of table \"item\": unexpected text \"cheap\""},
    {"wrong-root", 3, "the root element is <database>, expected <schema>"},
    {"namespace", 3, "is in namespace \"urn:example:other\""},
    {"table-sync", 4, "table \"item\": sync must be \"true\" or \"false\", not \"never\""},
};

typedef struct bad_result {
    int rc;
    int klass;
    unsigned line;
    bool freed;
    char message[DBSYNC_ERROR_MESSAGE_SIZE];
} bad_result;

static void test_schema__bad_files(void **state)
{
    (void)state;
    bad_result *results = calloc(COUNT(bad_cases), sizeof *results);
    assert_non_null(results);

    /* libxml2 must not print anything: send stderr to a file meanwhile and
     * assert only once it is back. */
    const char *errfile = tu_tmpfile(tu_tmpdir("test_schema"), "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    for (size_t i = 0; i < COUNT(bad_cases); i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/schema/bad/%s.xml", bad_cases[i].file);
        dbsync_schema *s = (dbsync_schema *)1;
        dbsync_error err = {0};
        results[i].rc = dbsync_schema_load_file(&s, tu_src(rel), &err);
        results[i].klass = err.klass;
        results[i].line = err.line;
        results[i].freed = s == NULL;
        memcpy(results[i].message, err.message, sizeof err.message);
        if (results[i].rc == DBSYNC_OK)
            dbsync_schema_free(s);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    for (size_t i = 0; i < COUNT(bad_cases); i++) {
        char rel[256], prefix[512];
        snprintf(rel, sizeof rel, "tests/schema/bad/%s.xml", bad_cases[i].file);
        snprintf(prefix, sizeof prefix, "%s:%u: ", tu_src(rel), bad_cases[i].line);
        print_message("%s: %s\n", bad_cases[i].file, results[i].message);
        assert_int_equal(results[i].rc, DBSYNC_EINVALID);
        assert_int_equal(results[i].klass, DBSYNC_ECLASS_SCHEMA);
        assert_true(results[i].freed);
        if (results[i].line != bad_cases[i].line ||
            strncmp(results[i].message, prefix, strlen(prefix)) != 0)
            fail_msg("%s: expected line %u, got: %s", bad_cases[i].file, bad_cases[i].line,
                     results[i].message);
        if (!strstr(results[i].message, bad_cases[i].message))
            fail_msg("%s: expected \"%s\" in: %s", bad_cases[i].file, bad_cases[i].message,
                     results[i].message);
    }
    free(results);

    size_t len;
    char *printed = read_whole(errfile, &len);
    if (len)
        fail_msg("the loader printed on stderr: %s", printed);
    free(printed);
    unlink(errfile);
}

/* Every file of tests/schema/bad has a line in bad_cases, and back. */
static void test_schema__bad_files_listed(void **state)
{
    (void)state;
    DIR *dir = opendir(tu_src("tests/schema/bad"));
    assert_non_null(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".xml"))
            continue;
        n++;
        bool listed = false;
        for (size_t i = 0; i < COUNT(bad_cases) && !listed; i++)
            listed = strlen(bad_cases[i].file) == len - 4 &&
                     !strncmp(bad_cases[i].file, e->d_name, len - 4);
        if (!listed)
            fail_msg("tests/schema/bad/%s is not in bad_cases", e->d_name);
    }
    closedir(dir);
    assert_int_equal(n, COUNT(bad_cases));
    assert_true(n >= 20);
}

static void test_schema__empty_file(void **state)
{
    (void)state;
    const char *dir = tu_tmpdir("test_schema");
    const char *path = tu_tmpfile(dir, "empty.xml");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    dbsync_schema *s = NULL;
    dbsync_error err = {0};
    assert_int_equal(dbsync_schema_load_file(&s, path, &err), DBSYNC_EINVALID);
    assert_null(s);
    assert_int_equal(err.klass, DBSYNC_ECLASS_SCHEMA);
    assert_int_equal(err.line, 1);
    char expected[1400];
    snprintf(expected, sizeof expected, "%s:1: the file is empty", path);
    assert_string_equal(err.message, expected);

    /* Only white space: libxml2's words, with file and line. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("\n\n  \n", f);
    fclose(f);
    assert_int_equal(dbsync_schema_load_file(&s, path, &err), DBSYNC_EINVALID);
    assert_null(s);
    assert_non_null(strstr(err.message, "XML syntax error: "));
    assert_true(err.line >= 1);
    unlink(path);
}

static void test_schema__missing_file(void **state)
{
    (void)state;
    dbsync_schema *s = (dbsync_schema *)1;
    dbsync_error err = {0};
    const char *path = tu_src("tests/schema/no-such-file.xml");
    assert_int_equal(dbsync_schema_load_file(&s, path, &err), DBSYNC_ENOTFOUND);
    assert_null(s);
    assert_int_equal(err.code, DBSYNC_ENOTFOUND);
    char expected[1100];
    snprintf(expected, sizeof expected, "%s: no such file", path);
    assert_string_equal(err.message, expected);

    /* A folder is not a file. */
    assert_int_equal(dbsync_schema_load_file(&s, tu_src("tests/schema"), &err), DBSYNC_ERROR);
    assert_null(s);
    assert_int_equal(err.klass, DBSYNC_ECLASS_OS);
    assert_non_null(strstr(err.message, "tests/schema"));
}

/* ---- threads ---- */

/* Paths made before the threads start: tu_src() is not thread safe. */
typedef struct thread_paths {
    char good[1024], malformed[1024], unknown_type[1024];
} thread_paths;

static void *load_many(void *arg)
{
    const thread_paths *p = arg;
    for (int i = 0; i < 10; i++) {
        dbsync_schema *s = NULL;
        dbsync_error err = {0};
        if (dbsync_schema_load_file(&s, p->good, &err) != DBSYNC_OK)
            return (void *)1;
        dbsync_schema_free(s);
        if (dbsync_schema_load_file(&s, p->malformed, &err) != DBSYNC_EINVALID ||
            !strstr(err.message, "Opening and ending tag mismatch"))
            return (void *)1;
        if (dbsync_schema_load_file(&s, p->unknown_type, &err) != DBSYNC_EINVALID ||
            !strstr(err.message, "unknown type \"money\""))
            return (void *)1;
    }
    return NULL;
}

static void test_schema__threads(void **state)
{
    (void)state;
    thread_paths paths;
    snprintf(paths.good, sizeof paths.good, "%s", tu_src("tests/schema/good/every.xml"));
    snprintf(paths.malformed, sizeof paths.malformed, "%s",
             tu_src("tests/schema/bad/malformed.xml"));
    snprintf(paths.unknown_type, sizeof paths.unknown_type, "%s",
             tu_src("tests/schema/bad/unknown-type.xml"));
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, load_many, &paths), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        assert_int_equal(pthread_join(threads[i], &ret), 0);
        assert_null(ret);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema__good_every_field),
        cmocka_unit_test(test_schema__good_key_names),
        cmocka_unit_test(test_schema__grammar_identical),
        cmocka_unit_test(test_schema__load_memory),
        cmocka_unit_test(test_schema__big_line_numbers),
        cmocka_unit_test(test_schema__content_type_id),
        cmocka_unit_test(test_schema__lookups),
        cmocka_unit_test(test_schema__default_canonical),
        cmocka_unit_test(test_schema__locale),
        cmocka_unit_test(test_schema__check_generated),
        cmocka_unit_test(test_schema__bad_files),
        cmocka_unit_test(test_schema__bad_files_listed),
        cmocka_unit_test(test_schema__empty_file),
        cmocka_unit_test(test_schema__missing_file),
        cmocka_unit_test(test_schema__threads),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return failed;
}

/* SPDX-License-Identifier: MIT */
/*
 * The randomized convergence run shared by tests/test_converge.c (fixed
 * seeds, make check) and bench/converge.c (longer runs from the command
 * line): one in-process server (testserver.h), K nodes on their own SQLite
 * files, rounds of random offline writes made through the runtime (inserts,
 * updates, deletes, transactions committed or rolled back, unique values
 * from small pools), syncs in random order with unique conflicts resolved
 * the way an application would, then a final sync until quiescent and the
 * checks: every node equals the server, nothing left unpushed, no
 * local-only row sent, no row lost that nobody deleted.
 *
 * Failures never return through the engine: cv_fail() formats where it
 * happened (seed, round, node, phase) into the context and longjmps back to
 * cv_run()/cv_scenario(), which close everything and hand the message to
 * the caller. Everything is deterministic for a seed: the generator is
 * splitmix64, keys come from AUTOINCREMENT, syncs run one at a time.
 *
 * Include after <dbsync/dbsync.h>; needs testutil.h and testserver.h.
 */
#ifndef DBSYNC_CONVERGE_CORE_H
#define DBSYNC_CONVERGE_CORE_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdbool.h>
#include <time.h>

#include "testutil.h"
#include "testserver.h"

#ifndef DBSYNC_TESTS_PRINTF
#define DBSYNC_TESTS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#endif
/* Helpers only some includers call. */
#define CV_MAYBE_UNUSED __attribute__((unused))

/* Three synced tables with references of every on-delete kind, uniques on
 * one and on several columns (one including a reference), columns of every
 * type nullable or not, and a local-only table. */
static const char cv_schema_xml[] =
    "<schema name=\"cv\" version=\"1\">\n"
    "  <table name=\"account\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"tag\" type=\"text\" length=\"40\" nullable=\"false\"/>\n"
    "    <column name=\"email\" type=\"text\" length=\"60\"/>\n"
    "    <column name=\"name\" type=\"text\" nullable=\"false\"/>\n"
    "    <column name=\"balance\" type=\"decimal\" precision=\"14\" scale=\"2\" nullable=\"false\" "
    "default=\"0\"/>\n"
    "    <column name=\"rating\" type=\"real\"/>\n"
    "    <column name=\"born\" type=\"date\"/>\n"
    "    <column name=\"photo\" type=\"blob\"/>\n"
    "    <column name=\"active\" type=\"boolean\" nullable=\"false\" default=\"true\"/>\n"
    "    <unique columns=\"tag\"/>\n"
    "    <unique columns=\"email\"/>\n"
    "  </table>\n"
    "  <table name=\"category\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"tag\" type=\"text\" nullable=\"false\"/>\n"
    "    <column name=\"label\" type=\"text\" nullable=\"false\"/>\n"
    "    <column name=\"parent_id\" type=\"integer\" references=\"category\" "
    "on-delete=\"set-null\"/>\n"
    "    <unique columns=\"tag\"/>\n"
    "    <unique columns=\"label\"/>\n"
    "  </table>\n"
    "  <table name=\"project\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"tag\" type=\"text\" nullable=\"false\"/>\n"
    "    <column name=\"owner_id\" type=\"integer\" references=\"account\" on-delete=\"cascade\" "
    "nullable=\"false\"/>\n"
    "    <column name=\"code\" type=\"text\" length=\"20\" nullable=\"false\"/>\n"
    "    <column name=\"seq\" type=\"integer\" nullable=\"false\"/>\n"
    "    <column name=\"budget\" type=\"decimal\" precision=\"10\" scale=\"3\"/>\n"
    "    <column name=\"started\" type=\"date\"/>\n"
    "    <unique columns=\"tag\"/>\n"
    "    <unique columns=\"code seq\"/>\n"
    "  </table>\n"
    "  <table name=\"task\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"tag\" type=\"text\" nullable=\"false\"/>\n"
    "    <column name=\"project_id\" type=\"integer\" references=\"project\" "
    "on-delete=\"cascade\" nullable=\"false\"/>\n"
    "    <column name=\"assignee_id\" type=\"integer\" references=\"account\" "
    "on-delete=\"set-null\"/>\n"
    "    <column name=\"category_id\" type=\"integer\" references=\"category\" "
    "on-delete=\"restrict\"/>\n"
    "    <column name=\"title\" type=\"text\" nullable=\"false\"/>\n"
    "    <column name=\"weight\" type=\"real\" nullable=\"false\"/>\n"
    "    <column name=\"slot\" type=\"integer\"/>\n"
    "    <column name=\"done\" type=\"boolean\"/>\n"
    "    <column name=\"at\" type=\"datetime\"/>\n"
    "    <column name=\"due\" type=\"time\"/>\n"
    "    <column name=\"data\" type=\"blob\"/>\n"
    "    <unique columns=\"tag\"/>\n"
    "    <unique columns=\"project_id slot\"/>\n"
    "    <index columns=\"at\"/>\n"
    "  </table>\n"
    "  <table name=\"scratch\" sync=\"false\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"body\" type=\"text\"/>\n"
    "    <column name=\"n\" type=\"integer\"/>\n"
    "  </table>\n"
    "</schema>\n";

/* The synced tables, by index into cv_ctx.t (the schema's order). */
enum { CV_ACCOUNT, CV_CATEGORY, CV_PROJECT, CV_TASK, CV_N_SYNCED };
static const char *const cv_table_names[CV_N_SYNCED] = {"account", "category", "project", "task"};

#define CV_MAXCOLS 16

/* ---- a set of strings with an integer each (open addressing) ---- */

typedef struct cv_set {
    char **keys;
    long *vals;
    size_t n, cap;
} cv_set;

static size_t cv_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static long *cv_set_slot(cv_set *s, const char *key, bool add)
{
    if (add && (s->n + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **keys = calloc(cap, sizeof *keys);
        long *vals = calloc(cap, sizeof *vals);
        if (!keys || !vals)
            abort();
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) {
                size_t h = cv_hash(s->keys[i]) & (cap - 1);
                while (keys[h])
                    h = (h + 1) & (cap - 1);
                keys[h] = s->keys[i];
                vals[h] = s->vals[i];
            }
        free(s->keys);
        free(s->vals);
        s->keys = keys;
        s->vals = vals;
        s->cap = cap;
    }
    if (!s->cap)
        return NULL;
    size_t h = cv_hash(key) & (s->cap - 1);
    while (s->keys[h] && strcmp(s->keys[h], key))
        h = (h + 1) & (s->cap - 1);
    if (!s->keys[h]) {
        if (!add)
            return NULL;
        s->keys[h] = strdup(key);
        if (!s->keys[h])
            abort();
        s->n++;
    }
    return &s->vals[h];
}

static void cv_set_put(cv_set *s, const char *key, long val)
{
    *cv_set_slot(s, key, true) = val;
}

static bool cv_set_has(cv_set *s, const char *key)
{
    return cv_set_slot(s, key, false) != NULL;
}

static long cv_set_get(cv_set *s, const char *key, long def)
{
    long *v = cv_set_slot(s, key, false);
    return v ? *v : def;
}

static void cv_set_free(cv_set *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof *s);
}

/* Moves every entry of from into to, emptying from. */
static void cv_set_merge(cv_set *to, cv_set *from)
{
    for (size_t i = 0; i < from->cap; i++)
        if (from->keys[i])
            cv_set_put(to, from->keys[i], from->vals[i]);
    cv_set_free(from);
}

/* ---- text buffer ---- */

typedef struct cv_buf {
    char *data;
    size_t len, cap;
} cv_buf;

static void cv_buf_printf(cv_buf *b, const char *fmt, ...) DBSYNC_TESTS_PRINTF(2, 3);

static void cv_buf_printf(cv_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data)
            abort();
        b->cap = cap;
    }
}

/* ---- the run ---- */

typedef struct cv_config {
    uint64_t seed;
    int rounds;      /* rounds of offline writes and syncs */
    int nodes;       /* nodes registered with the server */
    int max_ops;     /* writes per node and round: 1..max_ops */
    int verbose;     /* 1: every write and sync on stderr; 2: and the databases after each sync */
    bool lenient;    /* work around known engine bugs (counted) to look for further ones */
    const char *dir; /* folder for the databases */
} cv_config;

/* clang-format off */
#define CV_CONFIG_INIT {1, 15, 3, 8, false, false, NULL}
/* clang-format on */

typedef struct cv_stats {
    long inserts, updates, deletes, scratch_ops;
    long local_exists; /* writes refused locally: a unique value taken (fine) */
    long restricted;   /* deletes refused by on-delete restrict (fine) */
    long tx_commits, tx_rollbacks;
    long syncs;
    long pull_conflicts; /* unique conflicts reported by a pull and resolved */
    long push_conflicts; /* unique conflicts reported by a push and resolved */
    long quiesce_passes;
    long repairs;     /* repairs of nodes with nothing to push */
    long final_rows;  /* rows on the server at the end */
    long kept_rows;   /* rows checked as not lost */
    long workarounds; /* lenient runs: known engine bugs worked around */
} cv_stats;

typedef struct cv_node {
    dbsync_conn *conn;
    bool in_tx;
    cv_set tx_inserted, tx_deleted; /* of the open transaction */
    long scratch, tx_scratch;       /* local-only rows, committed and in the transaction */
} cv_node;

typedef struct cv_ctx {
    cv_config cfg;
    dbsync_schema *schema;
    const dbsync_table *t[CV_N_SYNCED];
    const dbsync_table *scratch;
    ts_server *ts;
    cv_node *nodes;
    int n_nodes;
    uint64_t rng;
    long fresh;       /* counter for values outside every pool */
    const char *name; /* of a hand-written scenario, for messages */
    int round, node;  /* where the run is, for messages (-1: none) */
    const char *phase;
    cv_set inserted; /* tag -> table | node << 8 | round << 16, committed inserts */
    cv_set deleted;  /* tag -> node, committed deletes (cascades included) */
    cv_stats st;
    jmp_buf jb;
    char msg[16384];
} cv_ctx;

static void cv_fail(cv_ctx *x, const char *fmt, ...) DBSYNC_TESTS_PRINTF(2, 3)
    __attribute__((noreturn));

static void cv_fail(cv_ctx *x, const char *fmt, ...)
{
    int n = x->name ? snprintf(x->msg, sizeof x->msg, "scenario %s node %d (%s): ", x->name,
                               x->node, x->phase ? x->phase : "-")
                    : snprintf(x->msg, sizeof x->msg,
                               "seed %" PRIu64 " round %d node %d (%s): ", x->cfg.seed, x->round,
                               x->node, x->phase ? x->phase : "-");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg + n, sizeof x->msg - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(x->jb, 1);
}

static void cv_trace(cv_ctx *x, const char *fmt, ...) DBSYNC_TESTS_PRINTF(2, 3);

static void cv_trace(cv_ctx *x, const char *fmt, ...)
{
    if (!x->cfg.verbose)
        return;
    fprintf(stderr, "[r%d n%d] ", x->round, x->node);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *cv_err(dbsync_conn *c)
{
    return dbsync_conn_error(c)->message;
}

/* splitmix64 */
static uint64_t cv_rand(cv_ctx *x)
{
    uint64_t z = (x->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cv_below(cv_ctx *x, int n)
{
    return (int)(cv_rand(x) % (uint64_t)n);
}

static bool cv_chance(cv_ctx *x, int percent)
{
    return cv_below(x, 100) < percent;
}

/* ---- values ---- */

static void cv_null(dbsync_value *v)
{
    dbsync_value_clear(v);
}

static void cv_text(dbsync_value *v, const char *s)
{
    dbsync_value_clear(v);
    v->is_null = false;
    v->u.s = strdup(s);
    if (!v->u.s)
        abort();
}

static void cv_int(dbsync_value *v, int64_t i)
{
    dbsync_value_clear(v);
    v->is_null = false;
    v->u.i = i;
}

/* A random UUID-like text: the identity of a row whatever its key becomes. */
static void cv_uuid(cv_ctx *x, char out[37])
{
    uint64_t a = cv_rand(x), b = cv_rand(x);
    snprintf(out, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffull));
}

/* Keys of every row of table t, in key order (caller frees *ids). */
static size_t cv_ids(cv_ctx *x, dbsync_conn *c, const dbsync_table *t, int64_t **ids)
{
    dbsync_iter *it;
    dbsync_value v[CV_MAXCOLS];
    size_t n = 0, cap = 0;
    *ids = NULL;
    if (dbsync_iter_new(&it, c, t, NULL))
        cv_fail(x, "iterating %s: %s", t->name, cv_err(c));
    int rc;
    while ((rc = dbsync_iter_next_values(it, v)) == DBSYNC_OK) {
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            *ids = realloc(*ids, cap * sizeof **ids);
            if (!*ids)
                abort();
        }
        (*ids)[n++] = v[t->primary_key].u.i;
        dbsync_row_clear(t, v);
    }
    dbsync_iter_free(it);
    if (rc != DBSYNC_ITEROVER) {
        free(*ids);
        cv_fail(x, "iterating %s: %d %s", t->name, rc, cv_err(c));
    }
    return n;
}

/* A random existing key of table t; false when the table is empty. */
static bool cv_pick(cv_ctx *x, dbsync_conn *c, const dbsync_table *t, int64_t *id)
{
    int64_t *ids;
    size_t n = cv_ids(x, c, t, &ids);
    if (n)
        *id = ids[cv_below(x, (int)n)];
    free(ids);
    return n > 0;
}

/* Every tag of the synced tables of a database, with its table. */
static void cv_tags(cv_ctx *x, dbsync_conn *c, cv_set *out)
{
    for (int ti = 0; ti < CV_N_SYNCED; ti++) {
        const dbsync_table *t = x->t[ti];
        int tag = dbsync_table_column(t, "tag");
        dbsync_iter *it;
        dbsync_value v[CV_MAXCOLS];
        if (dbsync_iter_new(&it, c, t, NULL))
            cv_fail(x, "iterating %s: %s", t->name, cv_err(c));
        while (dbsync_iter_next_values(it, v) == DBSYNC_OK) {
            cv_set_put(out, v[tag].u.s, ti);
            dbsync_row_clear(t, v);
        }
        dbsync_iter_free(it);
    }
}

/* Texts that test quoting and UTF-8 on the way through SQL and JSON. */
/* clang-format off */
static const char *const cv_words[] = {
    "plain", "", "it's", "back\\slash", "\"quoted\"", "caf\xc3\xa9", "\xe2\x9c\x93 done",
    "tab\there", "line\nbreak", "percent %s %d", "<xml attr='1'>&amp;", "spaces  ",
};
/* clang-format on */

static void cv_gen_real(cv_ctx *x, dbsync_value *v)
{
    static const double special[] = {0.1, 1.0 / 3, 1e300, -2.5e-300, 123456789.125, 0.0, -7.0};
    dbsync_value_clear(v);
    v->is_null = false;
    if (cv_chance(x, 30))
        v->u.r = special[cv_below(x, 7)];
    else
        v->u.r = ((double)(cv_rand(x) >> 11) / 9007199254740992.0 - 0.5) * 2e6;
}

static void cv_gen_decimal(cv_ctx *x, dbsync_value *v, unsigned precision, unsigned scale)
{
    char buf[64];
    int int_digits = (int)(precision - scale);
    uint64_t ip = cv_rand(x), lim = 1;
    for (int i = 0; i < int_digits && i < 18; i++)
        lim *= 10;
    if (cv_chance(x, 50))
        lim = lim < 1000 ? lim : 1000; /* small values often, long ones sometimes */
    uint64_t fp = cv_rand(x) % 1000000000ull;
    int n = snprintf(buf, sizeof buf, "%s%llu", cv_chance(x, 20) ? "-" : "",
                     (unsigned long long)(ip % lim));
    if (scale)
        snprintf(buf + n, sizeof buf - (size_t)n, ".%0*llu", (int)scale,
                 (unsigned long long)(fp % (scale == 2 ? 100 : 1000)));
    cv_text(v, buf);
}

static void cv_gen_date(cv_ctx *x, dbsync_date *d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    d->year = (int16_t)(1900 + cv_below(x, 200));
    d->month = (uint8_t)(1 + cv_below(x, 12));
    d->day = (uint8_t)(1 + cv_below(x, mdays[d->month - 1]));
}

static void cv_gen_time(cv_ctx *x, dbsync_time *t)
{
    t->hour = (uint8_t)cv_below(x, 24);
    t->minute = (uint8_t)cv_below(x, 60);
    t->second = (uint8_t)cv_below(x, 60);
    t->usec = cv_chance(x, 50) ? 0 : (uint32_t)cv_below(x, 1000000);
}

/*
 * A random value for column k of t (neither the key nor the tag). Unique
 * columns draw from small pools so that nodes collide. References point at
 * an existing local row; false when a not-null reference has none.
 */
static bool cv_gen(cv_ctx *x, dbsync_conn *c, const dbsync_table *t, size_t k, dbsync_value *v)
{
    const dbsync_column *col = &t->columns[k];
    bool nullable = col->flags & DBSYNC_COLUMN_NULLABLE;
    if (col->ref_table >= 0) {
        int64_t id;
        if (nullable && cv_chance(x, 25)) {
            cv_null(v);
            return true;
        }
        if (!cv_pick(x, c, &x->schema->tables[col->ref_table], &id)) {
            cv_null(v);
            return nullable;
        }
        cv_int(v, id);
        return true;
    }
    if (nullable && cv_chance(x, 15)) {
        cv_null(v);
        return true;
    }
    char buf[64];
    if (!strcmp(col->name, "email")) {
        snprintf(buf, sizeof buf, "e%d@x", cv_below(x, 6));
        cv_text(v, buf);
    } else if (!strcmp(col->name, "label")) {
        snprintf(buf, sizeof buf, "L%d", cv_below(x, 6));
        cv_text(v, buf);
    } else if (!strcmp(col->name, "code")) {
        snprintf(buf, sizeof buf, "%c", 'A' + cv_below(x, 3));
        cv_text(v, buf);
    } else if (!strcmp(col->name, "seq")) {
        cv_int(v, 1 + cv_below(x, 3));
    } else if (!strcmp(col->name, "slot")) {
        cv_int(v, 1 + cv_below(x, 4));
    } else {
        switch (col->type) {
        case DBSYNC_TYPE_INTEGER:
            cv_int(v, (int64_t)cv_rand(x));
            break;
        case DBSYNC_TYPE_BOOLEAN:
            dbsync_value_clear(v);
            v->is_null = false;
            v->u.b = cv_chance(x, 50);
            break;
        case DBSYNC_TYPE_REAL:
            cv_gen_real(x, v);
            break;
        case DBSYNC_TYPE_DECIMAL:
            cv_gen_decimal(x, v, col->precision, col->scale);
            break;
        case DBSYNC_TYPE_TEXT:
            cv_text(v, cv_words[cv_below(x, (int)(sizeof cv_words / sizeof *cv_words))]);
            break;
        case DBSYNC_TYPE_BLOB: {
            dbsync_value_clear(v);
            v->is_null = false;
            size_t len = cv_chance(x, 15) ? 0 : (size_t)(1 + cv_below(x, 12));
            v->u.blob.data = malloc(len ? len : 1);
            if (!v->u.blob.data)
                abort();
            for (size_t i = 0; i < len; i++) /* NUL and 0xFF often */
                v->u.blob.data[i] =
                    cv_chance(x, 30) ? (cv_chance(x, 50) ? 0 : 0xff) : (unsigned char)cv_rand(x);
            v->u.blob.len = len;
            break;
        }
        case DBSYNC_TYPE_DATE:
            dbsync_value_clear(v);
            v->is_null = false;
            cv_gen_date(x, &v->u.date);
            break;
        case DBSYNC_TYPE_TIME:
            dbsync_value_clear(v);
            v->is_null = false;
            cv_gen_time(x, &v->u.time);
            break;
        case DBSYNC_TYPE_DATETIME:
            dbsync_value_clear(v);
            v->is_null = false;
            cv_gen_date(x, &v->u.datetime.date);
            cv_gen_time(x, &v->u.datetime.time);
            break;
        }
    }
    return true;
}

/* Sets the unique column k of a row to a value outside every pool. */
static void cv_fresh(cv_ctx *x, const dbsync_table *t, size_t k, dbsync_value *v)
{
    char buf[64];
    const char *name = t->columns[k].name;
    long n = ++x->fresh;
    if (!strcmp(name, "email"))
        snprintf(buf, sizeof buf, "fresh%ld@x", n);
    else if (!strcmp(name, "label"))
        snprintf(buf, sizeof buf, "fresh%ld", n);
    else if (!strcmp(name, "code"))
        snprintf(buf, sizeof buf, "F%ld", n);
    else if (!strcmp(name, "slot") || !strcmp(name, "seq")) {
        cv_int(v, 1000 + n);
        return;
    } else {
        cv_fail(x, "no fresh value for %s.%s", t->name, name);
    }
    cv_text(v, buf);
}

/* ---- writes, as an application makes them ---- */

static void cv_note_insert(cv_ctx *x, int n, int ti, const char *tag)
{
    long val = ti | (long)n << 8 | (long)x->round << 16;
    cv_set_put(x->nodes[n].in_tx ? &x->nodes[n].tx_inserted : &x->inserted, tag, val);
}

/* Inserts a random row into synced table ti; returns its key, 0 if refused or skipped. */
static int64_t cv_insert(cv_ctx *x, int n, int ti)
{
    dbsync_conn *c = x->nodes[n].conn;
    const dbsync_table *t = x->t[ti];
    dbsync_value v[CV_MAXCOLS];
    char tag[37];
    int64_t id = 0;
    if (dbsync_row_init(t, v))
        cv_fail(x, "row_init: %s", cv_err(c));
    cv_uuid(x, tag);
    for (size_t k = 0; k < t->n_columns; k++) {
        if (k == t->primary_key)
            continue;
        if (!strcmp(t->columns[k].name, "tag")) {
            cv_text(&v[k], tag);
        } else if (!cv_gen(x, c, t, k, &v[k])) {
            cv_trace(x, "insert %s skipped: no parent for %s", t->name, t->columns[k].name);
            dbsync_row_clear(t, v);
            return 0;
        }
    }
    int rc = dbsync_row_insert(c, t, v);
    cv_trace(x, "insert %s %" PRId64 " %s -> %d%s%s", t->name,
             rc ? (int64_t)0 : v[t->primary_key].u.i, tag, rc, rc ? " " : "", rc ? cv_err(c) : "");
    if (rc == DBSYNC_OK) {
        id = v[t->primary_key].u.i;
        x->st.inserts++;
        cv_note_insert(x, n, ti, tag);
    } else if (rc == DBSYNC_EEXISTS) {
        x->st.local_exists++;
    } else {
        char err[600];
        snprintf(err, sizeof err, "%s", cv_err(c));
        dbsync_row_clear(t, v);
        cv_fail(x, "insert %s: %d %s", t->name, rc, err);
    }
    dbsync_row_clear(t, v);
    return id;
}

/* Updates one to three random columns of row id of table ti, with a mask or whole. */
static void cv_update_row(cv_ctx *x, int n, int ti, int64_t id)
{
    dbsync_conn *c = x->nodes[n].conn;
    const dbsync_table *t = x->t[ti];
    dbsync_value v[CV_MAXCOLS];
    bool mask[CV_MAXCOLS] = {0};
    int rc = dbsync_row_get(c, t, id, v);
    if (rc)
        cv_fail(x, "get %s %" PRId64 ": %d %s", t->name, id, rc, cv_err(c));
    int changes = 1 + cv_below(x, 3);
    for (int i = 0; i < changes; i++) {
        size_t k = (size_t)cv_below(x, (int)t->n_columns);
        if (k == t->primary_key || !strcmp(t->columns[k].name, "tag"))
            continue;
        if (cv_gen(x, c, t, k, &v[k]))
            mask[k] = true;
    }
    bool use_mask = cv_chance(x, 50);
    rc = dbsync_row_update(c, t, v, use_mask ? mask : NULL);
    cv_trace(x, "update %s %" PRId64 "%s -> %d %s", t->name, id, use_mask ? " (mask)" : "", rc,
             rc ? cv_err(c) : "");
    dbsync_row_clear(t, v);
    if (rc == DBSYNC_OK)
        x->st.updates++;
    else if (rc == DBSYNC_EEXISTS)
        x->st.local_exists++;
    else
        cv_fail(x, "update %s %" PRId64 ": %d %s", t->name, id, rc, cv_err(c));
}

/* Deletes row id of table ti; the tags that vanish (cascades included) count as deleted. */
static int cv_delete_row(cv_ctx *x, int n, int ti, int64_t id)
{
    cv_node *nd = &x->nodes[n];
    const dbsync_table *t = x->t[ti];
    cv_set before = {0}, after = {0};
    cv_tags(x, nd->conn, &before);
    int rc = dbsync_row_delete(nd->conn, t, id);
    cv_trace(x, "delete %s %" PRId64 " -> %d %s", t->name, id, rc, rc ? cv_err(nd->conn) : "");
    if (rc == DBSYNC_OK) {
        x->st.deletes++;
        cv_tags(x, nd->conn, &after);
        for (size_t i = 0; i < before.cap; i++)
            if (before.keys[i] && !cv_set_has(&after, before.keys[i]))
                cv_set_put(nd->in_tx ? &nd->tx_deleted : &x->deleted, before.keys[i], n);
    } else if (rc == DBSYNC_ECONFLICT) {
        x->st.restricted++;
    } else {
        cv_set_free(&before);
        cv_fail(x, "delete %s %" PRId64 ": %d %s", t->name, id, rc, cv_err(nd->conn));
    }
    cv_set_free(&before);
    cv_set_free(&after);
    return rc;
}

/* A write to the local-only table. */
static void cv_scratch_op(cv_ctx *x, int n)
{
    cv_node *nd = &x->nodes[n];
    const dbsync_table *t = x->scratch;
    dbsync_value v[4];
    int64_t id;
    int rc, what = cv_below(x, 3);
    if (what > 0 && !cv_pick(x, nd->conn, t, &id))
        what = 0;
    if (what == 0) {
        if (dbsync_row_init(t, v))
            cv_fail(x, "row_init: %s", cv_err(nd->conn));
        cv_text(&v[1], cv_words[cv_below(x, (int)(sizeof cv_words / sizeof *cv_words))]);
        cv_int(&v[2], cv_below(x, 1000));
        rc = dbsync_row_insert(nd->conn, t, v);
        dbsync_row_clear(t, v);
        if (!rc)
            (*(nd->in_tx ? &nd->tx_scratch : &nd->scratch))++;
    } else if (what == 1) {
        if ((rc = dbsync_row_get(nd->conn, t, id, v)) == DBSYNC_OK) {
            cv_int(&v[2], cv_below(x, 1000));
            rc = dbsync_row_update(nd->conn, t, v, NULL);
            dbsync_row_clear(t, v);
        }
    } else {
        rc = dbsync_row_delete(nd->conn, t, id);
        if (!rc)
            (*(nd->in_tx ? &nd->tx_scratch : &nd->scratch))--;
    }
    cv_trace(x, "scratch op %d -> %d", what, rc);
    if (rc)
        cv_fail(x, "local-only write %d: %d %s", what, rc, cv_err(nd->conn));
    x->st.scratch_ops++;
}

static void cv_begin(cv_ctx *x, int n)
{
    cv_node *nd = &x->nodes[n];
    if (dbsync_conn_begin(nd->conn))
        cv_fail(x, "begin: %s", cv_err(nd->conn));
    nd->in_tx = true;
    nd->tx_scratch = 0;
    cv_trace(x, "begin");
}

static void cv_end(cv_ctx *x, int n, bool commit)
{
    cv_node *nd = &x->nodes[n];
    int rc = commit ? dbsync_conn_commit(nd->conn) : dbsync_conn_rollback(nd->conn);
    cv_trace(x, "%s -> %d", commit ? "commit" : "rollback", rc);
    if (rc)
        cv_fail(x, "%s: %d %s", commit ? "commit" : "rollback", rc, cv_err(nd->conn));
    nd->in_tx = false;
    if (commit) {
        cv_set_merge(&x->inserted, &nd->tx_inserted);
        cv_set_merge(&x->deleted, &nd->tx_deleted);
        nd->scratch += nd->tx_scratch;
        x->st.tx_commits++;
    } else {
        cv_set_free(&nd->tx_inserted);
        cv_set_free(&nd->tx_deleted);
        x->st.tx_rollbacks++;
    }
    nd->tx_scratch = 0;
}

/* One random write. */
static void cv_random_op(cv_ctx *x, int n)
{
    static const int insert_w[CV_N_SYNCED] = {20, 10, 30, 40};
    static const int delete_w[CV_N_SYNCED] = {15, 25, 25, 35};
    dbsync_conn *c = x->nodes[n].conn;
    int r = cv_below(x, 100);
    int w = cv_below(x, 100), ti = 0;
    const int *weights = r < 40 ? insert_w : delete_w;
    while (ti < CV_N_SYNCED - 1 && w >= weights[ti])
        w -= weights[ti++];
    int64_t id;
    if (r < 40) {
        cv_insert(x, n, ti);
    } else if (r < 72) {
        if (cv_pick(x, c, x->t[ti], &id))
            cv_update_row(x, n, ti, id);
    } else if (r < 90) {
        if (cv_pick(x, c, x->t[ti], &id))
            cv_delete_row(x, n, ti, id);
    } else {
        cv_scratch_op(x, n);
    }
}

/* A node's offline session: a few writes, some inside transactions. */
static void cv_session(cv_ctx *x, int n)
{
    x->node = n;
    x->phase = "offline writes";
    int ops = 1 + cv_below(x, x->cfg.max_ops);
    for (int i = 0; i < ops;) {
        if (cv_chance(x, 25)) {
            int k = 1 + cv_below(x, 4);
            cv_begin(x, n);
            for (int j = 0; j < k; j++)
                cv_random_op(x, n);
            cv_end(x, n, !cv_chance(x, 30));
            i += k;
        } else {
            cv_random_op(x, n);
            i++;
        }
    }
}

/* ---- writes of hand-written scenarios: "col=value" pairs, "\N" for NULL ---- */

static void cv_fill(cv_ctx *x, const dbsync_table *t, dbsync_value *v, const char *const *pairs)
{
    for (size_t i = 0; pairs && pairs[i]; i++) {
        const char *eq = strchr(pairs[i], '=');
        char col[64];
        if (!eq)
            cv_fail(x, "bad pair %s", pairs[i]);
        snprintf(col, sizeof col, "%.*s", (int)(eq - pairs[i]), pairs[i]);
        int k = dbsync_table_column(t, col);
        if (k < 0)
            cv_fail(x, "no column %s in %s", col, t->name);
        dbsync_value_clear(&v[k]);
        if (!strcmp(eq + 1, "\\N"))
            continue;
        if (dbsync_value_parse(&v[k], t, &t->columns[k], eq + 1, NULL))
            cv_fail(x, "bad value %s", pairs[i]);
    }
}

/* Inserts a row with a fresh tag; fails the run unless it succeeds. */
CV_MAYBE_UNUSED static int64_t cv_ins(cv_ctx *x, int n, int ti, const char *const *pairs)
{
    dbsync_conn *c = x->nodes[n].conn;
    const dbsync_table *t = x->t[ti];
    dbsync_value v[CV_MAXCOLS];
    char tag[37];
    x->node = n;
    if (dbsync_row_init(t, v))
        cv_fail(x, "row_init: %s", cv_err(c));
    cv_uuid(x, tag);
    cv_text(&v[dbsync_table_column(t, "tag")], tag);
    cv_fill(x, t, v, pairs);
    int rc = dbsync_row_insert(c, t, v);
    int64_t id = v[t->primary_key].u.i;
    dbsync_row_clear(t, v);
    if (rc)
        cv_fail(x, "insert %s: %d %s", t->name, rc, cv_err(c));
    cv_trace(x, "insert %s %" PRId64 " %s", t->name, id, tag);
    cv_note_insert(x, n, ti, tag);
    return id;
}

CV_MAYBE_UNUSED static void cv_upd(cv_ctx *x, int n, int ti, int64_t id, const char *const *pairs)
{
    dbsync_conn *c = x->nodes[n].conn;
    const dbsync_table *t = x->t[ti];
    dbsync_value v[CV_MAXCOLS];
    x->node = n;
    int rc = dbsync_row_get(c, t, id, v);
    if (rc)
        cv_fail(x, "get %s %" PRId64 ": %d %s", t->name, id, rc, cv_err(c));
    cv_fill(x, t, v, pairs);
    rc = dbsync_row_update(c, t, v, NULL);
    dbsync_row_clear(t, v);
    if (rc)
        cv_fail(x, "update %s %" PRId64 ": %d %s", t->name, id, rc, cv_err(c));
    cv_trace(x, "update %s %" PRId64, t->name, id);
}

CV_MAYBE_UNUSED static void cv_del(cv_ctx *x, int n, int ti, int64_t id)
{
    x->node = n;
    int rc = cv_delete_row(x, n, ti, id);
    if (rc)
        cv_fail(x, "delete %s %" PRId64 ": %d %s", x->t[ti]->name, id, rc,
                cv_err(x->nodes[n].conn));
}

/* A reference column's pair, "col=id", in a rotating buffer. */
CV_MAYBE_UNUSED static const char *cv_ref(const char *col, int64_t id)
{
    static char bufs[8][64];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 64, "%s=%" PRId64, col, id);
    return b;
}

/* ---- syncs ---- */

static int64_t cv_unpushed(cv_ctx *x, int n)
{
    dbsync_status st;
    if (dbsync_status_get(x->nodes[n].conn, &st))
        cv_fail(x, "status: %s", cv_err(x->nodes[n].conn));
    return st.unpushed;
}

typedef struct cv_remote {
    dbsync_value v[CV_MAXCOLS];
    bool found;
} cv_remote;

static int cv_remote_row(const dbsync_table *t, const dbsync_value *values, void *payload)
{
    cv_remote *r = payload;
    for (size_t k = 0; k < t->n_columns; k++)
        dbsync_value_copy(&r->v[k], &values[k]);
    r->found = true;
    return 0;
}

/* The local row holding the values that the server's row srv_id has in
 * the columns cols ("a, b"); 0 when none. */
static int64_t cv_holder_of(cv_ctx *x, int n, const dbsync_table *t, const char *cols,
                            int64_t srv_id)
{
    dbsync_conn *c = x->nodes[n].conn;
    char idtext[32], list[128];
    snprintf(idtext, sizeof idtext, "%" PRId64, srv_id);
    dbsync_filter f = {t->columns[t->primary_key].name, DBSYNC_FILTER_EQ, idtext};
    cv_remote r = {.found = false};
    if (dbsync_query_remote(c, x->ts->url, t, &f, 1, cv_remote_row, &r, NULL) || !r.found)
        cv_fail(x, "query of %s %" PRId64 " on the server: %s", t->name, srv_id, cv_err(c));
    int64_t *ids, holder = 0;
    size_t nids = cv_ids(x, c, t, &ids);
    for (size_t i = 0; i < nids && !holder; i++) {
        dbsync_value v[CV_MAXCOLS];
        if (dbsync_row_get(c, t, ids[i], v))
            continue;
        bool same = true;
        snprintf(list, sizeof list, "%s", cols);
        char *save;
        for (char *s = strtok_r(list, ", ", &save); s; s = strtok_r(NULL, ", ", &save)) {
            int k = dbsync_table_column(t, s);
            same = same && k >= 0 && !v[k].is_null && dbsync_value_equal(&v[k], &r.v[k]);
        }
        if (same)
            holder = ids[i];
        dbsync_row_clear(t, v);
    }
    free(ids);
    dbsync_row_clear(t, r.v);
    return holder;
}

/*
 * What an application does with a unique conflict: give the local row
 * named by the message fresh values in the conflicting columns. A pull
 * names the local row second ("the incoming row S needs the values that row
 * L here holds"),
 * a push names the pushed row first. Returns false if the message is not
 * a unique conflict.
 */
static bool cv_resolve(cv_ctx *x, int n, const char *msg)
{
    dbsync_conn *c = x->nodes[n].conn;
    const char *p = strstr(msg, "unique conflict in table ");
    char table[64], cols[128];
    long long a, b;
    if (!p || sscanf(p,
                     "unique conflict in table %63[^,], columns (%127[^)]): the incoming row "
                     "%lld needs the values that row %lld here holds",
                     table, cols, &a, &b) != 4)
        return false;
    bool pushed = strstr(msg, "/push:") != NULL;
    int64_t id = pushed ? a : b;
    const dbsync_table *t = dbsync_schema_table(x->schema, table);
    if (!t)
        cv_fail(x, "a unique conflict names an unknown table: %s", msg);
    dbsync_value v[CV_MAXCOLS];
    bool mask[CV_MAXCOLS] = {0};
    int rc = dbsync_row_get(c, t, id, v);
    if (rc == DBSYNC_ENOTFOUND && !pushed && x->cfg.lenient) {
        id = cv_holder_of(x, n, t, cols, a);
        rc = id ? dbsync_row_get(c, t, id, v) : rc;
        x->st.workarounds++;
    }
    if (rc)
        cv_fail(x, "the unique conflict names %s %" PRId64 ", which is not here (%d): %s", table,
                id, rc, msg);
    /* change the pooled column(s) of the constraint; a reference stays */
    char *save;
    for (char *s = strtok_r(cols, ", ", &save); s; s = strtok_r(NULL, ", ", &save)) {
        int k = dbsync_table_column(t, s);
        if (k < 0)
            cv_fail(x, "a unique conflict names an unknown column %s: %s", s, msg);
        if (t->columns[k].ref_table >= 0 || !strcmp(s, "seq"))
            continue;
        cv_fresh(x, t, (size_t)k, &v[k]);
        mask[k] = true;
    }
    rc = dbsync_row_update(c, t, v, mask);
    dbsync_row_clear(t, v);
    cv_trace(x, "resolve %s conflict: %s %" PRId64 " gets fresh values -> %d",
             pushed ? "push" : "pull", table, id, rc);
    if (rc)
        cv_fail(x, "resolving a unique conflict on %s %" PRId64 ": %d %s", table, id, rc,
                cv_err(c));
    if (pushed)
        x->st.push_conflicts++;
    else
        x->st.pull_conflicts++;
    return true;
}

static char *cv_dump(cv_ctx *x, dbsync_conn *c);
static void cv_same_as_server(cv_ctx *x, int n, const char *when);
static void cv_maybe_repair(cv_ctx *x, int n);

/* Syncs node n, resolving unique conflicts; any other failure fails the run.
 * Pages of a pull are sometimes tiny, and the pull sometimes goes first. */
static void cv_sync(cv_ctx *x, int n)
{
    dbsync_conn *c = x->nodes[n].conn;
    dbsync_client_options o = DBSYNC_CLIENT_OPTIONS_INIT;
    static const long pages[] = {0, 0, 1, 2, 3, 7};
    x->node = n;
    x->phase = "sync";
    o.page_size = pages[cv_below(x, 6)];
    for (int attempt = 0; attempt < 12; attempt++) {
        int rc = attempt == 0 && cv_chance(x, 20) ? dbsync_pull(c, x->ts->url, &o) : DBSYNC_OK;
        if (rc == DBSYNC_OK)
            rc = dbsync_sync(c, x->ts->url, &o);
        x->st.syncs++;
        cv_trace(x, "sync -> %d %s", rc, rc ? cv_err(c) : "");
        if (rc == DBSYNC_OK) {
            cv_same_as_server(x, n, "right after its sync");
            if (cv_unpushed(x, n))
                cv_fail(x, "%" PRId64 " operations unpushed right after a sync", cv_unpushed(x, n));
            cv_maybe_repair(x, n);
            return;
        }
        char msg[DBSYNC_ERROR_MESSAGE_SIZE];
        snprintf(msg, sizeof msg, "%s", cv_err(c));
        if (rc != DBSYNC_ECONFLICT || !cv_resolve(x, n, msg))
            cv_fail(x, "sync: %d (%s) %s", rc, dbsync_strerror(rc), msg);
    }
    cv_fail(x, "sync: still conflicting after 12 resolutions: %s", cv_err(c));
}

/* Every synced row of a database as text, ordered by table and key. */
static char *cv_dump(cv_ctx *x, dbsync_conn *c)
{
    cv_buf b = {0};
    cv_buf_printf(&b, "%s", "");
    for (int ti = 0; ti < CV_N_SYNCED; ti++) {
        const dbsync_table *t = x->t[ti];
        dbsync_iter *it;
        dbsync_value v[CV_MAXCOLS];
        if (dbsync_iter_new(&it, c, t, NULL))
            cv_fail(x, "iterating %s: %s", t->name, cv_err(c));
        while (dbsync_iter_next_values(it, v) == DBSYNC_OK) {
            cv_buf_printf(&b, "%s", t->name);
            for (size_t k = 0; k < t->n_columns; k++) {
                char *s = NULL;
                dbsync_value_format(&s, &v[k]);
                for (char *p = s; p && *p; p++) /* one line per row */
                    if (*p == '\n' || *p == '\t')
                        *p = '~';
                cv_buf_printf(&b, " %s", s ? s : "NULL");
                free(s);
            }
            cv_buf_printf(&b, "\n");
            dbsync_row_clear(t, v);
        }
        dbsync_iter_free(it);
    }
    return b.data;
}

/* The lines only one side has (at most a few of each), for a message. */
static void cv_diff(cv_buf *out, const char *a, const char *b)
{
    int shown = 0;
    const char *p = a, *q = b;
    while ((*p || *q) && shown < 12) {
        const char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ql = qe ? (size_t)(qe - q) : strlen(q);
        if (pl == ql && !memcmp(p, q, pl)) {
            p += pl + (pe ? 1 : 0);
            q += ql + (qe ? 1 : 0);
            continue;
        }
        /* the lines are ordered by table then key: advance the smaller one */
        int cmp = !*p ? 1 : !*q ? -1 : 0;
        if (!cmp) {
            char ta[16], tb[16];
            long long ka = 0, kb = 0;
            sscanf(p, "%15s %lld", ta, &ka);
            sscanf(q, "%15s %lld", tb, &kb);
            int ia = 0, ib = 0;
            for (int i = 0; i < CV_N_SYNCED; i++) {
                if (!strcmp(ta, cv_table_names[i]))
                    ia = i;
                if (!strcmp(tb, cv_table_names[i]))
                    ib = i;
            }
            cmp = ia != ib ? ia - ib : ka < kb ? -1 : ka > kb ? 1 : 0;
        }
        if (cmp <= 0) {
            cv_buf_printf(out, "  node:   %.*s\n", (int)pl, p);
            p += pl + (pe ? 1 : 0);
        }
        if (cmp >= 0) {
            cv_buf_printf(out, "  server: %.*s\n", (int)ql, q);
            q += ql + (qe ? 1 : 0);
        }
        shown++;
    }
}

/* A node with nothing to push may repair: it must then hold the server's rows. */
static void cv_maybe_repair(cv_ctx *x, int n)
{
    if (!cv_chance(x, 4))
        return;
    dbsync_client_options o = DBSYNC_CLIENT_OPTIONS_INIT;
    o.page_size = cv_chance(x, 50) ? 2 : 0;
    x->node = n;
    x->phase = "repair";
    int rc = dbsync_repair(x->nodes[n].conn, x->ts->url, &o);
    cv_trace(x, "repair -> %d", rc);
    if (rc)
        cv_fail(x, "repair: %d %s", rc, cv_err(x->nodes[n].conn));
    x->st.repairs++;
    cv_same_as_server(x, n, "right after a repair");
}

/* A node that has just synced holds exactly the server's rows. */
static void cv_same_as_server(cv_ctx *x, int n, const char *when)
{
    char *mine = cv_dump(x, x->nodes[n].conn), *srv = cv_dump(x, x->ts->conn);
    if (x->cfg.verbose >= 2)
        fprintf(stderr, "%s", mine);
    if (strcmp(mine, srv)) {
        cv_buf d = {0};
        cv_diff(&d, mine, srv);
        char text[4096];
        snprintf(text, sizeof text, "%s", d.data ? d.data : "");
        free(d.data);
        free(mine);
        free(srv);
        cv_fail(x, "node differs from the server %s:\n%s", when, text);
    }
    free(mine);
    free(srv);
}

/* Syncs every node until none pushes or pulls anything (bounded). */
static void cv_quiesce(cv_ctx *x)
{
    x->round = x->cfg.rounds;
    for (int pass = 0; pass < 8; pass++) {
        x->st.quiesce_passes++;
        for (int n = 0; n < x->n_nodes; n++)
            cv_sync(x, n);
        bool still = true;
        x->phase = "quiesce check";
        for (int n = 0; n < x->n_nodes && still; n++) {
            x->node = n;
            if (cv_unpushed(x, n)) {
                still = false;
                break;
            }
            char *before = cv_dump(x, x->nodes[n].conn);
            if (dbsync_pull(x->nodes[n].conn, x->ts->url, NULL))
                cv_fail(x, "pull: %s", cv_err(x->nodes[n].conn));
            char *after = cv_dump(x, x->nodes[n].conn);
            still = !strcmp(before, after) && cv_unpushed(x, n) == 0;
            free(before);
            free(after);
        }
        if (still)
            return;
    }
    x->node = -1;
    cv_fail(x, "no quiescence after 8 passes of syncs");
}

static long cv_count(cv_ctx *x, dbsync_conn *c, const dbsync_table *t)
{
    int64_t *ids;
    size_t n = cv_ids(x, c, t, &ids);
    free(ids);
    return (long)n;
}

/* The end state: every node is the server, nothing unpushed, nothing local sent, nothing lost. */
static void cv_check(cv_ctx *x)
{
    x->phase = "final check";
    x->node = -1;
    for (int n = 0; n < x->n_nodes; n++) {
        x->node = n;
        cv_same_as_server(x, n, "at the end");
        int64_t left = cv_unpushed(x, n);
        if (left)
            cv_fail(x, "%" PRId64 " operations unpushed at the end", left);
        long scratch = cv_count(x, x->nodes[n].conn, x->scratch);
        if (scratch != x->nodes[n].scratch)
            cv_fail(x, "local-only rows: %ld, expected %ld", scratch, x->nodes[n].scratch);
    }
    x->node = -1;
    if (cv_count(x, x->ts->conn, x->scratch))
        cv_fail(x, "the server has local-only rows");
    /* Nothing lost: a row someone inserted and nobody deleted is on the server. */
    cv_set there = {0};
    cv_tags(x, x->ts->conn, &there);
    x->st.final_rows = (long)there.n;
    cv_buf lost = {0};
    int n_lost = 0;
    for (size_t i = 0; i < x->inserted.cap; i++) {
        const char *tag = x->inserted.keys[i];
        if (!tag || cv_set_has(&x->deleted, tag))
            continue;
        long info = x->inserted.vals[i];
        long table = cv_set_get(&there, tag, -1);
        if (table == (info & 0xff)) {
            x->st.kept_rows++;
            continue;
        }
        if (n_lost++ < 10)
            cv_buf_printf(&lost, "  %s %s inserted by node %ld in round %ld%s\n",
                          cv_table_names[info & 0xff], tag, (info >> 8) & 0xff, info >> 16,
                          table < 0 ? "" : " (in another table!)");
    }
    cv_set_free(&there);
    if (n_lost) {
        char text[4096];
        snprintf(text, sizeof text, "%s", lost.data);
        free(lost.data);
        cv_fail(x, "%d rows that nobody deleted are not on the server:\n%s", n_lost, text);
    }
}

/* One line on what a run did. */
static void cv_summary(const cv_ctx *x, char *out, size_t size)
{
    const cv_stats *s = &x->st;
    snprintf(out, size,
             "seed %" PRIu64 ": %d rounds, %d nodes: %ld inserts, %ld updates, %ld deletes (%ld "
             "refused by restrict), %ld local-only writes, %ld writes refused (unique taken), %ld "
             "commits, %ld rollbacks, %ld syncs, %ld repairs, %ld+%ld unique conflicts resolved "
             "(pull+push), %ld quiesce passes, %ld rows at the end, %ld checked not lost, %ld "
             "known bugs worked around",
             x->cfg.seed, x->cfg.rounds, x->cfg.nodes, s->inserts, s->updates, s->deletes,
             s->restricted, s->scratch_ops, s->local_exists, s->tx_commits, s->tx_rollbacks,
             s->syncs, s->repairs, s->pull_conflicts, s->push_conflicts, s->quiesce_passes,
             s->final_rows, s->kept_rows, s->workarounds);
}

/* ---- set-up and the whole run ---- */

/* Loads the schema, starts the server and registers the nodes. */
static void cv_open(cv_ctx *x)
{
    dbsync_error err;
    char file[64];
    x->phase = "set-up";
    x->round = -1;
    x->node = -1;
    if (dbsync_schema_load_memory(&x->schema, cv_schema_xml, sizeof cv_schema_xml - 1, "cv.xml",
                                  &err))
        cv_fail(x, "schema: %s", err.message);
    for (int ti = 0; ti < CV_N_SYNCED; ti++)
        x->t[ti] = dbsync_schema_table(x->schema, cv_table_names[ti]);
    x->scratch = dbsync_schema_table(x->schema, "scratch");
    snprintf(file, sizeof file, "cv%" PRIu64 "-server.db", x->cfg.seed);
    x->ts = ts_start(tu_sqlite_url(x->cfg.dir, file), x->schema, NULL);
    x->nodes = calloc((size_t)x->cfg.nodes, sizeof *x->nodes);
    if (!x->nodes)
        abort();
    for (int n = 0; n < x->cfg.nodes; n++) {
        x->node = n;
        snprintf(file, sizeof file, "cv%" PRIu64 "-node%d.db", x->cfg.seed, n);
        if (dbsync_conn_open(&x->nodes[n].conn, tu_sqlite_url(x->cfg.dir, file), x->schema, &err))
            cv_fail(x, "open: %s", err.message);
        x->n_nodes = n + 1;
        if (dbsync_conn_create_all(x->nodes[n].conn) ||
            dbsync_register(x->nodes[n].conn, x->ts->url, NULL))
            cv_fail(x, "set-up: %s", cv_err(x->nodes[n].conn));
    }
    x->node = -1;
}

static void cv_close(cv_ctx *x)
{
    for (int n = 0; n < x->n_nodes; n++) {
        dbsync_conn_close(x->nodes[n].conn);
        cv_set_free(&x->nodes[n].tx_inserted);
        cv_set_free(&x->nodes[n].tx_deleted);
    }
    free(x->nodes);
    x->nodes = NULL;
    x->n_nodes = 0;
    ts_stop(x->ts);
    x->ts = NULL;
    dbsync_schema_free(x->schema);
    x->schema = NULL;
    cv_set_free(&x->inserted);
    cv_set_free(&x->deleted);
}

static void cv_init(cv_ctx *x, const cv_config *cfg)
{
    memset(x, 0, sizeof *x);
    x->cfg = *cfg;
    x->rng = cfg->seed * 0x2545F4914F6CDD1Dull + 1;
}

/* The randomized run. Returns 0, or -1 with the reason in x->msg. */
static int cv_run(cv_ctx *x, const cv_config *cfg)
{
    cv_init(x, cfg);
    if (setjmp(x->jb)) {
        cv_close(x);
        return -1;
    }
    cv_open(x);
    int order[64];
    for (x->round = 0; x->round < x->cfg.rounds; x->round++) {
        for (int n = 0; n < x->n_nodes; n++)
            cv_session(x, n);
        /* the nodes sync in a random order; some stay offline this round */
        for (int n = 0; n < x->n_nodes; n++)
            order[n] = n;
        for (int n = x->n_nodes - 1; n > 0; n--) {
            int j = cv_below(x, n + 1), tmp = order[n];
            order[n] = order[j];
            order[j] = tmp;
        }
        for (int i = 0; i < x->n_nodes; i++)
            if (cv_chance(x, 80))
                cv_sync(x, order[i]);
    }
    cv_quiesce(x);
    cv_check(x);
    cv_close(x);
    return 0;
}

/* A hand-written scenario on the same set-up: fn writes and syncs, then
 * the end state is checked as for a random run. Returns 0 or -1 (x->msg). */
CV_MAYBE_UNUSED static int cv_scenario(cv_ctx *x, int nodes, void (*fn)(cv_ctx *x),
                                       const char *name)
{
    cv_config cfg = CV_CONFIG_INIT;
    cfg.seed = cv_hash(name) & 0xffffff;
    cfg.nodes = nodes;
    cfg.rounds = 0;
    cfg.dir = x->cfg.dir;
    cfg.verbose = x->cfg.verbose;
    cv_init(x, &cfg);
    x->name = name;
    if (setjmp(x->jb)) {
        cv_close(x);
        return -1;
    }
    cv_open(x);
    x->round = 0;
    x->phase = "scenario";
    fn(x);
    cv_quiesce(x);
    cv_check(x);
    cv_close(x);
    return 0;
}

#endif

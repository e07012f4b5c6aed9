/* SPDX-License-Identifier: MIT */
/*
 * Rows by key without logging, for the sync procedures: batched reads, and
 * the writer that applies a message's rows (batched multi-row INSERTs,
 * upserts, deletes, and the displacement of rows holding unique values,
 * which is how unique swaps are carried out).
 *
 * Invariants of the writer: queued inserts are for one table at a time and
 * are written before any other statement; a displaced row is either
 * written again by the message (and forgotten then) or put back by finish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sync_internal.h"

#define BATCH 500

int dbsync__table_by_content_type(const dbsync_conn *conn, int32_t content_type_id)
{
    for (size_t t = 0; t < conn->schema->n_tables; t++)
        if (conn->tables[t].content_type_id == content_type_id &&
            (conn->schema->tables[t].flags & DBSYNC_TABLE_SYNCED))
            return (int)t;
    return -1;
}

int dbsync__query_int(dbsync_conn *conn, const char *sql, int64_t *out)
{
    dbi_result r = dbsync__query(conn, sql, "reading the sync state");
    if (!r)
        return DBSYNC_ERROR;
    *out = 0;
    if (dbi_result_next_row(r) && !dbi_result_field_is_null_idx(r, 1))
        *out = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
    dbi_result_free(r);
    return DBSYNC_OK;
}

int dbsync__latest_version(dbsync_conn *conn, int64_t *out)
{
    return dbsync__query_int(conn, "SELECT MAX(version_id) FROM sync_versions", out);
}

void dbsync__now_text(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}

int dbsync__read_rows(dbsync_conn *conn, unsigned t, const int64_t *ids, size_t n,
                      dbsync__row_fn cb, void *payload)
{
    const dbsync_table *table = &conn->schema->tables[t];
    const dbsync__table_info *info = &conn->tables[t];
    dbsync_value *v = calloc(table->n_columns, sizeof *v);
    if (!v)
        return dbsync__error_nomem(&conn->error);
    dbsync__buf b = DBSYNC__BUF_INIT;
    int rc = dbsync__flush_ops(conn);
    for (size_t at = 0; !rc && at < n; at += BATCH) {
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b, "SELECT %s FROM %s WHERE %s IN (", info->select_list, info->qname,
                           info->qcols[table->primary_key]);
        for (size_t i = at; i < n && i < at + BATCH; i++) {
            if (i > at)
                dbsync__buf_putc(&b, ',');
            dbsync__buf_put_int64(&b, ids[i]);
        }
        dbsync__buf_putc(&b, ')');
        if (b.oom) {
            rc = dbsync__error_nomem(&conn->error);
            break;
        }
        dbi_result r = dbsync__query(conn, b.data, "reading rows");
        if (!r) {
            rc = DBSYNC_ERROR;
            break;
        }
        while (!rc && dbi_result_next_row(r)) {
            size_t c = 0;
            for (; c < table->n_columns; c++)
                if ((rc = dbsync__read_value(conn, r, (unsigned)c + 1, table, &table->columns[c],
                                             &v[c])))
                    break;
            if (!rc)
                rc = cb(table, v, payload);
            for (size_t k = 0; k < c && k < table->n_columns; k++)
                dbsync_value_clear(&v[k]);
        }
        dbi_result_free(r);
    }
    dbsync__buf_free(&b);
    free(v);
    return rc;
}

/* ---- rows as JSON text, by object ---- */

static int keep_row_text(const dbsync_table *t, const dbsync_value *values, void *payload)
{
    dbsync__row_texts *rt = payload;
    dbsync__buf_reset(&rt->text);
    dbsync__buf_putc(&rt->text, '[');
    for (size_t i = 0; i < t->n_columns; i++) {
        if (i)
            dbsync__buf_putc(&rt->text, ',');
        int rc = dbsync__value_json_text(&rt->text, &values[i], t, &t->columns[i], &rt->conn->error);
        if (rc)
            return rc;
    }
    dbsync__buf_putc(&rt->text, ']');
    char *copy = rt->text.oom ? NULL : dbsync__strndup(rt->text.data, rt->text.len);
    if (!copy || dbsync__objmap_put(&rt->map, dbsync__table_index(rt->conn, t),
                                    values[t->primary_key].u.i, (intptr_t)copy)) {
        free(copy);
        return dbsync__error_nomem(&rt->conn->error);
    }
    return DBSYNC_OK;
}

int dbsync__row_texts_read(dbsync__row_texts *rt, unsigned t, const int64_t *ids, size_t n)
{
    return dbsync__read_rows(rt->conn, t, ids, n, keep_row_text, rt);
}

const char *dbsync__row_texts_get(const dbsync__row_texts *rt, unsigned t, int64_t id)
{
    return (const char *)dbsync__objmap_get(&rt->map, t, id, 0);
}

void dbsync__row_texts_clear(dbsync__row_texts *rt)
{
    for (size_t i = 0; i < rt->map.cap; i++)
        if (rt->map.slots[i].table)
            free((char *)rt->map.slots[i].value);
    dbsync__objmap_free(&rt->map);
}

/* ---- objects to values ---- */

static size_t obj_hash(unsigned t, int64_t id, size_t cap)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ull ^ ((uint64_t)t + 1) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    return (size_t)(h & (cap - 1));
}

int dbsync__objmap_put(dbsync__objmap *m, unsigned t, int64_t id, intptr_t value)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct dbsync__objslot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return DBSYNC_ERROR;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].table) {
                size_t h = obj_hash(m->slots[i].table - 1, m->slots[i].id, cap);
                while (slots[h].table)
                    h = (h + 1) & (cap - 1);
                slots[h] = m->slots[i];
            }
        free(m->slots);
        m->slots = slots;
        m->cap = cap;
    }
    size_t h = obj_hash(t, id, m->cap);
    while (m->slots[h].table && !(m->slots[h].table == t + 1 && m->slots[h].id == id))
        h = (h + 1) & (m->cap - 1);
    if (!m->slots[h].table)
        m->n++;
    m->slots[h] = (struct dbsync__objslot){id, t + 1, value};
    return DBSYNC_OK;
}

intptr_t dbsync__objmap_get(const dbsync__objmap *m, unsigned t, int64_t id, intptr_t def)
{
    if (!m->cap)
        return def;
    size_t h = obj_hash(t, id, m->cap);
    while (m->slots[h].table) {
        if (m->slots[h].table == t + 1 && m->slots[h].id == id)
            return m->slots[h].value;
        h = (h + 1) & (m->cap - 1);
    }
    return def;
}

void dbsync__objmap_free(dbsync__objmap *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- the writer ---- */

typedef struct displaced {
    unsigned table;
    int64_t id;
    dbsync_value *values;
} displaced;

typedef struct queued {
    int64_t id;
    dbsync_value *values; /* a copy, for the row-by-row retry */
} queued;

struct dbsync__writer {
    dbsync_conn *conn;
    unsigned table; /* of the queued inserts */
    queued *q;
    size_t nq;
    displaced *d;
    size_t nd, capd;
    int64_t written;
    dbsync__buf sql;
    dbsync__objmap touched; /* (table, key) -> 1 written, 2 deleted; kept when
                               the backend does not check deferred references */
    const dbsync__objmap *aliases; /* (table, key) -> the key the application knows */
};

void dbsync__writer_set_aliases(dbsync__writer *w, const dbsync__objmap *aliases)
{
    w->aliases = aliases;
}

/* The key as the application knows it (a re-keyed row had another). */
static int64_t known_key(const dbsync__writer *w, unsigned t, int64_t id)
{
    return w->aliases ? (int64_t)dbsync__objmap_get(w->aliases, t, id, (intptr_t)id) : id;
}

dbsync__writer *dbsync__writer_new(dbsync_conn *conn)
{
    dbsync__writer *w = calloc(1, sizeof *w);
    if (!w) {
        dbsync__error_nomem(&conn->error);
        return NULL;
    }
    w->conn = conn;
    w->q = calloc(BATCH, sizeof *w->q);
    if (!w->q) {
        free(w);
        dbsync__error_nomem(&conn->error);
        return NULL;
    }
    return w;
}

static dbsync_value *copy_row(const dbsync_table *t, const dbsync_value *values)
{
    dbsync_value *c = calloc(t->n_columns, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < t->n_columns; i++)
        if (dbsync_value_copy(&c[i], &values[i]) != DBSYNC_OK) {
            dbsync_row_clear(t, c);
            free(c);
            return NULL;
        }
    return c;
}

static void free_row(const dbsync_table *t, dbsync_value *values)
{
    if (values) {
        dbsync_row_clear(t, values);
        free(values);
    }
}

void dbsync__writer_free(dbsync__writer *w)
{
    if (!w)
        return;
    const dbsync_schema *s = w->conn->schema;
    for (size_t i = 0; i < w->nq; i++)
        free_row(&s->tables[w->table], w->q[i].values);
    for (size_t i = 0; i < w->nd; i++)
        free_row(&s->tables[w->d[i].table], w->d[i].values);
    free(w->q);
    free(w->d);
    dbsync__buf_free(&w->sql);
    dbsync__objmap_free(&w->touched);
    free(w);
}

int64_t dbsync__writer_count(const dbsync__writer *w)
{
    return w->written;
}

/* Runs a statement that may fail without spoiling the transaction. */
static int try_exec(dbsync_conn *conn, const char *sql, const char *context,
                    unsigned long long *affected)
{
    bool sp = conn->dialect->error_aborts_transaction;
    if (sp && dbsync__exec(conn, "SAVEPOINT dbsync_try", "savepoint"))
        return DBSYNC_ERROR;
    dbi_result r = dbi_conn_query(conn->dbi, sql);
    if (!r) {
        int code = dbsync__db_error(conn, context);
        if (sp) {
            dbsync_error first = conn->error;
            dbsync__exec(conn, "ROLLBACK TO SAVEPOINT dbsync_try", "rollback to savepoint");
            conn->error = first;
        }
        return code ? code : DBSYNC_ERROR;
    }
    if (affected)
        *affected = dbi_result_get_numrows_affected(r);
    dbi_result_free(r);
    if (sp && dbsync__exec(conn, "RELEASE SAVEPOINT dbsync_try", "release savepoint"))
        return DBSYNC_ERROR;
    return DBSYNC_OK;
}

static void forget_displaced(dbsync__writer *w, unsigned t, int64_t id)
{
    for (size_t i = 0; i < w->nd; i++)
        if (w->d[i].table == t && w->d[i].id == id) {
            free_row(&w->conn->schema->tables[t], w->d[i].values);
            w->d[i] = w->d[--w->nd];
            return;
        }
}

static int keep_row(const dbsync_table *t, const dbsync_value *values, void *payload)
{
    dbsync_value **out = payload;
    *out = copy_row(t, values);
    return *out ? DBSYNC_OK : DBSYNC_ERROR;
}

/* The key of a row other than values' own holding the values of unique
 * key k (0 when none, or when a value is NULL: NULLs never collide). */
static int find_holder(dbsync_conn *conn, unsigned t, const dbsync_value *values, size_t k,
                       int64_t *holder)
{
    const dbsync_table *table = &conn->schema->tables[t];
    const dbsync__table_info *info = &conn->tables[t];
    const dbsync_key *key = &table->uniques[k];
    unsigned pk = table->primary_key;
    *holder = 0;
    for (size_t i = 0; i < key->n_columns; i++)
        if (values[key->columns[i]].is_null)
            return DBSYNC_OK;
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync__buf_printf(&b, "SELECT %s FROM %s WHERE %s <> ", info->qcols[pk], info->qname,
                       info->qcols[pk]);
    dbsync__buf_put_int64(&b, values[pk].u.i);
    int rc = DBSYNC_OK;
    for (size_t i = 0; !rc && i < key->n_columns; i++) {
        unsigned c = key->columns[i];
        dbsync__buf_printf(&b, " AND %s = ", info->qcols[c]);
        if (!dbsync__append_literal(conn, &b, &values[c], table, &table->columns[c]))
            rc = DBSYNC_ERROR;
    }
    if (!rc)
        rc = b.oom ? dbsync__error_nomem(&conn->error) : dbsync__query_int(conn, b.data, holder);
    dbsync__buf_free(&b);
    return rc;
}

/* Deletes the rows other than values' own that hold values' unique values,
 * keeping copies; *n tells how many. */
static int displace_holders(dbsync__writer *w, unsigned t, const dbsync_value *values, size_t *n)
{
    dbsync_conn *conn = w->conn;
    const dbsync_table *table = &conn->schema->tables[t];
    const dbsync__table_info *info = &conn->tables[t];
    int rc = DBSYNC_OK;
    *n = 0;
    for (size_t k = 0; !rc && k < table->n_uniques; k++) {
        int64_t holder;
        rc = find_holder(conn, t, values, k, &holder);
        if (rc || holder == 0)
            continue;
        dbsync_value *copy = NULL;
        rc = dbsync__read_rows(conn, t, &holder, 1, keep_row, &copy);
        if (rc || !copy) {
            rc = rc ? rc : DBSYNC_ERROR;
            break;
        }
        if (w->nd == w->capd) {
            size_t cap = w->capd ? w->capd * 2 : 8;
            displaced *d = realloc(w->d, cap * sizeof *d);
            if (!d) {
                free_row(table, copy);
                rc = dbsync__error_nomem(&conn->error);
                break;
            }
            w->d = d;
            w->capd = cap;
        }
        w->d[w->nd++] = (displaced){t, holder, copy};
        char sql[512];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = %lld", info->qname,
                 info->qcols[table->primary_key], (long long)holder);
        rc = dbsync__exec(conn, sql, "moving a row holding a unique value");
        (*n)++;
    }
    return rc;
}

/* Appends prefix, then the row's literals, key included, and ')'. */
static int write_values(dbsync__writer *w, const char *prefix, const dbsync_table *table,
                        const dbsync_value *values)
{
    dbsync__buf_puts(&w->sql, prefix);
    for (size_t i = 0; i < table->n_columns; i++) {
        if (i)
            dbsync__buf_append(&w->sql, ", ", 2);
        if (!dbsync__append_literal(w->conn, &w->sql, &values[i], table, &table->columns[i]))
            return w->conn->error.code ? w->conn->error.code : DBSYNC_ERROR;
    }
    dbsync__buf_putc(&w->sql, ')');
    return w->sql.oom ? dbsync__error_nomem(&w->conn->error) : DBSYNC_OK;
}

static int update_one(dbsync__writer *w, unsigned t, const dbsync_value *values, bool *found);

/* One row, by itself: insert, or update when the key exists; displaces
 * holders of its unique values, at most a few times. */
static int put_one(dbsync__writer *w, unsigned t, const dbsync_value *values)
{
    dbsync_conn *conn = w->conn;
    const dbsync_table *table = &conn->schema->tables[t];
    /* Written now: if it was displaced by an earlier row, it is no longer
     * to be put back. */
    forget_displaced(w, t, values[table->primary_key].u.i);
    for (int attempt = 0; attempt < 4; attempt++) {
        bool found = false;
        int rc = update_one(w, t, values, &found);
        if (rc || found)
            return rc;
        dbsync__buf_reset(&w->sql);
        rc = write_values(w, conn->tables[t].insert_all, table, values);
        if (rc)
            return rc;
        char ctx[160];
        snprintf(ctx, sizeof ctx, "insert %s %lld", table->name,
                 (long long)values[table->primary_key].u.i);
        rc = try_exec(conn, w->sql.data, ctx, NULL);
        if (rc == DBSYNC_OK)
            w->written++;
        if (rc != DBSYNC_EEXISTS)
            return rc;
        size_t n;
        if ((rc = displace_holders(w, t, values, &n)))
            return rc;
        if (n == 0)
            return DBSYNC_EEXISTS;
    }
    return DBSYNC_EEXISTS;
}

static int update_one(dbsync__writer *w, unsigned t, const dbsync_value *values, bool *found)
{
    dbsync_conn *conn = w->conn;
    const dbsync_table *table = &conn->schema->tables[t];
    const dbsync__table_info *info = &conn->tables[t];
    unsigned pk = table->primary_key;
    *found = false;
    for (int attempt = 0; attempt < 4; attempt++) {
        dbsync__buf *b = &w->sql;
        dbsync__buf_reset(b);
        dbsync__buf_printf(b, "UPDATE %s SET ", info->qname);
        bool first = true;
        for (size_t i = 0; i < table->n_columns; i++) {
            if (i == pk)
                continue;
            dbsync__buf_printf(b, "%s%s = ", first ? "" : ", ", info->qcols[i]);
            if (!dbsync__append_literal(conn, b, &values[i], table, &table->columns[i]))
                return conn->error.code ? conn->error.code : DBSYNC_ERROR;
            first = false;
        }
        if (first)
            dbsync__buf_printf(b, "%s = %s", info->qcols[pk], info->qcols[pk]);
        dbsync__buf_printf(b, " WHERE %s = ", info->qcols[pk]);
        dbsync__buf_put_int64(b, values[pk].u.i);
        if (b->oom)
            return dbsync__error_nomem(&conn->error);
        char ctx[160];
        snprintf(ctx, sizeof ctx, "update %s %lld", table->name, (long long)values[pk].u.i);
        unsigned long long n = 0;
        int rc = try_exec(conn, b->data, ctx, &n);
        if (rc == DBSYNC_EEXISTS) {
            size_t moved;
            if ((rc = displace_holders(w, t, values, &moved)))
                return rc;
            if (moved == 0)
                return DBSYNC_EEXISTS;
            continue;
        }
        if (rc)
            return rc;
        if (n == 0) { /* a backend counting changed rows only: ask */
            char sql[512];
            int64_t one;
            snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s = %lld", info->qname,
                     info->qcols[pk], (long long)values[pk].u.i);
            if ((rc = dbsync__query_int(conn, sql, &one)))
                return rc;
            n = (unsigned long long)one;
        }
        *found = n > 0;
        if (*found)
            w->written++;
        return DBSYNC_OK;
    }
    return DBSYNC_EEXISTS;
}

static int flush_queue(dbsync__writer *w)
{
    if (w->nq == 0)
        return DBSYNC_OK;
    dbsync_conn *conn = w->conn;
    const dbsync_table *table = &conn->schema->tables[w->table];
    const dbsync__table_info *info = &conn->tables[w->table];
    int rc = DBSYNC_OK;
    int64_t max_id = 0;
    /* One statement for the batch; a key that exists already (an update)
     * or a unique value taken makes it fail, and then the rows go one by
     * one, each as an insert or an update. */
    bool batched = false;
    if (!rc) {
        dbsync__buf_reset(&w->sql);
        for (size_t i = 0; !rc && i < w->nq; i++)
            rc = write_values(w, i ? ", (" : info->insert_all, table, w->q[i].values);
        if (!rc) {
            rc = try_exec(conn, w->sql.data, "inserting rows", NULL);
            batched = rc == DBSYNC_OK;
            if (rc == DBSYNC_EEXISTS || rc == DBSYNC_ECONFLICT)
                rc = DBSYNC_OK; /* row by row below finds and settles it */
        }
    }
    for (size_t i = 0; !rc && i < w->nq; i++) {
        if (!batched)
            rc = put_one(w, w->table, w->q[i].values);
        if (w->q[i].id > max_id)
            max_id = w->q[i].id;
    }
    if (!rc && batched)
        w->written += (int64_t)w->nq;
    if (!rc && max_id && conn->dialect->key_inserted)
        rc = conn->dialect->key_inserted(conn, w->table, max_id);
    for (size_t i = 0; i < w->nq; i++)
        free_row(table, w->q[i].values);
    w->nq = 0;
    return rc;
}

static int touch(dbsync__writer *w, unsigned t, int64_t id, intptr_t how)
{
    if (!w->conn->dialect->deferred_fk_unchecked)
        return DBSYNC_OK;
    return dbsync__objmap_put(&w->touched, t, id, how) ? dbsync__error_nomem(&w->conn->error)
                                                       : DBSYNC_OK;
}

int dbsync__writer_put(dbsync__writer *w, unsigned t, const dbsync_value *values)
{
    const dbsync_table *table = &w->conn->schema->tables[t];
    int64_t id = values[table->primary_key].u.i;
    if (touch(w, t, id, 1))
        return DBSYNC_ERROR;
    forget_displaced(w, t, id);
    if (w->nq && (w->table != t || w->nq == BATCH)) {
        int rc = flush_queue(w);
        if (rc)
            return rc;
    }
    /* A key already queued: write the queue first so that this one is an update. */
    for (size_t i = 0; i < w->nq; i++)
        if (w->q[i].id == id) {
            int rc = flush_queue(w);
            if (rc)
                return rc;
            break;
        }
    w->table = t;
    dbsync_value *copy = copy_row(table, values);
    if (!copy)
        return dbsync__error_nomem(&w->conn->error);
    w->q[w->nq++] = (queued){id, copy};
    return DBSYNC_OK;
}

int dbsync__writer_delete(dbsync__writer *w, unsigned t, int64_t id)
{
    int rc = touch(w, t, id, 2);
    if (!rc)
        rc = flush_queue(w);
    if (rc)
        return rc;
    forget_displaced(w, t, id);
    dbsync_conn *conn = w->conn;
    const dbsync__table_info *info = &conn->tables[t];
    char sql[512];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = %lld", info->qname,
             info->qcols[conn->schema->tables[t].primary_key], (long long)id);
    rc = dbsync__exec(conn, sql, "deleting a row");
    if (!rc)
        w->written++;
    return rc;
}

/* The references the database did not check: rows written must point at
 * rows that exist; rows deleted must have no row pointing at them. */
static int verify_references(dbsync__writer *w)
{
    dbsync_conn *conn = w->conn;
    const dbsync_schema *s = conn->schema;
    int rc = DBSYNC_OK;
    for (int how = 1; !rc && how <= 2; how++)
        for (size_t t = 0; !rc && t < s->n_tables; t++) {
            /* the keys of this table touched this way */
            dbsync__buf ids = DBSYNC__BUF_INIT;
            size_t n = 0;
            for (size_t i = 0; i < w->touched.cap; i++)
                if (w->touched.slots[i].table == t + 1 && w->touched.slots[i].value == how) {
                    if (n++)
                        dbsync__buf_putc(&ids, ',');
                    dbsync__buf_put_int64(&ids, w->touched.slots[i].id);
                }
            const dbsync_table *table = &s->tables[t];
            const dbsync__table_info *info = &conn->tables[t];
            for (size_t c = 0; n && !rc && how == 1 && c < table->n_columns; c++) {
                const dbsync_column *col = &table->columns[c];
                if (col->ref_table < 0)
                    continue;
                const dbsync__table_info *pi = &conn->tables[col->ref_table];
                const dbsync_table *pt = &s->tables[col->ref_table];
                dbsync__buf_reset(&w->sql);
                dbsync__buf_printf(&w->sql,
                                   "SELECT c.%s FROM %s c WHERE c.%s IN (%s) AND c.%s IS NOT NULL "
                                   "AND NOT EXISTS (SELECT 1 FROM %s p WHERE p.%s = c.%s) LIMIT 1",
                                   info->qcols[table->primary_key], info->qname,
                                   info->qcols[table->primary_key], ids.data, info->qcols[c],
                                   pi->qname, pi->qcols[pt->primary_key], info->qcols[c]);
                int64_t bad = 0;
                rc = w->sql.oom || ids.oom ? dbsync__error_nomem(&conn->error)
                                           : dbsync__query_int(conn, w->sql.data, &bad);
                if (!rc && bad)
                    rc = dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_SYNC,
                                           "row %lld of %s refers by %s to a %s row that does "
                                           "not exist",
                                           (long long)bad, table->name, col->name, pt->name);
            }
            for (size_t k = 0; n && !rc && how == 2 && k < info->n_children; k++) {
                const dbsync__child *ch = &info->children[k];
                const dbsync_table *ct = &s->tables[ch->table];
                const dbsync__table_info *ci = &conn->tables[ch->table];
                dbsync__buf_reset(&w->sql);
                dbsync__buf_printf(&w->sql, "SELECT %s FROM %s WHERE %s IN (%s) LIMIT 1",
                                   ci->qcols[ct->primary_key], ci->qname, ci->qcols[ch->column],
                                   ids.data);
                int64_t bad = 0;
                rc = w->sql.oom || ids.oom ? dbsync__error_nomem(&conn->error)
                                           : dbsync__query_int(conn, w->sql.data, &bad);
                if (!rc && bad)
                    rc = dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_SYNC,
                                           "a deleted %s row is still referenced by row %lld of "
                                           "%s (column %s)",
                                           table->name, (long long)bad, ct->name,
                                           ct->columns[ch->column].name);
            }
            dbsync__buf_free(&ids);
        }
    return rc;
}

int dbsync__writer_finish(dbsync__writer *w)
{
    int rc = flush_queue(w);
    dbsync_conn *conn = w->conn;
    while (!rc && w->nd) {
        displaced d = w->d[--w->nd];
        const dbsync_table *table = &conn->schema->tables[d.table];
        /* Nothing in the message wrote it: it goes back as it was. */
        dbsync__buf_reset(&w->sql);
        rc = write_values(w, conn->tables[d.table].insert_all, table, d.values);
        if (!rc)
            rc = try_exec(conn, w->sql.data, "putting a row back", NULL);
        if (rc == DBSYNC_EEXISTS) {
            /* Which unique key, and which row holds it now, for the message. */
            dbsync__buf cols = DBSYNC__BUF_INIT;
            int64_t holder = 0;
            const dbsync_key *u = NULL;
            for (size_t k = 0; k < table->n_uniques && !holder; k++) {
                if (find_holder(conn, d.table, d.values, k, &holder))
                    break;
                u = &table->uniques[k];
            }
            for (size_t i = 0; u && i < u->n_columns; i++)
                dbsync__buf_printf(&cols, "%s%s", i ? ", " : "", table->columns[u->columns[i]].name);
            rc = dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_SYNC,
                                   "unique conflict in table %s, columns (%s): the incoming row "
                                   "%lld needs the values that row %lld here holds, and the other "
                                   "side does not change row %lld here",
                                   table->name, cols.data ? cols.data : "?",
                                   (long long)known_key(w, d.table, holder),
                                   (long long)known_key(w, d.table, d.id),
                                   (long long)known_key(w, d.table, d.id));
            dbsync__buf_free(&cols);
        }
        free_row(table, d.values);
    }
    if (!rc && conn->dialect->deferred_fk_unchecked)
        rc = verify_references(w);
    return rc;
}

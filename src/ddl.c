/* SPDX-License-Identifier: MIT */
/*
 * Table creation: the application's tables from the schema and the sync_*
 * tables of the engine, described with the same descriptors so one DDL
 * generator serves both. Creation is idempotent: a table that exists is
 * left alone, with its constraints and indexes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#define COL(n, t, f) {n, t, f, 0, 0, 0, NULL, -1, DBSYNC_ON_DELETE_RESTRICT, 0, DBSYNC_NO_OFFSET, 0}
#define PK DBSYNC_COLUMN_PRIMARY_KEY
#define NUL DBSYNC_COLUMN_NULLABLE

static const dbsync_column content_types_cols[] = {
    COL("content_type_id", DBSYNC_TYPE_INTEGER, PK),
    COL("table_name", DBSYNC_TYPE_TEXT, 0),
};
static const unsigned content_types_u0[] = {1};
static const dbsync_key content_types_uniques[] = {
    {"sync_content_types_table_name_key", 1, content_types_u0, 0}};

/* On a server: every registered node, with the last push it accepted from
 * it (a retried push is recognized by its id). On a client: its own
 * identity, is_self true. */
static const dbsync_column nodes_cols[] = {
    COL("node_id", DBSYNC_TYPE_INTEGER, PK),
    COL("registered", DBSYNC_TYPE_DATETIME, NUL),
    COL("secret", DBSYNC_TYPE_TEXT, NUL),
    COL("is_self", DBSYNC_TYPE_BOOLEAN, 0),
    COL("last_push_id", DBSYNC_TYPE_TEXT, NUL),
    COL("last_push_version", DBSYNC_TYPE_INTEGER, NUL),
};

static const dbsync_column versions_cols[] = {
    COL("version_id", DBSYNC_TYPE_INTEGER, PK),
    COL("node_id", DBSYNC_TYPE_INTEGER, NUL),
    COL("created", DBSYNC_TYPE_DATETIME, NUL),
};

static const dbsync_column operations_cols[] = {
    COL("row_id", DBSYNC_TYPE_INTEGER, 0),
    COL("content_type_id", DBSYNC_TYPE_INTEGER, 0),
    COL("command", DBSYNC_TYPE_TEXT, 0),
    COL("order", DBSYNC_TYPE_INTEGER, PK),
    COL("version_id", DBSYNC_TYPE_INTEGER, NUL),
};
/* Unpushed operations are found by version_id; per-object lookups are made
 * in memory, so no index on (content_type_id, row_id) slows every write. */
static const unsigned operations_i0[] = {4};
static const dbsync_key operations_indexes[] = {
    {"sync_operations_version_id_idx", 1, operations_i0, 0},
};

/* One row, locked FOR UPDATE by the backends that serialize pushes on a row. */
static const dbsync_column lock_cols[] = {
    COL("id", DBSYNC_TYPE_INTEGER, PK),
};

const dbsync_table dbsync__sync_tables[] = {
    {"sync_content_types", 0, 2, content_types_cols, 0, 1, content_types_uniques, 0, NULL, 0, 0},
    {"sync_nodes", 0, 6, nodes_cols, 0, 0, NULL, 0, NULL, 0, 0},
    {"sync_versions", 0, 3, versions_cols, 0, 0, NULL, 0, NULL, 0, 0},
    {"sync_operations", 0, 5, operations_cols, 3, 0, NULL, 1, operations_indexes, 0, 0},
    {"sync_lock", 0, 1, lock_cols, 0, 0, NULL, 0, NULL, 0, 0},
};
const size_t dbsync__n_sync_tables = sizeof dbsync__sync_tables / sizeof dbsync__sync_tables[0];

static int table_exists(dbsync_conn *conn, const char *name, bool *exists)
{
    dbsync__buf lit = DBSYNC__BUF_INIT;
    if (!dbsync__quote_string(conn, &lit, name)) {
        dbsync__buf_free(&lit);
        return DBSYNC_ERROR;
    }
    char *sql = NULL;
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync__buf_printf(&b, conn->dialect->table_exists_sql, lit.data);
    dbsync__buf_free(&lit);
    sql = dbsync__buf_take(&b);
    if (!sql)
        return dbsync__error_nomem(&conn->error);
    dbi_result r = dbsync__query(conn, sql, "looking for a table");
    free(sql);
    if (!r)
        return DBSYNC_ERROR;
    *exists = dbi_result_get_numrows(r) > 0;
    dbi_result_free(r);
    return DBSYNC_OK;
}

static void column_type(const dbsync__dialect *d, dbsync__buf *b, const dbsync_column *c)
{
    if (c->type == DBSYNC_TYPE_DECIMAL)
        dbsync__buf_printf(b, d->types[c->type], c->precision, c->scale);
    else if (c->type == DBSYNC_TYPE_TEXT && c->length && d->text_sized &&
             c->length <= d->text_sized_max)
        dbsync__buf_printf(b, d->text_sized, c->length);
    else
        dbsync__buf_puts(b, d->types[c->type]);
}

static void key_columns(dbsync_conn *conn, dbsync__buf *b, const dbsync_table *t, const dbsync_key *k)
{
    dbsync__buf_putc(b, '(');
    for (size_t i = 0; i < k->n_columns; i++) {
        const dbsync_column *c = &t->columns[k->columns[i]];
        if (i)
            dbsync__buf_puts(b, ", ");
        dbsync__quote_ident(conn, b, c->name);
        if (c->type == DBSYNC_TYPE_TEXT && !c->length)
            dbsync__buf_puts(b, conn->dialect->text_key_prefix);
        if (c->type == DBSYNC_TYPE_BLOB)
            dbsync__buf_puts(b, conn->dialect->text_key_prefix);
    }
    dbsync__buf_putc(b, ')');
}

static void foreign_key(dbsync_conn *conn, dbsync__buf *b, const dbsync_schema *s,
                        const dbsync_column *c)
{
    dbsync__buf_puts(b, "FOREIGN KEY (");
    dbsync__quote_ident(conn, b, c->name);
    dbsync__buf_puts(b, ") REFERENCES ");
    const dbsync_table *p = &s->tables[c->ref_table];
    dbsync__quote_ident(conn, b, p->name);
    dbsync__buf_putc(b, '(');
    dbsync__quote_ident(conn, b, p->columns[p->primary_key].name);
    /* NO ACTION whatever the schema's on-delete: dbsync carries out cascades
     * and set-null itself so that each change is logged, and a merge or a
     * push can delete and re-insert rows (unique swaps) with the checks
     * deferred to commit, which a database-side cascade would defeat. */
    dbsync__buf_puts(b, ") ON DELETE NO ACTION");
    dbsync__buf_puts(b, conn->dialect->fk_suffix);
}

/* Creates table t unless it exists; *created tells which. */
static int create_table(dbsync_conn *conn, const dbsync_schema *s, const dbsync_table *t,
                        bool *created)
{
    bool exists;
    *created = false;
    int rc = table_exists(conn, t->name, &exists);
    if (rc || exists)
        return rc;
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync__buf_puts(&b, "CREATE TABLE ");
    dbsync__quote_ident(conn, &b, t->name);
    dbsync__buf_puts(&b, " (");
    for (size_t i = 0; i < t->n_columns; i++) {
        const dbsync_column *c = &t->columns[i];
        dbsync__buf_puts(&b, i ? ",\n  " : "\n  ");
        dbsync__quote_ident(conn, &b, c->name);
        dbsync__buf_putc(&b, ' ');
        if (c->flags & DBSYNC_COLUMN_PRIMARY_KEY) {
            dbsync__buf_puts(&b, conn->dialect->pk_ddl);
            continue;
        }
        column_type(conn->dialect, &b, c);
        if (!(c->flags & DBSYNC_COLUMN_NULLABLE))
            dbsync__buf_puts(&b, " NOT NULL");
        if (c->default_value) {
            dbsync_value v;
            rc = dbsync_value_parse(&v, t, c, c->default_value, &conn->error);
            if (rc)
                goto done;
            dbsync__buf_puts(&b, " DEFAULT ");
            bool ok = dbsync__append_literal(conn, &b, &v, t, c);
            dbsync_value_clear(&v);
            if (!ok) {
                rc = DBSYNC_ERROR;
                goto done;
            }
        }
    }
    for (size_t i = 0; i < t->n_uniques; i++) {
        dbsync__buf_puts(&b, ",\n  CONSTRAINT ");
        dbsync__quote_ident(conn, &b, t->uniques[i].name);
        dbsync__buf_puts(&b, " UNIQUE ");
        key_columns(conn, &b, t, &t->uniques[i]);
    }
    if (conn->dialect->inline_fk)
        for (size_t i = 0; i < t->n_columns; i++)
            if (t->columns[i].ref_table >= 0) {
                dbsync__buf_puts(&b, ",\n  ");
                foreign_key(conn, &b, s, &t->columns[i]);
            }
    dbsync__buf_printf(&b, "\n)%s", conn->dialect->create_table_suffix);
    if (b.oom) {
        rc = dbsync__error_nomem(&conn->error);
        goto done;
    }
    char ctx[128];
    snprintf(ctx, sizeof ctx, "creating table %s", t->name);
    rc = dbsync__exec(conn, b.data, ctx);
    for (size_t i = 0; !rc && i < t->n_indexes; i++) {
        dbsync__buf_reset(&b);
        dbsync__buf_puts(&b, "CREATE INDEX ");
        dbsync__quote_ident(conn, &b, t->indexes[i].name);
        dbsync__buf_puts(&b, " ON ");
        dbsync__quote_ident(conn, &b, t->name);
        dbsync__buf_putc(&b, ' ');
        key_columns(conn, &b, t, &t->indexes[i]);
        rc = b.oom ? dbsync__error_nomem(&conn->error) : dbsync__exec(conn, b.data, ctx);
    }
    *created = rc == DBSYNC_OK;
done:
    dbsync__buf_free(&b);
    return rc ? DBSYNC_ERROR : DBSYNC_OK;
}

static int add_foreign_keys(dbsync_conn *conn, const dbsync_schema *s, const dbsync_table *t)
{
    int rc = DBSYNC_OK;
    dbsync__buf b = DBSYNC__BUF_INIT;
    for (size_t i = 0; !rc && i < t->n_columns; i++) {
        const dbsync_column *c = &t->columns[i];
        if (c->ref_table < 0)
            continue;
        dbsync__buf_reset(&b);
        dbsync__buf_puts(&b, "ALTER TABLE ");
        dbsync__quote_ident(conn, &b, t->name);
        dbsync__buf_puts(&b, " ADD CONSTRAINT ");
        char name[160];
        snprintf(name, sizeof name, "%s_%s_fkey", t->name, c->name);
        if (strlen(name) > 63)
            snprintf(name, sizeof name, "%.40s_fkey_%08lx", t->name,
                     (unsigned long)dbsync_content_type_id(c->name));
        dbsync__quote_ident(conn, &b, name);
        dbsync__buf_putc(&b, ' ');
        foreign_key(conn, &b, s, c);
        rc = b.oom ? dbsync__error_nomem(&conn->error)
                   : dbsync__exec(conn, b.data, "adding a foreign key");
    }
    dbsync__buf_free(&b);
    return rc ? DBSYNC_ERROR : DBSYNC_OK;
}

static int register_content_types(dbsync_conn *conn)
{
    const dbsync_schema *s = conn->schema;
    dbsync__buf b = DBSYNC__BUF_INIT;
    int rc = DBSYNC_OK;
    for (size_t t = 0; !rc && t < s->n_tables; t++) {
        if (!(s->tables[t].flags & DBSYNC_TABLE_SYNCED))
            continue;
        long id = (long)conn->tables[t].content_type_id;
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b, "SELECT table_name FROM sync_content_types WHERE content_type_id = %ld", id);
        dbi_result r = b.oom ? NULL : dbsync__query(conn, b.data, "reading content types");
        if (!r) {
            rc = DBSYNC_ERROR;
            break;
        }
        bool found = dbi_result_next_row(r);
        if (found) {
            const char *name = dbi_result_get_string_idx(r, 1);
            if (!name || strcmp(name, s->tables[t].name))
                rc = dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_SCHEMA,
                                       "content type %ld of table \"%s\" is already used by table \"%s\"",
                                       id, s->tables[t].name, name ? name : "?");
        }
        dbi_result_free(r);
        if (found || rc)
            continue;
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b, "INSERT INTO sync_content_types (content_type_id, table_name) VALUES (%ld, ", id);
        if (!dbsync__quote_string(conn, &b, s->tables[t].name))
            rc = DBSYNC_ERROR;
        dbsync__buf_putc(&b, ')');
        if (!rc)
            rc = b.oom ? dbsync__error_nomem(&conn->error)
                       : dbsync__exec(conn, b.data, "registering a content type");
    }
    dbsync__buf_free(&b);
    return rc;
}

int dbsync_conn_create_all(dbsync_conn *conn)
{
    if (conn->in_tx)
        return dbsync__error_set(&conn->error, DBSYNC_ETXN, DBSYNC_ECLASS_ARG,
                                 "create_all cannot run inside a transaction");
    const dbsync_schema *s = conn->schema;
    bool tx = conn->dialect->ddl_in_transaction;
    int rc = tx ? dbsync_conn_begin(conn) : DBSYNC_OK;
    if (rc)
        return rc;
    /* Several processes may initialize one new database at once (daemons
     * starting together): where DDL is transactional, they take turns. */
    if (!rc && tx)
        rc = conn->dialect->write_lock(conn);
    bool *created = calloc(s->n_tables + 1, sizeof *created);
    if (!created) {
        rc = dbsync__error_nomem(&conn->error);
        goto done;
    }
    bool dummy;
    for (size_t i = 0; !rc && i < dbsync__n_sync_tables; i++)
        rc = create_table(conn, s, &dbsync__sync_tables[i], &dummy);
    for (size_t t = 0; !rc && t < s->n_tables; t++)
        rc = create_table(conn, s, &s->tables[t], &created[t]);
    if (!conn->dialect->inline_fk)
        for (size_t t = 0; !rc && t < s->n_tables; t++)
            if (created[t])
                rc = add_foreign_keys(conn, s, &s->tables[t]);
    if (!rc)
        rc = register_content_types(conn);
    if (!rc) {
        int64_t n = 0;
        dbi_result r = dbsync__query(conn, "SELECT COUNT(*) FROM sync_lock", "reading the lock row");
        if (!r) {
            rc = DBSYNC_ERROR;
        } else {
            if (dbi_result_next_row(r))
                n = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
            dbi_result_free(r);
            if (n == 0)
                rc = dbsync__exec(conn, "INSERT INTO sync_lock (id) VALUES (1)", "creating the lock row");
        }
    }
done:
    free(created);
    if (tx) {
        if (rc) {
            dbsync_error first = conn->error;
            dbsync_conn_rollback(conn);
            conn->error = first;
        } else {
            rc = dbsync_conn_commit(conn);
        }
    }
    return rc;
}

int dbsync_conn_check(dbsync_conn *conn)
{
    const dbsync_schema *s = conn->schema;
    for (size_t i = 0; i < dbsync__n_sync_tables + s->n_tables; i++) {
        const char *name = i < dbsync__n_sync_tables ? dbsync__sync_tables[i].name
                                                     : s->tables[i - dbsync__n_sync_tables].name;
        bool exists;
        int rc = table_exists(conn, name, &exists);
        if (rc)
            return rc;
        if (!exists)
            return dbsync__error_set(&conn->error, DBSYNC_ENOTFOUND, DBSYNC_ECLASS_DB,
                                     "the database is not initialized: table %s does not exist",
                                     name);
    }
    return DBSYNC_OK;
}

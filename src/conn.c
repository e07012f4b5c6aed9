/* SPDX-License-Identifier: MIT */
/*
 * Connections: opening from a URL through libdbi's reentrant instance API,
 * statement execution with error capture, explicit and implicit
 * transactions, and the in-memory buffer of operations logged during a
 * transaction.
 *
 * Invariants: ops holds only operations of the open transaction (it is
 * emptied at commit, after being written, and at rollback); conn->error
 * describes the last failed call; libdbi's error text is copied at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "schema_internal.h"

const dbsync__dialect *dbsync__dialect_find(const char *scheme)
{
    static const dbsync__dialect *const all[] = {&dbsync__dialect_sqlite3, &dbsync__dialect_pgsql,
                                                 &dbsync__dialect_mysql};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(all[i]->name, scheme))
            return all[i];
    return NULL;
}

void dbsync__one_line(char *out, size_t size, const char *msg)
{
    /* Driver messages span lines and indent with tabs; ours are one line. */
    size_t o = 0;
    bool space = false;
    for (const char *p = msg; *p && o + 1 < size; p++) {
        bool ws = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
        if (ws) {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < size)
            out[o++] = ' ';
        space = false;
        out[o++] = *p;
    }
    out[o] = '\0';
}

int dbsync__db_error(dbsync_conn *conn, const char *context)
{
    const char *msg = NULL;
    int no = dbi_conn_error(conn->dbi, &msg);
    char text[400];
    dbsync__one_line(text, sizeof text, msg && *msg ? msg : "unknown database error");
    /* libdbi puts the driver's error number first ("19: UNIQUE ..."): the
     * number is kept in cause, the text needs it not. */
    const char *t = text;
    if (*t == '-')
        t++;
    if (*t >= '0' && *t <= '9') {
        while (*t >= '0' && *t <= '9')
            t++;
        if (t[0] == ':' && t[1] == ' ')
            memmove(text, t + 2, strlen(t + 2) + 1);
    }
    int code = conn->dialect->classify_error(text);
    dbsync__error_set(&conn->error, code, DBSYNC_ECLASS_DB, "%s: %s", context, text);
    conn->error.cause = no;
    return code;
}

dbi_result dbsync__query(dbsync_conn *conn, const char *sql, const char *context)
{
    dbi_result r = dbi_conn_query(conn->dbi, sql);
    if (!r)
        dbsync__db_error(conn, context);
    return r;
}

int dbsync__exec(dbsync_conn *conn, const char *sql, const char *context)
{
    dbi_result r = dbi_conn_query(conn->dbi, sql);
    if (!r)
        return dbsync__db_error(conn, context);
    dbi_result_free(r);
    return DBSYNC_OK;
}

void dbsync__quote_ident(dbsync_conn *conn, dbsync__buf *b, const char *name)
{
    /* Names come from the schema and are identifiers: no quote inside. */
    char q = conn->dialect->ident_quote;
    dbsync__buf_putc(b, q);
    dbsync__buf_puts(b, name);
    dbsync__buf_putc(b, q);
}

bool dbsync__quote_string(dbsync_conn *conn, dbsync__buf *b, const char *s)
{
    char *quoted = NULL;
    size_t n = dbi_conn_quote_string_copy(conn->dbi, s, &quoted);
    if (n == 0 || !quoted) {
        free(quoted);
        dbsync__db_error(conn, "quoting a value");
        return false;
    }
    dbsync__buf_append(b, quoted, n);
    free(quoted);
    return true;
}

static int build_table_info(dbsync_conn *conn)
{
    const dbsync_schema *s = conn->schema;
    conn->tables = calloc(s->n_tables ? s->n_tables : 1, sizeof *conn->tables);
    if (!conn->tables)
        return dbsync__error_nomem(&conn->error);
    for (size_t t = 0; t < s->n_tables; t++) {
        const dbsync_table *tab = &s->tables[t];
        dbsync__table_info *info = &conn->tables[t];
        info->content_type_id = dbsync_content_type_id(tab->name);
        dbsync__buf b = DBSYNC__BUF_INIT;
        dbsync__quote_ident(conn, &b, tab->name);
        info->qname = dbsync__buf_take(&b);
        info->qcols = calloc(tab->n_columns, sizeof *info->qcols);
        if (!info->qname || !info->qcols)
            return dbsync__error_nomem(&conn->error);
        for (size_t c = 0; c < tab->n_columns; c++) {
            dbsync__quote_ident(conn, &b, tab->columns[c].name);
            info->qcols[c] = dbsync__buf_take(&b);
            if (!info->qcols[c])
                return dbsync__error_nomem(&conn->error);
        }
        for (size_t c = 0; c < tab->n_columns; c++) {
            if (c)
                dbsync__buf_puts(&b, ", ");
            conn->dialect->select_column(&b, &tab->columns[c], info->qcols[c], (unsigned)c);
        }
        info->select_list = dbsync__buf_take(&b);
        if (!info->select_list)
            return dbsync__error_nomem(&conn->error);
        for (int with_key = 0; with_key < 2; with_key++) {
            dbsync__buf_printf(&b, "INSERT INTO %s (", info->qname);
            bool first = true;
            for (size_t c = 0; c < tab->n_columns; c++) {
                if (c == tab->primary_key && !with_key)
                    continue;
                dbsync__buf_puts(&b, first ? "" : ", ");
                dbsync__buf_puts(&b, info->qcols[c]);
                first = false;
            }
            dbsync__buf_puts(&b, ") VALUES (");
            char *sql = dbsync__buf_take(&b);
            if (!sql)
                return dbsync__error_nomem(&conn->error);
            if (with_key)
                info->insert_all = sql;
            else
                info->insert_auto = sql;
        }
        /* Reverse references: which tables point at this one. */
        for (size_t o = 0; o < s->n_tables; o++)
            for (size_t c = 0; c < s->tables[o].n_columns; c++)
                if (s->tables[o].columns[c].ref_table == (int)t) {
                    dbsync__child *ch = realloc(info->children,
                                                (info->n_children + 1) * sizeof *ch);
                    if (!ch)
                        return dbsync__error_nomem(&conn->error);
                    info->children = ch;
                    ch[info->n_children].table = (unsigned)o;
                    ch[info->n_children].column = (unsigned)c;
                    info->n_children++;
                }
    }
    return DBSYNC_OK;
}

static void free_table_info(dbsync_conn *conn)
{
    if (!conn->tables)
        return;
    for (size_t t = 0; t < conn->schema->n_tables; t++) {
        dbsync__table_info *info = &conn->tables[t];
        free(info->qname);
        if (info->qcols)
            for (size_t c = 0; c < conn->schema->tables[t].n_columns; c++)
                free(info->qcols[c]);
        free(info->qcols);
        free(info->select_list);
        free(info->insert_all);
        free(info->insert_auto);
        free(info->children);
    }
    free(conn->tables);
    conn->tables = NULL;
}

int dbsync_conn_open(dbsync_conn **out, const char *url, const dbsync_schema *schema,
                     dbsync_error *err)
{
    dbsync_error local;
    if (!err)
        err = &local;
    dbsync__error_clear(err);
    *out = NULL;
    if (!schema || schema->magic != DBSYNC_SCHEMA_MAGIC)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "the schema descriptor is missing or not a dbsync schema");
    /* A loaded schema was checked by its loader; a generated (or hand-made)
     * descriptor is checked here, once, before anything trusts it. */
    if (!schema->file) {
        int rc = dbsync__schema_check(schema, err);
        if (rc)
            return rc;
    }
    if (dbsync__global_ensure() != DBSYNC_OK)
        return dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_OS,
                                 "cannot initialize libcurl/libxml2");
    dbsync__url u;
    int rc = dbsync__url_parse(&u, url, err);
    if (rc)
        return rc;
    dbsync_conn *conn = calloc(1, sizeof *conn);
    if (!conn) {
        dbsync__url_free(&u);
        return dbsync__error_nomem(err);
    }
    conn->schema = schema;
    conn->dialect = dbsync__dialect_find(u.scheme);
    if (dbi_initialize_r(NULL, &conn->inst) < 0) {
        rc = dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_DB, "cannot initialize libdbi");
        goto fail;
    }
    conn->dbi = dbi_conn_new_r(conn->dialect->name, conn->inst);
    if (!conn->dbi) {
        rc = dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_DB,
                               "the libdbi driver \"%s\" is not installed (Debian package libdbd-%s)",
                               conn->dialect->name, conn->dialect->name);
        goto fail;
    }
    rc = conn->dialect->configure(conn->dbi, &u, err);
    if (rc)
        goto fail;
    if (dbi_conn_connect(conn->dbi) < 0) {
        const char *msg = NULL;
        dbi_conn_error(conn->dbi, &msg);
        char text[400];
        dbsync__one_line(text, sizeof text, msg && *msg ? msg : "connection failed");
        rc = dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_DB, "cannot open %s database %s: %s",
                               conn->dialect->name, u.path ? u.path : u.dbname, text);
        goto fail;
    }
    rc = conn->dialect->after_connect(conn, &u);
    if (!rc)
        rc = build_table_info(conn);
    if (rc) {
        *err = conn->error;
        goto fail;
    }
    dbsync__url_free(&u);
    *out = conn;
    return DBSYNC_OK;
fail:
    dbsync__url_free(&u);
    dbsync_conn_close(conn);
    return rc;
}

void dbsync_conn_close(dbsync_conn *conn)
{
    if (!conn)
        return;
    if (conn->in_tx)
        dbsync_conn_rollback(conn);
    dbsync__http_close(conn);
    free_table_info(conn);
    if (conn->dbi)
        dbi_conn_close(conn->dbi);
    if (conn->inst)
        dbi_shutdown_r(conn->inst);
    free(conn->ops);
    dbsync__buf_free(&conn->sql);
    free(conn);
}

const dbsync_error *dbsync_conn_error(const dbsync_conn *conn)
{
    return &conn->error;
}

const dbsync_schema *dbsync_conn_schema(const dbsync_conn *conn)
{
    return conn->schema;
}

const char *dbsync_conn_backend(const dbsync_conn *conn)
{
    return conn->dialect->name;
}

bool dbsync_conn_in_transaction(const dbsync_conn *conn)
{
    return conn->in_tx;
}

int dbsync_conn_begin(dbsync_conn *conn)
{
    if (conn->in_tx)
        return dbsync__error_set(&conn->error, DBSYNC_ETXN, DBSYNC_ECLASS_ARG,
                                 "a transaction is already open (transactions do not nest)");
    int rc = dbsync__exec(conn, conn->dialect->begin_sql, "begin");
    if (rc)
        return rc == DBSYNC_ERROR ? rc : DBSYNC_ERROR;
    conn->in_tx = true;
    conn->n_ops = 0;
    return DBSYNC_OK;
}

int dbsync_conn_rollback(dbsync_conn *conn)
{
    if (!conn->in_tx)
        return dbsync__error_set(&conn->error, DBSYNC_ETXN, DBSYNC_ECLASS_ARG,
                                 "rollback without an open transaction");
    conn->in_tx = false;
    conn->n_ops = 0;
    dbi_result r = dbi_conn_query(conn->dbi, "ROLLBACK");
    if (!r) {
        dbsync__db_error(conn, "rollback");
        return DBSYNC_ERROR;
    }
    dbi_result_free(r);
    return DBSYNC_OK;
}

int dbsync_conn_commit(dbsync_conn *conn)
{
    if (!conn->in_tx)
        return dbsync__error_set(&conn->error, DBSYNC_ETXN, DBSYNC_ECLASS_ARG,
                                 "commit without an open transaction");
    int rc = dbsync__flush_ops(conn);
    if (!rc) {
        dbi_result r = dbi_conn_query(conn->dbi, "COMMIT");
        if (r) {
            dbi_result_free(r);
            conn->in_tx = false;
            return DBSYNC_OK;
        }
        dbsync__db_error(conn, "commit");
    }
    /* Keep the first error: the rollback's own failure matters less. */
    dbsync_error first = conn->error;
    dbsync_conn_rollback(conn);
    conn->error = first;
    return DBSYNC_ERROR;
}

int dbsync_conn_exec(dbsync_conn *conn, const char *sql)
{
    return dbsync__exec(conn, sql, "statement") ? DBSYNC_ERROR : DBSYNC_OK;
}

int dbsync__tx_enter(dbsync_conn *conn, bool *own)
{
    *own = !conn->in_tx;
    return *own ? dbsync_conn_begin(conn) : DBSYNC_OK;
}

int dbsync__tx_leave(dbsync_conn *conn, bool own, int rc)
{
    if (!own)
        return rc;
    if (rc) {
        dbsync_error first = conn->error;
        dbsync_conn_rollback(conn);
        conn->error = first;
        return rc;
    }
    return dbsync_conn_commit(conn);
}

unsigned dbsync__table_index(const dbsync_conn *conn, const dbsync_table *table)
{
    return (unsigned)(table - conn->schema->tables);
}

int dbsync__log_op(dbsync_conn *conn, unsigned table, char command, int64_t row_id)
{
    if (!(conn->schema->tables[table].flags & DBSYNC_TABLE_SYNCED))
        return DBSYNC_OK;
    if (conn->n_ops == conn->cap_ops) {
        if (conn->n_ops >= DBSYNC__OPS_BATCH) {
            int rc = dbsync__flush_ops(conn);
            if (rc)
                return rc;
        }
        if (conn->n_ops == conn->cap_ops) {
            size_t cap = conn->cap_ops ? conn->cap_ops * 2 : 64;
            dbsync__pending_op *ops = realloc(conn->ops, cap * sizeof *ops);
            if (!ops)
                return dbsync__error_nomem(&conn->error);
            conn->ops = ops;
            conn->cap_ops = cap;
        }
    }
    dbsync__pending_op *op = &conn->ops[conn->n_ops++];
    op->content_type_id = conn->tables[table].content_type_id;
    op->command = command;
    op->row_id = row_id;
    return DBSYNC_OK;
}

int dbsync__flush_ops(dbsync_conn *conn)
{
    if (conn->n_ops == 0)
        return DBSYNC_OK;
    int rc;
    if (conn->dialect->write_ops) {
        rc = conn->dialect->write_ops(conn, conn->ops, conn->n_ops);
    } else {
        dbsync__buf *b = &conn->sql;
        dbsync__buf_reset(b);
        dbsync__buf_puts(b, "INSERT INTO sync_operations (row_id, content_type_id, command) VALUES ");
        for (size_t i = 0; i < conn->n_ops; i++) {
            const dbsync__pending_op *op = &conn->ops[i];
            dbsync__buf_puts(b, i ? ", (" : "(");
            dbsync__buf_put_int64(b, op->row_id);
            dbsync__buf_puts(b, ", ");
            dbsync__buf_put_int64(b, op->content_type_id);
            char cmd[6] = {',', ' ', '\'', op->command, '\'', ')'};
            dbsync__buf_append(b, cmd, sizeof cmd);
        }
        rc = b->oom ? dbsync__error_nomem(&conn->error)
                    : dbsync__exec(conn, b->data, "writing the operations log");
    }
    if (rc)
        return DBSYNC_ERROR;
    conn->n_ops = 0;
    return DBSYNC_OK;
}

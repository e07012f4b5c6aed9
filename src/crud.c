/* SPDX-License-Identifier: MIT */
/*
 * Rows from descriptors: SQL text for insert/update/delete/select built
 * from the schema (identifiers) and libdbi's quoting (values), the
 * conversion between value arrays and generated structs, cascades of
 * deletes, iteration, and the logging of every write of a synced table.
 *
 * Invariants: one statement per insert/update on the hot path (the log is
 * buffered in the connection and written in batches); every write call is
 * atomic: it runs in its own transaction when none is open, and a delete
 * that touches several rows inside a caller's transaction runs under a
 * savepoint.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

/* ---- literals and reading ---- */

bool dbsync__append_literal(dbsync_conn *conn, dbsync__buf *b, const dbsync_value *v,
                            const dbsync_table *table, const dbsync_column *col)
{
    char tmp[40]; /* a date/time literal or a real */
    if (v->is_null) {
        dbsync__buf_puts(b, "NULL");
        return true;
    }
    switch (v->type) {
    case DBSYNC_TYPE_INTEGER:
        dbsync__buf_put_int64(b, v->u.i);
        return true;
    case DBSYNC_TYPE_BOOLEAN:
        dbsync__buf_puts(b, v->u.b ? conn->dialect->true_literal : conn->dialect->false_literal);
        return true;
    case DBSYNC_TYPE_REAL:
        if (conn->dialect->real_literal) {
            conn->dialect->real_literal(b, v->u.r);
        } else {
            dbsync__format_real(tmp, sizeof tmp, v->u.r);
            dbsync__buf_puts(b, tmp);
        }
        return true;
    case DBSYNC_TYPE_DECIMAL: {
        if (!v->u.s) {
            dbsync__buf_puts(b, "NULL");
            return true;
        }
        char why[200];
        char *norm = col ? dbsync__decimal_normalize(v->u.s, col->precision, col->scale, why,
                                                     sizeof why)
                         : dbsync__strdup(v->u.s);
        if (!norm) {
            dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "column %s.%s: %s",
                              table ? table->name : "?", col ? col->name : "?", why);
            return false;
        }
        bool ok = dbsync__quote_string(conn, b, norm);
        free(norm);
        return ok;
    }
    case DBSYNC_TYPE_TEXT:
        if (!v->u.s) {
            dbsync__buf_puts(b, "NULL");
            return true;
        }
        return dbsync__quote_string(conn, b, v->u.s);
    case DBSYNC_TYPE_BLOB:
        if (!v->u.blob.data) {
            dbsync__buf_puts(b, "NULL");
            return true;
        }
        conn->dialect->blob_literal(b, v->u.blob.data, v->u.blob.len);
        return true;
    case DBSYNC_TYPE_DATE:
    case DBSYNC_TYPE_TIME:
    case DBSYNC_TYPE_DATETIME: {
        /* The text is made of digits and "-: ." by our own formatter, so it
         * is a literal as it stands: no user text reaches the statement. */
        int rc = v->type == DBSYNC_TYPE_DATE   ? dbsync_date_format(tmp + 1, &v->u.date)
                 : v->type == DBSYNC_TYPE_TIME ? dbsync_time_format(tmp + 1, &v->u.time)
                                               : dbsync_datetime_format(tmp + 1, &v->u.datetime);
        if (rc != DBSYNC_OK) {
            dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                              "column %s.%s: invalid %s value", table ? table->name : "?",
                              col ? col->name : "?", dbsync_type_name(v->type));
            return false;
        }
        tmp[0] = '\'';
        size_t n = strlen(tmp);
        tmp[n] = '\'';
        dbsync__buf_append(b, tmp, n + 1);
        return true;
    }
    }
    dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "unknown value type");
    return false;
}

int dbsync__read_value(dbsync_conn *conn, dbi_result res, unsigned idx, const dbsync_table *table,
                       const dbsync_column *col, dbsync_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = col->type;
    if (dbi_result_field_is_null_idx(res, idx)) {
        out->is_null = true;
        return DBSYNC_OK;
    }
    unsigned short ftype = dbi_result_get_field_type_idx(res, idx);
    switch (col->type) {
    case DBSYNC_TYPE_INTEGER:
        out->u.i = (int64_t)dbi_result_get_as_longlong_idx(res, idx);
        return DBSYNC_OK;
    case DBSYNC_TYPE_BOOLEAN:
        out->u.b = dbi_result_get_as_longlong_idx(res, idx) != 0;
        return DBSYNC_OK;
    case DBSYNC_TYPE_REAL:
        if (ftype == DBI_TYPE_DECIMAL) {
            out->u.r = dbi_result_get_double_idx(res, idx);
            return DBSYNC_OK;
        }
        break;
    default:
        break;
    }
    char *copy = NULL;
    const char *text;
    if (ftype == DBI_TYPE_STRING) {
        text = dbi_result_get_string_idx(res, idx);
    } else {
        copy = dbi_result_get_as_string_copy_idx(res, idx);
        text = copy;
    }
    if (!text) {
        free(copy);
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_DB,
                                 "reading column %s.%s: no value", table->name, col->name);
    }
    int rc = DBSYNC_OK;
    switch (col->type) {
    case DBSYNC_TYPE_REAL: {
        /* Either a number, or "MANTISSA EXPONENT" meaning m * 2^(e - 60),
         * the exact form a dialect may read reals in. */
        long long m, e;
        char extra;
        if (strchr(text, ' ') && sscanf(text, "%lld %lld%c", &m, &e, &extra) == 2)
            out->u.r = ldexp((double)m, (int)(e - 60));
        else
            out->u.r = dbsync__strtod(text, NULL);
        break;
    }
    case DBSYNC_TYPE_TEXT:
        /* As stored: a length limit is for writes, not reads. */
        out->u.s = dbsync__strdup(text);
        if (!out->u.s)
            rc = dbsync__error_nomem(&conn->error);
        break;
    default:
        rc = dbsync_value_parse(out, table, col, text, &conn->error);
        if (rc) {
            char msg[DBSYNC_ERROR_MESSAGE_SIZE];
            snprintf(msg, sizeof msg, "reading the database: %.400s", conn->error.message);
            dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_DB, "%s", msg);
            rc = DBSYNC_ERROR;
        }
        break;
    }
    free(copy);
    if (rc) {
        out->is_null = true;
        memset(&out->u, 0, sizeof out->u);
    }
    return rc;
}

/* ---- value arrays ---- */

int dbsync_row_init(const dbsync_table *table, dbsync_value *values)
{
    for (size_t i = 0; i < table->n_columns; i++) {
        const dbsync_column *c = &table->columns[i];
        memset(&values[i], 0, sizeof values[i]);
        values[i].type = c->type;
        values[i].is_null = true;
    }
    for (size_t i = 0; i < table->n_columns; i++) {
        const dbsync_column *c = &table->columns[i];
        if (!c->default_value)
            continue;
        if (dbsync_value_parse(&values[i], table, c, c->default_value, NULL) != DBSYNC_OK) {
            dbsync_row_clear(table, values);
            return DBSYNC_ERROR;
        }
    }
    return DBSYNC_OK;
}

void dbsync_row_clear(const dbsync_table *table, dbsync_value *values)
{
    if (!values)
        return;
    for (size_t i = 0; i < table->n_columns; i++)
        dbsync_value_clear(&values[i]);
}

static bool value_is_null(const dbsync_value *v)
{
    if (v->is_null)
        return true;
    if (v->type == DBSYNC_TYPE_TEXT || v->type == DBSYNC_TYPE_DECIMAL)
        return v->u.s == NULL;
    if (v->type == DBSYNC_TYPE_BLOB)
        return v->u.blob.data == NULL;
    return false;
}

static int check_table(dbsync_conn *conn, const dbsync_table *table)
{
    const dbsync_schema *s = conn->schema;
    if (!table || table < s->tables || table >= s->tables + s->n_tables)
        return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "the table descriptor %s is not part of the connection's schema",
                                 table ? table->name : "(null)");
    return DBSYNC_OK;
}

/* Names which referenced row is missing after a foreign-key failure, when
 * the backend still accepts statements in the transaction. */
static void explain_missing_reference(dbsync_conn *conn, const dbsync_table *table,
                                      const dbsync_value *values, const char *what)
{
    const dbsync_schema *s = conn->schema;
    dbsync_error saved = conn->error;
    for (size_t i = 0; i < table->n_columns; i++) {
        const dbsync_column *c = &table->columns[i];
        if (c->ref_table < 0 || value_is_null(&values[i]))
            continue;
        const dbsync_table *p = &s->tables[c->ref_table];
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s = %lld",
                 conn->tables[c->ref_table].qname, conn->tables[c->ref_table].qcols[p->primary_key],
                 (long long)values[i].u.i);
        dbi_result r = dbi_conn_query(conn->dbi, sql);
        if (!r)
            break;
        bool found = dbi_result_get_numrows(r) > 0;
        dbi_result_free(r);
        if (!found) {
            dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_DB,
                              "%s: column %s refers to %s %lld, which does not exist", what,
                              c->name, p->name, (long long)values[i].u.i);
            return;
        }
    }
    conn->error = saved;
}

/* Names the unique constraint a write collided with, and the row holding
 * the values, when the backend still accepts statements in the transaction. */
static void explain_duplicate(dbsync_conn *conn, const dbsync_table *table,
                              const dbsync_value *values, const char *what, bool insert)
{
    unsigned t = dbsync__table_index(conn, table);
    const dbsync__table_info *info = &conn->tables[t];
    unsigned pk = table->primary_key;
    dbsync_error saved = conn->error;
    dbsync__buf b = DBSYNC__BUF_INIT;
    /* The key first (an explicit one may be taken, on an insert), then
     * each unique. */
    for (size_t k = insert ? 0 : 1; k <= table->n_uniques; k++) {
        const dbsync_key *key = k ? &table->uniques[k - 1] : NULL;
        size_t ncols = key ? key->n_columns : 1;
        bool usable = true;
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b, "SELECT %s FROM %s WHERE ", info->qcols[pk], info->qname);
        for (size_t i = 0; usable && i < ncols; i++) {
            unsigned c = key ? key->columns[i] : pk;
            if (value_is_null(&values[c])) {
                usable = false; /* NULLs never collide */
                break;
            }
            dbsync__buf_printf(&b, "%s%s = ", i ? " AND " : "", info->qcols[c]);
            usable = dbsync__append_literal(conn, &b, &values[c], table, &table->columns[c]);
        }
        if (!key || value_is_null(&values[pk]))
            ; /* an insert with a new key, or the key itself */
        else
            dbsync__buf_printf(&b, " AND %s <> %lld", info->qcols[pk], (long long)values[pk].u.i);
        if (!usable || b.oom)
            continue;
        dbi_result r = dbi_conn_query(conn->dbi, b.data);
        if (!r)
            break; /* the transaction no longer takes statements */
        int64_t holder = 0;
        bool found = dbi_result_next_row(r);
        if (found)
            holder = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
        dbi_result_free(r);
        if (!found)
            continue;
        dbsync__buf cols = DBSYNC__BUF_INIT;
        for (size_t i = 0; i < ncols; i++)
            dbsync__buf_printf(&cols, "%s%s", i ? ", " : "",
                               table->columns[key ? key->columns[i] : pk].name);
        dbsync__error_set(&conn->error, DBSYNC_EEXISTS, DBSYNC_ECLASS_DB,
                          "%s: %s %lld already has the same %s%s", what, table->name,
                          (long long)holder, key ? "" : "key ", cols.oom ? "?" : cols.data);
        dbsync__buf_free(&cols);
        dbsync__buf_free(&b);
        return;
    }
    dbsync__buf_free(&b);
    conn->error = saved;
}

static int write_failed(dbsync_conn *conn, const dbsync_table *table, const dbsync_value *values,
                        const char *what, bool insert)
{
    int code = conn->error.code;
    if (code == DBSYNC_ECONFLICT && values)
        explain_missing_reference(conn, table, values, what);
    else if (code == DBSYNC_EEXISTS && values)
        explain_duplicate(conn, table, values, what, insert);
    return code ? code : DBSYNC_ERROR;
}

static int check_values(dbsync_conn *conn, const dbsync_table *table, const dbsync_value *values,
                        const bool *mask, bool insert)
{
    for (size_t i = 0; i < table->n_columns; i++) {
        if (mask && !mask[i])
            continue;
        const dbsync_column *c = &table->columns[i];
        if (i == table->primary_key) {
            if (insert && value_is_null(&values[i]))
                continue;
            if (value_is_null(&values[i]) || values[i].type != DBSYNC_TYPE_INTEGER)
                return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                         "%s: the primary key %s must be an integer",
                                         table->name, c->name);
            continue;
        }
        /* A decimal's digits are checked when its literal is written (it
         * is normalized there): checking here too would do it twice. */
        if (c->type == DBSYNC_TYPE_DECIMAL && values[i].type == DBSYNC_TYPE_DECIMAL &&
            !value_is_null(&values[i]))
            continue;
        int rc = dbsync_value_check(&values[i], table, c, &conn->error);
        if (rc)
            return rc;
    }
    return DBSYNC_OK;
}

int dbsync_row_insert(dbsync_conn *conn, const dbsync_table *table, dbsync_value *values)
{
    int rc = check_table(conn, table);
    if (!rc)
        rc = check_values(conn, table, values, NULL, true);
    if (rc)
        return rc;
    unsigned t = dbsync__table_index(conn, table);
    const dbsync__table_info *info = &conn->tables[t];
    unsigned pk = table->primary_key;
    bool auto_key = value_is_null(&values[pk]);
    dbsync__buf *b = &conn->sql;
    dbsync__buf_reset(b);
    dbsync__buf_puts(b, auto_key ? info->insert_auto : info->insert_all);
    bool first = true;
    for (size_t i = 0; i < table->n_columns; i++) {
        if (i == pk && auto_key)
            continue;
        if (!first)
            dbsync__buf_append(b, ", ", 2);
        if (!dbsync__append_literal(conn, b, &values[i], table, &table->columns[i]))
            return conn->error.code ? conn->error.code : DBSYNC_ERROR;
        first = false;
    }
    dbsync__buf_putc(b, ')');
    if (first) { /* only the key, assigned by the database */
        dbsync__buf_reset(b);
        dbsync__buf_printf(b, "INSERT INTO %s DEFAULT VALUES", info->qname);
    }
    if (conn->dialect->insert_returning)
        dbsync__buf_printf(b, " RETURNING %s", info->qcols[pk]);
    if (b->oom)
        return dbsync__error_nomem(&conn->error);

    bool own;
    rc = dbsync__tx_enter(conn, &own);
    if (rc)
        return rc;
    char what[160] = "";
    dbi_result r = dbi_conn_query(conn->dbi, b->data);
    int64_t id = 0;
    if (!r) {
        snprintf(what, sizeof what, "insert %s", table->name);
        dbsync__db_error(conn, what);
        rc = write_failed(conn, table, values, what, true);
    } else {
        if (!auto_key)
            id = values[pk].u.i;
        else if (conn->dialect->insert_returning && dbi_result_next_row(r))
            id = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
        else
            id = (int64_t)dbi_conn_sequence_last(conn->dbi, NULL);
        dbi_result_free(r);
        if (id == 0)
            rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_DB,
                                   "insert %s: the database did not give the new key", table->name);
        if (!rc && !auto_key && conn->dialect->key_inserted)
            rc = conn->dialect->key_inserted(conn, t, id);
        if (!rc)
            rc = dbsync__log_op(conn, t, 'i', id);
    }
    rc = dbsync__tx_leave(conn, own, rc);
    if (!rc && auto_key) {
        values[pk].is_null = false;
        values[pk].u.i = id;
    }
    return rc;
}

static int row_exists(dbsync_conn *conn, unsigned t, int64_t id, bool *exists)
{
    const dbsync_table *table = &conn->schema->tables[t];
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE %s = %lld", conn->tables[t].qname,
             conn->tables[t].qcols[table->primary_key], (long long)id);
    dbi_result r = dbsync__query(conn, sql, "looking up a row");
    if (!r)
        return DBSYNC_ERROR;
    *exists = dbi_result_get_numrows(r) > 0;
    dbi_result_free(r);
    return DBSYNC_OK;
}

int dbsync_row_update(dbsync_conn *conn, const dbsync_table *table, const dbsync_value *values,
                      const bool *mask)
{
    int rc = check_table(conn, table);
    if (rc)
        return rc;
    unsigned pk = table->primary_key;
    if (value_is_null(&values[pk]) || values[pk].type != DBSYNC_TYPE_INTEGER)
        return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "update %s: no primary key value", table->name);
    rc = check_values(conn, table, values, mask, false);
    if (rc)
        return rc;
    unsigned t = dbsync__table_index(conn, table);
    const dbsync__table_info *info = &conn->tables[t];
    int64_t id = values[pk].u.i;
    dbsync__buf *b = &conn->sql;
    dbsync__buf_reset(b);
    dbsync__buf_printf(b, "UPDATE %s SET ", info->qname);
    bool first = true;
    for (size_t i = 0; i < table->n_columns; i++) {
        if (i == pk || (mask && !mask[i]))
            continue;
        dbsync__buf_printf(b, "%s%s = ", first ? "" : ", ", info->qcols[i]);
        if (!dbsync__append_literal(conn, b, &values[i], table, &table->columns[i]))
            return conn->error.code ? conn->error.code : DBSYNC_ERROR;
        first = false;
    }
    char what[160];
    snprintf(what, sizeof what, "update %s %lld", table->name, (long long)id);
    if (first) /* nothing to write: the row must still exist */
        dbsync__buf_printf(b, "%s = %s", info->qcols[pk], info->qcols[pk]);
    dbsync__buf_printf(b, " WHERE %s = %lld", info->qcols[pk], (long long)id);
    if (b->oom)
        return dbsync__error_nomem(&conn->error);

    bool own;
    rc = dbsync__tx_enter(conn, &own);
    if (rc)
        return rc;
    dbi_result r = dbsync__query(conn, b->data, what);
    if (!r) {
        rc = write_failed(conn, table, mask ? NULL : values, what, false); /* masked: values are partial */
    } else {
        unsigned long long n = dbi_result_get_numrows_affected(r);
        dbi_result_free(r);
        bool exists = n > 0;
        /* Some backends count changed rows only: ask when nothing changed. */
        if (!exists)
            rc = row_exists(conn, t, id, &exists);
        if (!rc && !exists)
            rc = dbsync__error_set(&conn->error, DBSYNC_ENOTFOUND, DBSYNC_ECLASS_ARG,
                                   "%s: no such row", what);
        if (!rc)
            rc = dbsync__log_op(conn, t, 'u', id);
    }
    return dbsync__tx_leave(conn, own, rc);
}

/* ---- deletes with their cascades ---- */

#define MAX_CASCADE_DEPTH 64

/* The keys of the rows of child table ct whose column cc equals id. */
static int child_keys(dbsync_conn *conn, unsigned ct, unsigned cc, int64_t id, int64_t **out,
                      size_t *n)
{
    const dbsync_table *child = &conn->schema->tables[ct];
    char sql[768];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = %lld",
             conn->tables[ct].qcols[child->primary_key], conn->tables[ct].qname,
             conn->tables[ct].qcols[cc], (long long)id);
    *out = NULL;
    *n = 0;
    dbi_result r = dbsync__query(conn, sql, "looking for referencing rows");
    if (!r)
        return DBSYNC_ERROR;
    unsigned long long rows = dbi_result_get_numrows(r);
    if (rows) {
        *out = malloc(rows * sizeof **out);
        if (!*out) {
            dbi_result_free(r);
            return dbsync__error_nomem(&conn->error);
        }
        while (dbi_result_next_row(r))
            (*out)[(*n)++] = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
    }
    dbi_result_free(r);
    return DBSYNC_OK;
}

static int delete_rec(dbsync_conn *conn, unsigned t, int64_t id, int depth)
{
    const dbsync_schema *s = conn->schema;
    const dbsync_table *table = &s->tables[t];
    const dbsync__table_info *info = &conn->tables[t];
    if (depth > MAX_CASCADE_DEPTH)
        return dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_ARG,
                                 "delete %s %lld: cascade deeper than %d levels", table->name,
                                 (long long)id, MAX_CASCADE_DEPTH);
    int rc = DBSYNC_OK;
    for (size_t k = 0; !rc && k < info->n_children; k++) {
        const dbsync__child *ch = &info->children[k];
        const dbsync_table *ctab = &s->tables[ch->table];
        const dbsync_column *ccol = &ctab->columns[ch->column];
        int64_t *keys;
        size_t n;
        rc = child_keys(conn, ch->table, ch->column, id, &keys, &n);
        for (size_t i = 0; !rc && i < n; i++) {
            if (ch->table == t && keys[i] == id)
                continue; /* a row that references itself goes with itself */
            switch (ccol->on_delete) {
            case DBSYNC_ON_DELETE_RESTRICT:
                rc = dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_ARG,
                                       "delete %s %lld: still referenced by %s %lld (column %s)",
                                       table->name, (long long)id, ctab->name,
                                       (long long)keys[i], ccol->name);
                break;
            case DBSYNC_ON_DELETE_CASCADE:
                rc = delete_rec(conn, ch->table, keys[i], depth + 1);
                /* An earlier branch of the cascade may have removed it already. */
                if (rc == DBSYNC_ENOTFOUND)
                    rc = DBSYNC_OK;
                break;
            case DBSYNC_ON_DELETE_SET_NULL: {
                char sql[768];
                snprintf(sql, sizeof sql, "UPDATE %s SET %s = NULL WHERE %s = %lld",
                         conn->tables[ch->table].qname, conn->tables[ch->table].qcols[ch->column],
                         conn->tables[ch->table].qcols[ctab->primary_key], (long long)keys[i]);
                rc = dbsync__exec(conn, sql, "clearing a reference");
                if (!rc)
                    rc = dbsync__log_op(conn, ch->table, 'u', keys[i]);
                break;
            }
            }
        }
        free(keys);
    }
    if (rc)
        return rc;
    char sql[512], what[160];
    snprintf(what, sizeof what, "delete %s %lld", table->name, (long long)id);
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = %lld", info->qname,
             info->qcols[table->primary_key], (long long)id);
    dbi_result r = dbsync__query(conn, sql, what);
    if (!r)
        return write_failed(conn, table, NULL, what, false);
    unsigned long long n = dbi_result_get_numrows_affected(r);
    dbi_result_free(r);
    if (n == 0)
        return dbsync__error_set(&conn->error, DBSYNC_ENOTFOUND, DBSYNC_ECLASS_ARG,
                                 "%s: no such row", what);
    return dbsync__log_op(conn, t, 'd', id);
}

int dbsync_row_delete(dbsync_conn *conn, const dbsync_table *table, int64_t id)
{
    int rc = check_table(conn, table);
    if (rc)
        return rc;
    unsigned t = dbsync__table_index(conn, table);
    bool own;
    rc = dbsync__tx_enter(conn, &own);
    if (rc)
        return rc;
    /* Several statements inside the caller's transaction: a savepoint keeps
     * the delete all-or-nothing. The log is written first so that rolling
     * back to the savepoint only forgets operations of this delete. */
    bool savepoint = !own && conn->tables[t].n_children > 0;
    if (savepoint) {
        rc = dbsync__flush_ops(conn);
        if (!rc)
            rc = dbsync__exec(conn, "SAVEPOINT dbsync_delete", "savepoint");
        if (rc)
            return rc;
    }
    rc = delete_rec(conn, t, id, 0);
    if (savepoint) {
        if (rc) {
            dbsync_error first = conn->error;
            dbsync__exec(conn, "ROLLBACK TO SAVEPOINT dbsync_delete", "rollback to savepoint");
            conn->n_ops = 0;
            conn->error = first;
        } else {
            rc = dbsync__exec(conn, "RELEASE SAVEPOINT dbsync_delete", "release savepoint");
        }
    }
    return dbsync__tx_leave(conn, own, rc);
}

/* ---- reading ---- */

static int read_row(dbsync_conn *conn, dbi_result r, const dbsync_table *table, dbsync_value *out)
{
    for (size_t i = 0; i < table->n_columns; i++) {
        int rc = dbsync__read_value(conn, r, (unsigned)i + 1, table, &table->columns[i], &out[i]);
        if (rc) {
            for (size_t j = 0; j < i; j++)
                dbsync_value_clear(&out[j]);
            return rc;
        }
    }
    return DBSYNC_OK;
}

/* Runs a SELECT of one row of table; DBSYNC_ENOTFOUND when none. */
static int select_one(dbsync_conn *conn, const dbsync_table *table, const char *sql,
                      const char *what, dbsync_value *out)
{
    int rc = dbsync__flush_ops(conn);
    if (rc)
        return rc;
    dbi_result r = dbsync__query(conn, sql, what);
    if (!r)
        return DBSYNC_ERROR;
    if (!dbi_result_next_row(r))
        rc = dbsync__error_set(&conn->error, DBSYNC_ENOTFOUND, DBSYNC_ECLASS_ARG,
                               "%s: no such row", what);
    else
        rc = read_row(conn, r, table, out);
    dbi_result_free(r);
    return rc;
}

int dbsync_row_get(dbsync_conn *conn, const dbsync_table *table, int64_t id, dbsync_value *out)
{
    int rc = check_table(conn, table);
    if (rc)
        return rc;
    /* The log first: it is written through conn->sql too. */
    if ((rc = dbsync__flush_ops(conn)))
        return rc;
    unsigned t = dbsync__table_index(conn, table);
    const dbsync__table_info *info = &conn->tables[t];
    dbsync__buf *b = &conn->sql;
    dbsync__buf_reset(b);
    dbsync__buf_printf(b, "SELECT %s FROM %s WHERE %s = %lld", info->select_list, info->qname,
                       info->qcols[table->primary_key], (long long)id);
    if (b->oom)
        return dbsync__error_nomem(&conn->error);
    char what[160];
    snprintf(what, sizeof what, "get %s %lld", table->name, (long long)id);
    return select_one(conn, table, b->data, what, out);
}

/* ---- generated structs ---- */

static int check_struct_table(dbsync_conn *conn, const dbsync_table *table)
{
    int rc = check_table(conn, table);
    if (!rc && table->struct_size == 0)
        rc = dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                               "table %s has no generated struct (schema loaded at run time)",
                               table->name);
    return rc;
}

/* Size of a column's field in a generated struct: the union member of
 * dbsync_value of that type (all start at the union's start). */
static size_t field_size(dbsync_type type)
{
    switch (type) {
    case DBSYNC_TYPE_INTEGER:
        return sizeof(int64_t);
    case DBSYNC_TYPE_BOOLEAN:
        return sizeof(bool);
    case DBSYNC_TYPE_REAL:
        return sizeof(double);
    case DBSYNC_TYPE_DECIMAL:
    case DBSYNC_TYPE_TEXT:
        return sizeof(char *);
    case DBSYNC_TYPE_BLOB:
        return sizeof(dbsync_blob);
    case DBSYNC_TYPE_DATE:
        return sizeof(dbsync_date);
    case DBSYNC_TYPE_TIME:
        return sizeof(dbsync_time);
    case DBSYNC_TYPE_DATETIME:
        return sizeof(dbsync_datetime);
    }
    return 0;
}

/* Borrowing view of a struct as values: pointers are the struct's own. */
static void struct_view(const dbsync_table *table, const void *row, dbsync_value *out)
{
    const char *base = row;
    for (size_t i = 0; i < table->n_columns; i++) {
        const dbsync_column *c = &table->columns[i];
        dbsync_value *v = &out[i];
        memset(v, 0, sizeof *v);
        v->type = c->type;
        if (c->has_offset != DBSYNC_NO_OFFSET && !*(const bool *)(base + c->has_offset)) {
            v->is_null = true;
            continue;
        }
        memcpy(&v->u, base + c->offset, field_size(c->type));
        v->is_null = value_is_null(v);
    }
}

/* Moves values into a struct (ownership passes; values become NULLs). An
 * empty blob keeps a non-NULL data pointer. */
static void struct_fill(const dbsync_table *table, dbsync_value *values, void *row)
{
    char *base = row;
    for (size_t i = 0; i < table->n_columns; i++) {
        const dbsync_column *c = &table->columns[i];
        dbsync_value *v = &values[i];
        if (c->has_offset != DBSYNC_NO_OFFSET)
            *(bool *)(base + c->has_offset) = !v->is_null;
        if (v->is_null)
            continue;
        memcpy(base + c->offset, &v->u, field_size(c->type));
        memset(&v->u, 0, sizeof v->u); /* ownership moved */
        v->is_null = true;
    }
}

#define STACK_COLUMNS 32

/* Value array on the stack for common tables, on the heap for wide ones. */
static dbsync_value *values_alloc(dbsync_conn *conn, const dbsync_table *table,
                                  dbsync_value *stack)
{
    if (table->n_columns <= STACK_COLUMNS)
        return stack;
    dbsync_value *v = calloc(table->n_columns, sizeof *v);
    if (!v)
        dbsync__error_nomem(&conn->error);
    return v;
}

static void values_free(dbsync_value *v, dbsync_value *stack)
{
    if (v != stack)
        free(v);
}

int dbsync_struct_insert(dbsync_conn *conn, const dbsync_table *table, void *row)
{
    int rc = check_struct_table(conn, table);
    if (rc)
        return rc;
    dbsync_value stack[STACK_COLUMNS];
    dbsync_value *v = values_alloc(conn, table, stack);
    if (!v)
        return DBSYNC_ERROR;
    struct_view(table, row, v);
    dbsync_value *pk = &v[table->primary_key];
    if (pk->u.i == 0)
        pk->is_null = true;
    rc = dbsync_row_insert(conn, table, v);
    if (!rc)
        memcpy((char *)row + table->columns[table->primary_key].offset, &pk->u.i, sizeof(int64_t));
    values_free(v, stack);
    return rc;
}

int dbsync_struct_update(dbsync_conn *conn, const dbsync_table *table, const void *row)
{
    int rc = check_struct_table(conn, table);
    if (rc)
        return rc;
    dbsync_value stack[STACK_COLUMNS];
    dbsync_value *v = values_alloc(conn, table, stack);
    if (!v)
        return DBSYNC_ERROR;
    struct_view(table, row, v);
    rc = dbsync_row_update(conn, table, v, NULL);
    values_free(v, stack);
    return rc;
}

int dbsync_struct_get(dbsync_conn *conn, const dbsync_table *table, int64_t id, void *out)
{
    int rc = check_struct_table(conn, table);
    if (rc)
        return rc;
    dbsync_value stack[STACK_COLUMNS];
    dbsync_value *v = values_alloc(conn, table, stack);
    if (!v)
        return DBSYNC_ERROR;
    rc = dbsync_row_get(conn, table, id, v);
    if (!rc) {
        dbsync_struct_clear(table, out);
        struct_fill(table, v, out);
    }
    values_free(v, stack);
    return rc;
}

int dbsync_struct_find(dbsync_conn *conn, const dbsync_table *table, size_t unique_index,
                       const void *key, void *out)
{
    int rc = check_struct_table(conn, table);
    if (rc)
        return rc;
    if (unique_index >= table->n_uniques)
        return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "table %s has no unique constraint %zu", table->name, unique_index);
    const dbsync_key *k = &table->uniques[unique_index];
    unsigned t = dbsync__table_index(conn, table);
    const dbsync__table_info *info = &conn->tables[t];
    dbsync_value stack[STACK_COLUMNS];
    dbsync_value *v = values_alloc(conn, table, stack);
    if (!v)
        return DBSYNC_ERROR;
    struct_view(table, key, v);
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync__buf_printf(&b, "SELECT %s FROM %s WHERE ", info->select_list, info->qname);
    for (size_t i = 0; !rc && i < k->n_columns; i++) {
        unsigned c = k->columns[i];
        if (value_is_null(&v[c])) {
            rc = dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                   "find in %s: key column %s is NULL", table->name,
                                   table->columns[c].name);
            break;
        }
        dbsync__buf_printf(&b, "%s%s = ", i ? " AND " : "", info->qcols[c]);
        if (!dbsync__append_literal(conn, &b, &v[c], table, &table->columns[c]))
            rc = conn->error.code ? conn->error.code : DBSYNC_ERROR;
    }
    if (!rc && b.oom)
        rc = dbsync__error_nomem(&conn->error);
    if (!rc) {
        char what[160];
        snprintf(what, sizeof what, "find in %s by %s", table->name, k->name);
        /* The key's values are borrowed from key, which may be out: the SQL
         * text is complete before out is touched. */
        rc = select_one(conn, table, b.data, what, v);
        if (!rc) {
            dbsync_struct_clear(table, out);
            struct_fill(table, v, out);
        }
    }
    dbsync__buf_free(&b);
    values_free(v, stack);
    return rc;
}

void dbsync_struct_clear(const dbsync_table *table, void *row)
{
    if (!row || !table)
        return;
    char *base = row;
    for (size_t i = 0; i < table->n_columns; i++) {
        const dbsync_column *c = &table->columns[i];
        void *f = base + c->offset;
        if (c->type == DBSYNC_TYPE_TEXT || c->type == DBSYNC_TYPE_DECIMAL) {
            char *s;
            memcpy(&s, f, sizeof s);
            if (s != c->default_value)
                free(s);
        } else if (c->type == DBSYNC_TYPE_BLOB) {
            dbsync_blob blob;
            memcpy(&blob, f, sizeof blob);
            free(blob.data);
        }
    }
    memset(row, 0, table->struct_size);
}

int dbsync_struct_to_values(const dbsync_table *table, const void *row, dbsync_value *out)
{
    dbsync_value stack[STACK_COLUMNS];
    dbsync_value *view = table->n_columns <= STACK_COLUMNS ? stack
                                                           : calloc(table->n_columns, sizeof *view);
    if (!view)
        return DBSYNC_ERROR;
    struct_view(table, row, view);
    int rc = DBSYNC_OK;
    for (size_t i = 0; i < table->n_columns; i++) {
        if (dbsync_value_copy(&out[i], &view[i]) != DBSYNC_OK) {
            for (size_t j = 0; j < i; j++)
                dbsync_value_clear(&out[j]);
            rc = DBSYNC_ERROR;
            break;
        }
    }
    if (view != stack)
        free(view);
    return rc;
}

/* ---- iteration ---- */

struct dbsync_iter {
    dbsync_conn *conn;
    const dbsync_table *table;
    dbi_result result;
};

static const char *const filter_ops[] = {" = ", " <> ", " < ", " <= ", " > ", " >= ",
                                         " IS NULL", " IS NOT NULL"};

int dbsync_iter_new(dbsync_iter **out, dbsync_conn *conn, const dbsync_table *table,
                    const dbsync_query *query)
{
    *out = NULL;
    int rc = check_table(conn, table);
    if (rc)
        return rc;
    dbsync_query none = DBSYNC_QUERY_INIT;
    if (!query)
        query = &none;
    if (query->version != DBSYNC_QUERY_VERSION)
        return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "dbsync_query version %u is not %u (use DBSYNC_QUERY_INIT)",
                                 query->version, DBSYNC_QUERY_VERSION);
    unsigned t = dbsync__table_index(conn, table);
    const dbsync__table_info *info = &conn->tables[t];
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync__buf_printf(&b, "SELECT %s FROM %s", info->select_list, info->qname);
    for (size_t i = 0; !rc && i < query->n_filters; i++) {
        const dbsync_filter *f = &query->filters[i];
        int c = f->column ? dbsync_table_column(table, f->column) : -1;
        if (c < 0) {
            rc = dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                   "unknown column \"%.80s\" in table %s", f->column ? f->column : "(null)",
                                   table->name);
            break;
        }
        if ((unsigned)f->op > DBSYNC_FILTER_IS_NOT_NULL) {
            rc = dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                   "filter on %s: unknown operator %d", f->column, (int)f->op);
            break;
        }
        dbsync__buf_puts(&b, i ? " AND " : " WHERE ");
        dbsync__buf_puts(&b, info->qcols[c]);
        dbsync__buf_puts(&b, filter_ops[f->op]);
        if (f->op >= DBSYNC_FILTER_IS_NULL)
            continue;
        if (!f->value) {
            rc = dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                   "filter on %s: no value (use DBSYNC_FILTER_IS_NULL for NULL)",
                                   f->column);
            break;
        }
        dbsync_value v;
        rc = dbsync_value_parse(&v, table, &table->columns[c], f->value, &conn->error);
        if (rc)
            break;
        if (!dbsync__append_literal(conn, &b, &v, table, &table->columns[c]))
            rc = conn->error.code ? conn->error.code : DBSYNC_ERROR;
        dbsync_value_clear(&v);
    }
    if (!rc) {
        int c = query->order_by ? dbsync_table_column(table, query->order_by)
                                : (int)table->primary_key;
        if (c < 0)
            rc = dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                   "unknown column \"%.80s\" in table %s", query->order_by,
                                   table->name);
        else
            dbsync__buf_printf(&b, " ORDER BY %s%s", info->qcols[c],
                               query->descending ? " DESC" : "");
        /* A tie-breaker keeps the order total and repeatable. */
        if (!rc && c != (int)table->primary_key)
            dbsync__buf_printf(&b, ", %s", info->qcols[table->primary_key]);
        if (!rc && query->limit > 0)
            dbsync__buf_printf(&b, " LIMIT %lld", (long long)query->limit);
        if (!rc && query->limit < 0)
            rc = dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                   "negative limit %lld", (long long)query->limit);
    }
    if (!rc && b.oom)
        rc = dbsync__error_nomem(&conn->error);
    if (!rc)
        rc = dbsync__flush_ops(conn);
    dbi_result r = NULL;
    if (!rc) {
        char what[160];
        snprintf(what, sizeof what, "list %s", table->name);
        r = dbsync__query(conn, b.data, what);
        if (!r)
            rc = DBSYNC_ERROR;
    }
    dbsync__buf_free(&b);
    if (rc)
        return rc;
    dbsync_iter *it = calloc(1, sizeof *it);
    if (!it) {
        dbi_result_free(r);
        return dbsync__error_nomem(&conn->error);
    }
    it->conn = conn;
    it->table = table;
    it->result = r;
    *out = it;
    return DBSYNC_OK;
}

int dbsync_iter_next_values(dbsync_iter *it, dbsync_value *values)
{
    if (!dbi_result_next_row(it->result))
        return DBSYNC_ITEROVER;
    return read_row(it->conn, it->result, it->table, values);
}

int dbsync_iter_next_struct(dbsync_iter *it, void *row)
{
    int rc = check_struct_table(it->conn, it->table);
    if (rc)
        return rc;
    dbsync_value stack[STACK_COLUMNS];
    dbsync_value *v = values_alloc(it->conn, it->table, stack);
    if (!v)
        return DBSYNC_ERROR;
    rc = dbsync_iter_next_values(it, v);
    if (!rc) {
        dbsync_struct_clear(it->table, row);
        struct_fill(it->table, v, row);
    }
    values_free(v, stack);
    return rc;
}

void dbsync_iter_free(dbsync_iter *it)
{
    if (!it)
        return;
    dbi_result_free(it->result);
    free(it);
}

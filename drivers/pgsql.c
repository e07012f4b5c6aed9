/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL dialect. Native types (NUMERIC, BYTEA, DATE, TIME(6),
 * TIMESTAMP(6)); every value is read back through its text form (::text,
 * encode(..,'hex')) so nothing depends on the libdbi driver's conversions;
 * reals use extra_float_digits=3 so their text is exact. The new key comes
 * from INSERT ... RETURNING. Foreign keys are DEFERRABLE so a merge can
 * defer their checks to commit; pushes serialize on an advisory lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

/* Sets host, port, user, password, dbname and passes other options on. */
int dbsync__network_configure(dbi_conn dbi, const dbsync__url *url, dbsync_error *err);
int dbsync__network_configure(dbi_conn dbi, const dbsync__url *url, dbsync_error *err)
{
    int rc = 0;
    if (url->host)
        rc |= dbi_conn_set_option(dbi, "host", url->host);
    if (url->port)
        rc |= dbi_conn_set_option_numeric(dbi, "port", atoi(url->port));
    if (url->user)
        rc |= dbi_conn_set_option(dbi, "username", url->user);
    if (url->password)
        rc |= dbi_conn_set_option(dbi, "password", url->password);
    rc |= dbi_conn_set_option(dbi, "dbname", url->dbname);
    rc |= dbi_conn_set_option(dbi, "encoding", "UTF-8");
    for (size_t i = 0; i < url->n_options; i++)
        rc |= dbi_conn_set_option(dbi, url->keys[i], url->values[i]);
    if (rc)
        return dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_DB, "cannot set %s options",
                                 url->scheme);
    return DBSYNC_OK;
}

static int pg_after_connect(dbsync_conn *conn, const dbsync__url *url)
{
    (void)url;
    int rc = dbsync__exec(conn, "SET extra_float_digits = 3", "setting extra_float_digits");
    if (!rc)
        rc = dbsync__exec(conn, "SET client_min_messages = error", "setting client_min_messages");
    return rc;
}

static void pg_select_column(dbsync__buf *sql, const dbsync_column *col, const char *q,
                             unsigned index)
{
    (void)index;
    switch (col->type) {
    case DBSYNC_TYPE_INTEGER:
        dbsync__buf_puts(sql, q);
        break;
    case DBSYNC_TYPE_BOOLEAN:
        dbsync__buf_printf(sql, "%s::int", q);
        break;
    case DBSYNC_TYPE_BLOB:
        dbsync__buf_printf(sql, "encode(%s, 'hex')", q);
        break;
    default:
        dbsync__buf_printf(sql, "%s::text", q);
        break;
    }
}

static void pg_blob_literal(dbsync__buf *sql, const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    dbsync__buf_puts(sql, "decode('");
    for (size_t i = 0; i < len; i++) {
        char h[2] = {digits[data[i] >> 4], digits[data[i] & 15]};
        dbsync__buf_append(sql, h, 2);
    }
    dbsync__buf_puts(sql, "', 'hex')");
}

static int pg_key_inserted(dbsync_conn *conn, unsigned table, int64_t id)
{
    /* BIGSERIAL does not notice explicit keys: move the sequence past the
     * key, never back (keys of deleted rows are never handed out again). */
    const dbsync_table *t = &conn->schema->tables[table];
    dbsync__buf name = DBSYNC__BUF_INIT, b = DBSYNC__BUF_INIT;
    dbsync__buf_puts(&name, conn->tables[table].qname);
    dbsync__buf_puts(&b, "SELECT setval(pg_get_serial_sequence(");
    bool ok = !name.oom && dbsync__quote_string(conn, &b, name.data);
    dbsync__buf_puts(&b, ", ");
    ok = ok && dbsync__quote_string(conn, &b, t->columns[t->primary_key].name);
    dbsync__buf_printf(&b, "), GREATEST(%lld, nextval(pg_get_serial_sequence(", (long long)id);
    ok = ok && dbsync__quote_string(conn, &b, name.data);
    dbsync__buf_puts(&b, ", ");
    ok = ok && dbsync__quote_string(conn, &b, t->columns[t->primary_key].name);
    dbsync__buf_puts(&b, ")) - 1))");
    int rc = !ok ? DBSYNC_ERROR
             : b.oom ? dbsync__error_nomem(&conn->error)
                     : dbsync__exec(conn, b.data, "advancing the key sequence");
    dbsync__buf_free(&name);
    dbsync__buf_free(&b);
    return rc;
}

static int pg_write_lock(dbsync_conn *conn)
{
    /* Held until the transaction ends; the key is "dbsy" in ASCII. */
    return dbsync__exec(conn, "SELECT pg_advisory_xact_lock(1685283449)", "taking the write lock");
}

static int pg_classify(const char *m)
{
    if (strstr(m, "duplicate key value"))
        return DBSYNC_EEXISTS;
    if (strstr(m, "foreign key constraint"))
        return DBSYNC_ECONFLICT;
    if (strstr(m, "null value in column") || strstr(m, "invalid input syntax") ||
        strstr(m, "out of range") || strstr(m, "value too long"))
        return DBSYNC_EINVALID;
    return DBSYNC_ERROR;
}

const dbsync__dialect dbsync__dialect_pgsql = {
    .name = "pgsql",
    .ident_quote = '"',
    .pk_ddl = "BIGSERIAL PRIMARY KEY",
    .inline_fk = false,
    .fk_suffix = " DEFERRABLE INITIALLY IMMEDIATE",
    .ddl_in_transaction = true,
    .insert_returning = true,
    .begin_sql = "BEGIN",
    .true_literal = "TRUE",
    .false_literal = "FALSE",
    .create_table_suffix = "",
    .configure = dbsync__network_configure,
    .after_connect = pg_after_connect,
    .types = {NULL, "BIGINT", "BOOLEAN", "DOUBLE PRECISION", "NUMERIC(%u,%u)", "TEXT", "BYTEA",
              "DATE", "TIME(6)", "TIMESTAMP(6)"},
    .text_sized = "VARCHAR(%u)",
    .text_sized_max = 10485760,
    .select_column = pg_select_column,
    .real_literal = NULL,
    .blob_literal = pg_blob_literal,
    .text_key_prefix = "",
    .table_exists_sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = %s",
    .key_inserted = pg_key_inserted,
    .write_ops = NULL,
    .write_lock = pg_write_lock,
    .defer_fk_sql = "SET CONSTRAINTS ALL DEFERRED",
    .defer_fk_end_sql = NULL,
    .deferred_fk_unchecked = false,
    .error_aborts_transaction = true,
    .fk_off_sql = "SET session_replication_role = replica",
    .fk_on_sql = "SET session_replication_role = DEFAULT",
    .classify_error = pg_classify,
};

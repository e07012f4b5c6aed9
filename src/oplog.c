/* SPDX-License-Identifier: MIT */
/*
 * Reading the operations log and the node's status. Both write the
 * operations buffered by the open transaction first, so what they report
 * includes the caller's own uncommitted writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

int dbsync_oplog_foreach(dbsync_conn *conn, bool unpushed_only, dbsync_oplog_cb cb, void *payload)
{
    int rc = dbsync__flush_ops(conn);
    if (rc)
        return rc;
    const char *sql =
        unpushed_only
            ? "SELECT \"order\", content_type_id, row_id, command, version_id FROM sync_operations "
              "WHERE version_id IS NULL ORDER BY \"order\""
            : "SELECT \"order\", content_type_id, row_id, command, version_id FROM sync_operations "
              "ORDER BY \"order\"";
    dbsync__buf b = DBSYNC__BUF_INIT;
    if (conn->dialect->ident_quote != '"') {
        /* Same statement with the backend's identifier quote. */
        for (const char *p = sql; *p; p++)
            dbsync__buf_putc(&b, *p == '"' ? conn->dialect->ident_quote : *p);
        if (b.oom)
            return dbsync__error_nomem(&conn->error);
        sql = b.data;
    }
    dbi_result r = dbsync__query(conn, sql, "reading the operations log");
    dbsync__buf_free(&b);
    if (!r)
        return DBSYNC_ERROR;
    const dbsync_schema *s = conn->schema;
    while (!rc && dbi_result_next_row(r)) {
        dbsync_operation op;
        memset(&op, 0, sizeof op);
        op.order = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
        op.content_type_id = (int32_t)dbi_result_get_as_longlong_idx(r, 2);
        op.row_id = (int64_t)dbi_result_get_as_longlong_idx(r, 3);
        char *cmd = dbi_result_get_as_string_copy_idx(r, 4);
        op.command = cmd && cmd[0] ? cmd[0] : '?';
        free(cmd);
        op.version_id = dbi_result_field_is_null_idx(r, 5)
                            ? 0
                            : (int64_t)dbi_result_get_as_longlong_idx(r, 5);
        for (size_t t = 0; t < s->n_tables; t++)
            if (conn->tables[t].content_type_id == op.content_type_id) {
                op.table = s->tables[t].name;
                break;
            }
        rc = cb(&op, payload);
    }
    dbi_result_free(r);
    return rc;
}

/* Runs a query returning one integer (0 when NULL or no row). */
static int query_int(dbsync_conn *conn, const char *sql, int64_t *out)
{
    dbi_result r = dbsync__query(conn, sql, "reading the sync status");
    if (!r)
        return DBSYNC_ERROR;
    *out = 0;
    if (dbi_result_next_row(r) && !dbi_result_field_is_null_idx(r, 1))
        *out = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
    dbi_result_free(r);
    return DBSYNC_OK;
}

int dbsync_status_get(dbsync_conn *conn, dbsync_status *out)
{
    memset(out, 0, sizeof *out);
    int rc = dbsync__flush_ops(conn);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT MAX(node_id) FROM sync_nodes WHERE is_self = %s",
             conn->dialect->true_literal);
    if (!rc)
        rc = query_int(conn, sql, &out->node_id);
    if (!rc)
        rc = query_int(conn, "SELECT MAX(version_id) FROM sync_versions", &out->version_id);
    if (!rc)
        rc = query_int(conn, "SELECT COUNT(*) FROM sync_operations", &out->operations);
    if (!rc)
        rc = query_int(conn, "SELECT COUNT(*) FROM sync_operations WHERE version_id IS NULL",
                       &out->unpushed);
    return rc;
}

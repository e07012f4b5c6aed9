/* SPDX-License-Identifier: MIT */
/*
 * The server's handlers, independent of any transport: register, push,
 * pull, repair, query. Each request runs on the caller's connection; a
 * push is one transaction under the database's write lock, so several
 * processes may serve one database. Every failure becomes a JSON error
 * body {"protocol":1,"error":CODE,"message":TEXT} with its HTTP status;
 * nothing of a refused push remains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbsync/server.h"
#include "sync_internal.h"

struct dbsync_server {
    const dbsync_schema *schema;
    dbsync_server_options opts;
};

int dbsync_server_new(dbsync_server **out, const dbsync_schema *schema,
                      const dbsync_server_options *opts, dbsync_error *err)
{
    *out = NULL;
    dbsync_server_options defaults = DBSYNC_SERVER_OPTIONS_INIT;
    if (!opts)
        opts = &defaults;
    if (opts->version != DBSYNC_SERVER_OPTIONS_VERSION)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "dbsync_server_options version %u is not %u (use "
                                 "DBSYNC_SERVER_OPTIONS_INIT)",
                                 opts->version, DBSYNC_SERVER_OPTIONS_VERSION);
    if (!schema || schema->magic != DBSYNC_SCHEMA_MAGIC)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "no schema");
    if (opts->page_size < 0)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "negative page size");
    dbsync_server *s = calloc(1, sizeof *s);
    if (!s)
        return dbsync__error_nomem(err);
    s->schema = schema;
    s->opts = *opts;
    if (!s->opts.page_size)
        s->opts.page_size = 5000;
    *out = s;
    return DBSYNC_OK;
}

int dbsync_server_prepare(dbsync_server *server, dbsync_conn *conn)
{
    (void)server;
    char q = conn->dialect->ident_quote;
    char sql[256];
    /* IF NOT EXISTS: SQLite, PostgreSQL and MariaDB (not MySQL 8). */
    snprintf(sql, sizeof sql,
             "CREATE INDEX IF NOT EXISTS sync_operations_object_idx ON sync_operations "
             "(content_type_id, row_id, %corder%c)",
             q, q);
    return dbsync__exec(conn, sql, "creating the server's index") ? DBSYNC_ERROR : DBSYNC_OK;
}

void dbsync_server_free(dbsync_server *server)
{
    free(server);
}

void dbsync_response_clear(dbsync_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

/* ---- responses ---- */

static int respond(dbsync_response *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = "application/json";
    if (!body)
        goto oom;
    if (!json_object_get(body, "protocol"))
        json_object_set_new(body, "protocol", json_integer(DBSYNC__PROTOCOL));
    out->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!out->body)
        goto oom;
    out->body_len = strlen(out->body);
    return DBSYNC_OK;
oom:
    /* Not even memory for an error body: a fixed one. */
    out->status = 500;
    out->body = dbsync__strdup("{\"protocol\":1,\"error\":\"internal\",\"message\":\"out of memory\"}");
    out->body_len = out->body ? strlen(out->body) : 0;
    return out->body ? DBSYNC_OK : DBSYNC_ERROR;
}

static int fail(dbsync_response *out, int status, const char *code, const char *fmt, ...)
    DBSYNC__PRINTF(4, 5);

static int fail(dbsync_response *out, int status, const char *code, const char *fmt, ...)
{
    char msg[DBSYNC_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return respond(out, status, json_pack("{s:i,s:s,s:s}", "protocol", DBSYNC__PROTOCOL, "error",
                                          code, "message", msg));
}

/* A database failure: 422 when a constraint refused the data, else 500. */
static int fail_db(dbsync_response *out, dbsync_conn *conn, const char *what)
{
    const dbsync_error *e = &conn->error;
    if (e->code == DBSYNC_EEXISTS || e->code == DBSYNC_ECONFLICT || e->code == DBSYNC_EINVALID)
        return fail(out, 422, "cannot_apply", "%s: %s", what, e->message);
    return fail(out, 500, "internal", "%s: %s", what, e->message);
}

static json_t *parse_body(const dbsync_request *req, dbsync_response *out)
{
    json_error_t jerr;
    if (!req->body || !req->body_len) {
        fail(out, 400, "bad_request", "the request has no body");
        return NULL;
    }
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        fail(out, 400, "bad_request", "the body is not JSON: %s (line %d, column %d)", jerr.text,
             jerr.line, jerr.column);
        return NULL;
    }
    json_t *p = json_object_get(j, "protocol");
    if (!json_is_object(j) || !json_is_integer(p) || json_integer_value(p) != DBSYNC__PROTOCOL) {
        fail(out, 400, "bad_protocol", "expected a JSON object with \"protocol\": %d",
             DBSYNC__PROTOCOL);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* An optional non-negative integer member; -1 when absent, -2 when bad. */
static int64_t member_int(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return -1;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -2;
    return (int64_t)json_integer_value(v);
}

static void end_tx(dbsync_conn *conn, bool commit_failed_or_rollback)
{
    (void)commit_failed_or_rollback;
    if (conn->dialect->defer_fk_end_sql)
        dbsync__exec(conn, conn->dialect->defer_fk_end_sql, "ending deferred checks");
}

/* Inserts a row into a sync_ table and returns its generated key. */
static int insert_get_id(dbsync_conn *conn, const char *sql, const char *key, int64_t *id)
{
    char full[1024];
    snprintf(full, sizeof full, "%s%s%s", sql, conn->dialect->insert_returning ? " RETURNING " : "",
             conn->dialect->insert_returning ? key : "");
    dbi_result r = dbsync__query(conn, full, "writing the sync state");
    if (!r)
        return DBSYNC_ERROR;
    if (conn->dialect->insert_returning)
        *id = dbi_result_next_row(r) ? (int64_t)dbi_result_get_as_longlong_idx(r, 1) : 0;
    else
        *id = (int64_t)dbi_conn_sequence_last(conn->dbi, NULL);
    dbi_result_free(r);
    return *id > 0 ? DBSYNC_OK
                   : dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_DB,
                                       "the database gave no new key");
}

/* ---- register ---- */

static int handle_register(dbsync_server *srv, dbsync_conn *conn, const dbsync_request *req,
                           dbsync_response *out)
{
    json_t *body = parse_body(req, out);
    if (!body)
        return DBSYNC_OK;
    json_t *tok = json_object_get(body, "token");
    if (tok && !json_is_string(tok) && !json_is_null(tok)) {
        json_decref(body);
        return fail(out, 400, "bad_request", "\"token\" must be a string");
    }
    if (srv->opts.on_register) {
        dbsync_hook_info info = {"register", 0, tok ? json_string_value(tok) : NULL, 0, 0};
        char msg[256] = "registration refused";
        if (srv->opts.on_register(conn, &info, msg, sizeof msg, srv->opts.payload)) {
            json_decref(body);
            msg[sizeof msg - 1] = '\0';
            return fail(out, 403, "refused", "%s", msg);
        }
    }
    json_decref(body);
    char secret[65], now[32], sql[512];
    if (dbsync__random_hex(secret, 32))
        return fail(out, 500, "internal", "no random bytes for a secret");
    dbsync__now_text(now, sizeof now);
    snprintf(sql, sizeof sql,
             "INSERT INTO sync_nodes (registered, secret, is_self) VALUES ('%s', '%s', %s)", now,
             secret, conn->dialect->false_literal);
    int64_t id = 0;
    bool own;
    int rc = dbsync__tx_enter(conn, &own);
    if (!rc)
        rc = insert_get_id(conn, sql, "node_id", &id);
    rc = dbsync__tx_leave(conn, own, rc);
    if (rc)
        return fail_db(out, conn, "register");
    return respond(out, 200, json_pack("{s:I,s:s}", "node_id", (json_int_t)id, "secret", secret));
}

/* ---- push ---- */

typedef struct push_op {
    unsigned table;
    int64_t row_id;
    char command;
} push_op;

/* Applies the operation lines of a push (after the header line): each is
 * [content_type_id, row_id, "i"|"u", [row]] or [content_type_id, row_id, "d"],
 * parsed and applied one at a time, so a push of any size needs little
 * memory beyond its body. */
static int apply_push(dbsync_server *srv, dbsync_conn *conn, json_t *header, const char *lines,
                      size_t len, int64_t node_id, const char *push_id, dbsync_response *out,
                      int64_t *version_out)
{
    const dbsync_schema *s = conn->schema;
    int64_t n_ops = member_int(header, "operations");
    json_t *columns = json_object_get(header, "columns");
    if (n_ops < 0 || (columns && !json_is_object(columns)))
        return fail(out, 400, "bad_request", "the push header needs \"operations\" (a count) and "
                                             "\"columns\" (an object)");
    size_t n = (size_t)n_ops;
    push_op *list = calloc(n ? n : 1, sizeof *list);
    dbsync_value *values = NULL;
    dbsync__writer *w = NULL;
    int rc = DBSYNC_OK;
    if (!list)
        return fail(out, 500, "internal", "out of memory");
    /* The columns of every table that has rows: this schema's, in order. */
    bool *checked = calloc(s->n_tables + 1, sizeof *checked);
    bool *key_max_known = calloc(s->n_tables + 1, sizeof *key_max_known);
    int64_t *key_max = calloc(s->n_tables + 1, sizeof *key_max);
    const char *tname;
    json_t *cols;
    json_object_foreach(columns, tname, cols) {
        const dbsync_table *t = dbsync_schema_table(s, tname);
        if (!t || !(t->flags & DBSYNC_TABLE_SYNCED)) {
            rc = fail(out, 400, "bad_request", "rows of unknown table \"%.60s\"", tname);
            goto done;
        }
        if (dbsync__columns_check(cols, t, &conn->error)) {
            rc = fail(out, 400, "bad_request", "%s", conn->error.message);
            goto done;
        }
        if (checked)
            checked[dbsync__table_index(conn, t)] = true;
    }
    if (srv->opts.before_push) {
        dbsync_hook_info info = {"push", node_id, NULL, 0, n};
        char msg[256] = "push refused";
        if (srv->opts.before_push(conn, &info, msg, sizeof msg, srv->opts.payload)) {
            msg[sizeof msg - 1] = '\0';
            rc = fail(out, 403, "refused", "%s", msg);
            goto done;
        }
    }
    w = dbsync__writer_new(conn);
    size_t maxcols = 1;
    for (size_t t = 0; t < s->n_tables; t++)
        if (s->tables[t].n_columns > maxcols)
            maxcols = s->tables[t].n_columns;
    values = calloc(maxcols, sizeof *values);
    if (!w || !values || !checked || !key_max_known || !key_max) {
        rc = fail(out, 500, "internal", "out of memory");
        goto done;
    }
    const char *p = lines, *end = lines + len;
    size_t i = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        p += ll + (nl ? 1 : 0);
        if (ll == 0)
            continue;
        if (i == n) {
            rc = fail(out, 400, "bad_request", "more operation lines than the %zu announced", n);
            goto done;
        }
        json_error_t jerr;
        json_t *op = json_loadb(line, ll, JSON_REJECT_DUPLICATES, &jerr);
        json_t *ct = json_array_get(op, 0), *id = json_array_get(op, 1), *cmd = json_array_get(op, 2);
        const char *c = json_string_value(cmd);
        int t = json_is_integer(ct) ? dbsync__table_by_content_type(conn, (int32_t)json_integer_value(ct)) : -1;
        if (!json_is_array(op) || !json_is_integer(id) || !c || strlen(c) != 1 || !strchr("iud", c[0]) ||
            json_array_size(op) != (c[0] == 'd' ? 3u : 4u)) {
            json_decref(op);
            rc = fail(out, 400, "bad_request", "operation %zu is not [content_type_id, row_id, "
                                               "\"i\"|\"u\", [row]] or [.., \"d\"]", i + 1);
            goto done;
        }
        if (t < 0) {
            json_decref(op);
            rc = fail(out, 400, "bad_request",
                      "operation %zu: content type %lld is not a synced table of this schema",
                      i + 1, (long long)json_integer_value(ct));
            goto done;
        }
        const dbsync_table *table = &s->tables[t];
        list[i] = (push_op){(unsigned)t, (int64_t)json_integer_value(id), c[0]};
        /* A new row under a key the server has used before (its row was
         * deleted since): the node has not seen that key; it must pull,
         * which gives its row a key never used. */
        if (c[0] == 'i') {
            if (!key_max_known[t]) {
                char sql[256];
                snprintf(sql, sizeof sql,
                         "SELECT MAX(row_id) FROM sync_operations WHERE content_type_id = %ld",
                         (long)conn->tables[t].content_type_id);
                if (dbsync__query_int(conn, sql, &key_max[t])) {
                    json_decref(op);
                    rc = fail_db(out, conn, "push");
                    goto done;
                }
                key_max_known[t] = true;
            }
            if (list[i].row_id <= key_max[t]) {
                json_decref(op);
                char msg[300];
                snprintf(msg, sizeof msg,
                         "push refused: key %lld of %s was used on the server before (pull first)",
                         (long long)list[i].row_id, table->name);
                rc = respond(out, 409, json_pack("{s:s,s:s}", "error", "pull_required", "message", msg));
                goto done;
            }
        }
        int wrc;
        if (c[0] == 'd') {
            wrc = dbsync__writer_delete(w, (unsigned)t, list[i].row_id);
        } else {
            json_t *row = json_array_get(op, 3);
            if (!checked[t] ||
                json_integer_value(json_array_get(row, table->primary_key)) != list[i].row_id ||
                dbsync__row_from_json(row, table, values, &conn->error)) {
                json_decref(op);
                rc = fail(out, 400, "bad_request", "operation %zu (%c %s %lld): %s", i + 1, c[0],
                          table->name, (long long)list[i].row_id,
                          !checked[t] ? "its table has no \"columns\" in the header"
                                      : conn->error.message[0] ? conn->error.message
                                                               : "the row's key is not the operation's");
                goto done;
            }
            wrc = dbsync__writer_put(w, (unsigned)t, values);
            dbsync_row_clear(table, values);
        }
        json_decref(op);
        if (wrc) {
            rc = fail_db(out, conn, "push");
            goto done;
        }
        i++;
    }
    if (i != n) {
        rc = fail(out, 400, "bad_request", "%zu operation lines, %zu announced", i, n);
        goto done;
    }
    if (dbsync__writer_finish(w)) {
        rc = fail(out, 422, "cannot_apply", "push: %s", conn->error.message);
        goto done;
    }
    /* The version, and the operations stored under it. */
    char now[32], sql[512];
    dbsync__now_text(now, sizeof now);
    snprintf(sql, sizeof sql, "INSERT INTO sync_versions (node_id, created) VALUES (%lld, '%s')",
             (long long)node_id, now);
    int64_t version = 0;
    if (insert_get_id(conn, sql, "version_id", &version)) {
        rc = fail_db(out, conn, "push");
        goto done;
    }
    dbsync__buf b = DBSYNC__BUF_INIT;
    for (size_t at = 0; at < n; at += 500) {
        dbsync__buf_reset(&b);
        dbsync__buf_puts(&b, "INSERT INTO sync_operations (row_id, content_type_id, command, version_id) VALUES ");
        for (size_t i = at; i < n && i < at + 500; i++) {
            dbsync__buf_puts(&b, i > at ? ", (" : "(");
            dbsync__buf_put_int64(&b, list[i].row_id);
            dbsync__buf_puts(&b, ", ");
            dbsync__buf_put_int64(&b, conn->tables[list[i].table].content_type_id);
            dbsync__buf_printf(&b, ", '%c', ", list[i].command);
            dbsync__buf_put_int64(&b, version);
            dbsync__buf_putc(&b, ')');
        }
        if (b.oom || dbsync__exec(conn, b.data, "storing the operations")) {
            dbsync__buf_free(&b);
            rc = fail_db(out, conn, "push");
            goto done;
        }
    }
    dbsync__buf_free(&b);
    dbsync__buf_reset(&conn->sql);
    dbsync__buf_puts(&conn->sql, "UPDATE sync_nodes SET last_push_id = ");
    if (!dbsync__quote_string(conn, &conn->sql, push_id)) {
        rc = fail_db(out, conn, "push");
        goto done;
    }
    dbsync__buf_printf(&conn->sql, ", last_push_version = %lld WHERE node_id = %lld",
                       (long long)version, (long long)node_id);
    if (dbsync__exec(conn, conn->sql.data, "recording the push")) {
        rc = fail_db(out, conn, "push");
        goto done;
    }
    if (srv->opts.after_push) {
        dbsync_hook_info info = {"push", node_id, NULL, version, n};
        char msg[256] = "push refused";
        if (srv->opts.after_push(conn, &info, msg, sizeof msg, srv->opts.payload)) {
            msg[sizeof msg - 1] = '\0';
            rc = fail(out, 403, "refused", "%s", msg);
            goto done;
        }
    }
    *version_out = version;
    rc = DBSYNC_OK;
done:
    free(checked);
    free(key_max_known);
    free(key_max);
    free(values);
    dbsync__writer_free(w);
    free(list);
    return rc == DBSYNC_OK && !*version_out ? DBSYNC_ERROR : rc;
}

static int handle_push(dbsync_server *srv, dbsync_conn *conn, const dbsync_request *req,
                       dbsync_response *out)
{
    /* The body: a header line, then one line per operation. */
    const char *nl = req->body ? memchr(req->body, '\n', req->body_len) : NULL;
    size_t hlen = nl ? (size_t)(nl - req->body) : req->body_len;
    dbsync_request head = *req;
    head.body_len = hlen;
    json_t *body = parse_body(&head, out);
    if (!body)
        return DBSYNC_OK;
    const char *lines = nl ? nl + 1 : req->body + req->body_len;
    size_t lines_len = req->body_len - (size_t)(lines - req->body);
    int64_t node_id = member_int(body, "node_id");
    int64_t latest = member_int(body, "latest_version_id");
    const char *push_id = json_string_value(json_object_get(body, "push_id"));
    int rc;
    if (node_id <= 0 || latest < 0 || !push_id || !*push_id || strlen(push_id) > 64) {
        json_decref(body);
        return fail(out, 400, "bad_request",
                    "a push needs \"node_id\", \"latest_version_id\" and \"push_id\"");
    }
    /* Who signs: the node's secret. */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT secret FROM sync_nodes WHERE node_id = %lld AND is_self = %s",
             (long long)node_id, conn->dialect->false_literal);
    dbi_result r = dbsync__query(conn, sql, "reading the node");
    if (!r) {
        json_decref(body);
        return fail_db(out, conn, "push");
    }
    char *secret = dbi_result_next_row(r) ? dbi_result_get_string_copy_idx(r, 1) : NULL;
    dbi_result_free(r);
    if (!secret) {
        json_decref(body);
        return fail(out, 401, "unknown_node", "node %lld is not registered here", (long long)node_id);
    }
    bool good = req->signature && dbsync__hmac_check(secret, req->body, req->body_len, req->signature);
    free(secret);
    if (!good) {
        json_decref(body);
        return fail(out, 401, "bad_signature", "%s",
                    req->signature ? "the signature does not match the node's secret"
                                   : "the push is not signed (X-Dbsync-Signature)");
    }
    /* One push at a time: the write lock, then the version check. */
    bool own;
    rc = dbsync__tx_enter(conn, &own);
    if (rc) {
        json_decref(body);
        return fail_db(out, conn, "push");
    }
    int64_t version = 0, server_latest = 0, last_version = 0;
    const char *lock_failed = NULL;
    if (conn->dialect->write_lock(conn) || dbsync__latest_version(conn, &server_latest))
        lock_failed = "push";
    if (!lock_failed && conn->dialect->defer_fk_sql &&
        dbsync__exec(conn, conn->dialect->defer_fk_sql, "deferring checks"))
        lock_failed = "push";
    if (lock_failed) {
        rc = fail_db(out, conn, "push");
        goto rollback;
    }
    /* The same push again (its answer was lost): the same answer. */
    dbsync__buf_reset(&conn->sql);
    dbsync__buf_puts(&conn->sql, "SELECT last_push_version FROM sync_nodes WHERE node_id = ");
    dbsync__buf_put_int64(&conn->sql, node_id);
    dbsync__buf_puts(&conn->sql, " AND last_push_id = ");
    if (!dbsync__quote_string(conn, &conn->sql, push_id) ||
        dbsync__query_int(conn, conn->sql.data, &last_version)) {
        rc = fail_db(out, conn, "push");
        goto rollback;
    }
    if (last_version) {
        dbsync_conn_rollback(conn);
        end_tx(conn, true);
        json_decref(body);
        return respond(out, 200, json_pack("{s:I,s:b}", "version_id", (json_int_t)last_version,
                                           "replayed", 1));
    }
    if (latest != server_latest) {
        char msg[200];
        snprintf(msg, sizeof msg, "push refused: server is at version %lld, node at %lld (pull first)",
                 (long long)server_latest, (long long)latest);
        respond(out, 409, json_pack("{s:s,s:s,s:I}", "error", "pull_required", "message", msg,
                                    "version_id", (json_int_t)server_latest));
        goto rollback;
    }
    rc = apply_push(srv, conn, body, lines, lines_len, node_id, push_id, out, &version);
    if (rc || !version)
        goto rollback;
    if (dbsync_conn_commit(conn)) {
        end_tx(conn, true);
        json_decref(body);
        dbsync_response_clear(out);
        return fail_db(out, conn, "push");
    }
    end_tx(conn, false);
    json_decref(body);
    return respond(out, 200, json_pack("{s:I}", "version_id", (json_int_t)version));
rollback:
    if (own && conn->in_tx) {
        dbsync_error first = conn->error;
        dbsync_conn_rollback(conn);
        conn->error = first;
    }
    end_tx(conn, true);
    json_decref(body);
    return DBSYNC_OK;
}

/* ---- pull ---- */

typedef struct rows_out {
    json_t *rows; /* the table's "rows" array */
    dbsync_conn *conn;
} rows_out;

static int add_row(const dbsync_table *t, const dbsync_value *values, void *payload)
{
    rows_out *ro = payload;
    json_t *row = json_array();
    if (!row)
        return dbsync__error_nomem(&ro->conn->error);
    for (size_t i = 0; i < t->n_columns; i++) {
        json_t *v = dbsync__value_to_json(&values[i], t, &t->columns[i], &ro->conn->error);
        if (!v || json_array_append_new(row, v)) {
            json_decref(row);
            return DBSYNC_ERROR;
        }
    }
    return json_array_append_new(ro->rows, row) ? dbsync__error_nomem(&ro->conn->error)
                                                 : DBSYNC_OK;
}

/* Adds the rows of table t with keys ids to section (an object of tables). */
int dbsync__rows_section_add(dbsync_conn *conn, json_t *section, unsigned t, const int64_t *ids,
                             size_t n);
int dbsync__rows_section_add(dbsync_conn *conn, json_t *section, unsigned t, const int64_t *ids,
                             size_t n)
{
    if (n == 0)
        return DBSYNC_OK;
    const dbsync_table *table = &conn->schema->tables[t];
    json_t *entry = json_object_get(section, table->name);
    if (!entry) {
        entry = json_pack("{s:o,s:[]}", "columns", dbsync__columns_json(table), "rows");
        if (!entry || json_object_set_new(section, table->name, entry))
            return dbsync__error_nomem(&conn->error);
    }
    rows_out ro = {json_object_get(entry, "rows"), conn};
    return dbsync__read_rows(conn, t, ids, n, add_row, &ro);
}

/* Per table, the keys of one page's objects that need rows. */
typedef struct keylist {
    int64_t *ids;
    size_t n, cap;
} keylist;

static int keylist_add(keylist *k, int64_t id)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 64;
        int64_t *ids = realloc(k->ids, cap * sizeof *ids);
        if (!ids)
            return DBSYNC_ERROR;
        k->ids = ids;
        k->cap = cap;
    }
    k->ids[k->n++] = id;
    return DBSYNC_OK;
}

typedef struct pull_op {
    unsigned table;
    int64_t row_id;
    char command;
} pull_op;

static int handle_pull(dbsync_server *srv, dbsync_conn *conn, const dbsync_request *req,
                       dbsync_response *out)
{
    json_t *body = parse_body(req, out);
    if (!body)
        return DBSYNC_OK;
    const dbsync_schema *s = conn->schema;
    int64_t since = member_int(body, "latest_version_id");
    int64_t upto = member_int(body, "upto");
    int64_t limit = member_int(body, "limit");
    json_t *cursor = json_object_get(body, "cursor");
    json_t *deleted = json_object_get(body, "deleted");
    int64_t cur_ct = -1, cur_row = 0;
    if (since < 0 || upto == -2 || limit == -2 || (deleted && !json_is_array(deleted))) {
        json_decref(body);
        return fail(out, 400, "bad_request", "a pull needs \"latest_version_id\" (and optional "
                                             "\"upto\", \"limit\", \"cursor\", \"deleted\")");
    }
    if (cursor && !json_is_null(cursor)) {
        if (!json_is_array(cursor) || !json_is_integer(json_array_get(cursor, 0)) ||
            !json_is_integer(json_array_get(cursor, 1))) {
            json_decref(body);
            return fail(out, 400, "bad_request", "\"cursor\" must be [content_type_id, row_id]");
        }
        cur_ct = (int64_t)json_integer_value(json_array_get(cursor, 0));
        cur_row = (int64_t)json_integer_value(json_array_get(cursor, 1));
    }
    if (limit <= 0 || limit > srv->opts.page_size)
        limit = srv->opts.page_size;
    json_t *resp = json_object();
    pull_op *ops = NULL;
    size_t n_ops = 0, cap_ops = 0;
    dbsync__row_texts rt = {{0}, DBSYNC__BUF_INIT, conn};
    keylist *need = calloc(s->n_tables, sizeof *need);
    dbsync__buf b = DBSYNC__BUF_INIT;
    int rc = resp && need ? DBSYNC_OK : dbsync__error_nomem(&conn->error);
    bool first_page = cur_ct < 0;
    /* One snapshot for the page where the backend has one. */
    bool own = false;
    if (!rc)
        rc = dbsync__tx_enter(conn, &own);
    if (!rc && upto < 0)
        rc = dbsync__latest_version(conn, &upto);
    if (!rc && since > upto) {
        rc = DBSYNC_EINVALID;
        fail(out, 409, "repair_required",
             "the node is at version %lld, the server at %lld: this node's state is not the "
             "server's (repair)", (long long)since, (long long)upto);
    }
    if (!rc && first_page) {
        json_t *versions = json_array();
        dbsync__buf_printf(&b, "SELECT version_id, node_id, created FROM sync_versions WHERE "
                               "version_id > %lld AND version_id <= %lld ORDER BY version_id",
                           (long long)since, (long long)upto);
        dbi_result r = versions && !b.oom ? dbsync__query(conn, b.data, "reading versions") : NULL;
        rc = r ? DBSYNC_OK : DBSYNC_ERROR;
        while (r && dbi_result_next_row(r)) {
            const char *created = dbi_result_field_is_null_idx(r, 3) ? NULL : dbi_result_get_string_idx(r, 3);
            json_array_append_new(versions, json_pack("[I,I,s?]", (json_int_t)dbi_result_get_as_longlong_idx(r, 1),
                                                      (json_int_t)dbi_result_get_as_longlong_idx(r, 2), created));
        }
        if (r)
            dbi_result_free(r);
        json_object_set_new(resp, "versions", versions ? versions : json_array());
        /* Highest keys of each synced table: a node re-keying a colliding
         * insert goes above them. */
        json_t *maxk = json_object();
        for (size_t t = 0; !rc && maxk && t < s->n_tables; t++) {
            if (!(s->tables[t].flags & DBSYNC_TABLE_SYNCED))
                continue;
            /* every key the server ever used: its rows', and its log's */
            char sql[512];
            int64_t m = 0, logged = 0;
            snprintf(sql, sizeof sql, "SELECT MAX(%s) FROM %s", conn->tables[t].qcols[s->tables[t].primary_key],
                     conn->tables[t].qname);
            rc = dbsync__query_int(conn, sql, &m);
            snprintf(sql, sizeof sql, "SELECT MAX(row_id) FROM sync_operations WHERE content_type_id = %ld",
                     (long)conn->tables[t].content_type_id);
            if (!rc)
                rc = dbsync__query_int(conn, sql, &logged);
            json_object_set_new(maxk, s->tables[t].name, json_integer((json_int_t)(m > logged ? m : logged)));
        }
        json_object_set_new(resp, "max_keys", maxk ? maxk : json_object());
        /* Rows the node deleted and may need back (reversed dependencies). */
        json_t *restore = json_object();
        size_t i;
        json_t *obj;
        json_array_foreach(deleted, i, obj) {
            json_t *ct = json_array_get(obj, 0), *id = json_array_get(obj, 1);
            int t = json_is_integer(ct) ? dbsync__table_by_content_type(conn, (int32_t)json_integer_value(ct)) : -1;
            if (t >= 0 && json_is_integer(id))
                keylist_add(&need[t], (int64_t)json_integer_value(id));
        }
        for (size_t t = 0; !rc && restore && t < s->n_tables; t++) {
            rc = dbsync__rows_section_add(conn, restore, (unsigned)t, need[t].ids, need[t].n);
            need[t].n = 0;
        }
        json_object_set_new(resp, "restore", restore ? restore : json_object());
    }
    /* The page: the next `limit` objects changed in (since, upto], each
     * compressed to one operation by the server rules. */
    dbi_result r = NULL;
    int64_t ops_limit = limit * 4 + 16;
    bool truncated = false;
again:
    if (!rc) {
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b,
                           "SELECT content_type_id, row_id, command FROM sync_operations WHERE "
                           "+version_id > %lld AND +version_id <= %lld AND (content_type_id > %lld "
                           "OR (content_type_id = %lld AND row_id > %lld)) ORDER BY "
                           "content_type_id, row_id, %corder%c LIMIT %lld",
                           (long long)since, (long long)upto, (long long)cur_ct, (long long)cur_ct,
                           (long long)cur_row, conn->dialect->ident_quote, conn->dialect->ident_quote,
                           (long long)ops_limit);
        r = b.oom ? NULL : dbsync__query(conn, b.data, "reading operations");
        rc = r ? DBSYNC_OK : DBSYNC_ERROR;
        /* A full result may end inside an object: that object waits for the
         * next page (or, alone, for a larger read). */
        truncated = r && dbi_result_get_numrows(r) >= (unsigned long long)ops_limit;
    }
    int64_t objects = 0, last_ct = -1, last_row = 0, em_ct = 0, em_row = 0;
    char first_cmd = 0, last_cmd = 0;
    bool more = false;
    while (!rc && r) {
        bool has = dbi_result_next_row(r);
        int64_t ct = has ? (int64_t)dbi_result_get_as_longlong_idx(r, 1) : -1;
        int64_t row = has ? (int64_t)dbi_result_get_as_longlong_idx(r, 2) : 0;
        if (!has && truncated) {
            if (objects == 0) { /* one object with more operations than we read */
                dbi_result_free(r);
                r = NULL;
                ops_limit *= 4;
                last_ct = -1;
                goto again;
            }
            more = true;
            break;
        }
        if (!has || ct != last_ct || row != last_row) {
            if (last_ct >= 0) { /* an object is complete */
                char c = dbsync__compress_server(first_cmd, last_cmd);
                int t = dbsync__table_by_content_type(conn, (int32_t)last_ct);
                if (c && t >= 0) {
                    if (n_ops == cap_ops) {
                        cap_ops = cap_ops ? cap_ops * 2 : 256;
                        pull_op *grown = realloc(ops, cap_ops * sizeof *grown);
                        if (!grown) {
                            rc = dbsync__error_nomem(&conn->error);
                            break;
                        }
                        ops = grown;
                    }
                    ops[n_ops++] = (pull_op){(unsigned)t, last_row, c};
                    if (c != 'd' && keylist_add(&need[t], last_row))
                        rc = dbsync__error_nomem(&conn->error);
                }
                objects++;
                em_ct = last_ct;
                em_row = last_row;
            }
            if (!has)
                break;
            if (objects >= limit) {
                more = true;
                break;
            }
            last_ct = ct;
            last_row = row;
            const char *cmd = dbi_result_get_string_idx(r, 3);
            first_cmd = last_cmd = cmd ? cmd[0] : 'u';
        } else {
            const char *cmd = dbi_result_get_string_idx(r, 3);
            last_cmd = cmd ? cmd[0] : 'u';
        }
    }
    if (r)
        dbi_result_free(r);
    for (size_t t = 0; !rc && t < s->n_tables; t++)
        rc = dbsync__row_texts_read(&rt, (unsigned)t, need[t].ids, need[t].n);
    if (own && conn->in_tx) {
        dbsync_error first = conn->error;
        dbsync_conn_rollback(conn); /* read only */
        conn->error = first;
    }
    /* The answer: a header line, then one line per operation, as text. */
    dbsync__buf text = DBSYNC__BUF_INIT;
    if (!rc) {
        json_t *columns = json_object();
        for (size_t t = 0; columns && t < s->n_tables; t++)
            if (need[t].n)
                json_object_set_new(columns, s->tables[t].name, dbsync__columns_json(&s->tables[t]));
        json_object_set_new(resp, "protocol", json_integer(DBSYNC__PROTOCOL));
        json_object_set_new(resp, "upto", json_integer((json_int_t)upto));
        json_object_set_new(resp, "operations", json_integer((json_int_t)n_ops));
        json_object_set_new(resp, "columns", columns ? columns : json_object());
        json_object_set_new(resp, "cursor", more ? json_pack("[I,I]", (json_int_t)em_ct, (json_int_t)em_row)
                                                 : json_null());
        char *head = json_dumps(resp, JSON_COMPACT);
        if (!head) {
            rc = dbsync__error_nomem(&conn->error);
        } else {
            dbsync__buf_puts(&text, head);
            dbsync__buf_putc(&text, '\n');
            free(head);
        }
        for (size_t i = 0; !rc && i < n_ops; i++) {
            const char *row = ops[i].command == 'd' ? NULL
                                                    : dbsync__row_texts_get(&rt, ops[i].table, ops[i].row_id);
            if (ops[i].command != 'd' && !row)
                continue; /* gone since: a later pull brings its delete */
            dbsync__buf_printf(&text, "[%ld,%lld,\"%c\"", (long)conn->tables[ops[i].table].content_type_id,
                               (long long)ops[i].row_id, ops[i].command);
            if (row) {
                dbsync__buf_putc(&text, ',');
                dbsync__buf_puts(&text, row);
            }
            dbsync__buf_puts(&text, "]\n");
        }
        if (!rc && text.oom)
            rc = dbsync__error_nomem(&conn->error);
    }
    if (!rc) {
        out->status = 200;
        out->content_type = "application/json";
        out->body_len = text.len;
        out->body = dbsync__buf_take(&text);
    } else if (!out->body) {
        fail_db(out, conn, "pull");
    }
    dbsync__buf_free(&text);
    json_decref(resp);
    free(ops);
    dbsync__row_texts_clear(&rt);
    dbsync__buf_free(&rt.text);
    for (size_t t = 0; need && t < s->n_tables; t++)
        free(need[t].ids);
    free(need);
    dbsync__buf_free(&b);
    json_decref(body);
    return DBSYNC_OK;
}

/* ---- repair and query: rows of one table, by pages of keys ---- */

typedef struct qparam {
    char *key;
    char *value; /* NULL when the parameter had no '=' */
} qparam;

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes %XX and '+' in place; false on a bad escape or a NUL. */
static bool url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%') {
            int hi = hexv(s[1]), lo = hi >= 0 ? hexv(s[2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            *o++ = (char)(hi << 4 | lo);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return true;
}

/* Splits a query string; returns the count, -1 on a bad escape or memory. */
static int parse_query(const char *query, char **copy, qparam *params, int max)
{
    *copy = dbsync__strdup(query ? query : "");
    if (!*copy)
        return -1;
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(*copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
        if (n == max)
            return -1;
        char *eq = strchr(tok, '=');
        if (eq)
            *eq = '\0';
        params[n].key = tok;
        params[n].value = eq ? eq + 1 : NULL;
        if (!url_decode(params[n].key) || (params[n].value && !url_decode(params[n].value)))
            return -1;
        n++;
    }
    return n;
}

static const char *param(const qparam *p, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].key, key))
            return p[i].value ? p[i].value : "";
    return NULL;
}

/* Rows of table t (key > after, filters), up to limit, as a response with
 * "rows" and "cursor" (the last key, or null at the end). */
static int rows_page(dbsync_conn *conn, const dbsync_table *t, const dbsync_filter *filters,
                     size_t nf, int64_t after, int64_t limit, json_t *resp, dbsync_response *out)
{
    dbsync_filter *all = calloc(nf + 1, sizeof *all);
    char after_text[32];
    if (!all)
        return fail(out, 500, "internal", "out of memory");
    memcpy(all, filters, nf * sizeof *all);
    snprintf(after_text, sizeof after_text, "%lld", (long long)after);
    all[nf] = (dbsync_filter){t->columns[t->primary_key].name, DBSYNC_FILTER_GT, after_text};
    dbsync_query q = DBSYNC_QUERY_INIT;
    q.filters = all;
    q.n_filters = nf + 1;
    q.limit = limit + 1; /* one more tells whether there is a next page */
    dbsync_iter *it = NULL;
    int rc = dbsync_iter_new(&it, conn, t, &q);
    free(all);
    if (rc == DBSYNC_EINVALID)
        return fail(out, 400, "bad_request", "%s", conn->error.message);
    if (rc)
        return fail_db(out, conn, "reading rows");
    dbsync_value *v = calloc(t->n_columns, sizeof *v);
    json_t *section = json_pack("{s:o,s:[]}", "columns", dbsync__columns_json(t), "rows");
    rows_out ro = {section ? json_object_get(section, "rows") : NULL, conn};
    int64_t n = 0, last = 0;
    bool more = false;
    while (!rc && v && ro.rows && (rc = dbsync_iter_next_values(it, v)) == DBSYNC_OK) {
        if (n == limit) {
            more = true;
            dbsync_row_clear(t, v);
            break;
        }
        last = v[t->primary_key].u.i;
        rc = add_row(t, v, &ro);
        dbsync_row_clear(t, v);
        n++;
    }
    dbsync_iter_free(it);
    free(v);
    if (rc == DBSYNC_ITEROVER)
        rc = DBSYNC_OK;
    if (rc || !section) {
        json_decref(section);
        json_decref(resp);
        return fail_db(out, conn, "reading rows");
    }
    json_t *rows = json_object();
    json_object_set_new(rows, t->name, section);
    json_object_set_new(resp, "rows", rows);
    json_object_set_new(resp, "cursor", more ? json_integer((json_int_t)last) : json_null());
    return respond(out, 200, resp);
}

static int page_params(dbsync_server *srv, const qparam *p, int n, int64_t *after, int64_t *limit,
                       dbsync_response *out)
{
    const char *a = param(p, n, "after"), *l = param(p, n, "limit");
    *after = 0;
    *limit = srv->opts.page_size;
    if ((a && (dbsync__parse_int64(a, after) || *after < 0)) ||
        (l && (dbsync__parse_int64(l, limit) || *limit <= 0))) {
        fail(out, 400, "bad_request", "\"after\" and \"limit\" must be non-negative integers");
        return DBSYNC_EINVALID;
    }
    if (*limit > srv->opts.page_size)
        *limit = srv->opts.page_size;
    return DBSYNC_OK;
}

static const dbsync_table *synced_table(dbsync_conn *conn, const char *name)
{
    const dbsync_table *t = name ? dbsync_schema_table(conn->schema, name) : NULL;
    return t && (t->flags & DBSYNC_TABLE_SYNCED) ? t : NULL;
}

static int handle_repair(dbsync_server *srv, dbsync_conn *conn, const dbsync_request *req,
                         dbsync_response *out)
{
    qparam p[8];
    char *copy;
    int n = parse_query(req->query, &copy, p, 8);
    int rc;
    if (n < 0) {
        rc = fail(out, 400, "bad_request", "bad query string");
        goto done;
    }
    const char *table = param(p, n, "table");
    if (!table) { /* the start of a repair: the version and the tables */
        int64_t latest;
        if (dbsync__latest_version(conn, &latest)) {
            rc = fail_db(out, conn, "repair");
            goto done;
        }
        json_t *names = json_array();
        for (size_t t = 0; names && t < conn->schema->n_tables; t++)
            if (conn->schema->tables[t].flags & DBSYNC_TABLE_SYNCED)
                json_array_append_new(names, json_string(conn->schema->tables[t].name));
        rc = respond(out, 200, json_pack("{s:I,s:o*}", "upto", (json_int_t)latest, "tables", names));
        goto done;
    }
    const dbsync_table *t = synced_table(conn, table);
    if (!t) {
        rc = fail(out, 404, "unknown_table", "no synced table \"%.60s\"", table);
        goto done;
    }
    int64_t after, limit;
    if ((rc = page_params(srv, p, n, &after, &limit, out)))
        goto done;
    rc = rows_page(conn, t, NULL, 0, after, limit, json_object(), out);
done:
    free(copy);
    return rc == DBSYNC_EINVALID ? DBSYNC_OK : rc;
}

static int handle_query(dbsync_server *srv, dbsync_conn *conn, const dbsync_request *req,
                        dbsync_response *out)
{
    qparam p[72];
    dbsync_filter f[64];
    size_t nf = 0;
    char *copy;
    int n = parse_query(req->query, &copy, p, 72);
    int rc;
    if (n < 0) {
        rc = fail(out, 400, "bad_request", "bad or too long query string");
        goto done;
    }
    const dbsync_table *t = synced_table(conn, param(p, n, "table"));
    if (!t) {
        rc = fail(out, 404, "unknown_table", "\"table\" must name a synced table");
        goto done;
    }
    /* Filters: f.COLUMN=VALUE (equal) and n.COLUMN (IS NULL). */
    for (int i = 0; i < n && nf < 64; i++) {
        bool eq = !strncmp(p[i].key, "f.", 2), isnull = !strncmp(p[i].key, "n.", 2);
        if (!eq && !isnull)
            continue;
        const char *col = p[i].key + 2;
        if (dbsync_table_column(t, col) < 0) {
            rc = fail(out, 400, "bad_request", "unknown column \"%.60s\" in table %s", col, t->name);
            goto done;
        }
        f[nf++] = (dbsync_filter){col, eq ? DBSYNC_FILTER_EQ : DBSYNC_FILTER_IS_NULL,
                                  eq ? (p[i].value ? p[i].value : "") : NULL};
    }
    int64_t after, limit;
    if ((rc = page_params(srv, p, n, &after, &limit, out)))
        goto done;
    rc = rows_page(conn, t, f, nf, after, limit, json_object(), out);
done:
    free(copy);
    return rc == DBSYNC_EINVALID ? DBSYNC_OK : rc;
}

int dbsync_server_handle(dbsync_server *srv, dbsync_conn *conn, const dbsync_request *req,
                         dbsync_response *out)
{
    memset(out, 0, sizeof *out);
    if (!req || !req->method || !req->path)
        return fail(out, 400, "bad_request", "no method or path");
    if (conn->schema != srv->schema)
        return fail(out, 500, "internal", "the connection's schema is not the server's");
    if (conn->in_tx)
        return fail(out, 500, "internal", "the connection is inside a transaction");
    static const struct {
        const char *path, *method;
        int (*fn)(dbsync_server *, dbsync_conn *, const dbsync_request *, dbsync_response *);
    } routes[] = {
        {"/register", "POST", handle_register}, {"/push", "POST", handle_push},
        {"/pull", "POST", handle_pull},         {"/repair", "GET", handle_repair},
        {"/query", "GET", handle_query},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(req->path, routes[i].path))
            continue;
        if (strcmp(req->method, routes[i].method))
            return fail(out, 405, "method_not_allowed", "%s wants %s", routes[i].path,
                        routes[i].method);
        routes[i].fn(srv, conn, req, out);
        if (!out->body) /* every path answers; this is a safety net */
            return fail(out, 500, "internal", "%s", conn->error.message);
        return DBSYNC_OK;
    }
    return fail(out, 404, "not_found", "no endpoint %.100s", req->path);
}

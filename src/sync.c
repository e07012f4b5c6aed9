/* SPDX-License-Identifier: MIT */
/*
 * The client procedures: register, push, pull with its merge, sync,
 * repair and query. Network first, database last: a pull fetches every
 * page into a temporary file before its merge opens the one transaction
 * that applies them, so the application's writers are never held up by
 * the network, and a failure anywhere leaves the database as it was.
 *
 * The merge follows DESIGN.md ("Merge"): both logs compressed to one
 * operation per object; a first pass gives colliding local inserts new
 * keys; a second applies the server's operations, resolving direct,
 * dependency and reversed-dependency conflicts in favour of the node; the
 * writer carries out unique swaps and reports real unique conflicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbsync/sync.h"
#include "http.h"
#include "sync_internal.h"

static int progress(const dbsync_client_options *o, dbsync_conn *conn, const char *stage,
                    int64_t done, int64_t total)
{
    if (o && o->progress && o->progress(stage, done, total, o->payload))
        return dbsync__error_set(&conn->error, DBSYNC_EUSER, DBSYNC_ECLASS_SYNC,
                                 "%s cancelled by the progress callback", stage);
    return DBSYNC_OK;
}

static int check_call(dbsync_conn *conn, const char *url, const dbsync_client_options **opts,
                      const dbsync_client_options *defaults)
{
    if (!*opts)
        *opts = defaults;
    if ((*opts)->version != DBSYNC_CLIENT_OPTIONS_VERSION)
        return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "dbsync_client_options version %u is not %u (use "
                                 "DBSYNC_CLIENT_OPTIONS_INIT)",
                                 (*opts)->version, DBSYNC_CLIENT_OPTIONS_VERSION);
    if (conn->in_tx)
        return dbsync__error_set(&conn->error, DBSYNC_ETXN, DBSYNC_ECLASS_ARG,
                                 "a sync procedure cannot run inside a transaction");
    return dbsync__http_check_url(url, &conn->error);
}

/* Interprets an answer: a 2xx JSON object goes to *out; anything else
 * becomes the code its "error" says, with the server's message. */
static int answer(dbsync_conn *conn, const char *url, const char *path,
                  const dbsync__http_response *r, json_t **out)
{
    *out = NULL;
    json_error_t jerr;
    json_t *j = r->len ? json_loadb(r->body, r->len, 0, &jerr) : NULL;
    if (r->status >= 200 && r->status < 300) {
        if (json_is_object(j)) {
            *out = j;
            return DBSYNC_OK;
        }
        json_decref(j);
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                                 "%s%s: the server's answer is not a JSON object", url, path);
    }
    const char *err = json_string_value(json_object_get(j, "error"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    char text[300];
    snprintf(text, sizeof text, "%.290s", msg ? msg : (r->body && r->len ? r->body : "no message"));
    int code = DBSYNC_ERROR, klass = DBSYNC_ECLASS_HTTP;
    if (err && !strcmp(err, "pull_required"))
        code = DBSYNC_EPULLREQUIRED, klass = DBSYNC_ECLASS_SYNC;
    else if (err && !strcmp(err, "unknown_node"))
        code = DBSYNC_ENOTREGISTERED, klass = DBSYNC_ECLASS_SYNC;
    else if (err && !strcmp(err, "refused"))
        code = DBSYNC_EUSER, klass = DBSYNC_ECLASS_SYNC;
    else if (err && (!strcmp(err, "cannot_apply") || !strcmp(err, "unique_conflict")))
        code = DBSYNC_ECONFLICT, klass = DBSYNC_ECLASS_SYNC;
    else if (r->status == 503 || r->status == 502 || r->status == 504)
        code = DBSYNC_ENET;
    dbsync__error_set(&conn->error, code, klass, "%s%s: %ld %s", url, path, r->status, text);
    conn->error.cause = r->status;
    json_decref(j);
    return code;
}

/* Sends a request and interprets the answer (see answer()). */
static int call(dbsync_conn *conn, const char *method, const char *url, const char *path,
                const char *body, const char *signature, const dbsync_client_options *opts,
                json_t **out)
{
    dbsync__http_response r = {0};
    *out = NULL;
    int rc = dbsync__http_request(conn, method, url, path, body, body ? strlen(body) : 0, signature,
                                  opts, &r);
    if (!rc)
        rc = answer(conn, url, path, &r, out);
    dbsync__http_response_clear(&r);
    return rc;
}

/* This node's id and secret (is_self). */
static int self_node(dbsync_conn *conn, int64_t *id, char secret[129])
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT node_id, secret FROM sync_nodes WHERE is_self = %s",
             conn->dialect->true_literal);
    dbi_result r = dbsync__query(conn, sql, "reading this node");
    if (!r)
        return DBSYNC_ERROR;
    *id = 0;
    if (dbi_result_next_row(r)) {
        *id = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
        const char *s = dbi_result_get_string_idx(r, 2);
        snprintf(secret, 129, "%s", s ? s : "");
    }
    dbi_result_free(r);
    if (!*id)
        return dbsync__error_set(&conn->error, DBSYNC_ENOTREGISTERED, DBSYNC_ECLASS_SYNC,
                                 "this database is not registered with a server (register first)");
    return DBSYNC_OK;
}

/* ---- register ---- */

int dbsync_register(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts)
{
    dbsync_client_options defaults = DBSYNC_CLIENT_OPTIONS_INIT;
    int rc = check_call(conn, server_url, &opts, &defaults);
    if (rc)
        return rc;
    int64_t id;
    char secret[129];
    rc = self_node(conn, &id, secret);
    if (rc == DBSYNC_OK)
        return dbsync__error_set(&conn->error, DBSYNC_EEXISTS, DBSYNC_ECLASS_SYNC,
                                 "this database is already registered as node %lld", (long long)id);
    if (rc != DBSYNC_ENOTREGISTERED)
        return rc;
    json_t *req = json_pack("{s:i,s:s?}", "protocol", DBSYNC__PROTOCOL, "token", opts->token);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return dbsync__error_nomem(&conn->error);
    json_t *ans;
    rc = call(conn, "POST", server_url, "/register", body, NULL, opts, &ans);
    free(body);
    if (rc)
        return rc;
    json_int_t node = json_integer_value(json_object_get(ans, "node_id"));
    const char *sec = json_string_value(json_object_get(ans, "secret"));
    if (node <= 0 || !sec || strlen(sec) > 128 || strspn(sec, "0123456789abcdef") != strlen(sec)) {
        json_decref(ans);
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                                 "%s/register: the answer has no valid node_id and secret",
                                 server_url);
    }
    char now[32], sql[512];
    dbsync__now_text(now, sizeof now);
    snprintf(sql, sizeof sql,
             "INSERT INTO sync_nodes (node_id, registered, secret, is_self) VALUES (%lld, '%s', "
             "'%s', %s)",
             (long long)node, now, sec, conn->dialect->true_literal);
    json_decref(ans);
    bool own;
    rc = dbsync__tx_enter(conn, &own);
    if (!rc)
        rc = dbsync__exec(conn, sql, "storing this node's identity");
    return dbsync__tx_leave(conn, own, rc);
}

/* ---- the local log ---- */

typedef struct local_obj {
    unsigned table;
    int64_t row_id;
    char cmds[8]; /* the first commands, then the last one in cmds[7] */
    size_t n;
    char command; /* compressed */
} local_obj;

typedef struct local_log {
    local_obj *objs;
    size_t n, cap;
    dbsync__objmap index; /* (table, row) -> position + 1 */
    int64_t *orders;      /* every unpushed operation's order */
    size_t n_orders, cap_orders;
    int64_t anomalies;
} local_log;

static void local_log_free(local_log *l)
{
    free(l->objs);
    free(l->orders);
    dbsync__objmap_free(&l->index);
    memset(l, 0, sizeof *l);
}

static int local_add(local_log *l, unsigned t, int64_t row, char cmd)
{
    size_t pos = (size_t)dbsync__objmap_get(&l->index, t, row, 0);
    if (!pos) {
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 256;
            local_obj *o = realloc(l->objs, cap * sizeof *o);
            if (!o)
                return DBSYNC_ERROR;
            l->objs = o;
            l->cap = cap;
        }
        l->objs[l->n] = (local_obj){t, row, {0}, 0, 0};
        pos = ++l->n;
        if (dbsync__objmap_put(&l->index, t, row, (intptr_t)pos))
            return DBSYNC_ERROR;
    }
    local_obj *o = &l->objs[pos - 1];
    /* Keep the first seven commands and always the last: enough to see
     * whether the sequence follows the rules. */
    if (o->n < 7)
        o->cmds[o->n] = cmd;
    else
        o->cmds[7] = cmd;
    o->n++;
    return DBSYNC_OK;
}

/* Loads and compresses the unpushed operations. */
static int local_load(dbsync_conn *conn, local_log *l)
{
    memset(l, 0, sizeof *l);
    int rc = dbsync__flush_ops(conn);
    if (rc)
        return rc;
    char sql[320];
    char q = conn->dialect->ident_quote;
    /* In pages: libdbi holds a whole result in memory. */
    int64_t after = 0;
    for (bool more = true; !rc && more;) {
        snprintf(sql, sizeof sql,
                 "SELECT %corder%c, content_type_id, row_id, command FROM sync_operations WHERE "
                 "version_id IS NULL AND %corder%c > %lld ORDER BY %corder%c LIMIT 5000",
                 q, q, q, q, (long long)after, q, q);
        dbi_result r = dbsync__query(conn, sql, "reading the operations log");
        if (!r)
            return DBSYNC_ERROR;
        more = dbi_result_get_numrows(r) == 5000;
        while (!rc && dbi_result_next_row(r)) {
            int64_t order = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
            int t =
                dbsync__table_by_content_type(conn, (int32_t)dbi_result_get_as_longlong_idx(r, 2));
            int64_t row = (int64_t)dbi_result_get_as_longlong_idx(r, 3);
            const char *cmd = dbi_result_get_string_idx(r, 4);
            if (l->n_orders == l->cap_orders) {
                size_t cap = l->cap_orders ? l->cap_orders * 2 : 256;
                int64_t *o = realloc(l->orders, cap * sizeof *o);
                if (!o) {
                    rc = dbsync__error_nomem(&conn->error);
                    break;
                }
                l->orders = o;
                l->cap_orders = cap;
            }
            l->orders[l->n_orders++] = order;
            after = order;
            if (t < 0) { /* a table no longer in the schema: its operations are dropped */
                l->anomalies++;
                continue;
            }
            if (local_add(l, (unsigned)t, row, cmd && *cmd ? cmd[0] : 'u'))
                rc = dbsync__error_nomem(&conn->error);
        }
        dbi_result_free(r);
    }
    for (size_t i = 0; !rc && i < l->n; i++) {
        local_obj *o = &l->objs[i];
        bool anomaly;
        if (o->n <= 7) {
            o->command = dbsync__compress_local(o->cmds, o->n, &anomaly);
        } else {
            char seq[8];
            memcpy(seq, o->cmds, 7);
            seq[7] = o->cmds[7];
            o->command = dbsync__compress_local(seq, 8, &anomaly);
        }
        if (anomaly)
            l->anomalies++;
    }
    return rc;
}

static char local_command(const local_log *l, unsigned t, int64_t row)
{
    size_t pos = (size_t)dbsync__objmap_get(&l->index, t, row, 0);
    return pos ? l->objs[pos - 1].command : 0;
}

static void local_set(local_log *l, unsigned t, int64_t row, char cmd)
{
    size_t pos = (size_t)dbsync__objmap_get(&l->index, t, row, 0);
    if (pos)
        l->objs[pos - 1].command = cmd;
}

/* ---- push ---- */

int dbsync__rows_section_add(dbsync_conn *conn, json_t *section, unsigned t, const int64_t *ids,
                             size_t n);

/* Marks exactly the sent operations with the version the server created. */
static int mark_pushed(dbsync_conn *conn, const local_log *l, int64_t node, int64_t version)
{
    char q = conn->dialect->ident_quote, now[32];
    dbsync__buf b = DBSYNC__BUF_INIT;
    bool own;
    int rc = dbsync__tx_enter(conn, &own);
    for (size_t at = 0; !rc && at < l->n_orders; at += 500) {
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b, "UPDATE sync_operations SET version_id = %lld WHERE %corder%c IN (",
                           (long long)version, q, q);
        for (size_t i = at; i < l->n_orders && i < at + 500; i++) {
            if (i > at)
                dbsync__buf_putc(&b, ',');
            dbsync__buf_put_int64(&b, l->orders[i]);
        }
        dbsync__buf_putc(&b, ')');
        rc = b.oom ? dbsync__error_nomem(&conn->error)
                   : dbsync__exec(conn, b.data, "marking pushed operations");
    }
    if (!rc) {
        dbsync__now_text(now, sizeof now);
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b,
                           "INSERT INTO sync_versions (version_id, node_id, created) VALUES "
                           "(%lld, %lld, '%s')",
                           (long long)version, (long long)node, now);
        rc = b.oom ? dbsync__error_nomem(&conn->error)
                   : dbsync__exec(conn, b.data, "recording the version");
    }
    dbsync__buf_free(&b);
    return dbsync__tx_leave(conn, own, rc);
}

static int push(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts,
                bool *sent);

int dbsync_push(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts)
{
    dbsync_client_options defaults = DBSYNC_CLIENT_OPTIONS_INIT;
    int rc = check_call(conn, server_url, &opts, &defaults);
    bool sent;
    return rc ? rc : push(conn, server_url, opts, &sent);
}

#define PUSH_CHUNK 500

/* The push's body: a header line, then one line per operation with its
 * row, built chunk by chunk (rows read 500 at a time), as text. */
/* The push's body goes to a temporary file in pieces, signed on its way:
 * a push of any size takes little memory. */
typedef struct spool {
    FILE *f;
    dbsync__buf buf;
    dbsync__hmac mac;
    size_t total;
} spool;

static int spool_flush(dbsync_conn *conn, spool *sp)
{
    if (sp->buf.oom)
        return dbsync__error_nomem(&conn->error);
    if (!sp->buf.len)
        return DBSYNC_OK;
    if (dbsync__hmac_update(&sp->mac, sp->buf.data, sp->buf.len) ||
        fwrite(sp->buf.data, 1, sp->buf.len, sp->f) != sp->buf.len)
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_OS,
                                 "cannot write the push to a temporary file");
    sp->total += sp->buf.len;
    dbsync__buf_reset(&sp->buf);
    return DBSYNC_OK;
}

static int push_body(dbsync_conn *conn, const local_log *l, int64_t node, int64_t latest,
                     const char *push_id, spool *sp)
{
    dbsync__buf *body = &sp->buf;
    const dbsync_schema *s = conn->schema;
    size_t n_ops = 0;
    bool *has_rows = calloc(s->n_tables + 1, sizeof *has_rows);
    if (!has_rows)
        return dbsync__error_nomem(&conn->error);
    for (size_t i = 0; i < l->n; i++) {
        if (l->objs[i].command)
            n_ops++;
        if (l->objs[i].command == 'i' || l->objs[i].command == 'u')
            has_rows[l->objs[i].table] = true;
    }
    json_t *columns = json_object();
    for (size_t t = 0; columns && t < s->n_tables; t++)
        if (has_rows[t])
            json_object_set_new(columns, s->tables[t].name, dbsync__columns_json(&s->tables[t]));
    free(has_rows);
    json_t *head =
        columns ? json_pack("{s:i,s:I,s:I,s:s,s:I,s:o}", "protocol", DBSYNC__PROTOCOL, "node_id",
                            (json_int_t)node, "latest_version_id", (json_int_t)latest, "push_id",
                            push_id, "operations", (json_int_t)n_ops, "columns", columns)
                : NULL;
    char *text = head ? json_dumps(head, JSON_COMPACT) : NULL;
    json_decref(head);
    if (!text)
        return dbsync__error_nomem(&conn->error);
    dbsync__buf_puts(body, text);
    dbsync__buf_putc(body, '\n');
    free(text);
    dbsync__row_texts cr = {{0}, DBSYNC__BUF_INIT, conn};
    int64_t *ids = malloc(PUSH_CHUNK * sizeof *ids);
    int rc = ids ? DBSYNC_OK : dbsync__error_nomem(&conn->error);
    for (size_t at = 0; !rc && at < l->n; at += PUSH_CHUNK) {
        size_t stop = at + PUSH_CHUNK < l->n ? at + PUSH_CHUNK : l->n;
        /* this chunk's rows, table by table */
        for (size_t t = 0; !rc && t < s->n_tables; t++) {
            size_t n = 0;
            for (size_t i = at; i < stop; i++)
                if (l->objs[i].table == t &&
                    (l->objs[i].command == 'i' || l->objs[i].command == 'u'))
                    ids[n++] = l->objs[i].row_id;
            if (n)
                rc = dbsync__row_texts_read(&cr, (unsigned)t, ids, n);
        }
        for (size_t i = at; !rc && i < stop; i++) {
            const local_obj *o = &l->objs[i];
            if (!o->command)
                continue;
            const char *row =
                o->command == 'd' ? NULL : dbsync__row_texts_get(&cr, o->table, o->row_id);
            /* A row that vanished since its operation (deleted around
             * dbsync) cannot be sent: the operation becomes a delete. */
            dbsync__buf_printf(body, "[%ld,%lld,\"%c\"",
                               (long)conn->tables[o->table].content_type_id, (long long)o->row_id,
                               row ? o->command : 'd');
            if (row) {
                dbsync__buf_putc(body, ',');
                dbsync__buf_puts(body, row);
            }
            dbsync__buf_puts(body, "]\n");
        }
        dbsync__row_texts_clear(&cr);
        if (!rc)
            rc = spool_flush(conn, sp);
    }
    dbsync__row_texts_clear(&cr);
    dbsync__buf_free(&cr.text);
    free(ids);
    return rc;
}

static int push(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts,
                bool *sent)
{
    int rc;
    *sent = false;
    int64_t node, latest;
    char secret[129];
    if ((rc = self_node(conn, &node, secret)) || (rc = dbsync__latest_version(conn, &latest)))
        return rc;
    local_log l;
    spool sp = {NULL, DBSYNC__BUF_INIT, {NULL}, 0};
    rc = local_load(conn, &l);
    if (rc || l.n_orders == 0)
        goto done;
    /* The push's id: the same operations give the same id, so a push
     * whose answer was lost is recognized by the server when retried. */
    char push_id[65];
    dbsync__buf ob = DBSYNC__BUF_INIT;
    for (size_t i = 0; i < l.n_orders; i++) {
        dbsync__buf_put_int64(&ob, l.orders[i]);
        dbsync__buf_putc(&ob, ',');
    }
    rc = ob.oom ? dbsync__error_nomem(&conn->error)
                : dbsync__hmac_hex(secret, ob.data, ob.len, push_id);
    dbsync__buf_free(&ob);
    if (rc)
        goto done;
    push_id[32] = '\0';
    /* Rows are read now: a write made after the log was read has a later
     * operation, which stays unpushed. */
    sp.f = tmpfile();
    if (!sp.f) {
        rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_OS,
                               "cannot create a temporary file for the push");
        goto done;
    }
    if (dbsync__hmac_begin(&sp.mac, secret)) {
        rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_OS, "no HMAC-SHA256");
        goto done;
    }
    if ((rc = progress(opts, conn, "push", 0, (int64_t)l.n)) ||
        (rc = push_body(conn, &l, node, latest, push_id, &sp)) || (rc = spool_flush(conn, &sp)))
        goto done;
    char sig[65];
    if (dbsync__hmac_end(&sp.mac, sig) || fflush(sp.f)) {
        rc =
            dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_OS, "cannot sign the push");
        goto done;
    }
    json_t *ans;
    dbsync__http_response r = {0};
    rc =
        dbsync__http_request_file(conn, "POST", server_url, "/push", sp.f, sp.total, sig, opts, &r);
    if (!rc)
        rc = answer(conn, server_url, "/push", &r, &ans);
    dbsync__http_response_clear(&r);
    if (rc)
        goto done;
    int64_t version = (int64_t)json_integer_value(json_object_get(ans, "version_id"));
    json_decref(ans);
    if (version <= latest) {
        rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                               "%s/push: the answer has no new version", server_url);
        goto done;
    }
    *sent = true;
    rc = mark_pushed(conn, &l, node, version);
    if (!rc)
        rc = progress(opts, conn, "push", (int64_t)l.n, (int64_t)l.n);
done:
    if (sp.mac.ctx) {
        char unused[65];
        dbsync__hmac_end(&sp.mac, unused);
    }
    if (sp.f)
        fclose(sp.f);
    dbsync__buf_free(&sp.buf);
    local_log_free(&l);
    return rc;
}

/* ---- pull ---- */

/* The pages of a pull, kept in a temporary file until the merge. */
typedef struct staged {
    FILE *f;
    size_t pages;
} staged;

static int stage_write(dbsync_conn *conn, staged *st, const char *text, size_t len)
{
    uint64_t n = len;
    if (fwrite(&n, sizeof n, 1, st->f) != 1 || fwrite(text, 1, len, st->f) != len)
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_OS,
                                 "cannot write the pulled pages to a temporary file");
    st->pages++;
    return DBSYNC_OK;
}

/* Reads the next page's text (caller frees); NULL at the end or on error. */
static char *stage_next(dbsync_conn *conn, staged *st, size_t *len, int *rc)
{
    uint64_t n;
    *rc = DBSYNC_OK;
    if (fread(&n, sizeof n, 1, st->f) != 1)
        return NULL;
    char *text = malloc(n + 1);
    if (!text) {
        *rc = dbsync__error_nomem(&conn->error);
        return NULL;
    }
    if (fread(text, 1, n, st->f) != n) {
        free(text);
        *rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_OS,
                                "cannot read back the pulled pages");
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* The header line of a page (or of a push). */
static json_t *page_header(dbsync_conn *conn, const char *text, size_t len, size_t *header_len)
{
    const char *nl = memchr(text, '\n', len);
    *header_len = nl ? (size_t)(nl - text) + 1 : len;
    json_error_t jerr;
    json_t *h = json_loadb(text, nl ? (size_t)(nl - text) : len, 0, &jerr);
    if (!json_is_object(h)) {
        json_decref(h);
        dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                          "a pulled page does not start with a JSON header: %s", jerr.text);
        return NULL;
    }
    return h;
}

/* Fetches every page after `since` into st; *upto receives the version the
 * pull brings the node to. */
static int fetch_pages(dbsync_conn *conn, const char *url, const dbsync_client_options *opts,
                       int64_t since, const local_log *l, staged *st, int64_t *upto)
{
    json_t *deleted = json_array();
    for (size_t i = 0; deleted && i < l->n; i++)
        if (l->objs[i].command == 'd')
            json_array_append_new(
                deleted,
                json_pack("[I,I]", (json_int_t)conn->tables[l->objs[i].table].content_type_id,
                          (json_int_t)l->objs[i].row_id));
    json_t *cursor = json_null();
    int64_t limit = opts->page_size > 0 ? opts->page_size : 5000, ops = 0;
    *upto = -1;
    int rc = deleted ? DBSYNC_OK : dbsync__error_nomem(&conn->error);
    while (!rc) {
        json_t *req =
            json_pack("{s:i,s:I,s:I,s:O}", "protocol", DBSYNC__PROTOCOL, "latest_version_id",
                      (json_int_t)since, "limit", (json_int_t)limit, "cursor", cursor);
        if (req && *upto >= 0)
            json_object_set_new(req, "upto", json_integer((json_int_t)*upto));
        if (req && *upto < 0)
            json_object_set(req, "deleted", deleted);
        char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
        json_decref(req);
        if (!body) {
            rc = dbsync__error_nomem(&conn->error);
            break;
        }
        dbsync__http_response r = {0};
        rc = dbsync__http_request(conn, "POST", url, "/pull", body, strlen(body), NULL, opts, &r);
        free(body);
        if (rc)
            break;
        json_t *page;
        size_t hl;
        if (r.status != 200) { /* an error answer is one JSON object */
            rc = answer(conn, url, "/pull", &r, &page);
            if (!rc) {
                json_decref(page);
                rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_HTTP,
                                       "%s/pull: status %ld", url, r.status);
            }
            dbsync__http_response_clear(&r);
            break;
        }
        if (!(page = page_header(conn, r.body ? r.body : "", r.len, &hl))) {
            rc = DBSYNC_ERROR;
            dbsync__http_response_clear(&r);
            break;
        }
        if (*upto < 0)
            *upto = (int64_t)json_integer_value(json_object_get(page, "upto"));
        ops += (int64_t)json_integer_value(json_object_get(page, "operations"));
        json_decref(cursor);
        cursor = json_incref(json_object_get(page, "cursor"));
        json_decref(page);
        rc = stage_write(conn, st, r.body, r.len);
        dbsync__http_response_clear(&r);
        if (!rc)
            rc = progress(opts, conn, "pull", ops, -1);
        if (!cursor || json_is_null(cursor))
            break;
    }
    json_decref(cursor);
    json_decref(deleted);
    return rc;
}

/* ---- the merge ---- */

typedef struct pending_delete {
    unsigned table;
    int64_t id;
    bool kept;
} pending_delete;

typedef struct merge {
    dbsync_conn *conn;
    local_log *l;
    dbsync__writer *w;
    dbsync__objmap restore; /* (table, key) -> json row the server sent back */
    dbsync__objmap aliases; /* (table, new key) -> the key a re-keyed row had */
    int64_t *next_key;      /* per table: above every key either side ever used */
    dbsync_value *values;   /* scratch row */
    dbsync__buf sql;
    pending_delete *dels; /* server deletes, decided once every page is read */
    size_t ndels, capdels;
} merge;

static int drop_local_ops(merge *m, unsigned t, int64_t id)
{
    dbsync_conn *conn = m->conn;
    dbsync__buf_reset(&m->sql);
    dbsync__buf_printf(&m->sql,
                       "DELETE FROM sync_operations WHERE version_id IS NULL AND "
                       "content_type_id = %ld AND row_id = %lld",
                       (long)conn->tables[t].content_type_id, (long long)id);
    local_set(m->l, t, id, 0);
    return m->sql.oom ? dbsync__error_nomem(&conn->error)
                      : dbsync__exec(conn, m->sql.data, "dropping a local operation");
}

/* A row the server deleted lives on here (a local update or a local row
 * needing it): the next push must re-create it on the server. It is logged
 * as an update, which the server applies as an insert when the row is
 * missing: an insert would carry a key the server has used before, which
 * the server refuses so that no key is ever handed out twice. */
static int keep_row_for_push(merge *m, unsigned t, int64_t id)
{
    int rc = drop_local_ops(m, t, id);
    if (!rc)
        rc = dbsync__log_op(m->conn, t, 'u', id);
    if (!rc) {
        if (!dbsync__objmap_get(&m->l->index, t, id, 0) && local_add(m->l, t, id, 'u'))
            return dbsync__error_nomem(&m->conn->error);
        local_set(m->l, t, id, 'u');
    }
    return rc;
}

static int keep_values(const dbsync_table *t, const dbsync_value *values, void *payload)
{
    dbsync_value *out = payload;
    for (size_t i = 0; i < t->n_columns; i++)
        if (dbsync_value_copy(&out[i], &values[i]) != DBSYNC_OK) {
            dbsync_row_clear(t, out);
            return DBSYNC_ERROR;
        }
    return DBSYNC_OK;
}

/* Gives a local insert whose key the server has used a new key, and
 * points the local rows that referenced it at the new key. The row is
 * deleted and inserted again (not updated) so that every backend's key
 * generator sees the new key and never hands it out. */
static int rekey(merge *m, unsigned t, int64_t old)
{
    dbsync_conn *conn = m->conn;
    const dbsync_schema *s = conn->schema;
    const dbsync_table *table = &s->tables[t];
    const dbsync__table_info *info = &conn->tables[t];
    int64_t id = m->next_key[t]++;
    char sql[768];
    dbsync_value *v = calloc(table->n_columns, sizeof *v);
    if (!v)
        return dbsync__error_nomem(&conn->error);
    for (size_t i = 0; i < table->n_columns; i++)
        v[i].is_null = true, v[i].type = table->columns[i].type;
    int rc = dbsync__read_rows(conn, t, &old, 1, keep_values, v);
    if (!rc && v[table->primary_key].is_null)
        rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_SYNC,
                               "%s %lld is logged as inserted but does not exist (written around "
                               "dbsync?)",
                               table->name, (long long)old);
    if (!rc) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s = %lld", info->qname,
                 info->qcols[table->primary_key], (long long)old);
        rc = dbsync__exec(conn, sql, "giving a local row a new key");
    }
    if (!rc) {
        v[table->primary_key].u.i = id;
        dbsync__buf_reset(&m->sql);
        dbsync__buf_puts(&m->sql, info->insert_all);
        for (size_t i = 0; !rc && i < table->n_columns; i++) {
            if (i)
                dbsync__buf_puts(&m->sql, ", ");
            if (!dbsync__append_literal(conn, &m->sql, &v[i], table, &table->columns[i]))
                rc = DBSYNC_ERROR;
        }
        dbsync__buf_putc(&m->sql, ')');
        if (!rc)
            rc = m->sql.oom ? dbsync__error_nomem(&conn->error)
                            : dbsync__exec(conn, m->sql.data, "giving a local row a new key");
    }
    dbsync_row_clear(table, v);
    free(v);
    if (!rc) {
        /* messages speak of the key the application knows */
        intptr_t first = dbsync__objmap_get(&m->aliases, t, old, 0);
        if (dbsync__objmap_put(&m->aliases, t, id, first ? first : (intptr_t)old))
            rc = dbsync__error_nomem(&conn->error);
    }
    for (size_t k = 0; !rc && k < info->n_children; k++) {
        const dbsync__child *ch = &info->children[k];
        const dbsync_table *ct = &s->tables[ch->table];
        const dbsync__table_info *ci = &conn->tables[ch->table];
        /* The children to repoint, then each with its own log entry. */
        int64_t *kids = NULL;
        size_t nk = 0, cap = 0;
        snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = %lld", ci->qcols[ct->primary_key],
                 ci->qname, ci->qcols[ch->column], (long long)old);
        dbi_result r = dbsync__query(conn, sql, "finding local references");
        if (!r) {
            rc = DBSYNC_ERROR;
            break;
        }
        while (dbi_result_next_row(r)) {
            if (nk == cap) {
                cap = cap ? cap * 2 : 16;
                int64_t *n2 = realloc(kids, cap * sizeof *n2);
                if (!n2) {
                    rc = dbsync__error_nomem(&conn->error);
                    break;
                }
                kids = n2;
            }
            kids[nk++] = (int64_t)dbi_result_get_as_longlong_idx(r, 1);
        }
        dbi_result_free(r);
        for (size_t i = 0; !rc && i < nk; i++) {
            int64_t kid = ch->table == t && kids[i] == old ? id : kids[i];
            snprintf(sql, sizeof sql, "UPDATE %s SET %s = %lld WHERE %s = %lld", ci->qname,
                     ci->qcols[ch->column], (long long)id, ci->qcols[ct->primary_key],
                     (long long)kid);
            rc = dbsync__exec(conn, sql, "repointing a local reference");
            if (!rc && !local_command(m->l, ch->table, kid)) {
                rc = dbsync__log_op(conn, ch->table, 'u', kid);
                if (!rc && (local_add(m->l, ch->table, kid, 'u') ||
                            (local_set(m->l, ch->table, kid, 'u'), 0)))
                    rc = dbsync__error_nomem(&conn->error);
            }
        }
        free(kids);
    }
    if (!rc) {
        snprintf(sql, sizeof sql,
                 "UPDATE sync_operations SET row_id = %lld WHERE version_id IS NULL AND "
                 "content_type_id = %ld AND row_id = %lld",
                 (long long)id, (long)info->content_type_id, (long long)old);
        rc = dbsync__exec(conn, sql, "moving local operations to the new key");
    }
    if (!rc && conn->dialect->key_inserted)
        rc = conn->dialect->key_inserted(conn, t, id);
    if (!rc) {
        local_set(m->l, t, old, 0);
        if (local_add(m->l, t, id, 'i'))
            return dbsync__error_nomem(&conn->error);
        local_set(m->l, t, id, 'i');
    }
    return rc;
}

static int put_row(merge *m, unsigned t, const json_t *row, int depth);

/* A server row that points at rows deleted here brings them back from the
 * server's copy (reversed dependency); their local deletes are dropped. */
static int restore_parents(merge *m, unsigned t, const dbsync_value *values, int depth)
{
    const dbsync_schema *s = m->conn->schema;
    const dbsync_table *table = &s->tables[t];
    for (size_t c = 0; c < table->n_columns; c++) {
        const dbsync_column *col = &table->columns[c];
        if (col->ref_table < 0 || values[c].is_null)
            continue;
        unsigned p = (unsigned)col->ref_table;
        int64_t pid = values[c].u.i;
        if (local_command(m->l, p, pid) != 'd')
            continue;
        const json_t *prow = (const json_t *)dbsync__objmap_get(&m->restore, p, pid, 0);
        if (!prow)
            continue; /* the server lacks it too: the reference fails at commit */
        int rc = drop_local_ops(m, p, pid);
        if (!rc)
            rc = put_row(m, p, prow, depth + 1);
        if (rc)
            return rc;
    }
    return DBSYNC_OK;
}

static int put_row(merge *m, unsigned t, const json_t *row, int depth)
{
    dbsync_conn *conn = m->conn;
    const dbsync_table *table = &conn->schema->tables[t];
    if (depth > 64)
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_SYNC,
                                 "references nested too deeply while restoring %s", table->name);
    dbsync_value *v = calloc(table->n_columns, sizeof *v);
    if (!v)
        return dbsync__error_nomem(&conn->error);
    int rc = dbsync__row_from_json(row, table, v, &conn->error);
    if (!rc)
        rc = restore_parents(m, t, v, depth);
    if (!rc)
        rc = dbsync__writer_put(m->w, t, v);
    dbsync_row_clear(table, v);
    free(v);
    return rc;
}

/* Does a row with an unpushed local insert or update point at (t, id)? */
static int has_local_dependents(merge *m, unsigned t, int64_t id, bool *yes)
{
    dbsync_conn *conn = m->conn;
    const dbsync_schema *s = conn->schema;
    const dbsync__table_info *info = &conn->tables[t];
    *yes = false;
    for (size_t k = 0; k < info->n_children && !*yes; k++) {
        const dbsync__child *ch = &info->children[k];
        const dbsync_table *ct = &s->tables[ch->table];
        char sql[768];
        snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s = %lld",
                 conn->tables[ch->table].qcols[ct->primary_key], conn->tables[ch->table].qname,
                 conn->tables[ch->table].qcols[ch->column], (long long)id);
        dbi_result r = dbsync__query(conn, sql, "looking for local references");
        if (!r)
            return DBSYNC_ERROR;
        while (!*yes && dbi_result_next_row(r)) {
            char c = local_command(m->l, ch->table, (int64_t)dbi_result_get_as_longlong_idx(r, 1));
            *yes = c == 'i' || c == 'u';
        }
        dbi_result_free(r);
    }
    return DBSYNC_OK;
}

/* One server operation against the local log (DESIGN.md, "Merge"). */
static int merge_op(merge *m, unsigned t, int64_t id, char srv, const json_t *row)
{
    char loc = local_command(m->l, t, id);
    if (srv == 'd') {
        if (loc == 'u') /* server delete vs local update: the row lives on */
            return keep_row_for_push(m, t, id);
        if (loc == 'd') /* both deleted it */
            return drop_local_ops(m, t, id);
        /* Decided when every page is read: a row kept for a local row may
         * itself keep its parent (a chain of dependencies). */
        if (m->ndels == m->capdels) {
            size_t cap = m->capdels ? m->capdels * 2 : 64;
            pending_delete *d = realloc(m->dels, cap * sizeof *d);
            if (!d)
                return dbsync__error_nomem(&m->conn->error);
            m->dels = d;
            m->capdels = cap;
        }
        m->dels[m->ndels++] = (pending_delete){t, id, false};
        return DBSYNC_OK;
    }
    if (loc == 'u') /* update/update: the node's row wins */
        return DBSYNC_OK;
    if (!row)
        return DBSYNC_OK; /* the server no longer has it: a later pull brings the delete */
    if (loc == 'd') {     /* server update vs local delete: the row comes back */
        int rc = drop_local_ops(m, t, id);
        return rc ? rc : put_row(m, t, row, 0);
    }
    return put_row(m, t, row, 0);
}

/* The page's rows, by object. */
static int page_rows(dbsync_conn *conn, const json_t *section, dbsync__objmap *map)
{
    const char *name;
    json_t *entry;
    json_object_foreach((json_t *)section, name, entry)
    {
        const dbsync_table *t = dbsync_schema_table(conn->schema, name);
        if (!t || !(t->flags & DBSYNC_TABLE_SYNCED))
            return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                                     "the server sent rows of unknown table \"%.60s\"", name);
        if (dbsync__columns_check(json_object_get(entry, "columns"), t, &conn->error))
            return DBSYNC_ERROR;
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(entry, "rows"), i, row)
        {
            json_t *key = json_array_get(row, t->primary_key);
            if (!json_is_integer(key))
                return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                                         "a row of %s without an integer key", t->name);
            if (dbsync__objmap_put(map, dbsync__table_index(conn, t),
                                   (int64_t)json_integer_value(key), (intptr_t)row))
                return dbsync__error_nomem(&conn->error);
        }
    }
    return DBSYNC_OK;
}

/* Reads an operation [content_type_id, row_id, command] of a page. */
static int page_op(dbsync_conn *conn, const json_t *op, unsigned *t, int64_t *id, char *cmd)
{
    json_t *ct = json_array_get(op, 0), *row = json_array_get(op, 1);
    const char *c = json_string_value(json_array_get(op, 2));
    int ti = json_is_integer(ct)
                 ? dbsync__table_by_content_type(conn, (int32_t)json_integer_value(ct))
                 : -1;
    if (ti < 0 || !json_is_integer(row) || !c || !c[0] || c[1] || !strchr("iud", c[0]))
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                                 "the server sent an operation this schema cannot take");
    *t = (unsigned)ti;
    *id = (int64_t)json_integer_value(row);
    *cmd = c[0];
    return DBSYNC_OK;
}

static int store_versions(dbsync_conn *conn, const json_t *versions, int64_t since)
{
    dbsync__buf b = DBSYNC__BUF_INIT;
    size_t n = json_array_size(versions);
    int rc = DBSYNC_OK;
    for (size_t at = 0; !rc && at < n; at += 500) {
        size_t added = 0;
        dbsync__buf_reset(&b);
        dbsync__buf_puts(&b, "INSERT INTO sync_versions (version_id, node_id, created) VALUES ");
        for (size_t i = at; i < n && i < at + 500; i++) {
            json_t *v = json_array_get(versions, i);
            int64_t id = (int64_t)json_integer_value(json_array_get(v, 0));
            const char *created = json_string_value(json_array_get(v, 2));
            dbsync_datetime dt;
            if (id <= since)
                continue;
            dbsync__buf_printf(&b, "%s(%lld, %lld, ", added ? ", " : "", (long long)id,
                               (long long)json_integer_value(json_array_get(v, 1)));
            /* only a well-formed datetime reaches the statement */
            if (created && !dbsync_datetime_parse(&dt, created)) {
                char text[DBSYNC_DATETIME_BUFSIZE];
                dbsync_datetime_format(text, &dt);
                dbsync__buf_printf(&b, "'%s')", text);
            } else {
                dbsync__buf_puts(&b, "NULL)");
            }
            added++;
        }
        if (added)
            rc = b.oom ? dbsync__error_nomem(&conn->error)
                       : dbsync__exec(conn, b.data, "recording pulled versions");
    }
    dbsync__buf_free(&b);
    return rc;
}

static int run_merge(dbsync_conn *conn, staged *st, int64_t since, int64_t upto,
                     const dbsync_client_options *opts)
{
    const dbsync_schema *s = conn->schema;
    local_log l;
    merge m = {conn, &l, NULL, {0}, {0}, NULL, NULL, DBSYNC__BUF_INIT, NULL, 0, 0};
    json_t *first = NULL;
    char *text = NULL;
    size_t len, hl;
    int rc = dbsync_conn_begin(conn);
    if (rc)
        return rc;
    memset(&l, 0, sizeof l);
    if (conn->dialect->defer_fk_sql)
        rc = dbsync__exec(conn, conn->dialect->defer_fk_sql, "deferring checks");
    /* The log again, now that no writer can add to it. */
    if (!rc)
        rc = local_load(conn, &l);
    m.w = rc ? NULL : dbsync__writer_new(conn);
    m.next_key = calloc(s->n_tables, sizeof *m.next_key);
    if (!rc && (!m.w || !m.next_key))
        rc = dbsync__error_nomem(&conn->error);
    rewind(st->f);
    if (!rc && !(text = stage_next(conn, st, &len, &rc)) && !rc)
        rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_SYNC, "no page pulled");
    if (!rc && !(first = page_header(conn, text, len, &hl)))
        rc = DBSYNC_ERROR;
    free(text);
    text = NULL;
    if (!rc)
        rc = page_rows(conn, json_object_get(first, "restore"), &m.restore);
    /* New keys go above every key either side ever used: rows, and the
     * logs (keys of deleted rows are never handed out again). */
    json_t *maxk = json_object_get(first, "max_keys");
    int64_t *server_max = calloc(s->n_tables + 1, sizeof *server_max);
    if (!rc && !server_max)
        rc = dbsync__error_nomem(&conn->error);
    for (size_t t = 0; !rc && t < s->n_tables; t++) {
        char sql[512];
        int64_t local_max = 0, log_max = 0;
        snprintf(sql, sizeof sql, "SELECT MAX(%s) FROM %s",
                 conn->tables[t].qcols[s->tables[t].primary_key], conn->tables[t].qname);
        rc = dbsync__query_int(conn, sql, &local_max);
        snprintf(sql, sizeof sql,
                 "SELECT MAX(row_id) FROM sync_operations WHERE content_type_id = %ld",
                 (long)conn->tables[t].content_type_id);
        if (!rc)
            rc = dbsync__query_int(conn, sql, &log_max);
        server_max[t] = (int64_t)json_integer_value(json_object_get(maxk, s->tables[t].name));
        int64_t top = local_max > server_max[t] ? local_max : server_max[t];
        m.next_key[t] = (log_max > top ? log_max : top) + 1;
    }
    /* Pass 1: local inserts whose keys the server has used (a row of its
     * own, now or in the past) get new keys, before any server row arrives. */
    size_t n_before = l.n;
    for (size_t i = 0; !rc && i < n_before; i++) {
        local_obj *o = &l.objs[i];
        if (o->command == 'i' && o->row_id <= server_max[o->table])
            rc = rekey(&m, o->table, o->row_id);
    }
    free(server_max);
    /* Pass 2: the server's operations, conflicts resolved. */
    rewind(st->f);
    int64_t done = 0;
    while (!rc && (text = stage_next(conn, st, &len, &rc))) {
        json_t *head = page_header(conn, text, len, &hl);
        rc = head ? DBSYNC_OK : DBSYNC_ERROR;
        /* the columns of the tables whose rows the page carries */
        const char *name;
        json_t *cols;
        json_object_foreach(json_object_get(head, "columns"), name, cols)
        {
            const dbsync_table *t = dbsync_schema_table(s, name);
            if (!t || !(t->flags & DBSYNC_TABLE_SYNCED))
                rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                                       "the server sent rows of unknown table \"%.60s\"", name);
            else if (!rc)
                rc = dbsync__columns_check(cols, t, &conn->error);
            if (rc)
                break;
        }
        json_decref(head);
        for (const char *p = text + hl, *end = text + len; !rc && p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
            const char *line = p;
            p += ll + (nl ? 1 : 0);
            if (!ll)
                continue;
            json_error_t jerr;
            json_t *op = json_loadb(line, ll, 0, &jerr);
            unsigned t = 0;
            int64_t id = 0;
            char cmd = 0;
            rc = page_op(conn, op, &t, &id, &cmd);
            json_t *row = cmd == 'd' ? NULL : json_array_get(op, 3);
            if (!rc && row &&
                json_integer_value(json_array_get(row, s->tables[t].primary_key)) != id)
                rc = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_JSON,
                                       "the server sent a row of %s whose key is not its "
                                       "operation's",
                                       s->tables[t].name);
            if (!rc)
                rc = merge_op(&m, t, id, cmd, row);
            json_decref(op);
            done++;
        }
        free(text);
        text = NULL;
        if (!rc)
            rc = progress(opts, conn, "merge", done, -1);
    }
    /* The server's deletes: rows still needed by local rows stay (and so,
     * in turn, may their parents), the others go. */
    for (bool changed = true; !rc && changed;) {
        changed = false;
        for (size_t i = 0; !rc && i < m.ndels; i++) {
            pending_delete *d = &m.dels[i];
            bool dependents;
            if (d->kept || (rc = has_local_dependents(&m, d->table, d->id, &dependents)))
                continue;
            if (dependents) {
                d->kept = changed = true;
                rc = keep_row_for_push(&m, d->table, d->id);
            }
        }
    }
    for (size_t i = 0; !rc && i < m.ndels; i++)
        if (!m.dels[i].kept)
            rc = dbsync__writer_delete(m.w, m.dels[i].table, m.dels[i].id);
    if (!rc) {
        dbsync__writer_set_aliases(m.w, &m.aliases);
        rc = dbsync__writer_finish(m.w);
    }
    if (!rc)
        rc = store_versions(conn, json_object_get(first, "versions"), since);
    (void)upto;
    json_decref(first);
    dbsync__writer_free(m.w);
    dbsync__objmap_free(&m.restore);
    dbsync__objmap_free(&m.aliases);
    free(m.dels);
    free(m.next_key);
    dbsync__buf_free(&m.sql);
    local_log_free(&l);
    if (rc) {
        dbsync_error e = conn->error;
        dbsync_conn_rollback(conn);
        conn->error = e;
    } else {
        rc = dbsync_conn_commit(conn); /* deferred references are checked here */
        if (rc && conn->error.klass == DBSYNC_ECLASS_DB) {
            char msg[DBSYNC_ERROR_MESSAGE_SIZE];
            snprintf(msg, sizeof msg,
                     "the merge would break a reference, nothing was changed: %.400s",
                     conn->error.message);
            dbsync__error_set(&conn->error, DBSYNC_ECONFLICT, DBSYNC_ECLASS_SYNC, "%s", msg);
            rc = DBSYNC_ECONFLICT;
        }
    }
    if (conn->dialect->defer_fk_end_sql)
        dbsync__exec(conn, conn->dialect->defer_fk_end_sql, "ending deferred checks");
    return rc;
}

int dbsync_pull(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts)
{
    dbsync_client_options defaults = DBSYNC_CLIENT_OPTIONS_INIT;
    int rc = check_call(conn, server_url, &opts, &defaults);
    if (rc)
        return rc;
    int64_t since, upto;
    local_log l;
    if ((rc = dbsync__latest_version(conn, &since)) || (rc = local_load(conn, &l)))
        return rc;
    staged st = {tmpfile(), 0};
    if (!st.f) {
        local_log_free(&l);
        return dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_OS,
                                 "cannot create a temporary file for the pulled pages");
    }
    rc = fetch_pages(conn, server_url, opts, since, &l, &st, &upto);
    local_log_free(&l);
    if (!rc)
        rc = run_merge(conn, &st, since, upto, opts);
    fclose(st.f);
    return rc;
}

int dbsync_sync(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts)
{
    dbsync_client_options defaults = DBSYNC_CLIENT_OPTIONS_INIT;
    int rc = check_call(conn, server_url, &opts, &defaults);
    if (rc)
        return rc;
    int tries = opts->max_tries > 0 ? opts->max_tries : 5;
    for (int i = 0; i < tries; i++) {
        bool sent;
        rc = push(conn, server_url, opts, &sent);
        if (rc == DBSYNC_OK && !sent) /* nothing to send: catch up instead */
            return dbsync_pull(conn, server_url, opts);
        if (rc != DBSYNC_EPULLREQUIRED)
            return rc;
        if ((rc = dbsync_pull(conn, server_url, opts)))
            return rc;
    }
    return dbsync__error_set(&conn->error, DBSYNC_EPULLREQUIRED, DBSYNC_ECLASS_SYNC,
                             "the server kept moving: %d push/pull rounds did not settle", tries);
}

/* ---- repair ---- */

int dbsync_repair(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts)
{
    dbsync_client_options defaults = DBSYNC_CLIENT_OPTIONS_INIT;
    int rc = check_call(conn, server_url, &opts, &defaults);
    if (rc)
        return rc;
    const dbsync_schema *s = conn->schema;
    json_t *start;
    if ((rc = call(conn, "GET", server_url, "/repair", NULL, NULL, opts, &start)))
        return rc;
    int64_t upto = (int64_t)json_integer_value(json_object_get(start, "upto"));
    json_decref(start);
    int64_t limit = opts->page_size > 0 ? opts->page_size : 5000, rows_done = 0;
    if ((rc = dbsync_conn_begin(conn)))
        return rc;
    if (conn->dialect->defer_fk_sql)
        rc = dbsync__exec(conn, conn->dialect->defer_fk_sql, "deferring checks");
    /* Everything synced goes, then comes back from the server. */
    for (size_t t = 0; !rc && t < s->n_tables; t++) {
        if (!(s->tables[t].flags & DBSYNC_TABLE_SYNCED))
            continue;
        char sql[256];
        snprintf(sql, sizeof sql, "DELETE FROM %s", conn->tables[t].qname);
        rc = dbsync__exec(conn, sql, "emptying a table for repair");
    }
    if (!rc)
        rc = dbsync__exec(conn, "DELETE FROM sync_operations", "resetting the log");
    if (!rc)
        rc = dbsync__exec(conn, "DELETE FROM sync_versions", "resetting the versions");
    conn->n_ops = 0;
    dbsync__writer *w = rc ? NULL : dbsync__writer_new(conn);
    if (!rc && !w)
        rc = DBSYNC_ERROR;
    for (size_t t = 0; !rc && t < s->n_tables; t++) {
        const dbsync_table *table = &s->tables[t];
        if (!(table->flags & DBSYNC_TABLE_SYNCED))
            continue;
        int64_t after = 0;
        for (;;) {
            char path[256];
            snprintf(path, sizeof path, "/repair?table=%s&after=%lld&limit=%lld", table->name,
                     (long long)after, (long long)limit);
            json_t *page;
            if ((rc = call(conn, "GET", server_url, path, NULL, NULL, opts, &page)))
                break;
            dbsync__objmap unused = {0};
            json_t *entry = json_object_get(json_object_get(page, "rows"), table->name);
            rc = page_rows(conn, json_object_get(page, "rows"), &unused);
            dbsync__objmap_free(&unused);
            size_t i;
            json_t *row;
            dbsync_value *v = calloc(table->n_columns, sizeof *v);
            if (!rc && !v)
                rc = dbsync__error_nomem(&conn->error);
            json_array_foreach(json_object_get(entry, "rows"), i, row)
            {
                if (rc || (rc = dbsync__row_from_json(row, table, v, &conn->error)))
                    break;
                rc = dbsync__writer_put(w, (unsigned)t, v);
                dbsync_row_clear(table, v);
                rows_done++;
            }
            free(v);
            json_t *cursor = json_object_get(page, "cursor");
            bool more = json_is_integer(cursor);
            after = more ? (int64_t)json_integer_value(cursor) : after;
            json_decref(page);
            if (!rc)
                rc = progress(opts, conn, "repair", rows_done, -1);
            if (rc || !more)
                break;
        }
    }
    if (!rc)
        rc = dbsync__writer_finish(w);
    dbsync__writer_free(w);
    if (!rc && upto > 0) {
        char sql[256], now[32];
        dbsync__now_text(now, sizeof now);
        snprintf(
            sql, sizeof sql,
            "INSERT INTO sync_versions (version_id, node_id, created) VALUES (%lld, NULL, '%s')",
            (long long)upto, now);
        rc = dbsync__exec(conn, sql, "recording the repaired version");
    }
    if (rc) {
        dbsync_error e = conn->error;
        dbsync_conn_rollback(conn);
        conn->error = e;
    } else {
        rc = dbsync_conn_commit(conn);
    }
    if (conn->dialect->defer_fk_end_sql)
        dbsync__exec(conn, conn->dialect->defer_fk_end_sql, "ending deferred checks");
    return rc;
}

/* ---- query ---- */

static void url_escape(dbsync__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            dbsync__buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            dbsync__buf_append(b, e, 3);
        }
    }
}

int dbsync_query_remote(dbsync_conn *conn, const char *server_url, const dbsync_table *table,
                        const dbsync_filter *filters, size_t n_filters, dbsync_row_cb cb,
                        void *payload, const dbsync_client_options *opts)
{
    dbsync_client_options defaults = DBSYNC_CLIENT_OPTIONS_INIT;
    int rc = check_call(conn, server_url, &opts, &defaults);
    if (rc)
        return rc;
    const dbsync_schema *s = conn->schema;
    if (!table || table < s->tables || table >= s->tables + s->n_tables ||
        !(table->flags & DBSYNC_TABLE_SYNCED))
        return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "query: not a synced table of the connection's schema");
    for (size_t i = 0; i < n_filters; i++)
        if (!filters[i].column || dbsync_table_column(table, filters[i].column) < 0 ||
            (filters[i].op != DBSYNC_FILTER_EQ && filters[i].op != DBSYNC_FILTER_IS_NULL))
            return dbsync__error_set(&conn->error, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                     "query on %s: filter %zu must be a column of the table, equal "
                                     "or IS NULL",
                                     table->name, i + 1);
    int64_t after = 0, limit = opts->page_size > 0 ? opts->page_size : 5000;
    dbsync__buf b = DBSYNC__BUF_INIT;
    dbsync_value *v = calloc(table->n_columns, sizeof *v);
    if (!v)
        return dbsync__error_nomem(&conn->error);
    for (;;) {
        dbsync__buf_reset(&b);
        dbsync__buf_printf(&b, "/query?table=%s&after=%lld&limit=%lld", table->name,
                           (long long)after, (long long)limit);
        for (size_t i = 0; i < n_filters; i++) {
            dbsync__buf_puts(&b, filters[i].op == DBSYNC_FILTER_EQ ? "&f." : "&n.");
            dbsync__buf_puts(&b, filters[i].column);
            if (filters[i].op == DBSYNC_FILTER_EQ) {
                dbsync__buf_putc(&b, '=');
                url_escape(&b, filters[i].value ? filters[i].value : "");
            }
        }
        json_t *page;
        if (b.oom) {
            rc = dbsync__error_nomem(&conn->error);
            break;
        }
        if ((rc = call(conn, "GET", server_url, b.data, NULL, NULL, opts, &page)))
            break;
        json_t *entry = json_object_get(json_object_get(page, "rows"), table->name);
        rc = dbsync__columns_check(json_object_get(entry, "columns"), table, &conn->error);
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(entry, "rows"), i, row)
        {
            if (rc || (rc = dbsync__row_from_json(row, table, v, &conn->error)))
                break;
            rc = cb(table, v, payload);
            dbsync_row_clear(table, v);
        }
        json_t *cursor = json_object_get(page, "cursor");
        bool more = json_is_integer(cursor);
        after = more ? (int64_t)json_integer_value(cursor) : after;
        json_decref(page);
        if (rc || !more)
            break;
    }
    free(v);
    dbsync__buf_free(&b);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * A dbsync server on a real HTTP port of 127.0.0.1 for the tests: libmicrohttpd
 * with one internal thread, calling dbsync_server_handle() on one connection
 * to the server's database. Include after <dbsync/dbsync.h> and testutil.h.
 */
#ifndef DBSYNC_TESTSERVER_H
#define DBSYNC_TESTSERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

typedef struct ts_server {
    struct MHD_Daemon *mhd;
    dbsync_server *srv;
    dbsync_conn *conn;
    dbsync_schema *schema;
    char url[64];
    int requests;
} ts_server;

typedef struct ts_req {
    char *body;
    size_t len;
} ts_req;

typedef struct ts_query {
    char buf[4096];
    size_t len;
} ts_query;

static void ts_escape(ts_query *q, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && q->len + 4 < sizeof q->buf; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            strchr("-_.~", c)) {
            q->buf[q->len++] = (char)c;
        } else {
            q->buf[q->len++] = '%';
            q->buf[q->len++] = hex[c >> 4];
            q->buf[q->len++] = hex[c & 15];
        }
    }
    q->buf[q->len] = '\0';
}

static enum MHD_Result ts_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    ts_query *q = cls;
    if (q->len && q->len + 1 < sizeof q->buf)
        q->buf[q->len++] = '&';
    ts_escape(q, key);
    if (value && q->len + 1 < sizeof q->buf) {
        q->buf[q->len++] = '=';
        ts_escape(q, value);
    }
    return MHD_YES;
}

static enum MHD_Result ts_handler(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    ts_server *ts = cls;
    ts_req *r = *con_cls;
    if (!r) {
        *con_cls = calloc(1, sizeof *r);
        return MHD_YES;
    }
    if (*upload_size) {
        r->body = realloc(r->body, r->len + *upload_size + 1);
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        r->body[r->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    ts_query q = {"", 0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, ts_arg, &q);
    dbsync_request req = {method, url, q.buf, r->body, r->len,
                          MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Dbsync-Signature")};
    dbsync_response resp;
    dbsync_server_handle(ts->srv, ts->conn, &req, &resp);
    ts->requests++;
    struct MHD_Response *m =
        MHD_create_response_from_buffer(resp.body_len, resp.body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(m, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)resp.status, m);
    MHD_destroy_response(m);
    dbsync_response_clear(&resp);
    return rc;
}

static void ts_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)c;
    (void)code;
    ts_req *r = *con_cls;
    if (r) {
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

/* Starts a server on an open connection (which it then owns), tables created. */
static inline ts_server *ts_start_conn(dbsync_conn *conn, dbsync_schema *schema,
                                const dbsync_server_options *opts)
{
    ts_server *ts = calloc(1, sizeof *ts);
    dbsync_error err;
    ts->schema = schema;
    ts->conn = conn;
    if (dbsync_server_new(&ts->srv, schema, opts, &err))
        fail_msg("server new: %s", err.message);
    if (dbsync_server_prepare(ts->srv, conn))
        fail_msg("server prepare: %s", dbsync_conn_error(conn)->message);
    /* loopback only, a free port */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    ts->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, ts_handler, ts,
                               MHD_OPTION_NOTIFY_COMPLETED, ts_done, ts, MHD_OPTION_SOCK_ADDR,
                               (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!ts->mhd)
        fail_msg("MHD_start_daemon failed");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(ts->mhd, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(ts->url, sizeof ts->url, "http://127.0.0.1:%u", (unsigned)info->port);
    return ts;
}

/* Starts a server on a database (url) with the schema. */
static inline ts_server *ts_start(const char *db_url, dbsync_schema *schema,
                           const dbsync_server_options *opts)
{
    dbsync_conn *conn;
    dbsync_error err;
    if (dbsync_conn_open(&conn, db_url, schema, &err))
        fail_msg("server open: %s", err.message);
    if (dbsync_conn_create_all(conn))
        fail_msg("server create_all: %s", dbsync_conn_error(conn)->message);
    return ts_start_conn(conn, schema, opts);
}

static void ts_stop(ts_server *ts)
{
    if (!ts)
        return;
    MHD_stop_daemon(ts->mhd);
    dbsync_server_free(ts->srv);
    dbsync_conn_close(ts->conn);
    free(ts);
}

#endif

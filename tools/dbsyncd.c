/* SPDX-License-Identifier: MIT */
/*
 * dbsyncd, the HTTP daemon: reads the options, loads the schema, initializes
 * the database (dbsync_conn_create_all, idempotent), then serves the
 * transport-independent handlers of server.h over libmicrohttpd until
 * SIGTERM or SIGINT.
 *
 * Invariants: the daemon keeps no state of its own beyond the process
 * (several daemons may serve one database). Each libmicrohttpd worker thread
 * owns one dbsync_conn, opened on its first request and closed by the
 * thread-specific key's destructor when the thread ends; connections are
 * never shared. A request body is held in memory (NUL-terminated, the NUL not
 * counted), never more than --max-body bytes of it. GET /health is answered
 * here; every other request goes to dbsync_server_handle(). Output: exactly
 * one line on stdout, "dbsyncd: listening on HOST:PORT", once the socket
 * listens; one line per request on stderr (unless --quiet); fatal errors
 * print one "dbsyncd: ..." line and exit 1 (2 for usage errors).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include <dbsync/dbsync.h>

#include "options.h"
#include <dbsync/server.h>

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_THREADS 4
#define MAX_THREADS 1024
#define DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)
#define MAX_PAGE_SIZE 10000000L
/* Seconds of inactivity after which libmicrohttpd closes a connection. */
#define CONNECTION_TIMEOUT 60u
/* How long a stop waits for the requests in flight to finish. */
#define DRAIN_SECONDS 30
/* How many times the database initialization is tried (see run()). */
#define CREATE_TRIES 4
/* How many bytes of a user-given string a message or log line quotes. */
#define SHOWN_MAX 200

/* The daemon: built once by main, read by every worker thread. */
typedef struct daemon_ctx {
    const char *db_url;
    dbsync_schema *schema;
    dbsync_server *server;
    const char *token; /* --registration-token, or NULL */
    size_t token_len;
    size_t max_body;
    bool quiet;
    pthread_key_t conn_key; /* the worker thread's dbsync_conn */
    atomic_long in_flight;  /* requests received whole and not yet completed */
    pthread_mutex_t log_lock;
    bool started;              /* under log_lock: MHD_start_daemon has returned */
    char startup_message[512]; /* under log_lock: libmicrohttpd's first message while starting */
} daemon_ctx;

/* One HTTP request, from its headers to its completion (libmicrohttpd's con_cls). */
typedef struct request {
    struct timespec start;
    char *method; /* copies, for the log line */
    char *path;
    char client[64]; /* "ADDRESS:PORT" */
    char *body;      /* the body received so far */
    size_t len;
    size_t cap;
    uint64_t bytes_in; /* body bytes read, kept or not */
    size_t bytes_out;  /* body bytes of the response */
    unsigned status;   /* 0 until a response is queued */
    bool too_large;    /* the body is over --max-body: the rest is read and dropped */
    bool no_memory;    /* the body could not be stored */
    bool counted;      /* in daemon_ctx.in_flight */
} request;

/* ---- messages ---- */

/*
 * Copies src into dst (size bytes) so that it stays one field of a line:
 * control characters, space and DEL as \xNN, backslash as \\; cut after
 * SHOWN_MAX bytes with "...".
 */
static void escape_field(char *dst, size_t size, const char *src)
{
    size_t o = 0;
    size_t shown = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++, shown++) {
        char tmp[8];
        if (shown == SHOWN_MAX) {
            snprintf(tmp, sizeof tmp, "...");
        } else if (*p == '\\') {
            snprintf(tmp, sizeof tmp, "\\\\");
        } else if (*p <= 0x20 || *p == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", *p);
        } else {
            tmp[0] = (char)*p;
            tmp[1] = '\0';
        }
        size_t n = strlen(tmp);
        if (o + n + 1 > size)
            break;
        memcpy(dst + o, tmp, n);
        o += n;
        if (shown == SHOWN_MAX)
            break;
    }
    if (size)
        dst[o < size ? o : size - 1] = '\0';
}

/* Writes "dbsyncd: MESSAGE" on stderr as one line (control characters escaped). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    char msg[1024];
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 5 < sizeof line; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(line + o, sizeof line - o, "\\x%02x", *p);
            o += 4;
        } else {
            line[o++] = (char)*p;
        }
    }
    line[o] = '\0';
    /* One call, so that lines of several threads do not mix. */
    fprintf(stderr, "dbsyncd: %s\n", line);
}

/* Prints "dbsyncd: MESSAGE" and returns status. */
static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    say("%s", msg);
    return status;
}

/* The text of a library error, never empty. */
static const char *error_text(const dbsync_error *err, int code)
{
    return err && err->message[0] ? err->message : dbsync_strerror(code);
}

/*
 * libmicrohttpd's messages: while the daemon starts they are kept (the first
 * one explains a failure to listen); afterwards they go to stderr.
 */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    daemon_ctx *d = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    pthread_mutex_lock(&d->log_lock);
    bool started = d->started;
    if (!started && !d->startup_message[0])
        snprintf(d->startup_message, sizeof d->startup_message, "%s", msg);
    pthread_mutex_unlock(&d->log_lock);
    if (started)
        say("libmicrohttpd: %s", msg);
}

/* ---- JSON bodies made by the daemon itself ---- */

/* Appends s to dst (which has room for 6 bytes per byte of s) as JSON string content. */
static size_t json_escape(char *dst, const char *s)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)sprintf(dst + o, "\\u%04x", *p);
        } else {
            dst[o++] = (char)*p;
        }
    }
    dst[o] = '\0';
    return o;
}

/*
 * A JSON object: {"protocol":1,"error":ERROR,"message":MESSAGE} when error is
 * not NULL, else {"status":STATUS[,"message":MESSAGE]}. NULL when out of memory.
 */
static char *json_body(const char *error, const char *status, const char *message)
{
    size_t n = 64 + (error ? strlen(error) : 0) + (status ? strlen(status) : 0) +
               (message ? 6 * strlen(message) : 0);
    char *b = malloc(n);
    if (!b)
        return NULL;
    size_t o;
    if (error) {
        o = (size_t)sprintf(b, "{\"protocol\":1,\"error\":\"%s\"", error);
    } else {
        o = (size_t)sprintf(b, "{\"status\":\"%s\"", status);
    }
    if (message) {
        o += (size_t)sprintf(b + o, ",\"message\":\"");
        o += json_escape(b + o, message);
        b[o++] = '"';
    }
    b[o++] = '}';
    b[o] = '\0';
    return b;
}

/* ---- responses ---- */

/* Queues resp (consumed) with the given status and Content-Type. */
static enum MHD_Result queue(struct MHD_Connection *mc, request *r, unsigned status,
                             struct MHD_Response *resp, size_t len, const char *content_type)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result ret = MHD_queue_response(mc, status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) {
        r->status = status;
        r->bytes_out = len;
    }
    return ret;
}

/* An empty body, not handed over (libmicrohttpd need not free a zero-length buffer). */
static struct MHD_Response *empty_response(void)
{
    static char empty[1];
    return MHD_create_response_from_buffer(0, empty, MHD_RESPMEM_PERSISTENT);
}

/* Queues a response made of body (len bytes, malloc'ed or NULL; taken in every case). */
static enum MHD_Result reply_owned(struct MHD_Connection *mc, request *r, unsigned status,
                                   char *body, size_t len, const char *content_type)
{
    if (!body || len == 0) {
        free(body);
        return queue(mc, r, status, empty_response(), 0, content_type);
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(body);
    return queue(mc, r, status, resp, len, content_type);
}

/* Queues a JSON body built by json_body(); 500 with no body when it could not be built. */
static enum MHD_Result reply_json(struct MHD_Connection *mc, request *r, unsigned status,
                                  char *body)
{
    if (!body)
        return reply_owned(mc, r, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0, "application/json");
    return reply_owned(mc, r, status, body, strlen(body), "application/json");
}

static enum MHD_Result reply_error(struct MHD_Connection *mc, request *r, unsigned status,
                                   const char *error, const char *message)
{
    return reply_json(mc, r, status, json_body(error, NULL, message));
}

#if MHD_VERSION >= 0x00097302
static void free_handler_response(void *cls)
{
    dbsync_response *resp = cls;
    dbsync_response_clear(resp);
    free(resp);
}
#endif

/*
 * Queues the handler's response, handing its body to libmicrohttpd without a
 * copy (libmicrohttpd before 0.9.73.2 has no way to free it with our function:
 * it copies).
 */
static enum MHD_Result reply_handler(struct MHD_Connection *mc, request *r, dbsync_response *out)
{
    const char *type = out->content_type ? out->content_type : "application/json";
    unsigned status = out->status >= 100 && out->status <= 599 ? (unsigned)out->status
                                                               : MHD_HTTP_INTERNAL_SERVER_ERROR;
    size_t len = out->body ? out->body_len : 0;
    if (len == 0) {
        dbsync_response_clear(out);
        return queue(mc, r, status, empty_response(), 0, type);
    }
#if MHD_VERSION >= 0x00097302
    dbsync_response *held = malloc(sizeof *held);
    if (!held) {
        dbsync_response_clear(out);
        return reply_error(mc, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
    }
    *held = *out;
    memset(out, 0, sizeof *out);
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, held->body, free_handler_response, held);
    if (!resp)
        free_handler_response(held);
#else
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, out->body, MHD_RESPMEM_MUST_COPY);
    dbsync_response_clear(out);
#endif
    return queue(mc, r, status, resp, len, type);
}

/* ---- the worker thread's database connection ---- */

static void close_thread_conn(void *p)
{
    dbsync_conn_close(p);
}

/* The calling thread's connection, opened on first use; NULL with err filled on failure. */
static dbsync_conn *thread_conn(daemon_ctx *d, dbsync_error *err)
{
    dbsync_conn *conn = pthread_getspecific(d->conn_key);
    if (conn)
        return conn;
    int rc = dbsync_conn_open(&conn, d->db_url, d->schema, err);
    if (rc != DBSYNC_OK) {
        if (!err->message[0])
            snprintf(err->message, sizeof err->message, "%s", dbsync_strerror(rc));
        return NULL;
    }
    if (pthread_setspecific(d->conn_key, conn) != 0) {
        dbsync_conn_close(conn);
        snprintf(err->message, sizeof err->message, "cannot keep the database connection");
        return NULL;
    }
    return conn;
}

/* Closes the calling thread's connection: the next request opens a new one. */
static void drop_thread_conn(daemon_ctx *d, const char *why)
{
    dbsync_conn *conn = pthread_getspecific(d->conn_key);
    if (!conn)
        return;
    say("database connection lost (%s); reconnecting", why);
    pthread_setspecific(d->conn_key, NULL);
    dbsync_conn_close(conn);
}

/*
 * After a request that failed in the database: when a cheap check fails in
 * the database too, the connection is taken for broken and dropped.
 */
static void check_thread_conn(daemon_ctx *d, dbsync_conn *conn, int status)
{
    if (dbsync_conn_in_transaction(conn)) {
        say("a request left a transaction open; rolled back");
        dbsync_conn_rollback(conn);
    }
    if (status < 500 || dbsync_conn_error(conn)->klass != DBSYNC_ECLASS_DB)
        return;
    int rc = dbsync_conn_check(conn);
    if (rc == DBSYNC_ERROR && dbsync_conn_error(conn)->klass == DBSYNC_ECLASS_DB)
        drop_thread_conn(d, error_text(dbsync_conn_error(conn), rc));
}

/* ---- requests ---- */

/* A growing string for the query string. */
typedef struct strbuf {
    char *s;
    size_t len;
    size_t cap;
    size_t count; /* arguments added */
    bool failed;
} strbuf;

static void sb_add(strbuf *b, const char *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

/* Appends n bytes of p percent-encoded: all but the unreserved characters of RFC 3986. */
static void sb_add_escaped(strbuf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            sb_add(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_add(b, e, 3);
        }
    }
}

static enum MHD_Result add_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    strbuf *b = cls;
    if (b->count++)
        sb_add(b, "&", 1);
    sb_add_escaped(b, key, key_size);
    if (value) {
        sb_add(b, "=", 1);
        sb_add_escaped(b, value, value_size);
    }
    return b->failed ? MHD_NO : MHD_YES;
}

/*
 * The query string rebuilt from libmicrohttpd's decoded arguments, each key
 * and value percent-encoded again. *out is NULL when there is none.
 * Returns false when out of memory.
 */
static bool build_query(struct MHD_Connection *mc, char **out)
{
    strbuf b = {NULL, 0, 0, 0, false};
    MHD_get_connection_values_n(mc, MHD_GET_ARGUMENT_KIND, add_argument, &b);
    if (b.failed) {
        free(b.s);
        return false;
    }
    if (b.len == 0) {
        free(b.s);
        b.s = NULL;
    }
    *out = b.s;
    return true;
}

static void request_free(request *r)
{
    if (!r)
        return;
    free(r->method);
    free(r->path);
    free(r->body);
    free(r);
}

static void client_address(struct MHD_Connection *mc, char *out, size_t size)
{
    snprintf(out, size, "-");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    char host[INET6_ADDRSTRLEN];
    if (info->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(void *)info->client_addr;
        if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof host))
            snprintf(out, size, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    } else if (info->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(void *)info->client_addr;
        if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host))
            snprintf(out, size, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    }
}

static request *request_new(struct MHD_Connection *mc, const char *url, const char *method)
{
    request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->method = strdup(method);
    r->path = strdup(url);
    if (!r->method || !r->path) {
        request_free(r);
        return NULL;
    }
    client_address(mc, r->client, sizeof r->client);
    return r;
}

/* True when the Content-Length header announces more than max bytes. */
static bool announced_too_large(struct MHD_Connection *mc, size_t max)
{
    const char *cl =
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    uint64_t v = 0;
    for (const char *p = cl; *p; p++) {
        if (*p < '0' || *p > '9')
            return false; /* libmicrohttpd judges malformed lengths */
        if (v > (UINT64_MAX - 9) / 10)
            return true;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v > (uint64_t)max;
}

/* Stores a piece of the body; past --max-body (or out of memory) the rest is dropped. */
static void take_body(const daemon_ctx *d, request *r, const char *data, size_t n)
{
    r->bytes_in += n;
    if (r->too_large || r->no_memory)
        return;
    if (n > d->max_body - r->len) {
        r->too_large = true;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return;
    }
    /* cap counts the bytes of the body; one more holds a NUL, for handlers that like one. */
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : d->max_body < 16384 ? d->max_body : 16384;
        while (cap < r->len + n)
            cap = cap > d->max_body / 2 ? d->max_body : cap * 2;
        char *body = realloc(r->body, cap + 1);
        if (!body) {
            r->no_memory = true;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            return;
        }
        r->body = body;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

static enum MHD_Result reply_too_large(const daemon_ctx *d, struct MHD_Connection *mc, request *r)
{
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", d->max_body);
    return reply_error(mc, r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
}

/*
 * GET /health: the daemon runs and the thread's database answers. A kept
 * connection that fails in the database (say, the server restarted) is
 * dropped and the check tried once more on a new one.
 */
static enum MHD_Result health(daemon_ctx *d, struct MHD_Connection *mc, request *r)
{
    char msg[DBSYNC_ERROR_MESSAGE_SIZE];
    for (int attempt = 0; attempt < 2; attempt++) {
        bool kept = pthread_getspecific(d->conn_key) != NULL;
        dbsync_error err;
        memset(&err, 0, sizeof err);
        dbsync_conn *conn = thread_conn(d, &err);
        if (!conn) {
            snprintf(msg, sizeof msg, "%s", err.message);
            break;
        }
        int rc = dbsync_conn_check(conn);
        if (rc == DBSYNC_OK)
            return reply_json(mc, r, MHD_HTTP_OK, json_body(NULL, "ok", NULL));
        snprintf(msg, sizeof msg, "%s", error_text(dbsync_conn_error(conn), rc));
        if (rc != DBSYNC_ERROR || dbsync_conn_error(conn)->klass != DBSYNC_ECLASS_DB)
            break;
        drop_thread_conn(d, msg);
        if (!kept)
            break;
    }
    return reply_json(mc, r, MHD_HTTP_SERVICE_UNAVAILABLE, json_body(NULL, "unavailable", msg));
}

/* A whole request has arrived: answers it. */
static enum MHD_Result dispatch(daemon_ctx *d, struct MHD_Connection *mc, request *r,
                                const char *url, const char *method)
{
    if (r->too_large)
        return reply_too_large(d, mc, r);
    if (r->no_memory)
        return reply_error(mc, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                           "out of memory while reading the request");
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 && strcmp(url, "/health") == 0)
        return health(d, mc, r);

    dbsync_error err;
    memset(&err, 0, sizeof err);
    dbsync_conn *conn = thread_conn(d, &err);
    if (!conn)
        return reply_error(mc, r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", err.message);
    char *query = NULL;
    if (!build_query(mc, &query))
        return reply_error(mc, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory");
    dbsync_request req;
    memset(&req, 0, sizeof req);
    req.method = method;
    req.path = url;
    req.query = query;
    req.body = r->body;
    req.body_len = r->len;
    req.signature = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Dbsync-Signature");
    dbsync_response out;
    memset(&out, 0, sizeof out);
    int rc = dbsync_server_handle(d->server, conn, &req, &out);
    free(query);
    /* A body is an answer whatever the code; without one the handler could not build any. */
    check_thread_conn(d, conn, out.body ? out.status : 500);
    if (rc != DBSYNC_OK && !out.body) {
        dbsync_response_clear(&out);
        return reply_error(mc, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                           "the server could not build a response");
    }
    /* The body may be freed now: the handler is done with it. */
    free(r->body);
    r->body = NULL;
    r->cap = 0;
    return reply_handler(mc, r, &out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    daemon_ctx *d = cls;
    request *r = *con_cls;
    if (!r) {
        /* First call: the headers are in, the body is not. */
        r = request_new(mc, url, method);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        if (announced_too_large(mc, d->max_body)) {
            r->too_large = true;
            return reply_too_large(d, mc, r);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        take_body(d, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->status)
        return MHD_YES;
    /* Received whole: a stop waits for its answer (not for requests still arriving). */
    r->counted = true;
    atomic_fetch_add(&d->in_flight, 1);
    return dispatch(d, mc, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)mc;
    daemon_ctx *d = cls;
    request *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    if (!d->quiet) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (long)(now.tv_sec - r->start.tv_sec) * 1000 +
                  (long)(now.tv_nsec - r->start.tv_nsec) / 1000000;
        char method[32];
        char path[SHOWN_MAX * 4 + 8];
        char status[12];
        escape_field(method, sizeof method, r->method);
        escape_field(path, sizeof path, r->path);
        if (r->status)
            snprintf(status, sizeof status, "%u", r->status);
        else
            snprintf(status, sizeof status, "-");
        const char *end = "";
        switch (toe) {
        case MHD_REQUEST_TERMINATED_COMPLETED_OK:
            break;
        case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
            end = " timeout";
            break;
        case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
            end = " shutdown";
            break;
        default:
            end = " aborted";
            break;
        }
        fprintf(stderr, "%s %s %s %" PRIu64 " %zu %ld %s%s\n", method, path, status, r->bytes_in,
                r->bytes_out, ms, r->client, end);
    }
    if (r->counted)
        atomic_fetch_sub(&d->in_flight, 1);
    request_free(r);
}

/* ---- registration token ---- */

/* Compares in a time that depends on the length of given only. */
static bool same_token(const char *given, const char *expected, size_t expected_len)
{
    size_t n = strlen(given);
    volatile unsigned diff = n != expected_len;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)given[i] ^ (unsigned char)expected[i % expected_len];
    return diff == 0;
}

static int check_token(dbsync_conn *conn, const dbsync_hook_info *info, char *message,
                       size_t message_size, void *payload)
{
    (void)conn;
    const daemon_ctx *d = payload;
    const char *why = NULL;
    if (!info->token || !info->token[0])
        why = "registration token required";
    else if (!same_token(info->token, d->token, d->token_len))
        why = "wrong registration token";
    if (!why)
        return 0;
    if (message && message_size)
        snprintf(message, message_size, "%s", why);
    return 1;
}

/* ---- arguments ---- */

static const char usage_text[] =
    "usage: dbsyncd --db URL --schema SCHEMA.xml [--listen HOST:PORT] [--threads N]\n"
    "               [--max-body BYTES] [--page-size N] [--registration-token TOKEN]\n"
    "               [--quiet]\n"
    "       dbsyncd -h | --help | --version\n"
    "\n"
    "Serves the dbsync procedures (register, push, pull, repair, query) over HTTP.\n"
    "The database is initialized at start (existing tables are kept).\n"
    "\n"
    "Options (--opt=VALUE also works):\n"
    "  --db URL          database: sqlite3:PATH, pgsql://user:pass@host:port/dbname,\n"
    "                    mysql://user:pass@host:port/dbname, optional ?key=value&...\n"
    "  --schema FILE     the XML schema file of the database\n"
    "  --listen HOST:PORT\n"
    "                    address to listen on (default " DEFAULT_LISTEN "); HOST is\n"
    "                    an IPv4 address, [IPv6 address] or localhost; PORT 0 picks\n"
    "                    a free port\n"
    "  --threads N       worker threads, each with its own database connection\n"
    "                    (default 4)\n"
    "  --max-body BYTES  largest request body accepted, K, M or G suffix allowed\n"
    "                    (default 64M); larger requests get 413\n"
    "  --page-size N     rows per pull/repair page at most (default 5000)\n"
    "  --registration-token TOKEN\n"
    "                    refuse registrations that do not send this token\n"
    "  --quiet           no log line per request\n"
    "  -h, --help        print this help and exit\n"
    "  --version         print the version and exit\n"
    "\n"
    "Once listening, prints \"dbsyncd: listening on HOST:PORT\" on stdout. Stops\n"
    "cleanly on SIGTERM or SIGINT. Exit status: 0 after a stop; 1 on a failure\n"
    "(schema, database, address in use); 2 on a usage error.\n";

typedef struct options {
    const char *db_url;
    const char *schema_path;
    const char *listen;
    const char *threads;
    const char *max_body;
    const char *page_size;
    const char *token;
    bool quiet;
} options;

/* The address to listen on. */
typedef struct listen_addr {
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    bool ipv6;
    char host[INET6_ADDRSTRLEN]; /* numeric, as printed */
} listen_addr;

/* An option "--name VALUE" or "--name=VALUE" (tools/options.h): 1 when it
 * matched, 0 when not, -1 after printing a usage error. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    char why[160];
    int m = tool_option(argc, argv, i, name, value, why, sizeof why);
    if (m < 0)
        fail(EXIT_USAGE, "%s%s", why, strstr(why, "needs a value") ? " (see dbsyncd --help)" : "");
    return m;
}

/* A decimal number in [min, max]. */
static bool parse_number(const char *s, unsigned long long min, unsigned long long max,
                         unsigned long long *out)
{
    if (!*s)
        return false;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v < min)
        return false;
    *out = v;
    return true;
}

/* A byte count: digits, then optionally K, M or G (powers of 1024). */
static bool parse_size(const char *s, size_t *out)
{
    size_t n = strlen(s);
    unsigned shift = 0;
    if (n > 0) {
        switch (s[n - 1]) {
        case 'k':
        case 'K':
            shift = 10;
            break;
        case 'm':
        case 'M':
            shift = 20;
            break;
        case 'g':
        case 'G':
            shift = 30;
            break;
        default:
            break;
        }
    }
    if (shift)
        n--;
    char digits[32];
    if (n == 0 || n >= sizeof digits)
        return false;
    memcpy(digits, s, n);
    digits[n] = '\0';
    unsigned long long v;
    unsigned long long max = (unsigned long long)(SIZE_MAX / 2) >> shift;
    if (!parse_number(digits, 1, max, &v))
        return false;
    *out = (size_t)(v << shift);
    return true;
}

/* HOST:PORT, HOST an IPv4 address, "localhost" or [IPv6 address]. */
static bool parse_listen(const char *text, listen_addr *out, uint16_t *port, const char **why)
{
    char host[128];
    const char *colon;
    memset(out, 0, sizeof *out);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            *why = "expected [ADDRESS]:PORT";
            return false;
        }
        size_t n = (size_t)(close - text - 1);
        if (n == 0 || n >= sizeof host) {
            *why = "bad IPv6 address";
            return false;
        }
        memcpy(host, text + 1, n);
        host[n] = '\0';
        colon = close + 1;
        out->ipv6 = true;
        out->in6.sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) != 1) {
            *why = "bad IPv6 address";
            return false;
        }
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            *why = "expected HOST:PORT";
            return false;
        }
        size_t n = (size_t)(colon - text);
        if (n == 0 || n >= sizeof host) {
            *why = "HOST must be an IPv4 address, [IPv6 address] or localhost";
            return false;
        }
        memcpy(host, text, n);
        host[n] = '\0';
        out->in4.sin_family = AF_INET;
        if (strcmp(host, "localhost") == 0) {
            out->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        } else if (inet_pton(AF_INET, host, &out->in4.sin_addr) != 1) {
            *why = "HOST must be an IPv4 address, [IPv6 address] or localhost";
            return false;
        }
    }
    unsigned long long p;
    if (!parse_number(colon + 1, 0, 65535, &p)) {
        *why = "PORT must be a number from 0 to 65535";
        return false;
    }
    *port = (uint16_t)p;
    if (out->ipv6) {
        out->in6.sin6_port = htons(*port);
        inet_ntop(AF_INET6, &out->in6.sin6_addr, out->host, sizeof out->host);
    } else {
        out->in4.sin_port = htons(*port);
        inet_ntop(AF_INET, &out->in4.sin_addr, out->host, sizeof out->host);
    }
    return true;
}

/*
 * Reads the command line into o. Returns -1 to go on, else the exit status
 * (0 after --help or --version).
 */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("dbsyncd %s (libmicrohttpd %s)\n", dbsync_version(), MHD_get_version());
            return EXIT_OK;
        }
        if (strcmp(arg, "--quiet") == 0) {
            o->quiet = true;
            continue;
        }
        int m = 0;
        if (arg[0] == '-' && arg[1] == '-') {
            static const char *const names[] = {
                "db", "schema", "listen", "threads", "max-body", "page-size", "registration-token"};
            const char **values[] = {&o->db_url,   &o->schema_path, &o->listen, &o->threads,
                                     &o->max_body, &o->page_size,   &o->token};
            for (size_t k = 0; k < sizeof names / sizeof names[0] && m == 0; k++)
                m = option_value(argc, argv, &i, names[k], values[k]);
        }
        if (m < 0)
            return EXIT_USAGE;
        if (m == 0) {
            char shown[SHOWN_MAX * 4 + 8];
            escape_field(shown, sizeof shown, arg);
            if (arg[0] == '-')
                return fail(EXIT_USAGE, "unknown option \"%s\" (see dbsyncd --help)", shown);
            return fail(EXIT_USAGE, "unexpected argument \"%s\" (see dbsyncd --help)", shown);
        }
    }
    if (!o->db_url)
        return fail(EXIT_USAGE, "missing --db URL (see dbsyncd --help)");
    if (!o->schema_path)
        return fail(EXIT_USAGE, "missing --schema SCHEMA.xml (see dbsyncd --help)");
    return -1;
}

/* ---- main ---- */

/* Waits for the requests in flight (at most DRAIN_SECONDS; a second signal cuts it short). */
static void drain(daemon_ctx *d, const sigset_t *signals)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (atomic_load(&d->in_flight) > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= DRAIN_SECONDS) {
            say("%ld requests still running after %d s; stopping anyway",
                atomic_load(&d->in_flight), DRAIN_SECONDS);
            return;
        }
        struct timespec tick = {0, 20 * 1000000L};
        int sig = sigtimedwait(signals, NULL, &tick);
        if (sig > 0) {
            say("%s received again; stopping now", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
    }
}

/* Serves until SIGTERM or SIGINT. d is fully set up. */
static int serve(daemon_ctx *d, const listen_addr *addr, uint16_t port, unsigned threads,
                 const char *listen_text)
{
    /* Blocked in every thread (libmicrohttpd's inherit the mask): only sigwait takes them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    int e = pthread_sigmask(SIG_BLOCK, &signals, NULL);
    if (e != 0)
        return fail(EXIT_FAIL, "cannot block signals: %s", strerror(e));

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (addr->ipv6 ? MHD_USE_IPv6 : 0);
    const struct sockaddr *sa = addr->ipv6 ? (const struct sockaddr *)(const void *)&addr->in6
                                           : (const struct sockaddr *)(const void *)&addr->in4;
    struct MHD_Daemon *mhd =
        MHD_start_daemon(flags, port, NULL, NULL, on_request, d, MHD_OPTION_EXTERNAL_LOGGER,
                         mhd_log, d, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, d, MHD_OPTION_END);
    pthread_mutex_lock(&d->log_lock);
    d->started = true;
    pthread_mutex_unlock(&d->log_lock);
    if (!mhd) {
        if (d->startup_message[0])
            return fail(EXIT_FAIL, "cannot listen on %s: %s", listen_text, d->startup_message);
        return fail(EXIT_FAIL, "cannot listen on %s", listen_text);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : port;
    if (addr->ipv6)
        printf("dbsyncd: listening on [%s]:%u\n", addr->host, bound);
    else
        printf("dbsyncd: listening on %s:%u\n", addr->host, bound);
    fflush(stdout);

    int sig = 0;
    e = sigwait(&signals, &sig);
    if (e != 0)
        say("sigwait: %s; stopping", strerror(e));
    else
        say("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    MHD_socket listen_fd = MHD_quiesce_daemon(mhd);
    drain(d, &signals);
    MHD_stop_daemon(mhd);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    return EXIT_OK;
}

static int run(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        return status;

    listen_addr addr;
    uint16_t port = 0;
    const char *why = NULL;
    const char *listen_text = o.listen ? o.listen : DEFAULT_LISTEN;
    char shown[SHOWN_MAX * 4 + 8];
    if (!parse_listen(listen_text, &addr, &port, &why)) {
        escape_field(shown, sizeof shown, listen_text);
        return fail(EXIT_USAGE, "bad --listen \"%s\": %s", shown, why);
    }
    unsigned long long threads = DEFAULT_THREADS;
    if (o.threads && !parse_number(o.threads, 1, MAX_THREADS, &threads)) {
        escape_field(shown, sizeof shown, o.threads);
        return fail(EXIT_USAGE, "bad --threads \"%s\": expected a number from 1 to %d", shown,
                    MAX_THREADS);
    }
    size_t max_body = DEFAULT_MAX_BODY;
    if (o.max_body && !parse_size(o.max_body, &max_body)) {
        escape_field(shown, sizeof shown, o.max_body);
        return fail(EXIT_USAGE,
                    "bad --max-body \"%s\": expected a positive number of bytes, "
                    "optionally with K, M or G",
                    shown);
    }
    unsigned long long page_size = 0;
    if (o.page_size && !parse_number(o.page_size, 1, MAX_PAGE_SIZE, &page_size)) {
        escape_field(shown, sizeof shown, o.page_size);
        return fail(EXIT_USAGE, "bad --page-size \"%s\": expected a number from 1 to %ld", shown,
                    MAX_PAGE_SIZE);
    }
    if (o.token && !o.token[0])
        return fail(EXIT_USAGE, "bad --registration-token: it must not be empty");

    daemon_ctx d;
    memset(&d, 0, sizeof d);
    d.db_url = o.db_url;
    d.token = o.token;
    d.token_len = o.token ? strlen(o.token) : 0;
    d.max_body = max_body;
    d.quiet = o.quiet;
    atomic_init(&d.in_flight, 0);

    dbsync_error err;
    memset(&err, 0, sizeof err);
    int rc = dbsync_schema_load_file(&d.schema, o.schema_path, &err);
    if (rc != DBSYNC_OK)
        return fail(EXIT_FAIL, "%s", error_text(&err, rc));

    status = EXIT_FAIL;
    bool have_key = false;
    bool have_lock = false;
    dbsync_conn *conn = NULL;
    memset(&err, 0, sizeof err);
    rc = dbsync_conn_open(&conn, d.db_url, d.schema, &err);
    if (rc != DBSYNC_OK) {
        fail(EXIT_FAIL, "%s", error_text(&err, rc));
        goto done;
    }
    /*
     * The tables, then the index pulls read by. Daemons started together on a
     * new PostgreSQL or MySQL database race to create them, and the losers'
     * CREATE fails; once the winner has committed, both steps are no-ops.
     * Hence a few tries.
     */
    for (int attempt = 1;; attempt++) {
        rc = dbsync_conn_create_all(conn);
        if (rc == DBSYNC_OK)
            rc = dbsync_server_prepare(NULL, conn);
        if (rc == DBSYNC_OK || attempt == CREATE_TRIES ||
            dbsync_conn_error(conn)->klass != DBSYNC_ECLASS_DB)
            break;
        struct timespec pause = {0, 200 * 1000000L * attempt};
        nanosleep(&pause, NULL);
    }
    if (rc != DBSYNC_OK) {
        fail(EXIT_FAIL, "cannot initialize the database: %s",
             error_text(dbsync_conn_error(conn), rc));
        dbsync_conn_close(conn);
        goto done;
    }
    dbsync_conn_close(conn);

    dbsync_server_options sopts = DBSYNC_SERVER_OPTIONS_INIT;
    sopts.page_size = (long)page_size;
    if (d.token) {
        sopts.on_register = check_token;
        sopts.payload = &d;
    }
    memset(&err, 0, sizeof err);
    rc = dbsync_server_new(&d.server, d.schema, &sopts, &err);
    if (rc != DBSYNC_OK) {
        d.server = NULL;
        fail(EXIT_FAIL, "%s", error_text(&err, rc));
        goto done;
    }
    int e = pthread_key_create(&d.conn_key, close_thread_conn);
    if (e != 0) {
        fail(EXIT_FAIL, "pthread_key_create: %s", strerror(e));
        goto done;
    }
    have_key = true;
    e = pthread_mutex_init(&d.log_lock, NULL);
    if (e != 0) {
        fail(EXIT_FAIL, "pthread_mutex_init: %s", strerror(e));
        goto done;
    }
    have_lock = true;

    status = serve(&d, &addr, port, (unsigned)threads, listen_text);
    if (status == EXIT_OK)
        say("stopped");

done:
    /* The worker threads have ended: their connections are closed. */
    if (have_lock)
        pthread_mutex_destroy(&d.log_lock);
    if (have_key)
        pthread_key_delete(d.conn_key);
    dbsync_server_free(d.server);
    dbsync_schema_free(d.schema);
    return status;
}

int main(int argc, char **argv)
{
    /* A client that goes away must not kill the daemon; libmicrohttpd's threads ignore it too. */
    signal(SIGPIPE, SIG_IGN);
    if (dbsync_global_init() != DBSYNC_OK)
        return fail(EXIT_FAIL, "cannot initialize the libraries");
    int status = run(argc, argv);
    dbsync_global_cleanup();
    return status;
}

/* SPDX-License-Identifier: MIT */
/*
 * The HTTP transport against a real server on a loopback port: a small
 * libmicrohttpd daemon started by this program echoes what it receives,
 * answers chosen statuses, stalls, drops connections and sends large
 * bodies. Also the checks of server URLs.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "conn.h"
#include "http.h"

static const char *dir;
static dbsync_schema *schema;
static struct MHD_Daemon *daemon_;
static unsigned short port;
static char base[64]; /* "http://127.0.0.1:PORT" */

#define BIG_SIZE (5u * 1024 * 1024)
static char *big; /* the body of /big: every byte value, NULs included */

static const char schema_xml[] = "<?xml version=\"1.0\"?>\n"
                                 "<schema name=\"h\" version=\"1\">\n"
                                 "  <table name=\"thing\">\n"
                                 "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
                                 "  </table>\n"
                                 "</schema>\n";

/* ---- the test server ---- */

/* The body of a request as it arrives. */
typedef struct upload {
    char *data;
    size_t len;
    size_t cap;
} upload;

static void upload_add(upload *u, const char *p, size_t n)
{
    if (u->len + n + 1 > u->cap) {
        size_t cap = u->cap ? u->cap : 1024;
        while (cap < u->len + n + 1)
            cap *= 2;
        char *d = realloc(u->data, cap);
        if (!d)
            abort();
        u->data = d;
        u->cap = cap;
    }
    memcpy(u->data + u->len, p, n);
    u->len += n;
    u->data[u->len] = '\0';
}

static void upload_str(upload *u, const char *s)
{
    upload_add(u, s, strlen(s));
}

/* Appends "key":"value" or "key":null (the values used here need no escaping). */
static void json_field(upload *u, const char *key, const char *value, bool last)
{
    upload_str(u, "\"");
    upload_str(u, key);
    upload_str(u, "\":");
    if (value) {
        upload_str(u, "\"");
        upload_str(u, value);
        upload_str(u, "\"");
    } else {
        upload_str(u, "null");
    }
    if (!last)
        upload_str(u, ",");
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* /huge: announces 2 GiB and sends 'x' for as long as the client reads. */
static ssize_t huge_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    memset(buf, 'x', max);
    return (ssize_t)max;
}

static const char *suffix(const char *url, const char *end)
{
    size_t a = strlen(url), b = strlen(end);
    return a >= b && !strcmp(url + a - b, end) ? url + a - b : NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)version;
    upload *u = *req_cls;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u)
            return MHD_NO;
        *req_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        upload_add(u, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (suffix(url, "/echo")) {
        upload out = {NULL, 0, 0};
        upload_str(&out, "{");
        json_field(&out, "method", method, false);
        json_field(&out, "path", url, false);
        json_field(&out, "q", MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q"), false);
        json_field(&out, "signature",
                   MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Dbsync-Signature"), false);
        json_field(&out, "content_type",
                   MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"), false);
        upload_str(&out, "\"body\":\"");
        if (u->len)
            upload_add(&out, u->data, u->len);
        upload_str(&out, "\"}");
        return reply(c, 200, out.data, out.len, MHD_RESPMEM_MUST_FREE);
    }
    if (!strcmp(url, "/raw")) {
        char *body = u->data;
        size_t len = u->len;
        u->data = NULL;
        u->len = u->cap = 0;
        return reply(c, 200, body ? body : "", len,
                     body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    }
    if (!strcmp(url, "/conninfo")) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr_in *sa = (const struct sockaddr_in *)ci->client_addr;
        const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
        char *out = malloc(300);
        if (!out)
            return MHD_NO;
        int n = snprintf(out, 300, "port=%u accept-encoding=%.200s", ntohs(sa->sin_port),
                         ae ? ae : "(none)");
        return reply(c, 200, out, (size_t)n, MHD_RESPMEM_MUST_FREE);
    }
    if (!strncmp(url, "/status/", 8)) {
        unsigned status = (unsigned)atoi(url + 8);
        if (status == 204)
            return reply(c, status, "", 0, MHD_RESPMEM_PERSISTENT);
        char *out = malloc(32);
        if (!out)
            return MHD_NO;
        int n = snprintf(out, 32, "status %u", status);
        return reply(c, status, out, (size_t)n, MHD_RESPMEM_MUST_FREE);
    }
    if (!strcmp(url, "/slow")) {
        sleep(2);
        return reply(c, 200, "late", 4, MHD_RESPMEM_PERSISTENT);
    }
    if (!strcmp(url, "/drop"))
        return MHD_NO; /* closes the connection without an answer */
    if (!strcmp(url, "/big"))
        return reply(c, 200, big, BIG_SIZE, MHD_RESPMEM_PERSISTENT);
    if (!strcmp(url, "/huge")) {
        struct MHD_Response *r = MHD_create_response_from_callback((uint64_t)2 << 30, 64 * 1024,
                                                                   huge_reader, NULL, NULL);
        if (!r)
            return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ok;
    }
    return reply(c, 404, "no such path", 12, MHD_RESPMEM_PERSISTENT);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    upload *u = *req_cls;
    if (u) {
        free(u->data);
        free(u);
        *req_cls = NULL;
    }
}

/* A loopback port with nothing listening on it (bound, then released). */
static unsigned short closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    close(s);
    return ntohs(sa.sin_port);
}

static int setup(void **state)
{
    (void)state;
    dir = tu_tmpdir("http");
    dbsync_error err;
    if (dbsync_schema_load_memory(&schema, schema_xml, sizeof schema_xml - 1, "h.xml", &err)) {
        fprintf(stderr, "schema: %s\n", err.message);
        return -1;
    }
    big = malloc(BIG_SIZE);
    if (!big)
        return -1;
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (char)(i * 7 % 256);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                               NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                               MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!daemon_) {
        fprintf(stderr, "cannot start the test HTTP server\n");
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || !info->port) {
        fprintf(stderr, "cannot learn the test HTTP server's port\n");
        return -1;
    }
    port = info->port;
    snprintf(base, sizeof base, "http://127.0.0.1:%u", port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (daemon_)
        MHD_stop_daemon(daemon_);
    free(big);
    dbsync_schema_free(schema);
    dbsync_global_cleanup();
    return 0;
}

static dbsync_conn *open_conn(const char *file)
{
    dbsync_conn *c;
    dbsync_error err;
    if (dbsync_conn_open(&c, tu_sqlite_url(dir, file), schema, &err))
        fail_msg("open: %s", err.message);
    return c;
}

/* dbsync__http_close first: it must be harmless whether or not
 * dbsync_conn_close() also closes the handle. */
static void close_conn(dbsync_conn *c)
{
    dbsync__http_close(c);
    dbsync_conn_close(c);
}

static void expect_message(const dbsync_conn *c, const char *fragment)
{
    if (!strstr(c->error.message, fragment))
        fail_msg("message \"%s\" lacks \"%s\"", c->error.message, fragment);
}

/* A response that must be empty after a failure. */
static void expect_empty(const dbsync__http_response *r)
{
    assert_null(r->body);
    assert_int_equal(r->len, 0);
    assert_int_equal(r->status, 0);
}

static void get_ok(dbsync_conn *c, const char *base_url, const char *path, dbsync__http_response *r)
{
    int rc = dbsync__http_request(c, "GET", base_url, path, NULL, 0, NULL, NULL, r);
    if (rc)
        fail_msg("GET %s%s: %s", base_url, path, c->error.message);
}

/* ---- cases ---- */

static void test_http__get_round_trip(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("get.db");
    dbsync__http_response r;
    get_ok(c, base, "/echo", &r);
    assert_int_equal(r.status, 200);
    const char *expected = "{\"method\":\"GET\",\"path\":\"/echo\",\"q\":null,\"signature\":null,"
                           "\"content_type\":null,\"body\":\"\"}";
    assert_string_equal(r.body, expected);
    assert_int_equal(r.len, strlen(expected));
    dbsync__http_response_clear(&r);
    expect_empty(&r);
    dbsync__http_response_clear(&r); /* twice is harmless */

    /* a path may carry an escaped query string */
    get_ok(c, base, "/echo?q=two%20words", &r);
    assert_non_null(strstr(r.body, "\"q\":\"two words\""));
    dbsync__http_response_clear(&r);
    close_conn(c);
}

static void test_http__post_round_trip(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("post.db");
    dbsync__http_response r;
    const char *json = "{\"a\":[1,2,3]}";
    assert_int_equal(
        dbsync__http_request(c, "POST", base, "/echo", json, strlen(json), NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"method\":\"POST\",\"path\":\"/echo\",\"q\":null,"
                                "\"signature\":null,\"content_type\":\"application/json\","
                                "\"body\":\"{\"a\":[1,2,3]}\"}");
    dbsync__http_response_clear(&r);

    /* body_len rules, not strlen: only the first 6 bytes go */
    assert_int_equal(dbsync__http_request(c, "POST", base, "/raw", json, 6, NULL, NULL, &r), 0);
    assert_int_equal(r.len, 6);
    assert_string_equal(r.body, "{\"a\":[");
    dbsync__http_response_clear(&r);

    /* an empty POST */
    assert_int_equal(dbsync__http_request(c, "POST", base, "/raw", NULL, 0, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_non_null(r.body);
    assert_string_equal(r.body, "");
    dbsync__http_response_clear(&r);

    /* 2 MB of every byte value, NULs included, come back exactly */
    size_t n = 2u * 1024 * 1024 + 17;
    assert_int_equal(dbsync__http_request(c, "POST", base, "/raw", big + 3, n, NULL, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, n);
    assert_memory_equal(r.body, big + 3, n);
    assert_int_equal(r.body[n], '\0');
    dbsync__http_response_clear(&r);
    close_conn(c);
}

static void test_http__signature_header(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("sig.db");
    dbsync__http_response r;
    const char *sig = "3f7a9c0e5d21b4a8";
    assert_int_equal(dbsync__http_request(c, "POST", base, "/echo", "{}", 2, sig, NULL, &r), 0);
    assert_non_null(strstr(r.body, "\"signature\":\"3f7a9c0e5d21b4a8\""));
    dbsync__http_response_clear(&r);
    /* the next request on the same handle does not carry it over */
    assert_int_equal(dbsync__http_request(c, "POST", base, "/echo", "{}", 2, NULL, NULL, &r), 0);
    assert_non_null(strstr(r.body, "\"signature\":null"));
    dbsync__http_response_clear(&r);
    assert_int_equal(dbsync__http_request(c, "GET", base, "/echo", NULL, 0, sig, NULL, &r), 0);
    assert_non_null(strstr(r.body, "\"signature\":\"3f7a9c0e5d21b4a8\""));
    dbsync__http_response_clear(&r);
    /* a signature cannot smuggle in another header */
    r.status = 99;
    assert_int_equal(
        dbsync__http_request(c, "POST", base, "/echo", "{}", 2, "ab\r\nX-Evil: 1", NULL, &r),
        DBSYNC_EINVALID);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_ARG);
    expect_empty(&r);
    close_conn(c);
}

static void test_http__status_is_success(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("status.db");
    dbsync__http_response r;
    static const long statuses[] = {409, 400, 401, 500, 503};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        char path[32], text[32];
        snprintf(path, sizeof path, "/status/%ld", statuses[i]);
        snprintf(text, sizeof text, "status %ld", statuses[i]);
        assert_int_equal(dbsync__http_request(c, "POST", base, path, "{}", 2, NULL, NULL, &r), 0);
        assert_int_equal(r.status, statuses[i]);
        assert_string_equal(r.body, text);
        dbsync__http_response_clear(&r);
    }
    get_ok(c, base, "/status/204", &r);
    assert_int_equal(r.status, 204);
    assert_non_null(r.body);
    assert_int_equal(r.len, 0);
    dbsync__http_response_clear(&r);
    get_ok(c, base, "/nowhere", &r);
    assert_int_equal(r.status, 404);
    dbsync__http_response_clear(&r);
    close_conn(c);
}

static void test_http__connection_refused(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("refused.db");
    char url[64], expected[128];
    unsigned short p = closed_port();
    snprintf(url, sizeof url, "http://127.0.0.1:%u", p);
    snprintf(expected, sizeof expected, "cannot reach http://127.0.0.1:%u/push: ", p);
    dbsync__http_response r = {7, NULL, 3};
    assert_int_equal(dbsync__http_request(c, "POST", url, "/push", "{}", 2, NULL, NULL, &r),
                     DBSYNC_ENET);
    expect_empty(&r);
    assert_int_equal(c->error.code, DBSYNC_ENET);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_NET);
    assert_int_equal(c->error.cause, CURLE_COULDNT_CONNECT);
    expect_message(c, expected);
    expect_message(c, curl_easy_strerror(CURLE_COULDNT_CONNECT));
    assert_null(strchr(c->error.message, '\n'));
    /* the handle stays usable */
    get_ok(c, base, "/echo", &r);
    assert_int_equal(r.status, 200);
    dbsync__http_response_clear(&r);
    close_conn(c);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_http__timeout(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("timeout.db");
    dbsync_client_options opts = DBSYNC_CLIENT_OPTIONS_INIT;
    opts.timeout_ms = 300;
    dbsync__http_response r;
    double t0 = now();
    assert_int_equal(dbsync__http_request(c, "GET", base, "/slow", NULL, 0, NULL, &opts, &r),
                     DBSYNC_ENET);
    double elapsed = now() - t0;
    if (elapsed > 1.5)
        fail_msg("timed out after %.2f s, not about 0.3 s", elapsed);
    expect_empty(&r);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_NET);
    assert_int_equal(c->error.cause, CURLE_OPERATION_TIMEDOUT);
    expect_message(c, "cannot reach http://127.0.0.1:");
    expect_message(c, "/slow: ");
    /* the next request on the handle works */
    get_ok(c, base, "/echo", &r);
    assert_int_equal(r.status, 200);
    dbsync__http_response_clear(&r);
    close_conn(c);
}

static void test_http__server_drops_connection(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("drop.db");
    dbsync__http_response r;
    assert_int_equal(dbsync__http_request(c, "POST", base, "/drop", "{}", 2, NULL, NULL, &r),
                     DBSYNC_ENET);
    expect_empty(&r);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_NET);
    assert_int_equal(c->error.cause, CURLE_GOT_NOTHING);
    expect_message(c, "/drop: ");
    close_conn(c);
}

static void test_http__large_body(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("big.db");
    dbsync__http_response r;
    get_ok(c, base, "/big", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, BIG_SIZE);
    assert_memory_equal(r.body, big, BIG_SIZE);
    assert_int_equal(r.body[BIG_SIZE], '\0');
    dbsync__http_response_clear(&r);
    close_conn(c);
}

/* A body announced above 1 GiB is refused before it is received. */
static void test_http__body_too_large(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("huge.db");
    dbsync__http_response r;
    assert_int_equal(dbsync__http_request(c, "GET", base, "/huge", NULL, 0, NULL, NULL, &r),
                     DBSYNC_ERROR);
    expect_empty(&r);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_NET);
    expect_message(c, "/huge is larger than 1 GiB");
    close_conn(c);
}

static void test_http__keep_alive(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("keepalive.db");
    assert_null(c->http);
    dbsync__http_response r1, r2, r3;
    get_ok(c, base, "/conninfo", &r1);
    void *handle = c->http;
    assert_non_null(handle);
    assert_int_equal(dbsync__http_request(c, "POST", base, "/echo", "{}", 2, "s", NULL, &r2), 0);
    get_ok(c, base, "/conninfo", &r3);
    assert_ptr_equal(c->http, handle);
    /* the server saw the same client socket: one TCP connection for all three */
    unsigned p1 = 0, p3 = 0;
    assert_int_equal(sscanf(r1.body, "port=%u", &p1), 1);
    assert_int_equal(sscanf(r3.body, "port=%u", &p3), 1);
    assert_int_not_equal(p1, 0);
    assert_int_equal(p1, p3);
    /* gzip is offered when libcurl can decode it */
    if (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_LIBZ)
        assert_non_null(strstr(r1.body, "gzip"));
    dbsync__http_response_clear(&r1);
    dbsync__http_response_clear(&r2);
    dbsync__http_response_clear(&r3);
    close_conn(c);
}

static void test_http__close_then_request(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("close.db");
    dbsync__http_close(c); /* no handle yet: harmless */
    assert_null(c->http);
    dbsync__http_response r;
    get_ok(c, base, "/conninfo", &r);
    unsigned p1 = 0, p2 = 0;
    assert_int_equal(sscanf(r.body, "port=%u", &p1), 1);
    dbsync__http_response_clear(&r);
    assert_non_null(c->http);
    dbsync__http_close(c);
    assert_null(c->http);
    dbsync__http_close(c);
    get_ok(c, base, "/conninfo", &r);
    assert_non_null(c->http);
    assert_int_equal(sscanf(r.body, "port=%u", &p2), 1);
    assert_int_not_equal(p1, p2); /* a new connection */
    dbsync__http_response_clear(&r);
    dbsync__http_close(NULL);
    close_conn(c);
}

static void url_good(const char *url)
{
    dbsync_error err;
    memset(&err, 0, sizeof err);
    if (dbsync__http_check_url(url, &err))
        fail_msg("%s refused: %s", url, err.message);
}

static void url_bad(const char *url, const char *fragment)
{
    dbsync_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dbsync__http_check_url(url, &err), DBSYNC_EINVALID);
    assert_int_equal(err.code, DBSYNC_EINVALID);
    assert_int_equal(err.klass, DBSYNC_ECLASS_ARG);
    if (!strstr(err.message, fragment))
        fail_msg("%s: message \"%s\" lacks \"%s\"", url ? url : "(null)", err.message, fragment);
    assert_int_equal(dbsync__http_check_url(url, NULL), DBSYNC_EINVALID);
}

static void test_http__check_url(void **state)
{
    (void)state;
    url_good("http://localhost");
    url_good("http://sync.example.com:8080");
    url_good("http://sync.example.com:8080/");
    url_good("http://127.0.0.1:1/api/v1");
    url_good("http://127.0.0.1:65535/api/v1/");
    url_good("https://sync.example.com");
    url_good("HTTPS://Sync.Example.com/x");
    url_good("http://[::1]:8080/x");
    url_good("http://[fe80::1]");

    url_bad(NULL, "empty URL");
    url_bad("", "empty URL");
    url_bad("ftp://host/x", "\"ftp://host/x\": the scheme must be http:// or https://");
    url_bad("localhost:8080", "\"localhost:8080\": the scheme must be");
    url_bad("http:/host", "the scheme must be");
    url_bad("http://", "\"http://\": no host");
    url_bad("http:///x", "\"http:///x\": no host");
    url_bad("http://:8080/x", "no host");
    url_bad("http://[]:80", "no host");
    url_bad("http://[::1:80/x", "unclosed [");
    url_bad("http://[::1]x/", "unexpected text after ]");
    url_bad("http://host:0", "\"http://host:0\": bad port (expected 1-65535)");
    url_bad("http://host:65536/", "bad port");
    url_bad("http://host:123456/", "bad port");
    url_bad("http://host:-1/", "bad port");
    url_bad("http://host:/x", "bad port");
    url_bad("http://host:http/x", "bad port");
    url_bad("http://[::1]:99999", "bad port");
    url_bad("http://host/x?y=1", "\"http://host/x?y=1\": a server URL takes no query string");
    url_bad("http://host?y=1", "no query string");
    url_bad("http://host/x#top", "\"http://host/x#top\": a server URL takes no fragment");
    url_bad("http://host/a b", "\"http://host/a b\": contains a space or a control character");
    url_bad("http://ho\tst/", "\"http://ho?st/\": contains a space or a control character");
    url_bad("http://host/\n", "control character");
    url_bad("http://ann:secret@host/", "user or password in the URL is not supported");
    /* a long URL is cut in the message, which still names the problem */
    char longurl[1200];
    snprintf(longurl, sizeof longurl, "http://host/%0*d?x", 1000, 0);
    url_bad(longurl, "...\": a server URL takes no query string");
}

static void test_http__base_url_joining(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("join.db");
    dbsync__http_response r;
    char url[96];
    snprintf(url, sizeof url, "%s/", base);
    get_ok(c, url, "/echo", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"path\":\"/echo\""));
    dbsync__http_response_clear(&r);
    snprintf(url, sizeof url, "%s/api/v1/", base);
    get_ok(c, url, "/echo", &r);
    assert_non_null(strstr(r.body, "\"path\":\"/api/v1/echo\""));
    dbsync__http_response_clear(&r);
    snprintf(url, sizeof url, "%s/api/v1", base);
    get_ok(c, url, "/echo", &r);
    assert_non_null(strstr(r.body, "\"path\":\"/api/v1/echo\""));
    dbsync__http_response_clear(&r);

    /* a bad base URL or path is refused before anything is sent */
    snprintf(url, sizeof url, "%s/?x=1", base);
    assert_int_equal(dbsync__http_request(c, "GET", url, "/echo", NULL, 0, NULL, NULL, &r),
                     DBSYNC_EINVALID);
    expect_empty(&r);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_ARG);
    expect_message(c, "no query string");
    assert_int_equal(dbsync__http_request(c, "GET", base, "echo", NULL, 0, NULL, NULL, &r),
                     DBSYNC_EINVALID);
    expect_message(c, "bad path");
    assert_int_equal(dbsync__http_request(c, "GET", base, "/a b", NULL, 0, NULL, NULL, &r),
                     DBSYNC_EINVALID);
    assert_int_equal(dbsync__http_request(c, "GET", base, "/echo", "x", 1, NULL, NULL, &r),
                     DBSYNC_EINVALID);
    expect_message(c, "GET request takes no body");
    expect_empty(&r);
    close_conn(c);
}

/* TLS failures are errors of class NET, not "offline". */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf && !n) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* A real HTTPS round trip: a TLS server with a certificate made for the
 * test, trusted through ca_file; refused without it. */
static void test_http__https(void **state)
{
    (void)state;
    char cmd[4096], key[1200], cert[1200];
    snprintf(key, sizeof key, "%s/tls-key.pem", dir);
    snprintf(cert, sizeof cert, "%s/tls-cert.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 2 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        if (getenv("CI"))
            fail_msg("the openssl command is needed to make the test certificate");
        skip();
    }
    char *key_pem = read_all(key), *cert_pem = read_all(cert);
    assert_non_null(key_pem);
    assert_non_null(cert_pem);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *tls = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_TLS, 0, NULL,
        NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, completed,
        NULL, MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
        MHD_OPTION_END);
    if (!tls) {
        free(key_pem);
        free(cert_pem);
        fail_msg("libmicrohttpd could not start a TLS server");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(tls, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", info->port);
    dbsync_conn *c = open_conn("https.db");
    dbsync__http_response r;
    dbsync_client_options opts = DBSYNC_CLIENT_OPTIONS_INIT;
    opts.timeout_ms = 10000;
    /* the certificate is not trusted by the system */
    assert_int_equal(dbsync__http_request(c, "POST", url, "/echo", "{\"x\":1}", 7, NULL, &opts, &r),
                     DBSYNC_ERROR);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_NET);
    expect_empty(&r);
    /* trusted through ca_file: the request goes through, encrypted */
    opts.ca_file = cert;
    assert_int_equal(dbsync__http_request(c, "POST", url, "/echo", "{\"x\":1}", 7, NULL, &opts, &r),
                     DBSYNC_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(r.body);
    assert_non_null(strstr(r.body, "{\"x\":1}"));
    dbsync__http_response_clear(&r);
    close_conn(c);
    MHD_stop_daemon(tls);
    free(key_pem);
    free(cert_pem);
}

static void test_http__tls_errors(void **state)
{
    (void)state;
    dbsync_conn *c = open_conn("tls.db");
    dbsync__http_response r;
    char url[64];
    /* a TLS handshake with a plain HTTP server */
    snprintf(url, sizeof url, "https://127.0.0.1:%u", port);
    dbsync_client_options opts = DBSYNC_CLIENT_OPTIONS_INIT;
    opts.timeout_ms = 5000;
    assert_int_equal(dbsync__http_request(c, "GET", url, "/echo", NULL, 0, NULL, &opts, &r),
                     DBSYNC_ERROR);
    expect_empty(&r);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_NET);
    assert_int_not_equal(c->error.cause, CURLE_OK);
    expect_message(c, "request to https://127.0.0.1:");
    expect_message(c, "/echo failed: ");
    /* a CA bundle that does not exist */
    opts.ca_file = "/nonexistent/ca.pem";
    assert_int_equal(dbsync__http_request(c, "GET", url, "/echo", NULL, 0, NULL, &opts, &r),
                     DBSYNC_ERROR);
    assert_int_equal(c->error.klass, DBSYNC_ECLASS_NET);
    expect_empty(&r);
    close_conn(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__get_round_trip),
        cmocka_unit_test(test_http__post_round_trip),
        cmocka_unit_test(test_http__signature_header),
        cmocka_unit_test(test_http__status_is_success),
        cmocka_unit_test(test_http__connection_refused),
        cmocka_unit_test(test_http__timeout),
        cmocka_unit_test(test_http__server_drops_connection),
        cmocka_unit_test(test_http__large_body),
        cmocka_unit_test(test_http__body_too_large),
        cmocka_unit_test(test_http__keep_alive),
        cmocka_unit_test(test_http__close_then_request),
        cmocka_unit_test(test_http__check_url),
        cmocka_unit_test(test_http__base_url_joining),
        cmocka_unit_test(test_http__tls_errors),
        cmocka_unit_test(test_http__https),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/*
 * The client's HTTP transport: one libcurl easy handle per connection,
 * created on the first request and kept in conn->http so that the requests
 * of a procedure reuse one keep-alive connection. Invariants:
 * - between two requests the handle holds no pointer into memory of a past
 *   call (it is reset when a request ends: error buffer, body, header list);
 * - a request either fills its response completely or leaves it empty, with
 *   the connection's error set (cause: the CURLcode);
 * - a response body never exceeds DBSYNC__HTTP_MAX_BODY bytes and is always
 *   NUL-terminated;
 * - URLs are checked before libcurl sees them, and only http/https are
 *   allowed, with no redirects followed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "conn.h"
#include "http.h"

/* The largest response body accepted (1 GiB): a larger answer is a broken
 * or hostile server, and is refused before it exhausts memory. */
#define DBSYNC__HTTP_MAX_BODY ((size_t)1 << 30)

#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L

/* Longest part of a URL quoted in a message, so that the problem and the
 * libcurl text still fit in the fixed-size error message. */
#define URL_QUOTE_MAX 200

/* The response being received. */
typedef struct body_sink {
    char *data;
    size_t len;
    size_t cap;
    bool too_big;
    bool oom;
} body_sink;

/* Copies at most URL_QUOTE_MAX bytes of a URL for a message, control
 * characters shown as '?', so that a message stays one printable line. */
static void quote_url(char *out, size_t size, const char *url)
{
    size_t n = 0;
    size_t max = size - 4 < URL_QUOTE_MAX ? size - 4 : URL_QUOTE_MAX;
    for (; url[n] && n < max; n++) {
        unsigned char c = (unsigned char)url[n];
        out[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (url[n]) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int url_error(dbsync_error *err, const char *url, const char *problem)
{
    char q[URL_QUOTE_MAX + 4];
    quote_url(q, sizeof q, url);
    dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "bad server URL \"%s\": %s", q,
                      problem);
    if (err) {
        err->cause = 0;
        err->line = 0;
    }
    return DBSYNC_EINVALID;
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != *prefix)
            return false;
    }
    return true;
}

int dbsync__http_check_url(const char *url, dbsync_error *err)
{
    if (!url || !*url)
        return url_error(err, "", "empty URL");
    for (const char *p = url; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f)
            return url_error(err, url, "contains a space or a control character");
    }
    const char *host;
    if (has_prefix_nocase(url, "http://"))
        host = url + 7;
    else if (has_prefix_nocase(url, "https://"))
        host = url + 8;
    else
        return url_error(err, url, "the scheme must be http:// or https://");

    size_t auth_len = strcspn(host, "/?#");
    const char *rest = host + auth_len;
    if (memchr(host, '@', auth_len))
        return url_error(err, url, "user or password in the URL is not supported");

    const char *port = NULL;
    size_t port_len = 0;
    if (*host == '[') {
        const char *close = memchr(host, ']', auth_len);
        if (!close)
            return url_error(err, url, "unclosed [ in the host");
        if (close == host + 1)
            return url_error(err, url, "no host");
        if (close + 1 < rest) {
            if (close[1] != ':')
                return url_error(err, url, "unexpected text after ]");
            port = close + 2;
            port_len = (size_t)(rest - port);
        }
    } else {
        const char *colon = memchr(host, ':', auth_len);
        size_t host_len = colon ? (size_t)(colon - host) : auth_len;
        if (host_len == 0)
            return url_error(err, url, "no host");
        if (colon) {
            port = colon + 1;
            port_len = (size_t)(rest - port);
        }
    }
    if (port) {
        long v = 0;
        bool ok = port_len > 0 && port_len <= 5;
        for (size_t i = 0; ok && i < port_len; i++) {
            if (port[i] < '0' || port[i] > '9')
                ok = false;
            else
                v = v * 10 + (port[i] - '0');
        }
        if (!ok || v < 1 || v > 65535)
            return url_error(err, url, "bad port (expected 1-65535)");
    }
    if (strchr(rest, '?'))
        return url_error(err, url, "a server URL takes no query string");
    if (strchr(rest, '#'))
        return url_error(err, url, "a server URL takes no fragment");
    return DBSYNC_OK;
}

void dbsync__http_response_clear(dbsync__http_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
    r->status = 0;
}

void dbsync__http_close(dbsync_conn *conn)
{
    if (!conn || !conn->http)
        return;
    curl_easy_cleanup((CURL *)conn->http);
    conn->http = NULL;
}

static bool sink_reserve(body_sink *s, size_t need)
{
    if (need <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < need)
        cap = cap > DBSYNC__HTTP_MAX_BODY / 2 ? DBSYNC__HTTP_MAX_BODY + 1 : cap * 2;
    char *p = realloc(s->data, cap);
    if (!p) {
        s->oom = true;
        return false;
    }
    s->data = p;
    s->cap = cap;
    return true;
}

/* libcurl's write callback: returning less than given aborts the transfer
 * (CURLE_WRITE_ERROR); the sink's flags then say why. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body_sink *s = userdata;
    size_t n = size * nmemb;
    if (n > DBSYNC__HTTP_MAX_BODY - s->len) {
        s->too_big = true;
        return 0;
    }
    /* +1: the NUL kept after the data */
    if (!sink_reserve(s, s->len + n + 1))
        return 0;
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

/* Codes after which the server may simply be unreachable for now. */
static bool is_offline(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

/* Fills conn's error for a failed transfer: the libcurl text, with the
 * error buffer's detail when it has one. */
static int transfer_error(dbsync_conn *conn, CURLcode rc, const char *url, const char *errbuf,
                          const body_sink *sink)
{
    char q[URL_QUOTE_MAX + 4];
    quote_url(q, sizeof q, url);
    int code;
    if (sink->oom || rc == CURLE_OUT_OF_MEMORY) {
        code = dbsync__error_nomem(&conn->error);
    } else if (sink->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        code = dbsync__error_set(&conn->error, DBSYNC_ERROR, DBSYNC_ECLASS_NET,
                                 "response from %s is larger than 1 GiB", q);
    } else {
        /* the error buffer may end with a newline: keep the message one line */
        char detail[CURL_ERROR_SIZE];
        dbsync__one_line(detail, sizeof detail, errbuf);
        size_t dl = strlen(detail);
        const char *text = curl_easy_strerror(rc);
        if (strcmp(detail, text) == 0)
            dl = 0;
        bool offline = is_offline(rc);
        code = offline ? DBSYNC_ENET : DBSYNC_ERROR;
        dbsync__error_set(&conn->error, code, DBSYNC_ECLASS_NET, "%s %s%s: %s%s%s%s",
                          offline ? "cannot reach" : "request to", q, offline ? "" : " failed",
                          text, dl > 0 ? " (" : "", dl > 0 ? detail : "", dl > 0 ? ")" : "");
    }
    conn->error.cause = (long)rc;
    conn->error.line = 0;
    return code;
}

/* Sets one option; a failure here means this libcurl lacks a feature. */
#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        CURLcode set_rc_ = curl_easy_setopt(curl, opt, val);                                       \
        if (set_rc_ != CURLE_OK) {                                                                 \
            rc = transfer_error(conn, set_rc_, url.data ? url.data : base_url, "", &sink);         \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

/* Fills conn's error for a failure that is not libcurl's (cause 0). */
static int request_error(dbsync_conn *conn, int code, int klass, const char *message)
{
    dbsync__error_set(&conn->error, code, klass, "%s", message);
    conn->error.cause = 0;
    conn->error.line = 0;
    return code;
}

static bool header_value_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static size_t read_file(char *buf, size_t size, size_t n, void *stream)
{
    return fread(buf, size, n, (FILE *)stream);
}

static int request(dbsync_conn *conn, const char *method, const char *base_url, const char *path,
                   const char *body, FILE *file, size_t body_len, const char *signature,
                   const dbsync_client_options *opts, dbsync__http_response *out);

int dbsync__http_request(dbsync_conn *conn, const char *method, const char *base_url,
                         const char *path, const char *body, size_t body_len, const char *signature,
                         const dbsync_client_options *opts, dbsync__http_response *out)
{
    return request(conn, method, base_url, path, body, NULL, body_len, signature, opts, out);
}

int dbsync__http_request_file(dbsync_conn *conn, const char *method, const char *base_url,
                              const char *path, FILE *body, size_t body_len, const char *signature,
                              const dbsync_client_options *opts, dbsync__http_response *out)
{
    rewind(body);
    return request(conn, method, base_url, path, NULL, body, body_len, signature, opts, out);
}

static int request(dbsync_conn *conn, const char *method, const char *base_url, const char *path,
                   const char *body, FILE *file, size_t body_len, const char *signature,
                   const dbsync_client_options *opts, dbsync__http_response *out)
{
    int rc = DBSYNC_OK;
    dbsync__buf url = DBSYNC__BUF_INIT;
    dbsync__buf sig_header = DBSYNC__BUF_INIT;
    struct curl_slist *headers = NULL;
    body_sink sink = {NULL, 0, 0, false, false};
    char errbuf[CURL_ERROR_SIZE];
    CURL *curl = NULL;
    bool is_get = method && strcmp(method, "GET") == 0;
    long status = 0;
    size_t base_len;
    CURLcode crc;

    errbuf[0] = '\0';
    out->status = 0;
    out->body = NULL;
    out->len = 0;

    if (!method || !*method || !header_value_ok(method) || strchr(method, ' ')) {
        rc = request_error(conn, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "HTTP request: bad method");
        goto done;
    }
    if (!path)
        path = "";
    if ((*path && *path != '/') || !header_value_ok(path) || strchr(path, ' ')) {
        rc = request_error(conn, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                           "HTTP request: bad path (it must start with '/' and hold no space or "
                           "control character)");
        goto done;
    }
    if (signature && !header_value_ok(signature)) {
        rc = request_error(conn, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                           "HTTP request: the signature holds a control character");
        goto done;
    }
    if (is_get && body && body_len > 0) {
        rc = request_error(conn, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                           "HTTP request: a GET request takes no body");
        goto done;
    }
    rc = dbsync__http_check_url(base_url, &conn->error);
    if (rc)
        goto done;

    /* base without its trailing slashes + path: never "//" at the joint */
    base_len = strlen(base_url);
    while (base_len > 0 && base_url[base_len - 1] == '/')
        base_len--;
    dbsync__buf_append(&url, base_url, base_len);
    dbsync__buf_puts(&url, path);
    if (signature) {
        dbsync__buf_puts(&sig_header, "X-Dbsync-Signature: ");
        dbsync__buf_puts(&sig_header, signature);
    }
    if (url.oom || sig_header.oom) {
        rc = request_error(conn, DBSYNC_ERROR, DBSYNC_ECLASS_NOMEM, "out of memory");
        goto done;
    }

    curl = conn->http;
    if (!curl) {
        curl = curl_easy_init();
        if (!curl) {
            rc = request_error(conn, DBSYNC_ERROR, DBSYNC_ECLASS_NOMEM, "out of memory");
            goto done;
        }
        conn->http = curl;
    }
    /* the handle keeps its live connection, DNS and TLS session caches */
    curl_easy_reset(curl);

    SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(CURLOPT_URL, url.data);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_TIMEOUT_MS,
           opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, opts && opts->connect_timeout_ms > 0
                                          ? opts->connect_timeout_ms
                                          : DEFAULT_CONNECT_TIMEOUT_MS);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (opts && opts->ca_file)
        SETOPT(CURLOPT_CAINFO, opts->ca_file);
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)DBSYNC__HTTP_MAX_BODY);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, &sink);
    SETOPT(CURLOPT_USERAGENT, "dbsync/" PACKAGE_VERSION);

    if (is_get) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else {
        /* POST semantics (body sent as is, no form encoding), under the
         * caller's method name when it is not POST */
        SETOPT(CURLOPT_POST, 1L);
        if (file) { /* streamed from the file, with its length announced */
            SETOPT(CURLOPT_READFUNCTION, read_file);
            SETOPT(CURLOPT_READDATA, file);
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        } else {
            SETOPT(CURLOPT_POSTFIELDS, body ? body : "");
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        }
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        /* the server answers only once it has the whole body: waiting for
         * "100 Continue" would only add a round trip */
        if (headers) {
            struct curl_slist *h = curl_slist_append(headers, "Expect:");
            if (h)
                headers = h;
            else
                sink.oom = true;
        }
        if (!headers)
            sink.oom = true;
    }
    if (signature && !sink.oom) {
        struct curl_slist *h = curl_slist_append(headers, sig_header.data);
        if (h)
            headers = h;
        else
            sink.oom = true;
    }
    if (sink.oom) {
        rc = request_error(conn, DBSYNC_ERROR, DBSYNC_ECLASS_NOMEM, "out of memory");
        goto done;
    }
    if (headers)
        SETOPT(CURLOPT_HTTPHEADER, headers);

    crc = curl_easy_perform(curl);
    if (crc != CURLE_OK) {
        rc = transfer_error(conn, crc, url.data, errbuf, &sink);
        goto done;
    }
    crc = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (crc != CURLE_OK) {
        rc = transfer_error(conn, crc, url.data, errbuf, &sink);
        goto done;
    }
    if (!sink.data && !sink_reserve(&sink, 1)) {
        rc = request_error(conn, DBSYNC_ERROR, DBSYNC_ECLASS_NOMEM, "out of memory");
        goto done;
    }
    sink.data[sink.len] = '\0';
    out->status = status;
    out->body = sink.data;
    out->len = sink.len;
    sink.data = NULL;

done:
    /* drop the handle's pointers to this call's memory (error buffer, body,
     * header list); its connection stays open for the next request */
    if (curl)
        curl_easy_reset(curl);
    curl_slist_free_all(headers);
    free(sink.data);
    dbsync__buf_free(&url);
    dbsync__buf_free(&sig_header);
    return rc;
}

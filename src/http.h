/* SPDX-License-Identifier: MIT */
/*
 * The client's HTTP transport over libcurl: one request at a time on the
 * connection's kept handle (keep-alive between the requests of a
 * procedure). Transport failures become DBSYNC_ENET (unreachable, timed
 * out: retry later) or DBSYNC_ERROR class NET (TLS, bad URL) with the
 * libcurl text in the connection's error; any HTTP status is a success
 * here and is judged by the caller.
 */
#ifndef DBSYNC_HTTP_H
#define DBSYNC_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "dbsync/sync.h"
#include "internal.h"

typedef struct dbsync__http_response {
    long status;  /* HTTP status */
    char *body;   /* NUL-terminated (the NUL is not counted in len); owned */
    size_t len;
} dbsync__http_response;

/*
 * Sends METHOD base_url + path (path starts with '/', may carry a query
 * string already escaped) with body (may be NULL for GET) and, when
 * signature is not NULL, the header "X-Dbsync-Signature: <signature>".
 * Content-Type of a body: application/json. Follows no redirects.
 * opts may be NULL (defaults). Returns DBSYNC_OK and fills out, or a code
 * with conn's error set (out is then empty).
 */
int dbsync__http_request(dbsync_conn *conn, const char *method, const char *base_url,
                         const char *path, const char *body, size_t body_len,
                         const char *signature, const dbsync_client_options *opts,
                         dbsync__http_response *out);

/* The same, the body read from a file (from its start) of body_len bytes:
 * large bodies are never held in memory. */
int dbsync__http_request_file(dbsync_conn *conn, const char *method, const char *base_url,
                              const char *path, FILE *body, size_t body_len,
                              const char *signature, const dbsync_client_options *opts,
                              dbsync__http_response *out);

void dbsync__http_response_clear(dbsync__http_response *r);

/* Frees the connection's kept handle; called by dbsync_conn_close(). */
void dbsync__http_close(dbsync_conn *conn);

/* Checks a server URL: http:// or https://, a host, no query or fragment.
 * Returns DBSYNC_OK or DBSYNC_EINVALID with err filled. */
int dbsync__http_check_url(const char *url, dbsync_error *err);

#endif

/* SPDX-License-Identifier: MIT */
/**
 * @file server.h
 * The server side as transport-independent handlers: give a request
 * (method, path, query string, body, signature header) and a connection to
 * the server's database, get a status and a body. dbsyncd serves them over
 * HTTP; an application can mount them in its own server.
 *
 * A dbsync_server holds no database state of its own: several processes
 * may serve one database; pushes serialize on the database's write lock.
 * One dbsync_server may be used by several threads at once, each with its
 * own dbsync_conn.
 */
#ifndef DBSYNC_SERVER_H
#define DBSYNC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <dbsync/conn.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A server (opaque). */
typedef struct dbsync_server dbsync_server;

/** What a hook sees of a request. */
typedef struct dbsync_hook_info {
    const char *procedure; /**< "register" or "push" */
    int64_t node_id;       /**< the node (0 for register) */
    const char *token;     /**< register: the token the client sent, or NULL */
    int64_t version_id;    /**< after push: the version created; else 0 */
    size_t n_operations;   /**< push: operations in the message */
} dbsync_hook_info;

/**
 * A hook: return 0 to let the request go on, non-zero to refuse it (the
 * client gets 403 and DBSYNC_EUSER; before/after push run inside the push's
 * transaction, so a refusal there changes nothing). @p message (a buffer of
 * message_size bytes) may receive the reason sent to the client.
 */
typedef int (*dbsync_hook)(dbsync_conn *conn, const dbsync_hook_info *info, char *message,
                           size_t message_size, void *payload);

/** Options of a server. */
typedef struct dbsync_server_options {
    unsigned version;          /**< DBSYNC_SERVER_OPTIONS_VERSION */
    long page_size;            /**< rows per pull/repair page at most; 0: 5000 */
    dbsync_hook on_register;   /**< may be NULL */
    dbsync_hook before_push;   /**< may be NULL */
    dbsync_hook after_push;    /**< may be NULL */
    void *payload;             /**< given to the hooks */
} dbsync_server_options;

#define DBSYNC_SERVER_OPTIONS_VERSION 1
#define DBSYNC_SERVER_OPTIONS_INIT {DBSYNC_SERVER_OPTIONS_VERSION, 0, NULL, NULL, NULL, NULL}

/** A request, as any transport delivers it. Strings are borrowed. */
typedef struct dbsync_request {
    const char *method;    /**< "GET" or "POST" */
    const char *path;      /**< "/push", "/pull", ... */
    const char *query;     /**< the query string without '?', or NULL */
    const char *body;      /**< may be NULL when body_len is 0 */
    size_t body_len;
    const char *signature; /**< the X-Dbsync-Signature header, or NULL */
} dbsync_request;

/** A response: body owned by the response; free with dbsync_response_clear(). */
typedef struct dbsync_response {
    int status;               /**< HTTP status */
    char *body;               /**< JSON text */
    size_t body_len;
    const char *content_type; /**< static */
} dbsync_response;

/**
 * Creates a server for @p schema (borrowed: it must outlive the server).
 * @return DBSYNC_OK, DBSYNC_EINVALID (bad options), DBSYNC_ERROR
 */
int dbsync_server_new(dbsync_server **out, const dbsync_schema *schema,
                      const dbsync_server_options *opts, dbsync_error *err);

/**
 * Prepares a server's database beyond dbsync_conn_create_all(): the index
 * pulls read the operations by (idempotent; nodes do not need it, and it
 * would slow their writes). Call once at start-up; pulls work without it,
 * only slower. @p server may be NULL (nothing of it is needed yet).
 * @return DBSYNC_OK or DBSYNC_ERROR (class DB)
 */
int dbsync_server_prepare(dbsync_server *server, dbsync_conn *conn);

/** Frees a server; accepts NULL. */
void dbsync_server_free(dbsync_server *server);

/**
 * Handles one request on @p conn (a connection to the server's database,
 * opened with the same schema, not in a transaction). Always fills @p out
 * (errors become JSON error bodies with their status).
 * @return DBSYNC_OK when a response was produced (whatever its status),
 *         DBSYNC_ERROR when not even an error response could be built
 */
int dbsync_server_handle(dbsync_server *server, dbsync_conn *conn, const dbsync_request *req,
                         dbsync_response *out);

/** Frees the body of a response; accepts NULL. */
void dbsync_response_clear(dbsync_response *response);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: MIT */
/**
 * @file sync.h
 * The client procedures: register, push, pull (with the merge), sync,
 * repair and query, against a dbsync server over HTTP(S).
 *
 * Every procedure takes the connection of the node's database and records
 * its failure in it (dbsync_conn_error()). A procedure either completes or
 * leaves the database exactly as it was: the merge of a pull and the
 * replacement of a repair commit once, at the end.
 */
#ifndef DBSYNC_SYNC_H
#define DBSYNC_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include <dbsync/conn.h>
#include <dbsync/crud.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Progress of a long procedure: @p stage is a static string ("push",
 * "pull", "merge", "repair"); @p done and @p total count rows or
 * operations (total is -1 when unknown). A non-zero return cancels the
 * procedure, which then fails with DBSYNC_EUSER and changes nothing.
 */
typedef int (*dbsync_progress_cb)(const char *stage, int64_t done, int64_t total, void *payload);

/** Options of the client procedures. */
typedef struct dbsync_client_options {
    unsigned version;             /**< DBSYNC_CLIENT_OPTIONS_VERSION */
    long timeout_ms;              /**< whole request; 0: 60000 */
    long connect_timeout_ms;      /**< 0: 10000 */
    int max_tries;                /**< dbsync_sync(): push/pull rounds; 0: 5 */
    long page_size;               /**< rows per page of pull and repair; 0: 5000 */
    const char *token;            /**< register: a token for the server's hook; may be NULL */
    const char *ca_file;          /**< HTTPS: a CA bundle instead of the system's; may be NULL */
    dbsync_progress_cb progress;  /**< may be NULL */
    void *payload;                /**< given to progress */
} dbsync_client_options;

#define DBSYNC_CLIENT_OPTIONS_VERSION 1
#define DBSYNC_CLIENT_OPTIONS_INIT {DBSYNC_CLIENT_OPTIONS_VERSION, 0, 0, 0, 0, NULL, NULL, NULL, NULL}

/**
 * Registers this database as a node of the server at @p server_url
 * (e.g. "http://host:8080"); stores the node id and secret it receives.
 * @return DBSYNC_OK; DBSYNC_EEXISTS (already registered); DBSYNC_EUSER
 *         (the server refused); DBSYNC_ENET (unreachable: retry later);
 *         DBSYNC_ERROR
 */
int dbsync_register(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts);

/**
 * Sends the operations not yet pushed, with the rows they need.
 * @return DBSYNC_OK (also when there was nothing to push);
 *         DBSYNC_EPULLREQUIRED (the server has versions this node lacks);
 *         DBSYNC_ENOTREGISTERED; DBSYNC_ECONFLICT (the server could not apply
 *         an operation; the message says which); DBSYNC_ENET; DBSYNC_ERROR
 */
int dbsync_push(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts);

/**
 * Fetches the versions after this node's latest and merges them with the
 * local unpushed operations, resolving conflicts as doc/conflicts.md says.
 * A pull needs no registration (it reads only).
 * @return DBSYNC_OK; DBSYNC_ECONFLICT (a unique value held by a local row
 *         the server did not change: the message lists table, key and
 *         columns; nothing was changed); DBSYNC_ENET; DBSYNC_ERROR
 */
int dbsync_pull(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts);

/**
 * Push; when the server is ahead, pull and push again, up to max_tries.
 * Codes of dbsync_push() and dbsync_pull().
 */
int dbsync_sync(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts);

/**
 * Replaces the content of every synced table with the server's and resets
 * the log (unpushed operations are discarded): the way out of a stale or
 * broken state. @return DBSYNC_OK; DBSYNC_ENET; DBSYNC_ERROR
 */
int dbsync_repair(dbsync_conn *conn, const char *server_url, const dbsync_client_options *opts);

/** Callback of dbsync_query_remote(): one row of the table (values valid during the call). */
typedef int (*dbsync_row_cb)(const dbsync_table *table, const dbsync_value *values, void *payload);

/**
 * Reads rows of one table from the server, where every filter column
 * equals its value (text forms; NULL value: IS NULL), without touching the
 * local database. @return DBSYNC_OK, the callback's non-zero value,
 * DBSYNC_EINVALID, DBSYNC_ENET, DBSYNC_ERROR
 */
int dbsync_query_remote(dbsync_conn *conn, const char *server_url, const dbsync_table *table,
                        const dbsync_filter *filters, size_t n_filters, dbsync_row_cb cb,
                        void *payload, const dbsync_client_options *opts);

#ifdef __cplusplus
}
#endif
#endif

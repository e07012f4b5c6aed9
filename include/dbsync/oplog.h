/* SPDX-License-Identifier: MIT */
/**
 * @file oplog.h
 * Reading the operations log and the node's sync status.
 *
 * The log (table sync_operations) holds references, not values: table,
 * primary key, command ('i', 'u', 'd'), log order, and the server version
 * the operation was pushed under (none until pushed).
 */
#ifndef DBSYNC_OPLOG_H
#define DBSYNC_OPLOG_H

#include <stdbool.h>
#include <stdint.h>

#include <dbsync/conn.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One logged operation. */
typedef struct dbsync_operation {
    int64_t order;           /**< position in the log, increasing */
    int32_t content_type_id; /**< the table's stable id */
    const char *table;       /**< the table's name; borrowed from the schema; NULL if not in it */
    int64_t row_id;          /**< primary key of the row */
    char command;            /**< 'i', 'u' or 'd' */
    int64_t version_id;      /**< server version it was pushed under; 0 if not pushed */
} dbsync_operation;

/** Callback of dbsync_oplog_foreach(); a non-zero return stops the walk and is returned. */
typedef int (*dbsync_oplog_cb)(const dbsync_operation *op, void *payload);

/**
 * Calls @p cb for every logged operation in log order (only those not yet
 * pushed when @p unpushed_only). @p op is valid during the call only.
 * @return DBSYNC_OK, the callback's non-zero value, DBSYNC_ERROR
 */
int dbsync_oplog_foreach(dbsync_conn *conn, bool unpushed_only, dbsync_oplog_cb cb, void *payload);

/** Sync status of a node's database. */
typedef struct dbsync_status {
    int64_t node_id;        /**< this node's id; 0 if not registered */
    int64_t version_id;     /**< latest server version known; 0 if none */
    int64_t operations;     /**< operations in the log */
    int64_t unpushed;       /**< operations not yet pushed */
} dbsync_status;

/** Fills @p out. @return DBSYNC_OK or DBSYNC_ERROR */
int dbsync_status_get(dbsync_conn *conn, dbsync_status *out);

#ifdef __cplusplus
}
#endif
#endif

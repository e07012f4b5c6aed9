/* SPDX-License-Identifier: MIT */
/**
 * @file conn.h
 * Connections: open a database from a URL, transactions, table creation.
 *
 * URLs: "sqlite3:PATH", "pgsql://user:pass@host:port/dbname",
 * "mysql://user:pass@host:port/dbname"; "?key=value&..." passes options on
 * to libdbi. SQLite connections enforce foreign keys and use WAL with
 * synchronous=NORMAL and a 5 s busy timeout unless the URL says otherwise
 * (journal_mode=, synchronous=, timeout= in milliseconds). A missing SQLite
 * file is created, unless the URL says create=false.
 *
 * A connection is used by one thread at a time; open one per thread.
 */
#ifndef DBSYNC_CONN_H
#define DBSYNC_CONN_H

#include <stdbool.h>

#include <dbsync/error.h>
#include <dbsync/schema.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An open database with its schema (opaque). */
typedef struct dbsync_conn dbsync_conn;

/**
 * Opens the database at @p url for @p schema.
 *
 * @param out     receives the connection; close it with dbsync_conn_close()
 * @param url     database URL (see above)
 * @param schema  borrowed: must outlive the connection
 * @param err     filled on failure (may be NULL)
 * @return DBSYNC_OK; DBSYNC_EINVALID (malformed URL, unknown backend or
 *         option); DBSYNC_ERROR (class DB: cannot connect)
 */
int dbsync_conn_open(dbsync_conn **out, const char *url, const dbsync_schema *schema,
                     dbsync_error *err);

/** Rolls back an open transaction and closes; accepts NULL. */
void dbsync_conn_close(dbsync_conn *conn);

/** The last error of this connection; valid until the next call on it. */
const dbsync_error *dbsync_conn_error(const dbsync_conn *conn);

/** The schema the connection was opened with (borrowed). */
const dbsync_schema *dbsync_conn_schema(const dbsync_conn *conn);

/** The backend name: "sqlite3", "pgsql" or "mysql" (static). */
const char *dbsync_conn_backend(const dbsync_conn *conn);

/**
 * Begins a transaction. Transactions do not nest: a begin inside an open
 * transaction fails with DBSYNC_ETXN and changes nothing.
 * @return DBSYNC_OK, DBSYNC_ETXN, DBSYNC_ERROR (class DB)
 */
int dbsync_conn_begin(dbsync_conn *conn);

/**
 * Commits, writing the operations logged during the transaction first.
 * On failure the transaction is rolled back.
 * @return DBSYNC_OK, DBSYNC_ETXN (no transaction), DBSYNC_ERROR (class DB)
 */
int dbsync_conn_commit(dbsync_conn *conn);

/**
 * Rolls back: neither the rows nor their operations remain.
 * @return DBSYNC_OK, DBSYNC_ETXN (no transaction), DBSYNC_ERROR (class DB)
 */
int dbsync_conn_rollback(dbsync_conn *conn);

/** True while a transaction is open. */
bool dbsync_conn_in_transaction(const dbsync_conn *conn);

/**
 * Creates the schema's tables, constraints and indexes and the sync_*
 * tables, in one transaction where the backend allows DDL in transactions.
 * Idempotent: existing tables are left alone.
 * @return DBSYNC_OK, DBSYNC_ETXN (inside a transaction), DBSYNC_ERROR (class DB)
 */
int dbsync_conn_create_all(dbsync_conn *conn);

/**
 * Checks that the schema's tables and the sync_* tables exist, i.e. that
 * dbsync_conn_create_all() has run on this database.
 * @return DBSYNC_OK; DBSYNC_ENOTFOUND naming the first missing table;
 *         DBSYNC_ERROR (class DB)
 */
int dbsync_conn_check(dbsync_conn *conn);

/**
 * Runs one SQL statement that returns no rows, as given (no substitution):
 * for applications' own DDL and maintenance. Writes made this way are NOT
 * logged. @return DBSYNC_OK or DBSYNC_ERROR (class DB)
 */
int dbsync_conn_exec(dbsync_conn *conn, const char *sql);

#ifdef __cplusplus
}
#endif
#endif

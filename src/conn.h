/* SPDX-License-Identifier: MIT */
/*
 * The connection structure and the internal calls between conn.c, ddl.c,
 * crud.c and oplog.c: statement execution with error capture, the buffer of
 * operations logged in the current transaction, implicit transactions.
 */
#ifndef DBSYNC_CONN_INTERNAL_H
#define DBSYNC_CONN_INTERNAL_H

#include <dbi/dbi.h>

#include "dialect.h"
#include "internal.h"

struct dbsync__url {
    char *scheme;
    char *path; /* sqlite3: the file */
    char *user;
    char *password;
    char *host;
    char *port;
    char *dbname;
    size_t n_options;
    char **keys;
    char **values;
};

int dbsync__url_parse(dbsync__url *out, const char *url, dbsync_error *err);
void dbsync__url_free(dbsync__url *url);
/* The value of option key, or NULL. */
const char *dbsync__url_option(const dbsync__url *url, const char *key);

/* A table that references another: rows of `table` point by `column`. */
typedef struct dbsync__child {
    unsigned table;
    unsigned column;
} dbsync__child;

typedef struct dbsync__table_info {
    int32_t content_type_id;
    size_t n_children;
    dbsync__child *children;
    char *qname; /* the quoted table name */
    char **qcols; /* quoted column names */
    char *select_list; /* the columns as read by SELECT */
    char *insert_all;  /* "INSERT INTO t (every column) VALUES (" */
    char *insert_auto; /* the same without the primary key */
} dbsync__table_info;

typedef struct dbsync__pending_op {
    int32_t content_type_id;
    char command;
    int64_t row_id;
} dbsync__pending_op;

/* Operations are buffered in memory during a transaction and written in
 * multi-row INSERTs of at most this many rows, at the latest before commit. */
#define DBSYNC__OPS_BATCH 500

struct dbsync_conn {
    dbi_inst inst;
    dbi_conn dbi;
    const dbsync__dialect *dialect;
    const dbsync_schema *schema;
    dbsync__table_info *tables;
    dbsync_error error;
    bool in_tx;
    dbsync__pending_op *ops;
    size_t n_ops;
    size_t cap_ops;
    dbsync__buf sql; /* reusable statement text */
    void *http;      /* the client's kept libcurl handle (http.c), or NULL */
};

/* Copies a driver message as one line: runs of newlines, tabs and spaces
 * become one space. */
void dbsync__one_line(char *out, size_t size, const char *msg);
/* Records the connection's libdbi error as the last error, prefixed with context. */
int dbsync__db_error(dbsync_conn *conn, const char *context);
/* Runs a statement; on failure records the error with context and returns a code
 * (classified by the dialect). The result is freed. */
int dbsync__exec(dbsync_conn *conn, const char *sql, const char *context);
/* Runs a query and returns its result (NULL on failure, error recorded). */
dbi_result dbsync__query(dbsync_conn *conn, const char *sql, const char *context);

/* Appends a quoted identifier. */
void dbsync__quote_ident(dbsync_conn *conn, dbsync__buf *b, const char *name);
/* Appends a quoted string literal; false on failure (error recorded). */
bool dbsync__quote_string(dbsync_conn *conn, dbsync__buf *b, const char *s);

/* Implicit transactions: begin when none is open; *own tells whether this
 * call opened it. end commits (ok) or rolls back what it opened. */
int dbsync__tx_enter(dbsync_conn *conn, bool *own);
int dbsync__tx_leave(dbsync_conn *conn, bool own, int rc);

/* Logs an operation of a synced table (no-op for local-only tables). */
int dbsync__log_op(dbsync_conn *conn, unsigned table, char command, int64_t row_id);
/* Writes the buffered operations. */
int dbsync__flush_ops(dbsync_conn *conn);

/* Index of a table of the connection's schema. */
unsigned dbsync__table_index(const dbsync_conn *conn, const dbsync_table *table);
/* Reads column k of the current result row as a value of the column's type. */
int dbsync__read_value(dbsync_conn *conn, dbi_result res, unsigned idx, const dbsync_table *table,
                       const dbsync_column *col, dbsync_value *out);

/* Descriptors of the sync_* tables (same form as application tables). */
extern const dbsync_table dbsync__sync_tables[];
extern const size_t dbsync__n_sync_tables;

/* Creates one table (IF NOT EXISTS), its keys and indexes; internal tables too. */
int dbsync__global_ensure(void);



/* Appends the SQL literal of a value (NULL included); false on failure (error recorded). */
bool dbsync__append_literal(dbsync_conn *conn, dbsync__buf *b, const dbsync_value *v,
                            const dbsync_table *table, const dbsync_column *col);
#endif

/* SPDX-License-Identifier: MIT */
/*
 * The dialect interface: everything that differs between backends, in one
 * constant struct per backend. Nothing outside drivers/ tests which backend
 * a connection is on; it asks its dialect.
 */
#ifndef DBSYNC_DIALECT_H
#define DBSYNC_DIALECT_H

#include <dbi/dbi.h>

#include "internal.h"

typedef struct dbsync__url dbsync__url;
struct dbsync__pending_op;

typedef struct dbsync__dialect {
    const char *name;         /* libdbi driver name, also the URL scheme */
    char ident_quote;         /* quote character of identifiers */
    const char *pk_ddl;       /* type and constraint of an autoincrement integer primary key */
    bool inline_fk;           /* foreign keys inside CREATE TABLE (else ALTER TABLE after) */
    const char *fk_suffix;    /* after a FOREIGN KEY clause (deferrability) */
    bool ddl_in_transaction;  /* DDL is transactional */
    bool insert_returning;    /* INSERT ... RETURNING pk gives the new key */
    const char *begin_sql;    /* starts a write transaction */
    const char *true_literal;
    const char *false_literal;
    const char *create_table_suffix; /* after the closing parenthesis of CREATE TABLE */
    /* Sets libdbi options from the URL (host, dbname, driver options). */
    int (*configure)(dbi_conn dbi, const dbsync__url *url, dbsync_error *err);
    /* Runs once after connecting (pragmas, session settings). */
    int (*after_connect)(dbsync_conn *conn, const dbsync__url *url);
    /* DDL types, indexed by dbsync_type. The decimal one is a printf format
     * taking precision and scale; text_sized (format taking the length) is
     * used for text with a length up to text_sized_max, when not NULL. */
    const char *types[DBSYNC_TYPE_DATETIME + 1];
    const char *text_sized;
    unsigned text_sized_max;
    /* An expression reading the column in its text/integer form (see crud.c);
     * index is the column's position, for a unique alias. */
    void (*select_column)(dbsync__buf *sql, const dbsync_column *col, const char *qualified,
                          unsigned index);
    /* A literal for a finite double; NULL: "%.17g" (exact where the server
     * parses numbers exactly). */
    void (*real_literal)(dbsync__buf *sql, double d);
    /* A literal for bytes. */
    void (*blob_literal)(dbsync__buf *sql, const unsigned char *data, size_t len);
    /* Length prefix for a key on an unbounded text column ("" when none is needed). */
    const char *text_key_prefix;
    /* SELECT returning one row when the table exists (name is quoted by the caller). */
    const char *table_exists_sql; /* printf format with one %s: the quoted name as a literal */
    /* After a row was inserted with an explicit key: make the key generator
     * continue above it (NULL when the backend does so by itself). */
    int (*key_inserted)(dbsync_conn *conn, unsigned table, int64_t id);
    /* Writes n buffered operations to sync_operations in log order; NULL:
     * the generic multi-row INSERT ... VALUES. */
    int (*write_ops)(dbsync_conn *conn, const struct dbsync__pending_op *ops, size_t n);
    /* Takes the database-wide write lock for the current transaction. */
    int (*write_lock)(dbsync_conn *conn);
    /* Statement deferring foreign-key checks to commit, inside a transaction,
     * and the one undoing it after the transaction (NULL when the deferral
     * ends with the transaction by itself). */
    const char *defer_fk_sql;
    const char *defer_fk_end_sql;
    /* Deferring skips the checks instead of running them at commit: the
     * writer then checks the references of what it wrote itself. */
    bool deferred_fk_unchecked;
    /* A failed statement aborts the whole transaction (PostgreSQL): a
     * statement that may fail is then run under a savepoint. */
    bool error_aborts_transaction;
    /* Statements turning foreign-key checks off and back on, outside transactions. */
    const char *fk_off_sql;
    const char *fk_on_sql;
    /* Maps a failed statement's message to a code: EEXISTS for unique
     * violations, ECONFLICT for foreign keys, EINVALID for NOT NULL/type. */
    int (*classify_error)(const char *message);
} dbsync__dialect;

extern const dbsync__dialect dbsync__dialect_sqlite3;
extern const dbsync__dialect dbsync__dialect_pgsql;
extern const dbsync__dialect dbsync__dialect_mysql;

/* X'..' literal, shared by the backends that read it. */
void dbsync__hex_blob_literal(dbsync__buf *sql, const unsigned char *data, size_t len);

/* The dialect for a URL scheme, or NULL. */
const dbsync__dialect *dbsync__dialect_find(const char *scheme);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * What the server handlers (server.c), the client procedures (sync.c) and
 * the merge share: JSON codecs of values and rows, signatures, the
 * compression rules of the two logs, and batched reading and writing of
 * rows by key without logging.
 */
#ifndef DBSYNC_SYNC_INTERNAL_H
#define DBSYNC_SYNC_INTERNAL_H

#include <jansson.h>

#include "conn.h"

/* The protocol version every message carries in "protocol". */
#define DBSYNC__PROTOCOL 1

/* ---- values and rows as JSON (doc/protocol.md) ---- */

/* A value as JSON: null, integer, true/false, real, or a string (decimal,
 * text, base64 blob, date/time text). NULL on out of memory or text that is
 * not UTF-8 (err says which). */
json_t *dbsync__value_to_json(const dbsync_value *v, const dbsync_table *t,
                              const dbsync_column *c, dbsync_error *err);
/* Appends the JSON text of a value (what dbsync__value_to_json would give,
 * without building it). */
int dbsync__value_json_text(dbsync__buf *b, const dbsync_value *v, const dbsync_table *t,
                            const dbsync_column *c, dbsync_error *err);
/* The reverse, checked against the column (type, NULL, length, digits). */
int dbsync__value_from_json(const json_t *j, const dbsync_table *t, const dbsync_column *c,
                            dbsync_value *out, dbsync_error *err);
/* A row (array in column order) into values (n_columns, overwritten). */
int dbsync__row_from_json(const json_t *row, const dbsync_table *t, dbsync_value *out,
                          dbsync_error *err);
/* {"columns": [...]} of a table, for a rows section. */
json_t *dbsync__columns_json(const dbsync_table *t);
/* Checks that a rows section's "columns" are the table's, in order. */
int dbsync__columns_check(const json_t *columns, const dbsync_table *t, dbsync_error *err);

char *dbsync__base64_encode(const unsigned char *data, size_t len);
/* Returns bytes written into out (at least len * 3 / 4 + 3 bytes), -1 if not base64. */
long dbsync__base64_decode(const char *text, size_t len, unsigned char *out);

/* ---- signatures ---- */

/* HMAC-SHA256 of data with the secret, as 64 lowercase hex digits + NUL. */
int dbsync__hmac_hex(const char *secret, const char *data, size_t len, char out[65]);
/* The same, over data given in pieces. */
typedef struct dbsync__hmac {
    struct evp_mac_ctx_st *ctx;
} dbsync__hmac;
int dbsync__hmac_begin(dbsync__hmac *h, const char *secret);
int dbsync__hmac_update(dbsync__hmac *h, const void *data, size_t len);
/* Writes the hex digest and frees the context (also after a failure). */
int dbsync__hmac_end(dbsync__hmac *h, char out[65]);
/* Constant-time comparison of a received signature with the expected one. */
bool dbsync__hmac_check(const char *secret, const char *data, size_t len, const char *signature);
/* nbytes random bytes as hex (out holds 2 * nbytes + 1). */
int dbsync__random_hex(char *out, size_t nbytes);

/* ---- the two logs' compression (DESIGN.md, "Merge") ---- */

/* One object's local unpushed commands, in log order, to at most one:
 * 'i', 'u', 'd' or 0 (nothing). *anomaly is set when the sequence breaks
 * the rules of use (a reused key, writes made around the library). */
char dbsync__compress_local(const char *cmds, size_t n, bool *anomaly);
/* One object's server commands, given the first and the last. */
char dbsync__compress_server(char first, char last);

/* ---- rows by key, without logging ---- */

/* Index of the schema table with this content type, or -1. */
int dbsync__table_by_content_type(const dbsync_conn *conn, int32_t content_type_id);

/* Reads the rows of table t whose keys are ids[0..n) (any order) and calls
 * cb for each with its values. Rows that do not exist are not reported. */
typedef int (*dbsync__row_fn)(const dbsync_table *t, const dbsync_value *values, void *payload);
int dbsync__read_rows(dbsync_conn *conn, unsigned t, const int64_t *ids, size_t n,
                      dbsync__row_fn cb, void *payload);

/* ---- objects (table, key) to a value: an open-addressing hash map ---- */

typedef struct dbsync__objmap {
    struct dbsync__objslot {
        int64_t id;
        uint32_t table; /* table index + 1; 0: empty slot */
        intptr_t value;
    } *slots;
    size_t n, cap;
} dbsync__objmap;

/* Sets (t, id) to value; DBSYNC_OK or DBSYNC_ERROR (memory). */
int dbsync__objmap_put(dbsync__objmap *m, unsigned t, int64_t id, intptr_t value);
/* The value of (t, id), or def when absent. */
intptr_t dbsync__objmap_get(const dbsync__objmap *m, unsigned t, int64_t id, intptr_t def);
void dbsync__objmap_free(dbsync__objmap *m);

/* Rows read by key as their JSON text (an array in column order), by
 * object: what push and pull messages carry, built without a JSON tree. */
typedef struct dbsync__row_texts {
    dbsync__objmap map; /* (table, key) -> malloc'ed text */
    dbsync__buf text;   /* scratch */
    dbsync_conn *conn;
} dbsync__row_texts;
int dbsync__row_texts_read(dbsync__row_texts *rt, unsigned t, const int64_t *ids, size_t n);
/* The text of a row read, or NULL (the row does not exist). */
const char *dbsync__row_texts_get(const dbsync__row_texts *rt, unsigned t, int64_t id);
/* Frees the texts (the scratch buffer stays: dbsync__buf_free(&rt->text)). */
void dbsync__row_texts_clear(dbsync__row_texts *rt);

/*
 * Writes rows as they are given, keys included, logging nothing: for pushes
 * applied on the server and pulls merged on a client (foreign-key checks
 * deferred to commit by the caller). Inserts are batched into multi-row
 * INSERTs. A row whose unique values are held by another row displaces
 * that row (deletes it, keeping a copy); if the message then writes or
 * deletes the displaced row, fine (a swap); if not, finish puts it back,
 * and when that is impossible fails with DBSYNC_ECONFLICT naming table,
 * key and columns.
 */
typedef struct dbsync__writer dbsync__writer;
dbsync__writer *dbsync__writer_new(dbsync_conn *conn);
void dbsync__writer_free(dbsync__writer *w);
/* Writes a row: inserted, or updated when its key exists. */
int dbsync__writer_put(dbsync__writer *w, unsigned t, const dbsync_value *values);
/* Deletes a row by key (no cascade: the log holds the cascades); a missing row is fine. */
int dbsync__writer_delete(dbsync__writer *w, unsigned t, int64_t id);
/* Writes what is queued and puts displaced rows back. */
int dbsync__writer_finish(dbsync__writer *w);
/* Keys to name in messages in place of the ones rows have now (a merge
 * re-keys rows); borrowed, may be NULL. */
void dbsync__writer_set_aliases(dbsync__writer *w, const dbsync__objmap *aliases);
/* Number of rows written so far (progress). */
int64_t dbsync__writer_count(const dbsync__writer *w);

/* Current server time as a datetime literal text (UTC), for sync_versions. */
void dbsync__now_text(char *out, size_t size);

/* The highest version this database knows (0 when none). */
int dbsync__latest_version(dbsync_conn *conn, int64_t *out);

/* Runs a query returning one integer (0 when NULL or no row). */
int dbsync__query_int(dbsync_conn *conn, const char *sql, int64_t *out);

#endif

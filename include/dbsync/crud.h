/* SPDX-License-Identifier: MIT */
/**
 * @file crud.h
 * Reading and writing rows from descriptors.
 *
 * Two equivalent forms: arrays of dbsync_value (one per column, in the
 * table's column order) for code without generated structs, and the
 * generated row structs (dbsync_struct_*), which generated accessors wrap.
 *
 * Every insert, update and delete of a synced table is appended to the
 * operations log in the same transaction. Outside an explicit transaction
 * each call runs in its own. Deleting a row also deletes (on-delete
 * cascade) or updates (set-null) the rows that reference it, each logged;
 * on-delete restrict refuses with DBSYNC_ECONFLICT.
 */
#ifndef DBSYNC_CRUD_H
#define DBSYNC_CRUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dbsync/conn.h>
#include <dbsync/schema.h>
#include <dbsync/value.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- rows as value arrays ---- */

/**
 * Sets @p values (table->n_columns entries) to the column defaults, NULL
 * where there is none. Never fails for a valid schema except on memory:
 * @return DBSYNC_OK or DBSYNC_ERROR.
 */
int dbsync_row_init(const dbsync_table *table, dbsync_value *values);

/** Frees what @p values own (table->n_columns entries); accepts NULL. */
void dbsync_row_clear(const dbsync_table *table, dbsync_value *values);

/**
 * Inserts a row. When the primary key value is NULL the database assigns
 * one and it is written back into @p values.
 * @return DBSYNC_OK; DBSYNC_EINVALID (a value does not fit its column);
 *         DBSYNC_EEXISTS (primary key or unique value taken); DBSYNC_ECONFLICT
 *         (a reference to a missing row); DBSYNC_ERROR
 */
int dbsync_row_insert(dbsync_conn *conn, const dbsync_table *table, dbsync_value *values);

/**
 * Updates the row whose primary key is values[primary_key]. With @p mask
 * non-NULL only the columns whose mask entry is true are written.
 * @return DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_EINVALID, DBSYNC_EEXISTS,
 *         DBSYNC_ECONFLICT, DBSYNC_ERROR
 */
int dbsync_row_update(dbsync_conn *conn, const dbsync_table *table, const dbsync_value *values,
                      const bool *mask);

/**
 * Deletes the row with primary key @p id (and what references it, per on-delete).
 * @return DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_ECONFLICT (restricted), DBSYNC_ERROR
 */
int dbsync_row_delete(dbsync_conn *conn, const dbsync_table *table, int64_t id);

/**
 * Reads the row with primary key @p id into @p out (n_columns entries,
 * overwritten; free with dbsync_row_clear()).
 * @return DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_ERROR
 */
int dbsync_row_get(dbsync_conn *conn, const dbsync_table *table, int64_t id, dbsync_value *out);

/* ---- rows as generated structs ---- */

/** Inserts a generated struct; assigns its primary key when it is 0. Codes as dbsync_row_insert(). */
int dbsync_struct_insert(dbsync_conn *conn, const dbsync_table *table, void *row);
/** Updates every column of a generated struct by its primary key. Codes as dbsync_row_update(). */
int dbsync_struct_update(dbsync_conn *conn, const dbsync_table *table, const void *row);
/** Reads a row into a generated struct (cleared first). Codes as dbsync_row_get(). */
int dbsync_struct_get(dbsync_conn *conn, const dbsync_table *table, int64_t id, void *out);
/**
 * Reads the row whose columns of unique constraint @p unique_index equal
 * those of @p key into @p out (which may be @p key).
 * @return DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_EINVALID, DBSYNC_ERROR
 */
int dbsync_struct_find(dbsync_conn *conn, const dbsync_table *table, size_t unique_index,
                       const void *key, void *out);
/** Frees the strings and blobs a generated struct owns and zeroes it; accepts NULL. */
void dbsync_struct_clear(const dbsync_table *table, void *row);

/** Copies a generated struct into a value array (deep copy). @return DBSYNC_OK or DBSYNC_ERROR. */
int dbsync_struct_to_values(const dbsync_table *table, const void *row, dbsync_value *out);

/* ---- iteration ---- */

/** Comparison of a filter. */
typedef enum dbsync_filter_op {
    DBSYNC_FILTER_EQ = 0,
    DBSYNC_FILTER_NE,
    DBSYNC_FILTER_LT,
    DBSYNC_FILTER_LE,
    DBSYNC_FILTER_GT,
    DBSYNC_FILTER_GE,
    DBSYNC_FILTER_IS_NULL,
    DBSYNC_FILTER_IS_NOT_NULL
} dbsync_filter_op;

/** One condition: column OP value, the value in its text form (NULL for the IS [NOT] NULL ops). */
typedef struct dbsync_filter {
    const char *column;
    dbsync_filter_op op;
    const char *value;
} dbsync_filter;

/** A query over one table: all filters must hold (AND). */
typedef struct dbsync_query {
    unsigned version;               /**< DBSYNC_QUERY_VERSION */
    const dbsync_filter *filters;   /**< may be NULL when n_filters is 0 */
    size_t n_filters;
    const char *order_by;           /**< a column name; NULL: primary key */
    bool descending;
    int64_t limit;                  /**< 0: no limit */
} dbsync_query;

#define DBSYNC_QUERY_VERSION 1
#define DBSYNC_QUERY_INIT {DBSYNC_QUERY_VERSION, NULL, 0, NULL, false, 0}

/** An open iteration over rows (opaque). */
typedef struct dbsync_iter dbsync_iter;

/**
 * Starts iterating over @p table. @p query may be NULL (all rows by primary key).
 * @return DBSYNC_OK; DBSYNC_EINVALID (unknown column, bad filter value);
 *         DBSYNC_ERROR
 */
int dbsync_iter_new(dbsync_iter **out, dbsync_conn *conn, const dbsync_table *table,
                    const dbsync_query *query);

/**
 * Reads the next row into @p values (n_columns entries, overwritten; free
 * with dbsync_row_clear()).
 * @return DBSYNC_OK, DBSYNC_ITEROVER at the end, DBSYNC_ERROR
 */
int dbsync_iter_next_values(dbsync_iter *iter, dbsync_value *values);

/** Reads the next row into a generated struct (cleared first). Codes as dbsync_iter_next_values(). */
int dbsync_iter_next_struct(dbsync_iter *iter, void *row);

/** Ends an iteration; accepts NULL. */
void dbsync_iter_free(dbsync_iter *iter);

#ifdef __cplusplus
}
#endif
#endif

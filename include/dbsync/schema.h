/* SPDX-License-Identifier: MIT */
/**
 * @file schema.h
 * The schema model: tables, columns, unique constraints and indexes.
 *
 * The same structures describe a schema loaded from an XML file at run time
 * (dbsync_schema_load_file()) and the constant descriptor that
 * dbsync-codegen emits; the runtime works from either. Generated descriptors
 * also carry the layout of the generated row structs (offset, has_offset,
 * struct_size).
 */
#ifndef DBSYNC_SCHEMA_H
#define DBSYNC_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <dbsync/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Column types of the schema file. */
typedef enum dbsync_type {
    DBSYNC_TYPE_INTEGER = 1, /**< 64-bit signed integer (int64_t) */
    DBSYNC_TYPE_BOOLEAN,     /**< bool */
    DBSYNC_TYPE_REAL,        /**< double */
    DBSYNC_TYPE_DECIMAL,     /**< exact decimal(precision, scale), as a string */
    DBSYNC_TYPE_TEXT,        /**< UTF-8 text, optional maximum length */
    DBSYNC_TYPE_BLOB,        /**< bytes (dbsync_blob) */
    DBSYNC_TYPE_DATE,        /**< dbsync_date */
    DBSYNC_TYPE_TIME,        /**< dbsync_time */
    DBSYNC_TYPE_DATETIME     /**< dbsync_datetime (no time zone) */
} dbsync_type;

/** What happens to referencing rows when the referenced row is deleted. */
typedef enum dbsync_on_delete {
    DBSYNC_ON_DELETE_RESTRICT = 0, /**< the delete is refused (DBSYNC_ECONFLICT) */
    DBSYNC_ON_DELETE_CASCADE,      /**< referencing rows are deleted too (and logged) */
    DBSYNC_ON_DELETE_SET_NULL      /**< the referencing column is set to NULL (and logged) */
} dbsync_on_delete;

#define DBSYNC_COLUMN_NULLABLE 0x1u    /**< the column accepts NULL */
#define DBSYNC_COLUMN_PRIMARY_KEY 0x2u /**< the single integer primary key */

#define DBSYNC_TABLE_SYNCED 0x1u /**< writes are logged and synchronized */

/** dbsync_column.has_offset of a column that has no has_ flag. */
#define DBSYNC_NO_OFFSET ((size_t)-1)

/** Magic number that opens every schema descriptor (ABI check). */
#define DBSYNC_SCHEMA_MAGIC 0x44425331u

/** One column. */
typedef struct dbsync_column {
    const char *name;          /**< SQL and C identifier */
    dbsync_type type;          /**< its type */
    unsigned flags;            /**< DBSYNC_COLUMN_* */
    unsigned length;           /**< text: maximum length in characters; 0: unbounded */
    unsigned precision;        /**< decimal: total digits */
    unsigned scale;            /**< decimal: digits after the point */
    const char *default_value; /**< canonical text of the default, NULL if none */
    int ref_table;             /**< index of the referenced table, -1 if none */
    dbsync_on_delete on_delete; /**< for references */
    size_t offset;             /**< generated struct: offset of the field */
    size_t has_offset;         /**< generated struct: offset of the bool has_ flag, or DBSYNC_NO_OFFSET */
    unsigned line;             /**< line in the schema file; 0 if unknown */
} dbsync_column;

/** A unique constraint or an index: an ordered list of columns. */
typedef struct dbsync_key {
    const char *name;        /**< constraint/index name, derived from table and columns */
    size_t n_columns;        /**< number of columns, at least 1 */
    const unsigned *columns; /**< indexes into the table's columns */
    unsigned line;           /**< line in the schema file; 0 if unknown */
} dbsync_key;

/** One table. */
typedef struct dbsync_table {
    const char *name;             /**< SQL and C identifier */
    unsigned flags;               /**< DBSYNC_TABLE_* */
    size_t n_columns;             /**< number of columns */
    const dbsync_column *columns; /**< the columns, in file order */
    unsigned primary_key;         /**< index of the primary key column */
    size_t n_uniques;             /**< unique constraints */
    const dbsync_key *uniques;
    size_t n_indexes;             /**< plain indexes */
    const dbsync_key *indexes;
    size_t struct_size;           /**< generated struct size; 0 for a schema loaded at run time */
    unsigned line;                /**< line in the schema file; 0 if unknown */
} dbsync_table;

/** A whole schema. */
typedef struct dbsync_schema {
    unsigned magic;              /**< DBSYNC_SCHEMA_MAGIC */
    const char *name;            /**< schema name: the prefix of generated names */
    const char *version;         /**< the version attribute as written, NULL if absent */
    size_t n_tables;             /**< number of tables */
    const dbsync_table *tables;  /**< the tables, in file order */
    const char *file;            /**< the file it was loaded from, NULL for generated code */
} dbsync_schema;

/**
 * Loads and validates a schema file.
 *
 * @param out   receives the schema; free it with dbsync_schema_free()
 * @param path  the XML file
 * @param err   filled on failure (may be NULL); err->line is the line of the problem
 * @return DBSYNC_OK, DBSYNC_EINVALID (bad schema: the message says
 *         "FILE:LINE: problem"), DBSYNC_ENOTFOUND (no such file), DBSYNC_ERROR
 */
int dbsync_schema_load_file(dbsync_schema **out, const char *path, dbsync_error *err);

/**
 * Loads and validates a schema held in memory. @p name is used in messages
 * in place of a file name. Same codes as dbsync_schema_load_file().
 */
int dbsync_schema_load_memory(dbsync_schema **out, const char *xml, size_t len, const char *name,
                              dbsync_error *err);

/** Frees a schema returned by a load function; accepts NULL. Never call it on a generated one. */
void dbsync_schema_free(dbsync_schema *schema);

/** The table named @p name, or NULL. The pointer lives as long as the schema. */
const dbsync_table *dbsync_schema_table(const dbsync_schema *schema, const char *name);

/** Index of the column named @p name in @p table, or -1. */
int dbsync_table_column(const dbsync_table *table, const char *name);

/** Stable id of a synced table, derived from its name only (every node agrees). */
int32_t dbsync_content_type_id(const char *table_name);

/** Static name of a type ("integer", "text", ...). */
const char *dbsync_type_name(dbsync_type type);

#ifdef __cplusplus
}
#endif
#endif

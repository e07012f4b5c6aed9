/* SPDX-License-Identifier: MIT */
/*
 * Internals of the schema model shared by src/schema.c (the model and its
 * rules) and src/schema_xml.c (the XML loader): the arena a loaded schema
 * lives in, the checks on names and defaults both files apply, and the
 * model validation the loader ends with. Nothing here is installed.
 */
#ifndef DBSYNC_SCHEMA_INTERNAL_H
#define DBSYNC_SCHEMA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

/* Everything of a loaded schema is allocated from one arena and freed at
 * once: error paths of the loader only have to free the arena. */
typedef struct dbsync__arena_block dbsync__arena_block;
typedef struct dbsync__arena {
    dbsync__arena_block *head;
} dbsync__arena;

/* Zeroed memory that lives as long as the arena; NULL when out of memory. */
void *dbsync__arena_alloc(dbsync__arena *arena, size_t size);
char *dbsync__arena_strdup(dbsync__arena *arena, const char *s);
char *dbsync__arena_strndup(dbsync__arena *arena, const char *s, size_t n);
void dbsync__arena_free(dbsync__arena *arena);

/* A new empty schema (magic set) owning an arena; free it with
 * dbsync_schema_free(). NULL when out of memory. */
dbsync_schema *dbsync__schema_new(void);
/* The arena of a schema made by dbsync__schema_new(). */
dbsync__arena *dbsync__schema_arena(dbsync_schema *schema);

/* The type named @p name ("integer", ...), or 0 if there is none. */
dbsync_type dbsync__type_from_name(const char *name);

/* Why @p name cannot name a table or column (@p table_or_column) or the
 * schema, as a phrase that follows the quoted name ("is a C keyword"); NULL
 * when it can. Static text. */
const char *dbsync__name_problem(const char *name, bool table_or_column);

/* True when a nullable column of this type gets a `bool has_<col>` field in
 * generated code (types whose C value cannot say NULL by itself). */
bool dbsync__type_has_flag(dbsync_type type);

/* Size of the buffer dbsync__default_canonical() writes into. */
#define DBSYNC__DEFAULT_BUFSIZE 96

/*
 * Checks @p text as the default of @p column (its type, length, precision
 * and scale must already be valid) and sets *canon to its canonical text:
 * either @p out or, for text columns, @p text itself.
 * @return DBSYNC_OK; DBSYNC_EINVALID with a phrase in @p why ("is not a valid
 *         date (YYYY-MM-DD)", to follow the quoted default);
 *         DBSYNC_ERROR when out of memory
 */
int dbsync__default_canonical(const dbsync_column *column, const char *text,
                              char out[DBSYNC__DEFAULT_BUFSIZE], const char **canon, char *why,
                              size_t whysize);

/* The 32-bit FNV-1a hash of a string. */
uint32_t dbsync__fnv1a(const char *s, uint32_t seed);
#define DBSYNC__FNV1A_SEED 2166136261u

/*
 * Names every unique constraint and index of a schema:
 * "<table>_<col>..._key" / "..._idx", shortened with a hash to fit 63 bytes
 * and made distinct from every table and other key name (ignoring case).
 * The names are allocated from @p arena. Columns must be valid indexes.
 * @return DBSYNC_OK, DBSYNC_EINVALID (no distinct name found: message in
 *         @p err), DBSYNC_ERROR (out of memory)
 */
int dbsync__schema_name_keys(dbsync_schema *schema, dbsync__arena *arena, dbsync_error *err);

/*
 * The rules of dbsync__schema_check() in three steps, so that the loader can
 * apply them as it reads the file and report problems in file order:
 * - table_head: the name of table @p ti, distinct from the tables before it;
 * - column: column @p ci of table @p ti alone and against the columns before
 *   it (references are only checked against schema->n_tables);
 * - table_tail: the whole table: columns, one primary key, has_ collisions,
 *   unique constraints and indexes (not their names).
 * Same codes and messages as dbsync__schema_check().
 */
int dbsync__check_table_head(const dbsync_schema *schema, size_t ti, dbsync_error *err);
int dbsync__check_column(const dbsync_schema *schema, size_t ti, size_t ci, dbsync_error *err);
int dbsync__check_table_tail(const dbsync_schema *schema, size_t ti, dbsync_error *err);

/*
 * Checks every rule of the model that the schema file reference lists
 * (doc/schema.md): names, one integer primary key per table, references,
 * type attributes, defaults, keys, has_ collisions. Works on loaded and on
 * generated schemas. Messages are "FILE:LINE: ..." when the schema has a
 * file and the thing a line.
 * @return DBSYNC_OK, DBSYNC_EINVALID (class DBSYNC_ECLASS_SCHEMA, err->line
 *         set), DBSYNC_ERROR (out of memory)
 */
int dbsync__schema_check(const dbsync_schema *schema, dbsync_error *err);

/* Fills @p err with a schema error: "FILE:LINE: message" (the parts that are
 * known), code DBSYNC_EINVALID, class DBSYNC_ECLASS_SCHEMA, err->line set.
 * Returns DBSYNC_EINVALID. */
int dbsync__schema_error(dbsync_error *err, const char *file, unsigned line, const char *fmt, ...)
    DBSYNC__PRINTF(4, 5);

/* The RELAX NG grammar embedded in the library (the text of
 * codegen/dbsync-schema.rng). */
const char *dbsync__schema_grammar(void);

#endif

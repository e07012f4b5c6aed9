/* SPDX-License-Identifier: MIT */
/**
 * @file value.h
 * Typed values: the C types of each column type, a tagged value for code
 * that works without generated structs, and the one textual form of every
 * type (used by the command-line tool, filters and messages).
 *
 * Text forms: integer "-42"; boolean "true"/"false" (also 1/0); real as
 * printed by "%.17g" (reads back exactly); decimal "-123.45", normalized to
 * the column's scale; date "YYYY-MM-DD"; time "HH:MM:SS[.ffffff]";
 * datetime "YYYY-MM-DD HH:MM:SS[.ffffff]" (a 'T' is accepted in place of the
 * space); blob as hexadecimal digits.
 */
#ifndef DBSYNC_VALUE_H
#define DBSYNC_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dbsync/error.h>
#include <dbsync/schema.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes. In a row, data == NULL means SQL NULL; an empty blob has data != NULL and len 0. */
typedef struct dbsync_blob {
    unsigned char *data;
    size_t len;
} dbsync_blob;

/** A calendar date, year 1 to 9999. */
typedef struct dbsync_date {
    int16_t year;
    uint8_t month; /**< 1-12 */
    uint8_t day;   /**< 1-31, valid for the month */
} dbsync_date;

/** A time of day with microseconds. */
typedef struct dbsync_time {
    uint8_t hour;   /**< 0-23 */
    uint8_t minute; /**< 0-59 */
    uint8_t second; /**< 0-59 */
    uint32_t usec;  /**< 0-999999 */
} dbsync_time;

/** A date and a time, no time zone. */
typedef struct dbsync_datetime {
    dbsync_date date;
    dbsync_time time;
} dbsync_datetime;

/** A value of any column type. Owns its text and bytes. */
typedef struct dbsync_value {
    dbsync_type type; /**< the column's type */
    bool is_null;     /**< SQL NULL; the union is then unused */
    union {
        int64_t i;         /**< integer */
        bool b;            /**< boolean */
        double r;          /**< real */
        char *s;           /**< text and decimal: NUL-terminated, owned */
        dbsync_blob blob;  /**< blob: owned bytes */
        dbsync_date date;
        dbsync_time time;
        dbsync_datetime datetime;
    } u;
} dbsync_value;

/** Buffer sizes for the text forms of dates and times (NUL included). */
#define DBSYNC_DATE_BUFSIZE 11
#define DBSYNC_TIME_BUFSIZE 16
#define DBSYNC_DATETIME_BUFSIZE 27

/** Parses "YYYY-MM-DD". @return DBSYNC_OK or DBSYNC_EINVALID. */
int dbsync_date_parse(dbsync_date *out, const char *text);
/** Parses "HH:MM:SS[.ffffff]". @return DBSYNC_OK or DBSYNC_EINVALID. */
int dbsync_time_parse(dbsync_time *out, const char *text);
/** Parses "YYYY-MM-DD HH:MM:SS[.ffffff]" (or with 'T'). @return DBSYNC_OK or DBSYNC_EINVALID. */
int dbsync_datetime_parse(dbsync_datetime *out, const char *text);
/** Writes the text form into @p buf (DBSYNC_DATE_BUFSIZE bytes). @return DBSYNC_OK or DBSYNC_EINVALID. */
int dbsync_date_format(char *buf, const dbsync_date *date);
/** Writes the text form into @p buf (DBSYNC_TIME_BUFSIZE bytes). @return DBSYNC_OK or DBSYNC_EINVALID. */
int dbsync_time_format(char *buf, const dbsync_time *time);
/** Writes the text form into @p buf (DBSYNC_DATETIME_BUFSIZE bytes). @return DBSYNC_OK or DBSYNC_EINVALID. */
int dbsync_datetime_format(char *buf, const dbsync_datetime *datetime);

/**
 * Parses the text form of a value for @p column into @p out (which is
 * overwritten, not cleared). NULL is not expressed here: callers set is_null.
 *
 * @return DBSYNC_OK; DBSYNC_EINVALID with a message naming the column and
 *         the problem in @p err; DBSYNC_ERROR (out of memory)
 */
int dbsync_value_parse(dbsync_value *out, const dbsync_table *table, const dbsync_column *column,
                       const char *text, dbsync_error *err);

/**
 * Checks that @p value fits @p column: type, NULL allowed, text length,
 * decimal digits, valid date, finite real.
 * @return DBSYNC_OK or DBSYNC_EINVALID with a message naming table and column.
 */
int dbsync_value_check(const dbsync_value *value, const dbsync_table *table,
                       const dbsync_column *column, dbsync_error *err);

/**
 * The text form of @p value; "NULL" is never produced: *out is set to NULL
 * for a NULL value. The caller frees *out with free().
 * @return DBSYNC_OK, DBSYNC_EINVALID (bad date, ...), DBSYNC_ERROR (out of memory)
 */
int dbsync_value_format(char **out, const dbsync_value *value);

/** Frees what @p value owns and makes it a NULL of the same type; accepts NULL. */
void dbsync_value_clear(dbsync_value *value);

/** Deep copy. @return DBSYNC_OK or DBSYNC_ERROR (out of memory). */
int dbsync_value_copy(dbsync_value *out, const dbsync_value *value);

/** True when both values are equal (same type; NULL equals NULL). */
bool dbsync_value_equal(const dbsync_value *a, const dbsync_value *b);

#ifdef __cplusplus
}
#endif
#endif

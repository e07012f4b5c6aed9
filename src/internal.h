/* SPDX-License-Identifier: MIT */
/*
 * Internals shared across the library's files: the growable string buffer,
 * error helpers, and the connection structure. Nothing here is installed;
 * cross-file names are dbsync__*.
 */
#ifndef DBSYNC_INTERNAL_H
#define DBSYNC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dbsync/dbsync.h"

#if defined(__GNUC__)
#define DBSYNC__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DBSYNC__PRINTF(f, a)
#endif

/* A growable NUL-terminated buffer. On allocation failure it sticks in a
 * failed state (oom) and further appends are ignored: check once at the end. */
typedef struct dbsync__buf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} dbsync__buf;

#define DBSYNC__BUF_INIT {NULL, 0, 0, false}

void dbsync__buf_append(dbsync__buf *b, const char *s, size_t n);
void dbsync__buf_puts(dbsync__buf *b, const char *s);
void dbsync__buf_putc(dbsync__buf *b, char c);
void dbsync__buf_printf(dbsync__buf *b, const char *fmt, ...) DBSYNC__PRINTF(2, 3);
void dbsync__buf_put_int64(dbsync__buf *b, int64_t v); /* decimal, no printf */
void dbsync__buf_reset(dbsync__buf *b);  /* length 0, keeps memory */
void dbsync__buf_free(dbsync__buf *b);
/* Takes the string out (caller frees); the buffer is empty afterwards. NULL on oom. */
char *dbsync__buf_take(dbsync__buf *b);

/* Fills err (if not NULL) and returns code. */
int dbsync__error_set(dbsync_error *err, int code, int klass, const char *fmt, ...)
    DBSYNC__PRINTF(4, 5);
int dbsync__error_setv(dbsync_error *err, int code, int klass, const char *fmt, va_list ap);
void dbsync__error_clear(dbsync_error *err);
int dbsync__error_nomem(dbsync_error *err);

char *dbsync__strdup(const char *s);
char *dbsync__strndup(const char *s, size_t n);

/* True for [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes. */
bool dbsync__is_identifier(const char *s);

/* Hex encode/decode. decode returns -1 on bad input (odd length or non-hex). */
void dbsync__hex_encode(char *out, const unsigned char *in, size_t n); /* out: 2n+1 bytes */
long dbsync__hex_decode(unsigned char *out, const char *in, size_t n); /* returns bytes written */

/* strtod and "%.17g" in the C locale, whatever the application's locale. */
double dbsync__strtod(const char *s, char **end);
void dbsync__format_real(char *buf, size_t size, double d); /* size >= 32 */

/* Parses a signed 64-bit decimal integer, the whole string. 0 ok, -1 bad. */
int dbsync__parse_int64(const char *s, int64_t *out);

/* Decimal text normalized to exactly `scale` fractional digits (caller frees);
 * NULL with a reason in why when it does not fit precision/scale or is not a number. */
char *dbsync__decimal_normalize(const char *text, unsigned precision, unsigned scale, char *why,
                                size_t whylen);

#endif

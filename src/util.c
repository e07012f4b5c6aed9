/* SPDX-License-Identifier: MIT */
/*
 * Small helpers: the string buffer, identifiers, hex, integers.
 * The buffer keeps its data NUL-terminated at every step once anything was
 * appended, and turns every failure into one sticky oom flag.
 */
#define _GNU_SOURCE /* strtod_l */
#include <ctype.h>
#include <locale.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool buf_reserve(dbsync__buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void dbsync__buf_append(dbsync__buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void dbsync__buf_puts(dbsync__buf *b, const char *s)
{
    dbsync__buf_append(b, s, strlen(s));
}

void dbsync__buf_putc(dbsync__buf *b, char c)
{
    dbsync__buf_append(b, &c, 1);
}

void dbsync__buf_printf(dbsync__buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[128];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        dbsync__buf_append(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void dbsync__buf_put_int64(dbsync__buf *b, int64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    /* Through unsigned arithmetic so INT64_MIN has no overflow. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    dbsync__buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

void dbsync__buf_reset(dbsync__buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void dbsync__buf_free(dbsync__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

char *dbsync__buf_take(dbsync__buf *b)
{
    if (b->oom) {
        dbsync__buf_free(b);
        return NULL;
    }
    if (!b->data && !buf_reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0';
    char *s = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

char *dbsync__strdup(const char *s)
{
    return s ? dbsync__strndup(s, strlen(s)) : NULL;
}

char *dbsync__strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

bool dbsync__is_identifier(const char *s)
{
    /* ASCII only, whatever the locale. */
    if (!s || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    size_t n = 1;
    for (; s[n]; n++)
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return false;
    return n <= 63;
}

void dbsync__hex_encode(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long dbsync__hex_decode(unsigned char *out, const char *in, size_t n)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(in[i]), lo = hexval(in[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

int dbsync__parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* One C locale for the process: numbers in SQL and in text forms never
 * depend on the application's setlocale(). */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

double dbsync__strtod(const char *s, char **end)
{
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale == (locale_t)0)
        return strtod(s, end);
    return strtod_l(s, end, c_locale);
}

void dbsync__format_real(char *buf, size_t size, double d)
{
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale != (locale_t)0 ? uselocale(c_locale) : (locale_t)0;
    snprintf(buf, size, "%.17g", d);
    if (old != (locale_t)0)
        uselocale(old);
}

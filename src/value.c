/* SPDX-License-Identifier: MIT */
/*
 * Typed values: the one text form of every column type (parse and format),
 * checks of a value against its column, copies and equality.
 * Invariants: a dbsync_value owns its text and bytes; a NULL value owns
 * nothing; decimal text is kept normalized to the column's scale.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool date_valid(const dbsync_date *d)
{
    return d->year >= 1 && d->year <= 9999 && d->month >= 1 && d->month <= 12 && d->day >= 1 &&
           d->day <= days_in_month(d->year, d->month);
}

static bool time_valid(const dbsync_time *t)
{
    return t->hour < 24 && t->minute < 60 && t->second < 60 && t->usec < 1000000;
}

static bool parse_date_at(const char **p, dbsync_date *out)
{
    int y, m, d;
    if (!digits(p, 4, &y) || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, 2, &m) || **p != '-')
        return false;
    (*p)++;
    if (!digits(p, 2, &d))
        return false;
    out->year = (int16_t)y;
    out->month = (uint8_t)m;
    out->day = (uint8_t)d;
    return date_valid(out);
}

static bool parse_time_at(const char **p, dbsync_time *out)
{
    int h, mi, s;
    if (!digits(p, 2, &h) || **p != ':')
        return false;
    (*p)++;
    if (!digits(p, 2, &mi) || **p != ':')
        return false;
    (*p)++;
    if (!digits(p, 2, &s))
        return false;
    long usec = 0;
    if (**p == '.') {
        (*p)++;
        int n = 0;
        while (isdigit((unsigned char)**p)) {
            if (n >= 6)
                return false;
            usec = usec * 10 + (**p - '0');
            (*p)++;
            n++;
        }
        if (n == 0)
            return false;
        for (; n < 6; n++)
            usec *= 10;
    }
    if (h > 23 || mi > 59 || s > 59)
        return false;
    out->hour = (uint8_t)h;
    out->minute = (uint8_t)mi;
    out->second = (uint8_t)s;
    out->usec = (uint32_t)usec;
    return true;
}

int dbsync_date_parse(dbsync_date *out, const char *text)
{
    dbsync_date d;
    const char *p = text;
    if (!text || !parse_date_at(&p, &d) || *p)
        return DBSYNC_EINVALID;
    *out = d;
    return DBSYNC_OK;
}

int dbsync_time_parse(dbsync_time *out, const char *text)
{
    dbsync_time t;
    const char *p = text;
    if (!text || !parse_time_at(&p, &t) || *p)
        return DBSYNC_EINVALID;
    *out = t;
    return DBSYNC_OK;
}

int dbsync_datetime_parse(dbsync_datetime *out, const char *text)
{
    dbsync_datetime dt;
    const char *p = text;
    if (!text || !parse_date_at(&p, &dt.date) || (*p != ' ' && *p != 'T'))
        return DBSYNC_EINVALID;
    p++;
    if (!parse_time_at(&p, &dt.time) || *p)
        return DBSYNC_EINVALID;
    *out = dt;
    return DBSYNC_OK;
}

/* Writes n digits of v, zero-padded. */
static char *put_digits(char *p, unsigned long v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

static char *put_date(char *p, const dbsync_date *d)
{
    p = put_digits(p, (unsigned long)d->year, 4);
    *p++ = '-';
    p = put_digits(p, d->month, 2);
    *p++ = '-';
    return put_digits(p, d->day, 2);
}

static char *put_time(char *p, const dbsync_time *t)
{
    p = put_digits(p, t->hour, 2);
    *p++ = ':';
    p = put_digits(p, t->minute, 2);
    *p++ = ':';
    p = put_digits(p, t->second, 2);
    if (t->usec) {
        *p++ = '.';
        p = put_digits(p, t->usec, 6);
    }
    return p;
}

int dbsync_date_format(char *buf, const dbsync_date *date)
{
    if (!date_valid(date)) {
        buf[0] = '\0';
        return DBSYNC_EINVALID;
    }
    *put_date(buf, date) = '\0';
    return DBSYNC_OK;
}

int dbsync_time_format(char *buf, const dbsync_time *time)
{
    if (!time_valid(time)) {
        buf[0] = '\0';
        return DBSYNC_EINVALID;
    }
    *put_time(buf, time) = '\0';
    return DBSYNC_OK;
}

int dbsync_datetime_format(char *buf, const dbsync_datetime *dt)
{
    if (!date_valid(&dt->date) || !time_valid(&dt->time)) {
        buf[0] = '\0';
        return DBSYNC_EINVALID;
    }
    char *p = put_date(buf, &dt->date);
    *p++ = ' ';
    *put_time(p, &dt->time) = '\0';
    return DBSYNC_OK;
}

/* Number of UTF-8 characters (continuation bytes not counted). */
static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/*
 * Normalizes decimal text to exactly `scale` fractional digits, checking the
 * integer digits fit precision - scale. Writes a message into why on failure.
 */
char *dbsync__decimal_normalize(const char *text, unsigned precision, unsigned scale, char *why,
                               size_t whylen)
{
    const char *p = text;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    const char *int_start = p;
    while (isdigit((unsigned char)*p))
        p++;
    size_t int_len = (size_t)(p - int_start);
    const char *frac_start = p;
    size_t frac_len = 0;
    if (*p == '.') {
        frac_start = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        frac_len = (size_t)(p - frac_start);
    }
    if (*p || (int_len == 0 && frac_len == 0)) {
        snprintf(why, whylen, "\"%.40s\" is not a decimal number", text);
        return NULL;
    }
    while (int_len > 0 && *int_start == '0') {
        int_start++;
        int_len--;
    }
    /* Trailing zeros beyond the scale carry no value. */
    while (frac_len > scale && frac_start[frac_len - 1] == '0')
        frac_len--;
    if (frac_len > scale) {
        snprintf(why, whylen, "\"%.40s\" has %zu digits after the point, at most %u", text,
                 frac_len, scale);
        return NULL;
    }
    if (precision > 0 && int_len > precision - scale) {
        snprintf(why, whylen, "\"%.40s\" has %zu digits before the point, at most %u", text,
                 int_len, precision - scale);
        return NULL;
    }
    bool zero = true;
    for (size_t i = 0; i < int_len; i++)
        zero = zero && int_start[i] == '0';
    for (size_t i = 0; i < frac_len; i++)
        zero = zero && frac_start[i] == '0';
    size_t n = (neg && !zero ? 1 : 0) + (int_len ? int_len : 1) + (scale ? 1 + scale : 0) + 1;
    char *out = malloc(n);
    if (!out) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    char *o = out;
    if (neg && !zero)
        *o++ = '-';
    if (int_len) {
        memcpy(o, int_start, int_len);
        o += int_len;
    } else {
        *o++ = '0';
    }
    if (scale) {
        *o++ = '.';
        memcpy(o, frac_start, frac_len);
        o += frac_len;
        for (size_t i = frac_len; i < scale; i++)
            *o++ = '0';
    }
    *o = '\0';
    return out;
}

static int column_error(dbsync_error *err, const dbsync_table *table, const dbsync_column *column,
                        const char *fmt, ...) DBSYNC__PRINTF(4, 5);

static int column_error(dbsync_error *err, const dbsync_table *table, const dbsync_column *column,
                        const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (table)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "column %s.%s: %s",
                                 table->name, column->name, detail);
    return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "column %s: %s",
                             column->name, detail);
}

int dbsync_value_parse(dbsync_value *out, const dbsync_table *table, const dbsync_column *column,
                       const char *text, dbsync_error *err)
{
    memset(out, 0, sizeof *out);
    out->type = column->type;
    switch (column->type) {
    case DBSYNC_TYPE_INTEGER:
        if (dbsync__parse_int64(text, &out->u.i) != 0)
            return column_error(err, table, column, "\"%.60s\" is not a 64-bit integer", text);
        return DBSYNC_OK;
    case DBSYNC_TYPE_BOOLEAN:
        if (!strcmp(text, "true") || !strcmp(text, "1"))
            out->u.b = true;
        else if (!strcmp(text, "false") || !strcmp(text, "0"))
            out->u.b = false;
        else
            return column_error(err, table, column, "\"%.60s\" is not a boolean (true, false, 1, 0)", text);
        return DBSYNC_OK;
    case DBSYNC_TYPE_REAL: {
        char *end;
        errno = 0;
        double d = dbsync__strtod(text, &end);
        if (!*text || isspace((unsigned char)*text) || *end || !isfinite(d) ||
            (errno == ERANGE && fabs(d) > 1.0))
            return column_error(err, table, column, "\"%.60s\" is not a finite real number", text);
        out->u.r = d;
        return DBSYNC_OK;
    }
    case DBSYNC_TYPE_DECIMAL: {
        char why[200];
        out->u.s = dbsync__decimal_normalize(text, column->precision, column->scale, why, sizeof why);
        if (!out->u.s)
            return column_error(err, table, column, "%s", why);
        return DBSYNC_OK;
    }
    case DBSYNC_TYPE_TEXT:
        out->u.s = dbsync__strdup(text);
        if (!out->u.s)
            return dbsync__error_nomem(err);
        if (column->length && utf8_length(text) > column->length) {
            dbsync_value_clear(out);
            return column_error(err, table, column, "text of %zu characters, at most %u",
                                utf8_length(text), column->length);
        }
        return DBSYNC_OK;
    case DBSYNC_TYPE_BLOB: {
        size_t n = strlen(text);
        if (n >= 2 && text[0] == '\\' && text[1] == 'x') {
            text += 2;
            n -= 2;
        }
        out->u.blob.data = malloc(n / 2 + 1);
        if (!out->u.blob.data)
            return dbsync__error_nomem(err);
        long len = dbsync__hex_decode(out->u.blob.data, text, n);
        if (len < 0) {
            dbsync_value_clear(out);
            return column_error(err, table, column,
                                "blob must be an even number of hexadecimal digits");
        }
        out->u.blob.len = (size_t)len;
        return DBSYNC_OK;
    }
    case DBSYNC_TYPE_DATE:
        if (dbsync_date_parse(&out->u.date, text) != DBSYNC_OK)
            return column_error(err, table, column, "\"%.60s\" is not a valid date (YYYY-MM-DD)", text);
        return DBSYNC_OK;
    case DBSYNC_TYPE_TIME:
        if (dbsync_time_parse(&out->u.time, text) != DBSYNC_OK)
            return column_error(err, table, column,
                                "\"%.60s\" is not a valid time (HH:MM:SS[.ffffff])", text);
        return DBSYNC_OK;
    case DBSYNC_TYPE_DATETIME:
        if (dbsync_datetime_parse(&out->u.datetime, text) != DBSYNC_OK)
            return column_error(err, table, column,
                                "\"%.60s\" is not a valid datetime (YYYY-MM-DD HH:MM:SS[.ffffff])", text);
        return DBSYNC_OK;
    }
    return column_error(err, table, column, "unknown type %d", (int)column->type);
}

int dbsync_value_check(const dbsync_value *value, const dbsync_table *table,
                       const dbsync_column *column, dbsync_error *err)
{
    if (value->type != column->type)
        return column_error(err, table, column, "value of type %s given for a column of type %s",
                            dbsync_type_name(value->type), dbsync_type_name(column->type));
    bool null = value->is_null;
    if (!null && (value->type == DBSYNC_TYPE_TEXT || value->type == DBSYNC_TYPE_DECIMAL))
        null = value->u.s == NULL;
    if (!null && value->type == DBSYNC_TYPE_BLOB)
        null = value->u.blob.data == NULL;
    if (null) {
        if (!(column->flags & DBSYNC_COLUMN_NULLABLE))
            return column_error(err, table, column, "NULL is not allowed");
        return DBSYNC_OK;
    }
    switch (value->type) {
    case DBSYNC_TYPE_REAL:
        if (!isfinite(value->u.r))
            return column_error(err, table, column, "real value is not finite");
        break;
    case DBSYNC_TYPE_DECIMAL: {
        char why[200];
        char *norm = dbsync__decimal_normalize(value->u.s, column->precision, column->scale, why, sizeof why);
        if (!norm)
            return column_error(err, table, column, "%s", why);
        free(norm);
        break;
    }
    case DBSYNC_TYPE_TEXT:
        if (column->length && utf8_length(value->u.s) > column->length)
            return column_error(err, table, column, "text of %zu characters, at most %u",
                                utf8_length(value->u.s), column->length);
        break;
    case DBSYNC_TYPE_DATE:
        if (!date_valid(&value->u.date))
            return column_error(err, table, column, "invalid date %d-%d-%d", value->u.date.year,
                                value->u.date.month, value->u.date.day);
        break;
    case DBSYNC_TYPE_TIME:
        if (!time_valid(&value->u.time))
            return column_error(err, table, column, "invalid time");
        break;
    case DBSYNC_TYPE_DATETIME:
        if (!date_valid(&value->u.datetime.date) || !time_valid(&value->u.datetime.time))
            return column_error(err, table, column, "invalid datetime");
        break;
    default:
        break;
    }
    return DBSYNC_OK;
}

int dbsync_value_format(char **out, const dbsync_value *v)
{
    char buf[64];
    *out = NULL;
    if (v->is_null)
        return DBSYNC_OK;
    switch (v->type) {
    case DBSYNC_TYPE_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)v->u.i);
        break;
    case DBSYNC_TYPE_BOOLEAN:
        snprintf(buf, sizeof buf, "%s", v->u.b ? "true" : "false");
        break;
    case DBSYNC_TYPE_REAL:
        dbsync__format_real(buf, sizeof buf, v->u.r);
        break;
    case DBSYNC_TYPE_DECIMAL:
    case DBSYNC_TYPE_TEXT:
        if (!v->u.s)
            return DBSYNC_OK;
        *out = dbsync__strdup(v->u.s);
        return *out ? DBSYNC_OK : DBSYNC_ERROR;
    case DBSYNC_TYPE_BLOB:
        if (!v->u.blob.data)
            return DBSYNC_OK;
        *out = malloc(2 * v->u.blob.len + 1);
        if (!*out)
            return DBSYNC_ERROR;
        dbsync__hex_encode(*out, v->u.blob.data, v->u.blob.len);
        return DBSYNC_OK;
    case DBSYNC_TYPE_DATE:
        if (dbsync_date_format(buf, &v->u.date) != DBSYNC_OK)
            return DBSYNC_EINVALID;
        break;
    case DBSYNC_TYPE_TIME:
        if (dbsync_time_format(buf, &v->u.time) != DBSYNC_OK)
            return DBSYNC_EINVALID;
        break;
    case DBSYNC_TYPE_DATETIME:
        if (dbsync_datetime_format(buf, &v->u.datetime) != DBSYNC_OK)
            return DBSYNC_EINVALID;
        break;
    default:
        return DBSYNC_EINVALID;
    }
    *out = dbsync__strdup(buf);
    return *out ? DBSYNC_OK : DBSYNC_ERROR;
}

void dbsync_value_clear(dbsync_value *v)
{
    if (!v)
        return;
    if (v->type == DBSYNC_TYPE_TEXT || v->type == DBSYNC_TYPE_DECIMAL)
        free(v->u.s);
    else if (v->type == DBSYNC_TYPE_BLOB)
        free(v->u.blob.data);
    memset(&v->u, 0, sizeof v->u);
    v->is_null = true;
}

int dbsync_value_copy(dbsync_value *out, const dbsync_value *v)
{
    *out = *v;
    if (v->is_null)
        return DBSYNC_OK;
    if ((v->type == DBSYNC_TYPE_TEXT || v->type == DBSYNC_TYPE_DECIMAL) && v->u.s) {
        out->u.s = dbsync__strdup(v->u.s);
        if (!out->u.s)
            goto nomem;
    } else if (v->type == DBSYNC_TYPE_BLOB && v->u.blob.data) {
        out->u.blob.data = malloc(v->u.blob.len ? v->u.blob.len : 1);
        if (!out->u.blob.data)
            goto nomem;
        memcpy(out->u.blob.data, v->u.blob.data, v->u.blob.len);
    }
    return DBSYNC_OK;
nomem:
    out->is_null = true;
    memset(&out->u, 0, sizeof out->u);
    return DBSYNC_ERROR;
}

bool dbsync_value_equal(const dbsync_value *a, const dbsync_value *b)
{
    if (a->type != b->type || a->is_null != b->is_null)
        return false;
    if (a->is_null)
        return true;
    switch (a->type) {
    case DBSYNC_TYPE_INTEGER:
        return a->u.i == b->u.i;
    case DBSYNC_TYPE_BOOLEAN:
        return a->u.b == b->u.b;
    case DBSYNC_TYPE_REAL:
        return memcmp(&a->u.r, &b->u.r, sizeof(double)) == 0 || a->u.r == b->u.r;
    case DBSYNC_TYPE_DECIMAL:
    case DBSYNC_TYPE_TEXT:
        if (!a->u.s || !b->u.s)
            return a->u.s == b->u.s;
        return strcmp(a->u.s, b->u.s) == 0;
    case DBSYNC_TYPE_BLOB:
        if (!a->u.blob.data || !b->u.blob.data)
            return a->u.blob.data == b->u.blob.data;
        return a->u.blob.len == b->u.blob.len &&
               memcmp(a->u.blob.data, b->u.blob.data, a->u.blob.len) == 0;
    case DBSYNC_TYPE_DATE:
        return a->u.date.year == b->u.date.year && a->u.date.month == b->u.date.month &&
               a->u.date.day == b->u.date.day;
    case DBSYNC_TYPE_TIME:
        return memcmp(&a->u.time, &b->u.time, sizeof a->u.time) == 0;
    case DBSYNC_TYPE_DATETIME:
        return a->u.datetime.date.year == b->u.datetime.date.year &&
               a->u.datetime.date.month == b->u.datetime.date.month &&
               a->u.datetime.date.day == b->u.datetime.date.day &&
               memcmp(&a->u.datetime.time, &b->u.datetime.time, sizeof a->u.time) == 0;
    }
    return false;
}

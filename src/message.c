/* SPDX-License-Identifier: MIT */
/*
 * The pieces of the protocol's messages: values and rows as JSON (exact
 * for every type: 64-bit integers as JSON integers, reals as JSON numbers
 * printed with 17 digits, decimals, dates and times as text, blobs as
 * base64), HMAC-SHA256 signatures and random secrets (OpenSSL), and the
 * compression rules of the local and the server logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "sync_internal.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *dbsync__base64_encode(const unsigned char *data, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0);
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long dbsync__base64_decode(const char *text, size_t len, unsigned char *out)
{
    if (len % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64_value(c)) < 0) {
                return -1;
            }
        }
        unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[o++] = (unsigned char)(bits >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(bits >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)bits;
    }
    return (long)o;
}

static int value_error(dbsync_error *err, const dbsync_table *t, const dbsync_column *c,
                       const char *what)
{
    return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_JSON, "column %s.%s: %s",
                             t ? t->name : "?", c->name, what);
}

json_t *dbsync__value_to_json(const dbsync_value *v, const dbsync_table *t,
                              const dbsync_column *c, dbsync_error *err)
{
    json_t *j = NULL;
    char buf[DBSYNC_DATETIME_BUFSIZE];
    if (v->is_null)
        j = json_null();
    else
        switch (v->type) {
        case DBSYNC_TYPE_INTEGER:
            j = json_integer((json_int_t)v->u.i);
            break;
        case DBSYNC_TYPE_BOOLEAN:
            j = json_boolean(v->u.b);
            break;
        case DBSYNC_TYPE_REAL:
            j = json_real(v->u.r);
            break;
        case DBSYNC_TYPE_DECIMAL:
        case DBSYNC_TYPE_TEXT:
            j = v->u.s ? json_string(v->u.s) : json_null();
            if (!j) {
                value_error(err, t, c, "the text is not UTF-8");
                return NULL;
            }
            break;
        case DBSYNC_TYPE_BLOB: {
            if (!v->u.blob.data) {
                j = json_null();
                break;
            }
            char *s = dbsync__base64_encode(v->u.blob.data, v->u.blob.len);
            j = s ? json_string(s) : NULL;
            free(s);
            break;
        }
        case DBSYNC_TYPE_DATE:
        case DBSYNC_TYPE_TIME:
        case DBSYNC_TYPE_DATETIME: {
            int rc = v->type == DBSYNC_TYPE_DATE   ? dbsync_date_format(buf, &v->u.date)
                     : v->type == DBSYNC_TYPE_TIME ? dbsync_time_format(buf, &v->u.time)
                                                   : dbsync_datetime_format(buf, &v->u.datetime);
            if (rc) {
                value_error(err, t, c, "invalid date or time");
                return NULL;
            }
            j = json_string(buf);
            break;
        }
        }
    if (!j)
        dbsync__error_nomem(err);
    return j;
}

int dbsync__value_from_json(const json_t *j, const dbsync_table *t, const dbsync_column *c,
                            dbsync_value *out, dbsync_error *err)
{
    memset(out, 0, sizeof *out);
    out->type = c->type;
    if (!j || json_is_null(j)) {
        out->is_null = true;
    } else {
        switch (c->type) {
        case DBSYNC_TYPE_INTEGER:
            if (!json_is_integer(j))
                return value_error(err, t, c, "expected an integer");
            out->u.i = (int64_t)json_integer_value(j);
            break;
        case DBSYNC_TYPE_BOOLEAN:
            if (!json_is_boolean(j))
                return value_error(err, t, c, "expected true or false");
            out->u.b = json_is_true(j);
            break;
        case DBSYNC_TYPE_REAL:
            if (!json_is_number(j))
                return value_error(err, t, c, "expected a number");
            out->u.r = json_number_value(j);
            break;
        case DBSYNC_TYPE_TEXT:
            if (!json_is_string(j))
                return value_error(err, t, c, "expected a string");
            if (memchr(json_string_value(j), '\0', json_string_length(j)))
                return value_error(err, t, c, "a NUL character in text");
            out->u.s = dbsync__strdup(json_string_value(j));
            if (!out->u.s)
                return dbsync__error_nomem(err);
            break;
        case DBSYNC_TYPE_BLOB: {
            if (!json_is_string(j))
                return value_error(err, t, c, "expected a base64 string");
            size_t n = json_string_length(j);
            out->u.blob.data = malloc(n / 4 * 3 + 3);
            if (!out->u.blob.data)
                return dbsync__error_nomem(err);
            long len = dbsync__base64_decode(json_string_value(j), n, out->u.blob.data);
            if (len < 0) {
                dbsync_value_clear(out);
                return value_error(err, t, c, "not base64");
            }
            out->u.blob.len = (size_t)len;
            break;
        }
        default: /* decimal, dates and times: their text forms */
            if (!json_is_string(j))
                return value_error(err, t, c, "expected a string");
            if (dbsync_value_parse(out, t, c, json_string_value(j), err) != DBSYNC_OK) {
                if (err)
                    err->klass = DBSYNC_ECLASS_JSON;
                return DBSYNC_EINVALID;
            }
            break;
        }
    }
    int rc = dbsync_value_check(out, t, c, err);
    if (rc)
        dbsync_value_clear(out);
    return rc;
}

int dbsync__row_from_json(const json_t *row, const dbsync_table *t, dbsync_value *out,
                          dbsync_error *err)
{
    if (!json_is_array(row) || json_array_size(row) != t->n_columns)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_JSON,
                                 "a row of %s must be an array of %zu values", t->name,
                                 t->n_columns);
    for (size_t i = 0; i < t->n_columns; i++) {
        int rc = dbsync__value_from_json(json_array_get(row, i), t, &t->columns[i], &out[i], err);
        if (rc) {
            for (size_t k = 0; k < i; k++)
                dbsync_value_clear(&out[k]);
            return rc;
        }
    }
    return DBSYNC_OK;
}

json_t *dbsync__columns_json(const dbsync_table *t)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < t->n_columns; i++)
        if (json_array_append_new(a, json_string(t->columns[i].name))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

int dbsync__columns_check(const json_t *columns, const dbsync_table *t, dbsync_error *err)
{
    if (!json_is_array(columns) || json_array_size(columns) != t->n_columns)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_JSON,
                                 "the columns of %s differ from this schema's (%zu columns)",
                                 t->name, t->n_columns);
    for (size_t i = 0; i < t->n_columns; i++) {
        const char *name = json_string_value(json_array_get(columns, i));
        if (!name || strcmp(name, t->columns[i].name))
            return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_JSON,
                                     "column %zu of %s is \"%.60s\" in the message, \"%s\" here",
                                     i + 1, t->name, name ? name : "?", t->columns[i].name);
    }
    return DBSYNC_OK;
}

/* Appends s as a JSON string; false when s is not UTF-8. */
static bool json_string_text(dbsync__buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    dbsync__buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                dbsync__buf_append(b, e, 2);
            } else if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                dbsync__buf_append(b, e, 6);
            } else {
                dbsync__buf_putc(b, (char)c);
            }
            p++;
            continue;
        }
        /* a multi-byte sequence: its length, continuation bytes, no
         * overlong forms, no surrogates, nothing above U+10FFFF */
        size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
        if (!n || c > 0xF4)
            return false;
        for (size_t k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80)
                return false;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || (c == 0xF0 && p[1] < 0x90) ||
            (c == 0xF4 && p[1] > 0x8F))
            return false;
        dbsync__buf_append(b, (const char *)p, n);
        p += n;
    }
    dbsync__buf_putc(b, '"');
    return true;
}

int dbsync__value_json_text(dbsync__buf *b, const dbsync_value *v, const dbsync_table *t,
                            const dbsync_column *c, dbsync_error *err)
{
    char buf[40];
    if (v->is_null) {
        dbsync__buf_puts(b, "null");
        return DBSYNC_OK;
    }
    switch (v->type) {
    case DBSYNC_TYPE_INTEGER:
        dbsync__buf_put_int64(b, v->u.i);
        return DBSYNC_OK;
    case DBSYNC_TYPE_BOOLEAN:
        dbsync__buf_puts(b, v->u.b ? "true" : "false");
        return DBSYNC_OK;
    case DBSYNC_TYPE_REAL:
        dbsync__format_real(buf, sizeof buf, v->u.r);
        dbsync__buf_puts(b, buf);
        /* JSON has no integer-looking reals issue: 1 reads back as 1.0 */
        return DBSYNC_OK;
    case DBSYNC_TYPE_DECIMAL:
    case DBSYNC_TYPE_TEXT:
        if (!v->u.s) {
            dbsync__buf_puts(b, "null");
            return DBSYNC_OK;
        }
        if (!json_string_text(b, v->u.s))
            return value_error(err, t, c, "the text is not UTF-8");
        return DBSYNC_OK;
    case DBSYNC_TYPE_BLOB: {
        if (!v->u.blob.data) {
            dbsync__buf_puts(b, "null");
            return DBSYNC_OK;
        }
        char *s = dbsync__base64_encode(v->u.blob.data, v->u.blob.len);
        if (!s)
            return dbsync__error_nomem(err);
        dbsync__buf_putc(b, '"');
        dbsync__buf_puts(b, s);
        dbsync__buf_putc(b, '"');
        free(s);
        return DBSYNC_OK;
    }
    default: {
        int rc = v->type == DBSYNC_TYPE_DATE   ? dbsync_date_format(buf, &v->u.date)
                 : v->type == DBSYNC_TYPE_TIME ? dbsync_time_format(buf, &v->u.time)
                                               : dbsync_datetime_format(buf, &v->u.datetime);
        if (rc)
            return value_error(err, t, c, "invalid date or time");
        dbsync__buf_putc(b, '"');
        dbsync__buf_puts(b, buf);
        dbsync__buf_putc(b, '"');
        return DBSYNC_OK;
    }
    }
}

int dbsync__hmac_hex(const char *secret, const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)data, len, md,
              &mdlen) ||
        mdlen != 32)
        return DBSYNC_ERROR;
    dbsync__hex_encode(out, md, 32);
    return DBSYNC_OK;
}

int dbsync__hmac_begin(dbsync__hmac *h, const char *secret)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    h->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    if (!h->ctx)
        return DBSYNC_ERROR;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!EVP_MAC_init(h->ctx, (const unsigned char *)secret, strlen(secret), params)) {
        EVP_MAC_CTX_free(h->ctx);
        h->ctx = NULL;
        return DBSYNC_ERROR;
    }
    return DBSYNC_OK;
}

int dbsync__hmac_update(dbsync__hmac *h, const void *data, size_t len)
{
    return EVP_MAC_update(h->ctx, data, len) ? DBSYNC_OK : DBSYNC_ERROR;
}

int dbsync__hmac_end(dbsync__hmac *h, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t n = 0;
    int ok = h->ctx && EVP_MAC_final(h->ctx, md, &n, sizeof md) && n == 32;
    EVP_MAC_CTX_free(h->ctx);
    h->ctx = NULL;
    if (!ok)
        return DBSYNC_ERROR;
    dbsync__hex_encode(out, md, 32);
    return DBSYNC_OK;
}

bool dbsync__hmac_check(const char *secret, const char *data, size_t len, const char *signature)
{
    char expected[65];
    if (!signature || strlen(signature) != 64 ||
        dbsync__hmac_hex(secret, data, len, expected) != DBSYNC_OK)
        return false;
    char lower[65];
    for (int i = 0; i < 64; i++)
        lower[i] = (char)(signature[i] >= 'A' && signature[i] <= 'F' ? signature[i] + 32
                                                                      : signature[i]);
    lower[64] = '\0';
    return CRYPTO_memcmp(expected, lower, 64) == 0;
}

int dbsync__random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes > sizeof buf || RAND_bytes(buf, (int)nbytes) != 1)
        return DBSYNC_ERROR;
    dbsync__hex_encode(out, buf, nbytes);
    return DBSYNC_OK;
}

char dbsync__compress_server(char first, char last)
{
    switch (first) {
    case 'i': /* i ... d -> nothing; i ... x -> i */
        return last == 'd' ? 0 : 'i';
    case 'u': /* u ... d -> d; u ... x -> u */
        return last == 'd' ? 'd' : 'u';
    default: /* d ... d -> d; d ... x -> u (the row came back) */
        return last == 'd' ? 'd' : 'u';
    }
}

char dbsync__compress_local(const char *cmds, size_t n, bool *anomaly)
{
    *anomaly = false;
    if (n == 0)
        return 0;
    char first = cmds[0], last = cmds[n - 1];
    /* The rules of use allow only updates between the first and the last,
     * and nothing after a delete. */
    for (size_t i = 1; i + 1 < n; i++)
        if (cmds[i] != 'u')
            *anomaly = true;
    if (n > 1 && (first == 'd' || last == 'i'))
        *anomaly = true;
    if (*anomaly) /* best effort: the server's rules say what became of it */
        return dbsync__compress_server(first, last);
    if (first == 'i')
        return last == 'd' ? 0 : 'i'; /* i u* -> i; i u* d -> nothing */
    if (first == 'u')
        return last == 'd' ? 'd' : 'u'; /* u u* -> u; u* d -> d */
    return 'd';
}

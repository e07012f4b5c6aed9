/* SPDX-License-Identifier: MIT */
/*
 * Database URLs: "sqlite3:PATH", "pgsql://user:pass@host:port/db",
 * "mysql://...", each with optional "?key=value&key=value" options.
 * Percent-escapes are decoded in every part. A URL is either parsed whole
 * or refused with a message that names the part at fault.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes %XX escapes of s[0..n); NULL with *bad set on a bad escape or an escaped NUL. */
static char *decode(const char *s, size_t n, bool *bad)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 1 < n ? hexdigit(s[i + 1]) : -1;
        int lo = i + 2 < n ? hexdigit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            *bad = true;
            return NULL;
        }
        *o++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

void dbsync__url_free(dbsync__url *u)
{
    if (!u)
        return;
    free(u->scheme);
    free(u->path);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->port);
    free(u->dbname);
    for (size_t i = 0; i < u->n_options; i++) {
        free(u->keys[i]);
        free(u->values[i]);
    }
    free(u->keys);
    free(u->values);
    memset(u, 0, sizeof *u);
}

const char *dbsync__url_option(const dbsync__url *u, const char *key)
{
    for (size_t i = u->n_options; i-- > 0;)
        if (!strcmp(u->keys[i], key))
            return u->values[i];
    return NULL;
}

/* Copies url into out with the password of "scheme://user:password@..."
 * replaced by "***", so that messages never show it. */
static void mask_password(const char *url, char *out, size_t n)
{
    snprintf(out, n, "%s", url);
    char *auth = strstr(out, "://");
    if (!auth)
        return;
    auth += 3;
    size_t alen = strcspn(auth, "/?");
    char *at = NULL;
    for (char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon)
        return;
    char rest[256];
    snprintf(rest, sizeof rest, "%s", at);
    snprintf(colon + 1, n - (size_t)(colon + 1 - out), "***%s", rest);
}

#define URL_ERR(...) dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, __VA_ARGS__)

static int set_part(char **dst, const char *s, size_t n, const char *what, const char *url,
                    dbsync_error *err)
{
    bool bad = false;
    *dst = decode(s, n, &bad);
    if (bad)
        return URL_ERR("database URL \"%.200s\": bad %%-escape in the %s", url, what);
    if (!*dst)
        return dbsync__error_nomem(err);
    return DBSYNC_OK;
}

static int parse_options(dbsync__url *u, const char *q, const char *url, dbsync_error *err)
{
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', n);
        if (!eq || eq == q)
            return URL_ERR("database URL \"%.200s\": option \"%.*s\" is not key=value", url,
                           (int)n, q);
        char **keys = realloc(u->keys, (u->n_options + 1) * sizeof *keys);
        if (!keys)
            return dbsync__error_nomem(err);
        u->keys = keys;
        char **values = realloc(u->values, (u->n_options + 1) * sizeof *values);
        if (!values)
            return dbsync__error_nomem(err);
        u->values = values;
        u->keys[u->n_options] = u->values[u->n_options] = NULL;
        u->n_options++;
        int rc = set_part(&u->keys[u->n_options - 1], q, (size_t)(eq - q), "option name", url, err);
        if (rc)
            return rc;
        rc = set_part(&u->values[u->n_options - 1], eq + 1, n - (size_t)(eq - q) - 1, "option value",
                      url, err);
        if (rc)
            return rc;
        if (!dbsync__is_identifier(u->keys[u->n_options - 1]))
            return URL_ERR("database URL \"%.200s\": bad option name \"%.60s\"", url,
                           u->keys[u->n_options - 1]);
        q += n;
        if (*q == '&')
            q++;
    }
    return DBSYNC_OK;
}

static int parse_network(dbsync__url *u, const char *rest, size_t n, const char *url,
                         dbsync_error *err)
{
    /* rest: user:pass@host:port/dbname (without the options) */
    const char *end = rest + n;
    const char *slash = memchr(rest, '/', n);
    if (!slash || slash + 1 >= end)
        return URL_ERR("database URL \"%.200s\": no database name (expected %s://user:pass@host:port/dbname)",
                       url, u->scheme);
    int rc = set_part(&u->dbname, slash + 1, (size_t)(end - slash - 1), "database name", url, err);
    if (rc)
        return rc;
    if (strchr(u->dbname, '/'))
        return URL_ERR("database URL \"%.200s\": bad database name \"%.60s\"", url, u->dbname);
    const char *auth_end = NULL;
    for (const char *p = rest; p < slash; p++)
        if (*p == '@')
            auth_end = p;
    const char *hostp = rest;
    if (auth_end) {
        const char *colon = memchr(rest, ':', (size_t)(auth_end - rest));
        if (colon) {
            rc = set_part(&u->user, rest, (size_t)(colon - rest), "user name", url, err);
            if (!rc)
                rc = set_part(&u->password, colon + 1, (size_t)(auth_end - colon - 1), "password",
                              url, err);
        } else {
            rc = set_part(&u->user, rest, (size_t)(auth_end - rest), "user name", url, err);
        }
        if (rc)
            return rc;
        hostp = auth_end + 1;
    }
    const char *colon = NULL;
    if (*hostp == '[') { /* [IPv6]:port */
        const char *close = memchr(hostp, ']', (size_t)(slash - hostp));
        if (!close)
            return URL_ERR("database URL \"%.200s\": unclosed [ in the host", url);
        rc = set_part(&u->host, hostp + 1, (size_t)(close - hostp - 1), "host", url, err);
        if (rc)
            return rc;
        if (close + 1 < slash) {
            if (close[1] != ':')
                return URL_ERR("database URL \"%.200s\": junk after the host", url);
            colon = close + 1;
        }
    } else {
        colon = memchr(hostp, ':', (size_t)(slash - hostp));
        size_t hn = colon ? (size_t)(colon - hostp) : (size_t)(slash - hostp);
        if (hn) {
            rc = set_part(&u->host, hostp, hn, "host", url, err);
            if (rc)
                return rc;
        }
    }
    if (colon) {
        size_t pn = (size_t)(slash - colon - 1);
        char port[8];
        if (pn == 0 || pn > 5)
            return URL_ERR("database URL \"%.200s\": bad port \"%.*s\"", url, (int)pn, colon + 1);
        memcpy(port, colon + 1, pn);
        port[pn] = '\0';
        int64_t v;
        if (dbsync__parse_int64(port, &v) != 0 || v < 1 || v > 65535 || port[0] == '+' ||
            port[0] == '-')
            return URL_ERR("database URL \"%.200s\": bad port \"%s\"", url, port);
        u->port = dbsync__strdup(port);
        if (!u->port)
            return dbsync__error_nomem(err);
    }
    return DBSYNC_OK;
}

int dbsync__url_parse(dbsync__url *u, const char *url, dbsync_error *err)
{
    memset(u, 0, sizeof *u);
    if (!url || !*url)
        return URL_ERR("empty database URL");
    char shown[256]; /* the URL as messages show it: no password */
    mask_password(url, shown, sizeof shown);
    const char *colon = strchr(url, ':');
    if (!colon || colon == url)
        return URL_ERR("database URL \"%.200s\": no scheme (expected sqlite3:PATH, pgsql://... or mysql://...)", shown);
    u->scheme = dbsync__strndup(url, (size_t)(colon - url));
    if (!u->scheme)
        return dbsync__error_nomem(err);
    int rc;
    if (!dbsync__dialect_find(u->scheme)) {
        rc = URL_ERR("database URL \"%.200s\": unknown backend \"%.40s\" (expected sqlite3, pgsql or mysql)",
                     shown, u->scheme);
        goto fail;
    }
    const char *rest = colon + 1;
    const char *q = strchr(rest, '?');
    size_t n = q ? (size_t)(q - rest) : strlen(rest);
    if (!strcmp(u->scheme, "sqlite3")) {
        if (n >= 2 && rest[0] == '/' && rest[1] == '/') {
            rest += 2;
            n -= 2;
        }
        if (n == 0) {
            rc = URL_ERR("database URL \"%.200s\": no file path (expected sqlite3:PATH)", shown);
            goto fail;
        }
        rc = set_part(&u->path, rest, n, "path", shown, err);
        if (rc)
            goto fail;
        size_t pl = strlen(u->path);
        if (u->path[pl - 1] == '/') {
            rc = URL_ERR("database URL \"%.200s\": the path names a folder, not a file", shown);
            goto fail;
        }
    } else {
        if (n < 2 || rest[0] != '/' || rest[1] != '/') {
            rc = URL_ERR("database URL \"%.200s\": expected %s://user:pass@host:port/dbname", shown,
                         u->scheme);
            goto fail;
        }
        rc = parse_network(u, rest + 2, n - 2, shown, err);
        if (rc)
            goto fail;
    }
    if (q) {
        rc = parse_options(u, q + 1, shown, err);
        if (rc)
            goto fail;
    }
    return DBSYNC_OK;
fail:
    dbsync__url_free(u);
    return rc;
}

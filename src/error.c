/* SPDX-License-Identifier: MIT */
/*
 * Error records: filling them, and the static texts of codes and classes.
 * A message never exceeds DBSYNC_ERROR_MESSAGE_SIZE; longer text is cut.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

int dbsync__error_setv(dbsync_error *err, int code, int klass, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->klass = klass;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return code;
}

int dbsync__error_set(dbsync_error *err, int code, int klass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dbsync__error_setv(err, code, klass, fmt, ap);
    va_end(ap);
    return code;
}

void dbsync__error_clear(dbsync_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

int dbsync__error_nomem(dbsync_error *err)
{
    return dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_NOMEM, "out of memory");
}

const char *dbsync_strerror(int code)
{
    switch (code) {
    case DBSYNC_OK: return "success";
    case DBSYNC_ERROR: return "error";
    case DBSYNC_ENOTFOUND: return "not found";
    case DBSYNC_EEXISTS: return "already exists";
    case DBSYNC_EINVALID: return "invalid input";
    case DBSYNC_ECONFLICT: return "conflict";
    case DBSYNC_ENET: return "network unavailable";
    case DBSYNC_EPULLREQUIRED: return "server is ahead: pull first";
    case DBSYNC_ENOTREGISTERED: return "node not registered";
    case DBSYNC_EUSER: return "refused by a callback";
    case DBSYNC_ETXN: return "transaction misuse";
    case DBSYNC_ITEROVER: return "no more rows";
    default: return "unknown error code";
    }
}

const char *dbsync_error_class_name(int klass)
{
    static const char *const names[] = {"none", "db", "net", "http", "json",
                                        "schema", "sync", "nomem", "os", "arg"};
    if (klass < 0 || (size_t)klass >= sizeof names / sizeof names[0])
        return "unknown";
    return names[klass];
}

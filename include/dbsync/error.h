/* SPDX-License-Identifier: MIT */
/**
 * @file error.h
 * Error codes, error classes and the error record every handle keeps.
 *
 * Functions that can fail return an int: DBSYNC_OK (0) or a negative code.
 * A few codes are expected and actionable (DBSYNC_ENOTFOUND, DBSYNC_EINVALID,
 * ...); everything else is DBSYNC_ERROR with a class. The detail of the last
 * failure lives in the handle the call took (dbsync_conn_error()), or, for
 * calls made before a handle exists, in a caller-owned dbsync_error.
 */
#ifndef DBSYNC_ERROR_H
#define DBSYNC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/** Return codes. */
typedef enum dbsync_code {
    DBSYNC_OK = 0,               /**< success */
    DBSYNC_ERROR = -1,           /**< generic failure; see the class */
    DBSYNC_ENOTFOUND = -3,       /**< the row, table or column does not exist */
    DBSYNC_EEXISTS = -4,         /**< a row with that key or unique value exists */
    DBSYNC_EINVALID = -5,        /**< bad input: value, URL, argument, schema file */
    DBSYNC_ECONFLICT = -6,       /**< a constraint or merge conflict the caller must resolve */
    DBSYNC_ENET = -7,            /**< network unreachable or timed out: retry later */
    DBSYNC_EPULLREQUIRED = -8,   /**< the server is ahead: pull, then push again */
    DBSYNC_ENOTREGISTERED = -9,  /**< this node has no identity yet: register first */
    DBSYNC_EUSER = -10,          /**< a callback or hook refused */
    DBSYNC_ETXN = -11,           /**< transaction misuse (nested begin, commit without begin) */
    DBSYNC_ITEROVER = -31        /**< an iterator has no more rows (not an error) */
} dbsync_code;

/** What kind of component failed. */
typedef enum dbsync_error_class {
    DBSYNC_ECLASS_NONE = 0,
    DBSYNC_ECLASS_DB,      /**< the database (libdbi) */
    DBSYNC_ECLASS_NET,     /**< the network (libcurl) */
    DBSYNC_ECLASS_HTTP,    /**< an HTTP status */
    DBSYNC_ECLASS_JSON,    /**< a message that is not what the protocol says */
    DBSYNC_ECLASS_SCHEMA,  /**< the schema file or model */
    DBSYNC_ECLASS_SYNC,    /**< a sync procedure */
    DBSYNC_ECLASS_NOMEM,   /**< out of memory */
    DBSYNC_ECLASS_OS,      /**< a system call */
    DBSYNC_ECLASS_ARG      /**< an argument or value given by the caller */
} dbsync_error_class;

/** Size of dbsync_error.message, terminating NUL included. */
#define DBSYNC_ERROR_MESSAGE_SIZE 512

/**
 * The last error of a handle, or the error filled by a call that runs before
 * any handle exists. Fixed size: nothing to free.
 */
typedef struct dbsync_error {
    int code;                 /**< a dbsync_code */
    int klass;                /**< a dbsync_error_class */
    long cause;               /**< underlying cause: libdbi error number, CURLcode, HTTP status */
    unsigned line;            /**< schema errors: the line in the file, 0 if none */
    char message[DBSYNC_ERROR_MESSAGE_SIZE]; /**< one line of text naming the thing and place */
} dbsync_error;

/** Static description of a code; never NULL. */
const char *dbsync_strerror(int code);

/** Static name of an error class ("db", "net", ...); never NULL. */
const char *dbsync_error_class_name(int klass);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: MIT */
/**
 * @file dbsync.h
 * Umbrella header, library version and global initialization.
 */
#ifndef DBSYNC_DBSYNC_H
#define DBSYNC_DBSYNC_H

#include <dbsync/error.h>
#include <dbsync/schema.h>
#include <dbsync/value.h>
#include <dbsync/conn.h>
#include <dbsync/crud.h>
#include <dbsync/oplog.h>
#include <dbsync/sync.h>
#include <dbsync/server.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DBSYNC_VERSION_MAJOR 0
#define DBSYNC_VERSION_MINOR 1
#define DBSYNC_VERSION_PATCH 0
/** Version as one number, for compile-time checks (generated headers use it). */
#define DBSYNC_VERSION_NUMBER (DBSYNC_VERSION_MAJOR * 10000 + DBSYNC_VERSION_MINOR * 100 + DBSYNC_VERSION_PATCH)

/** The library's version string (static). */
const char *dbsync_version(void);

/**
 * Initializes the libraries dbsync uses (libxml2, libcurl) once per process,
 * before threads start. Optional for single-threaded programs: the first
 * dbsync_conn_open() calls it. @return DBSYNC_OK or DBSYNC_ERROR
 */
int dbsync_global_init(void);

/** Releases what dbsync_global_init() set up. */
void dbsync_global_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: MIT */
/*
 * Process-wide setup of the libraries dbsync uses. libxml2's parser and
 * libcurl need one initialization before threads start; it is done once,
 * guarded by pthread_once, and also implicitly by dbsync_conn_open().
 */
#include "config.h"

#include <pthread.h>

#include <libxml/parser.h>
#include <curl/curl.h>

#include "conn.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_rc = DBSYNC_OK;

static void init_once(void)
{
    xmlInitParser();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        init_rc = DBSYNC_ERROR;
}

int dbsync_global_init(void)
{
    pthread_once(&once, init_once);
    return init_rc;
}

int dbsync__global_ensure(void)
{
    return dbsync_global_init();
}

void dbsync_global_cleanup(void)
{
    curl_global_cleanup();
    xmlCleanupParser();
}

const char *dbsync_version(void)
{
    return PACKAGE_VERSION;
}

#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs a test program against a real server: tests/backend.sh pgsql|mysql PROGRAM
# The URL comes from DBSYNC_TEST_PGSQL_URL / DBSYNC_TEST_MYSQL_URL. Without
# it the test is skipped on a developer machine and fails in CI (CI=true).
backend=$1
shift
case "$backend" in
pgsql) url=${DBSYNC_TEST_PGSQL_URL:-} ;;
mysql) url=${DBSYNC_TEST_MYSQL_URL:-} ;;
*) echo "backend.sh: unknown backend $backend" >&2; exit 2 ;;
esac
if [ -z "$url" ]; then
    if [ "${CI:-}" = true ]; then
        echo "not ok 1 - no $backend server: DBSYNC_TEST_$(echo "$backend" | tr a-z A-Z)_URL is not set (CI must start one)"
        exit 1
    fi
    echo "skip 1 - no $backend server (set DBSYNC_TEST_$(echo "$backend" | tr a-z A-Z)_URL)"
    exit 77
fi
DBSYNC_TEST_URL=$url exec "$top_srcdir/tests/run-test.sh" "$@"

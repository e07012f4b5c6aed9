#!/bin/sh
# SPDX-License-Identifier: MIT
# The shared library exports dbsync_* names only (no dbsync__ internals, no
# helpers of its own without the prefix).
set -u
lib="$top_builddir/.libs/libdbsync.so"
if [ ! -f "$lib" ]; then
    echo "not ok 1 - $lib not built"
    exit 1
fi
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^dbsync_[a-z0-9]' | grep -v '^_' )
internal=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep '^dbsync__')
n=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | grep -c '^dbsync_[a-z0-9]')
fail=0
if [ -n "$bad$internal" ]; then
    echo "not ok 1 - exported symbols without the dbsync_ prefix or internal: $bad $internal"
    fail=1
else
    echo "ok 1 - only dbsync_* symbols exported"
fi
if [ "$n" -lt 40 ]; then
    echo "not ok 2 - only $n public functions exported, expected the whole API"
    fail=1
else
    echo "ok 2 - $n public functions exported"
fi
for f in dbsync_conn_open dbsync_row_insert dbsync_struct_insert dbsync_schema_load_file dbsync_oplog_foreach; do
    if nm -D --defined-only "$lib" | awk '{print $3}' | grep -qx "$f"; then :; else
        echo "not ok 3 - $f is not exported"
        fail=1
    fi
done
[ $fail = 0 ] && echo "ok 3 - the key entry points are exported"
exit $fail

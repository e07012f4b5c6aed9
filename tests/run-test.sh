#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one test; a test program under valgrind when VALGRIND=1 (any error
# or leak fails). Test scripts run as they are: they put the programs they
# start under valgrind themselves.
if [ "${VALGRIND:-0}" = 1 ] && [ "$(head -c 2 "$1" 2>/dev/null)" != "#!" ]; then
    exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        --suppressions="$top_srcdir/tests/valgrind.supp" "$@"
fi
exec "$@"

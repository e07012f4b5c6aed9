#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one test program; under valgrind when VALGRIND=1 (any error or leak fails).
if [ "${VALGRIND:-0}" = 1 ]; then
    exec valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        --suppressions="$top_srcdir/tests/valgrind.supp" "$@"
fi
exec "$@"

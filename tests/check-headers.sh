#!/bin/sh
# SPDX-License-Identifier: MIT
# Every public header compiles on its own, in C11 and C++, warning-free.
set -u
n=0
fail=0
cc=${CC:-cc}
for h in "$top_srcdir"/include/dbsync/*.h; do
    name=$(basename "$h")
    n=$((n + 1))
    if printf '#include <dbsync/%s>\nint dbsync_header_check_%d;\n' "$name" "$n" |
        $cc -std=c11 -Wall -Wextra -pedantic -Werror -I"$top_srcdir/include" -x c -c -o /dev/null - 2>/tmp/hdr.$$; then
        echo "ok $n - $name compiles alone"
    else
        echo "not ok $n - $name does not compile alone: $(head -3 /tmp/hdr.$$)"
        fail=1
    fi
    if command -v c++ >/dev/null 2>&1; then
        n=$((n + 1))
        if printf '#include <dbsync/%s>\n' "$name" | c++ -Wall -Wextra -Werror -I"$top_srcdir/include" -x c++ -c -o /dev/null - 2>/tmp/hdr.$$; then
            echo "ok $n - $name compiles in C++"
        else
            echo "not ok $n - $name does not compile in C++: $(head -3 /tmp/hdr.$$)"
            fail=1
        fi
    fi
done
rm -f /tmp/hdr.$$
exit $fail

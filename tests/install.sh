#!/bin/sh
# SPDX-License-Identifier: MIT
# make install into a staging folder, then build an application the way a
# user would: dbsync-codegen on a schema of its own, cc with the installed
# headers and `pkg-config dbsync`; run it, and check what it printed and
# the operations log the installed dbsync tool shows.
set -u
tmp="$top_builddir/tests/tmp/install-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
n=0
fail=0
check() { # description, then a command that must succeed
    n=$((n + 1))
    desc=$1
    shift
    if "$@" >"$tmp/out.$n" 2>&1; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        sed 's/^/# /' "$tmp/out.$n" | head -20
        fail=1
    fi
}
check "make install into a staging folder" make -C "$top_builddir" install DESTDIR="$tmp/root"
prefix=$(sed -n 's/^prefix=//p' "$top_builddir/dbsync.pc")
root="$tmp/root"
export PKG_CONFIG_SYSROOT_DIR="$root"
export PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig"
libdir="$root$prefix/lib"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
check "installed files are there" test -x "$root$prefix/bin/dbsync-codegen" -a -x "$root$prefix/bin/dbsync" \
    -a -f "$root$prefix/include/dbsync/dbsync.h" -a -f "$root$prefix/share/dbsync/dbsync-schema.rng"
check "pkg-config finds dbsync" pkg-config --exists dbsync
check "dbsync-codegen generates code for a new schema" \
    "$root$prefix/bin/dbsync-codegen" -o "$tmp" "$top_srcdir/tests/install/clinic.xml"
check "the application compiles with the strict flags against the installed files" \
    sh -c "${CC:-cc} -std=c11 -Wall -Wextra -pedantic -Werror -I'$tmp' \
        '$top_srcdir/tests/install/app.c' '$tmp/clinic.c' \$(pkg-config --cflags --libs dbsync) \
        -o '$tmp/app'"
check "the application runs" sh -c "'$tmp/app' 'sqlite3:$tmp/clinic.db' > '$tmp/app.out'"
check "it read back what it wrote" sh -c "printf 'visit 1 patient 1 fee 25.00\nfound Ada\n' | cmp - '$tmp/app.out'"
check "the installed dbsync tool shows the log of those writes" sh -c \
    "'$root$prefix/bin/dbsync' --db 'sqlite3:$tmp/clinic.db' --schema '$top_srcdir/tests/install/clinic.xml' log > '$tmp/log' &&
     printf '1\tpatient\t1\ti\t-\n2\tvisit\t1\ti\t-\n3\tvisit\t1\td\t-\n4\tpatient\t1\td\t-\n' | cmp - '$tmp/log'"
[ $fail = 0 ] && rm -rf "$tmp"
exit $fail

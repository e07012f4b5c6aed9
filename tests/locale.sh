#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the value and schema suites in a comma-decimal locale (de_DE.UTF-8),
# built here with localedef when the system does not have it, so numbers are
# shown to never depend on the application's locale.
set -u
dir="$top_builddir/tests/tmp/locale"
mkdir -p "$top_builddir/tests/tmp"
if ! locale -a 2>/dev/null | grep -qi '^de_DE.utf-\?8$'; then
    if ! command -v localedef >/dev/null 2>&1 || [ ! -d /usr/share/i18n/locales ]; then
        echo "skip 1 - localedef and the locale sources are needed"
        exit 77
    fi
    mkdir -p "$dir"
    [ -d "$dir/de_DE.UTF-8" ] || localedef -i de_DE -f UTF-8 "$dir/de_DE.UTF-8" >/dev/null 2>&1 || {
        echo "not ok 1 - localedef could not build de_DE.UTF-8"
        exit 1
    }
    LOCPATH=$dir
    export LOCPATH
fi
DBSYNC_TEST_LOCALE_REQUIRED=1
export DBSYNC_TEST_LOCALE_REQUIRED
fail=0
n=0
for t in test_value test_schema; do
    n=$((n + 1))
    if "$top_srcdir/tests/run-test.sh" "$top_builddir/tests/$t" >"$dir.$t.log" 2>&1; then
        echo "ok $n - $t in de_DE.UTF-8"
    else
        echo "not ok $n - $t in de_DE.UTF-8"
        sed 's/^/# /' "$dir.$t.log" | grep -v '^# \[ \(RUN\|      OK\)' | head -20
        fail=1
    fi
done
exit $fail

#!/bin/sh
# SPDX-License-Identifier: MIT
# Sets everything up on a Debian machine and runs the demo or the tests.
#   ./setup.sh demo   install the build dependencies, build, run the demo
#   ./setup.sh test   install the build dependencies, build, run every test
# Builds out of tree in ./build. Needs root (or sudo) only to install packages.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
what=${1:-}
case "$what" in
demo | test) ;;
*)
    echo "usage: $0 demo|test" >&2
    exit 2
    ;;
esac

packages="gcc make autoconf automake libtool pkg-config libdbi-dev libdbd-sqlite3
 libdbd-pgsql libdbd-mysql libxml2-dev libxml2-utils libjansson-dev libcurl4-openssl-dev
 libmicrohttpd-dev libcmocka-dev libssl-dev libsqlite3-dev sqlite3 valgrind openssl"
# The test suite also runs on real PostgreSQL and MariaDB servers.
[ "$what" = test ] && packages="$packages postgresql mariadb-server locales"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    mkdir -p m4
    autoreconf -fi
fi
mkdir -p build
cd build
[ -f Makefile ] && [ Makefile -nt ../configure ] || ../configure --quiet
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" --no-print-directory

case "$what" in
demo)
    exec "$top/samples/demo.sh" "$top/build"
    ;;
test)
    # Throwaway database servers on loopback for the backend suites.
    # (under /tmp: the postgres user must reach it whoever owns the clone)
    servers=$(mktemp -d /tmp/dbsync-servers.XXXXXX)
    chmod 755 "$servers"
    trap '"$top/tests/dbservers.sh" stop "$servers"' EXIT
    eval "$("$top/tests/dbservers.sh" start "$servers")"
    rc=0
    make -j"$jobs" --no-print-directory check || rc=$?
    "$top/.ci/count-tests.sh" "$top/build"
    exit $rc
    ;;
esac

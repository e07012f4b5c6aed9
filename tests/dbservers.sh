#!/bin/sh
# SPDX-License-Identifier: MIT
# Throwaway PostgreSQL and MariaDB servers on loopback, data in a folder.
#   tests/dbservers.sh start DIR   starts both, prints the URLs as shell exports
#   tests/dbservers.sh stop DIR    stops both and removes DIR
# PostgreSQL refuses to run as root: it runs as the postgres user.
set -eu
cmd=$1
dir=$2
pgport=${DBSYNC_PG_PORT:-55432}
myport=${DBSYNC_MY_PORT:-33306}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

as_pg() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # PostgreSQL
    mkdir -p "$dir/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/pg" && chmod 755 "$dir"
    as_pg "'$pgbin/initdb' -D '$dir/pg/data' -A trust -U postgres >'$dir/pg/initdb.log' 2>&1"
    as_pg "'$pgbin/pg_ctl' -D '$dir/pg/data' -l '$dir/pg/log' -w -t 60 -o \"-k '$dir/pg' -c listen_addresses=127.0.0.1 -p $pgport -c fsync=off\" start >/dev/null"
    psql -q -h 127.0.0.1 -p "$pgport" -U postgres -c 'CREATE DATABASE dbsync_test' >/dev/null
    # MariaDB
    mkdir -p "$dir/my"
    mariadb-install-db --user="$(id -un)" --datadir="$dir/my/data" --auth-root-authentication-method=normal >"$dir/my/install.log" 2>&1
    mariadbd --user="$(id -un)" --datadir="$dir/my/data" --socket="$dir/my/sock" --port="$myport" \
        --bind-address=127.0.0.1 --pid-file="$dir/my/pid" --skip-log-bin >"$dir/my/log" 2>&1 &
    i=0
    until mariadb -S "$dir/my/sock" -u root -e 'SELECT 1' >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 120 ]; then
            echo "dbservers: MariaDB did not start; see $dir/my/log" >&2
            exit 1
        fi
        sleep 0.5
    done
    mariadb -S "$dir/my/sock" -u root -e "CREATE DATABASE dbsync_test; CREATE USER 'dbsync'@'127.0.0.1' IDENTIFIED BY 'dbsync'; GRANT ALL ON *.* TO 'dbsync'@'127.0.0.1';"
    echo "export DBSYNC_TEST_PGSQL_URL='pgsql://postgres@127.0.0.1:$pgport/dbsync_test'"
    echo "export DBSYNC_TEST_MYSQL_URL='mysql://dbsync:dbsync@127.0.0.1:$myport/dbsync_test'"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    if [ -f "$dir/pg/data/postmaster.pid" ]; then
        as_pg "'$pgbin/pg_ctl' -D '$dir/pg/data' -m fast -w stop >/dev/null 2>&1" || true
    fi
    if [ -f "$dir/my/pid" ]; then
        kill "$(cat "$dir/my/pid")" 2>/dev/null || true
        i=0
        while [ -f "$dir/my/pid" ] && [ $i -lt 60 ]; do
            sleep 0.5
            i=$((i + 1))
        done
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo: a dbsync server (dbsyncd on an embedded SQLite file, loopback,
# a free port) and three offline tills, each with its own SQLite file. The
# first till is written by a C program on code generated from
# samples/shop.xml, the others with the dbsync tool. The tills make
# conflicting changes offline, sync in turn, and the demo shows how each
# conflict was resolved and that every database ends up the same.
#   samples/demo.sh BUILD_DIR
# Everything it creates lives in one temporary folder, removed on exit,
# and the server is stopped on exit, whatever happens.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tool="$build/tools/dbsync"
daemon="$build/tools/dbsyncd"
schema="$src/samples/shop.xml"
for prog in "$tool" "$daemon" "$build/codegen/dbsync-codegen" "$build/samples/shop_app"; do
    if [ ! -x "$prog" ]; then
        echo "demo: $prog is not built (run ./setup.sh demo)" >&2
        exit 1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/dbsync-demo.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

TILLS="till-1 till-2 till-3"

# ds NODE ARGS...: the tool on NODE's database, quietly.
ds() {
    node=$1
    shift
    "$tool" --db "sqlite3:$work/$node.db" --schema "$schema" "$@"
}

# say NODE ARGS...: shows the command line, quoting the arguments that need it.
say() {
    printf '  [%s]$ dbsync' "$1"
    shift
    for arg in "$@"; do
        case $arg in
        *[!A-Za-z0-9@._:/=+-]*) printf " '%s'" "$arg" ;;
        *) printf ' %s' "$arg" ;;
        esac
    done
    echo
}

# run NODE ARGS...: shows the command, then runs it (its output indented).
run() {
    say "$@"
    node=$1
    shift
    ds "$node" "$@" | sed 's/^/      /'
}

# new NODE TABLE col=value...: shows and runs an insert; sets ID to the new key.
new() {
    node=$1
    shift
    say "$node" insert "$@"
    ID=$(ds "$node" insert "$@")
    printf '      %s\n' "$ID"
}

# show NODE TABLE: the table as the tool lists it.
show() {
    printf '  %s, table %s:\n' "$1" "$2"
    ds "$1" list "$2" | sed 's/^/      /'
}

# key NODE EMAIL: the id of the customer with that email.
key() {
    ds "$1" list customer "email=$2" | sed -n '2s/\t.*//p'
}

echo "This demo runs one dbsync server and three tills, each with its own SQLite"
echo "database. \"[till-2]\$ dbsync ARGS\" stands for"
echo "  dbsync --db sqlite3:till-2.db --schema samples/shop.xml ARGS"
echo

echo "== 1. The server: dbsyncd on an SQLite file, on a free port of loopback"
echo "  \$ dbsyncd --db sqlite3:server.db --schema samples/shop.xml --listen 127.0.0.1:0"
: >"$work/dbsyncd.out"
"$daemon" --db "sqlite3:$work/server.db" --schema "$schema" --listen 127.0.0.1:0 --quiet \
    >"$work/dbsyncd.out" 2>"$work/dbsyncd.err" </dev/null &
server_pid=$!
port=
i=0
while [ -z "$port" ]; do
    port=$(sed -n '1s/^dbsyncd: listening on .*:\([0-9][0-9]*\)$/\1/p' "$work/dbsyncd.out")
    i=$((i + 1))
    if [ -z "$port" ] && { [ $i -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; }; then
        echo "demo: dbsyncd did not start:" >&2
        cat "$work/dbsyncd.err" >&2
        exit 1
    fi
    [ -n "$port" ] || sleep 0.1
done
url="http://127.0.0.1:$port"
sed 's/^/      /' "$work/dbsyncd.out"
echo

echo "== 2. till-1 is written by a C program using accessors generated from shop.xml"
"$build/codegen/dbsync-codegen" -o "$work" "$schema"
echo "  \$ dbsync-codegen samples/shop.xml   (writes shop.h and shop.c; a few of its functions:)"
grep -E '^int shop_customer_(insert|update|delete|find_by_email)\(' "$work/shop.h" |
    sed 's/^/      /'
echo "  \$ shop_app till-1.db"
"$build/samples/shop_app" "$work/till-1.db" | sed 's/^/      /'
echo "  The tool writes a few more customers on till-1, tracked the same way:"
for who in carol dave erin; do
    new till-1 customer "email=$who@example.com"
done
echo

echo "== 3. Every till registers with the server and syncs once"
for till in $TILLS; do
    [ "$till" = till-1 ] || ds "$till" init
    run "$till" register "$url"
    run "$till" sync "$url"
done
echo

BORGE=$(key till-1 "børge@example.com")
CAROL=$(key till-1 carol@example.com)
DAVE=$(key till-1 dave@example.com)
ERIN=$(key till-1 erin@example.com)

echo "== 4. The network is down: the tills work offline and make conflicting changes"
echo "  a) carol's credit is changed on till-1 and on till-2:"
run till-1 update customer "$CAROL" credit=10.00
run till-2 update customer "$CAROL" credit=20.00
echo "  b) till-1 deletes dave while till-3 makes him a VIP:"
run till-1 delete customer "$DAVE"
run till-3 update customer "$DAVE" vip=true
echo "  c) till-2 and till-3 each add a customer with a purchase; both pick the same new key:"
new till-2 customer email=frank@example.com
FRANK=$ID
run till-2 insert purchase "customer_id=$FRANK" total=12.5 "at=2026-11-27 10:00:00"
new till-3 customer email=gina@example.com
GINA_OFFLINE=$ID
run till-3 insert purchase "customer_id=$GINA_OFFLINE" total=7.25 "at=2026-11-27 10:05:00"
echo "  d) on till-1, børge and erin exchange their (unique) emails, through a spare value:"
run till-1 update customer "$BORGE" email=swap@example.com
run till-1 update customer "$ERIN" "email=børge@example.com"
run till-1 update customer "$BORGE" email=erin@example.com
echo

echo "== 5. The network is back: the tills sync in turn (then till-1 and till-2 once more,"
echo "   to receive what the later ones sent)"
for till in $TILLS till-1 till-2; do
    run "$till" sync "$url"
done
echo

GINA=$(key server gina@example.com)
echo "== 6. How each conflict was resolved (the server's database, read directly)"
show server customer
show server purchase
ds server get customer "$CAROL" | grep -q '^credit=20.00$' && carol=20.00 || carol="(unexpected)"
echo "  a) carol's credit is $carol: at each merge the node's own change wins, so the"
echo "     till that synced last (till-2) set the final value."
echo "  b) dave is still there, a VIP: till-3 still changed him, so when it merged"
echo "     till-1's delete it turned its update into an insert and pushed him back."
echo "  c) frank kept key $FRANK; gina, who had taken key $GINA_OFFLINE offline too, was given"
echo "     key $GINA when till-3 merged, and her purchase followed her (customer_id $GINA)."
echo "  d) børge and erin have exchanged emails everywhere: the server and each merge"
echo "     saw a swap of unique values and applied it whole, never one email twice."
echo

echo "== 7. When the application must decide: a real unique conflict"
new till-2 customer email=hal@example.com credit=5.00
new till-3 customer email=hal@example.com credit=7.00
HAROLD=$ID
run till-2 sync "$url"
say till-3 sync "$url"
status=0
ds till-3 sync "$url" >"$work/out" 2>&1 || status=$?
sed 's/^/      /' "$work/out"
echo "  exit status $status: both tills gave a new customer the same email. till-3's"
echo "  database is unchanged; it fixes the value and syncs again:"
run till-3 update customer "$HAROLD" email=harold@example.com
run till-3 sync "$url"
for till in till-1 till-2; do
    run "$till" sync "$url"
done
echo

echo "== 8. Every database, as the tool lists it"
for db in $TILLS; do
    show "$db" customer
done
echo "  (purchase tables: compared below)"
for till in $TILLS; do
    ds "$till" status | tr '\n' ' ' | sed "s/^/  $till: /; s/ \$//"
    echo
done
count=1
for db in $TILLS; do
    for table in customer purchase; do # draft is local-only, not synced
        ds server list "$table" >"$work/server.$table"
        ds "$db" list "$table" >"$work/$db.$table"
        if ! cmp -s "$work/server.$table" "$work/$db.$table"; then
            echo "demo: $db: table $table differs from the server's:" >&2
            diff "$work/server.$table" "$work/$db.$table" >&2 || true
            exit 1
        fi
    done
    count=$((count + 1))
done
echo
echo "all $count databases are identical"
echo "  (the server's and the $((count - 1)) tills', compared table by table with dbsync list)"

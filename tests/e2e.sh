#!/bin/sh
# SPDX-License-Identifier: MIT
# End-to-end tests of synchronization: a real dbsyncd on 127.0.0.1 (port 0)
# in front of an SQLite server database, three client nodes (SQLite files),
# and nothing but the dbsync tool between them, over real HTTP. Covers
# register (and a registration token), offline inserts, every conflict rule
# of the merge (update/update, update/delete both ways, delete/delete,
# dependency, reversed dependency, colliding inserts, a unique swap, a real
# unique conflict), a stale push, an unreachable server, repair, the
# progress display, and ends with every database equal to the server's.
# "Equal" is the output of `dbsync list TABLE` for every synced table,
# run directly on the server's database file.
# Prints "ok N - ..." / "not ok N - ..." per case; exits 1 if any failed (and
# then keeps its folder, tests/tmp/e2e-PID, for a look).
# VALGRIND=1 runs every dbsync command under valgrind (errors and leaks fail).
# shellcheck disable=SC2086,SC2317 # $NODES and $RUN split on purpose; cleanup runs from a trap

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
DBSYNC="$top_builddir/tools/dbsync"
DBSYNCD="$top_builddir/tools/dbsyncd"
T="$top_builddir/tests/tmp/e2e-$$"
RUN=
if [ "${VALGRIND:-0}" = 1 ]; then
    RUN="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99
        --suppressions=$top_srcdir/tests/valgrind.supp"
fi
# Tenths of a second to wait for a daemon to listen, and to stop.
START_WAIT=150
STOP_WAIT=150

for prog in "$DBSYNC" "$DBSYNCD"; do
    if [ ! -x "$prog" ]; then
        echo "not ok 1 - $prog is not built"
        exit 1
    fi
done
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "not ok 1 - the sqlite3 command-line shell is needed (apt-get install sqlite3)"
    exit 1
fi

rm -rf "$T"
mkdir -p "$T" || exit 1

# Every daemon started is killed at exit, whatever happens.
PIDS=
cleanup() {
    for p in $PIDS; do
        kill -KILL "$p" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'cleanup; exit 1' HUP INT TERM

SCHEMA="$T/e2e.xml"
cat >"$SCHEMA" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<schema name="e2e" version="1">
  <table name="customer">
    <column name="id" type="integer" primary-key="true"/>
    <column name="email" type="text" length="100" nullable="false"/>
    <column name="name" type="text"/>
    <column name="credit" type="decimal" precision="10" scale="2" default="0"/>
    <unique columns="email"/>
  </table>
  <table name="purchase">
    <column name="id" type="integer" primary-key="true"/>
    <column name="customer_id" type="integer" references="customer" on-delete="cascade"/>
    <column name="total" type="real"/>
    <column name="note" type="text"/>
  </table>
  <table name="memo" sync="false">
    <column name="id" type="integer" primary-key="true"/>
    <column name="body" type="text"/>
  </table>
</schema>
EOF
SYNCED_TABLES="customer purchase"
NODES="a b c"

n=0
failed=0

pass() {
    n=$((n + 1))
    printf 'ok %d - %s\n' "$n" "$1"
}

# not_ok DESC WHY: a failed case, with what the last command printed.
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    printf 'not ok %d - %s\n#   %s\n' "$n" "$1" "$2"
    sed -n '1,20s/^/#   stdout: /p' "$T/out" 2>/dev/null
    sed -n '1,20s/^/#   stderr: /p' "$T/err" 2>/dev/null
}

# report DESC WHY: passes when WHY is empty.
report() {
    if [ -z "$2" ]; then pass "$1"; else not_ok "$1" "$2"; fi
}

# ---- the daemon ----

# start_server NAME DBFILE ARGS...: starts dbsyncd in the background on
# 127.0.0.1 port 0 and waits (bounded) for its listening line; sets PID and
# URL. Returns 1 if it did not start.
start_server() {
    name=$1 db=$2
    shift 2
    : >"$T/$name.out" # exists before the daemon's shell opens it, for the sed below
    "$DBSYNCD" --db "sqlite3:$db" --schema "$SCHEMA" --listen 127.0.0.1:0 --quiet "$@" \
        >"$T/$name.out" 2>"$T/$name.err" </dev/null &
    PID=$!
    PIDS="$PIDS $PID"
    URL=
    i=0
    while [ $i -lt $START_WAIT ]; do
        port=$(sed -n '1s/^dbsyncd: listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/$name.out")
        if [ -n "$port" ]; then
            URL="http://127.0.0.1:$port"
            return 0
        fi
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# stop_server PID: SIGTERM, then a bounded wait (SIGKILL after it).
stop_server() {
    kill -TERM "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt $STOP_WAIT ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# ---- the tool ----

# ds NODE ARGS...: runs the tool on NODE's database ($T/NODE.db; "server" is
# the server's); sets rc, output in $T/out and $T/err.
ds() {
    node=$1
    shift
    # shellcheck disable=SC2086
    $RUN "$DBSYNC" --db "sqlite3:$T/$node.db" --schema "$SCHEMA" "$@" \
        >"$T/out" 2>"$T/err" </dev/null
    rc=$?
}

dump() {
    sqlite3 "$T/$1.db" .dump 2>&1
}

# step NODE ARGS...: a step of a scenario, which must succeed quietly on
# stderr; a failure is reported as a failed case. Returns 1 then.
step() {
    ds "$@"
    if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
        not_ok "step: $*" "exit $rc"
        return 1
    fi
    return 0
}

# new NODE TABLE col=value...: inserts a row; sets ID to its key.
new() {
    node=$1
    shift
    ID=
    step "$node" insert "$@" && ID=$(cat "$T/out")
}

# succeeds DESC REGEX NODE ARGS...: exit 0, nothing on stderr, and exactly
# one line on stdout, which matches the extended REGEX whole.
succeeds() {
    desc=$1 re=$2
    shift 2
    ds "$@"
    why=
    if [ "$rc" -ne 0 ]; then
        why="exit $rc, expected 0"
    elif [ -s "$T/err" ]; then
        why="stderr is not empty"
    elif [ "$(wc -l <"$T/out")" -ne 1 ] || ! grep -Eq "^($re)\$" "$T/out"; then
        why="stdout is not one line matching: $re"
    fi
    report "$desc" "$why"
}

# fails DESC CODE SUBSTRING NODE ARGS...: exit CODE, nothing on stdout, one
# line "dbsync: ...SUBSTRING..." on stderr, and NODE's database unchanged.
fails() {
    desc=$1 code=$2 sub=$3
    shift 3
    dump "$1" >"$T/before"
    ds "$@"
    dump "$1" >"$T/after"
    why=
    if [ "$rc" -ne "$code" ]; then
        why="exit $rc, expected $code"
    elif [ -s "$T/out" ]; then
        why="stdout is not empty"
    elif [ "$(wc -l <"$T/err")" -ne 1 ]; then
        why="stderr is not exactly one line"
    elif ! grep -q '^dbsync: ' "$T/err"; then
        why="the message does not start with \"dbsync: \""
    elif ! grep -qF -- "$sub" "$T/err"; then
        why="the message does not contain: $sub"
    elif ! cmp -s "$T/before" "$T/after"; then
        why="the database changed"
    fi
    report "$desc" "$why"
}

# sync_all DESC: every node syncs in turn, then the first ones again so that
# each has what the later ones pushed.
sync_all() {
    why=
    for node in $NODES a b; do
        ds "$node" sync "$URL"
        if [ "$rc" -ne 0 ] || [ -s "$T/err" ]; then
            why="sync on $node: exit $rc"
            break
        fi
    done
    report "$1: every node syncs" "$why"
}

# converged DESC NODE...: every synced table lists the same on each NODE as
# on the server's database.
converged() {
    desc=$1
    shift
    why=
    for table in $SYNCED_TABLES; do
        ds server list "$table"
        cp "$T/out" "$T/server.$table"
        if [ "$rc" -ne 0 ]; then
            why="list $table on the server: exit $rc"
            break
        fi
        for node in "$@"; do
            ds "$node" list "$table"
            if [ "$rc" -ne 0 ]; then
                why="list $table on $node: exit $rc"
            elif ! cmp -s "$T/out" "$T/server.$table"; then
                why="$node: table $table differs from the server's"
                diff "$T/server.$table" "$T/out" | sed 's/^/#   /'
            fi
        done
        [ -n "$why" ] && break
    done
    report "$desc" "$why"
}

# id_of NODE EMAIL: prints the key of the customer with that email (empty if none).
id_of() {
    ds "$1" list customer "email=$2"
    sed -n '2s/\t.*//p' "$T/out"
}

# value_is DESC NODE TABLE ID COLUMN VALUE: `get` shows COLUMN=VALUE.
value_is() {
    desc=$1
    ds "$2" get "$3" "$4"
    got=$(sed -n "s/^$5=//p" "$T/out")
    if [ "$rc" -ne 0 ]; then
        report "$desc" "get $3 $4 on $2: exit $rc"
    elif [ "$got" != "$6" ]; then
        report "$desc" "$5 is \"$got\", expected \"$6\""
    else
        pass "$desc"
    fi
}

# count_is DESC NODE N TABLE [col=value...]: `list` shows N rows.
count_is() {
    desc=$1 node=$2 want=$3
    shift 3
    ds "$node" list "$@"
    got=$(($(wc -l <"$T/out") - 1))
    if [ "$rc" -ne 0 ]; then
        report "$desc" "list $* on $node: exit $rc"
    elif [ "$got" -ne "$want" ]; then
        report "$desc" "$got rows, expected $want"
    else
        pass "$desc"
    fi
}

SYNCED='synced: version [0-9]+'

# ---- the server ----

if start_server server "$T/server.db"; then
    pass "dbsyncd starts on 127.0.0.1, port 0, and prints its port"
else
    not_ok "dbsyncd starts on 127.0.0.1, port 0, and prints its port" "$(cat "$T/server.err")"
    exit 1
fi
SERVER_PID=$PID

for node in $NODES; do
    step "$node" init
done

# ---- arguments, checked before anything is touched ----

fails "push before register: exit 1, register first" 1 "register first" a push "$URL"
fails "a server URL that is not http(s)" 1 'bad server URL' a sync ftp://127.0.0.1/
fails "--timeout must be a number of seconds" 2 '--timeout' a --timeout soon sync "$URL"
fails "--timeout 0 is refused" 2 '--timeout' a --timeout 0 sync "$URL"
fails "--page-size 0 is refused" 2 '--page-size' a --page-size 0 pull "$URL"
fails "--token applies to register only" 2 'register only' a --token x push "$URL"
fails "--timeout does not apply to local commands" 2 'sync commands only' a --timeout 5 \
    list customer
fails "sync needs a SERVER" 2 'missing arguments' a sync
fails "sync takes one SERVER" 2 'too many arguments' a sync "$URL" "$URL"

# ---- register ----

for node in $NODES; do
    succeeds "$node registers" 'registered as node [0-9]+' "$node" register "$URL"
done
ids=$(for node in $NODES; do
    ds "$node" status
    sed -n 's/^node: //p' "$T/out"
done | sort -u | wc -l)
report "the three nodes have three different ids" "$([ "$ids" -eq 3 ] || echo "$ids ids")"
fails "registering twice is refused" 1 "already registered" a register "$URL"

MAIN_URL=$URL
if start_server tok "$T/tok-server.db" --registration-token s3cret; then
    TOK_URL=$URL
    TOK_PID=$PID
    step t init
    fails "register without the server's token: refused" 1 "registration token required" \
        t register "$TOK_URL"
    fails "register with a wrong token: refused" 1 "wrong registration token" \
        t --token nope register "$TOK_URL"
    succeeds "register with the right token" 'registered as node 1' \
        t --token s3cret register "$TOK_URL"
    stop_server "$TOK_PID"
else
    not_ok "dbsyncd starts with --registration-token" "$(cat "$T/tok.err")"
fi
URL=$MAIN_URL

# ---- offline inserts on two nodes ----

new a customer email=ann@x name=Ann
ANN=$ID
new a customer email=bob@x name=Bob
new a purchase "customer_id=$ANN" total=10 note=ann
new a memo body=local-only
new b customer email=cid@x name=Cid
CID_B=$ID
new b customer email=dan@x name=Dan
new b purchase "customer_id=$CID_B" total=20 note=cid
sync_all "offline inserts on a and b"
converged "after offline inserts every node equals the server" $NODES
count_is "the server has the four customers" server 4 customer
CID=$(id_of server cid@x)
count_is "cid's purchase points at cid on the server (re-keyed with it)" server 1 purchase \
    "customer_id=$CID" note=cid
count_is "a local-only table is not synced" server 0 memo
count_is "a keeps its local-only row" a 1 memo

# customers for the scenarios below, made on c
for who in eve fay gus jo ko; do
    new c customer "email=$who@x" "name=$who"
done
sync_all "setup from c"
BOB=$(id_of a bob@x)
DAN=$(id_of a dan@x)
EVE=$(id_of a eve@x)
FAY=$(id_of a fay@x)
GUS=$(id_of a gus@x)
JO=$(id_of a jo@x)
KO=$(id_of a ko@x)

# ---- update/update: the node that syncs last wins ----

step a update customer "$ANN" credit=10
step b update customer "$ANN" credit=20
succeeds "update/update: a syncs" "$SYNCED" a sync "$URL"
succeeds "update/update: b syncs" "$SYNCED" b sync "$URL"
value_is "update/update: b, the last to sync, wins on the server" server customer "$ANN" \
    credit 20.00
sync_all "update/update"
value_is "update/update: a gets b's value" a customer "$ANN" credit 20.00
converged "update/update: every node equals the server" $NODES

# ---- server update vs local delete: the row comes back ----

step a update customer "$BOB" name=Robert
step b delete customer "$BOB"
succeeds "update vs delete: a syncs its update" "$SYNCED" a sync "$URL"
succeeds "update vs delete: b syncs its delete" "$SYNCED" b sync "$URL"
value_is "update vs delete: the row is back on b, with a's change" b customer "$BOB" name Robert
sync_all "update vs delete"
value_is "update vs delete: the server keeps the row" server customer "$BOB" name Robert
converged "update vs delete: every node equals the server" $NODES

# ---- server delete vs local update: the row is re-created ----

step a delete customer "$DAN"
step b update customer "$DAN" credit=5
succeeds "delete vs update: a syncs its delete" "$SYNCED" a sync "$URL"
succeeds "delete vs update: b syncs its update" "$SYNCED" b sync "$URL"
sync_all "delete vs update"
value_is "delete vs update: the server has the row again, with b's change" server customer \
    "$DAN" credit 5.00
value_is "delete vs update: a has it again" a customer "$DAN" credit 5.00
converged "delete vs update: every node equals the server" $NODES

# ---- delete/delete ----

step a delete customer "$EVE"
step b delete customer "$EVE"
succeeds "delete/delete: a syncs" "$SYNCED" a sync "$URL"
succeeds "delete/delete: b syncs" "$SYNCED" b sync "$URL"
sync_all "delete/delete"
count_is "delete/delete: the row is gone on the server" server 0 customer email=eve@x
ds b status
report "delete/delete: b has nothing left to push" \
    "$(grep -qx 'unpushed: 0' "$T/out" || echo "b: $(tr '\n' ' ' <"$T/out")")"
converged "delete/delete: every node equals the server" $NODES

# ---- dependency: a child made on b keeps the parent a deleted ----

new b purchase "customer_id=$FAY" total=7 note=fay
step a delete customer "$FAY"
succeeds "dependency: a syncs the parent's delete" "$SYNCED" a sync "$URL"
succeeds "dependency: b syncs the new child" "$SYNCED" b sync "$URL"
sync_all "dependency"
count_is "dependency: the parent is kept on the server" server 1 customer email=fay@x
count_is "dependency: the child is on the server" server 1 purchase "customer_id=$FAY" note=fay
converged "dependency: every node equals the server" $NODES

# ---- reversed dependency: a deleted parent comes back for the server's child ----

new a purchase "customer_id=$GUS" total=8 note=gus
step b delete customer "$GUS"
succeeds "reversed dependency: a syncs the new child" "$SYNCED" a sync "$URL"
succeeds "reversed dependency: b syncs the parent's delete" "$SYNCED" b sync "$URL"
count_is "reversed dependency: b has the parent back" b 1 customer email=gus@x
sync_all "reversed dependency"
count_is "reversed dependency: the parent is kept on the server" server 1 customer email=gus@x
count_is "reversed dependency: the child is on the server" server 1 purchase \
    "customer_id=$GUS" note=gus
converged "reversed dependency: every node equals the server" $NODES

# ---- colliding inserts: one row is re-keyed, and its child follows it ----

new a customer email=hal@x name=Hal
HAL=$ID
new a purchase "customer_id=$HAL" total=9 note=hal
new b customer email=ida@x name=Ida
IDA_B=$ID
new b purchase "customer_id=$IDA_B" total=9.5 note=ida
report "colliding inserts: a and b chose the same new key" \
    "$([ -n "$HAL" ] && [ "$HAL" = "$IDA_B" ] || echo "a: $HAL, b: $IDA_B")"
succeeds "colliding inserts: a syncs" "$SYNCED" a sync "$URL"
succeeds "colliding inserts: b syncs" "$SYNCED" b sync "$URL"
IDA=$(id_of b ida@x)
report "colliding inserts: b's row has a new key" \
    "$([ -n "$IDA" ] && [ "$IDA" != "$IDA_B" ] || echo "ida@x is $IDA on b")"
count_is "colliding inserts: b's child follows its parent on b" b 1 purchase \
    "customer_id=$IDA" note=ida
sync_all "colliding inserts"
value_is "colliding inserts: a's row keeps its key on the server" server customer "$HAL" \
    email hal@x
value_is "colliding inserts: b's row is on the server under its new key" server customer \
    "$IDA" email ida@x
count_is "colliding inserts: b's child follows it on the server" server 1 purchase \
    "customer_id=$IDA" note=ida
converged "colliding inserts: every node equals the server" $NODES

# ---- a unique swap: two emails exchanged ----

step a update customer "$JO" email=tmp@x
step a update customer "$KO" email=jo@x
step a update customer "$JO" email=ko@x
step b update customer "$FAY" credit=1
succeeds "unique swap: a syncs the exchange" "$SYNCED" a sync "$URL"
succeeds "unique swap: b syncs (and merges the exchange)" "$SYNCED" b sync "$URL"
sync_all "unique swap"
value_is "unique swap: the server has the exchanged emails (1)" server customer "$JO" email ko@x
value_is "unique swap: the server has the exchanged emails (2)" server customer "$KO" email jo@x
value_is "unique swap: c has them too" c customer "$JO" email ko@x
converged "unique swap: every node equals the server" $NODES

# ---- a real unique conflict: the application must resolve it ----

new a customer email=lee@x name=LeeA
new b customer email=lee@x name=LeeB
LEE_B=$ID
succeeds "unique conflict: a syncs first" "$SYNCED" a sync "$URL"
fails "unique conflict: b's sync stops with exit 5, b's database unchanged" 5 "email" \
    b sync "$URL"
step b update customer "$LEE_B" email=lee2@x
succeeds "unique conflict: after b fixes the value, b syncs" "$SYNCED" b sync "$URL"
sync_all "unique conflict"
count_is "unique conflict: the server has a's row" server 1 customer email=lee@x name=LeeA
count_is "unique conflict: the server has b's fixed row" server 1 customer email=lee2@x name=LeeB
converged "unique conflict: every node equals the server" $NODES

# ---- a stale push ----

new a customer email=max@x
succeeds "stale push: a syncs" "$SYNCED" a sync "$URL"
new b customer email=ned@x
fails "stale push: b's push is refused with exit 4, pull first" 4 "pull first" b push "$URL"
succeeds "stale push: b pulls" 'pulled to version [0-9]+' b pull "$URL"
succeeds "stale push: then b's push goes through" 'pushed [0-9]+ operations?: version [0-9]+' \
    b push "$URL"
succeeds "stale push: a second push has nothing to push" 'nothing to push' b push "$URL"
sync_all "stale push"
converged "stale push: every node equals the server" $NODES

# ---- the server unreachable: exit 3, retry later ----

new b customer email=oz@x
kill -STOP "$SERVER_PID"
fails "a server that does not answer: --timeout 1 gives exit 3" 3 "cannot reach" \
    b --timeout 1 sync "$URL"
kill -CONT "$SERVER_PID"
stop_server "$SERVER_PID"
fails "the server down: exit 3" 3 "cannot reach" b sync "$URL"
if start_server server2 "$T/server.db"; then
    pass "dbsyncd starts again on the same database"
else
    not_ok "dbsyncd starts again on the same database" "$(cat "$T/server2.err")"
fi
SERVER_PID=$PID
succeeds "the server back: b syncs" "$SYNCED" b sync "$URL"
count_is "the server has b's row once" server 1 customer email=oz@x
sync_all "server back"
converged "after the outage every node equals the server" $NODES

# ---- repair ----

sqlite3 "$T/c.db" "UPDATE customer SET credit = 999 WHERE email = 'ann@x';
    INSERT INTO customer (email, name) VALUES ('rogue@x', 'written around dbsync');
    DELETE FROM purchase WHERE note = 'hal';"
new c customer email=lost@x
count_is "repair: c differs from the server first" c 1 customer email=rogue@x
succeeds "repair: c repairs, a page of 2 rows at a time" 'repaired: version [0-9]+' \
    c --page-size 2 repair "$URL"
converged "repair: c equals the server again" c
count_is "repair: c's unpushed insert is discarded" c 0 customer email=lost@x
ds c status
report "repair: c's log is reset" \
    "$(grep -qx 'operations: 0' "$T/out" || echo "c: $(tr '\n' ' ' <"$T/out")")"
succeeds "repair: c syncs afterwards" "$SYNCED" c sync "$URL"

# ---- the progress display: on a terminal only ----

if command -v script >/dev/null 2>&1; then
    new a customer email=pat@x
    script -qec "'$DBSYNC' --db 'sqlite3:$T/a.db' --schema '$SCHEMA' --page-size 1 sync '$URL'" \
        /dev/null >"$T/tty" 2>&1 </dev/null
    CR=$(printf '\r')
    why=
    if ! grep -q "${CR}dbsync: pushing" "$T/tty"; then
        why="no progress line on the terminal"
    elif ! grep -q "synced: version" "$T/tty"; then
        why="no result line"
    fi
    report "on a terminal, sync shows its progress on one line" "$why"
else
    pass "on a terminal, sync shows its progress on one line # SKIP no script command"
fi

# ---- the end: every database equals the server's ----

sync_all "final"
converged "every node's database equals the server's" $NODES
ds server status
want=$(sed -n 's/^version: //p' "$T/out")
why=
for node in $NODES; do
    ds "$node" status
    got=$(sed -n 's/^version: //p' "$T/out")
    if [ "$got" != "$want" ]; then
        why="$node is at version $got, the server at $want"
    elif ! grep -qx 'unpushed: 0' "$T/out"; then
        why="$node has unpushed operations"
    fi
done
report "every node is at the server's version with nothing unpushed" "$why"

stop_server "$SERVER_PID"

echo "# $n cases, $((n - failed)) passed, $failed failed"
if [ "$failed" -eq 0 ]; then
    rm -rf "$T"
    exit 0
fi
exit 1

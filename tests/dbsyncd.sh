#!/bin/sh
# SPDX-License-Identifier: MIT
# End-to-end tests of dbsyncd, the HTTP daemon, on an SQLite file: argument
# errors, start-up failures, the listening line, /health, requests passed on
# to the handlers (404, registration token), the body limit (413), parallel
# requests, the request log, and a clean stop on SIGTERM and SIGINT.
# Talks to real daemons on 127.0.0.1 (port 0: each picks a free port) with
# the curl command. Prints "ok N - ..." / "not ok N - ..." per case; exits 1
# if any failed (and then keeps its folder, tests/tmp/dbsyncd-PID).
# VALGRIND=1 runs every daemon under valgrind; a daemon must then also exit
# 0 after SIGTERM/SIGINT, i.e. without memory errors or leaks.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
DBSYNCD="$top_builddir/tools/dbsyncd"
SCHEMA="$top_srcdir/samples/shop.xml"
T="$top_builddir/tests/tmp/dbsyncd-$$"
RUN=
# Tenths of a second to wait for a daemon to listen, and to stop; seconds a
# command that should fail at once may run.
START_WAIT=200
STOP_WAIT=100
LIMIT=10
if [ "${VALGRIND:-0}" = 1 ]; then
    RUN="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99
        --suppressions=$top_srcdir/tests/valgrind.supp"
    START_WAIT=600
    STOP_WAIT=600
    LIMIT=60
fi

BOUND=
if command -v timeout >/dev/null 2>&1; then
    BOUND="timeout -k 5 $LIMIT"
fi

if [ ! -x "$DBSYNCD" ]; then
    echo "not ok 1 - $DBSYNCD is not built"
    exit 1
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "not ok 1 - the curl command is needed (apt-get install curl)"
    exit 1
fi

rm -rf "$T"
mkdir -p "$T" || exit 1

# Every daemon started, killed at exit whatever happens.
PIDS=
# shellcheck disable=SC2317
cleanup() {
    for p in $PIDS; do
        kill -KILL "$p" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'cleanup; exit 1' HUP INT TERM

n=0
failed=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    failed=1
    echo "not ok $n - $1"
    shift
    for line in "$@"; do
        echo "#   $line"
    done
}

# ---- helpers ----

# Runs dbsyncd ARGS... in the foreground, for at most $LIMIT seconds (a daemon
# that wrongly starts is stopped); sets RC, OUT (stdout file), ERR (stderr file).
run_dbsyncd() {
    OUT="$T/run.out"
    ERR="$T/run.err"
    # shellcheck disable=SC2086
    $BOUND $RUN "$DBSYNCD" "$@" >"$OUT" 2>"$ERR" </dev/null
    RC=$?
}

# expect_fail DESC STATUS TEXT ARGS...: exit STATUS, one "dbsyncd: ...TEXT..." line on stderr.
expect_fail() {
    desc=$1
    want=$2
    text=$3
    shift 3
    run_dbsyncd "$@"
    lines=$(wc -l <"$ERR")
    if [ "$RC" = "$want" ] && [ "$lines" -eq 1 ] && grep -q "^dbsyncd: .*$text" "$ERR" &&
        [ ! -s "$OUT" ]; then
        ok "$desc"
    else
        not_ok "$desc" "exit $RC (want $want), stderr: $(cat "$ERR")"
    fi
}

# start NAME ARGS...: starts a daemon in the background with its stdout in
# $T/NAME.out and its stderr in $T/NAME.err; waits for its listening line.
# Sets PID and PORT; returns 1 if it did not start.
start() {
    name=$1
    shift
    : >"$T/$name.out" # exists before the daemon opens it: read at once below
    # shellcheck disable=SC2086
    $RUN "$DBSYNCD" "$@" >>"$T/$name.out" 2>"$T/$name.err" </dev/null &
    PID=$!
    PIDS="$PIDS $PID"
    PORT=
    i=0
    while [ $i -lt $START_WAIT ]; do
        PORT=$(sed -n 's/^dbsyncd: listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/$name.out")
        [ -n "$PORT" ] && return 0
        if ! kill -0 "$PID" 2>/dev/null; then
            wait "$PID"
            forget "$PID"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# forget PID: it has exited (the cleanup must not kill a reused PID).
forget() {
    rest=
    for p in $PIDS; do
        [ "$p" = "$1" ] || rest="$rest $p"
    done
    PIDS=$rest
}

# stop PID SIGNAL: sends the signal and waits (bounded) for the exit; sets RC
# (the exit status, or "timeout" after killing it).
stop() {
    kill "-$2" "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null; do
        if [ $i -ge $STOP_WAIT ]; then
            kill -KILL "$1" 2>/dev/null
            wait "$1" 2>/dev/null
            forget "$1"
            RC=timeout
            return
        fi
        sleep 0.1
        i=$((i + 1))
    done
    wait "$1"
    RC=$?
    forget "$1"
}

# http METHOD PATH [CURL ARGS...]: the status code on stdout, the body in $T/body.
http() {
    method=$1
    path=$2
    shift 2
    curl -s -o "$T/body" -w '%{http_code}' --max-time 60 -X "$method" "$@" \
        "http://127.0.0.1:$PORT$path"
}

# expect_http DESC STATUS BODY-TEXT METHOD PATH [CURL ARGS...]
expect_http() {
    desc=$1
    want=$2
    text=$3
    shift 3
    code=$(http "$@")
    if [ "$code" = "$want" ] && grep -q -- "$text" "$T/body"; then
        ok "$desc"
    else
        not_ok "$desc" "status $code (want $want), body: $(cat "$T/body" 2>/dev/null)"
    fi
}

# A file of N bytes "a".
make_body() {
    head -c "$2" /dev/zero | tr '\0' a >"$1"
}

DB="sqlite3:$T/server.db"

# ---- arguments ----

run_dbsyncd --help
if [ "$RC" = 0 ] && grep -q '^usage: dbsyncd --db URL --schema SCHEMA.xml' "$OUT" &&
    [ ! -s "$ERR" ]; then
    ok "--help prints the usage on stdout, exit 0"
else
    not_ok "--help prints the usage on stdout, exit 0" "exit $RC"
fi

run_dbsyncd --version
if [ "$RC" = 0 ] && grep -q '^dbsyncd [0-9]' "$OUT"; then
    ok "--version"
else
    not_ok "--version" "exit $RC, stdout: $(cat "$OUT")"
fi

expect_fail "missing --db: exit 2" 2 "missing --db" --schema "$SCHEMA" --listen 127.0.0.1:0
expect_fail "missing --schema: exit 2" 2 "missing --schema" --db "$DB" --listen 127.0.0.1:0
expect_fail "--listen without a port: exit 2" 2 'bad --listen "127.0.0.1"' \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1
expect_fail "--listen with a port over 65535: exit 2" 2 "bad --listen" \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:65536
expect_fail "--listen with a host name: exit 2" 2 "HOST must be" \
    --db "$DB" --schema "$SCHEMA" --listen example.com:80
expect_fail "--listen with an empty port: exit 2" 2 "PORT must be" \
    --db "$DB" --schema "$SCHEMA" --listen=127.0.0.1:
expect_fail "--threads 0: exit 2" 2 'bad --threads "0"' \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0 --threads 0
expect_fail "--threads not a number: exit 2" 2 'bad --threads "four"' \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0 --threads=four
expect_fail "--max-body not a size: exit 2" 2 "bad --max-body" \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0 --max-body 12X
expect_fail "--page-size 0: exit 2" 2 "bad --page-size" \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0 --page-size 0
expect_fail "unknown option: exit 2" 2 'unknown option "--port"' \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0 --port 80
expect_fail "option without its value: exit 2" 2 "option --schema needs a value" \
    --db "$DB" --schema
expect_fail "option given twice: exit 2" 2 "option --db given twice" \
    --db "$DB" --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0
expect_fail "unexpected argument: exit 2" 2 'unexpected argument "serve"' \
    --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0 serve

# ---- start-up failures ----

expect_fail "missing schema file: exit 1" 1 "no-such-schema.xml" \
    --db "$DB" --schema "$T/no-such-schema.xml" --listen 127.0.0.1:0
printf '<schema name="x">\n<table name="t">\n' >"$T/broken.xml"
expect_fail "malformed schema file: exit 1" 1 "broken.xml" --db "$DB" --schema "$T/broken.xml" \
    --listen 127.0.0.1:0
expect_fail "bad database URL: exit 1" 1 "nosuchbackend" --db "nosuchbackend:x" --schema "$SCHEMA" \
    --listen 127.0.0.1:0
if [ -e "$T/server.db" ]; then
    not_ok "failed starts leave no database behind" "$T/server.db exists"
else
    ok "failed starts leave no database behind"
fi

# ---- a running daemon ----

make_body "$T/limit.txt" 1024
make_body "$T/over.txt" 1025
if start a --db "$DB" --schema "$SCHEMA" --listen 127.0.0.1:0 --threads 4 --max-body 1K \
    --registration-token s3cret; then
    ok "starts and prints the listening line (port $PORT)"
else
    not_ok "starts and prints the listening line" "stdout: $(cat "$T/a.out")" \
        "stderr: $(cat "$T/a.err")"
    echo "1..$n"
    exit 1
fi
A=$PID
A_PORT=$PORT

if [ "$(wc -l <"$T/a.out")" -eq 1 ] &&
    grep -q "^dbsyncd: listening on 127\.0\.0\.1:$PORT\$" "$T/a.out"; then
    ok "the listening line is the only line on stdout"
else
    not_ok "the listening line is the only line on stdout" "$(cat "$T/a.out")"
fi

if command -v sqlite3 >/dev/null 2>&1; then
    tables=$(sqlite3 "$T/server.db" .tables 2>/dev/null)
    if echo "$tables" | grep -qw customer && echo "$tables" | grep -qw sync_versions; then
        ok "the database was initialized"
    else
        not_ok "the database was initialized" "tables: $tables"
    fi
else
    ok "the database was initialized # SKIP no sqlite3 shell"
fi

expect_http "GET /health: 200 ok" 200 '^{"status":"ok"}$' GET /health
expect_http "unknown path: 404 JSON from the handler" 404 '"error"' GET /no/such/path
expect_http "body over --max-body: 413 too_large" 413 '"error":"too_large"' \
    POST /push --data-binary "@$T/over.txt"
expect_http "chunked body over --max-body: 413 too_large" 413 '"error":"too_large"' \
    POST /push -H 'Transfer-Encoding: chunked' --data-binary "@$T/over.txt"
code=$(http POST /no/such/path --data-binary "@$T/limit.txt")
if [ "$code" = 404 ]; then
    ok "body of exactly --max-body is passed on to the handler"
else
    not_ok "body of exactly --max-body is passed on to the handler" "status $code"
fi
expect_http "registration with a wrong token: 403" 403 "wrong registration token" \
    POST /register -H 'Content-Type: application/json' --data '{"protocol":1,"token":"x"}'
expect_http "registration without a token: 403" 403 "registration token required" \
    POST /register -H 'Content-Type: application/json' --data '{"protocol":1}'
code=$(http POST /register -H 'Content-Type: application/json' \
    --data '{"protocol":1,"token":"s3cret"}')
case $code in
2*) ok "registration with the right token is accepted ($code)" ;;
*) not_ok "registration with the right token is accepted" "status $code: $(cat "$T/body")" ;;
esac

# 20 requests at once on 4 threads.
i=0
cpids=
while [ $i -lt 20 ]; do
    curl -s -o /dev/null -w '%{http_code}' --max-time 60 "http://127.0.0.1:$PORT/health" \
        >"$T/par.$i" &
    cpids="$cpids $!"
    i=$((i + 1))
done
for p in $cpids; do
    wait "$p"
done
good=$(cat "$T"/par.* | grep -o 200 | wc -l)
if [ "$good" -eq 20 ]; then
    ok "20 parallel requests all succeed"
else
    not_ok "20 parallel requests all succeed" "$good of 20: $(cat "$T"/par.*)"
fi

# A second daemon on the same port cannot listen.
expect_fail "address in use: exit 1" 1 "cannot listen on 127.0.0.1:$PORT" \
    --db "$DB" --schema "$SCHEMA" --listen "127.0.0.1:$PORT"

# ---- the request log ----

health_lines=$(grep -c '^GET /health 200 0 15 [0-9][0-9]* 127\.0\.0\.1:[0-9][0-9]*$' "$T/a.err")
if [ "$health_lines" -eq 21 ]; then
    ok "one log line per request: METHOD PATH STATUS IN OUT MS CLIENT"
else
    not_ok "one log line per request: METHOD PATH STATUS IN OUT MS CLIENT" \
        "$health_lines GET /health lines (want 21)" "$(cat "$T/a.err")"
fi
if grep -q '^POST /push 413 ' "$T/a.err" && grep -q '^POST /register 403 ' "$T/a.err" &&
    grep -q '^GET /no/such/path 404 0 ' "$T/a.err" &&
    grep -q '^POST /no/such/path 404 1024 ' "$T/a.err"; then
    ok "the log shows each status and the body size"
else
    not_ok "the log shows each status and the body size" "$(cat "$T/a.err")"
fi

# ---- stopping ----

stop "$A" TERM
if [ "$RC" = 0 ] && grep -q '^dbsyncd: SIGTERM received' "$T/a.err" &&
    tail -n 1 "$T/a.err" | grep -q '^dbsyncd: stopped$'; then
    ok "SIGTERM: exits 0 and logs that it stopped"
else
    not_ok "SIGTERM: exits 0 and logs that it stopped" "exit $RC" "$(tail -n 5 "$T/a.err")"
fi
PORT=$A_PORT
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/health")
if [ "$code" = 000 ]; then
    ok "nothing listens after the stop"
else
    not_ok "nothing listens after the stop" "status $code"
fi

# Again on the same database (initialization is idempotent), quiet, stopped by SIGINT.
if start b --db "$DB" --schema "$SCHEMA" --listen localhost:0 --threads 1 --quiet; then
    ok "starts again on an initialized database (--listen localhost:0, --threads 1)"
    B=$PID
    expect_http "GET /health on a one-thread daemon: 200" 200 '"ok"' GET /health
    if command -v sqlite3 >/dev/null 2>&1; then
        sqlite3 "$T/server.db" 'DROP TABLE draft'
        expect_http "GET /health when a table is missing: 503" 503 '"unavailable"' GET /health
    else
        ok "GET /health when a table is missing: 503 # SKIP no sqlite3 shell"
    fi
    stop "$B" INT
    if [ "$RC" = 0 ] && grep -q '^dbsyncd: SIGINT received' "$T/b.err" &&
        tail -n 1 "$T/b.err" | grep -q '^dbsyncd: stopped$'; then
        ok "SIGINT: exits 0 and logs that it stopped"
    else
        not_ok "SIGINT: exits 0 and logs that it stopped" "exit $RC" "$(tail -n 5 "$T/b.err")"
    fi
    if grep -q '^GET ' "$T/b.err"; then
        not_ok "--quiet: no request lines" "$(cat "$T/b.err")"
    else
        ok "--quiet: no request lines"
    fi
else
    not_ok "starts again on an initialized database" "stderr: $(cat "$T/b.err")"
fi

echo "1..$n"
if [ $failed = 0 ]; then
    rm -rf "$T"
fi
exit $failed

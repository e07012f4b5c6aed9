#!/bin/sh
# SPDX-License-Identifier: MIT
# End-to-end tests of the dbsync command-line tool on SQLite files: every
# command, every value type, the output formats, and every class of bad input
# (which must fail with one "dbsync: ..." line, the documented exit code, and
# a database left exactly as it was, compared with `sqlite3 FILE .dump`).
# Prints "ok N - ..." / "not ok N - ..." per case; exits 1 if any failed (and
# then keeps its folder, tests/tmp/cli-PID, for a look).
# VALGRIND=1 runs every command under valgrind, like the test programs (leaks
# and errors fail); CLI_VERBOSE=1 shows the message of every failing command.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
DBSYNC="$top_builddir/tools/dbsync"
T="$top_builddir/tests/tmp/cli-$$"
RUN=
if [ "${VALGRIND:-0}" = 1 ]; then
    RUN="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99
        --suppressions=$top_srcdir/tests/valgrind.supp"
fi

if [ ! -x "$DBSYNC" ]; then
    echo "not ok 1 - $DBSYNC is not built"
    exit 1
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "not ok 1 - the sqlite3 command-line shell is needed (apt-get install sqlite3)"
    exit 1
fi

rm -rf "$T"
mkdir -p "$T" || exit 1

TAB=$(printf '\t')
NL=$(printf '\nx')
NL=${NL%x}

SCHEMA="$T/shop.xml"
cat >"$SCHEMA" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<schema name="shop" version="1">
  <table name="customer">
    <column name="id" type="integer" primary-key="true"/>
    <column name="email" type="text" length="200" nullable="false"/>
    <column name="credit" type="decimal" precision="12" scale="2" default="0"/>
    <column name="vip" type="boolean" default="false"/>
    <column name="photo" type="blob"/>
    <column name="born" type="date"/>
    <unique columns="email"/>
  </table>
  <table name="purchase">
    <column name="id" type="integer" primary-key="true"/>
    <column name="customer_id" type="integer" references="customer" on-delete="cascade"/>
    <column name="total" type="real"/>
    <column name="at" type="datetime" nullable="false"/>
    <column name="slot" type="time"/>
    <unique columns="customer_id at"/>
    <index columns="at"/>
  </table>
  <table name="draft" sync="false">
    <column name="id" type="integer" primary-key="true"/>
    <column name="body" type="text"/>
  </table>
  <table name="review">
    <column name="id" type="integer" primary-key="true"/>
    <column name="customer_id" type="integer" references="customer" nullable="false"/>
    <column name="body" type="text"/>
  </table>
  <table name="sample">
    <column name="id" type="integer" primary-key="true"/>
    <column name="n" type="integer"/>
    <column name="flag" type="boolean"/>
    <column name="r" type="real"/>
    <column name="wide" type="decimal" precision="38" scale="10"/>
    <column name="code" type="text" length="5"/>
    <column name="body" type="text"/>
    <column name="data" type="blob"/>
    <column name="day" type="date"/>
    <column name="tm" type="time"/>
    <column name="ts" type="datetime"/>
  </table>
</schema>
EOF

# The bad schema has an unknown type on line 5.
BADSCHEMA="$T/bad.xml"
cat >"$BADSCHEMA" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<schema name="bad" version="1">
  <table name="thing">
    <column name="id" type="integer" primary-key="true"/>
    <column name="price" type="money"/>
  </table>
</schema>
EOF

DB="$T/shop.db"
n=0
failed=0
compared=
: >"$T/out"
: >"$T/err"

pass() {
    n=$((n + 1))
    printf 'ok %d - %s\n' "$n" "$1"
}

# not_ok DESC WHY: reports a failed case with what the last command printed.
not_ok() {
    n=$((n + 1))
    failed=$((failed + 1))
    printf 'not ok %d - %s\n#   %s\n' "$n" "$1" "$2"
    if [ -n "$compared" ]; then sed -n '1,20s/^/#   expected: /p' "$T/expected"; fi
    sed -n '1,20s/^/#   stdout: /p' "$T/out"
    sed -n '1,20s/^/#   stderr: /p' "$T/err"
}

# ds ARGS...: runs the tool on $DB with the schema; sets rc, out, err.
ds() {
    $RUN "$DBSYNC" --db "sqlite3:$DB" --schema "$SCHEMA" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# raw ARGS...: runs the tool with exactly these arguments.
raw() {
    $RUN "$DBSYNC" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

snapshot() {
    sqlite3 "$DB" .dump 2>&1
}

# good_why: why the last command did not succeed quietly (exit 0, empty
# stderr); empty when it did.
good_why() {
    if [ "$rc" -ne 0 ]; then
        echo "exit $rc, expected 0"
    elif [ -s "$T/err" ]; then
        echo "stderr is not empty"
    fi
}

# expect_out DESC EXPECTED ARGS...: the command succeeds and prints exactly
# EXPECTED and a newline.
expect_out() {
    desc=$1 expected=$2
    shift 2
    ds "$@"
    cp "$T/out" "$T/got"
    compare "$desc" "$expected"
}

# expect_grep DESC REGEX EXPECTED ARGS...: the command succeeds and the lines
# of its output that match REGEX are exactly EXPECTED.
expect_grep() {
    desc=$1 re=$2 expected=$3
    shift 3
    ds "$@"
    grep -E -- "$re" "$T/out" >"$T/got"
    compare "$desc" "$expected"
}

compare() {
    why=$(good_why)
    printf '%s\n' "$2" >"$T/expected"
    if [ -z "$why" ] && ! cmp -s "$T/expected" "$T/got"; then
        why="output differs"
    fi
    compared=1
    if [ -z "$why" ]; then pass "$1"; else not_ok "$1" "$why"; fi
    compared=
}

# fails MODE DESC CODE SUBSTRING ARGS...: the command (ds or raw) exits CODE,
# prints nothing on stdout and one line "dbsync: ...SUBSTRING..." on stderr,
# and the database dump is unchanged.
fails() {
    mode=$1 desc=$2 code=$3 sub=$4
    shift 4
    snapshot >"$T/before"
    $mode "$@"
    snapshot >"$T/after"
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
    if [ -z "$why" ]; then pass "$desc"; else not_ok "$desc" "$why"; fi
    if [ -n "$CLI_VERBOSE" ]; then sed 's/^/#   /' "$T/err"; fi
}

bad() {
    fails ds "$@"
}

badraw() {
    fails raw "$@"
}

# silent DESC ARGS...: the command succeeds and prints nothing at all.
silent() {
    desc=$1
    shift
    ds "$@"
    why=$(good_why)
    if [ -z "$why" ] && [ -s "$T/out" ]; then why="stdout is not empty"; fi
    if [ -z "$why" ]; then pass "$desc"; else not_ok "$desc" "$why"; fi
}

# sql_is DESC EXPECTED QUERY: the sqlite3 shell answers QUERY on $DB with EXPECTED.
sql_is() {
    got=$(sqlite3 "$DB" "$3" 2>&1)
    if [ "$got" = "$2" ]; then pass "$1"; else not_ok "$1" "sqlite3 answers: $got"; fi
}

# check DESC COMMAND...: a shell condition.
check() {
    desc=$1
    shift
    if "$@"; then pass "$desc"; else not_ok "$desc" "condition failed: $*"; fi
}

# ---- init ----

silent "init creates the database" init
snapshot >"$T/init1"
silent "init again succeeds" init
snapshot >"$T/init2"
check "init twice leaves the database as it was" cmp -s "$T/init1" "$T/init2"
sql_is "init created the tables" "1" \
    "select count(*) from sqlite_master where type = 'table' and name = 'customer'"

# ---- help and version ----

raw --help
check "--help prints the usage on stdout and exits 0" \
    sh -c "[ $rc -eq 0 ] && grep -q '^usage: dbsync' '$T/out' && [ ! -s '$T/err' ]"
check "--help documents NULL, the exit codes and the sync commands" \
    sh -c "grep -qF '\\N' '$T/out' && grep -q 'Exit status' '$T/out' && grep -qw push '$T/out'"
raw -h
check "-h is --help" sh -c "[ $rc -eq 0 ] && grep -q '^usage: dbsync' '$T/out'"
raw --version
check "--version prints the version" sh -c "[ $rc -eq 0 ] && grep -q '^dbsync [0-9]' '$T/out'"

# ---- insert and get ----

expect_out "insert prints the new primary key" "1" insert customer email=ann@example.com \
    credit=12.5 vip=true photo=00ff born=1990-07-14
expect_out "get shows the values (defaults and normalized forms)" \
"id=1
email=ann@example.com
credit=12.50
vip=true
photo=00ff
born=1990-07-14" get customer 1

expect_out "insert fills defaults and NULLs" "2" insert customer email=bob@example.com
expect_out "get shows the defaults and NULL as \\N" \
"id=2
email=bob@example.com
credit=0.00
vip=false
photo=\\N
born=\\N" get customer 2

expect_out "insert with an explicit primary key" "100" insert customer id=100 \
    email=carl@example.com
ds get customer 100
raw --db="sqlite3:$DB" --schema="$SCHEMA" get customer 100
check "--db=URL and --schema=FILE work like --db URL --schema FILE" \
    sh -c "[ $rc -eq 0 ] && grep -q '^email=carl@example.com\$' '$T/out'"

# ---- every type ----

expect_out "insert every type" "1" insert sample n=9223372036854775807 flag=1 r=0.1 \
    wide=12345678901234567890.1234567890 code=héllo body= data=00FF7f10 day=2024-02-29 \
    tm=23:59:59.000001 "ts=2023-12-31 23:59:59.123456"
expect_out "every type reads back exactly (int64 max, 30-digit decimal, UTF-8, hex, usec)" \
"id=1
n=9223372036854775807
flag=true
r=0.10000000000000001
wide=12345678901234567890.1234567890
code=héllo
body=
data=00ff7f10
day=2024-02-29
tm=23:59:59.000001
ts=2023-12-31 23:59:59.123456" get sample 1

expect_out "insert the other extremes" "2" insert sample n=-9223372036854775808 flag=false \
    r=-0.30000000000000004 wide=-0.0000000001 code=ab body=日本語テキスト data=00 day=0001-01-01 \
    tm=00:00:00 ts=9999-12-31T23:59:59
expect_out "the other extremes read back" \
"id=2
n=-9223372036854775808
flag=false
r=-0.30000000000000004
wide=-0.0000000001
code=ab
body=日本語テキスト
data=00
day=0001-01-01
tm=00:00:00
ts=9999-12-31 23:59:59" get sample 2

expect_out "all NULLs via \\N" "3" insert sample 'n=\N' 'flag=\N' 'r=\N' 'wide=\N' 'code=\N' \
    'body=\N' 'data=\N' 'day=\N' 'tm=\N' 'ts=\N'
expect_out "NULL of every type prints \\N" \
"id=3
n=\\N
flag=\\N
r=\\N
wide=\\N
code=\\N
body=\\N
data=\\N
day=\\N
tm=\\N
ts=\\N" get sample 3

expect_out "\\\\N is the text \\N, tab/newline/backslash kept" "4" insert sample 'code=\\N' \
    "body=a${TAB}b${NL}c\\d"
expect_grep "the text \\N prints as \\\\N, escapes in get" '^(code|body)=' \
"code=\\\\N
body=a\\tb\\nc\\\\d" get sample 4
sql_is "the stored text is exactly tab, newline and backslash" 6109620A635C64 \
    "select hex(body) from sample where id = 4"

expect_out "empty blob is not NULL" "5" insert sample data=
expect_grep "empty blob reads back empty" '^data=' "data=" get sample 5

sql_is "blob with 00 and ff is a real BLOB in SQLite" "blob:00FF" \
    "select typeof(photo) || ':' || hex(photo) from customer where id = 1"

# ---- SQL-looking values ----

# 101: keys are never reused, and the explicit 100 moved the sequence on.
expect_out "SQL-looking text is stored" "101" insert customer "email='; DROP TABLE customer; --" \
    credit=1
expect_grep "SQL-looking text reads back verbatim" '^email=' \
    "email='; DROP TABLE customer; --" get customer 101
expect_out "quotes, -- and ; are stored" "6" insert sample 'body=";--'"'"'\'
expect_grep "quotes, -- and ; read back (backslash escaped)" '^body=' 'body=";--'"'"'\\' \
    get sample 6
sql_is "the customer table is still there" 4 "select count(*) from customer"

# ---- update ----

silent "update succeeds silently" update customer 1 credit=99
expect_out "update changed only the given column" \
"id=1
email=ann@example.com
credit=99.00
vip=true
photo=00ff
born=1990-07-14" get customer 1
silent "update of two columns, one to NULL" update customer 1 'born=\N' vip=0
expect_out "update to NULL and several columns" \
"id=1
email=ann@example.com
credit=99.00
vip=false
photo=00ff
born=\\N" get customer 1

# ---- list ----

expect_out "list prints a header and the rows by primary key" \
"id${TAB}email${TAB}credit${TAB}vip${TAB}photo${TAB}born
1${TAB}ann@example.com${TAB}99.00${TAB}false${TAB}00ff${TAB}\\N
2${TAB}bob@example.com${TAB}0.00${TAB}false${TAB}\\N${TAB}\\N
100${TAB}carl@example.com${TAB}0.00${TAB}false${TAB}\\N${TAB}\\N
101${TAB}'; DROP TABLE customer; --${TAB}1.00${TAB}false${TAB}\\N${TAB}\\N" list customer
expect_out "list with an equality filter (value normalized)" \
"id${TAB}email${TAB}credit${TAB}vip${TAB}photo${TAB}born
101${TAB}'; DROP TABLE customer; --${TAB}1.00${TAB}false${TAB}\\N${TAB}\\N" list customer credit=1
expect_out "list with two filters, one IS NULL" \
"id${TAB}email${TAB}credit${TAB}vip${TAB}photo${TAB}born
2${TAB}bob@example.com${TAB}0.00${TAB}false${TAB}\\N${TAB}\\N
100${TAB}carl@example.com${TAB}0.00${TAB}false${TAB}\\N${TAB}\\N" list customer 'photo=\N' credit=0
expect_out "list of no rows prints the header only" "id${TAB}body" list draft
N4="\\N${TAB}\\N${TAB}\\N${TAB}\\N"
expect_out "list filter on the text \\\\N, and list escapes tab, newline, backslash" \
"id${TAB}n${TAB}flag${TAB}r${TAB}wide${TAB}code${TAB}body${TAB}data${TAB}day${TAB}tm${TAB}ts
4${TAB}${N4}${TAB}\\\\N${TAB}a\\tb\\nc\\\\d${TAB}${N4}" list sample 'code=\\N'
ds list sample
check "list keeps one line per row" sh -c "[ \$(wc -l <'$T/out') -eq 7 ]"
sed "s/${TAB}.*//" "$T/out" | tr '\n' ' ' >"$T/ids"
check "list orders by primary key" sh -c "[ \"\$(cat '$T/ids')\" = 'id 1 2 3 4 5 6 ' ]"

# ---- delete ----

silent "delete succeeds silently" delete customer 2
bad "a deleted row is gone" 1 "get customer 2: no such row" get customer 2

# ---- bad input: each fails, says why, and changes nothing ----

bad "unknown table" 1 'unknown table "custmer"' insert custmer email=x
bad "unknown table in get" 1 'unknown table "custmer"' get custmer 1
bad "unknown column" 1 'unknown column "emial" in table "customer"' insert customer emial=x
bad "unknown column in update" 1 'unknown column "emial" in table "customer"' \
    update customer 1 emial=x
bad "unknown column in a list filter" 1 'unknown column "nope" in table "customer"' \
    list customer nope=1
bad "bad integer" 1 'column "n": "12x" is not a 64-bit integer' insert sample n=12x
bad "integer overflow" 1 '"9223372036854775808" is not a 64-bit integer' insert sample \
    n=9223372036854775808
bad "bad boolean" 1 'column "flag": "yes" is not a boolean' insert sample flag=yes
bad "bad real" 1 'column "r"' insert sample r=1e999
bad "bad date 2023-02-30" 1 '"2023-02-30" is not a valid date' insert sample day=2023-02-30
bad "bad time 24:00:00" 1 '"24:00:00" is not a valid time' insert sample tm=24:00:00
bad "bad datetime" 1 'column "ts"' insert sample "ts=2023-01-01 12:60:00"
bad "decimal with too many digits after the point" 1 \
    'insert customer: column "credit": "12.345" has 3 digits after the point, at most 2' \
    insert customer email=new@example.com credit=12.345
bad "decimal with too many digits before the point" 1 'column "credit"' \
    insert customer email=new@example.com credit=12345678901
bad "text too long for its length" 1 'column "code": text of 6 characters, at most 5' \
    insert sample code=abcdef
bad "odd-length hex blob" 1 'column "data"' insert sample data=abc
bad "non-hex blob" 1 'column "data"' insert sample data=zz
bad "NOT NULL column given \\N" 1 'column "email": NULL is not allowed' \
    insert customer 'email=\N'
bad "NOT NULL column left out" 1 'column "email": NULL is not allowed' insert customer vip=true
bad "NOT NULL column set to NULL by update" 1 'update customer 1: column "email"' \
    update customer 1 'email=\N'
bad "a bad value after good ones writes nothing" 1 'column "born"' \
    insert customer email=half@example.com credit=5 born=2023-13-01
bad "a bad value in update writes nothing" 1 'column "vip"' \
    update customer 1 credit=1 vip=maybe
bad "column given twice" 1 'column "vip" given twice' update customer 1 vip=true vip=false
bad "changing the primary key is refused" 1 'primary key "id" cannot be changed' \
    update customer 1 id=5
bad "argument that is not col=value" 2 '"vip" is not col=value' update customer 1 vip
bad "missing arguments of update" 2 'update: missing arguments' update customer 1
bad "missing arguments of get" 2 'get: missing arguments' get customer
bad "too many arguments" 2 'delete: too many arguments' delete customer 1 2
bad "unknown command" 2 'unknown command "frobnicate"' frobnicate http://localhost:1
bad "unknown command frob" 2 'unknown command "frob"' frob
bad "non-numeric id" 1 '"abc" is not a row id' get customer abc
bad "id with trailing garbage" 1 '"1x" is not a row id' delete customer 1x
bad "id beyond 64 bits" 1 '"99999999999999999999" is not a row id' get customer \
    99999999999999999999
bad "update of a missing row" 1 'update customer 999: no such row' update customer 999 vip=true
bad "delete of a missing row" 1 'delete customer 999: no such row' delete customer 999
bad "get of a missing row" 1 'get customer 999: no such row' get customer 999
bad "primary key taken" 1 'insert customer' insert customer id=100 email=dup@example.com
bad "unique violation names the table and column" 1 'email' \
    insert customer email=ann@example.com
expect_out "insert a purchase" "1" insert purchase customer_id=1 "at=2024-01-01 10:00:00" \
    total=9.5 slot=10:00:00
bad "two-column unique violation names both columns" 1 'customer_id' \
    insert purchase customer_id=1 "at=2024-01-01 10:00:00"
check "the two-column unique message names \"at\"" grep -qw 'at' "$T/err"
bad "reference to a missing row" 1 'insert purchase' insert purchase customer_id=4242 \
    "at=2024-01-02 10:00:00"
expect_out "insert a review of customer 1" "1" insert review customer_id=1 body=good
bad "delete restricted by a referencing row" 1 'delete customer 1' delete customer 1
check "the restrict message names the referencing table" grep -q 'review' "$T/err"

badraw "missing --db" 2 'missing --db' --schema "$SCHEMA" list customer
badraw "missing --schema" 2 'missing --schema' --db "sqlite3:$DB" list customer
badraw "option without its value" 2 'option --db needs a value' --schema "$SCHEMA" --db
badraw "unknown option" 2 'unknown option "--frob"' --frob --db "sqlite3:$DB" list customer
badraw "no command" 2 'no command given' --db "sqlite3:$DB" --schema "$SCHEMA"
badraw "malformed URL: sqlite3: with an empty path" 1 'no file path' --db sqlite3: \
    --schema "$SCHEMA" list customer
badraw "malformed URL: unknown backend" 1 'unknown backend "nosuch"' --db nosuch://x \
    --schema "$SCHEMA" list customer
badraw "malformed URL: pgsql:// without a database name" 1 'no database name' --db pgsql:// \
    --schema "$SCHEMA" list customer
badraw "a password in a bad URL is not shown" 1 'pgsql://ann:***@h:99999/x' \
    --db pgsql://ann:s3cret@h:99999/x --schema "$SCHEMA" list customer
check "the password itself appears nowhere" sh -c "! grep -q s3cret '$T/err'"
badraw "a missing SQLite file is not created" 1 'does not exist (run dbsync init first)' \
    --db "sqlite3:$T/typo.db" --schema "$SCHEMA" list customer
check "no file was left behind" test ! -e "$T/typo.db"
: >"$T/empty.db"
badraw "a database that was never initialized" 1 'not initialized' \
    --db "sqlite3:$T/empty.db" --schema "$SCHEMA" insert customer email=a@b
check "the empty database got no table" test -z "$(sqlite3 "$T/empty.db" .tables)"
badraw "missing schema file" 1 "$T/nope.xml" --db "sqlite3:$DB" --schema "$T/nope.xml" \
    list customer
badraw "bad schema file gives file:line" 1 "bad.xml:5:" --db "sqlite3:$DB" \
    --schema "$BADSCHEMA" list customer
bad "newline in a bad value stays one line" 1 'column "n"' insert sample "n=1${NL}2"
bad "empty id" 1 '"" is not a row id' get customer ''
bad "empty table name" 1 'unknown table ""' list ''
LONG=$(printf '%0300d' 0)
bad "a long unknown column name is cut in the message" 1 '0000...' insert customer "${LONG}=1"
BIG=$(printf '%060000d' 7)
expect_out "a 60000-character text is stored" "7" insert sample "body=$BIG"
expect_grep "a 60000-character text reads back" '^body=' "body=$BIG" get sample 7
ds -- status
check "-- ends the options" sh -c "[ $rc -eq 0 ] && grep -q '^operations: ' '$T/out'"

# ---- the operations log and status, on a fresh database ----

DB="$T/log.db"
ds init
ds insert customer email=a@x
ds insert customer email=b@x
ds update customer 1 vip=true
ds insert purchase customer_id=2 "at=2024-01-01 10:00:00"
ds insert draft body=x
ds update draft 1 body=y
ds delete customer 1
ds update purchase 1 total=3.5
ds delete draft 1
expect_out "log shows exactly the expected operations (local-only table not logged)" \
"1${TAB}customer${TAB}1${TAB}i${TAB}-
2${TAB}customer${TAB}2${TAB}i${TAB}-
3${TAB}customer${TAB}1${TAB}u${TAB}-
4${TAB}purchase${TAB}1${TAB}i${TAB}-
5${TAB}customer${TAB}1${TAB}d${TAB}-
6${TAB}purchase${TAB}1${TAB}u${TAB}-" log
expect_out "status counts the operations" \
"node: unregistered
version: none
operations: 6
unpushed: 6" status
bad "a failed write logs nothing" 1 'column "credit"' update customer 2 credit=x
ds delete customer 2
ds log
tail -n 2 "$T/out" | sort >"$T/tail"
printf '7\tcustomer\t2\td\t-\n7\tpurchase\t1\td\t-\n' >"$T/want"
sed 's/^[0-9]*/7/' "$T/tail" | sort >"$T/tail7"
check "a cascading delete logs both deletes" cmp -s "$T/want" "$T/tail7"
check "the log has 8 operations after the cascade" sh -c "[ \$(wc -l <'$T/out') -eq 8 ]"
DB="$T/empty.db"
ds init
ds log
check "log of a fresh database is empty" sh -c "[ $rc -eq 0 ] && [ ! -s '$T/out' ]"

echo "# $n cases, $((n - failed)) passed, $failed failed"
if [ "$failed" -eq 0 ]; then
    rm -rf "$T"
    exit 0
fi
exit 1

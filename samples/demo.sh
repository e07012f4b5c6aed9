#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo: code generated from samples/shop.xml drives tracked writes on an
# embedded SQLite file, then the dbsync tool works on the same file.
#   samples/demo.sh BUILD_DIR
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dbsync-demo.XXXXXX")
db="$work/shop.db"
tool="$build/tools/dbsync"
run() {
    echo "\$ dbsync $*"
    "$tool" --db "sqlite3:$db" --schema "$src/samples/shop.xml" "$@"
}

echo "== 1. generate typed C accessors from samples/shop.xml"
"$build/codegen/dbsync-codegen" -o "$work" "$src/samples/shop.xml"
grep -E '^(typedef struct|int shop_customer_|void shop_customer_)' "$work/shop.h" | sed 's/^/   /'
echo
echo "== 2. a C program using them writes to $db (offline, no server)"
"$build/samples/shop_app" "$db"
echo
echo "== 3. the dbsync tool on the same database"
run insert customer email=carol@example.com credit=12.30 born=1990-05-17
run update customer 2 vip=false
run insert purchase customer_id=2 at="2026-11-26 10:15:00" total=5.25
run list customer
run get customer 2
run log
run status
echo
echo "== 4. bad input is refused and changes nothing"
run insert customer email=dave@example.com credit=1.234 || true
run insert purchase customer_id=99 at="2026-11-26 10:15:00" || true
run status
rm -rf "$work"

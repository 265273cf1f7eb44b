#!/usr/bin/env bash
# Memory of dynex-server under load: its resident memory idle and after `wrk -t2 -c$C -d$D`
# on PATH (GET by id by default), from /proc/PID/status: peak (VmHWM), anonymous and
# file-backed, and its threads; with the requests per second wrk measured. SQLite, the demo
# catalog plus 100,000 product abstracts.
#
# With MIX=1 the load is benches/mixed.lua instead (per ten requests: six GETs by id, two
# filtered pages, one POST, one PATCH, at random rows), and the memory is sampled every EVERY
# seconds (30) while it runs, to show whether it stays flat.
#
# Usage (from the repository root, after `cargo build --release -p dynex-server`):
#   benches/memory.sh [PATH]
#   C=64 D=10s LOG=info BIN=target/release/dynex-server benches/memory.sh
#   MIX=1 C=64 D=10m benches/memory.sh             # ten minutes of mixed reads and writes
#
# Needs wrk, sqlite3, curl.
set -euo pipefail
BIN=${BIN:-target/release/dynex-server}
C=${C:-64}; D=${D:-10s}
P=${1:-/dynamic-entity/product-abstracts/50000}
TMP=$(mktemp -d); PORT=18124
# shellcheck source=benches/sqlite-db.sh
source "$(dirname "$0")/sqlite-db.sh"
sqlite_bench_db "$BIN" "$TMP" "$PORT"
RUST_LOG=${LOG:-warn} $BIN --database-url sqlite://$TMP/b.db --bind 127.0.0.1:$PORT --scheduler off > $TMP/srv 2>&1 &
sp=$!
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/health/live && break; sleep 0.2; done
grep -E 'VmHWM|RssAnon|RssFile' /proc/$sp/status | tr -s ' ' | paste -sd' ' | sed 's/^/idle: /'
if [[ ${MIX:-0} != 1 ]]; then
  wrk -t2 -c$C -d$D -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT$P" | grep -E 'Requests/sec'
  grep -E 'VmHWM|RssAnon|RssFile|Threads' /proc/$sp/status | tr -s ' ' | paste -sd' ' | sed 's/^/after: /'
  kill $sp; rm -rf $TMP
  exit 0
fi
EVERY=${EVERY:-30}
mb() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' /proc/$sp/status; }
sample() {
  echo "| $(( $(date +%s) - start )) | $(mb VmRSS) | $(mb RssAnon) | $(mb RssFile) | $(mb VmHWM) | $(awk '$1 == "Threads:" { print $2 }' /proc/$sp/status) |"
}
start=$(date +%s)
wrk -t2 -c$C -d$D --timeout 10s -s "$(dirname "$0")/mixed.lua" "http://127.0.0.1:$PORT" -- "$KEY" 100000 > $TMP/wrk &
wp=$!
echo "| seconds | VmRSS MB | RssAnon MB | RssFile MB | VmHWM MB | threads |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
while kill -0 $wp 2>/dev/null; do sample; sleep "$EVERY"; done
wait $wp
sample
grep -E 'Requests/sec|Non-2xx|Socket errors' $TMP/wrk
echo "rows created: $(sqlite3 $TMP/b.db "SELECT COUNT(*) FROM spy_product_abstract WHERE sku LIKE 'M%'"), database $(( $(stat -c %s $TMP/b.db) / 1048576 )) MB"
kill $sp; rm -rf $TMP

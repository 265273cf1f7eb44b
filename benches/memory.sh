#!/usr/bin/env bash
# Memory of dynex-server under load: its resident memory idle and after `wrk -t2 -c$C -d$D`
# on PATH (GET by id by default), from /proc/PID/status: peak (VmHWM), anonymous and
# file-backed, and its threads; with the requests per second wrk measured. SQLite, the demo
# catalog plus 100,000 product abstracts.
#
# Usage (from the repository root, after `cargo build --release -p dynex-server`):
#   benches/memory.sh [PATH]
#   C=64 D=10s LOG=info BIN=target/release/dynex-server benches/memory.sh
#
# Needs wrk, sqlite3, curl.
set -euo pipefail
BIN=${BIN:-target/release/dynex-server}
C=${C:-64}; D=${D:-10s}
P=${1:-/dynamic-entity/product-abstracts/50000}
TMP=$(mktemp -d); PORT=18124
$BIN --demo --database-url sqlite://$TMP/b.db --bind 127.0.0.1:$PORT --scheduler off > $TMP/out 2>&1 &
pid=$!
for i in $(seq 100); do grep -q 'listening on' $TMP/out 2>/dev/null && break; sleep 0.2; done
sleep 1; kill $pid; wait $pid || true
KEY=$(sed -n 's/^API key .*(shown once.*): \(dnx_[A-Za-z0-9_-]*\)$/\1/p' $TMP/out | head -n1)
sqlite3 $TMP/b.db <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO spy_product_abstract (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT (SELECT MAX(id_product_abstract) FROM spy_product_abstract) + i, printf('B%06d', i), 1,
 json_object('brand', 'Bench', 'megapixel', (i % 40 + 8) || ' MP', 'optical_zoom', (i % 20 + 1) || ' x', 'serial', i),
 CASE WHEN i % 3 = 0 THEN NULL ELSE printf('#%06X', (i * 40503) % 16777216) END, '2024-03-01 10:00:00', NULL FROM n;
SQL
RUST_LOG=${LOG:-warn} $BIN --database-url sqlite://$TMP/b.db --bind 127.0.0.1:$PORT --scheduler off > $TMP/srv 2>&1 &
sp=$!
for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$PORT/health/live && break; sleep 0.2; done
grep -E 'VmHWM|RssAnon|RssFile' /proc/$sp/status | tr -s ' ' | paste -sd' ' | sed 's/^/idle: /'
wrk -t2 -c$C -d$D -H "X-Api-Key: $KEY" "http://127.0.0.1:$PORT$P" | grep -E 'Requests/sec'
grep -E 'VmHWM|RssAnon|RssFile|Threads' /proc/$sp/status | tr -s ' ' | paste -sd' ' | sed 's/^/after: /'
kill $sp; rm -rf $TMP

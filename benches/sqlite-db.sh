# shellcheck shell=bash disable=SC2034 # KEY and PASSWORD are for the scripts that source this file
# Sourced by benches/callgrind.sh and benches/memory.sh: the SQLite database they measure.
# sqlite_bench_db BIN DIR PORT: `BIN --demo` loads the demo catalog into DIR/b.db (and stops),
# then sqlite3 adds 100,000 product abstracts (ids after the demo's, skus B000001…, as
# benches/read.sh has them). Sets KEY (the demo's API key) and PASSWORD (the admin's).
sqlite_bench_db() {
  local bin=$1 dir=$2 port=$3 pid _
  "$bin" --demo --database-url "sqlite://$dir/b.db" --bind "127.0.0.1:$port" --scheduler off > "$dir/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$dir/out" 2>/dev/null && break; sleep 0.2; done
  sleep 1; kill "$pid"; wait "$pid" || true
  KEY=$(sed -n 's/^API key .*(shown once.*): \(dnx_[A-Za-z0-9_-]*\)$/\1/p' "$dir/out" | head -n1)
  PASSWORD=$(sed -n 's/^Admin user (password shown once): admin \/ \([A-Za-z0-9]*\)$/\1/p' "$dir/out" | head -n1)
  sqlite3 "$dir/b.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO spy_product_abstract (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT (SELECT MAX(id_product_abstract) FROM spy_product_abstract) + i, printf('B%06d', i), 1,
 json_object('brand', 'Bench', 'megapixel', (i % 40 + 8) || ' MP', 'optical_zoom', (i % 20 + 1) || ' x', 'serial', i),
 CASE WHEN i % 3 = 0 THEN NULL ELSE printf('#%06X', (i * 40503) % 16777216) END, '2024-03-01 10:00:00', NULL FROM n;
SQL
}

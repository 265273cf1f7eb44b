#!/usr/bin/env bash
# Instructions per request of dynex-server, counted by callgrind: a run that answers W + N
# keep-alive requests of PATH (with the demo's API key) minus one that answers W, divided
# by N. The W warm-up requests (200) open the pool's connections and prepare its statements,
# which would otherwise be counted as part of the first N. The configuration watcher looks once
# an hour (`--watch-interval`), so that its reads every 5 ms, which scale with the run's length
# under valgrind and not with N, are not counted. Counts do not depend on the machine's load, so they tell a change's effect where
# wall-clock figures cannot. SQLite, the demo catalog plus 100,000 product abstracts, one
# worker. The profile of the W + N-request run is copied to /tmp/cg.last (and the W one to
# /tmp/cg.zero) for callgrind_annotate; benches/cgdiff.py prints the cost per request by function.
#
# Usage (from the repository root, after `cargo build --release -p dynex-server`):
#   benches/callgrind.sh [PATH]              # default /dynamic-entity/product-abstracts/50000
#   N=500 BIN=target/release/dynex-server benches/callgrind.sh
#   LOG=info benches/callgrind.sh            # with the access log (default warn: none)
#   AUTH=bearer benches/callgrind.sh         # an access token of the demo admin, not the key
#   BENCH_DB=b.db KEY=dnx_… benches/callgrind.sh PATH   # that database (a copy), for cursors
#   python3 benches/cgdiff.py 500            # top functions, instructions per request
#
# Needs valgrind, sqlite3, curl, python3.
set -euo pipefail
BIN=${BIN:-target/release/dynex-server}
N=${N:-500}
W=${W:-200}
P=${1:-/dynamic-entity/product-abstracts/50000}
AUTH=${AUTH:-key}
TMP=$(mktemp -d)
PORT=18123
# shellcheck source=benches/sqlite-db.sh
source "$(dirname "$0")/sqlite-db.sh"
if [[ -n ${BENCH_DB:-} ]]; then
  # A database made earlier, with its key: paths that hold a cursor, which only the database
  # that signed it accepts.
  sqlite3 "$BENCH_DB" ".backup '$TMP/b.db'"
  : "${KEY:?BENCH_DB needs KEY}" "${PASSWORD:=}"
else
  sqlite_bench_db "$BIN" "$TMP" "$PORT"
fi
# A server left by a failed request would answer the next run's requests on the same port.
vp=
trap '[[ -n $vp ]] && kill $vp 2>/dev/null; true' EXIT
run() {
  local n=$1; rm -f $TMP/cg.$n.*
  RUST_LOG=${LOG:-warn} valgrind --tool=callgrind --callgrind-out-file=$TMP/cg.$n.%p $BIN --database-url sqlite://$TMP/b.db --bind 127.0.0.1:$PORT --workers 1 --scheduler off --watch-interval 3600000 > $TMP/srv.$n 2>&1 &
  vp=$!
  for i in $(seq 600); do curl -s -o /dev/null http://127.0.0.1:$PORT/health/live && break; sleep 0.5; done
  python3 - "$n" "$PORT" "$P" "$KEY" "$AUTH" "$PASSWORD" <<'PY'
import sys, http.client, json, urllib.parse
n, port, path, key, auth, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
c = http.client.HTTPConnection("127.0.0.1", port)
headers = {"X-Api-Key": key}
if auth == "bearer":
    form = urllib.parse.urlencode({"grant_type": "password", "username": "admin", "password": password})
    c.request("POST", "/token", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse(); token = json.loads(r.read())["access_token"]
    headers = {"Authorization": "Bearer " + token}
for i in range(n):
    c.request("GET", path, headers=headers)
    r = c.getresponse(); body = r.read()
    assert r.status == 200, (r.status, body)
print("answered", n, "x", len(body) if n else 0, "bytes", file=sys.stderr)
PY
  kill -INT $vp; wait $vp || true; vp=
  awk '/^summary:/{print $2}' $TMP/cg.$n.*
}
run $W >/dev/null; a=$(run $W); b=$(run $((W + N)))
echo "instructions per request: $(( (b - a) / N ))  ($W: $a, $((W + N)): $b)"
[[ -n "${KEEP:-}" ]] && echo "kept $TMP" || true
cp $TMP/cg.$((W + N)).* /tmp/cg.last 2>/dev/null || true
cp $TMP/cg.$W.* /tmp/cg.zero 2>/dev/null || true

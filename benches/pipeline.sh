#!/usr/bin/env bash
# Pipeline benchmark: records from a local JSON API, mapped into an entity, against
# `dynex import` of the same rows as CSV.
#
# What it does (see benches/README.md for how to read the results):
#   1. builds `dynex` and `dynex-server` in release mode (with the `mysql` feature when MariaDB
#      is benchmarked);
#   2. generates, outside any timing, ROWS (1,000,000) demo product abstracts twice: as JSON
#      pages of PAGE (1,000) records, each naming the next (`{"items": […], "next": "p2.json"}`),
#      served by `python3 -m http.server` on a local port, and as one CSV file of the same rows;
#   3. for each backend in BACKENDS (sqlite postgres mysql): creates a fresh database and loads
#      the demo catalog with `dynex-server --demo`;
#   4. times `dynex import product-abstracts --mode upsert --key sku` of the CSV file into the
#      empty table (the reference: dynex's own bulk path, doing the same work), empties the
#      table, then times `dynex pipeline run` of a pipeline that reads the pages and upserts
#      them by sku into the same entity, and a second run with nothing changed; peak RSS of
#      each run with /usr/bin/time; every run must write every row;
#   5. prints a Markdown table per backend (rows/s, ratio to `dynex import`, peak RSS) and
#      writes it to bench-out/pipeline.md.
#
# Usage (from the repository root):
#   benches/pipeline.sh
#   BACKENDS=sqlite ROWS=100000 benches/pipeline.sh
#
# Environment:
#   BACKENDS   backends to benchmark, in order (default "sqlite postgres mysql")
#   ROWS       records (default 1000000)
#   PAGE       records per page of the JSON source (default 1000)
#   PG_HOST, PG_PORT, PG_USER, MYSQL_HOST, MYSQL_PORT, MYSQL_USER: the servers (defaults
#              127.0.0.1:5432 postgres, 127.0.0.1:3306 root); each run creates a database and
#              drops it
#   KEEP_TMP=1 keep the temporary directory
#
# Needs: cargo, python3, /usr/bin/time, and psql / mariadb for those backends.
set -euo pipefail

BACKENDS=${BACKENDS:-"sqlite postgres mysql"}
ROWS=${ROWS:-1000000}
PAGE=${PAGE:-1000}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
ALIAS=product-abstracts
TABLE=spy_product_abstract

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CLI_BIN=$TARGET_DIR/release/dynex
SERVER_BIN=$TARGET_DIR/release/dynex-server
OUT_DIR=$ROOT/bench-out
REPORT=$OUT_DIR/pipeline.md

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer"
[[ $PAGE =~ ^[1-9][0-9]*$ ]] || die "PAGE must be a positive integer"
read -r -a BACKEND_LIST <<<"$BACKENDS"
has_backend() { [[ " $BACKENDS " == *" $1 "* ]]; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (apt-get install -y time)"
command -v python3 >/dev/null || die "python3 is required"

pg() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$1" -v ON_ERROR_STOP=1 -X -q "${@:2}"; }
my() { mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP "$@"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynex-pbench.XXXXXX")
RUN_ID=$(printf '%s' "${TMP##*.}" | tr '[:upper:]' '[:lower:]' | tr -dc 'a-z0-9')
DATABASES=()
HTTP_PID=
cleanup() {
    local rc=$? d
    [[ -n $HTTP_PID ]] && kill "$HTTP_PID" 2>/dev/null
    for d in "${DATABASES[@]}"; do
        case $d in
        pg:*) pg postgres -c "DROP DATABASE IF EXISTS ${d#pg:} WITH (FORCE)" >/dev/null 2>&1 || true ;;
        my:*) my -e "DROP DATABASE IF EXISTS ${d#my:}" >/dev/null 2>&1 || true ;;
        esac
    done
    if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then log "temporary files kept in $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

features=()
has_backend mysql && features=(--features mysql)
log "building (release): dynex, dynex-server ${features[*]}"
cargo build --release -p dynex -p dynex-server "${features[@]}"

log "generating $ROWS records: JSON pages of $PAGE and one CSV file"
mkdir -p "$TMP/pages"
python3 - "$TMP" "$ROWS" "$PAGE" <<'PY'
import csv, json, sys
out, n, page = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def record(i):
    return {
        "sku": f"B{i:07d}",
        "tax_set": 1 + i % 2,
        "color": "#%06X" % ((i * 40503) % 16777216),
        # The entity keeps attributes as JSON text, as many APIs send them.
        "attributes": json.dumps({"brand": "Bench", "serial": i, "size": "SML"[i % 3]}, separators=(",", ":")),
        # As the entity returns it (a `string` field over a timestamp column): a value in
        # another form would be seen as changed on every run.
        "created": "2026-01-02 03:04:05",
    }
pages = (n + page - 1) // page
with open(f"{out}/rows.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["sku", "fk_tax_set", "attributes", "color_code", "created_at"])
    for p in range(1, pages + 1):
        items = [record(i) for i in range((p - 1) * page + 1, min(p * page, n) + 1)]
        body = {"items": items}
        if p < pages:
            body["next"] = f"p{p + 1}.json"
        with open(f"{out}/pages/p{p}.json", "w") as pf:
            json.dump(body, pf, separators=(",", ":"))
        for r in items:
            w.writerow([r["sku"], r["tax_set"], r["attributes"], r["color"], "2026-01-02 03:04:05"])
PY

HTTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$TMP/pages" && exec python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
HTTP_PID=$!
for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/p1.json" && break
    sleep 0.1
done

cat >"$TMP/bench.yml" <<YAML
name: bench
source:
  http:
    url: http://127.0.0.1:$HTTP_PORT/p1.json
    records: \$.items[*]
    paginate:
      next_link: { path: \$.next }
map:
  fields:
    sku: \$.sku
    fk_tax_set: \$.tax_set
    attributes: \$.attributes
    color_code: \$.color
    created_at: \$.created
target:
  entity: { entity: $ALIAS, mode: upsert, key: sku }
YAML

# timed CMD...: runs CMD, sets SECONDS_TAKEN and PEAK_MB (peak resident set of CMD).
timed() {
    /usr/bin/time -f '%e %M' -o "$TMP/time.txt" "$@" >"$TMP/out.txt" 2>"$TMP/err.txt" || {
        cat "$TMP/out.txt" "$TMP/err.txt" >&2
        die "failed: $*"
    }
    read -r SECONDS_TAKEN kb <"$TMP/time.txt"
    PEAK_MB=$((kb / 1024))
}
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TMP/out.txt" "$1"; }

setup_backend() {
    case $1 in
    sqlite) URL=sqlite://$TMP/bench-$1.db ;;
    postgres)
        DB_NAME=dynex_pbench_$RUN_ID
        pg postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
        DATABASES+=("pg:$DB_NAME")
        URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB_NAME
        ;;
    mysql)
        DB_NAME=dynex_pbench_$RUN_ID
        my -e "CREATE DATABASE $DB_NAME" >/dev/null
        DATABASES+=("my:$DB_NAME")
        URL=mysql://$MYSQL_USER@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME
        ;;
    esac
    "$SERVER_BIN" --database-url "$URL" --demo --bind 127.0.0.1:0 >"$TMP/server.out" 2>&1 &
    local pid=$! i
    for ((i = 0; i < 600; i++)); do
        grep -q 'listening on' "$TMP/server.out" && break
        kill -0 "$pid" 2>/dev/null || { cat "$TMP/server.out" >&2; die "dynex-server --demo failed"; }
        sleep 0.1
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

empty_table() {
    case $BACKEND in
    sqlite) sqlite3 "${URL#sqlite://}" "PRAGMA foreign_keys=OFF; DELETE FROM $TABLE;" ;;
    postgres) pg "$DB_NAME" -c "TRUNCATE $TABLE CASCADE" >/dev/null ;;
    mysql) my -e "SET FOREIGN_KEY_CHECKS=0; DELETE FROM $TABLE; SET FOREIGN_KEY_CHECKS=1;" "$DB_NAME" ;;
    esac
}

mkdir -p "$OUT_DIR"
{
    echo "# dynex pipeline benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- machine: $(nproc) CPUs, $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "- $ROWS records in JSON pages of $PAGE from a local python3 http.server, mapped (5 fields) and upserted by sku into \`$ALIAS\`"
    echo "- reference: \`dynex import $ALIAS --mode upsert --key sku\` of the same rows as one CSV file into the empty table"
    echo
} >"$REPORT"

for BACKEND in "${BACKEND_LIST[@]}"; do
    log "[$BACKEND] database and demo catalog"
    setup_backend "$BACKEND"
    empty_table
    log "[$BACKEND] dynex import (reference)"
    timed "$CLI_BIN" --database-url "$URL" --json import "$ALIAS" "$TMP/rows.csv" --mode upsert --key sku
    [[ $(field inserted) == "$ROWS" ]] || die "[$BACKEND] dynex import wrote $(field inserted) rows"
    import_s=$SECONDS_TAKEN import_mb=$PEAK_MB
    empty_table
    "$CLI_BIN" --database-url "$URL" pipeline add "$TMP/bench.yml" >/dev/null
    log "[$BACKEND] dynex pipeline run (first run: every row new)"
    timed "$CLI_BIN" --database-url "$URL" --json pipeline run bench
    [[ $(field inserted) == "$ROWS" ]] || die "[$BACKEND] the pipeline wrote $(field inserted) rows"
    first_s=$SECONDS_TAKEN first_mb=$PEAK_MB
    log "[$BACKEND] dynex pipeline run (second run: nothing changed)"
    timed "$CLI_BIN" --database-url "$URL" --json pipeline run bench
    [[ $(field unchanged) == "$ROWS" ]] || die "[$BACKEND] the second run found $(field unchanged) rows unchanged"
    second_s=$SECONDS_TAKEN second_mb=$PEAK_MB
    import_rate=$(rate "$import_s")
    {
        echo "## $BACKEND"
        echo
        echo "| step | seconds | rows/s | ratio to import | peak RSS (MB) |"
        echo "| --- | ---: | ---: | ---: | ---: |"
        echo "| \`dynex import\` (CSV, upsert into the empty table) | $import_s | $import_rate | 1.00 | $import_mb |"
        echo "| pipeline, first run (all new) | $first_s | $(rate "$first_s") | $(ratio "$(rate "$first_s")" "$import_rate") | $first_mb |"
        echo "| pipeline, second run (all unchanged) | $second_s | $(rate "$second_s") | $(ratio "$(rate "$second_s")" "$import_rate") | $second_mb |"
        echo
    } >>"$REPORT"
    drop=("${DATABASES[@]}")
    DATABASES=()
    for d in "${drop[@]}"; do
        case $d in
        pg:*) pg postgres -c "DROP DATABASE IF EXISTS ${d#pg:} WITH (FORCE)" >/dev/null ;;
        my:*) my -e "DROP DATABASE IF EXISTS ${d#my:}" ;;
        esac
    done
done

cat "$REPORT"
log "written to $REPORT"

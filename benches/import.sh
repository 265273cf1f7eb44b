#!/usr/bin/env bash
# CSV import and export benchmark of the `dynex` CLI against each database's own CSV paths.
#
# What it does (see benches/README.md for how to read the results):
#   1. builds `dynex` and `dynex-server` in release mode (with the `mysql` feature when MariaDB
#      is benchmarked);
#   2. generates, outside any timing, ROWS (1,000,000) demo product abstracts as a CSV file with
#      the entity's visible names as header (sku, fk_tax_set, attributes, color_code,
#      created_at), and a second file of the same rows with every tenth color_code changed;
#   3. for each backend in BACKENDS (sqlite postgres mysql): creates a fresh database (a file in
#      a temporary directory, or a new PostgreSQL / MariaDB database) and loads the demo catalog
#      with `dynex-server --demo`;
#   4. baseline: the database's own loader into an empty copy of spy_product_abstract (same
#      columns, unique sku, foreign key to spy_tax_set) through a staging table: SQLite CLI
#      `.import --csv`, psql `\copy … FROM`, or `LOAD DATA LOCAL INFILE`, then one
#      `INSERT … SELECT` (insert) or `INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE` (upsert);
#   5. dynex: `dynex import product-abstracts` of the first file (insert) and of the second
#      (`--mode upsert --key sku`, 10% changed), timed, peak RSS measured with /usr/bin/time;
#      every run must report 0 rejected and the table is checked afterwards;
#   6. export: `dynex export product-abstracts -o …` against `sqlite3 -csv` / psql
#      `\copy (SELECT …) TO` / `mariadb -B`, all rows;
#   7. repeats 4–6 REPEAT (3) times, each run with emptied tables, and takes the median of
#      each step;
#   8. prints a Markdown table per backend (rows/s, ratio to the baseline, peak RSS) and writes
#      it to bench-out/import.md.
#
# Usage (from the repository root):
#   benches/import.sh
#   BACKENDS=sqlite ROWS=100000 benches/import.sh
#
# Environment:
#   BACKENDS     backends to benchmark, in order (default "sqlite postgres mysql")
#   ROWS         rows in the generated file (default 1000000)
#   BATCH        dynex import --batch-size (default 2500, dynex's own default)
#   REPEAT       runs of every step, alternating with its baseline; the median is reported
#                (default 3)
#   PG_HOST, PG_PORT, PG_USER, MYSQL_HOST, MYSQL_PORT, MYSQL_USER: the servers (defaults
#                127.0.0.1:5432 postgres, 127.0.0.1:3306 root); each run creates a database
#                and drops it
#   KEEP_TMP=1   keep the temporary directory
#
# Needs: cargo, python3, /usr/bin/time, and sqlite3, psql, mariadb (installed with apt-get when
# missing and running as root).
set -euo pipefail

BACKENDS=${BACKENDS:-"sqlite postgres mysql"}
ROWS=${ROWS:-1000000}
BATCH=${BATCH:-2500}
REPEAT=${REPEAT:-3}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
ALIAS=product-abstracts
TABLE=spy_product_abstract
COLUMNS="sku, fk_tax_set, attributes, color_code, created_at"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CLI_BIN=$TARGET_DIR/release/dynex
SERVER_BIN=$TARGET_DIR/release/dynex-server
OUT_DIR=$ROOT/bench-out
REPORT=$OUT_DIR/import.md

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer"
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer"
read -r -a BACKEND_LIST <<<"$BACKENDS"
has_backend() { [[ " $BACKENDS " == *" $1 "* ]]; }

missing=()
command -v python3 >/dev/null || missing+=(python3)
[[ -x /usr/bin/time ]] || missing+=(time)
has_backend sqlite && ! command -v sqlite3 >/dev/null && missing+=(sqlite3)
has_backend postgres && ! command -v psql >/dev/null && missing+=(postgresql-client)
has_backend mysql && ! command -v mariadb >/dev/null && missing+=(mariadb-client)
if command -v dpkg >/dev/null; then
    dpkg -s libpq-dev >/dev/null 2>&1 || missing+=(libpq-dev)
    has_backend mysql && ! dpkg -s libmariadb-dev >/dev/null 2>&1 && missing+=(libmariadb-dev)
fi
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "${missing[*]} required (apt-get install -y ${missing[*]})"
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null
fi

# Shell functions for untimed statements; timed runs name the client itself (/usr/bin/time
# runs programs, not functions).
pg() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$1" -v ON_ERROR_STOP=1 -X -q "${@:2}"; }
my() { mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP "$@"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynex-ibench.XXXXXX")
RUN_ID=$(printf '%s' "${TMP##*.}" | tr '[:upper:]' '[:lower:]' | tr -dc 'a-z0-9')
DATABASES=()
cleanup() {
    local rc=$? d
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

log "generating $ROWS rows"
python3 - "$TMP" "$ROWS" <<'PY'
import csv, json, sys
out, n = sys.argv[1], int(sys.argv[2])
cols = ["sku", "fk_tax_set", "attributes", "color_code", "created_at"]
def row(i, changed=False):
    color = "#%06X" % ((i * 40503) % 16777216)
    if changed and i % 10 == 0:
        color = "#%06X" % ((i * 7919) % 16777216)
    attrs = json.dumps({"brand": "Bench", "serial": i, "size": "SML"[i % 3]}, separators=(",", ":"))
    return [f"B{i:07d}", 1 + i % 2, attrs, color, "2026-01-02 03:04:05"]
for name, changed in (("rows.csv", False), ("changed.csv", True)):
    with open(f"{out}/{name}", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for i in range(1, n + 1):
            w.writerow(row(i, changed))
PY
tail -n +2 "$TMP/rows.csv" >"$TMP/rows-noheader.csv"
tail -n +2 "$TMP/changed.csv" >"$TMP/changed-noheader.csv"

# timed CMD...: runs CMD, sets SECONDS_TAKEN and PEAK_MB (peak resident set of CMD).
timed() {
    /usr/bin/time -f '%e %M' -o "$TMP/time.txt" "$@" >"$TMP/out.txt" 2>"$TMP/err.txt" || {
        cat "$TMP/out.txt" "$TMP/err.txt" >&2
        die "failed: $*"
    }
    read -r SECONDS_TAKEN kb <"$TMP/time.txt"
    PEAK_MB=$((kb / 1024))
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# Per backend: URL, a query runner and the baseline loaders.
setup_backend() {
    case $1 in
    sqlite)
        DB_FILE=$TMP/bench.db
        URL=sqlite://$DB_FILE
        ;;
    postgres)
        DB_NAME=dynex_ibench_$RUN_ID
        pg postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
        DATABASES+=("pg:$DB_NAME")
        URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB_NAME
        ;;
    mysql)
        DB_NAME=dynex_ibench_$RUN_ID
        my -e "CREATE DATABASE $DB_NAME" >/dev/null
        DATABASES+=("my:$DB_NAME")
        URL=mysql://$MYSQL_USER@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME
        ;;
    esac
    # The demo catalog (tables, data, configuration) through the server's --demo.
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

query() {
    case $BACKEND in
    sqlite) sqlite3 "$DB_FILE" "$1" ;;
    postgres) pg "$DB_NAME" -tAc "$1" ;;
    mysql) my -N -B -e "$1" "$DB_NAME" ;;
    esac
}

# Empties a table whose rows other demo tables reference (foreign keys off, or CASCADE).
empty_table() {
    case $BACKEND in
    sqlite) sqlite3 "$DB_FILE" "PRAGMA foreign_keys=OFF; DELETE FROM $1;" ;;
    postgres) pg "$DB_NAME" -c "TRUNCATE $1 CASCADE" >/dev/null ;;
    mysql) my -e "SET FOREIGN_KEY_CHECKS=0; DELETE FROM $1; SET FOREIGN_KEY_CHECKS=1;" "$DB_NAME" ;;
    esac
}

# baseline MODE FILE: the database's own loader into bench_copy (insert, or upsert by sku).
baseline() {
    local mode=$1 file=$2 merge
    case $BACKEND in
    sqlite)
        if [[ $mode == insert ]]; then merge=""; else
            merge="ON CONFLICT(sku) DO UPDATE SET fk_tax_set = excluded.fk_tax_set, attributes = excluded.attributes, color_code = excluded.color_code, created_at = excluded.created_at"
        fi
        cat >"$TMP/load.sql" <<SQL
PRAGMA foreign_keys = ON;
BEGIN;
CREATE TEMP TABLE staging (sku TEXT, fk_tax_set INTEGER, attributes TEXT, color_code TEXT, created_at TEXT);
.import --csv $file staging
INSERT INTO bench_copy ($COLUMNS) SELECT $COLUMNS FROM staging WHERE true $merge;
COMMIT;
SQL
        timed sqlite3 "$DB_FILE" ".read $TMP/load.sql"
        ;;
    postgres)
        if [[ $mode == insert ]]; then merge=""; else
            merge="ON CONFLICT (sku) DO UPDATE SET fk_tax_set = excluded.fk_tax_set, attributes = excluded.attributes, color_code = excluded.color_code, created_at = excluded.created_at"
        fi
        cat >"$TMP/load.sql" <<SQL
BEGIN;
CREATE TEMP TABLE staging (sku TEXT, fk_tax_set INTEGER, attributes TEXT, color_code TEXT, created_at TIMESTAMP) ON COMMIT DROP;
\\copy staging FROM '$file' WITH (FORMAT csv)
INSERT INTO bench_copy ($COLUMNS) SELECT $COLUMNS FROM staging $merge;
COMMIT;
SQL
        timed psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 -X -q -f "$TMP/load.sql"
        ;;
    mysql)
        if [[ $mode == insert ]]; then merge=""; else
            merge="ON DUPLICATE KEY UPDATE fk_tax_set = VALUES(fk_tax_set), attributes = VALUES(attributes), color_code = VALUES(color_code), created_at = VALUES(created_at)"
        fi
        cat >"$TMP/load.sql" <<SQL
CREATE TEMPORARY TABLE staging (sku VARCHAR(255), fk_tax_set INT, attributes TEXT, color_code VARCHAR(8), created_at DATETIME);
LOAD DATA LOCAL INFILE '$file' INTO TABLE staging FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\n';
START TRANSACTION;
INSERT INTO bench_copy ($COLUMNS) SELECT $COLUMNS FROM staging $merge;
COMMIT;
SQL
        timed mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP --local-infile=1 "$DB_NAME" -e "source $TMP/load.sql"
        ;;
    esac
}

# create_copy: bench_copy, the baseline's table, as a structural copy of $TABLE: the same
# columns, types, defaults, key, unique key, foreign key and secondary index (fk_tax_set), so
# that the baseline maintains what a dynex import maintains.
create_copy() {
    case $BACKEND in
    sqlite)
        local ddl
        ddl=$(sqlite3 "$DB_FILE" "SELECT sql || ';' FROM sqlite_master WHERE tbl_name = '$TABLE' AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type = 'index'")
        [[ $ddl == *"CREATE TABLE $TABLE "* ]] || die "[$BACKEND] cannot read the definition of $TABLE"
        # The table and index names (not the constraint names, which SQLite keeps per table).
        ddl=$(sed -E "s/^CREATE TABLE $TABLE /CREATE TABLE bench_copy /; s/^CREATE (UNIQUE )?INDEX ([A-Za-z0-9_]+) ON $TABLE /CREATE \1INDEX bench_\2 ON bench_copy /" <<<"$ddl")
        sqlite3 "$DB_FILE" "DROP TABLE IF EXISTS bench_copy; $ddl"
        ;;
    postgres)
        # LIKE … INCLUDING ALL copies everything but foreign keys.
        pg "$DB_NAME" -c "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE $TABLE INCLUDING ALL); ALTER TABLE bench_copy ADD FOREIGN KEY (fk_tax_set) REFERENCES spy_tax_set (id_tax_set);" >/dev/null
        ;;
    mysql)
        my -e "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy LIKE $TABLE; ALTER TABLE bench_copy ADD FOREIGN KEY (fk_tax_set) REFERENCES spy_tax_set (id_tax_set);" "$DB_NAME"
        ;;
    esac
}

# dynex_import ARGS...: times `dynex import`, checks the JSON summary reports no reject.
dynex_import() {
    timed "$CLI_BIN" --database-url "$URL" --json import "$ALIAS" "$@" --batch-size "$BATCH"
    grep -q '"rejected": 0' "$TMP/out.txt" || {
        cat "$TMP/out.txt" >&2
        die "dynex import rejected rows"
    }
    cp "$TMP/out.txt" "$TMP/last-summary.json"
}

export_baseline() {
    case $BACKEND in
    sqlite) timed sqlite3 -csv -header "$DB_FILE" "SELECT id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at FROM $TABLE ORDER BY id_product_abstract" ;;
    postgres) timed psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 -X -q -c "\\copy (SELECT id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at FROM $TABLE ORDER BY id_product_abstract) TO '$TMP/pg-export.csv' WITH (FORMAT csv, HEADER)" ;;
    mysql) timed mariadb -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP -B "$DB_NAME" -e "SELECT id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at FROM $TABLE ORDER BY id_product_abstract" ;;
    esac
}

mkdir -p "$OUT_DIR"
{
    echo "# dynex import/export benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- machine: $(nproc) CPUs, $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "- rows: $ROWS, dynex --batch-size $BATCH; upsert file: the same rows, every tenth color_code changed"
    echo "- each figure is the median of $REPEAT runs; peak RSS is the largest of them"
    echo
} >"$REPORT"

for BACKEND in "${BACKEND_LIST[@]}"; do
    log "[$BACKEND] preparing the database"
    setup_backend "$BACKEND"
    # Each step runs REPEAT times, alternating with its baseline, and the median counts: a
    # shared machine moves single runs by a tenth.
    base_inserts=() base_upserts=() base_exports=() dx_inserts=() dx_upserts=() dx_exports=()
    mem_insert=0 mem_upsert=0 mem_export=0
    for ((run = 1; run <= REPEAT; run++)); do
        log "[$BACKEND] run $run of $REPEAT: baseline"
        empty_table "$TABLE"
        create_copy
        baseline insert "$TMP/rows-noheader.csv"
        base_inserts+=("$SECONDS_TAKEN")
        baseline upsert "$TMP/changed-noheader.csv"
        base_upserts+=("$SECONDS_TAKEN")
        [[ $(query "SELECT COUNT(*) FROM bench_copy") == "$ROWS" ]] || die "[$BACKEND] baseline row count"
        # The copy is not needed any more: the database is the same size for dynex as it was
        # for the baseline.
        query "DROP TABLE bench_copy" >/dev/null

        log "[$BACKEND] run $run of $REPEAT: dynex import (insert)"
        dynex_import "$TMP/rows.csv"
        dx_inserts+=("$SECONDS_TAKEN")
        ((PEAK_MB > mem_insert)) && mem_insert=$PEAK_MB
        [[ $(query "SELECT COUNT(*) FROM $TABLE") == "$ROWS" ]] || die "[$BACKEND] dynex row count"
        log "[$BACKEND] run $run of $REPEAT: dynex import (upsert by sku, 10% changed)"
        dynex_import "$TMP/changed.csv" --mode upsert --key sku
        dx_upserts+=("$SECONDS_TAKEN")
        ((PEAK_MB > mem_upsert)) && mem_upsert=$PEAK_MB
        grep -q "\"updated\": $((ROWS / 10))" "$TMP/last-summary.json" || {
            cat "$TMP/last-summary.json" >&2
            die "[$BACKEND] upsert did not update exactly 10% of the rows"
        }

        log "[$BACKEND] run $run of $REPEAT: export"
        export_baseline
        base_exports+=("$SECONDS_TAKEN")
        timed "$CLI_BIN" --database-url "$URL" export "$ALIAS" -o "$TMP/dynex-export.csv"
        dx_exports+=("$SECONDS_TAKEN")
        ((PEAK_MB > mem_export)) && mem_export=$PEAK_MB
    done
    log "[$BACKEND] seconds per run (baseline / dynex): insert ${base_inserts[*]} / ${dx_inserts[*]}; upsert ${base_upserts[*]} / ${dx_upserts[*]}; export ${base_exports[*]} / ${dx_exports[*]}"
    base_insert=$(median "${base_inserts[@]}")
    base_upsert=$(median "${base_upserts[@]}")
    base_export=$(median "${base_exports[@]}")
    dx_insert=$(median "${dx_inserts[@]}")
    dx_upsert=$(median "${dx_upserts[@]}")
    dx_export=$(median "${dx_exports[@]}")

    {
        echo "## $BACKEND"
        echo
        echo "| operation | dynex rows/s | baseline rows/s | ratio | dynex peak RSS |"
        echo "| --- | ---: | ---: | ---: | ---: |"
        echo "| import, insert into an empty table | $(rate "$dx_insert") | $(rate "$base_insert") | $(ratio "$(rate "$dx_insert")" "$(rate "$base_insert")") | $mem_insert MB |"
        echo "| import, upsert by sku (10% changed) | $(rate "$dx_upsert") | $(rate "$base_upsert") | $(ratio "$(rate "$dx_upsert")" "$(rate "$base_upsert")") | $mem_upsert MB |"
        echo "| export, all rows | $(rate "$dx_export") | $(rate "$base_export") | $(ratio "$(rate "$dx_export")" "$(rate "$base_export")") | $mem_export MB |"
        echo
    } >>"$REPORT"
done
{
    echo "Baselines: SQLite CLI \`.import --csv\` / psql \`\\copy\` / \`LOAD DATA LOCAL INFILE\` into a staging"
    echo "table and one \`INSERT … SELECT\` (upsert: \`ON CONFLICT\` / \`ON DUPLICATE KEY UPDATE\`) into a copy of"
    echo "the table with the same unique key and foreign key, no validation; export: \`sqlite3 -csv\`, psql"
    echo "\`\\copy (SELECT …) TO\`, \`mariadb -B\`. ratio = dynex rows/s / baseline rows/s."
} >>"$REPORT"
cat "$REPORT"

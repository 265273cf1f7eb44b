#!/usr/bin/env bash
# Bulk-write benchmark of dynex-server against each database's own bulk-load path.
#
# What it does (see benches/README.md for how to read the results):
#   1. builds `dynex-server` in release mode (with the `mysql` feature when MariaDB is benchmarked);
#   2. generates, outside any timing, ROWS (100,000) demo product abstracts (skus bench-000001…)
#      as JSON request bodies of BATCH (1,000) rows, plus the same rows as CSV and as multi-row
#      INSERT statements for the baselines;
#   3. for each backend in BACKENDS (sqlite postgres mysql): creates a fresh database (a file in
#      a temporary directory, or a new PostgreSQL / MariaDB database), starts
#      `dynex-server --demo` on it (demo catalog + an API key, parsed from stdout) and waits for
#      /health/ready;
#   4. baseline: creates an empty copy of spy_product_abstract (same columns, unique sku, index
#      and foreign key to spy_tax_set) and times the database's own bulk path into it: SQLite CLI
#      `.import --csv`, psql `\copy … FROM … CSV`, or the `mariadb` client running the
#      multi-row INSERTs; then drops the copy;
#   5. times three HTTP phases against /dynamic-entity/product-abstracts, CLIENTS requests in
#      flight (curl --parallel): create (POST, expects 201; the responses give the generated ids),
#      update (PATCH color_code + attributes by id, expects 200) and upsert (PUT full rows with
#      their ids, expects 200). Every status is checked, and the table is checked after each
#      phase (row count, changed values) with the database's own client;
#   6. prints machine facts and a Markdown table per backend (rows/s and the ratio to the
#      baseline's rows/s) and writes the same report to bench-out/write.md. The server is stopped
#      and the databases are dropped on exit.
#
# Usage (from the repository root):
#   benches/write.sh
#   BACKENDS=sqlite ROWS=20000 benches/write.sh
#   CLIENTS=8 BATCH=500 BACKENDS="postgres mysql" benches/write.sh
#
# Environment:
#   BACKENDS       backends to benchmark, in order (default "sqlite postgres mysql")
#   ROWS           rows written by each phase (default 100000)
#   BATCH          rows per HTTP request and per baseline INSERT statement (default 1000)
#   CLIENTS        HTTP requests in flight (default 4)
#   WORKERS        HTTP workers of dynex-server (default: unset = one per CPU)
#   POOL_SIZE      database connections of dynex-server (default: unset = its own default)
#   PG_HOST, PG_PORT, PG_USER, PG_PASSWORD
#                  PostgreSQL server (default 127.0.0.1, 5432, postgres, none). The user must be
#                  allowed to create databases; each run creates dynex_wbench_* and drops it.
#   MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD
#                  MariaDB/MySQL server (default 127.0.0.1, 3306, root, none); same as above.
#   RUST_LOG       passed to dynex-server (default: its own, `info`, one log line per request)
#   KEEP_TMP=1     keep the temporary directory (bodies, responses, SQLite database, logs)
#   FOLLOW=1       a stored pipeline's `changes` source follows product-abstracts, so every
#                  write also records its change events (the cost of events); the server runs
#                  with --scheduler off, and the event count is checked after each phase
#
# Needs: cargo, curl (7.66+, for --parallel), python3, and the client of each backend: sqlite3,
# psql, mariadb (installed with apt-get if missing and running as root, as are the libpq /
# libmariadb headers the build needs).
set -euo pipefail

BACKENDS=${BACKENDS:-"sqlite postgres mysql"}
ROWS=${ROWS:-100000}
BATCH=${BATCH:-1000}
CLIENTS=${CLIENTS:-4}
FOLLOW=${FOLLOW:-0}
WORKERS=${WORKERS:-}
POOL_SIZE=${POOL_SIZE:-}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
PG_PASSWORD=${PG_PASSWORD:-}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
MYSQL_PASSWORD=${MYSQL_PASSWORD:-}
PREFIX=dynamic-entity
ALIAS=product-abstracts
TABLE=spy_product_abstract
COPY_TABLE=bench_product_abstract
MAX_BODY_BYTES=67108864

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_BIN=$TARGET_DIR/release/dynex-server
OUT_DIR=$ROOT/bench-out
REPORT=$OUT_DIR/write.md

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Settings

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
is_count "$ROWS" || die "ROWS must be a positive integer (got '$ROWS')"
is_count "$BATCH" || die "BATCH must be a positive integer (got '$BATCH')"
is_count "$CLIENTS" || die "CLIENTS must be a positive integer (got '$CLIENTS')"
[[ -z $WORKERS ]] || is_count "$WORKERS" || die "WORKERS must be a positive integer (got '$WORKERS')"
[[ -z $POOL_SIZE ]] || is_count "$POOL_SIZE" || die "POOL_SIZE must be a positive integer (got '$POOL_SIZE')"
read -r -a BACKEND_LIST <<<"$BACKENDS"
((${#BACKEND_LIST[@]})) || die "BACKENDS is empty (choose from: sqlite postgres mysql)"
declare -A seen=()
for b in "${BACKEND_LIST[@]}"; do
    case $b in
    sqlite | postgres | mysql) ;;
    *) die "unknown backend '$b' in BACKENDS (choose from: sqlite postgres mysql)" ;;
    esac
    [[ -z ${seen[$b]:-} ]] || die "backend '$b' appears twice in BACKENDS"
    seen[$b]=1
done
has_backend() { [[ -n ${seen[$1]:-} ]]; }

# ---------------------------------------------------------------------------------------------
# Tools

command -v cargo >/dev/null || die "cargo is required"
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
has_backend sqlite && ! command -v sqlite3 >/dev/null && missing+=(sqlite3)
has_backend postgres && ! command -v psql >/dev/null && missing+=(postgresql-client)
if has_backend mysql && ! command -v mariadb >/dev/null && ! command -v mysql >/dev/null; then
    missing+=(mariadb-client)
fi
# Headers and libraries the build links against: libpq (default `postgres` feature) and
# libmariadb (`mysql` feature).
if command -v dpkg >/dev/null; then
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    dpkg -s libpq-dev >/dev/null 2>&1 || missing+=(libpq-dev)
    if has_backend mysql && ! dpkg -s libmariadb-dev >/dev/null 2>&1; then
        missing+=(libmariadb-dev libmariadb-dev-compat)
    fi
fi
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "${missing[*]} required (apt-get install -y ${missing[*]})"
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${missing[@]}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
MYSQL_CLIENT=$(command -v mariadb || command -v mysql || true)
curl_version=$(curl --version | awk 'NR == 1 { print $2 }')
[[ $(printf '%s\n' 7.66.0 "$curl_version" | sort -V | head -n1) == 7.66.0 ]] ||
    die "curl $curl_version is too old: --parallel needs 7.66 or later"

# ---------------------------------------------------------------------------------------------
# Database clients

[[ -n $PG_PASSWORD ]] && export PGPASSWORD=$PG_PASSWORD
[[ -n $MYSQL_PASSWORD ]] && export MYSQL_PWD=$MYSQL_PASSWORD

pg() { # pg DATABASE ARGS...: psql, stop on the first error, quiet
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$1" -v ON_ERROR_STOP=1 -X -q "${@:2}"
}
my() { # my [DATABASE] ARGS...: the mariadb client, stop on the first error
    "$MYSQL_CLIENT" -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP "$@"
}
sq() { # sq ARGS...: sqlite3 on the benchmark database, waiting for the server's locks
    sqlite3 -cmd '.timeout 10000' "$SQLITE_DB" "$@"
}

# db_query BACKEND SQL: one value
db_query() {
    case $1 in
    sqlite) sq "$2" ;;
    postgres) pg "$DB_NAME" -tAc "$2" ;;
    mysql) my -N -B -e "$2" "$DB_NAME" ;;
    esac
}

# db_exec BACKEND SQL: statements, no output
db_exec() {
    case $1 in
    sqlite) sq "$2" >/dev/null ;;
    postgres) pg "$DB_NAME" -c "$2" >/dev/null ;;
    mysql) my -e "$2" "$DB_NAME" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Processes and clean-up

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynex-wbench.XXXXXX")
RUN_ID=$(printf '%s_%s' "$$" "${TMP##*.}" | tr '[:upper:]' '[:lower:]' | tr -dc 'a-z0-9_')
SERVER_PID=
PG_DATABASES=()
MYSQL_DATABASES=()

stop() { # stop PID: SIGTERM, then SIGKILL after 10 s
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

drop_databases() {
    local d
    for d in "${PG_DATABASES[@]}"; do
        pg postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 ||
            log "warning: could not drop PostgreSQL database $d"
    done
    PG_DATABASES=()
    for d in "${MYSQL_DATABASES[@]}"; do
        my -e "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1 ||
            log "warning: could not drop MariaDB database $d"
    done
    MYSQL_DATABASES=()
}

cleanup() {
    local rc=$?
    stop "$SERVER_PID"
    drop_databases
    if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
        log "temporary files kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { # first port from $1 upwards that nobody listens on
    local p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
        p=$((p + 1))
    done
    echo "$p"
}

wait_ready() { # wait_ready URL PID LOGFILE: until URL answers 200, or the process died
    local url=$1 pid=$2 logfile=$3 i code
    for ((i = 0; i < 600; i++)); do
        code=$(curl -sS -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
        [[ $code == 200 ]] && return 0
        kill -0 "$pid" 2>/dev/null || {
            cat "$logfile" >&2
            die "server exited before $url answered 200"
        }
        sleep 0.1
    done
    cat "$logfile" >&2
    die "$url did not answer 200 within 60 s (last status: ${code:-none})"
}

# ---------------------------------------------------------------------------------------------
# Build

features=()
has_backend mysql && features=(--features mysql)
log "building (release): dynex-server ${features[*]}"
cargo build --release -p dynex-server "${features[@]}"
[[ -x $SERVER_BIN ]] || die "$SERVER_BIN not found"

server_args=()
[[ -n $WORKERS ]] && server_args+=(--workers "$WORKERS")
[[ -n $POOL_SIZE ]] && server_args+=(--pool-size "$POOL_SIZE")
[[ $FOLLOW == 1 ]] && server_args+=(--scheduler off)
server_help=$("$SERVER_BIN" --help 2>&1) || {
    printf '%s\n' "$server_help" >&2
    die "$SERVER_BIN --help failed"
}
if [[ $server_help == *--max-body-bytes* ]]; then
    server_args+=(--max-body-bytes "$MAX_BODY_BYTES")
    BODY_LIMIT="--max-body-bytes $MAX_BODY_BYTES"
else
    log "warning: this dynex-server has no --max-body-bytes; running with its default body limit"
    BODY_LIMIT="server default (no --max-body-bytes)"
fi

# ---------------------------------------------------------------------------------------------
# Data, generated once for every backend (not timed)

cat >"$TMP/gen.py" <<'PY'
"""Request bodies and baseline files of the write benchmark (see benches/write.sh)."""
import csv
import json
import os
import sys

COLORS = ["red", "green", "blue", "black", "white"]
SIZES = ["S", "M", "L", "XL"]
CREATED = "2026-01-02 03:04:05"
UPDATED = "2026-02-03 04:05:06"


def attributes(i, rev):
    return json.dumps(
        {"color": COLORS[i % 5], "size": SIZES[i % 4], "serial": i, "rev": rev},
        separators=(",", ":"),
    )


def row(i):
    """Row i (1-based) as created: every column set, so CSV and SQL need no NULLs."""
    return {
        "sku": f"bench-{i:06d}",
        "fk_tax_set": 1 + i % 2,
        "attributes": attributes(i, 1),
        "color_code": "#%06X" % ((i * 40503) % 16777216),
        "created_at": CREATED,
        "updated_at": CREATED,
    }


def write_bodies(directory, rows, batch):
    os.makedirs(directory, exist_ok=True)
    for n, start in enumerate(range(0, len(rows), batch), 1):
        with open(os.path.join(directory, f"req-{n:05d}.json"), "w") as f:
            json.dump({"data": rows[start : start + batch]}, f, separators=(",", ":"))


def sql_literal(v):
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"


def create(out, nrows, batch):
    rows = [row(i) for i in range(1, nrows + 1)]
    write_bodies(os.path.join(out, "create"), rows, batch)
    cols = ["sku", "fk_tax_set", "attributes", "color_code", "created_at", "updated_at"]
    # PostgreSQL: COPY with a column list, ids from the identity.
    with open(os.path.join(out, "rows.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for r in rows:
            w.writerow([r[c] for c in cols])
    # SQLite: .import fills every column of an existing table, so ids 1..ROWS come first
    # (what SQLite assigns to an empty table anyway).
    with open(os.path.join(out, "rows-with-ids.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for i, r in enumerate(rows, 1):
            w.writerow([i] + [r[c] for c in cols])
    # MariaDB: one multi-row INSERT per batch, autocommit (one transaction per statement).
    with open(os.path.join(out, "inserts.sql"), "w") as f:
        for start in range(0, nrows, batch):
            f.write(f"INSERT INTO bench_product_abstract ({', '.join(cols)}) VALUES\n")
            f.write(
                ",\n".join(
                    "(" + ", ".join(sql_literal(r[c]) for c in cols) + ")"
                    for r in rows[start : start + batch]
                )
            )
            f.write(";\n")


def after_create(responses, out, nrows, batch):
    """Update and upsert bodies from the ids in the create responses."""
    ids = {}
    files = sorted(os.listdir(responses))
    for name in files:
        path = os.path.join(responses, name)
        try:
            with open(path) as f:
                body = json.load(f)
            for r in body["data"]:
                ids[r["sku"]] = int(r["id_product_abstract"])
        except (ValueError, KeyError, TypeError) as e:
            with open(path) as f:
                head = f.read(500)
            sys.exit(f"{path}: not a {{\"data\": [rows with sku and id_product_abstract]}} "
                     f"answer ({e!r}): {head}")
    rows = [row(i) for i in range(1, nrows + 1)]
    missing = [r["sku"] for r in rows if r["sku"] not in ids]
    if missing:
        sys.exit(f"the create responses carry no id for {len(missing)} of {nrows} skus "
                 f"(first: {missing[0]}); got {len(ids)} ids from {len(files)} responses")
    updates = [
        {"id_product_abstract": ids[r["sku"]], "color_code": "c2", "attributes": attributes(i, 2)}
        for i, r in enumerate(rows, 1)
    ]
    upserts = [
        {
            "id_product_abstract": ids[r["sku"]],
            **r,
            "attributes": attributes(i, 3),
            "color_code": "c3",
            "updated_at": UPDATED,
        }
        for i, r in enumerate(rows, 1)
    ]
    write_bodies(os.path.join(out, "update"), updates, batch)
    write_bodies(os.path.join(out, "upsert"), upserts, batch)


if __name__ == "__main__":
    if sys.argv[1] == "create":
        create(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        after_create(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
PY

DATA=$TMP/data
log "generating $ROWS rows: JSON bodies of $BATCH rows, CSV and multi-row INSERTs"
python3 "$TMP/gen.py" create "$DATA" "$ROWS" "$BATCH"
REQUESTS=$(find "$DATA/create" -name 'req-*.json' | wc -l | tr -d ' ')
log "$REQUESTS requests, $(du -sh "$DATA/create" | cut -f1) of JSON per phase"

# ---------------------------------------------------------------------------------------------
# Measurements

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

expect_value() { # expect_value BACKEND WHAT SQL EXPECTED
    local got
    got=$(db_query "$1" "$3")
    [[ $got == "$4" ]] || {
        FAILURE="$2: expected $4, the database says ${got:-nothing}"
        log "$1: $FAILURE"
        return 1
    }
}

# baseline BACKEND: the database's own bulk path into an empty copy of the table; sets SECONDS_
baseline() {
    local backend=$1 t0 t1
    case $backend in
    sqlite)
        # Same DDL under another name (table, its index, its foreign key); the UNIQUE on sku
        # comes with the table.
        sq "SELECT sql || ';' FROM sqlite_master WHERE tbl_name = '$TABLE' AND sql IS NOT NULL" |
            sed "s/$TABLE/$COPY_TABLE/g" | sq
        t0=$(now)
        sq >/dev/null <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
.import --csv $DATA/rows-with-ids.csv $COPY_TABLE
SQL
        t1=$(now)
        ;;
    postgres)
        pg "$DB_NAME" <<SQL
CREATE TABLE $COPY_TABLE (LIKE $TABLE INCLUDING ALL);
ALTER TABLE $COPY_TABLE ADD CONSTRAINT fk_${COPY_TABLE}_tax_set
    FOREIGN KEY (fk_tax_set) REFERENCES spy_tax_set (id_tax_set);
SQL
        t0=$(now)
        pg "$DB_NAME" -c "\\copy $COPY_TABLE (sku, fk_tax_set, attributes, color_code, created_at, updated_at) FROM '$DATA/rows.csv' WITH (FORMAT csv)"
        t1=$(now)
        ;;
    mysql)
        my "$DB_NAME" <<SQL
CREATE TABLE $COPY_TABLE LIKE $TABLE;
ALTER TABLE $COPY_TABLE ADD CONSTRAINT fk_${COPY_TABLE}_tax_set
    FOREIGN KEY (fk_tax_set) REFERENCES spy_tax_set (id_tax_set);
SQL
        t0=$(now)
        my "$DB_NAME" <"$DATA/inserts.sql"
        t1=$(now)
        ;;
    esac
    SECONDS_=$(elapsed "$t0" "$t1")
    expect_value "$backend" "rows in the baseline copy" "SELECT COUNT(*) FROM $COPY_TABLE" "$ROWS" ||
        die "$backend: baseline: $FAILURE"
    db_exec "$backend" "DROP TABLE $COPY_TABLE"
}

# http_phase NAME METHOD EXPECTED_STATUS DIR: every body DIR/req-*.json, CLIENTS at a time,
# answers in $WORK/NAME-responses; sets SECONDS_, or FAILURE and returns 1
http_phase() {
    local name=$1 method=$2 want=$3 dir=$4 resp=$WORK/$1-responses
    local cfg=$WORK/$1.curlrc statuses=$WORK/$1.status url t0 t1 rc f first=1
    local n bad code file
    url="http://127.0.0.1:$PORT/$PREFIX/$ALIAS"
    mkdir -p "$resp"
    : >"$cfg"
    for f in "$dir"/req-*.json; do
        ((first)) || echo next >>"$cfg"
        first=0
        cat >>"$cfg" <<CFG
no-progress-meter
show-error
url = "$url"
request = "$method"
header = "X-Api-Key: $API_KEY"
header = "Content-Type: application/json"
data-binary = "@$f"
output = "$resp/$(basename "$f")"
write-out = "%{http_code} %{filename_effective}\\n"
CFG
    done
    n=$(find "$dir" -name 'req-*.json' | wc -l | tr -d ' ')
    t0=$(now)
    rc=0
    curl -sS --parallel --parallel-max "$CLIENTS" --config "$cfg" >"$statuses" 2>"$WORK/$name.curl.err" || rc=$?
    t1=$(now)
    SECONDS_=$(elapsed "$t0" "$t1")

    bad=$(awk -v want="$want" '$1 != want' "$statuses" | wc -l | tr -d ' ')
    if ((bad == 0 && rc == 0)) && [[ $(wc -l <"$statuses" | tr -d ' ') == "$n" ]]; then
        return 0
    fi
    code=
    ((bad)) && read -r code file < <(awk -v want="$want" '$1 != want' "$statuses" | head -n1)
    if [[ -n $code && $code != 000 ]]; then
        FAILURE="$method /$PREFIX/$ALIAS: $bad of $n requests failed, expected HTTP $want, got HTTP $code"
        {
            printf 'error: %s: %s\n' "$BACKEND" "$FAILURE"
            printf 'summary of statuses: %s\n' "$(awk '{ print $1 }' "$statuses" | sort | uniq -c | awk '{ printf "%s x HTTP %s; ", $1, $2 }')"
            printf 'response body of %s:\n' "$(basename "$file")"
            head -c 4000 "$file"
            echo
        } >&2
    else
        FAILURE="$method /$PREFIX/$ALIAS: curl exited with status $rc; $bad of $n requests got no HTTP answer"
        {
            printf 'error: %s: %s\n' "$BACKEND" "$FAILURE"
            head -c 4000 "$WORK/$name.curl.err"
        } >&2
    fi
    return 1
}

declare -A RESULT_ROWS=() FAILED=() VERSIONS=() BASE_SECONDS=()

record() { # record PHASE REQUESTS SECONDS
    RESULT_ROWS[$BACKEND]+="$1 $2 $ROWS $3"$'\n'
    log "$BACKEND $1: $ROWS rows in $3 s = $(per_second "$ROWS" "$3") rows/s"
}

# A failed HTTP phase or check (status, row count, values) is recorded for its backend, which
# skips its remaining phases; the run goes on with the next backend and exits with status 1
# after the report. Inside `cmd || …` set -e is off, so http_phase and expect_value test every
# step themselves and return 1 with FAILURE set. Any other error stops the whole run.
failed() {
    FAILED[$BACKEND]=$FAILURE
    log "$BACKEND: skipping the remaining phases"
}

# run_backend BACKEND: everything for one backend; a failed phase is recorded in FAILED
run_backend() {
    local url
    BACKEND=$1
    WORK=$TMP/$BACKEND
    mkdir -p "$WORK"
    DB_NAME=dynex_wbench_${RUN_ID}
    case $BACKEND in
    sqlite)
        SQLITE_DB=$WORK/bench.db
        url=sqlite://$SQLITE_DB
        VERSIONS[$BACKEND]="SQLite $(sqlite3 --version | cut -d' ' -f1)"
        ;;
    postgres)
        pg postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
        PG_DATABASES+=("$DB_NAME")
        url="postgres://$PG_USER${PG_PASSWORD:+:$PG_PASSWORD}@$PG_HOST:$PG_PORT/$DB_NAME"
        VERSIONS[$BACKEND]="PostgreSQL $(pg "$DB_NAME" -tAc 'SHOW server_version')"
        ;;
    mysql)
        my -e "CREATE DATABASE $DB_NAME" >/dev/null
        MYSQL_DATABASES+=("$DB_NAME")
        url="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
        VERSIONS[$BACKEND]="MariaDB $(my -N -B -e 'SELECT VERSION()')"
        ;;
    esac

    PORT=$(free_port 18090)
    log "$BACKEND: loading the demo catalog and starting dynex-server on 127.0.0.1:$PORT"
    "$SERVER_BIN" --demo --database-url "$url" --bind "127.0.0.1:$PORT" "${server_args[@]}" \
        >"$WORK/dynex.out" 2>"$WORK/dynex.log" &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:$PORT/health/ready" "$SERVER_PID" "$WORK/dynex.log"
    API_KEY=$(sed -n 's/^API key .*(shown once.*): \(dnx_[A-Za-z0-9_-]*\)$/\1/p' "$WORK/dynex.out" | head -n1)
    [[ -n $API_KEY ]] || {
        cat "$WORK/dynex.out" "$WORK/dynex.log" >&2
        die "$BACKEND: no API key in the output of dynex-server --demo"
    }
    DEMO_ROWS=$(db_query "$BACKEND" "SELECT COUNT(*) FROM $TABLE")
    if [[ $FOLLOW == 1 ]]; then
        # A stored pipeline whose `changes` source follows the entity: every write records its
        # change events. The server runs no pipeline (--scheduler off), so only writes are timed.
        log "$BACKEND: a changes pipeline follows product-abstracts"
        db_exec "$BACKEND" "INSERT INTO dynex_pipeline (name, definition, created_at_ms, updated_at_ms) VALUES ('bench-follow', 'name: bench-follow
source: { changes: { entities: [product-abstracts] } }
map: { fields: { id: \$.identifier } }
target: { csv: { file: /tmp/bench-follow.csv } }
', 0, 0); UPDATE dynex_state SET version = version + 1 WHERE name = 'config'"
        # The server's configuration watcher reloads within seconds.
        sleep 5
    fi

    log "$BACKEND: baseline, the database's own bulk path"
    baseline "$BACKEND"
    BASE_SECONDS[$BACKEND]=$SECONDS_
    record baseline - "$SECONDS_"

    log "$BACKEND: create, POST $REQUESTS x $BATCH rows, $CLIENTS in flight"
    http_phase create POST 201 "$DATA/create" || { failed; return 0; }
    expect_value "$BACKEND" "rows after create" \
        "SELECT COUNT(*) FROM $TABLE" "$((DEMO_ROWS + ROWS))" || { failed; return 0; }
    expect_value "$BACKEND" "bench rows as sent after create" \
        "SELECT COUNT(*) FROM $TABLE WHERE sku LIKE 'bench-%' AND color_code LIKE '#%'" "$ROWS" ||
        { failed; return 0; }
    record create "$REQUESTS" "$SECONDS_"
    if [[ $FOLLOW == 1 ]]; then
        expect_value "$BACKEND" "change events after create" \
            "SELECT COUNT(*) FROM dynex_change" "$((ROWS))" || { failed; return 0; }
    fi

    python3 "$TMP/gen.py" after-create "$WORK/create-responses" "$WORK" "$ROWS" "$BATCH" || {
        FAILURE="the create responses do not carry the generated ids (see above)"
        failed
        return 0
    }

    log "$BACKEND: update, PATCH $REQUESTS x $BATCH rows (color_code, attributes), $CLIENTS in flight"
    http_phase update PATCH 200 "$WORK/update" || { failed; return 0; }
    expect_value "$BACKEND" "rows with color_code c2 after update" \
        "SELECT COUNT(*) FROM $TABLE WHERE color_code = 'c2'" "$ROWS" || { failed; return 0; }
    record update "$REQUESTS" "$SECONDS_"
    if [[ $FOLLOW == 1 ]]; then
        expect_value "$BACKEND" "change events after update" \
            "SELECT COUNT(*) FROM dynex_change" "$((2 * ROWS))" || { failed; return 0; }
    fi

    log "$BACKEND: upsert, PUT $REQUESTS x $BATCH full rows with ids, $CLIENTS in flight"
    http_phase upsert PUT 200 "$WORK/upsert" || { failed; return 0; }
    expect_value "$BACKEND" "rows after upsert" \
        "SELECT COUNT(*) FROM $TABLE" "$((DEMO_ROWS + ROWS))" || { failed; return 0; }
    expect_value "$BACKEND" "rows with color_code c3 and the new updated_at after upsert" \
        "SELECT COUNT(*) FROM $TABLE WHERE color_code = 'c3' AND updated_at = '2026-02-03 04:05:06'" \
        "$ROWS" || { failed; return 0; }
    record upsert "$REQUESTS" "$SECONDS_"
    if [[ $FOLLOW == 1 ]]; then
        expect_value "$BACKEND" "change events after upsert" \
            "SELECT COUNT(*) FROM dynex_change" "$((3 * ROWS))" || { failed; return 0; }
    fi
}

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
for backend in "${BACKEND_LIST[@]}"; do
    run_backend "$backend"
    stop "$SERVER_PID"
    SERVER_PID=
    drop_databases
done

# ---------------------------------------------------------------------------------------------
# Report

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown && -n $(git status --porcelain 2>/dev/null) ]]; then
    commit="$commit (uncommitted changes)"
fi
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB RAM", $2 / 1048576; exit }' /proc/meminfo 2>/dev/null || true)
report=$TMP/write.md
{
    echo "# dynex write benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- commit: $commit"
    echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}, ${mem:-unknown RAM}; load average before the run: $LOADAVG"
    echo "- knobs: ROWS=$ROWS BATCH=$BATCH CLIENTS=$CLIENTS (requests in flight), $REQUESTS requests per phase"
    echo "- dynex-server: HTTP workers ${WORKERS:-one per CPU}, pool ${POOL_SIZE:-default}, body limit: $BODY_LIMIT; client curl $curl_version on the same machine"
    for backend in "${BACKEND_LIST[@]}"; do
        [[ -n ${VERSIONS[$backend]:-} ]] || continue
        echo
        echo "## $backend (${VERSIONS[$backend]})"
        echo
        echo "| phase | requests | rows | seconds | rows/s | ratio |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: |"
        base_rps=0
        [[ -n ${BASE_SECONDS[$backend]:-} ]] && base_rps=$(per_second "$ROWS" "${BASE_SECONDS[$backend]}")
        while read -r phase requests rows seconds; do
            [[ -n $phase ]] || continue
            rps=$(per_second "$rows" "$seconds")
            label=$phase
            [[ $phase == baseline ]] && case $backend in
                sqlite) label="baseline: sqlite3 .import --csv" ;;
                postgres) label="baseline: psql \\copy … CSV" ;;
                mysql) label="baseline: mariadb, INSERT of $BATCH rows" ;;
                esac
            echo "| $label | $requests | $rows | $seconds | $rps | $(ratio "$rps" "$base_rps") |"
        done <<<"${RESULT_ROWS[$backend]:-}"
        if [[ -n ${FAILED[$backend]:-} ]]; then
            echo
            echo "**FAILED**: ${FAILED[$backend]}"
        fi
    done
    echo
    echo "ratio = rows/s ÷ the baseline's rows/s on the same backend (1.00 = as fast as the"
    echo "database's own bulk insert). Update and upsert are compared with the same insert baseline."
} >"$report"
mkdir -p "$OUT_DIR"
cp "$report" "$REPORT"
echo
cat "$report"
echo
log "written to ${REPORT#"$ROOT"/}"
if ((${#FAILED[@]})); then
    die "failed on: ${!FAILED[*]} (see above)"
fi

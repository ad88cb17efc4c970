#!/usr/bin/env bash
# What a `reconcile` check costs on the benchmark table daily_bars (1,000,000 rows by
# default, built by transform_data.sh), MariaDB against PostgreSQL, next to the time it
# takes to read both tables once:
#
#   read_both      mysql --quick --batch SELECT * > /dev/null and psql \copy (SELECT *) TO
#                  /dev/null, at the same time: reading both tables once, the issue's yardstick
#   read_mysql     the MariaDB read alone
#   read_pg        the PostgreSQL read alone
#   pw_equal       reconcile on key id, both tables equal: range checksums, no row read
#   pw_few         reconcile on key id, the MariaDB copy differs by one changed value, one
#                  missing row and one extra row: range checksums, then three ranges read
#   pw_whole       reconcile on key (symbol, trade_date), equal: a key of two columns, so no
#                  key ranges but one checksum of each whole table, no row read
#   pw_whole_few   reconcile on key (symbol, trade_date), the copy with three differences:
#                  the checksums differ, so both tables are read whole and merged
#
# pipewright is the release binary (`cargo build --release` first; PIPEWRIGHT overrides its
# path). Each case runs RUNS times (default 3), interleaved, and the median wall clock is
# reported, with pipewright's peak RSS. Every pipewright run's outcome is checked (exit
# code, differences found), so a wrong answer fails the script rather than a fast number.
#
# Usage: bash benches/reconcile_reference.sh [ROWS]      (ROWS defaults to 1000000)
# Writes the markdown report to stdout and to benches/results/reconcile.md (PW_REF_OUT
# overrides the path). Creates, and drops at the end, the MariaDB database
# pw_bench_reconcile (the copy that differs).
#
# Environment: RUNS (3), PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres),
# MYSQL_HOST (127.0.0.1) MYSQL_PORT (3306) MYSQL_USER (root), PW_BENCH_DB (pw_bench).
set -euo pipefail

ROWS=${1:-1000000}
[[ "$ROWS" =~ ^[0-9]+$ ]] && (( ROWS > 2 )) || { echo "usage: $0 [ROWS]   (got '$ROWS')" >&2; exit 2; }
RUNS=${RUNS:-3}
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "RUNS must be a positive integer (got '$RUNS')" >&2; exit 2; }

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PIPEWRIGHT=${PIPEWRIGHT:-$BENCH_DIR/../target/release/pipewright}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
SRC_DB=${PW_BENCH_DB:-pw_bench}
COPY_DB=pw_bench_reconcile
OUT=${PW_REF_OUT:-$BENCH_DIR/results/reconcile.md}

die() { echo "reconcile_reference.sh: $*" >&2; exit 1; }
log() { echo "[reconcile] $*" >&2; }
pg() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
my() { mysql --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$@"; }
now() { date +%s.%N; }

[[ -x "$PIPEWRIGHT" ]] || die "no pipewright at $PIPEWRIGHT: cargo build --release first"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is not installed: apt-get install -y time"
pg -d postgres -Atc 'SELECT 1' >/dev/null 2>&1 || die "cannot connect to PostgreSQL at $PGHOST:$PGPORT"
my -e 'SELECT 1' >/dev/null 2>&1 || die "cannot connect to MariaDB at $MYSQL_HOST:$MYSQL_PORT"

pg_count() { pg -d "$SRC_DB" -Atc 'SELECT count(*) FROM daily_bars' 2>/dev/null || echo missing; }
my_count() { my -N -B -e "SELECT COUNT(*) FROM \`$SRC_DB\`.daily_bars" 2>/dev/null || echo missing; }
if [[ "$(pg_count)|$(my_count)" != "$ROWS|$ROWS" ]]; then
    log "source data missing or not $ROWS rows: running transform_data.sh $ROWS"
    bash "$BENCH_DIR/transform_data.sh" "$ROWS" >&2
fi
[[ "$(pg_count)|$(my_count)" == "$ROWS|$ROWS" ]] || die "source data still not $ROWS rows on both servers"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pw-reconcile.XXXXXX")
cleanup() { rm -rf "$WORK"; my -e "DROP DATABASE IF EXISTS $COPY_DB" >/dev/null 2>&1 || true; }
trap cleanup EXIT

log "copying daily_bars to $COPY_DB with three differences"
MIDDLE=$(( ROWS / 2 ))
my -e "DROP DATABASE IF EXISTS $COPY_DB; CREATE DATABASE $COPY_DB;
  CREATE TABLE $COPY_DB.daily_bars LIKE $SRC_DB.daily_bars;
  INSERT INTO $COPY_DB.daily_bars SELECT * FROM $SRC_DB.daily_bars;
  UPDATE $COPY_DB.daily_bars SET close = close + 0.01 WHERE id = $MIDDLE;
  DELETE FROM $COPY_DB.daily_bars WHERE id = 2;
  INSERT INTO $COPY_DB.daily_bars SELECT $(( ROWS * 2 )), symbol, '2099-01-01', open, high, low, close, volume, amount FROM $SRC_DB.daily_bars WHERE id = 1;"

manifest() {   # $1 = MariaDB database, $2 = key (TOML array)
    cat <<EOF
[pipeline]
name = "reconcile-bench"

[connections.maria]
url = "mysql://$MYSQL_USER@$MYSQL_HOST:$MYSQL_PORT/$1"

[connections.pg]
url = "postgres://$PGUSER@$PGHOST:$PGPORT/$SRC_DB"

[steps.reconcile]
kind = "validate"
connection = "maria"
table = "daily_bars"
checks = [{ kind = "reconcile", with = { connection = "pg", table = "daily_bars" }, key = $2 }]
EOF
}
manifest "$SRC_DB" '["id"]' > "$WORK/equal.toml"
manifest "$COPY_DB" '["id"]' > "$WORK/few.toml"
manifest "$SRC_DB" '["symbol", "trade_date"]' > "$WORK/whole.toml"
manifest "$COPY_DB" '["symbol", "trade_date"]' > "$WORK/whole_few.toml"

read_mysql() { my --quick --batch -e "SELECT * FROM \`$SRC_DB\`.daily_bars" > /dev/null; }
read_pg() { pg -d "$SRC_DB" -c '\copy (SELECT * FROM daily_bars) TO /dev/null'; }

# Runs one case; prints "seconds rss_kb".
run_case() {
    local case=$1 start end rss=-
    case "$case" in
        read_both)
            start=$(now); read_mysql & read_pg & wait; end=$(now) ;;
        read_mysql) start=$(now); read_mysql; end=$(now) ;;
        read_pg) start=$(now); read_pg; end=$(now) ;;
        pw_*)
            local toml=$WORK/${case#pw_}.toml expected=0 code=0
            [[ "$case" == *_few ]] && expected=1
            start=$(now)
            /usr/bin/time -f '%M' -o "$WORK/rss" "$PIPEWRIGHT" --quiet run "$toml" --report "$WORK/report.json" \
                > "$WORK/out" 2>&1 || code=$?
            end=$(now)
            [[ "$code" == "$expected" ]] || { cat "$WORK/out" >&2; die "$case exited with $code, expected $expected"; }
            local differences
            differences=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["steps"][0]["details"]["checks"][0]; d=c["differences"]; print(d["only_here"], d["only_there"], d["changed"])' "$WORK/report.json")
            if [[ "$case" == *_few ]]; then
                [[ "$differences" == "1 1 1" ]] || die "$case found $differences, expected 1 1 1"
            else
                [[ "$differences" == "0 0 0" ]] || die "$case found $differences on equal tables"
            fi
            python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["details"]["checks"][0]["message"])' \
                "$WORK/report.json" > "$WORK/$case.message"
            rss=$(tail -1 "$WORK/rss") ;;
    esac
    awk -v s="$start" -v e="$end" -v r="$rss" 'BEGIN { printf "%.2f %s\n", e - s, r }'
}

CASES="read_both read_mysql read_pg pw_equal pw_few pw_whole pw_whole_few"
declare -A TIMES RSS
for run in $(seq 1 "$RUNS"); do
    for case in $CASES; do
        read -r seconds rss < <(run_case "$case")
        log "run $run $case: ${seconds}s rss ${rss}"
        TIMES[$case]="${TIMES[$case]:-} $seconds"
        RSS[$case]=$rss
    done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

{
    echo "# reconcile: MariaDB against PostgreSQL, $ROWS rows"
    echo
    echo "Measured by \`bash benches/reconcile_reference.sh $ROWS\` on $(date -u +%Y-%m-%d), $(nproc) cores,"
    echo "$(my -N -B -e 'SELECT VERSION()'), PostgreSQL $(pg -d postgres -Atc 'SHOW server_version'), both servers on the"
    echo "same machine as pipewright. Median of $RUNS runs; RSS is pipewright's peak."
    echo
    base=$(median "${TIMES[read_both]}")
    echo "| case | seconds | x reading both once | peak RSS (MB) | what the check said |"
    echo "|---|---:|---:|---:|---|"
    for case in $CASES; do
        m=$(median "${TIMES[$case]}")
        ratio=$(awk -v m="$m" -v b="$base" 'BEGIN { printf "%.2f", m / b }')
        rss=${RSS[$case]}
        [[ "$rss" != - ]] && rss=$(awk -v r="$rss" 'BEGIN { printf "%.0f", r / 1024 }')
        message=-
        [[ -f "$WORK/$case.message" ]] && message=$(sed 's/|/\\|/g' "$WORK/$case.message")
        echo "| $case | $m | $ratio | $rss | $message |"
    done
} | tee "$OUT"

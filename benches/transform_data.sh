#!/usr/bin/env bash
# Creates the transform benchmark data set: the "daily bars" table of stock
# market data, identical in three engines:
#
#   PostgreSQL  database pw_bench, table daily_bars   (generated server-side with generate_series)
#   MariaDB     database pw_bench, table daily_bars   (copied from PostgreSQL with psql \copy + LOAD DATA)
#   SQLite      benches/data/daily_bars.db            (copied from PostgreSQL with sqlite3 .import)
#
# Usage: bash benches/transform_data.sh [ROWS] [--force]      (ROWS defaults to 1000000)
#
# Idempotent: each engine's table carries a marker (generator version + row
# count: a table comment in PostgreSQL and MariaDB, PRAGMA application_id and
# user_version in SQLite). A table whose marker and row count match is left
# alone; anything else is dropped and rebuilt. --force rebuilds everything.
#
# Data: ids 1..ROWS; row i is symbol (i-1) % 2000 on trading day (i-1) / 2000,
# so ~2000 six-digit symbols (600000.., 000001.., 002001.., 300001..; 600519 is
# priced like it should be) with consecutive weekdays from 2018-01-01. Prices
# have 4 decimals and follow a smooth per-symbol curve with deterministic
# noise (low <= open, close <= high); volume is in lots of 100 shares and
# amount = volume * a typical price, rounded to 2 decimals; amount is NULL for
# 1 row in 1000 (id % 1000 = 0). Everything is deterministic.
#
# Connection settings (environment):
#   PGHOST (127.0.0.1) PGPORT (5432) PGUSER (postgres) PGPASSWORD (unset)
#   MYSQL_HOST (127.0.0.1) MYSQL_PORT (3306) MYSQL_USER (root) MYSQL_PWD (unset; read by the mysql client itself)
#   PW_BENCH_DB (pw_bench)  PW_BENCH_SQLITE (benches/data/daily_bars.db)
set -euo pipefail

GEN_VERSION=1   # bump when the generator changes, so existing tables are rebuilt

ROWS=1000000
FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *)
            if [[ "$arg" =~ ^[0-9]+$ ]] && (( arg > 0 )); then ROWS=$arg
            else echo "transform_data.sh: bad argument '$arg' (expected a positive row count or --force)" >&2; exit 2
            fi ;;
    esac
done

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export PGDATESTYLE=ISO PGCLIENTENCODING=UTF8 PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_USER=${MYSQL_USER:-root}
DB=${PW_BENCH_DB:-pw_bench}
SQLITE_DB=${PW_BENCH_SQLITE:-$BENCH_DIR/data/daily_bars.db}
MARKER="pw_bench daily_bars v$GEN_VERSION rows=$ROWS"

die() { echo "transform_data.sh: $*" >&2; exit 1; }
for tool in psql mysql sqlite3; do
    command -v "$tool" >/dev/null || die "'$tool' is not installed (apt-get install -y postgresql-client mariadb-client sqlite3)"
done

pg()  { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
my()  { mysql --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

pg -d postgres -Atc 'SELECT 1' >/dev/null 2>&1 \
    || die "cannot connect to PostgreSQL at $PGHOST:$PGPORT as $PGUSER (start it: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start)"
my -e 'SELECT 1' >/dev/null 2>&1 \
    || die "cannot connect to MariaDB at $MYSQL_HOST:$MYSQL_PORT as $MYSQL_USER (start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd)"

echo "transform_data: $ROWS rows of daily_bars (generator v$GEN_VERSION)"
T_ALL=$(now)

# ---------------------------------------------------------------- PostgreSQL
pg_state() {
    pg -d "$DB" -Atc "SELECT coalesce(obj_description('public.daily_bars'::regclass, 'pg_class'), '') || '|' || (SELECT count(*) FROM public.daily_bars)" 2>/dev/null || true
}
if [[ -z "$(pg -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    pg -d postgres -c "CREATE DATABASE $DB"
    echo "  postgres: created database $DB"
fi
PG_REBUILT=0
if (( FORCE == 0 )) && [[ "$(pg_state)" == "$MARKER|$ROWS" ]]; then
    echo "  postgres: $DB.daily_bars already has $ROWS rows (v$GEN_VERSION) - kept"
else
    t=$(now)
    pg -d "$DB" -v rows="$ROWS" -v marker="$MARKER" <<'SQL'
SET jit = off;
SET work_mem = '256MB';
SET maintenance_work_mem = '256MB';
DROP TABLE IF EXISTS daily_bars;
CREATE TABLE daily_bars (
    id         BIGINT        NOT NULL,
    symbol     VARCHAR(16)   NOT NULL,
    trade_date DATE          NOT NULL,
    open       NUMERIC(12,4),
    high       NUMERIC(12,4),
    low        NUMERIC(12,4),
    close      NUMERIC(12,4),
    volume     BIGINT,
    amount     NUMERIC(20,4)
);
-- u(k): a deterministic uniform number in [0, 1) (Knuth's multiplicative hash).
INSERT INTO daily_bars (id, symbol, trade_date, open, high, low, close, volume, amount)
WITH g AS (
    SELECT i, (i - 1) % 2000 AS s, (i - 1) / 2000 AS d
    FROM generate_series(1, :rows::bigint) AS i
), b AS (
    SELECT i, s, d,
           CASE WHEN s < 800  THEN 600000 + s          -- Shanghai main board 600000..600799 (600519 included)
                WHEN s < 1400 THEN s - 799             -- Shenzhen main board 000001..000600
                WHEN s < 1700 THEN 2001 + (s - 1400)   -- SME board 002001..002300
                ELSE 300001 + (s - 1700)               -- ChiNext 300001..300300
           END AS code,
           CASE WHEN s = 519 THEN 1600.0::float8               -- 600519 trades around 1600
                ELSE 3.0 + 200.0 * power(((s * 13 + 5) * 2654435761 % 4294967296) / 4294967296.0::float8, 2)
           END AS base,
           ((i * 7 + 1) * 2654435761 % 4294967296) / 4294967296.0::float8 AS u1,
           ((i * 7 + 2) * 2654435761 % 4294967296) / 4294967296.0::float8 AS u2,
           ((i * 7 + 3) * 2654435761 % 4294967296) / 4294967296.0::float8 AS u3,
           ((i * 7 + 4) * 2654435761 % 4294967296) / 4294967296.0::float8 AS u4,
           ((i * 7 + 5) * 2654435761 % 4294967296) / 4294967296.0::float8 AS u5
    FROM g
), m AS (
    SELECT *, base * (1 + 0.35 * sin(d / 53.0::float8 + s) + 0.10 * sin(d / 11.0::float8 + 2 * s)) AS mid
    FROM b
), oc AS (
    SELECT *, mid * (0.99 + 0.02 * u1) AS o, mid * (0.99 + 0.02 * u2) AS c
    FROM m
), hl AS MATERIALIZED (
    -- all float8 until the final rounding (numeric arithmetic on 1M rows is slow);
    -- rounding is monotonic, so low <= open, close <= high still holds after it
    SELECT *, greatest(o, c) * (1 + 0.02 * u3) AS h, least(o, c) * (1 - 0.02 * u4) AS l,
           100 * (100 + floor(u5 * u5 * 2000000 / (base + 10)))::bigint AS v
    FROM oc
)
SELECT i,
       lpad(code::text, 6, '0'),
       date '2018-01-01' + ((d / 5) * 7 + d % 5)::int,   -- consecutive weekdays; 2018-01-01 is a Monday
       round(o::numeric, 4), round(h::numeric, 4), round(l::numeric, 4), round(c::numeric, 4), v,
       CASE WHEN i % 1000 = 0 THEN NULL ELSE round((v * (h + l + 2 * c) / 4)::numeric, 2) END
FROM hl;
ALTER TABLE daily_bars ADD PRIMARY KEY (id);
ALTER TABLE daily_bars ADD CONSTRAINT daily_bars_symbol_trade_date_key UNIQUE (symbol, trade_date);
COMMENT ON TABLE daily_bars IS :'marker';
VACUUM ANALYZE daily_bars;
SQL
    PG_REBUILT=1
    echo "  postgres: generated $DB.daily_bars, $ROWS rows, in $(since "$t")"
fi

# Source data for the copies, dumped once (text format: tab-separated, \N for NULL,
# backslash escapes - the defaults of MariaDB's LOAD DATA as well).
TSV=""
cleanup() { [[ -n "$TSV" ]] && rm -f "$TSV"; return 0; }
trap cleanup EXIT
dump_tsv() {
    if [[ -z "$TSV" ]]; then
        mkdir -p "$(dirname "$SQLITE_DB")"
        TSV=$(mktemp "$(dirname "$SQLITE_DB")/.daily_bars.XXXXXX.tsv")
        local t; t=$(now)
        pg -d "$DB" -c "\\copy (SELECT id, symbol, trade_date, open, high, low, close, volume, amount FROM daily_bars ORDER BY id) TO '$TSV'"
        echo "  postgres: dumped to a temporary TSV ($(du -h "$TSV" | cut -f1)) in $(since "$t")"
    fi
}

# ------------------------------------------------------------------- MariaDB
my_state() {
    my -N -B -e "SELECT CONCAT(table_comment, '|', (SELECT COUNT(*) FROM \`$DB\`.daily_bars)) FROM information_schema.tables WHERE table_schema = '$DB' AND table_name = 'daily_bars'" 2>/dev/null || true
}
if (( FORCE == 0 && PG_REBUILT == 0 )) && [[ "$(my_state)" == "$MARKER|$ROWS" ]]; then
    echo "  mariadb:  $DB.daily_bars already has $ROWS rows (v$GEN_VERSION) - kept"
else
    dump_tsv
    t=$(now)
    my --local-infile=1 -e "
        CREATE DATABASE IF NOT EXISTS \`$DB\`;
        USE \`$DB\`;
        DROP TABLE IF EXISTS daily_bars;
        CREATE TABLE daily_bars (
            id         BIGINT        NOT NULL PRIMARY KEY,
            symbol     VARCHAR(16)   NOT NULL,
            trade_date DATE          NOT NULL,
            open       DECIMAL(12,4),
            high       DECIMAL(12,4),
            low        DECIMAL(12,4),
            close      DECIMAL(12,4),
            volume     BIGINT,
            amount     DECIMAL(20,4)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='$MARKER';
        SET SESSION unique_checks = 0, foreign_key_checks = 0;
        LOAD DATA LOCAL INFILE '$TSV' INTO TABLE daily_bars
            FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n'
            (id, symbol, trade_date, open, high, low, close, volume, amount);
        SET SESSION unique_checks = 1;
        ALTER TABLE daily_bars ADD CONSTRAINT symbol_trade_date UNIQUE (symbol, trade_date);
        ANALYZE TABLE daily_bars;" >/dev/null
    got=$(my -N -B -e "SELECT COUNT(*) FROM \`$DB\`.daily_bars")
    [[ "$got" == "$ROWS" ]] || die "MariaDB $DB.daily_bars has $got rows after the load, expected $ROWS"
    echo "  mariadb:  loaded $DB.daily_bars, $ROWS rows, in $(since "$t")"
fi

# -------------------------------------------------------------------- SQLite
sqlite_state() {
    [[ -f "$SQLITE_DB" ]] || return 0
    sqlite3 -batch -noheader "$SQLITE_DB" \
        "SELECT (SELECT application_id FROM pragma_application_id) || '|' || (SELECT user_version FROM pragma_user_version) || '|' || (SELECT count(*) FROM daily_bars)" 2>/dev/null || true
}
if (( FORCE == 0 && PG_REBUILT == 0 )) && [[ "$(sqlite_state)" == "$GEN_VERSION|$ROWS|$ROWS" ]]; then
    echo "  sqlite:   $SQLITE_DB already has $ROWS rows (v$GEN_VERSION) - kept"
else
    dump_tsv
    t=$(now)
    rm -f "$SQLITE_DB" "$SQLITE_DB-journal" "$SQLITE_DB-wal" "$SQLITE_DB-shm"
    # .import reads \N as the two-character text; the UPDATE turns it into NULL.
    sqlite3 -batch -bail "$SQLITE_DB" >/dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE daily_bars (
    id         BIGINT        PRIMARY KEY,
    symbol     VARCHAR(16)   NOT NULL,
    trade_date DATE          NOT NULL,
    open       DECIMAL(12,4),
    high       DECIMAL(12,4),
    low        DECIMAL(12,4),
    close      DECIMAL(12,4),
    volume     BIGINT,
    amount     DECIMAL(20,4),
    UNIQUE (symbol, trade_date)
);
BEGIN;
.mode tabs
.import '$TSV' daily_bars
UPDATE daily_bars SET open = NULLIF(open, '\\N'), high = NULLIF(high, '\\N'), low = NULLIF(low, '\\N'),
       close = NULLIF(close, '\\N'), volume = NULLIF(volume, '\\N'), amount = NULLIF(amount, '\\N')
 WHERE '\\N' IN (open, high, low, close, volume, amount);
COMMIT;
PRAGMA application_id = $GEN_VERSION;
PRAGMA user_version = $ROWS;
ANALYZE;
SQL
    [[ "$(sqlite_state)" == "$GEN_VERSION|$ROWS|$ROWS" ]] || die "SQLite $SQLITE_DB does not hold $ROWS rows after the import"
    echo "  sqlite:   imported $SQLITE_DB, $ROWS rows ($(du -h "$SQLITE_DB" | cut -f1)), in $(since "$t")"
fi

echo "transform_data: done in $(since "$T_ALL")"

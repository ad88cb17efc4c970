-- SEED.md, T006: the monitoring database of the stock-market data platform, as its team
-- created it by hand, for PostgreSQL (TimescaleDB is PostgreSQL).
CREATE TABLE logs (
    id SERIAL PRIMARY KEY,
    timestamp TIMESTAMP NOT NULL,
    level VARCHAR(10),
    module VARCHAR(100),
    function VARCHAR(100),
    message TEXT,
    exception TEXT,
    metadata JSONB
);

CREATE TABLE performance_metrics (
    id SERIAL PRIMARY KEY,
    timestamp TIMESTAMP NOT NULL,
    operation VARCHAR(100),
    duration_ms FLOAT,
    rows_affected INTEGER,
    database_type VARCHAR(20),
    table_name VARCHAR(100),
    success BOOLEAN
);

CREATE TABLE data_quality_checks (
    id SERIAL PRIMARY KEY,
    timestamp TIMESTAMP NOT NULL,
    check_type VARCHAR(50),
    table_name VARCHAR(100),
    status VARCHAR(20),
    expected_value FLOAT,
    actual_value FLOAT,
    threshold FLOAT
);

CREATE TABLE alerts (
    id SERIAL PRIMARY KEY,
    timestamp TIMESTAMP NOT NULL,
    alert_type VARCHAR(50),
    severity VARCHAR(20),
    source VARCHAR(100),
    message TEXT,
    resolved BOOLEAN DEFAULT FALSE
);

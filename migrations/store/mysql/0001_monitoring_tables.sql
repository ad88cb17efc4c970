-- The four monitoring tables of SEED.md (T006), with the run and step that wrote each row.
CREATE TABLE IF NOT EXISTS logs (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    timestamp DATETIME(6) NOT NULL,
    level VARCHAR(10),
    module VARCHAR(100),
    function VARCHAR(100),
    message TEXT,
    exception TEXT,
    metadata JSON,
    run_id VARCHAR(36),
    step_id VARCHAR(255),
    INDEX logs_run (run_id, id)
);
CREATE TABLE IF NOT EXISTS performance_metrics (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    timestamp DATETIME(6) NOT NULL,
    operation VARCHAR(100),
    duration_ms DOUBLE,
    rows_affected INTEGER,
    database_type VARCHAR(20),
    table_name VARCHAR(100),
    success BOOLEAN,
    run_id VARCHAR(36),
    step_id VARCHAR(255)
);
CREATE TABLE IF NOT EXISTS data_quality_checks (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    timestamp DATETIME(6) NOT NULL,
    check_type VARCHAR(50),
    table_name VARCHAR(100),
    status VARCHAR(20),
    expected_value DOUBLE,
    actual_value DOUBLE,
    threshold DOUBLE,
    run_id VARCHAR(36),
    step_id VARCHAR(255)
);
CREATE TABLE IF NOT EXISTS alerts (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    timestamp DATETIME(6) NOT NULL,
    alert_type VARCHAR(50),
    severity VARCHAR(20),
    source VARCHAR(100),
    message TEXT,
    resolved BOOLEAN DEFAULT FALSE,
    run_id VARCHAR(36),
    step_id VARCHAR(255)
);

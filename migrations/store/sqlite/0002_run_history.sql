-- Run history: one row per run and one per planned step of a run.
CREATE TABLE IF NOT EXISTS pipeline_runs (
    run_id VARCHAR(36) PRIMARY KEY,
    pipeline VARCHAR(255) NOT NULL,
    manifest TEXT,
    status VARCHAR(20) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    duration_ms FLOAT,
    steps_total INTEGER,
    steps_succeeded INTEGER,
    steps_failed INTEGER,
    steps_cancelled INTEGER,
    steps_skipped INTEGER
);
CREATE INDEX IF NOT EXISTS pipeline_runs_started ON pipeline_runs (started_at);
CREATE TABLE IF NOT EXISTS step_runs (
    run_id VARCHAR(36) NOT NULL,
    step_id VARCHAR(255) NOT NULL,
    kind VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL,
    attempts INTEGER NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    duration_ms FLOAT,
    rows_affected BIGINT,
    error TEXT,
    skip_reason TEXT,
    fingerprint VARCHAR(80),
    PRIMARY KEY (run_id, step_id)
);
CREATE INDEX IF NOT EXISTS logs_run ON logs (run_id, id);

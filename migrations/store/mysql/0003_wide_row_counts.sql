-- Row counts beyond 2^31 - 1 (SEED.md's INTEGER) must not fail an insert.
ALTER TABLE performance_metrics MODIFY rows_affected BIGINT;

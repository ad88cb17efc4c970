-- Row counts beyond 2^31 - 1 (SEED.md's INTEGER) must not fail an insert.
SELECT 1;

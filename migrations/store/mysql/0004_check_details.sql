-- The detail of a check: what differed, where, as text (checksums, failing keys).
-- Added in code when missing (see store_schema.rs), so that a table adopted from
-- elsewhere gains it too.
SELECT 1;

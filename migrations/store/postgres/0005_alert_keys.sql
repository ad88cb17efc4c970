-- The key of an alert: a check that keeps failing raises one alert, resolved when it passes
-- again. Added in code when missing (see store_schema.rs).
SELECT 1;

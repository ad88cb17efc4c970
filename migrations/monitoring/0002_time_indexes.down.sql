DROP INDEX alerts_unresolved;
DROP INDEX data_quality_checks_timestamp;
DROP INDEX performance_metrics_timestamp;
DROP INDEX logs_timestamp;

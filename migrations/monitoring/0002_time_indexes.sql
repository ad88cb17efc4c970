-- Every dashboard of the monitoring database asks "what happened lately".
CREATE INDEX logs_timestamp ON logs (timestamp);
CREATE INDEX performance_metrics_timestamp ON performance_metrics (timestamp);
CREATE INDEX data_quality_checks_timestamp ON data_quality_checks (timestamp);
CREATE INDEX alerts_unresolved ON alerts (resolved, timestamp);

DROP TABLE alerts;
DROP TABLE data_quality_checks;
DROP TABLE performance_metrics;
DROP TABLE logs;

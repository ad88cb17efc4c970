DROP TABLE symbol_summary;
DROP TABLE daily_bars;

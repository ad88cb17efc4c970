-- The daily bars of SEED.md's stock-market platform, and a summary per symbol.
CREATE TABLE daily_bars (
    symbol VARCHAR(16) NOT NULL,
    trade_date DATE NOT NULL,
    open DECIMAL(12, 4),
    high DECIMAL(12, 4),
    low DECIMAL(12, 4),
    close DECIMAL(12, 4),
    volume BIGINT,
    amount DECIMAL(20, 4),
    PRIMARY KEY (symbol, trade_date)
);

CREATE TABLE symbol_summary (
    symbol VARCHAR(16) PRIMARY KEY,
    days INTEGER NOT NULL,
    average_close DECIMAL(12, 4),
    total_volume BIGINT
);

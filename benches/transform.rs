//! The CPU a transform spends per row, without databases: converting the values a MySQL
//! source gives to a PostgreSQL target's types, hashing them for the verification, and
//! encoding them for `COPY`. The copies themselves, against the reference tools, are timed by
//! `benches/transform_reference.sh` (docs/performance.md has both).

use chrono::NaiveDate;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pipewright::data::{LogicalType, Row, TableChecksum, Value};
use pipewright::pipeline::Driver;
use pipewright::transform::{coerce, encode_copy_text};

const ROWS: u32 = 100_000;

/// Daily bars as MySQL's reader gives them: decimals as their text, dates as dates.
fn bars() -> Vec<Row> {
    let start = NaiveDate::from_ymd_opt(2018, 1, 1).unwrap();
    (0..ROWS)
        .map(|index| {
            let price = 10.0 + f64::from(index % 1_000) * 0.0137;
            vec![
                Value::Int(i64::from(index) + 1),
                Value::Text(format!("{:06}", 600_000 + index % 2_000).into()),
                Value::Date(start + chrono::Days::new(u64::from(index / 2_000))),
                Value::Decimal(format!("{price:.4}").into()),
                Value::Decimal(format!("{:.4}", price * 1.01).into()),
                Value::Decimal(format!("{:.4}", price * 0.99).into()),
                Value::Decimal(format!("{:.4}", price * 1.002).into()),
                Value::Int(100_000 + i64::from(index % 7_919)),
                if index % 1_000 == 0 {
                    Value::Null
                } else {
                    Value::Decimal(format!("{:.4}", price * 100_000.0).into())
                },
            ]
        })
        .collect()
}

/// The target's column types (`daily_bars` on PostgreSQL).
fn target_types() -> Vec<LogicalType> {
    let price = LogicalType::Decimal {
        precision: Some(12),
        scale: Some(4),
    };
    vec![
        LogicalType::Int { bytes: 8 },
        LogicalType::Text {
            max_length: Some(16),
        },
        LogicalType::Date,
        price.clone(),
        price.clone(),
        price.clone(),
        price,
        LogicalType::Int { bytes: 8 },
        LogicalType::Decimal {
            precision: Some(20),
            scale: Some(4),
        },
    ]
}

fn convert(rows: Vec<Row>, types: &[LogicalType]) -> Vec<Row> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .zip(types)
                .map(|(value, logical)| coerce(value, logical, Driver::Postgres).unwrap())
                .collect()
        })
        .collect()
}

fn transform_rows(criterion: &mut Criterion) {
    let rows = bars();
    let types = target_types();
    let converted = convert(rows.clone(), &types);
    let mut group = criterion.benchmark_group("transform_100000_daily_bars");
    group.throughput(Throughput::Elements(u64::from(ROWS)));
    group.sample_size(20);
    group.bench_function("convert", |bench| {
        bench.iter_batched(
            || rows.clone(),
            |rows| convert(rows, &types),
            BatchSize::LargeInput,
        );
    });
    group.bench_function("checksum", |bench| {
        bench.iter(|| {
            let mut checksum = TableChecksum::default();
            for row in &converted {
                checksum.add(row);
            }
            checksum
        });
    });
    group.bench_function("encode_copy_text", |bench| {
        bench.iter(|| encode_copy_text(&converted));
    });
    group.finish();
}

criterion_group!(benches, transform_rows);
criterion_main!(benches);

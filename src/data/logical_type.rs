//! Column types independent of any engine: what a source column holds, read from its catalog,
//! and the type that holds it on a target, chosen per dialect.

use std::fmt;

use serde::Serialize;

use crate::pipeline::Driver;

/// What a column holds, as far as copying it is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogicalType {
    Bool,
    /// Signed integer of this many bytes (1, 2, 4, 8).
    Int {
        bytes: u8,
    },
    /// Unsigned integer of this many bytes (MySQL `UNSIGNED`).
    UInt {
        bytes: u8,
    },
    /// Exact decimal; `None` for an unconstrained `NUMERIC`.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Float32,
    Float64,
    /// Text with at most this many characters, `None` for unbounded.
    Text {
        max_length: Option<u32>,
    },
    /// Binary data with at most this many bytes, `None` for unbounded.
    Binary {
        max_length: Option<u32>,
    },
    Date,
    /// A time of day, with fractional-second digits.
    Time {
        precision: u8,
    },
    /// Date and time without a zone, with fractional-second digits.
    Timestamp {
        precision: u8,
    },
    /// An instant: date and time with a zone.
    TimestampTz {
        precision: u8,
    },
    Json,
    Uuid,
    /// MySQL `ENUM`: one of the listed values.
    Enum {
        values: Vec<String>,
    },
    /// MySQL `SET`: a comma-separated subset of the listed values.
    Set {
        values: Vec<String>,
    },
    /// MySQL `BIT(n)`, copied as an unsigned integer.
    Bit {
        bits: u8,
    },
    /// A type pipewright does not know: copied as its text form, under this name.
    Other {
        name: String,
    },
}

impl fmt::Display for LogicalType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => formatter.write_str("boolean"),
            Self::Int { bytes } => write!(formatter, "int{}", bytes * 8),
            Self::UInt { bytes } => write!(formatter, "uint{}", bytes * 8),
            Self::Decimal {
                precision: Some(precision),
                scale,
            } => {
                write!(formatter, "decimal({precision},{})", scale.unwrap_or(0))
            }
            Self::Decimal { .. } => formatter.write_str("decimal"),
            Self::Float32 => formatter.write_str("float32"),
            Self::Float64 => formatter.write_str("float64"),
            Self::Text {
                max_length: Some(length),
            } => write!(formatter, "text({length})"),
            Self::Text { max_length: None } => formatter.write_str("text"),
            Self::Binary {
                max_length: Some(length),
            } => write!(formatter, "binary({length})"),
            Self::Binary { max_length: None } => formatter.write_str("binary"),
            Self::Date => formatter.write_str("date"),
            Self::Time { precision } => write!(formatter, "time({precision})"),
            Self::Timestamp { precision } => write!(formatter, "timestamp({precision})"),
            Self::TimestampTz { precision } => write!(formatter, "timestamptz({precision})"),
            Self::Json => formatter.write_str("json"),
            Self::Uuid => formatter.write_str("uuid"),
            Self::Enum { values } => write!(formatter, "enum({})", values.join(",")),
            Self::Set { values } => write!(formatter, "set({})", values.join(",")),
            Self::Bit { bits } => write!(formatter, "bit({bits})"),
            Self::Other { name } => write!(formatter, "other({name})"),
        }
    }
}

/// The numbers in `name(a, b)`.
fn arguments(declared: &str) -> Vec<u32> {
    declared
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split(',')
                .filter_map(|part| part.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The quoted values of `enum('a','b')`.
fn enum_values(declared: &str) -> Vec<String> {
    let Some(start) = declared.find('(') else {
        return Vec::new();
    };
    let inside = &declared[start + 1..declared.rfind(')').unwrap_or(declared.len())];
    let mut values = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut characters = inside.chars().peekable();
    while let Some(character) = characters.next() {
        match (character, quoted) {
            ('\'', false) => quoted = true,
            ('\'', true) if characters.peek() == Some(&'\'') => {
                characters.next();
                current.push('\'');
            }
            ('\'', true) => {
                quoted = false;
                values.push(std::mem::take(&mut current));
            }
            // MySQL writes a backslash of a member doubled in `COLUMN_TYPE`.
            ('\\', true) => {
                if let Some(escaped) = characters.next() {
                    current.push(escaped);
                }
            }
            (character, true) => current.push(character),
            _ => {}
        }
    }
    values
}

fn precision_of(declared: &str, default: u8) -> u8 {
    arguments(declared)
        .first()
        .and_then(|value| u8::try_from(*value).ok())
        .unwrap_or(default)
}

impl LogicalType {
    /// Reads a type as `driver`'s catalog writes it: PostgreSQL's `format_type`, MySQL's
    /// `COLUMN_TYPE`, SQLite's declared type.
    pub fn parse(driver: Driver, declared: &str) -> Self {
        let lower = declared.trim().to_ascii_lowercase();
        let base = lower.split('(').next().unwrap_or("").trim().to_owned();
        let numbers = arguments(&lower);
        let length = numbers.first().copied();
        match driver {
            Driver::Postgres => Self::parse_postgres(&lower, &base, length, &numbers),
            Driver::MySql => Self::parse_mysql(declared, &lower, &base, length, &numbers),
            Driver::Sqlite => Self::parse_sqlite(&lower, &base, length, &numbers),
        }
    }

    fn parse_postgres(lower: &str, base: &str, length: Option<u32>, numbers: &[u32]) -> Self {
        // An array (`character varying(16)[]`) is not its element: read and written as its
        // text (`{a,b}`), like every type pipewright does not know.
        if lower.ends_with(']') {
            return Self::Other {
                name: lower.to_owned(),
            };
        }
        match base {
            "boolean" | "bool" => Self::Bool,
            "smallint" | "int2" | "smallserial" => Self::Int { bytes: 2 },
            "integer" | "int" | "int4" | "serial" => Self::Int { bytes: 4 },
            "bigint" | "int8" | "bigserial" => Self::Int { bytes: 8 },
            "numeric" | "decimal" => Self::Decimal {
                precision: numbers.first().copied(),
                scale: numbers.get(1).copied().or(numbers.first().map(|_| 0)),
            },
            "real" | "float4" => Self::Float32,
            "double precision" | "float8" => Self::Float64,
            "character varying" | "varchar" | "character" | "char" | "bpchar" => {
                Self::Text { max_length: length }
            }
            "text" | "name" | "citext" => Self::Text { max_length: None },
            "bytea" => Self::Binary { max_length: None },
            "date" => Self::Date,
            _ if lower.starts_with("time")
                && lower.contains("with time zone")
                && lower.starts_with("timestamp") =>
            {
                Self::TimestampTz {
                    precision: precision_of(lower, 6),
                }
            }
            "timestamptz" => Self::TimestampTz {
                precision: precision_of(lower, 6),
            },
            _ if lower.starts_with("timestamp") => Self::Timestamp {
                precision: precision_of(lower, 6),
            },
            _ if lower.starts_with("time") && !lower.contains("with time zone") => Self::Time {
                precision: precision_of(lower, 6),
            },
            "json" | "jsonb" => Self::Json,
            "uuid" => Self::Uuid,
            _ => Self::Other {
                name: base.to_owned(),
            },
        }
    }

    fn parse_mysql(
        declared: &str,
        lower: &str,
        base: &str,
        length: Option<u32>,
        numbers: &[u32],
    ) -> Self {
        let unsigned = lower.contains("unsigned");
        let integer = |bytes| {
            if unsigned {
                Self::UInt { bytes }
            } else {
                Self::Int { bytes }
            }
        };
        match base {
            // `tinyint(1)` is how MySQL spells boolean.
            "tinyint" if length == Some(1) && !unsigned => Self::Bool,
            "bool" | "boolean" => Self::Bool,
            "tinyint" => integer(1),
            "smallint" | "year" => integer(2),
            "mediumint" | "int" | "integer" => integer(4),
            "bigint" => integer(8),
            "decimal" | "numeric" | "dec" | "fixed" => Self::Decimal {
                precision: Some(numbers.first().copied().unwrap_or(10)),
                scale: Some(numbers.get(1).copied().unwrap_or(0)),
            },
            "float" => Self::Float32,
            "double" | "double precision" | "real" => Self::Float64,
            "char" | "varchar" => Self::Text { max_length: length },
            "tinytext" => Self::Text {
                max_length: Some(255),
            },
            // Spatial values are copied as their well-known text.
            "text" | "mediumtext" | "longtext" | "geometry" | "point" | "linestring"
            | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
            | "geometrycollection" => Self::Text { max_length: None },
            "binary" | "varbinary" => Self::Binary { max_length: length },
            "tinyblob" | "blob" | "mediumblob" | "longblob" => Self::Binary { max_length: None },
            "date" => Self::Date,
            "time" => Self::Time {
                precision: precision_of(lower, 0),
            },
            "datetime" => Self::Timestamp {
                precision: precision_of(lower, 0),
            },
            "timestamp" => Self::TimestampTz {
                precision: precision_of(lower, 0),
            },
            "json" => Self::Json,
            "enum" => Self::Enum {
                values: enum_values(declared),
            },
            "set" => Self::Set {
                values: enum_values(declared),
            },
            "bit" => Self::Bit {
                bits: u8::try_from(length.unwrap_or(1)).unwrap_or(64),
            },
            _ => Self::Other {
                name: base.to_owned(),
            },
        }
    }

    /// SQLite keeps the declared name; pipewright reads it as the other engines would, and
    /// falls back on SQLite's affinity rules.
    fn parse_sqlite(lower: &str, base: &str, length: Option<u32>, numbers: &[u32]) -> Self {
        match base {
            "boolean" | "bool" => Self::Bool,
            // SQLite stores any integer in 8 bytes, whatever the column declares: a `TINYINT`
            // may hold 5 billion, so every integer column is read as 8 bytes wide.
            "tinyint" | "smallint" | "int2" | "int" | "int4" | "mediumint" | "integer"
            | "bigint" | "int8" => Self::Int { bytes: 8 },
            "decimal" | "numeric" | "decimal_text" => Self::Decimal {
                precision: numbers.first().copied(),
                scale: numbers.get(1).copied().or(numbers.first().map(|_| 0)),
            },
            "real" | "float" | "double" | "double precision" => Self::Float64,
            "date" => Self::Date,
            "time" => Self::Time { precision: 6 },
            "datetime" | "timestamp" => Self::Timestamp { precision: 6 },
            "timestamptz" => Self::TimestampTz { precision: 6 },
            "json" | "jsonb" => Self::Json,
            "uuid" => Self::Uuid,
            "blob" | "bytea" | "binary" | "varbinary" => Self::Binary { max_length: length },
            "varchar" | "char" | "character varying" | "nvarchar" => {
                Self::Text { max_length: length }
            }
            _ if lower.contains("int") => Self::Int { bytes: 8 },
            _ if lower.contains("char") || lower.contains("clob") || lower.contains("text") => {
                Self::Text { max_length: None }
            }
            "" => Self::Text { max_length: None },
            _ if lower.contains("blob") => Self::Binary { max_length: None },
            _ if lower.contains("real") || lower.contains("floa") || lower.contains("doub") => {
                Self::Float64
            }
            _ => Self::Decimal {
                precision: None,
                scale: None,
            },
        }
    }

    /// The column type that holds this type on `driver`, as DDL.
    pub fn ddl(&self, driver: Driver) -> String {
        match driver {
            Driver::Postgres => self.postgres_ddl(),
            Driver::MySql => self.mysql_ddl(),
            Driver::Sqlite => self.sqlite_ddl(),
        }
    }

    fn postgres_ddl(&self) -> String {
        match self {
            Self::Bool => "BOOLEAN".into(),
            Self::Int { bytes: 1 | 2 } | Self::UInt { bytes: 1 } => "SMALLINT".into(),
            Self::Int { bytes: 4 } | Self::UInt { bytes: 2 } => "INTEGER".into(),
            Self::Int { .. } | Self::UInt { bytes: 4 } => "BIGINT".into(),
            // An unsigned 64-bit integer does not fit a BIGINT, nor 64 bits all set: NUMERIC(20)
            // holds every value.
            Self::UInt { .. } | Self::Bit { bits: 64.. } => "NUMERIC(20, 0)".into(),
            Self::Decimal {
                precision: Some(precision),
                scale,
            } => {
                format!("NUMERIC({precision}, {})", scale.unwrap_or(0))
            }
            Self::Decimal { .. } => "NUMERIC".into(),
            Self::Float32 => "REAL".into(),
            Self::Float64 => "DOUBLE PRECISION".into(),
            Self::Text {
                max_length: Some(length),
            } => format!("VARCHAR({length})"),
            Self::Text { max_length: None }
            | Self::Enum { .. }
            | Self::Set { .. }
            | Self::Other { .. } => "TEXT".into(),
            Self::Binary { .. } => "BYTEA".into(),
            Self::Date => "DATE".into(),
            Self::Time { precision } => format!("TIME({})", precision.min(&6)),
            Self::Timestamp { precision } => format!("TIMESTAMP({})", precision.min(&6)),
            Self::TimestampTz { precision } => format!("TIMESTAMPTZ({})", precision.min(&6)),
            Self::Json => "JSONB".into(),
            Self::Uuid => "UUID".into(),
            Self::Bit { bits } if *bits <= 31 => "INTEGER".into(),
            Self::Bit { .. } => "BIGINT".into(),
        }
    }

    fn mysql_ddl(&self) -> String {
        match self {
            Self::Bool => "TINYINT(1)".into(),
            Self::Int { bytes: 1 } => "TINYINT".into(),
            Self::Int { bytes: 2 } => "SMALLINT".into(),
            Self::Int { bytes: 4 } => "INT".into(),
            Self::Int { .. } => "BIGINT".into(),
            Self::UInt { bytes: 1 } => "TINYINT UNSIGNED".into(),
            Self::UInt { bytes: 2 } => "SMALLINT UNSIGNED".into(),
            Self::UInt { bytes: 4 } => "INT UNSIGNED".into(),
            Self::UInt { .. } => "BIGINT UNSIGNED".into(),
            Self::Decimal {
                precision: Some(precision),
                scale,
            } if *precision <= 65 => {
                format!("DECIMAL({precision}, {})", scale.unwrap_or(0).min(30))
            }
            // MySQL's widest decimal is 65 digits; an unconstrained one gets the widest, and a
            // value that does not fit is reported as lossy.
            Self::Decimal { .. } => "DECIMAL(65, 30)".into(),
            Self::Float32 => "FLOAT".into(),
            Self::Float64 => "DOUBLE".into(),
            Self::Text {
                max_length: Some(length),
            } if *length <= 16_383 => format!("VARCHAR({length})"),
            Self::Text { .. } | Self::Other { .. } => "LONGTEXT".into(),
            Self::Binary {
                max_length: Some(length),
            } if *length <= 65_535 => format!("VARBINARY({length})"),
            Self::Binary { .. } => "LONGBLOB".into(),
            Self::Date => "DATE".into(),
            Self::Time { precision } => format!("TIME({})", precision.min(&6)),
            // DATETIME holds what a zoned timestamp says, normalised to UTC (TIMESTAMP would
            // convert with the session zone and end in 2038).
            Self::Timestamp { precision } | Self::TimestampTz { precision } => {
                format!("DATETIME({})", precision.min(&6))
            }
            Self::Json => "JSON".into(),
            Self::Uuid => "CHAR(36)".into(),
            Self::Enum { values } => format!("ENUM({})", quoted_list(values)),
            Self::Set { values } => format!("SET({})", quoted_list(values)),
            Self::Bit { bits } => format!("BIT({bits})"),
        }
    }

    /// SQLite stores what it is given; the declared name is what lets a reader (pipewright
    /// included) know the type again.
    fn sqlite_ddl(&self) -> String {
        match self {
            Self::Bool => "BOOLEAN".into(),
            Self::Int { bytes: 1 } => "TINYINT".into(),
            Self::Int { bytes: 2 } => "SMALLINT".into(),
            Self::Int { bytes: 4 } => "INT".into(),
            Self::Int { .. } | Self::UInt { bytes: 1 | 2 | 4 } | Self::Bit { bits: ..=63 } => {
                "BIGINT".into()
            }
            // Above 2^63 - 1 SQLite's integers end: the text keeps every digit.
            Self::UInt { .. } | Self::Bit { .. } => "DECIMAL_TEXT(20, 0)".into(),
            // NUMERIC affinity keeps 15 significant digits (it stores a REAL); a wider
            // decimal is declared with TEXT affinity, which keeps every digit as written.
            Self::Decimal {
                precision: Some(precision),
                scale,
            } if *precision <= 15 => {
                format!("DECIMAL({precision}, {})", scale.unwrap_or(0))
            }
            Self::Decimal {
                precision: Some(precision),
                scale,
            } => {
                format!("DECIMAL_TEXT({precision}, {})", scale.unwrap_or(0))
            }
            Self::Decimal { .. } => "DECIMAL_TEXT".into(),
            Self::Float32 | Self::Float64 => "DOUBLE".into(),
            Self::Text {
                max_length: Some(length),
            } => format!("VARCHAR({length})"),
            Self::Text { max_length: None }
            | Self::Enum { .. }
            | Self::Set { .. }
            | Self::Other { .. } => "TEXT".into(),
            Self::Binary { .. } => "BLOB".into(),
            Self::Date => "DATE".into(),
            Self::Time { .. } => "TIME".into(),
            Self::Timestamp { .. } => "TIMESTAMP".into(),
            Self::TimestampTz { .. } => "TIMESTAMPTZ".into(),
            Self::Json => "JSON".into(),
            Self::Uuid => "UUID".into(),
        }
    }
}

/// MySQL string literals: quotes doubled, backslashes escaped (the default `sql_mode`).
fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|value| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_catalogs_spelling() {
        for (driver, declared, expected) in [
            (Driver::MySql, "tinyint(1)", LogicalType::Bool),
            (
                Driver::MySql,
                "tinyint(4) unsigned",
                LogicalType::UInt { bytes: 1 },
            ),
            (
                Driver::MySql,
                "bigint(20) unsigned",
                LogicalType::UInt { bytes: 8 },
            ),
            (
                Driver::MySql,
                "decimal(12,4)",
                LogicalType::Decimal {
                    precision: Some(12),
                    scale: Some(4),
                },
            ),
            (
                Driver::MySql,
                "datetime(3)",
                LogicalType::Timestamp { precision: 3 },
            ),
            (
                Driver::MySql,
                "timestamp",
                LogicalType::TimestampTz { precision: 0 },
            ),
            (
                Driver::MySql,
                "enum('a','it''s')",
                LogicalType::Enum {
                    values: vec!["a".into(), "it's".into()],
                },
            ),
            (
                Driver::MySql,
                "set('x','y')",
                LogicalType::Set {
                    values: vec!["x".into(), "y".into()],
                },
            ),
            (Driver::MySql, "bit(8)", LogicalType::Bit { bits: 8 }),
            (
                Driver::MySql,
                "varchar(16)",
                LogicalType::Text {
                    max_length: Some(16),
                },
            ),
            (
                Driver::Postgres,
                "numeric(20,0)",
                LogicalType::Decimal {
                    precision: Some(20),
                    scale: Some(0),
                },
            ),
            (
                Driver::Postgres,
                "numeric",
                LogicalType::Decimal {
                    precision: None,
                    scale: None,
                },
            ),
            (
                Driver::Postgres,
                "timestamp(3) without time zone",
                LogicalType::Timestamp { precision: 3 },
            ),
            (
                Driver::Postgres,
                "timestamp with time zone",
                LogicalType::TimestampTz { precision: 6 },
            ),
            (
                Driver::Postgres,
                "time without time zone",
                LogicalType::Time { precision: 6 },
            ),
            (
                Driver::Postgres,
                "character varying(16)",
                LogicalType::Text {
                    max_length: Some(16),
                },
            ),
            (Driver::Postgres, "double precision", LogicalType::Float64),
            (Driver::Postgres, "jsonb", LogicalType::Json),
            (
                Driver::Postgres,
                "interval",
                LogicalType::Other {
                    name: "interval".into(),
                },
            ),
            (
                Driver::Postgres,
                "character varying(16)[]",
                LogicalType::Other {
                    name: "character varying(16)[]".into(),
                },
            ),
            (
                Driver::Postgres,
                "numeric(12,4)[]",
                LogicalType::Other {
                    name: "numeric(12,4)[]".into(),
                },
            ),
            (
                Driver::Sqlite,
                "DECIMAL(12, 4)",
                LogicalType::Decimal {
                    precision: Some(12),
                    scale: Some(4),
                },
            ),
            (Driver::Sqlite, "INTEGER", LogicalType::Int { bytes: 8 }),
            (Driver::Sqlite, "", LogicalType::Text { max_length: None }),
            (
                Driver::Sqlite,
                "TIMESTAMP",
                LogicalType::Timestamp { precision: 6 },
            ),
        ] {
            assert_eq!(
                LogicalType::parse(driver, declared),
                expected,
                "{driver} {declared}"
            );
        }
    }

    #[test]
    fn sixty_four_bits_go_where_two_to_the_sixty_four_fits() {
        let wide = LogicalType::Bit { bits: 64 };
        let unsigned_bigint = LogicalType::Decimal {
            precision: Some(20),
            scale: Some(0),
        };
        for driver in [Driver::Postgres, Driver::Sqlite] {
            assert_eq!(
                LogicalType::parse(driver, &wide.ddl(driver)),
                unsigned_bigint
            );
            assert_eq!(
                LogicalType::parse(driver, &LogicalType::Bit { bits: 63 }.ddl(driver)),
                LogicalType::Int { bytes: 8 }
            );
        }
        assert_eq!(wide.ddl(Driver::MySql), "BIT(64)");
    }

    #[test]
    fn every_type_round_trips_through_each_dialect() {
        let types = [
            LogicalType::Bool,
            LogicalType::Int { bytes: 2 },
            LogicalType::Int { bytes: 8 },
            LogicalType::Decimal {
                precision: Some(12),
                scale: Some(4),
            },
            LogicalType::Decimal {
                precision: Some(30),
                scale: Some(10),
            },
            LogicalType::Float64,
            LogicalType::Text {
                max_length: Some(16),
            },
            LogicalType::Text { max_length: None },
            LogicalType::Date,
            LogicalType::Timestamp { precision: 6 },
            LogicalType::Json,
        ];
        for driver in [Driver::Sqlite, Driver::Postgres, Driver::MySql] {
            for logical in &types {
                let ddl = logical.ddl(driver);
                let read_back = LogicalType::parse(driver, &ddl);
                // SQLite's integers are all 8 bytes wide, whatever their declaration.
                let expected = match (driver, logical) {
                    (Driver::Sqlite, LogicalType::Int { .. }) => &LogicalType::Int { bytes: 8 },
                    _ => logical,
                };
                assert_eq!(&read_back, expected, "{driver}: {ddl}");
            }
        }
    }
}

//! Identifiers in SQL text: the one quoting function per dialect.

use crate::pipeline::Driver;

/// `name` quoted as an identifier for `driver`: `"name"` (SQLite, PostgreSQL) or `` `name` ``
/// (MySQL), with embedded quotes doubled, so that no name can end the identifier early.
/// A dotted name (`schema.table`) is quoted part by part.
pub fn quote_identifier(driver: Driver, name: &str) -> String {
    let quote = match driver {
        Driver::Sqlite | Driver::Postgres => '"',
        Driver::MySql => '`',
    };
    name.split('.')
        .map(|part| {
            let escaped = part.replace(quote, &format!("{quote}{quote}"));
            format!("{quote}{escaped}{quote}")
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes_per_dialect() {
        assert_eq!(quote_identifier(Driver::Postgres, "logs"), "\"logs\"");
        assert_eq!(quote_identifier(Driver::Postgres, "a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_identifier(Driver::MySql, "we`ird"), "`we``ird`");
        assert_eq!(quote_identifier(Driver::Sqlite, "main.t"), "\"main\".\"t\"");
        assert_eq!(quote_identifier(Driver::MySql, "select"), "`select`");
    }
}

//! Migration files: `<version>_<description>.sql` (or `.up.sql`, as sqlx writes them), with an
//! optional `<version>_<description>.down.sql`, read from one directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::migrate::ChecksumAlgorithm;

/// The first line that makes a file run outside a transaction (needed for `CREATE INDEX
/// CONCURRENTLY` and TimescaleDB continuous aggregates).
pub const NO_TRANSACTION_MARKER: &str = "-- pipewright:no-transaction";

/// One versioned migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: u64,
    pub description: String,
    pub path: PathBuf,
    /// The file's text, line ends normalized.
    pub sql: String,
    /// Under [`ChecksumAlgorithm::CURRENT`].
    pub checksum: String,
    /// The first line is [`NO_TRANSACTION_MARKER`].
    pub no_transaction: bool,
    pub down: Option<DownFile>,
}

/// The file that reverts a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownFile {
    pub path: PathBuf,
    pub sql: String,
    pub no_transaction: bool,
}

impl MigrationFile {
    /// The file's name, for messages.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
    }

    /// The statements of the file, as `driver` reads them.
    pub fn statements(&self, driver: crate::pipeline::Driver) -> Vec<String> {
        crate::db::split_statements(&self.sql, driver)
    }
}

/// A file name that is not a migration, or two files with one version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("cannot read migration directory `{path}`: {message}")]
    Unreadable { path: String, message: String },
    #[error("`{file}` is not named `<version>_<description>.sql`: {reason}")]
    Malformed { file: String, reason: &'static str },
    #[error("`{first}` and `{second}` both have version {version}")]
    Duplicate {
        version: u64,
        first: String,
        second: String,
    },
    #[error("`{file}` reverts version {version}, which has no migration file")]
    OrphanDown { file: String, version: u64 },
}

/// What a file name says.
#[derive(Debug, PartialEq, Eq)]
enum FileRole {
    Up,
    Down,
}

fn parse_name(name: &str) -> Result<(u64, String, FileRole), &'static str> {
    let (stem, role) = if let Some(stem) = name.strip_suffix(".down.sql") {
        (stem, FileRole::Down)
    } else if let Some(stem) = name.strip_suffix(".up.sql") {
        (stem, FileRole::Up)
    } else if let Some(stem) = name.strip_suffix(".sql") {
        (stem, FileRole::Up)
    } else {
        return Err("migration files end in `.sql`");
    };
    let (version, description) = stem
        .split_once('_')
        .ok_or("the version and the description are separated by `_`")?;
    if version.is_empty() || !version.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err("the version is a number, such as `0001` or `20250102120000`");
    }
    let version: u64 = version
        .parse()
        .ok()
        .filter(|version| i64::try_from(*version).is_ok())
        .ok_or("the version is too large (at most 9223372036854775807)")?;
    if description.is_empty() {
        return Err("the description after `_` is empty");
    }
    Ok((version, description.replace('_', " "), role))
}

fn read(path: &Path) -> Result<String, ScanError> {
    std::fs::read_to_string(path).map_err(|error| ScanError::Unreadable {
        path: path.display().to_string(),
        message: error.to_string(),
    })
}

/// Reads every migration of `directory`, in version order. Files that do not end in `.sql`
/// (a README) are ignored; every other problem is collected.
pub fn scan(directory: &Path) -> Result<Vec<MigrationFile>, Vec<ScanError>> {
    let entries = std::fs::read_dir(directory).map_err(|error| {
        vec![ScanError::Unreadable {
            path: directory.display().to_string(),
            message: error.to_string(),
        }]
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            Path::new(name)
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("sql"))
        })
        .collect();
    names.sort();

    let algorithm = ChecksumAlgorithm::CURRENT;
    let mut errors = Vec::new();
    let mut ups: BTreeMap<u64, MigrationFile> = BTreeMap::new();
    let mut downs: BTreeMap<u64, (String, DownFile)> = BTreeMap::new();
    for name in names {
        let path = directory.join(&name);
        let (version, description, role) = match parse_name(&name) {
            Ok(parsed) => parsed,
            Err(reason) => {
                errors.push(ScanError::Malformed { file: name, reason });
                continue;
            }
        };
        let text = match read(&path) {
            Ok(text) => algorithm.normalize(&text),
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let no_transaction = text.lines().next().map(str::trim) == Some(NO_TRANSACTION_MARKER);
        match role {
            FileRole::Up => {
                if let Some(existing) = ups.get(&version) {
                    errors.push(ScanError::Duplicate {
                        version,
                        first: existing.file_name(),
                        second: name,
                    });
                    continue;
                }
                ups.insert(
                    version,
                    MigrationFile {
                        version,
                        description,
                        path,
                        checksum: algorithm.checksum(&text),
                        sql: text,
                        no_transaction,
                        down: None,
                    },
                );
            }
            FileRole::Down => {
                if let Some((existing, _)) = downs.get(&version) {
                    errors.push(ScanError::Duplicate {
                        version,
                        first: existing.clone(),
                        second: name,
                    });
                    continue;
                }
                downs.insert(
                    version,
                    (
                        name,
                        DownFile {
                            path,
                            sql: text,
                            no_transaction,
                        },
                    ),
                );
            }
        }
    }
    for (version, (name, down)) in downs {
        match ups.get_mut(&version) {
            Some(up) => up.down = Some(down),
            None => errors.push(ScanError::OrphanDown {
                file: name,
                version,
            }),
        }
    }
    if errors.is_empty() {
        Ok(ups.into_values().collect())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory(files: &[(&str, &str)]) -> tempfile::TempDir {
        let directory = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(directory.path().join(name), text).unwrap();
        }
        directory
    }

    #[test]
    fn reads_versions_in_numeric_order_with_their_down_files() {
        let directory = directory(&[
            ("10_later.sql", "select 10;"),
            (
                "0002_add_index.up.sql",
                "-- pipewright:no-transaction\ncreate index concurrently i on t (x);",
            ),
            ("0002_add_index.down.sql", "drop index i;"),
            ("1_create_table.sql", "create table t (x int);\r\n"),
            ("README.md", "not a migration"),
        ]);
        let files = scan(directory.path()).unwrap();
        let versions: Vec<u64> = files.iter().map(|file| file.version).collect();
        assert_eq!(versions, [1, 2, 10]);
        assert_eq!(files[0].description, "create table");
        assert_eq!(files[0].sql, "create table t (x int);\n");
        assert!(files[1].no_transaction);
        assert_eq!(files[1].down.as_ref().unwrap().sql, "drop index i;");
        assert!(files[2].down.is_none());
    }

    #[test]
    fn reports_every_malformed_and_duplicate_name() {
        let directory = directory(&[
            ("0001_a.sql", ""),
            ("01_b.sql", ""),
            ("x_c.sql", ""),
            ("0003.sql", ""),
            ("0004_.sql", ""),
            ("0009_orphan.down.sql", ""),
        ]);
        let errors = scan(directory.path()).unwrap_err();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        assert!(
            messages
                .iter()
                .any(|message| message.contains("`0001_a.sql` and `01_b.sql` both have version 1"))
        );
        assert!(messages.iter().any(|message| message.contains("`x_c.sql`")));
        assert!(
            messages
                .iter()
                .any(|message| message.contains("`0003.sql`"))
        );
        assert!(
            messages
                .iter()
                .any(|message| message.contains("`0004_.sql`"))
        );
        assert!(
            messages
                .iter()
                .any(|message| message.contains("reverts version 9"))
        );
    }
}

//! What state each migration is in, from the files on disk and the history table. Pure: the
//! same inputs give the same verdict, and every problem is found at once.

use serde::Serialize;
use similar::TextDiff;

use crate::migrate::{ChecksumAlgorithm, HistoryRow, MigrationFile};
use crate::pipeline::Driver;

/// The state of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum MigrationState {
    /// Applied, and the file is unchanged.
    Applied,
    /// On disk, not applied, newer than everything applied.
    Pending,
    /// On disk, not applied, older than the newest applied version.
    PendingOutOfOrder,
    /// Applied, but the file changed since: a unified diff from applied to on disk.
    Changed { diff: String },
    /// Applied, but its file is gone.
    Missing,
    /// Started statement by statement and stopped after `applied` of `total` statements.
    Partial { applied: u32, total: u32 },
}

/// One version and its state.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationEntry {
    pub version: u64,
    pub description: String,
    pub file: Option<String>,
    #[serde(flatten)]
    pub state: MigrationState,
    /// When it was applied, if it was.
    pub applied_at: Option<chrono::NaiveDateTime>,
    pub accepted_reason: Option<String>,
}

/// Every version, in order.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    pub entries: Vec<MigrationEntry>,
    /// How statements are split on this database.
    #[serde(skip)]
    pub driver: Driver,
}

/// A reason `up` refuses to apply anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationProblem {
    #[error("`{file}` (version {version}) was changed after it was applied:\n{diff}")]
    Changed {
        version: u64,
        file: String,
        diff: String,
    },
    #[error(
        "version {version} ({description}) was applied, but its file is not in the directory any more"
    )]
    Missing { version: u64, description: String },
    #[error(
        "`{file}` (version {version}) is pending but older than the newest applied version {newest}"
    )]
    OutOfOrder {
        version: u64,
        file: String,
        newest: u64,
    },
    #[error(
        "`{file}` stopped after {applied} of {total} statements, and its first {applied} statements changed since:\n{diff}"
    )]
    PartialChanged {
        file: String,
        applied: u32,
        total: u32,
        diff: String,
    },
}

impl ValidationProblem {
    /// What to do about it.
    pub fn help(&self) -> String {
        match self {
            Self::Changed { version, .. } => format!(
                "put the file back as it was applied, or accept it on purpose: `pipewright migrate accept {version} --reason \"...\"`"
            ),
            Self::Missing { .. } => "restore the file: applied migrations stay in the directory".to_owned(),
            Self::OutOfOrder { .. } => {
                "give it a version after the newest applied one, or allow it with `out_of_order = true`".to_owned()
            }
            Self::PartialChanged { .. } => {
                "the statements that ran must stay as they ran; fix only the failed statement and those after it".to_owned()
            }
        }
    }
}

/// A unified diff of `old` (as applied) to `new` (on disk).
pub fn diff(old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header("applied", "on disk")
        .to_string()
}

fn checksum_matches(row: &HistoryRow, file: &MigrationFile) -> bool {
    match ChecksumAlgorithm::from_name(&row.checksum_algorithm) {
        Some(algorithm) => algorithm.checksum(&file.sql) == row.checksum,
        // An algorithm this pipewright does not know: compare the kept text instead.
        None => row.applied_sql == file.sql,
    }
}

/// The state of every version, on a `driver` database.
pub fn status(files: &[MigrationFile], history: &[HistoryRow], driver: Driver) -> MigrationStatus {
    let newest_applied = history
        .iter()
        .filter(|row| row.success)
        .map(|row| row.version)
        .max();
    let mut entries = Vec::new();
    let mut versions: Vec<u64> = files
        .iter()
        .map(|file| file.version)
        .chain(history.iter().map(|row| row.version))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    for version in versions {
        let file = files.iter().find(|file| file.version == version);
        let row = history.iter().find(|row| row.version == version);
        let state = match (file, row) {
            (Some(_), None) => match newest_applied {
                Some(newest) if version < newest => MigrationState::PendingOutOfOrder,
                _ => MigrationState::Pending,
            },
            (None, Some(_)) => MigrationState::Missing,
            (Some(file), Some(row)) if !row.success => MigrationState::Partial {
                applied: row.statements_applied,
                total: u32::try_from(file.statements(driver).len()).unwrap_or(u32::MAX),
            },
            (Some(file), Some(row)) if checksum_matches(row, file) => MigrationState::Applied,
            (Some(file), Some(row)) => MigrationState::Changed {
                diff: diff(&row.applied_sql, &file.sql),
            },
            (None, None) => continue,
        };
        entries.push(MigrationEntry {
            version,
            description: file.map_or_else(
                || row.map(|row| row.description.clone()).unwrap_or_default(),
                |file| file.description.clone(),
            ),
            file: file.map(MigrationFile::file_name),
            state,
            applied_at: row.map(|row| row.applied_at),
            accepted_reason: row.and_then(|row| row.accepted_reason.clone()),
        });
    }
    MigrationStatus { entries, driver }
}

impl MigrationStatus {
    /// Every reason not to apply, all at once.
    pub fn problems(
        &self,
        files: &[MigrationFile],
        history: &[HistoryRow],
        out_of_order: bool,
    ) -> Vec<ValidationProblem> {
        let newest = history
            .iter()
            .filter(|row| row.success)
            .map(|row| row.version)
            .max()
            .unwrap_or(0);
        let mut problems = Vec::new();
        for entry in &self.entries {
            let file_name = entry.file.clone().unwrap_or_default();
            match &entry.state {
                MigrationState::Changed { diff } => problems.push(ValidationProblem::Changed {
                    version: entry.version,
                    file: file_name,
                    diff: diff.clone(),
                }),
                MigrationState::Missing => problems.push(ValidationProblem::Missing {
                    version: entry.version,
                    description: entry.description.clone(),
                }),
                MigrationState::PendingOutOfOrder if !out_of_order => {
                    problems.push(ValidationProblem::OutOfOrder {
                        version: entry.version,
                        file: file_name,
                        newest,
                    });
                }
                MigrationState::Partial { applied, total } => {
                    let file = files.iter().find(|file| file.version == entry.version);
                    let row = history.iter().find(|row| row.version == entry.version);
                    if let (Some(file), Some(row)) = (file, row) {
                        let ran = |sql: &str| {
                            crate::db::split_statements(sql, self.driver)
                                .into_iter()
                                .take(*applied as usize)
                                .collect::<Vec<_>>()
                                .join(";\n")
                        };
                        let (before, now) = (ran(&row.applied_sql), ran(&file.sql));
                        if before != now {
                            problems.push(ValidationProblem::PartialChanged {
                                file: file_name,
                                applied: *applied,
                                total: *total,
                                diff: diff(&before, &now),
                            });
                        }
                    }
                }
                MigrationState::Applied
                | MigrationState::Pending
                | MigrationState::PendingOutOfOrder => {}
            }
        }
        problems
    }

    /// Versions still to apply (or to finish), in order.
    pub fn to_apply(&self) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|entry| {
                matches!(
                    entry.state,
                    MigrationState::Pending
                        | MigrationState::PendingOutOfOrder
                        | MigrationState::Partial { .. }
                )
            })
            .map(|entry| entry.version)
            .collect()
    }

    pub fn pending_count(&self) -> usize {
        self.to_apply().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: u64, sql: &str) -> MigrationFile {
        MigrationFile {
            version,
            description: format!("v{version}"),
            path: format!("{version:04}_v{version}.sql").into(),
            sql: sql.to_owned(),
            checksum: ChecksumAlgorithm::CURRENT.checksum(sql),
            no_transaction: false,
            down: None,
        }
    }

    fn applied(file: &MigrationFile) -> HistoryRow {
        HistoryRow {
            version: file.version,
            description: file.description.clone(),
            checksum: file.checksum.clone(),
            checksum_algorithm: ChecksumAlgorithm::CURRENT.name().to_owned(),
            applied_at: chrono::Utc::now().naive_utc(),
            execution_ms: 1,
            success: true,
            statements_applied: 1,
            statements_total: 1,
            applied_sql: file.sql.clone(),
            accepted_reason: None,
        }
    }

    #[test]
    fn classifies_every_version_and_reports_every_problem() {
        let one = file(1, "create table a (x int);\n");
        let two = file(2, "create table b (x int);\n");
        let three = file(3, "create table c (x int);\n");
        let four = file(4, "create table d (x int);\n");
        let mut changed = applied(&two);
        changed.applied_sql = "create table b (x bigint);\n".into();
        changed.checksum = ChecksumAlgorithm::CURRENT.checksum(&changed.applied_sql);
        let gone = HistoryRow {
            version: 5,
            ..applied(&file(5, "x"))
        };
        let history = vec![applied(&one), changed, applied(&four), gone];
        let files = vec![one, two, three, four];
        let verdict = status(&files, &history, Driver::Sqlite);
        let states: Vec<&str> = verdict
            .entries
            .iter()
            .map(|entry| match entry.state {
                MigrationState::Applied => "applied",
                MigrationState::Pending => "pending",
                MigrationState::PendingOutOfOrder => "out of order",
                MigrationState::Changed { .. } => "changed",
                MigrationState::Missing => "missing",
                MigrationState::Partial { .. } => "partial",
            })
            .collect();
        assert_eq!(
            states,
            ["applied", "changed", "out of order", "applied", "missing"]
        );
        let problems = verdict.problems(&files, &history, false);
        assert_eq!(problems.len(), 3);
        let ValidationProblem::Changed { diff, .. } = &problems[0] else {
            panic!()
        };
        assert!(diff.contains("-create table b (x bigint);"), "{diff}");
        assert!(diff.contains("+create table b (x int);"), "{diff}");
        assert_eq!(
            verdict.problems(&files, &history, true).len(),
            2,
            "out_of_order allows version 3"
        );
        assert_eq!(verdict.to_apply(), [3]);
    }

    #[test]
    fn a_partial_file_may_change_only_after_what_ran() {
        let original = file(
            1,
            "create table a (x int);\ninsert into a values (1);\ninsert into nope values (2);\n",
        );
        let mut row = applied(&original);
        row.success = false;
        row.statements_applied = 2;
        let fixed = file(
            1,
            "create table a (x int);\ninsert into a values (1);\ninsert into a values (2);\n",
        );
        let status_fixed = status(
            std::slice::from_ref(&fixed),
            std::slice::from_ref(&row),
            Driver::Sqlite,
        );
        assert_eq!(
            status_fixed.entries[0].state,
            MigrationState::Partial {
                applied: 2,
                total: 3
            }
        );
        assert!(
            status_fixed
                .problems(
                    std::slice::from_ref(&fixed),
                    std::slice::from_ref(&row),
                    false
                )
                .is_empty()
        );
        let tampered = file(
            1,
            "create table a (x bigint);\ninsert into a values (1);\ninsert into a values (2);\n",
        );
        let problems = status(
            std::slice::from_ref(&tampered),
            std::slice::from_ref(&row),
            Driver::Sqlite,
        )
        .problems(
            std::slice::from_ref(&tampered),
            std::slice::from_ref(&row),
            false,
        );
        assert!(matches!(
            problems[0],
            ValidationProblem::PartialChanged { applied: 2, .. }
        ));
    }
}

//! The names of the tables a transform makes next to its target: the staging table it loads,
//! the backups it keeps. Both fit the engines' identifier limits (63 bytes on PostgreSQL, 64
//! characters on MySQL) whatever the target's name.

use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

use crate::data::split_name;

/// The longest identifier every engine accepts.
const NAME_LIMIT: usize = 63;
const STAGING_SUFFIX: &str = "__pw_staging";
const BACKUP_MARK: &str = "__pw_backup_";
/// MySQL's backup while it is filled, before it is named ([`pending_backup_table`]).
const PENDING_BACKUP_SUFFIX: &str = "__pw_backing_up";
/// `YYYYMMDDHHMMSS`, the time a backup was made, in UTC.
const STAMP_FORMAT: &str = "%Y%m%d%H%M%S";
const STAMP_LENGTH: usize = 14;

/// `base` + `suffix`, within the limit: a base too long is cut and given a hash of itself so
/// that two long names never meet.
pub(crate) fn derived_name(base: &str, suffix: &str) -> String {
    if base.len() + suffix.len() <= NAME_LIMIT {
        return format!("{base}{suffix}");
    }
    let digest = Sha256::digest(base.as_bytes());
    let hash = crate::values::hex(&digest[..4]);
    let room = NAME_LIMIT - suffix.len() - hash.len() - 1;
    let mut cut = room.min(base.len());
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{hash}{suffix}", &base[..cut])
}

/// `schema.` of a qualified name, or nothing.
fn schema_prefix(qualified: &str) -> String {
    split_name(qualified)
        .0
        .map(|schema| format!("{schema}."))
        .unwrap_or_default()
}

/// The staging table of `target`, in the same schema.
pub fn staging_table(target: &str) -> String {
    let (_, table) = split_name(target);
    format!(
        "{}{}",
        schema_prefix(target),
        derived_name(table, STAGING_SUFFIX)
    )
}

/// Where MySQL's backup of `target` is filled before it gets its backup name, in the same
/// schema.
pub(crate) fn pending_backup_table(target: &str) -> String {
    let (_, table) = split_name(target);
    format!(
        "{}{}",
        schema_prefix(target),
        derived_name(table, PENDING_BACKUP_SUFFIX)
    )
}

/// Whether `name` is a table a transform makes next to its target: a staging table, a
/// backup, or a backup being filled. Never copied by patterns, never listed as a table.
pub(crate) fn is_side_table(name: &str) -> bool {
    [STAGING_SUFFIX, BACKUP_MARK, PENDING_BACKUP_SUFFIX]
        .iter()
        .any(|mark| name.contains(mark))
}

/// The start of the names of `target`'s backups (without schema).
pub(crate) fn backup_prefix(target: &str) -> String {
    let (_, table) = split_name(target);
    let name = derived_name(table, &format!("{BACKUP_MARK}{}", "0".repeat(STAMP_LENGTH)));
    name[..name.len() - STAMP_LENGTH].to_owned()
}

/// A backup of `target` made at `at`, in the same schema.
pub fn backup_table(target: &str, at: DateTime<Utc>) -> String {
    format!(
        "{}{}{}",
        schema_prefix(target),
        backup_prefix(target),
        at.format(STAMP_FORMAT)
    )
}

/// When a backup of `target` named `name` (without schema) was made, if it is one.
pub(crate) fn backup_time(target: &str, name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(&backup_prefix(target))?;
    (stamp.len() == STAMP_LENGTH)
        .then(|| NaiveDateTime::parse_from_str(stamp, STAMP_FORMAT).ok())
        .flatten()
        .map(|naive| naive.and_utc())
}

/// `name` qualified with the schema of `target`.
pub(crate) fn in_schema_of(target: &str, name: &str) -> String {
    format!("{}{name}", schema_prefix(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_within_the_limit_and_apart() {
        assert_eq!(staging_table("bars"), "bars__pw_staging");
        assert_eq!(staging_table("market.bars"), "market.bars__pw_staging");
        let long_a = format!("{}a", "x".repeat(70));
        let long_b = format!("{}b", "x".repeat(70));
        let (a, b) = (staging_table(&long_a), staging_table(&long_b));
        assert!(a.len() <= NAME_LIMIT && b.len() <= NAME_LIMIT);
        assert_ne!(a, b);
        assert!(a.ends_with(STAGING_SUFFIX));
    }

    #[test]
    fn side_tables_are_known_by_their_names() {
        assert_eq!(
            pending_backup_table("shop.bars"),
            "shop.bars__pw_backing_up"
        );
        for side in [
            staging_table("bars"),
            pending_backup_table("bars"),
            backup_table("bars", Utc::now()),
        ] {
            assert!(is_side_table(&side), "{side}");
        }
        assert!(!is_side_table("bars"));
        assert!(!is_side_table("bars__pw_backup"));
    }

    #[test]
    fn backups_are_found_by_their_table_and_time() {
        let at = DateTime::parse_from_rfc3339("2026-11-26T07:08:09Z")
            .unwrap()
            .with_timezone(&Utc);
        let backup = backup_table("market.daily_bars", at);
        assert_eq!(backup, "market.daily_bars__pw_backup_20261126070809");
        assert_eq!(
            backup_time("market.daily_bars", "daily_bars__pw_backup_20261126070809"),
            Some(at)
        );
        assert_eq!(
            backup_time("daily", "daily_bars__pw_backup_20261126070809"),
            None,
            "another table's backup"
        );
        let long = "y".repeat(80);
        let long_backup = backup_table(&long, at);
        assert!(long_backup.len() <= NAME_LIMIT);
        assert_eq!(backup_time(&long, &long_backup), Some(at));
    }
}

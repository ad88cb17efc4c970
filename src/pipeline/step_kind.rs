//! What a step does: the `kind` key of a `[steps.<id>]` table.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

/// The kinds of step of manifest format 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    Command,
    Sql,
    Migrate,
    Transform,
    Validate,
    Bench,
}

/// Keys every step accepts, whatever its kind.
pub const COMMON_STEP_KEYS: &[&str] = &[
    "kind",
    "description",
    "after",
    "tags",
    "enabled",
    "retries",
    "retry_backoff",
    "timeout",
];

impl StepKind {
    pub const ALL: [Self; 6] = [
        Self::Command,
        Self::Sql,
        Self::Migrate,
        Self::Transform,
        Self::Validate,
        Self::Bench,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Sql => "sql",
            Self::Migrate => "migrate",
            Self::Transform => "transform",
            Self::Validate => "validate",
            Self::Bench => "bench",
        }
    }

    /// The keys that belong to this kind, besides [`COMMON_STEP_KEYS`].
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Command => &["run", "shell", "env", "workdir"],
            Self::Sql => &["connection", "sql", "file", "transaction"],
            Self::Migrate => &[
                "connection",
                "dir",
                "history_table",
                "out_of_order",
                "lock_timeout",
            ],
            Self::Transform => &[
                "from",
                "to",
                "batch_size",
                "parallel",
                "verify",
                "keep_backups",
                "on_lossy",
                "columns",
            ],
            Self::Validate => &["connection", "table", "query", "checks"],
            Self::Bench => &["connection", "workload", "baseline", "tolerance"],
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::Command => "Run a program (`run`, no shell) or a shell script (`shell`).",
            Self::Sql => "Run SQL statements on a connection.",
            Self::Migrate => "Apply versioned SQL migration files to a connection.",
            Self::Transform => "Copy a table or query result from one connection to another.",
            Self::Validate => "Run data-quality checks on a table.",
            Self::Bench => "Measure connection, insert and query performance against a baseline.",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// An unknown step kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown step kind `{0}`")]
pub struct UnknownStepKind(pub String);

impl FromStr for StepKind {
    type Err = UnknownStepKind;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == input)
            .ok_or_else(|| UnknownStepKind(input.to_owned()))
    }
}

impl JsonSchema for StepKind {
    fn schema_name() -> Cow<'static, str> {
        "StepKind".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        let variants: Vec<serde_json::Value> = Self::ALL
            .iter()
            .map(|kind| serde_json::json!({ "const": kind.name(), "description": kind.description() }))
            .collect();
        json_schema!({
            "description": "What the step does.",
            "type": "string",
            "oneOf": variants
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in StepKind::ALL {
            assert_eq!(kind.name().parse::<StepKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert!("Command".parse::<StepKind>().is_err());
    }

    #[test]
    fn kind_keys_never_repeat_common_keys() {
        for kind in StepKind::ALL {
            for key in kind.keys() {
                assert!(!COMMON_STEP_KEYS.contains(key), "{kind}: {key}");
            }
        }
    }
}

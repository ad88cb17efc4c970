//! `KeyChange`: one key whose value differs between two versions of a manifest, and the
//! key-by-key comparison of two compared forms that finds them.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// What a change whose values read the same on both sides says: a secret in it changed, and
/// the diff shows neither.
pub(super) const SECRET_CHANGED: &str = "a secret in the value changed; both sides are masked";

/// What a connection URL change whose masked values read the same says.
pub(super) const PASSWORD_CHANGED: &str = "the password changed";

/// Where a validated step keeps a key that the manifest writes elsewhere or names otherwise:
/// the path in the step's compared form (the kind's keys at the top level) and the manifest's
/// key. Longer paths come before their prefixes.
const STEP_KEY_NAMES: &[(&str, &str)] = &[
    ("retry.retries", "retries"),
    ("retry.backoff", "retry_backoff"),
    ("program.argv", "run"),
    ("program.shell", "shell"),
    ("source.inline", "sql"),
    ("source.file", "file"),
    ("from.tables.table", "from.table"),
    ("from.tables.query", "from.query"),
    ("from.tables.list", "from.tables"),
    ("from.tables.matching", "from"),
    ("tolerance.default", "tolerance"),
    ("tolerance.metrics", "tolerances"),
    ("warmup", "workload.warmup"),
    ("iterations", "workload.iterations"),
];

/// A key whose value differs between the old and the new manifest. Values are JSON, secrets
/// masked; `None` means the key has no value on that side (a key of another step kind, a check
/// that was added).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyChange {
    /// The key as the manifest writes it: `batch_size`, `workload.rows`, `to.mode`,
    /// `checks[unique(symbol)].columns`.
    pub key: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// For text of several lines (SQL, a shell script): the change, line by line.
    pub text: Option<TextChange>,
    /// Why the two values may read the same: a masked secret changed.
    pub note: Option<String>,
}

/// A change to a text of several lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextChange {
    /// Lines added.
    pub inserted: usize,
    /// Lines removed.
    pub deleted: usize,
    /// A unified diff with one line of context around each change, `@@` headers included.
    pub unified: String,
}

/// A JSON leaf's place: object keys, and `[label]` for each element of an array of tables.
type LeafPath = Vec<String>;

impl KeyChange {
    /// A change of `key` from `old` to `new`, values already safe to show.
    pub(super) fn new(key: String, old: Option<Value>, new: Option<Value>) -> Self {
        let text = match (&old, &new) {
            (Some(Value::String(old_text)), Some(Value::String(new_text)))
                if old_text != new_text && (old_text.contains('\n') || new_text.contains('\n')) =>
            {
                Some(TextChange::between(old_text, new_text))
            }
            _ => None,
        };
        Self {
            key,
            old,
            new,
            text,
            note: None,
        }
    }

    /// The same change with a note saying what the values cannot show.
    #[must_use]
    pub(super) fn with_note(mut self, note: &str) -> Self {
        self.note = Some(note.to_owned());
        self
    }
}

impl TextChange {
    /// Lines of context around each change: enough to place it, short enough for a PR comment.
    const CONTEXT_LINES: usize = 1;

    fn between(old: &str, new: &str) -> Self {
        // Both texts end with a newline, so that no "no newline at end of file" marker is
        // glued to the last line of the diff.
        let diff = TextDiff::from_lines(with_final_newline(old), with_final_newline(new));
        let mut inserted = 0;
        let mut deleted = 0;
        for change in diff.iter_all_changes() {
            match change.tag() {
                ChangeTag::Insert => inserted += 1,
                ChangeTag::Delete => deleted += 1,
                ChangeTag::Equal => {}
            }
        }
        let unified = diff
            .unified_diff()
            .context_radius(Self::CONTEXT_LINES)
            .to_string();
        Self {
            inserted,
            deleted,
            unified,
        }
    }
}

fn with_final_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

/// Every leaf whose value differs between `old` and `new`, named by `name_key`: the old form's
/// keys in their order, then the keys only the new form has. Values are compared as they are
/// and masked before they are kept, so a changed secret shows as a note, never as its value.
pub(super) fn key_changes(
    old: &Value,
    new: &Value,
    name_key: fn(&[String]) -> String,
) -> Vec<KeyChange> {
    let old_leaves = leaves(old);
    let new_leaves = leaves(new);
    let mut paths: Vec<&LeafPath> = old_leaves.keys().collect();
    paths.extend(
        new_leaves
            .keys()
            .filter(|path| !old_leaves.contains_key(*path)),
    );
    paths
        .into_iter()
        .filter_map(|path| {
            let old_value = old_leaves.get(path).copied();
            let new_value = new_leaves.get(path).copied();
            (old_value != new_value).then(|| masked_change(name_key(path), old_value, new_value))
        })
        .collect()
}

fn masked_change(key: String, old: Option<&Value>, new: Option<&Value>) -> KeyChange {
    let old = old.map(masked);
    let new = new.map(masked);
    let hides_a_secret = old == new;
    let change = KeyChange::new(key, old, new);
    if hides_a_secret {
        change.with_note(SECRET_CHANGED)
    } else {
        change
    }
}

/// `value` with every secret pipewright knows of (URL passwords, variables named like
/// secrets) replaced by the mask.
fn masked(value: &Value) -> Value {
    let mut value = value.clone();
    mask_secrets(&mut value);
    value
}

fn mask_secrets(value: &mut Value) {
    match value {
        Value::String(text) => {
            let redacted = crate::secrets::redact(text).into_owned();
            *text = redacted;
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        Value::Object(fields) => fields.values_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// The leaves of a compared form, by path, in document order.
fn leaves(value: &Value) -> IndexMap<LeafPath, &Value> {
    let mut found = IndexMap::new();
    collect_leaves(value, &mut Vec::new(), &mut found);
    found
}

/// Objects are descended into (an empty one has no leaf: `columns = {}` is no key at all),
/// and so are arrays of tables (checks), element by element; any other value is a leaf, arrays
/// of plain values included (`after`, `tags`, `run`), which read best whole.
fn collect_leaves<'a>(
    value: &'a Value,
    path: &mut LeafPath,
    found: &mut IndexMap<LeafPath, &'a Value>,
) {
    match value {
        Value::Object(fields) => {
            for (key, item) in fields {
                path.push(key.clone());
                collect_leaves(item, path, found);
                path.pop();
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for (label, item) in element_labels(items).into_iter().zip(items) {
                path.push(label);
                collect_leaves(item, path, found);
                path.pop();
            }
        }
        leaf => {
            found.insert(path.clone(), leaf);
        }
    }
}

/// Labels for the elements of an array of tables: `[name]` when every element has a distinct
/// `name` (a validation's checks always do), so that adding a check does not renumber the
/// others into changes; `[index]` otherwise.
fn element_labels(items: &[Value]) -> Vec<String> {
    let names: Vec<Option<&str>> = items
        .iter()
        .map(|item| item.get("name").and_then(Value::as_str))
        .collect();
    let distinct: HashSet<&str> = names.iter().flatten().copied().collect();
    if distinct.len() == items.len() {
        names
            .into_iter()
            .flatten()
            .map(|name| format!("[{name}]"))
            .collect()
    } else {
        (0..items.len()).map(|index| format!("[{index}]")).collect()
    }
}

/// A key of a connection, `[monitoring]` or `[logging]`, dotted: `monitoring.connection`.
pub(super) fn plain_key(path: &[String]) -> String {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    join_key(&segments)
}

/// A pipeline-wide key: the top-level ones belong to `[pipeline]` (`pipeline.concurrency`),
/// the others name their table already (`logging.level`).
pub(super) fn pipeline_key(path: &[String]) -> String {
    let key = plain_key(path);
    if path.len() == 1 {
        format!("pipeline.{key}")
    } else {
        key
    }
}

/// A step's key as the manifest writes it: `retry.backoff` is `retry_backoff`,
/// `source.inline` is `sql`, `checks[x].kind.min` is `checks[x].min`.
pub(super) fn step_key(path: &[String]) -> String {
    let (manifest_name, rest) = manifest_prefix(path);
    let mut segments: Vec<&str> = Vec::with_capacity(rest.len() + 1);
    segments.extend(manifest_name);
    for (index, segment) in rest.iter().enumerate() {
        // A check's kind is a tagged table in the validated form (`kind = { kind = "range",
        // min = 0 }`) and flat in the manifest (`kind = "range", min = 0`).
        let is_check_kind_table = segment == "kind"
            && index > 0
            && index + 1 < rest.len()
            && rest[index - 1].starts_with('[');
        if !is_check_kind_table {
            segments.push(segment);
        }
    }
    join_key(&segments)
}

/// The manifest's name for the start of `path`, and the rest of it.
fn manifest_prefix(path: &[String]) -> (Option<&'static str>, &[String]) {
    for &(serialized, manifest) in STEP_KEY_NAMES {
        let length = serialized.split('.').count();
        if path.len() >= length
            && path
                .iter()
                .zip(serialized.split('.'))
                .all(|(segment, part)| segment == part)
        {
            return (Some(manifest), &path[length..]);
        }
    }
    (None, path)
}

/// Segments joined with dots, array labels attached: `checks[unique(id)].columns`.
fn join_key(segments: &[&str]) -> String {
    let mut key = String::new();
    for segment in segments {
        if !key.is_empty() && !segment.starts_with('[') {
            key.push('.');
        }
        key.push_str(segment);
    }
    key
}

/// A value on one line, for a terminal or a table cell: compact JSON, `(none)` for no value,
/// and the first line of a text of several lines with their count.
pub(super) fn shown_value(value: Option<&Value>) -> String {
    match value {
        None => "(none)".to_owned(),
        Some(Value::String(text)) if text.contains('\n') => {
            let first = text.lines().next().unwrap_or_default();
            format!("{} … ({} lines)", Value::from(first), text.lines().count())
        }
        Some(value) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(dotted: &str) -> Vec<String> {
        dotted.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn step_keys_read_as_the_manifest_writes_them() {
        for (serialized, expected) in [
            ("batch_size", "batch_size"),
            ("from.tables.table", "from.table"),
            ("from.tables.matching.include", "from.include"),
            ("workload.rows", "workload.rows"),
            ("warmup", "workload.warmup"),
            (
                "tolerance.metrics.insert_row_ms",
                "tolerances.insert_row_ms",
            ),
            ("program.argv", "run"),
            ("source.inline", "sql"),
            ("retry.backoff", "retry_backoff"),
            ("description", "description"),
            ("kind", "kind"),
        ] {
            assert_eq!(step_key(&path(serialized)), expected, "{serialized}");
        }
        let check = ["checks", "[range(close)]", "kind", "min"].map(str::to_owned);
        assert_eq!(step_key(&check), "checks[range(close)].min");
        let check_kind = ["checks", "[range(close)]", "kind", "kind"].map(str::to_owned);
        assert_eq!(step_key(&check_kind), "checks[range(close)].kind");
    }

    #[test]
    fn compares_leaf_by_leaf() {
        let old = serde_json::json!({
            "a": 1,
            "b": { "c": [1, 2], "d": "same" },
            "checks": [{ "name": "x", "min": 0 }, { "name": "y", "min": 1 }],
        });
        let new = serde_json::json!({
            "a": 2,
            "b": { "c": [1, 2, 3], "d": "same" },
            "checks": [{ "name": "w", "min": 5 }, { "name": "x", "min": 0 }, { "name": "y", "min": 1 }],
        });
        let changes = key_changes(&old, &new, plain_key);
        let keys: Vec<&str> = changes.iter().map(|change| change.key.as_str()).collect();
        assert_eq!(keys, ["a", "b.c", "checks[w].name", "checks[w].min"]);
        assert_eq!(changes[0].old, Some(serde_json::json!(1)));
        assert_eq!(changes[2].old, None);
    }

    #[test]
    fn text_of_several_lines_changes_as_a_diff() {
        let change = KeyChange::new(
            "sql".to_owned(),
            Some(Value::from("SELECT 1;\nSELECT 2;\nSELECT 3;")),
            Some(Value::from("SELECT 1;\nSELECT 20;\nSELECT 3;")),
        );
        let text = change.text.expect("a text change");
        assert_eq!((text.inserted, text.deleted), (1, 1));
        assert_eq!(
            text.unified,
            "@@ -1,3 +1,3 @@\n SELECT 1;\n-SELECT 2;\n+SELECT 20;\n SELECT 3;\n"
        );
    }
}

//! The JSON forms in which two versions of a manifest are compared.
//!
//! The analyzer resolves every path against the manifest's directory, so the same manifest
//! checked out in two places holds different absolute paths. The compared forms make those
//! paths relative again, as `StepSpec::fingerprint` does, so that a diff shows what the
//! author changed and never where the repository happens to be.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::pipeline::{ConnectionSpec, Driver, PATH_KEYS, Pipeline, StepAction, StepSpec};

/// `item` as JSON, its resolved paths relative to `base_dir`.
pub(super) fn comparable<T: Serialize>(item: &T, base_dir: &Path) -> Value {
    let mut value =
        serde_json::to_value(item).expect("the parts of a validated pipeline serialize to JSON");
    relativize_paths(&mut value, base_dir);
    value
}

/// A step's compared form: `kind` first, then every serialized key but `id` (the diff is keyed
/// by it) and `after` (compared as a set, through renames, by the caller), with the keys of
/// its kind at the top level as the manifest writes them, so that a step whose kind changed
/// compares `connection` with `connection`.
pub(super) fn step_form(step: &StepSpec, base_dir: &Path) -> Value {
    let mut form = serde_json::Map::new();
    form.insert("kind".to_owned(), Value::from(step.kind().name()));
    if let Value::Object(fields) = comparable(step, base_dir) {
        for (key, value) in fields {
            if key == "action" {
                // `{ "transform": { "batch_size": ... } }`: the kind, then its keys.
                if let Value::Object(by_kind) = value {
                    for keys in by_kind.into_values() {
                        if let Value::Object(keys) = keys {
                            form.extend(keys);
                        }
                    }
                }
            } else if key != "id" && key != "after" {
                form.insert(key, value);
            }
        }
    }
    Value::Object(form)
}

/// The pipeline-wide settings: `[pipeline]`, `[monitoring]` and `[logging]`. Connections and
/// steps are compared one by one, by name.
pub(super) fn pipeline_form(pipeline: &Pipeline) -> Value {
    let mut form = comparable(pipeline, &pipeline.base_dir);
    if let Value::Object(fields) = &mut form {
        fields.shift_remove("connections");
        fields.shift_remove("steps");
    }
    form
}

/// A connection's compared form: without its name (the diff is keyed by it), with the URL as
/// [`shown_url`] gives it. Passwords are already masked: `ConnectionUrl` serializes redacted.
pub(super) fn connection_form(connection: &ConnectionSpec, base_dir: &Path) -> Value {
    let mut form = comparable(connection, base_dir);
    if let Value::Object(fields) = &mut form {
        fields.shift_remove("name");
        if let Some(url) = fields.get_mut("url") {
            *url = Value::from(shown_url(connection, base_dir));
        }
    }
    form
}

/// The URL as a reviewer may see it: password masked, a SQLite file relative to the manifest's
/// directory as the manifest writes it (`sqlite://data/warehouse.db`).
pub(super) fn shown_url(connection: &ConnectionSpec, base_dir: &Path) -> String {
    let redacted = connection.url.redacted();
    if connection.driver != Driver::Sqlite {
        return redacted;
    }
    let Some(rest) = redacted.strip_prefix("sqlite://") else {
        return redacted;
    };
    let (file, query) = match rest.split_once('?') {
        Some((file, query)) => (file, Some(query)),
        None => (rest, None),
    };
    match (relative_path(Path::new(file), base_dir), query) {
        (Some(relative), Some(query)) => format!("sqlite://{relative}?{query}"),
        (Some(relative), None) => format!("sqlite://{relative}"),
        (None, _) => redacted,
    }
}

/// `action.summary()` with the paths it shows (an SQL file, a migrations directory) relative
/// to the manifest's directory, as they are written.
pub(super) fn relative_summary(action: &StepAction, base_dir: &Path) -> String {
    let mut summary = action.summary();
    let mut paths = Vec::new();
    collect_shown_paths(
        &serde_json::to_value(action).expect("a step action serializes to JSON"),
        &mut paths,
    );
    for path in paths {
        if let Some(relative) = relative_path(Path::new(&path), base_dir) {
            summary = summary.replace(&path, &relative);
        }
    }
    summary
}

/// Whether a step's action names `connection` anywhere: its own `connection`, a transform's
/// `from` and `to`, a check's `same_as`.
pub(super) fn names_connection(action: &Value, connection: &str) -> bool {
    match action {
        Value::Object(fields) => fields.iter().any(|(key, item)| {
            (key == "connection" && item.as_str() == Some(connection))
                || names_connection(item, connection)
        }),
        Value::Array(items) => items.iter().any(|item| names_connection(item, connection)),
        _ => false,
    }
}

/// The resolved paths a summary may print. A command's `workdir` is left out: summaries never
/// show it, and replacing it could rewrite a command's arguments.
fn collect_shown_paths(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (key, item) in fields {
                match item {
                    Value::String(text)
                        if key != "workdir" && PATH_KEYS.contains(&key.as_str()) =>
                    {
                        found.push(text.clone());
                    }
                    _ => collect_shown_paths(item, found),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_shown_paths(item, found);
            }
        }
        _ => {}
    }
}

/// Rewrites the resolved paths of `value` relative to `base_dir`, recursively.
fn relativize_paths(value: &mut Value, base_dir: &Path) {
    crate::pipeline::rewrite_paths(value, &|path| relative_path(path, base_dir));
}

/// `path` relative to `base`, both absolute and normalized, as a manifest writes it:
/// `sql/a.sql` below it, `../migrations` beside it, `.` for `base` itself. `None` when the two
/// share no directory, only the root: `/var/lib/bars.db` is kept as written rather than shown
/// as `../../var/lib/bars.db`. The fingerprint's form (`./sql/a.sql`) without its `./`.
fn relative_path(path: &Path, base: &Path) -> Option<String> {
    crate::pipeline::relative_path(path, base).map(|relative| match relative.strip_prefix("./") {
        Some(below) => below.to_owned(),
        None => relative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_relative_to_the_manifest_directory() {
        let base = Path::new("/repo/pipelines");
        for (path, expected) in [
            ("/repo/pipelines/sql/a.sql", Some("sql/a.sql")),
            ("/repo/pipelines", Some(".")),
            ("/repo/migrations/x", Some("../migrations/x")),
            ("/var/lib/bars.db", None),
            ("data/bars.db", None),
        ] {
            assert_eq!(
                relative_path(Path::new(path), base).as_deref(),
                expected,
                "{path}"
            );
        }
    }

    #[test]
    fn the_checkout_does_not_count() {
        let form = |checkout: &str| {
            let base = format!("{checkout}/pipelines");
            let mut value = serde_json::json!({
                "command": { "program": { "argv": ["cat", "/etc/hostname"] }, "workdir": base },
                "migrate": { "dir": format!("{checkout}/migrations") },
                "sql": { "source": { "file": format!("{base}/sql/a.sql") } },
            });
            relativize_paths(&mut value, Path::new(&base));
            value
        };
        let shallow = form("/tmp/a");
        assert_eq!(shallow, form("/srv/b/c"));
        assert_eq!(shallow["migrate"]["dir"], "../migrations");
        assert_eq!(shallow["command"]["workdir"], ".");
        assert_eq!(shallow["command"]["program"]["argv"][1], "/etc/hostname");
        assert_eq!(shallow["sql"]["source"]["file"], "sql/a.sql");
    }

    #[test]
    fn finds_connections_anywhere_in_an_action() {
        let action = serde_json::json!({
            "validate": { "connection": "warehouse", "checks": [
                { "kind": { "kind": "row_count", "same_as": { "connection": "legacy" } } }
            ] }
        });
        assert!(names_connection(&action, "warehouse"));
        assert!(names_connection(&action, "legacy"));
        assert!(!names_connection(&action, "archive"));
    }
}

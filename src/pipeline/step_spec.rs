//! A validated step: its id, kind, dependencies, policies and action.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::manifest::Span;
use crate::pipeline::{
    BenchSpec, CommandSpec, MigrateSpec, SqlSource, SqlSpec, StepId, StepKind, TransformSpec,
    ValidateSpec,
};
use crate::values::RetryPolicy;

/// What a step does, with the validated keys of its kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepAction {
    Command(CommandSpec),
    Sql(SqlSpec),
    Migrate(MigrateSpec),
    Transform(Box<TransformSpec>),
    Validate(ValidateSpec),
    Bench(BenchSpec),
}

impl StepAction {
    pub fn kind(&self) -> StepKind {
        match self {
            Self::Command(_) => StepKind::Command,
            Self::Sql(_) => StepKind::Sql,
            Self::Migrate(_) => StepKind::Migrate,
            Self::Transform(_) => StepKind::Transform,
            Self::Validate(_) => StepKind::Validate,
            Self::Bench(_) => StepKind::Bench,
        }
    }
}

/// One step of a pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct StepSpec {
    pub id: StepId,
    pub description: Option<String>,
    /// Steps that must succeed first, in manifest order.
    pub after: Vec<StepId>,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub retry: RetryPolicy,
    #[serde(serialize_with = "serialize_timeout")]
    pub timeout: Option<Duration>,
    pub action: StepAction,
    /// The step id in its `[steps.<id>]` header, for errors and CI annotations.
    #[serde(skip)]
    pub span: Span,
}

impl StepSpec {
    pub fn kind(&self) -> StepKind {
        self.action.kind()
    }

    /// A digest of the step's resolved definition and of the content of the files it reads
    /// ([`read_files`](Self::read_files)): it changes when anything that decides what the
    /// step does changes, and not with the layout of the manifest, its description, or the
    /// directory the repository is checked out in (paths count relative to `base_dir`, the
    /// manifest's directory).
    pub fn fingerprint(&self, base_dir: &Path) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.definition(base_dir).as_bytes());
        for path in self.read_files() {
            hasher.update(b"\0");
            hasher.update(display_relative(&path, base_dir).as_bytes());
            hasher.update(b"\0");
            match std::fs::read(&path) {
                Ok(content) => hasher.update(Sha256::digest(&content)),
                Err(_) => hasher.update(b"(missing)"),
            }
        }
        format!("sha256:{}", crate::values::hex(&hasher.finalize()))
    }

    /// A digest of the step's resolved definition alone, not of the files it reads, with
    /// secrets masked: it is committed in `pipewright.lock`, and a digest of a short password
    /// could be brute-forced; nor should another environment's password make the lock stale.
    pub fn definition_digest(&self, base_dir: &Path) -> String {
        let definition = self.definition(base_dir);
        let digest = Sha256::digest(crate::secrets::redact(&definition).as_bytes());
        format!("sha256:{}", crate::values::hex(&digest))
    }

    /// The resolved definition as JSON, without the description, paths relative to
    /// `base_dir`.
    fn definition(&self, base_dir: &Path) -> String {
        let mut definition = serde_json::to_value(self).expect("a step definition serializes");
        if let Some(object) = definition.as_object_mut() {
            object.remove("description");
        }
        relativize_paths(&mut definition, &base_dir.display().to_string());
        definition.to_string()
    }

    /// The files the step reads besides the manifest, in a stable order: an `sql` step's
    /// `file`, every `.sql` file of a `migrate` step's `dir`, a `bench` step's `baseline`.
    pub fn read_files(&self) -> Vec<PathBuf> {
        match &self.action {
            StepAction::Sql(sql) => match &sql.source {
                SqlSource::File(path) => vec![path.clone()],
                SqlSource::Inline(_) => Vec::new(),
            },
            StepAction::Migrate(migrate) => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&migrate.dir)
                    .map(|entries| {
                        entries
                            .filter_map(Result::ok)
                            .map(|entry| entry.path())
                            .filter(|path| {
                                path.is_file()
                                    && path.extension().is_some_and(|extension| extension == "sql")
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                files.sort();
                files
            }
            StepAction::Bench(bench) => bench.baseline.iter().cloned().collect(),
            StepAction::Command(_) | StepAction::Transform(_) | StepAction::Validate(_) => {
                Vec::new()
            }
        }
    }
}

/// `path` relative to `base` (`./sql/a.sql`), or as it is when it is elsewhere.
pub fn display_relative(path: &Path, base: &Path) -> String {
    relative_path(path, base).unwrap_or_else(|| path.display().to_string())
}

/// The keys whose values are paths the analyzer resolved against the manifest's directory:
/// an SQL `file`, a migrations `dir`, a command's `workdir`, a bench `baseline`. Other strings
/// (a command's arguments, its environment) count as written, absolute or not.
pub(crate) const PATH_KEYS: [&str; 4] = ["file", "dir", "workdir", "baseline"];

/// Rewrites the resolved paths as paths relative to `base` (`./x`, `../migrations`),
/// recursively: where the repository is checked out does not count.
fn relativize_paths(value: &mut serde_json::Value, base: &str) {
    rewrite_paths(value, &|path| relative_path(path, Path::new(base)));
}

/// Rewrites, recursively, every absolute path under one of [`PATH_KEYS`] for which `rewrite`
/// gives another text (the fingerprint's `./x`, the diff's `x`).
pub(crate) fn rewrite_paths(
    value: &mut serde_json::Value,
    rewrite: &dyn Fn(&Path) -> Option<String>,
) {
    match value {
        serde_json::Value::Array(items) => {
            for item in items {
                rewrite_paths(item, rewrite);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    serde_json::Value::String(text)
                        if PATH_KEYS.contains(&key.as_str()) && text.starts_with('/') =>
                    {
                        if let Some(relative) = rewrite(Path::new(text.as_str())) {
                            *text = relative;
                        }
                    }
                    _ => rewrite_paths(item, rewrite),
                }
            }
        }
        _ => {}
    }
}

/// `path` relative to `base`, both absolute and normalized: `./a/b` below it, `../../c`
/// beside it.
pub(crate) fn relative_path(path: &Path, base: &Path) -> Option<String> {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path
        .iter()
        .zip(&base)
        .take_while(|(left, right)| left == right)
        .count();
    // Only the root in common: a path elsewhere on the machine (`/etc/x`, `/data/y`) stays
    // absolute, the same wherever the repository is checked out.
    if common <= 1 {
        return None;
    }
    let mut parts: Vec<String> = vec![".".to_owned()];
    parts.extend(std::iter::repeat_n("..".to_owned(), base.len() - common));
    parts.extend(
        path[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.len() > 1 && parts[1] == ".." {
        parts.remove(0);
    }
    Some(parts.join("/"))
}

#[allow(clippy::ref_option)] // serde's `serialize_with` passes a reference to the field.
fn serialize_timeout<S: serde::Serializer>(
    timeout: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match timeout {
        Some(timeout) => serializer.collect_str(&crate::values::HumanDuration::new(*timeout)),
        None => serializer.serialize_none(),
    }
}

impl StepAction {
    /// One line saying what the step will do, for plans and reports. Secrets are redacted.
    pub fn summary(&self) -> String {
        let text = match self {
            Self::Command(command) => command.program.display_line(),
            Self::Sql(sql) => match &sql.source {
                crate::pipeline::SqlSource::Inline(_) => {
                    format!("inline SQL on `{}`", sql.connection)
                }
                crate::pipeline::SqlSource::File(path) => {
                    format!("SQL file `{}` on `{}`", path.display(), sql.connection)
                }
            },
            Self::Migrate(migrate) => format!(
                "migrations in `{}` on `{}`",
                migrate.dir.display(),
                migrate.connection
            ),
            Self::Transform(transform) => transform.summary(),
            Self::Validate(validate) => format!(
                "{} checks on `{}`.{}",
                validate.checks.len(),
                validate.connection,
                validate.table.as_deref().unwrap_or("(query)")
            ),
            Self::Bench(bench) => {
                format!("`{}` benchmark on `{}`", bench.workload, bench.connection)
            }
        };
        crate::secrets::redact(&text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resolved_paths_are_made_relative() {
        let definition = |base: &str| {
            let mut value = serde_json::json!({
                "command": { "program": { "run": ["cat", "/etc/hostname"] }, "workdir": format!("{base}/data") },
                "sql": { "source": { "file": format!("{base}/sql/a.sql") } },
            });
            relativize_paths(&mut value, base);
            value
        };
        let shallow = definition("/tmp/a");
        assert_eq!(
            shallow,
            definition("/srv/b/c"),
            "the checkout does not count"
        );
        assert_eq!(
            shallow["command"]["program"]["run"][1], "/etc/hostname",
            "arguments count as written"
        );
        assert_eq!(shallow["command"]["workdir"], "./data");
        assert_eq!(shallow["sql"]["source"]["file"], "./sql/a.sql");
    }

    #[test]
    fn paths_are_relative_to_the_manifest_directory() {
        let base = Path::new("/repo/pipelines");
        for (path, expected) in [
            ("/repo/pipelines/sql/a.sql", "./sql/a.sql"),
            ("/repo/pipelines", "."),
            ("/repo/migrations/x", "../migrations/x"),
            ("/repo/elsewhere", "../elsewhere"),
        ] {
            assert_eq!(
                relative_path(Path::new(path), base).as_deref(),
                Some(expected),
                "{path}"
            );
        }
        assert_eq!(
            relative_path(Path::new("/elsewhere"), base),
            None,
            "only the root in common: stays absolute"
        );
    }
}

//! The analyzer: [`RawPipeline`] to [`Pipeline`], every error collected.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::manifest::interpolation::{InterpolationErrorKind, interpolate};
use crate::manifest::manifest_error::source_span;
use crate::manifest::raw::{RawConnection, RawLogging, RawPipeline};
use crate::manifest::suggestion::help_for_unknown;
use crate::manifest::{ManifestError, SourceFile, Span, Spanned, Variables};
use crate::pipeline::{
    ConnectionName, ConnectionSpec, Driver, LoggingSpec, MonitoringSpec, Pipeline, StepId,
};
use crate::secrets::{register_secret, url_secrets};
use crate::values::LogLevel;

/// Turns a deserialized manifest into a validated [`Pipeline`], or every error found in it.
pub fn analyze(
    source: &SourceFile,
    raw: RawPipeline,
    variables: &Variables,
) -> Result<Pipeline, Vec<ManifestError>> {
    let mut analyzer = Analyzer {
        source,
        variables: variables.clone(),
        connections: IndexMap::new(),
        declared_connections: Vec::new(),
        errors: Vec::new(),
        base_dir: normalize(
            &std::path::absolute(source.base_dir())
                .unwrap_or_else(|_| source.base_dir().to_path_buf()),
        ),
    };
    let pipeline = analyzer.pipeline(raw);
    if analyzer.errors.is_empty() {
        Ok(pipeline.expect("a pipeline is built whenever there is no error"))
    } else {
        Err(analyzer.errors)
    }
}

/// Analysis state: what has been resolved so far and the errors found.
pub(super) struct Analyzer<'a> {
    pub(super) source: &'a SourceFile,
    pub(super) variables: Variables,
    pub(super) connections: IndexMap<ConnectionName, ConnectionSpec>,
    /// Every `[connections.<name>]` written, valid or not: a reference to an invalid one is
    /// not also unknown.
    pub(super) declared_connections: Vec<String>,
    pub(super) errors: Vec<ManifestError>,
    /// The manifest's directory, absolute: every relative path in the manifest is resolved
    /// against it, so the current directory of the process does not matter.
    pub(super) base_dir: PathBuf,
}

/// Whether a path key must name a file, a directory, or may not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PathKind {
    File,
    Directory,
    /// Written by pipewright if missing (a baseline file, for instance).
    MayNotExist,
}

impl Analyzer<'_> {
    fn pipeline(&mut self, mut raw: RawPipeline) -> Option<Pipeline> {
        let locations = std::mem::take(&mut raw.locations);
        let section = raw.pipeline.take();
        if section.is_none() {
            self.missing(
                "pipeline",
                "",
                0..0,
                Some("start the file with `[pipeline]` and `name = \"...\"`"),
            );
        }
        let has_section = section.is_some();
        let section = section.unwrap_or_default();
        let name = match &section.name {
            Some(name) if name.get().trim().is_empty() => {
                self.invalid(name.span(), "pipeline.name", "the name is empty", None);
                None
            }
            Some(name) => Some(name.get().clone()),
            None => {
                if has_section {
                    self.missing("name", "pipeline", locations.pipeline_header.clone(), None);
                }
                None
            }
        };
        if let Some(format) = &section.format
            && *format.get() != 1
        {
            self.invalid(
                format.span(),
                "pipeline.format",
                &format!(
                    "this version of pipewright reads format 1, not {}",
                    format.get()
                ),
                Some("upgrade pipewright, or write the manifest in format 1"),
            );
        }
        let concurrency = match &section.concurrency {
            Some(value) if *value.get() == 0 => {
                self.invalid(
                    value.span(),
                    "pipeline.concurrency",
                    "must be at least 1",
                    None,
                );
                Pipeline::DEFAULT_CONCURRENCY
            }
            Some(value) => usize::try_from(*value.get()).unwrap_or(usize::MAX),
            None => Pipeline::DEFAULT_CONCURRENCY,
        };

        self.vars(&raw.vars);
        self.declared_connections = raw.connections.keys().cloned().collect();
        for (name, connection) in &raw.connections {
            let span = locations
                .connection_names
                .get(name)
                .cloned()
                .unwrap_or(0..0);
            self.connection(name, span, connection);
        }
        let monitoring = MonitoringSpec {
            connection: raw
                .monitoring
                .as_ref()
                .and_then(|monitoring| monitoring.connection.as_ref())
                .and_then(|name| self.connection_ref(name)),
        };
        let logging = self.logging(raw.logging.as_ref());
        let steps = self.steps(raw.steps, &locations);

        Some(Pipeline {
            name: name?,
            description: section.description,
            concurrency,
            connections: std::mem::take(&mut self.connections),
            monitoring,
            logging,
            steps: steps?,
            source: self.source.clone(),
            base_dir: self.base_dir.clone(),
        })
    }

    fn logging(&mut self, raw: Option<&RawLogging>) -> LoggingSpec {
        let mut spec = LoggingSpec::default();
        let Some(raw) = raw else { return spec };
        let level = |value: &Option<Spanned<LogLevel>>, default| {
            value.as_ref().map_or(default, |level| *level.get())
        };
        spec.level = level(&raw.level, spec.level);
        spec.file_level = level(&raw.file_level, spec.file_level);
        spec.error_level = level(&raw.error_level, spec.error_level);
        spec.json_level = level(&raw.json_level, spec.json_level);
        spec.database_level = level(&raw.database_level, spec.database_level);
        for (key, value, target) in [
            (
                "file_retention_days",
                &raw.file_retention_days,
                &mut spec.file_retention_days,
            ),
            (
                "error_retention_days",
                &raw.error_retention_days,
                &mut spec.error_retention_days,
            ),
            (
                "json_retention_days",
                &raw.json_retention_days,
                &mut spec.json_retention_days,
            ),
        ] {
            match value {
                Some(days) if *days.get() == 0 => self.invalid(
                    days.span(),
                    &format!("logging.{key}"),
                    "must be at least 1",
                    Some("to turn a file off, set its level to `off`"),
                ),
                Some(days) => *target = *days.get(),
                None => {}
            }
        }
        if let Some(dir) = &raw.dir {
            spec.dir = self
                .interpolated(dir)
                .map(|text| normalize(&self.base_dir.join(text)));
        }
        spec
    }

    /// Interpolates `[vars]` against the higher-precedence sources, then adds them.
    fn vars(&mut self, vars: &IndexMap<String, Spanned<String>>) {
        let mut resolved = Vec::new();
        for (name, value) in vars {
            if !crate::manifest::is_variable_name(name) {
                self.invalid(
                    value.span(),
                    &format!("vars.{name}"),
                    &format!("`{name}` cannot be referenced as `${{{name}}}`"),
                    Some(
                        "variable names use letters, digits and `_`, and do not start with a digit",
                    ),
                );
                continue;
            }
            if let Some(value) = self.interpolated(value) {
                if crate::secrets::is_secret_name(name) {
                    register_secret(&value);
                }
                resolved.push((name.clone(), value));
            }
        }
        self.variables = self.variables.with_manifest_vars(resolved);
    }

    fn connection(&mut self, name: &str, span: Span, raw: &RawConnection) {
        if !StepId::is_valid_name(name) {
            self.errors.push(ManifestError::InvalidName {
                what: "connection name",
                name: name.to_owned(),
                span: source_span(&span),
            });
            return;
        }
        let Some(url_value) = &raw.url else {
            self.missing(
                "url",
                &format!("connections.{name}"),
                span,
                Some("for example `url = \"sqlite://data/warehouse.db\"`"),
            );
            return;
        };
        let Some(url) = self.interpolated(url_value) else {
            return;
        };
        let url = Driver::lowercase_scheme(&url);
        let driver = url
            .split_once(':')
            .and_then(|(scheme, _)| Driver::from_scheme(scheme));
        let Some(driver) = driver else {
            let schemes: Vec<&str> = Driver::SCHEMES.iter().map(|(scheme, _)| *scheme).collect();
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            self.errors.push(ManifestError::InvalidUrl {
                connection: name.to_owned(),
                message: if scheme.is_empty() {
                    "a URL starts with a scheme, such as `postgres://`".to_owned()
                } else {
                    format!("unknown scheme `{scheme}`")
                },
                span: source_span(&url_value.span()),
                help: help_for_unknown(scheme, schemes.iter().copied())
                    .map(|help| format!("{help} (`sqlite://path/to/file.db` needs no server)")),
            });
            return;
        };
        if driver != Driver::Sqlite && !url.contains("://") {
            self.errors.push(ManifestError::InvalidUrl {
                connection: name.to_owned(),
                message: "expected `scheme://user@host:port/database`".to_owned(),
                span: source_span(&url_value.span()),
                help: None,
            });
            return;
        }
        for secret in url_secrets(&url) {
            register_secret(secret);
        }
        let url = if driver == Driver::Sqlite {
            sqlite_url_against(&url, &self.base_dir)
        } else {
            url
        };
        if let Some(tls) = &raw.tls
            && driver == Driver::Sqlite
        {
            self.invalid(
                tls.span(),
                &format!("connections.{name}.tls"),
                "SQLite is a file, there is no connection to encrypt",
                Some("remove `tls`"),
            );
        }
        if let Some(size) = &raw.max_connections
            && *size.get() == 0
        {
            self.invalid(
                size.span(),
                &format!("connections.{name}.max_connections"),
                "must be at least 1",
                None,
            );
        }
        let mut spec = ConnectionSpec::new(name, driver, url);
        spec.description.clone_from(&raw.description);
        spec.max_connections = raw
            .max_connections
            .as_ref()
            .map(|size| *size.get())
            .filter(|size| *size > 0);
        for (key, value, target) in [
            (
                "connect_timeout",
                &raw.connect_timeout,
                &mut spec.connect_timeout,
            ),
            (
                "acquire_timeout",
                &raw.acquire_timeout,
                &mut spec.acquire_timeout,
            ),
        ] {
            match value {
                Some(timeout) if timeout.get().get().is_zero() => self.invalid(
                    timeout.span(),
                    &format!("connections.{name}.{key}"),
                    "must be longer than zero",
                    None,
                ),
                Some(timeout) => *target = timeout.get().get(),
                None => {}
            }
        }
        spec.tls = raw.tls.as_ref().map(|tls| *tls.get());
        self.connections.insert(spec.name.clone(), spec);
    }

    /// Resolves a reference to a `[connections.<name>]` table.
    pub(super) fn connection_ref(&mut self, name: &Spanned<String>) -> Option<ConnectionName> {
        if let Some((known, _)) = self.connections.get_key_value(name.as_str()) {
            return Some(known.clone());
        }
        if self
            .declared_connections
            .iter()
            .any(|declared| declared == name.as_str())
        {
            // Declared but invalid: its own error has been reported.
            return None;
        }
        let known: Vec<&str> = self
            .declared_connections
            .iter()
            .map(String::as_str)
            .collect();
        self.errors.push(ManifestError::UnknownConnection {
            name: name.get().clone(),
            span: source_span(&name.span()),
            help: help_for_unknown(name.as_str(), known.iter().copied()).or_else(|| {
                Some(format!(
                    "declare it: `[connections.{}]` with a `url`",
                    name.as_str()
                ))
            }),
        });
        None
    }

    /// `value` with `${...}` replaced, or `None` after recording an error at the reference.
    pub(super) fn interpolated(&mut self, value: &Spanned<String>) -> Option<String> {
        match interpolate(value.get(), &self.variables) {
            Ok(text) => Some(text),
            Err(error) => {
                let reference = &value.get()[error.offset..error.offset + error.length];
                let span = self.reference_span(&value.span(), reference);
                self.errors.push(match error.kind {
                    InterpolationErrorKind::Unset { name } => ManifestError::UnsetVariable {
                        help: Some(format!(
                            "set `{name}` in the environment, pass `--var {name}=...`, add it to `[vars]`, or give a default: `${{{name}:-default}}`"
                        )),
                        name,
                        span: source_span(&span),
                    },
                    InterpolationErrorKind::Unterminated => ManifestError::InvalidInterpolation {
                        message: "`${` is not closed by `}`".to_owned(),
                        span: source_span(&span),
                        help: Some("write `$${` for a literal `${`".to_owned()),
                    },
                    InterpolationErrorKind::NestedDefault => ManifestError::InvalidInterpolation {
                        message: "a default cannot contain another `${...}`".to_owned(),
                        span: source_span(&span),
                        help: Some(
                            "resolve the fallback in `[vars]` first (`b = \"${B:-x}\"`), then write `${A:-literal}`".to_owned(),
                        ),
                    },
                    InterpolationErrorKind::InvalidName { name } => {
                        ManifestError::InvalidInterpolation {
                            message: format!("`{name}` is not a variable name"),
                            span: source_span(&span),
                            help: Some(
                                "write `${NAME}` or `${NAME:-default}`; names use letters, digits and `_`"
                                    .to_owned(),
                            ),
                        }
                    }
                });
                None
            }
        }
    }

    /// The span of `reference` inside the string written at `value_span`, or the whole value
    /// when escapes make the written text differ from the value.
    fn reference_span(&self, value_span: &Span, reference: &str) -> Span {
        let written = self
            .source
            .text()
            .get(value_span.clone())
            .unwrap_or_default();
        match written.find(reference) {
            Some(position) => {
                let start = value_span.start + position;
                start..start + reference.len()
            }
            None => value_span.clone(),
        }
    }

    /// Interpolates a path, resolves it against the manifest's directory and checks it exists.
    pub(super) fn path(
        &mut self,
        key: &str,
        value: &Spanned<String>,
        kind: PathKind,
    ) -> Option<PathBuf> {
        let text = self.interpolated(value)?;
        let path = normalize(&self.base_dir.join(&text));
        let exists = match kind {
            PathKind::File => path.is_file(),
            PathKind::Directory => path.is_dir(),
            PathKind::MayNotExist => true,
        };
        if exists {
            return Some(path);
        }
        let what = if kind == PathKind::File {
            "file"
        } else {
            "directory"
        };
        let help = if path.exists() {
            format!("`{}` exists but is not a {what}", path.display())
        } else {
            format!(
                "paths are relative to the manifest's directory: this one resolves to `{}`",
                path.display()
            )
        };
        self.errors.push(ManifestError::MissingPath {
            key: key.to_owned(),
            path: text,
            span: source_span(&value.span()),
            help: Some(help),
        });
        None
    }

    /// Reports `key` missing from the table at the dotted `path` (empty for the top level).
    pub(super) fn missing(&mut self, key: &str, path: &str, span: Span, help: Option<&str>) {
        self.errors.push(ManifestError::MissingKey {
            key: key.to_owned(),
            table: crate::manifest::loader::describe_table(path),
            span: source_span(&span),
            help: help.map(str::to_owned),
        });
    }

    pub(super) fn invalid(&mut self, span: Span, key: &str, message: &str, help: Option<&str>) {
        self.errors.push(ManifestError::InvalidValue {
            key: key.to_owned(),
            message: message.to_owned(),
            span: source_span(&span),
            help: help.map(str::to_owned),
        });
    }

    pub(super) fn conflict(&mut self, span: Span, message: String, label: &str, help: &str) {
        self.errors.push(ManifestError::Conflict {
            message,
            span: source_span(&span),
            label: label.to_owned(),
            help: Some(help.to_owned()),
        });
    }

    /// The directory relative paths are resolved against.
    pub(super) fn base_dir(&self) -> &Path {
        &self.base_dir
    }
}

/// `path` with `.` and `..` components resolved lexically (no symlinks followed), so paths
/// in plans and messages read `/repo/migrations`, not `/repo/pipelines/../migrations`.
pub(super) fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !normalized.pop() {
                    normalized.push("..");
                }
            }
            other => normalized.push(other),
        }
    }
    normalized
}

/// A SQLite URL whose relative file path is resolved against the manifest's directory, so that
/// `sqlite://data/warehouse.db` means the same file whatever the current directory. In-memory
/// databases and absolute paths are kept as they are.
fn sqlite_url_against(url: &str, base_dir: &Path) -> String {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if path.is_empty() || path.starts_with(':') || Path::new(path).is_absolute() {
        return url.to_owned();
    }
    let resolved = normalize(&base_dir.join(path));
    match query {
        Some(query) => format!("sqlite://{}?{query}", resolved.display()),
        None => format!("sqlite://{}", resolved.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_lexically() {
        assert_eq!(
            normalize(Path::new("/repo/pipelines/../migrations/./x")),
            Path::new("/repo/migrations/x")
        );
        assert_eq!(normalize(Path::new("../a")), Path::new("../a"));
    }

    #[test]
    fn sqlite_paths_resolve_against_the_manifest_directory() {
        let base = Path::new("/repo/pipelines");
        for (url, expected) in [
            ("sqlite://data/w.db", "sqlite:///repo/pipelines/data/w.db"),
            (
                "sqlite:data/w.db?mode=rwc",
                "sqlite:///repo/pipelines/data/w.db?mode=rwc",
            ),
            ("sqlite:///abs/w.db", "sqlite:///abs/w.db"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("sqlite://:memory:", "sqlite://:memory:"),
        ] {
            assert_eq!(sqlite_url_against(url, base), expected, "{url}");
        }
    }
}

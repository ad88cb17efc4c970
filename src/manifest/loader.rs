//! TOML text to [`RawPipeline`], collecting every syntax error, wrong type and unknown key.
//!
//! serde stops at the first error, so the loader deserializes, records the error, removes the
//! offending entry from the parsed tree and tries again, until the rest deserializes. Unknown
//! keys are collected with `serde_ignored` on the final pass, and looked up in the parsed tree
//! for their spans and in the JSON Schema for suggestions.

use serde::Deserialize;
use toml::Spanned as TomlSpanned;
use toml::de::{DeTable, DeValue};

use crate::manifest::SourceFile;
use crate::manifest::json_schema::known_keys;
use crate::manifest::key_path::{KeyPath, PathSegment};
use crate::manifest::manifest_error::{ManifestError, source_span};
use crate::manifest::raw::{RawLocations, RawPipeline, StepLocation};
use crate::manifest::spanned::Span;
use crate::manifest::suggestion::help_for_unknown;

/// More errors than this in one file are noise; the loader stops collecting.
const MAX_VALUE_ERRORS: usize = 64;

/// What the loader made of a syntactically valid manifest.
#[derive(Debug)]
pub struct Loaded {
    /// The manifest without the entries that failed to deserialize.
    pub raw: RawPipeline,
    /// Wrong types and unknown keys.
    pub errors: Vec<ManifestError>,
    /// Entries removed because of their errors: the analyzer must not also call them missing.
    pub removed: Vec<KeyPath>,
}

/// Parses and deserializes a manifest. A syntax error stops there; other errors are collected
/// and the rest of the manifest is returned for analysis, so that one report holds them all.
pub fn load(source: &SourceFile) -> Result<Loaded, Vec<ManifestError>> {
    let (mut tree, syntax_errors) = DeTable::parse_recoverable(source.text());
    if !syntax_errors.is_empty() {
        return Err(syntax_errors_of(source.text(), &syntax_errors));
    }

    let mut errors = Vec::new();
    let mut removed_paths = Vec::new();
    let mut unknown = Vec::new();
    let raw = loop {
        unknown.clear();
        let deserializer = toml::de::Deserializer::from(tree.clone());
        let result: Result<RawPipeline, _> = serde_ignored::deserialize(deserializer, |path| {
            unknown.push(key_path(&path));
        });
        match result {
            Ok(raw) => break Some(raw),
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                let removed = remove_containing(tree.get_mut(), &span, &KeyPath::root());
                errors.push(invalid_value(error.message(), &span, removed.as_ref()));
                match removed {
                    Some(path) if errors.len() < MAX_VALUE_ERRORS => removed_paths.push(path),
                    _ => break None,
                }
            }
        }
    };

    for path in &unknown {
        errors.push(unknown_key(tree.get_ref(), path));
    }
    match raw {
        Some(mut raw) => {
            raw.locations = locations(&tree);
            Ok(Loaded {
                raw,
                errors,
                removed: removed_paths,
            })
        }
        None => Err(errors),
    }
}

/// Converts the parser's errors. A table defined twice makes the parser report every key of the
/// second definition as a duplicate; that becomes one error at the second header, naming the
/// line of the first.
fn syntax_errors_of(text: &str, errors: &[toml::de::Error]) -> Vec<ManifestError> {
    let mut converted = Vec::new();
    let mut skip_until = 0;
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim_end();
        if message == "duplicate key" {
            if span.start < skip_until {
                continue;
            }
            if let Some(duplicate) = duplicate_table(text, &span) {
                skip_until = duplicate.body_end;
                converted.push(duplicate.error);
                continue;
            }
        }
        converted.push(ManifestError::Syntax {
            message: message.to_owned(),
            span: source_span(&span),
        });
    }
    converted
}

struct DuplicateTable {
    error: ManifestError,
    /// Where the duplicate table's body ends: the next header, or the end of the text.
    body_end: usize,
}

/// If `span` is in a `[header]` line, the error for a table defined twice.
fn duplicate_table(text: &str, span: &Span) -> Option<DuplicateTable> {
    let line_start = text[..span.start].rfind('\n').map_or(0, |index| index + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |index| line_start + index);
    let header = text[line_start..line_end].trim();
    if !header.starts_with('[') || header.starts_with("[[") {
        return None;
    }
    let header = header.split('#').next().unwrap_or(header).trim();
    let first = text[..line_start]
        .lines()
        .position(|line| line.split('#').next().unwrap_or(line).trim() == header)?;
    let body_end = text[line_end..]
        .match_indices('\n')
        .map(|(index, _)| line_end + index + 1)
        .find(|start| {
            text[*start..]
                .trim_start_matches([' ', '\t'])
                .starts_with('[')
        })
        .unwrap_or(text.len());
    Some(DuplicateTable {
        error: ManifestError::Conflict {
            message: format!("table `{header}` is defined twice"),
            span: source_span(&(line_start..line_end)),
            label: "second definition".to_owned(),
            help: Some(format!(
                "it is first defined on line {}; merge the two tables, or give one of them another name",
                first + 1
            )),
        },
        body_end,
    })
}

/// Converts `serde_ignored`'s path, dropping the wrappers that are not TOML keys.
fn key_path(path: &serde_ignored::Path<'_>) -> KeyPath {
    use serde_ignored::Path;
    match path {
        Path::Root => KeyPath::root(),
        Path::Seq { parent, index } => key_path(parent).index(*index),
        Path::Map { parent, key } => {
            let parent = key_path(parent);
            if key.starts_with("$__serde_spanned_private") {
                parent
            } else {
                parent.key(key)
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => key_path(parent),
    }
}

fn unknown_key(tree: &DeTable<'_>, path: &KeyPath) -> ManifestError {
    let (table, key) = match path.split_last() {
        Some((table, PathSegment::Key(key))) => (table, key.clone()),
        _ => (KeyPath::root(), path.to_string()),
    };
    let candidates = known_keys(&table);
    ManifestError::UnknownKey {
        help: help_for_unknown(&key, candidates.iter().map(String::as_str)),
        table: table_name(&table),
        key,
        span: source_span(&key_span(tree, path).unwrap_or(0..0)),
    }
}

/// How error messages name the table at `path`.
pub(crate) fn table_name(path: &KeyPath) -> String {
    describe_table(&path.to_string_or_empty())
}

/// How error messages name the table at a dotted path: "`[steps.load]`", or "the top level".
pub(crate) fn describe_table(path: &str) -> String {
    if path.is_empty() {
        "the top level".to_owned()
    } else {
        format!("`[{path}]`")
    }
}

fn invalid_value(message: &str, span: &Span, removed: Option<&KeyPath>) -> ManifestError {
    let (message, help) = humanize(message);
    ManifestError::InvalidValue {
        key: removed.map_or_else(|| "the document".to_owned(), ToString::to_string),
        message,
        span: source_span(span),
        help,
    }
}

/// Rewrites serde's Rust-flavoured messages in TOML terms.
fn humanize(message: &str) -> (String, Option<String>) {
    let mut text = message.trim().to_owned();
    for (rust, toml) in [
        ("invalid type: ", ""),
        ("invalid value: ", ""),
        ("expected u32", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected usize", "expected a non-negative integer"),
        ("expected i64", "expected an integer"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("expected a boolean", "expected `true` or `false`"),
        ("expected a map", "expected a table"),
        ("sequence", "array"),
        ("map,", "table,"),
    ] {
        text = text.replace(rust, toml);
    }
    if let Some(position) = text.find("expected struct ") {
        text.replace_range(position.., "expected a table");
    }
    // serde writes "found, expected": lead with what was expected.
    if let Some((found, expected)) = text.split_once(", expected ") {
        text = format!("expected {expected}, found {found}");
    }
    let help = (text.starts_with("expected an array") && text.contains("found string"))
        .then(|| "use an array, such as `[\"name\"]`, even for a single value".to_owned());
    (text, help)
}

fn contains(outer: &Span, inner: &Span) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer != &(0..0)
}

/// Removes the deepest table entry that contains `span`; returns its path. Tables written
/// with a `[header]` have the header's span, not their body's, so every table is searched.
fn remove_containing(table: &mut DeTable<'_>, span: &Span, path: &KeyPath) -> Option<KeyPath> {
    let found = find_entry(table, span, path)?;
    let (parent, PathSegment::Key(key)) = found.split_last()? else {
        return None;
    };
    let mut current = table;
    let mut segments = parent.segments().iter().peekable();
    while let Some(segment) = segments.next() {
        let PathSegment::Key(name) = segment else {
            return None;
        };
        let mut value = current.get_mut(name.as_str())?.get_mut();
        if let Some(PathSegment::Index(index)) = segments.peek() {
            segments.next();
            let DeValue::Array(items) = value else {
                return None;
            };
            value = items.get_mut(*index)?.get_mut();
        }
        let DeValue::Table(inner) = value else {
            return None;
        };
        current = inner;
    }
    current.remove(key.as_str());
    Some(found)
}

fn find_entry(table: &DeTable<'_>, span: &Span, path: &KeyPath) -> Option<KeyPath> {
    for (key, value) in table {
        let entry_path = path.key(key.get_ref());
        let deeper = match value.get_ref() {
            DeValue::Table(inner) => find_entry(inner, span, &entry_path),
            DeValue::Array(items) => items.iter().enumerate().find_map(|(index, item)| match item
                .get_ref()
            {
                DeValue::Table(inner) => find_entry(inner, span, &entry_path.index(index)),
                _ => None,
            }),
            _ => None,
        };
        if deeper.is_some() {
            return deeper;
        }
        if contains(&value.span(), span) || contains(&key.span(), span) {
            return Some(entry_path);
        }
    }
    None
}

/// The span of the key at the end of `path`.
fn key_span(tree: &DeTable<'_>, path: &KeyPath) -> Option<Span> {
    let mut table = tree;
    let mut array = None;
    let segments = path.segments();
    for (position, segment) in segments.iter().enumerate() {
        let last = position + 1 == segments.len();
        let value = match (segment, array.take()) {
            (PathSegment::Key(name), _) => {
                let (key, value) = table.iter().find(|(key, _)| key.get_ref() == name)?;
                if last {
                    return Some(key.span());
                }
                value
            }
            (PathSegment::Index(index), Some(items)) => {
                let items: &[TomlSpanned<DeValue<'_>>] = items;
                let value = items.get(*index)?;
                if last {
                    return Some(value.span());
                }
                value
            }
            (PathSegment::Index(_), None) => return None,
        };
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            DeValue::Array(items) => array = Some(&**items),
            _ => return None,
        }
    }
    None
}

fn table_of<'a, 'i>(tree: &'a DeTable<'i>, key: &str) -> Option<(Span, &'a DeTable<'i>)> {
    let (name, value) = tree.iter().find(|(name, _)| name.get_ref() == key)?;
    match value.get_ref() {
        DeValue::Table(table) => Some((name.span(), table)),
        _ => None,
    }
}

fn locations(tree: &TomlSpanned<DeTable<'_>>) -> RawLocations {
    let root = tree.get_ref();
    let mut locations = RawLocations {
        pipeline_header: table_of(root, "pipeline").map_or(0..0, |(span, _)| span),
        ..RawLocations::default()
    };
    if let Some((_, connections)) = table_of(root, "connections") {
        for (name, _) in connections {
            locations
                .connection_names
                .insert(name.get_ref().to_string(), name.span());
        }
    }
    if let Some((_, steps)) = table_of(root, "steps") {
        for (id, body) in steps {
            let keys = match body.get_ref() {
                DeValue::Table(table) => table
                    .iter()
                    .map(|(key, _)| (key.get_ref().to_string(), key.span()))
                    .collect(),
                _ => Vec::new(),
            };
            locations.steps.insert(
                id.get_ref().to_string(),
                StepLocation {
                    id: id.span(),
                    keys,
                },
            );
        }
    }
    locations
}

impl RawPipeline {
    /// Deserializes a manifest that is known to be valid TOML, without collecting errors.
    /// Used by tests and benches that build manifests in code.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        Self::deserialize(toml::de::Deserializer::parse(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<ManifestError> {
        match load(&SourceFile::new("test.toml", text)) {
            Ok(loaded) => loaded.errors,
            Err(errors) => errors,
        }
    }

    fn spanned_text<'a>(text: &'a str, error: &ManifestError) -> &'a str {
        &text[error.span()]
    }

    #[test]
    fn reports_every_unknown_key_with_its_span_and_a_suggestion() {
        let text = "[pipeline]\nname = \"x\"\nconcurency = 2\n\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\ndepens_on = [\"b\"]\naftr = []\n";
        let errors = errors(text);
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert_eq!(spanned_text(text, &errors[0]), "concurency");
        assert!(
            matches!(&errors[0], ManifestError::UnknownKey { help: Some(help), table, .. }
            if help == "did you mean `concurrency`?" && table == "`[pipeline]`")
        );
        assert_eq!(spanned_text(text, &errors[1]), "depens_on");
        assert_eq!(spanned_text(text, &errors[2]), "aftr");
        assert!(
            matches!(&errors[2], ManifestError::UnknownKey { help: Some(help), table, .. }
            if help == "did you mean `after`?" && table == "`[steps.a]`")
        );
    }

    #[test]
    fn reports_several_wrong_types_in_one_pass() {
        let text = "[pipeline]\nname = 5\n\n[steps.a]\nkind = \"command\"\nretries = \"three\"\nafter = \"b\"\n\n[steps.b]\ntimeout = \"soon\"\n";
        let errors = errors(text);
        let spans: Vec<&str> = errors.iter().map(|e| spanned_text(text, e)).collect();
        assert_eq!(
            spans,
            ["5", "\"three\"", "\"b\"", "\"soon\""],
            "{errors:#?}"
        );
        let ManifestError::InvalidValue {
            key, message, help, ..
        } = &errors[2]
        else {
            panic!("{:?}", errors[2]);
        };
        assert_eq!(key, "steps.a.after");
        assert_eq!(message, "expected an array, found string \"b\"");
        assert!(help.is_some());
        let ManifestError::InvalidValue { message, .. } = &errors[3] else {
            panic!()
        };
        assert!(message.contains("invalid duration `soon`"), "{message}");
    }

    #[test]
    fn reports_syntax_errors_with_spans() {
        let errors = errors("[pipeline]\nname = \"x\nother = 1\n");
        assert!(!errors.is_empty());
        assert!(matches!(errors[0], ManifestError::Syntax { .. }));
    }

    #[test]
    fn a_table_defined_twice_is_one_error_naming_the_first_line() {
        let text = "[pipeline]\nname = \"x\"\n\n[steps.a]\nkind = \"command\"\n\n[steps.a]\nkind = \"command\"\nrun = [\"x\"]\n\n[steps.b]\nkind = 1\nkind = 2\n";
        let errors = errors(text);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert_eq!(spanned_text(text, &errors[0]), "[steps.a]");
        let ManifestError::Conflict { message, help, .. } = &errors[0] else {
            panic!()
        };
        assert_eq!(message, "table `[steps.a]` is defined twice");
        assert!(help.as_deref().unwrap().contains("line 4"));
        // A duplicate key inside a table stays a plain syntax error.
        assert!(matches!(errors[1], ManifestError::Syntax { .. }));
    }

    #[test]
    fn records_the_spans_of_names() {
        let text = "[pipeline]\nname = \"x\"\n[connections.db]\nurl = \"sqlite://x\"\n[steps.first]\nkind = \"command\"\nrun = [\"true\"]\n";
        let raw = load(&SourceFile::new("t.toml", text)).unwrap().raw;
        assert_eq!(&text[raw.locations.pipeline_header.clone()], "pipeline");
        assert_eq!(&text[raw.locations.connection_names["db"].clone()], "db");
        let step = &raw.locations.steps["first"];
        assert_eq!(&text[step.id.clone()], "first");
        let keys: Vec<&str> = step.keys.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["kind", "run"]);
    }
}

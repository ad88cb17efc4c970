//! `ManifestDiff`: what changed between two versions of a manifest, for reviewers. Steps
//! added, removed, renamed and changed, key by key; dependencies; connections; pipeline-wide
//! settings; and the steps that will run differently because of it all.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;

use crate::graph::StepGraph;
use crate::pipeline::{
    ConnectionName, ConnectionSpec, Driver, Pipeline, StepId, StepKind, StepSpec,
};
use crate::review::comparable::{
    comparable, connection_form, names_connection, pipeline_form, relative_summary, shown_url,
    step_form,
};
use crate::review::key_change::{
    KeyChange, PASSWORD_CHANGED, key_changes, pipeline_key, plain_key, step_key,
};

/// The semantic difference between two versions of a manifest. Every list is in manifest
/// order (the new manifest's; the old one's for what was removed), so output is stable.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestDiff {
    /// The new version's pipeline name, for headings.
    pub name: String,
    /// Keys of `[pipeline]`, `[monitoring]` and `[logging]` that changed.
    pub pipeline: Vec<KeyChange>,
    pub connections: ConnectionChanges,
    pub steps: StepChanges,
    pub dependencies: DependencyChanges,
    /// The steps that will run differently, in the new graph's topological order: every
    /// added, renamed or changed step (unless only its description changed), every step that
    /// uses a connection whose settings changed, and every step downstream of those.
    pub affected: Vec<StepId>,
}

/// Steps added, removed, renamed and changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepChanges {
    pub added: Vec<StepSummary>,
    pub removed: Vec<StepSummary>,
    pub renamed: Vec<StepRename>,
    pub changed: Vec<StepChange>,
}

/// A step as it is listed when it was added or removed.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub id: StepId,
    pub kind: StepKind,
    /// What the step does, on one line: secrets redacted, paths as the manifest writes them.
    pub summary: String,
}

/// A step whose id changed and whose action did not.
#[derive(Debug, Clone, Serialize)]
pub struct StepRename {
    pub old_id: StepId,
    pub new_id: StepId,
    pub kind: StepKind,
    /// The other keys that changed with the id (its description, its retries); `after` counts
    /// dependencies under their new names.
    pub changes: Vec<KeyChange>,
}

/// A step with the same id in both versions whose definition changed.
#[derive(Debug, Clone, Serialize)]
pub struct StepChange {
    pub id: StepId,
    pub kind: StepKind,
    pub changes: Vec<KeyChange>,
    /// Whether the step runs differently: `false` when only its description changed.
    pub runs_differently: bool,
}

/// Connections added, removed and changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectionChanges {
    pub added: Vec<ConnectionSummary>,
    pub removed: Vec<ConnectionSummary>,
    pub changed: Vec<ConnectionChange>,
}

/// A connection as it is listed when it was added or removed.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSummary {
    pub name: ConnectionName,
    pub driver: Driver,
    /// Password masked.
    pub url: String,
}

/// A connection with the same name in both versions whose settings changed.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionChange {
    pub name: ConnectionName,
    pub changes: Vec<KeyChange>,
    /// Whether the steps using it run differently: `false` when only its description changed.
    pub affects_steps: bool,
}

/// Dependency edges added and removed, renames aside.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DependencyChanges {
    pub added: Vec<DependencyEdge>,
    pub removed: Vec<DependencyEdge>,
}

/// `from -> to`: `to` runs after `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependencyEdge {
    pub from: StepId,
    pub to: StepId,
}

impl DependencyEdge {
    fn new(from: &StepId, to: &StepId) -> Self {
        Self {
            from: from.clone(),
            to: to.clone(),
        }
    }
}

impl fmt::Display for DependencyEdge {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} -> {}", self.from, self.to)
    }
}

impl ManifestDiff {
    /// Whether the two manifests mean the same thing: layout, comments, key order and the
    /// directory they are checked out in do not count.
    pub fn is_empty(&self) -> bool {
        self.pipeline.is_empty()
            && self.connections.is_empty()
            && self.steps.is_empty()
            && self.dependencies.is_empty()
    }

    /// The counts of what changed, on one line: `1 step added, 2 steps changed, 3 steps
    /// affected`.
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no semantic changes".to_owned();
        }
        let step = |count: usize, what: &str| counted(count, "step", "steps", what);
        let connection =
            |count: usize, what: &str| counted(count, "connection", "connections", what);
        let dependency =
            |count: usize, what: &str| counted(count, "dependency", "dependencies", what);
        let parts = [
            step(self.steps.added.len(), "added"),
            step(self.steps.removed.len(), "removed"),
            step(self.steps.renamed.len(), "renamed"),
            step(self.steps.changed.len(), "changed"),
            connection(self.connections.added.len(), "added"),
            connection(self.connections.removed.len(), "removed"),
            connection(self.connections.changed.len(), "changed"),
            dependency(self.dependencies.added.len(), "added"),
            dependency(self.dependencies.removed.len(), "removed"),
            counted(
                self.pipeline.len(),
                "pipeline setting",
                "pipeline settings",
                "changed",
            ),
        ];
        let mut shown: Vec<String> = parts.into_iter().flatten().collect();
        shown.push(format!(
            "{} {} affected",
            self.affected.len(),
            if self.affected.len() == 1 {
                "step"
            } else {
                "steps"
            }
        ));
        shown.join(", ")
    }
}

/// `2 steps added`, or nothing for none.
fn counted(count: usize, singular: &str, plural: &str, what: &str) -> Option<String> {
    match count {
        0 => None,
        1 => Some(format!("1 {singular} {what}")),
        _ => Some(format!("{count} {plural} {what}")),
    }
}

impl StepChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.renamed.is_empty()
            && self.changed.is_empty()
    }
}

impl ConnectionChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl DependencyChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Compares two versions of a manifest, each with its graph.
pub fn diff_pipelines(
    old: &Pipeline,
    old_graph: &StepGraph,
    new: &Pipeline,
    new_graph: &StepGraph,
) -> ManifestDiff {
    let renames = find_renames(old, new);
    let steps = step_changes(old, new, &renames);
    let connections = connection_changes(old, new);
    let affected = affected_steps(new, new_graph, &steps, &connections);
    ManifestDiff {
        name: new.name.clone(),
        pipeline: key_changes(&pipeline_form(old), &pipeline_form(new), pipeline_key),
        connections,
        steps,
        dependencies: dependency_changes(old_graph, new_graph, &renames),
        affected,
    }
}

/// Old id to new id of every renamed step: a step only in the new manifest whose action (its
/// kind and every key of that kind, paths relative to each manifest) is the same as that of a
/// step only in the old one. Each is paired with the first such step in manifest order, so the
/// pairing is deterministic when several steps have the same action.
fn find_renames(old: &Pipeline, new: &Pipeline) -> IndexMap<StepId, StepId> {
    let mut candidates: Vec<(&StepId, Value)> = old
        .steps
        .values()
        .filter(|step| !new.steps.contains_key(&step.id))
        .map(|step| (&step.id, comparable(&step.action, &old.base_dir)))
        .collect();
    let mut renames = IndexMap::new();
    for step in new
        .steps
        .values()
        .filter(|step| !old.steps.contains_key(&step.id))
    {
        let action = comparable(&step.action, &new.base_dir);
        if let Some(position) = candidates
            .iter()
            .position(|(_, candidate)| *candidate == action)
        {
            let (old_id, _) = candidates.remove(position);
            renames.insert(old_id.clone(), step.id.clone());
        }
    }
    renames
}

/// The id a step of the old manifest has in the new one.
fn current_id<'a>(renames: &'a IndexMap<StepId, StepId>, id: &'a StepId) -> &'a StepId {
    renames.get(id).unwrap_or(id)
}

fn step_changes(old: &Pipeline, new: &Pipeline, renames: &IndexMap<StepId, StepId>) -> StepChanges {
    let renamed_from: HashMap<&StepId, &StepId> = renames
        .iter()
        .map(|(old_id, new_id)| (new_id, old_id))
        .collect();
    let mut changes = StepChanges::default();
    for step in new.steps.values() {
        if let Some(previous) = old.steps.get(&step.id) {
            let differences = compare_steps((previous, old), (step, new), renames);
            if !differences.is_empty() {
                changes.changed.push(StepChange {
                    id: step.id.clone(),
                    kind: step.kind(),
                    runs_differently: differences.iter().any(|change| change.key != "description"),
                    changes: differences,
                });
            }
        } else if let Some(old_id) = renamed_from.get(&step.id) {
            changes.renamed.push(StepRename {
                old_id: StepId::clone(old_id),
                new_id: step.id.clone(),
                kind: step.kind(),
                changes: compare_steps((old.step(old_id), old), (step, new), renames),
            });
        } else {
            changes.added.push(step_summary(step, &new.base_dir));
        }
    }
    changes.removed = old
        .steps
        .values()
        .filter(|step| !new.steps.contains_key(&step.id) && !renames.contains_key(&step.id))
        .map(|step| step_summary(step, &old.base_dir))
        .collect();
    changes
}

/// The keys that differ between two versions of a step, each given with its pipeline. `after`
/// is compared as a set, the old dependencies under their new names, so that renaming a
/// dependency (or reordering the list) changes nothing.
fn compare_steps(
    (old_step, old): (&StepSpec, &Pipeline),
    (new_step, new): (&StepSpec, &Pipeline),
    renames: &IndexMap<StepId, StepId>,
) -> Vec<KeyChange> {
    let mut changes = key_changes(
        &step_form(old_step, &old.base_dir),
        &step_form(new_step, &new.base_dir),
        step_key,
    );
    let old_after: BTreeSet<&str> = old_step
        .after
        .iter()
        .map(|id| current_id(renames, id).as_str())
        .collect();
    let new_after: BTreeSet<&str> = new_step.after.iter().map(StepId::as_str).collect();
    if old_after != new_after {
        // Where a manifest writes it: after `kind` and `description`.
        let position = changes
            .iter()
            .take_while(|change| change.key == "kind" || change.key == "description")
            .count();
        let after = KeyChange::new(
            "after".to_owned(),
            Some(id_list(&old_step.after)),
            Some(id_list(&new_step.after)),
        );
        changes.insert(position, after);
    }
    changes
}

fn id_list(ids: &[StepId]) -> Value {
    ids.iter().map(|id| Value::from(id.as_str())).collect()
}

fn step_summary(step: &StepSpec, base_dir: &Path) -> StepSummary {
    StepSummary {
        id: step.id.clone(),
        kind: step.kind(),
        summary: relative_summary(&step.action, base_dir),
    }
}

fn connection_changes(old: &Pipeline, new: &Pipeline) -> ConnectionChanges {
    let mut changes = ConnectionChanges::default();
    for (name, connection) in &new.connections {
        match old.connections.get(name) {
            None => changes
                .added
                .push(connection_summary(connection, &new.base_dir)),
            Some(previous) => {
                let differences = compare_connections(
                    (previous, old.base_dir.as_path()),
                    (connection, new.base_dir.as_path()),
                );
                if !differences.is_empty() {
                    changes.changed.push(ConnectionChange {
                        name: name.clone(),
                        affects_steps: differences.iter().any(|change| change.key != "description"),
                        changes: differences,
                    });
                }
            }
        }
    }
    changes.removed = old
        .connections
        .iter()
        .filter(|(name, _)| !new.connections.contains_key(*name))
        .map(|(_, connection)| connection_summary(connection, &old.base_dir))
        .collect();
    changes
}

/// The settings that differ between two versions of a connection. URLs are compared masked,
/// so a new password alone would not show: it is reported as a `url` change with a note,
/// found by comparing the secrets themselves, which are never kept.
fn compare_connections(
    (old, old_base): (&ConnectionSpec, &Path),
    (new, new_base): (&ConnectionSpec, &Path),
) -> Vec<KeyChange> {
    let mut changes = key_changes(
        &connection_form(old, old_base),
        &connection_form(new, new_base),
        plain_key,
    );
    let url_shown_changed = changes.iter().any(|change| change.key == "url");
    let secrets_changed = crate::secrets::url_secrets(old.url.expose())
        != crate::secrets::url_secrets(new.url.expose());
    if secrets_changed && !url_shown_changed {
        let position = changes
            .iter()
            .take_while(|change| change.key == "driver")
            .count();
        let url = KeyChange::new(
            "url".to_owned(),
            Some(Value::from(shown_url(old, old_base))),
            Some(Value::from(shown_url(new, new_base))),
        )
        .with_note(PASSWORD_CHANGED);
        changes.insert(position, url);
    }
    changes
}

fn connection_summary(connection: &ConnectionSpec, base_dir: &Path) -> ConnectionSummary {
    ConnectionSummary {
        name: connection.name.clone(),
        driver: connection.driver,
        url: shown_url(connection, base_dir),
    }
}

/// Edges of the new graph that the old one lacks and the reverse, the old edges under the new
/// names of renamed steps: a rename whose dependents follow it changes no edge.
fn dependency_changes(
    old_graph: &StepGraph,
    new_graph: &StepGraph,
    renames: &IndexMap<StepId, StepId>,
) -> DependencyChanges {
    let old_edges = old_graph.edges();
    let new_edges = new_graph.edges();
    let renamed_old: HashSet<(&StepId, &StepId)> = old_edges
        .iter()
        .map(|&(from, to)| (current_id(renames, from), current_id(renames, to)))
        .collect();
    let current: HashSet<(&StepId, &StepId)> = new_edges.iter().copied().collect();
    DependencyChanges {
        added: new_edges
            .iter()
            .filter(|edge| !renamed_old.contains(*edge))
            .map(|&(from, to)| DependencyEdge::new(from, to))
            .collect(),
        removed: old_edges
            .iter()
            .filter(|&&(from, to)| {
                !current.contains(&(current_id(renames, from), current_id(renames, to)))
            })
            .map(|&(from, to)| DependencyEdge::new(from, to))
            .collect(),
    }
}

/// The steps that will run differently, in the new graph's topological order. A description
/// says what a step is for, not what it does, so a step whose description alone changed is
/// not among them (nor are the steps of a connection whose description alone changed).
fn affected_steps(
    new: &Pipeline,
    new_graph: &StepGraph,
    steps: &StepChanges,
    connections: &ConnectionChanges,
) -> Vec<StepId> {
    let mut starts: Vec<&StepId> = Vec::new();
    starts.extend(steps.added.iter().map(|step| &step.id));
    starts.extend(steps.renamed.iter().map(|rename| &rename.new_id));
    starts.extend(
        steps
            .changed
            .iter()
            .filter(|change| change.runs_differently)
            .map(|change| &change.id),
    );
    let changed_connections: Vec<&str> = connections
        .changed
        .iter()
        .filter(|change| change.affects_steps)
        .map(|change| change.name.as_str())
        .collect();
    if !changed_connections.is_empty() {
        for step in new.steps.values() {
            let action = comparable(&step.action, &new.base_dir);
            if changed_connections
                .iter()
                .any(|connection| names_connection(&action, connection))
            {
                starts.push(&step.id);
            }
        }
    }
    let mut affected: HashSet<&StepId> = HashSet::new();
    for start in starts {
        affected.insert(start);
        affected.extend(new_graph.descendants(start));
    }
    new_graph
        .topological_order()
        .into_iter()
        .filter(|id| affected.contains(id))
        .cloned()
        .collect()
}

/// The diff as pretty JSON, keys in a fixed order, for `--format json`.
pub fn render_json(diff: &ManifestDiff) -> String {
    let mut json = serde_json::to_string_pretty(diff).expect("a manifest diff serializes to JSON");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{SourceFile, Variables, parse_pipeline};
    use crate::review::key_change::SECRET_CHANGED;
    use crate::review::{render_markdown, render_text};

    /// The manifest every case edits. `pipelines/daily.toml` resolves against the crate's
    /// `pipelines/`, so `../migrations/quickstart` exists.
    const BASE: &str = r#"
[pipeline]
name = "daily"
concurrency = 2

[connections.legacy]
url = "mysql://reader@legacy.internal:3306/market"

[connections.warehouse]
url = "postgres://etl:old-passphrase-4711@db.internal:5432/warehouse"

[steps.prepare]
kind = "sql"
connection = "warehouse"
sql = """
CREATE TABLE IF NOT EXISTS daily_bars (symbol TEXT, trade_date DATE, close NUMERIC);
DELETE FROM daily_bars;
"""

[steps.copy_bars]
kind = "transform"
after = ["prepare"]
from = { connection = "legacy", table = "daily_bars" }
to = { connection = "warehouse", mode = "append" }
batch_size = 10000

[steps.check_bars]
kind = "validate"
after = ["copy_bars"]
connection = "warehouse"
table = "daily_bars"
checks = [{ kind = "not_null", columns = ["symbol", "trade_date"] }]

[steps.report]
kind = "command"
description = "Say that the bars are in."
after = ["check_bars"]
run = ["echo", "bars loaded"]

[steps.vacuum]
kind = "command"
run = ["echo", "vacuum"]
"#;

    const REPORT: &str = r#"[steps.report]
kind = "command"
description = "Say that the bars are in."
after = ["check_bars"]
run = ["echo", "bars loaded"]
"#;

    /// A manifest after analysis, with its graph.
    struct Version {
        pipeline: Pipeline,
        graph: StepGraph,
    }

    fn version_at(path: &Path, text: &str) -> Version {
        let pipeline = parse_pipeline(&SourceFile::new(path, text), &Variables::default())
            .expect("the test manifest is valid");
        let graph = StepGraph::new(&pipeline);
        Version { pipeline, graph }
    }

    fn version(text: &str) -> Version {
        version_at(Path::new("pipelines/daily.toml"), text)
    }

    /// `BASE` with each `(from, to)` replaced; every `from` must be in it.
    fn edited(replacements: &[(&str, &str)]) -> String {
        let mut text = BASE.to_owned();
        for (from, to) in replacements {
            assert!(text.contains(from), "`{from}` is not in the manifest");
            text = text.replace(from, to);
        }
        text
    }

    fn diff_of(old: &str, new: &str) -> (ManifestDiff, Version) {
        let old = version(old);
        let new = version(new);
        let diff = diff_pipelines(&old.pipeline, &old.graph, &new.pipeline, &new.graph);
        (diff, new)
    }

    fn markdown(diff: &ManifestDiff, new: &Version) -> String {
        render_markdown(diff, &new.pipeline, &new.graph)
    }

    fn ids(ids: &[StepId]) -> Vec<&str> {
        ids.iter().map(StepId::as_str).collect()
    }

    fn summaries(steps: &[StepSummary]) -> Vec<&str> {
        steps.iter().map(|step| step.id.as_str()).collect()
    }

    fn changed_steps(diff: &ManifestDiff) -> Vec<&str> {
        diff.steps
            .changed
            .iter()
            .map(|step| step.id.as_str())
            .collect()
    }

    fn keys(changes: &[KeyChange]) -> Vec<&str> {
        changes.iter().map(|change| change.key.as_str()).collect()
    }

    fn edges(edges: &[DependencyEdge]) -> Vec<String> {
        edges.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn identical_manifests_have_no_changes() {
        let reformatted = edited(&[
            ("concurrency = 2", "concurrency = 2 # two at a time"),
            ("\n[steps.vacuum]", "\n\n# housekeeping\n[steps.vacuum]"),
        ]);
        let (diff, new) = diff_of(BASE, &reformatted);
        assert!(diff.is_empty(), "{diff:#?}");
        assert!(diff.affected.is_empty());
        assert_eq!(diff.summary(), "no semantic changes");
        assert_eq!(render_text(&diff), "no semantic changes\n");
        assert!(markdown(&diff, &new).contains("No semantic changes."));
    }

    #[test]
    fn an_added_step_and_its_dependency() {
        let summarise = "\n[steps.summarise]\nkind = \"sql\"\nafter = [\"copy_bars\"]\nconnection = \"warehouse\"\nsql = \"INSERT INTO bar_counts SELECT symbol, COUNT(*) FROM daily_bars GROUP BY symbol\"\n";
        let (diff, new) = diff_of(BASE, &format!("{BASE}{summarise}"));
        assert_eq!(summaries(&diff.steps.added), ["summarise"]);
        assert_eq!(diff.steps.added[0].summary, "inline SQL on `warehouse`");
        assert!(diff.steps.removed.is_empty());
        assert!(diff.steps.renamed.is_empty());
        assert!(diff.steps.changed.is_empty());
        assert_eq!(edges(&diff.dependencies.added), ["copy_bars -> summarise"]);
        assert!(diff.dependencies.removed.is_empty());
        assert_eq!(ids(&diff.affected), ["summarise"]);
        insta::assert_snapshot!("added_step_text", render_text(&diff));
        insta::assert_snapshot!("added_step_markdown", markdown(&diff, &new));
    }

    #[test]
    fn a_removed_step_and_its_dependency() {
        let (diff, new) = diff_of(BASE, &edited(&[(REPORT, "")]));
        assert_eq!(summaries(&diff.steps.removed), ["report"]);
        assert_eq!(diff.steps.removed[0].summary, "echo 'bars loaded'");
        assert!(diff.steps.added.is_empty());
        assert!(diff.steps.changed.is_empty());
        assert_eq!(edges(&diff.dependencies.removed), ["check_bars -> report"]);
        assert!(diff.dependencies.added.is_empty());
        assert!(diff.affected.is_empty(), "what remains runs as before");
        insta::assert_snapshot!("removed_step_text", render_text(&diff));
        let markdown = markdown(&diff, &new);
        assert!(markdown.contains("Removed, so not in the graph: `report`."));
        insta::assert_snapshot!("removed_step_markdown", markdown);
    }

    #[test]
    fn a_renamed_step_is_a_rename_with_no_edge_churn() {
        let renamed = edited(&[
            ("[steps.check_bars]", "[steps.validate_bars]"),
            ("after = [\"check_bars\"]", "after = [\"validate_bars\"]"),
        ]);
        let (diff, new) = diff_of(BASE, &renamed);
        assert_eq!(diff.steps.renamed.len(), 1, "{diff:#?}");
        let rename = &diff.steps.renamed[0];
        assert_eq!(
            (rename.old_id.as_str(), rename.new_id.as_str()),
            ("check_bars", "validate_bars")
        );
        assert!(rename.changes.is_empty(), "{:#?}", rename.changes);
        assert!(diff.steps.added.is_empty());
        assert!(diff.steps.removed.is_empty());
        assert!(
            diff.steps.changed.is_empty(),
            "`report` follows the rename: {:#?}",
            diff.steps.changed
        );
        assert!(diff.dependencies.is_empty(), "{:#?}", diff.dependencies);
        assert_eq!(ids(&diff.affected), ["validate_bars", "report"]);
        insta::assert_snapshot!("renamed_step_text", render_text(&diff));
        insta::assert_snapshot!("renamed_step_markdown", markdown(&diff, &new));
    }

    #[test]
    fn a_changed_key_affects_every_step_downstream() {
        let (diff, new) = diff_of(
            BASE,
            &edited(&[("batch_size = 10000", "batch_size = 50000")]),
        );
        assert_eq!(changed_steps(&diff), ["copy_bars"]);
        let change = &diff.steps.changed[0];
        assert!(change.runs_differently);
        assert_eq!(keys(&change.changes), ["batch_size"]);
        assert_eq!(change.changes[0].old, Some(serde_json::json!(10_000)));
        assert_eq!(change.changes[0].new, Some(serde_json::json!(50_000)));
        assert_eq!(ids(&diff.affected), ["copy_bars", "check_bars", "report"]);
        assert!(diff.dependencies.is_empty());
        let text = render_text(&diff);
        assert!(text.contains("batch_size: 10000 → 50000"), "{text}");
        insta::assert_snapshot!("changed_key_text", text);
        insta::assert_snapshot!("changed_key_markdown", markdown(&diff, &new));
    }

    #[test]
    fn a_new_password_is_reported_and_never_shown() {
        let passwords = ["old-passphrase-4711", "new-passphrase-0815"];
        for (new_text, note) in [
            (
                edited(&[(passwords[0], passwords[1])]),
                Some(PASSWORD_CHANGED),
            ),
            (
                edited(&[(
                    "etl:old-passphrase-4711@db.internal",
                    "etl:new-passphrase-0815@replica.internal",
                )]),
                None,
            ),
        ] {
            let (diff, new) = diff_of(BASE, &new_text);
            assert_eq!(diff.connections.changed.len(), 1, "{diff:#?}");
            let connection = &diff.connections.changed[0];
            assert_eq!(connection.name.as_str(), "warehouse");
            assert!(connection.affects_steps);
            assert_eq!(keys(&connection.changes), ["url"]);
            assert_eq!(connection.changes[0].note.as_deref(), note);
            assert_eq!(
                ids(&diff.affected),
                ["prepare", "copy_bars", "check_bars", "report"],
                "every step on `warehouse` and what follows them, not `vacuum`"
            );
            for rendering in [
                render_text(&diff),
                markdown(&diff, &new),
                render_json(&diff),
            ] {
                for password in passwords {
                    assert!(!rendering.contains(password), "{rendering}");
                }
                assert!(rendering.contains("etl:****@"), "{rendering}");
            }
        }
        let (diff, _) = diff_of(BASE, &edited(&[(passwords[0], passwords[1])]));
        insta::assert_snapshot!("new_password_text", render_text(&diff));
    }

    #[test]
    fn changed_sql_shows_as_a_short_diff() {
        let (diff, new) = diff_of(
            BASE,
            &edited(&[(
                "DELETE FROM daily_bars;",
                "DELETE FROM daily_bars WHERE trade_date >= CURRENT_DATE - 7;",
            )]),
        );
        assert_eq!(changed_steps(&diff), ["prepare"]);
        let change = &diff.steps.changed[0].changes;
        assert_eq!(keys(change), ["sql"]);
        let text = change[0].text.as_ref().expect("SQL changes as text");
        assert_eq!((text.inserted, text.deleted), (1, 1));
        assert!(
            text.unified.contains("\n-DELETE FROM daily_bars;\n"),
            "{}",
            text.unified
        );
        assert!(
            text.unified
                .contains("\n+DELETE FROM daily_bars WHERE trade_date >= CURRENT_DATE - 7;\n"),
            "{}",
            text.unified
        );
        assert_eq!(
            ids(&diff.affected),
            ["prepare", "copy_bars", "check_bars", "report"]
        );
        insta::assert_snapshot!("changed_sql_text", render_text(&diff));
        insta::assert_snapshot!("changed_sql_markdown", markdown(&diff, &new));
    }

    #[test]
    fn a_new_description_is_a_change_that_runs_nothing() {
        let (diff, _) = diff_of(
            BASE,
            &edited(&[(
                "Say that the bars are in.",
                "Tell the team that the bars are in.",
            )]),
        );
        assert_eq!(changed_steps(&diff), ["report"]);
        let change = &diff.steps.changed[0];
        assert_eq!(keys(&change.changes), ["description"]);
        assert!(!change.runs_differently);
        assert!(diff.affected.is_empty());
        assert!(!diff.is_empty());
        let text = render_text(&diff);
        assert!(
            text.contains("(description only: runs as before)"),
            "{text}"
        );
        insta::assert_snapshot!("description_only_text", text);
    }

    #[test]
    fn a_secret_in_a_step_is_masked() {
        crate::secrets::register_secret("step-secret-9021");
        crate::secrets::register_secret("step-secret-3344");
        let old = BASE.replace(
            "\"vacuum\"]",
            "\"vacuum\"]\nenv = { TOKEN = \"step-secret-9021\" }",
        );
        let new = old.replace("step-secret-9021", "step-secret-3344");
        let (diff, new) = diff_of(&old, &new);
        assert_eq!(changed_steps(&diff), ["vacuum"]);
        let change = &diff.steps.changed[0].changes[0];
        assert_eq!(change.key, "env");
        assert_eq!(change.note.as_deref(), Some(SECRET_CHANGED));
        for rendering in [
            render_text(&diff),
            markdown(&diff, &new),
            render_json(&diff),
        ] {
            assert!(!rendering.contains("step-secret-"), "{rendering}");
        }
    }

    #[test]
    fn where_the_repository_is_checked_out_does_not_count() {
        let manifest = r#"
[pipeline]
name = "paths"

[connections.warehouse]
url = "sqlite://data/warehouse.db"

[steps.schema]
kind = "migrate"
connection = "warehouse"
dir = "../migrations"

[steps.load]
kind = "sql"
after = ["schema"]
connection = "warehouse"
file = "sql/load.sql"

[steps.measure]
kind = "bench"
after = ["load"]
connection = "warehouse"
workload = { kind = "connect" }
baseline = "../metrics/baseline.json"

[steps.list]
kind = "command"
after = ["load"]
run = ["ls"]
"#;
        let checkout = |root: &Path| {
            std::fs::create_dir_all(root.join("migrations")).unwrap();
            std::fs::write(
                root.join("migrations/0001_create_bars.sql"),
                "CREATE TABLE bars (id INTEGER);\n",
            )
            .unwrap();
            std::fs::create_dir_all(root.join("pipelines/sql")).unwrap();
            std::fs::write(
                root.join("pipelines/sql/load.sql"),
                "INSERT INTO bars VALUES (1);\n",
            )
            .unwrap();
            version_at(&root.join("pipelines/paths.toml"), manifest)
        };
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let old = checkout(first.path());
        let new = checkout(&second.path().join("nested/clone"));
        assert_ne!(old.pipeline.base_dir, new.pipeline.base_dir);
        let diff = diff_pipelines(&old.pipeline, &old.graph, &new.pipeline, &new.graph);
        assert!(diff.is_empty(), "{}", render_text(&diff));
    }

    #[test]
    fn many_changes_at_once() {
        let new_text = edited(&[
            ("concurrency = 2", "concurrency = 4"),
            (
                "url = \"mysql://reader@legacy.internal:3306/market\"",
                "url = \"mysql://reader@legacy.internal:3306/market\"\ndescription = \"The MySQL being retired.\"\n\n[connections.archive]\nurl = \"postgres://archiver@archive.internal/bars\"",
            ),
            (
                "[steps.prepare]",
                "[steps.schema]\nkind = \"migrate\"\nconnection = \"warehouse\"\ndir = \"../migrations/quickstart\"\n\n[steps.prepare]\nafter = [\"schema\"]",
            ),
            ("batch_size = 10000", "batch_size = 50000"),
            ("[steps.check_bars]", "[steps.validate_bars]"),
            ("after = [\"check_bars\"]", "after = [\"validate_bars\"]"),
            (
                "[steps.vacuum]\nkind = \"command\"\nrun = [\"echo\", \"vacuum\"]\n",
                "",
            ),
        ]);
        let (diff, new) = diff_of(BASE, &new_text);
        assert_eq!(keys(&diff.pipeline), ["pipeline.concurrency"]);
        assert_eq!(diff.connections.added.len(), 1);
        assert_eq!(diff.connections.added[0].name.as_str(), "archive");
        assert_eq!(diff.connections.changed.len(), 1);
        assert!(
            !diff.connections.changed[0].affects_steps,
            "a description runs nothing"
        );
        assert_eq!(summaries(&diff.steps.added), ["schema"]);
        assert_eq!(
            diff.steps.added[0].summary,
            "migrations in `../migrations/quickstart` on `warehouse`"
        );
        assert_eq!(summaries(&diff.steps.removed), ["vacuum"]);
        assert_eq!(diff.steps.renamed.len(), 1);
        assert_eq!(changed_steps(&diff), ["prepare", "copy_bars"]);
        assert_eq!(keys(&diff.steps.changed[0].changes), ["after"]);
        assert_eq!(edges(&diff.dependencies.added), ["schema -> prepare"]);
        assert!(diff.dependencies.removed.is_empty());
        assert_eq!(
            ids(&diff.affected),
            ["schema", "prepare", "copy_bars", "validate_bars", "report"]
        );
        let markdown = markdown(&diff, &new);
        for line in [
            "class schema added",
            "class prepare,copy_bars,validate_bars changed",
            "class report affected",
        ] {
            assert!(markdown.contains(line), "{line}\n{markdown}");
        }
        insta::assert_snapshot!("many_changes_text", render_text(&diff));
        insta::assert_snapshot!("many_changes_markdown", markdown);
        insta::assert_snapshot!("many_changes_json", render_json(&diff));
    }
}

//! What a transform does with each table, worked out from the source's catalog and the
//! step's rules before any row moves: the columns read, the columns written, the key that
//! orders the rows, the table to create.

use std::collections::HashSet;

use crate::data::{
    Column, IndexSpec, LogicalType, TableSchema, Value, count_rows, describe_query, list_tables,
    read_table, same_table, split_name,
};
use crate::db::{DbConnection, quote_identifier};
use crate::manifest::suggestion::did_you_mean;
use crate::pipeline::{
    ColumnRule, Driver, LossyPolicy, SourceTables, TransformMode, TransformSpec,
};
use crate::transform::TransformError;
use crate::transform::table_ddl::{ColumnDefinition, TableDefinition, index_name};

/// What rows are read from: a table, or a query (the step's own, or one pipewright builds to
/// evaluate column expressions on the source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Table(String),
    Query(String),
}

/// Where a written column's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A column read from the source, by position.
    Source(usize),
    /// The same value in every row.
    Constant(Value),
}

/// A column of the target and how it is filled.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub input: Input,
    /// Written where the source has NULL.
    pub default: Option<Value>,
    pub policy: LossyPolicy,
}

/// One source relation copied to one target table.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// The source as the step names it: a table, or `query`.
    pub label: String,
    pub relation: Relation,
    pub read_columns: Vec<Column>,
    /// The columns (positions in `read_columns`) ordering the rows: checkpoints, key ranges,
    /// the key shown in errors. Empty when the source has none.
    pub read_key: Vec<usize>,
    /// Whether the catalog says `read_key` identifies a row (a primary key or unique index);
    /// a query's key may repeat.
    pub key_is_unique: bool,
    /// Whether a key column may hold NULL: such a key cannot order a resume (`> last` skips
    /// NULLs), so the copy commits once.
    pub key_nullable: bool,
    pub outputs: Vec<Output>,
    pub target: String,
    /// The target table as pipewright creates it when it does not exist.
    pub definition: TableDefinition,
    pub row_estimate: Option<u64>,
}

impl TablePlan {
    /// The names of the written columns, in order.
    pub fn output_names(&self) -> Vec<String> {
        self.outputs
            .iter()
            .map(|output| output.name.clone())
            .collect()
    }

    /// The key columns, as read.
    pub fn key_columns(&self) -> Vec<Column> {
        self.read_key
            .iter()
            .map(|&index| self.read_columns[index].clone())
            .collect()
    }
}

/// Tables pipewright makes itself, never copied by patterns.
fn is_own_table(name: &str) -> bool {
    crate::transform::table_names::is_side_table(name) || name.starts_with("pipewright_")
}

/// `*` (any text) and `?` (one character) against a whole name.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    fn matches(pattern: &[char], name: &[char]) -> bool {
        match (pattern.first(), name.first()) {
            (None, None) => true,
            (Some('*'), _) => {
                matches(&pattern[1..], name) || (!name.is_empty() && matches(pattern, &name[1..]))
            }
            (Some('?'), Some(_)) => matches(&pattern[1..], &name[1..]),
            (Some(expected), Some(actual)) if expected == actual => {
                matches(&pattern[1..], &name[1..])
            }
            _ => false,
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches(&pattern, &name)
}

/// A constant of the manifest as a value.
fn json_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                Value::Int(integer)
            } else if let Some(integer) = number.as_u64() {
                Value::UInt(integer)
            } else {
                Value::Float(number.as_f64().unwrap_or_default())
            }
        }
        serde_json::Value::String(text) => Value::Text(text.as_str().into()),
        serde_json::Value::Null => Value::Null,
        other => Value::Text(other.to_string().into()),
    }
}

/// The type a constant gets when its column has no `type`.
fn constant_type(value: &Value) -> LogicalType {
    match value {
        Value::Bool(_) => LogicalType::Bool,
        Value::Int(_) | Value::UInt(_) => LogicalType::Int { bytes: 8 },
        Value::Float(_) => LogicalType::Float64,
        _ => LogicalType::Text { max_length: None },
    }
}

/// Every table of a step's source, resolved: `(label, relation)`.
async fn source_relations(
    source: &mut DbConnection,
    connection: &str,
    tables: &SourceTables,
) -> Result<Vec<(String, Relation)>, TransformError> {
    Ok(match tables {
        SourceTables::Table(table) => vec![(table.clone(), Relation::Table(table.clone()))],
        SourceTables::Query(query) => vec![("query".to_owned(), Relation::Query(query.clone()))],
        SourceTables::List(tables) => tables
            .iter()
            .map(|table| (table.clone(), Relation::Table(table.clone())))
            .collect(),
        SourceTables::Matching {
            schema,
            include,
            exclude,
        } => {
            let names: Vec<String> = list_tables(source, schema.as_deref())
                .await?
                .into_iter()
                .filter(|name| !is_own_table(name))
                .filter(|name| include.iter().any(|pattern| glob_matches(pattern, name)))
                .filter(|name| !exclude.iter().any(|pattern| glob_matches(pattern, name)))
                .collect();
            if names.is_empty() {
                return Err(TransformError::NoTables {
                    connection: connection.to_owned(),
                    patterns: include
                        .iter()
                        .map(|pattern| format!("`{pattern}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            names
                .into_iter()
                .map(|name| {
                    let qualified = match schema {
                        Some(schema) => format!("{schema}.{name}"),
                        None => name,
                    };
                    (qualified.clone(), Relation::Table(qualified))
                })
                .collect()
        }
    })
}

/// Works out every table a step copies. Reads the source's catalog; touches nothing.
/// A target name the engine would truncate (PostgreSQL cuts names to 63 bytes, MySQL refuses
/// more than 64 characters): two long names could become one table.
fn check_name_length(driver: Driver, target: &str) -> Result<(), TransformError> {
    let (_, table) = split_name(target);
    let (length, engine, limit) = match driver {
        Driver::Postgres => (table.len(), "PostgreSQL", 63),
        Driver::MySql => (table.chars().count(), "MySQL", 64),
        Driver::Sqlite => return Ok(()),
    };
    if length > limit {
        return Err(TransformError::NameTooLong {
            table: table.to_owned(),
            length,
            engine,
            limit,
        });
    }
    Ok(())
}

pub async fn plan_tables(
    source: &mut DbConnection,
    spec: &TransformSpec,
    target_driver: Driver,
) -> Result<Vec<TablePlan>, TransformError> {
    let relations =
        source_relations(source, spec.from.connection.as_str(), &spec.from.tables).await?;
    let mut used_rules: HashSet<String> = HashSet::new();
    let mut plans = Vec::with_capacity(relations.len());
    let mut all_columns: Vec<String> = Vec::new();
    for (label, relation) in relations {
        if spec.from.connection == spec.to.connection
            && let Relation::Table(table) = &relation
            && same_table(
                target_driver,
                table,
                &target_name(spec, split_name(table).1),
            )
        {
            return Err(TransformError::OntoItself {
                table: table.clone(),
            });
        }
        let plan = plan_table(
            source,
            spec,
            target_driver,
            &label,
            relation,
            &mut used_rules,
        )
        .await?;
        check_name_length(target_driver, &plan.target)?;
        all_columns.extend(plan.read_columns.iter().map(|column| column.name.clone()));
        plans.push(plan);
    }
    if let Some((rule, _)) = spec
        .columns
        .iter()
        .find(|(rule, _)| !used_rules.contains(*rule))
    {
        let tables = plans
            .iter()
            .map(|plan| format!("`{}`", plan.label))
            .collect::<Vec<_>>()
            .join(", ");
        let bare = rule
            .rsplit_once('.')
            .map_or(rule.as_str(), |(_, column)| column);
        return Err(TransformError::UnknownColumnRule {
            rule: rule.clone(),
            tables,
            similar: did_you_mean(bare, all_columns.iter().map(String::as_str)).map(str::to_owned),
        });
    }
    Ok(plans)
}

/// The target table of a source table named `table` (without schema).
fn target_name(spec: &TransformSpec, table: &str) -> String {
    match (&spec.to.table, &spec.to.schema) {
        (Some(target), Some(schema)) => format!("{schema}.{target}"),
        (Some(target), None) => target.clone(),
        (None, Some(schema)) => format!("{schema}.{table}"),
        (None, None) => table.to_owned(),
    }
}

/// The rule for `column` of `table`: `table.column` wins over `column`.
fn rule_for<'a>(
    spec: &'a TransformSpec,
    table: &str,
    column: &str,
    used: &mut HashSet<String>,
) -> Option<&'a ColumnRule> {
    let qualified = format!("{table}.{column}");
    for key in [qualified.as_str(), column] {
        if let Some(rule) = spec.columns.get(key) {
            used.insert(key.to_owned());
            return Some(rule);
        }
    }
    None
}

/// A source column that is read, with its rule; `written` is false for a key column read
/// only to order the rows.
struct Selected<'a> {
    column: Column,
    rule: Option<&'a ColumnRule>,
    written: bool,
}

async fn plan_table(
    source: &mut DbConnection,
    spec: &TransformSpec,
    target_driver: Driver,
    label: &str,
    relation: Relation,
    used_rules: &mut HashSet<String>,
) -> Result<TablePlan, TransformError> {
    let source_driver = source.driver();
    let connection = spec.from.connection.as_str();
    let (catalog, base_columns) = match &relation {
        Relation::Table(table) => {
            let Some(schema) = read_table(source, table).await? else {
                let (schema_name, _) = split_name(table);
                let names = list_tables(source, schema_name).await.unwrap_or_default();
                return Err(TransformError::NoSuchTable {
                    connection: connection.to_owned(),
                    table: table.clone(),
                    similar: did_you_mean(split_name(table).1, names.iter().map(String::as_str))
                        .map(str::to_owned),
                });
            };
            let columns = schema.columns.clone();
            (Some(schema), columns)
        }
        Relation::Query(query) => (None, describe_query(source, query).await?),
    };
    let table_name = split_name(label).1.to_owned();
    let q = |name: &str| quote_identifier(source_driver, name);

    // The ordering key: `from.key`, the table's primary key, or the source columns an
    // upsert's key is written from.
    let key_names: Vec<String> = if spec.from.key.is_empty() {
        let primary_key = catalog
            .as_ref()
            .map(|schema| schema.primary_key.clone())
            .unwrap_or_default();
        if primary_key.is_empty() && spec.to.mode == TransformMode::Upsert {
            source_names_of(spec, &table_name, &base_columns, &spec.to.key).unwrap_or_default()
        } else {
            primary_key
        }
    } else {
        spec.from.key.clone()
    };
    for column in &key_names {
        if !base_columns.iter().any(|base| &base.name == column) {
            return Err(TransformError::UnknownKeyColumn {
                table: label.to_owned(),
                column: column.clone(),
            });
        }
    }

    // Which source columns are read, and with which expression.
    let mut selected: Vec<Selected<'_>> = Vec::new();
    for column in &base_columns {
        let rule = rule_for(spec, &table_name, &column.name, used_rules);
        let dropped = rule.is_some_and(|rule| rule.drop);
        let constant = rule.is_some_and(|rule| rule.value.is_some());
        // A dropped (or constant) key column is still read: it orders the rows.
        if (dropped || constant) && !key_names.contains(&column.name) {
            continue;
        }
        selected.push(Selected {
            column: column.clone(),
            rule,
            written: !dropped && !constant,
        });
    }
    // New columns: rules that name no source column and compute a value.
    let mut new_columns: Vec<(String, &ColumnRule)> = Vec::new();
    for (key, rule) in &spec.columns {
        let (scope, name) = match key.rsplit_once('.') {
            Some((scope, name)) => (Some(scope), name),
            None => (None, key.as_str()),
        };
        if scope.is_some_and(|scope| scope != table_name && scope != label) {
            continue;
        }
        if base_columns.iter().any(|column| column.name == name) || !rule.is_computed() {
            continue;
        }
        used_rules.insert(key.clone());
        new_columns.push((name.to_owned(), rule));
    }

    let has_expressions = selected
        .iter()
        .any(|item| item.rule.is_some_and(|rule| rule.expression.is_some()))
        || new_columns
            .iter()
            .any(|(_, rule)| rule.expression.is_some());
    let (relation, read_columns) = if has_expressions {
        // Expressions are evaluated by the source: the rows come from a query that computes
        // them next to the plain columns.
        let mut items: Vec<String> = selected
            .iter()
            .map(
                |item| match item.rule.and_then(|rule| rule.expression.as_ref()) {
                    Some(expression) if item.written => {
                        format!("({expression}) AS {}", q(&item.column.name))
                    }
                    _ => q(&item.column.name),
                },
            )
            .collect();
        for (name, rule) in &new_columns {
            if let Some(expression) = &rule.expression {
                items.push(format!("({expression}) AS {}", q(name)));
            }
        }
        let from = match &relation {
            Relation::Table(table) => quote_identifier(source_driver, table),
            Relation::Query(query) => format!(
                "({}) AS pipewright_input",
                crate::data::row_reader::query_text(query)
            ),
        };
        let query = format!("SELECT {} FROM {from}", items.join(", "));
        let mut described = describe_query(source, &query).await?;
        // A plain column is what the catalog says it is (a view loses NOT NULL, a temporary
        // table MariaDB's JSON check); only computed columns need the description.
        for (index, item) in selected.iter().enumerate() {
            let computed = item.written && item.rule.is_some_and(|rule| rule.expression.is_some());
            if !computed && let Some(described) = described.get_mut(index) {
                *described = item.column.clone();
            }
        }
        (Relation::Query(query), described)
    } else {
        let columns = selected.iter().map(|item| item.column.clone()).collect();
        (relation, columns)
    };

    // What is written, in order: the source's columns, then new ones.
    let mut outputs = Vec::new();
    let mut definitions = Vec::new();
    let mut name_changes: Vec<(String, String)> = Vec::new();
    let same_engine = source_driver == target_driver;
    for (index, item) in selected.iter().enumerate() {
        if !item.written {
            continue;
        }
        let read = &read_columns[index];
        let name = item
            .rule
            .and_then(|rule| rule.rename.clone())
            .unwrap_or_else(|| item.column.name.clone());
        name_changes.push((item.column.name.clone(), name.clone()));
        let computed = item.rule.is_some_and(|rule| rule.expression.is_some());
        let ddl = match item.rule.and_then(|rule| rule.target_type.clone()) {
            Some(ddl) => ddl,
            // The same engine takes the declared type as it is, except where the catalog's
            // name hides what the column holds (MariaDB's JSON is a checked LONGTEXT) or the
            // column is read as something else (geometry as its well-known text).
            None if same_engine
                && !read.declared.is_empty()
                && read.logical != LogicalType::Json
                && !crate::data::row_reader::is_mysql_spatial(&read.declared) =>
            {
                read.declared.clone()
            }
            None => read.logical.ddl(target_driver),
        };
        definitions.push(ColumnDefinition {
            name: name.clone(),
            ddl,
            nullable: read.nullable || computed,
        });
        outputs.push(Output {
            name,
            input: Input::Source(index),
            default: item
                .rule
                .and_then(|rule| rule.default.as_ref())
                .map(json_value),
            policy: item
                .rule
                .and_then(|rule| rule.on_lossy)
                .unwrap_or(spec.on_lossy),
        });
    }
    // Source columns replaced by a constant keep their place among the new columns.
    let constants_of_source: Vec<(String, &ColumnRule)> = base_columns
        .iter()
        .filter_map(|column| {
            spec.columns
                .get(&format!("{table_name}.{}", column.name))
                .or_else(|| spec.columns.get(&column.name))
                .filter(|rule| rule.value.is_some() && !rule.drop)
                .map(|rule| (column.name.clone(), rule))
        })
        .collect();
    let mut read_position = selected.len();
    for (name, rule) in constants_of_source.iter().chain(new_columns.iter()) {
        let target_name = rule.rename.clone().unwrap_or_else(|| name.clone());
        let (input, logical, nullable) = match (&rule.value, &rule.expression) {
            (Some(value), _) => {
                let value = json_value(value);
                let logical = constant_type(&value);
                (Input::Constant(value), logical, true)
            }
            (None, Some(_)) => {
                let read = &read_columns[read_position];
                read_position += 1;
                (Input::Source(read_position - 1), read.logical.clone(), true)
            }
            (None, None) => continue,
        };
        definitions.push(ColumnDefinition {
            name: target_name.clone(),
            ddl: rule
                .target_type
                .clone()
                .unwrap_or_else(|| logical.ddl(target_driver)),
            nullable,
        });
        outputs.push(Output {
            name: target_name,
            input,
            default: rule.default.as_ref().map(json_value),
            policy: rule.on_lossy.unwrap_or(spec.on_lossy),
        });
    }

    let target = target_name(spec, &table_name);
    let renamed = |columns: &[String]| -> Option<Vec<String>> {
        columns
            .iter()
            .map(|column| {
                name_changes
                    .iter()
                    .find(|(from, _)| from == column)
                    .map(|(_, to)| to.clone())
            })
            .collect()
    };
    let primary_key = if spec.to.mode == TransformMode::Upsert {
        spec.to.key.clone()
    } else {
        catalog
            .as_ref()
            .and_then(|schema| renamed(&schema.primary_key))
            .unwrap_or_default()
    };
    let indexes = catalog
        .as_ref()
        .map(|schema| target_indexes(schema, &renamed, target_driver, &target))
        .unwrap_or_default();
    if target_driver == Driver::MySql && !same_engine {
        bound_key_columns(&mut definitions, &primary_key, &indexes);
    }
    let row_estimate = match &catalog {
        Some(schema) if schema.row_estimate.is_some() => schema.row_estimate,
        // SQLite has no statistics: its count is exact, and quick next to the copy.
        Some(schema) if source_driver == Driver::Sqlite => {
            Some(count_rows(source, &schema.name).await?)
        }
        _ => None,
    };
    let key_is_unique = catalog
        .as_ref()
        .is_some_and(|schema| !key_names.is_empty() && is_unique(schema, &key_names));
    let key_nullable = key_names.iter().any(|name| {
        read_columns
            .iter()
            .find(|column| &column.name == name)
            .is_some_and(|column| column.nullable)
    });
    let read_key = key_names
        .iter()
        .filter_map(|name| read_columns.iter().position(|column| &column.name == name))
        .collect();
    Ok(TablePlan {
        label: label.to_owned(),
        relation,
        read_columns,
        read_key,
        key_is_unique,
        key_nullable,
        outputs,
        target,
        definition: TableDefinition {
            columns: definitions,
            primary_key,
            indexes,
            mysql_collation: (target_driver == Driver::MySql && !same_engine)
                .then(|| "utf8mb4_bin".to_owned()),
        },
        row_estimate,
    })
}

/// Whether `columns` identify a row of `schema`: its primary key or a unique index, in any
/// order.
fn is_unique(schema: &TableSchema, columns: &[String]) -> bool {
    let sorted = |list: &[String]| {
        let mut list = list.to_vec();
        list.sort();
        list
    };
    let wanted = sorted(columns);
    (!schema.primary_key.is_empty() && sorted(&schema.primary_key) == wanted)
        || schema
            .indexes
            .iter()
            .any(|index| index.unique && sorted(&index.columns) == wanted)
}

/// The source columns written to `targets` (through their renames), if all are plain source
/// columns.
fn source_names_of(
    spec: &TransformSpec,
    table: &str,
    columns: &[Column],
    targets: &[String],
) -> Option<Vec<String>> {
    targets
        .iter()
        .map(|target| {
            columns
                .iter()
                .find(|column| {
                    let rule = spec
                        .columns
                        .get(&format!("{table}.{}", column.name))
                        .or_else(|| spec.columns.get(&column.name));
                    let written_as = rule
                        .and_then(|rule| rule.rename.as_deref())
                        .unwrap_or(&column.name);
                    written_as == target && !rule.is_some_and(ColumnRule::is_computed)
                })
                .map(|column| column.name.clone())
        })
        .collect()
}

/// The source's secondary indexes whose columns are all written, named for the target.
fn target_indexes(
    schema: &TableSchema,
    renamed: &dyn Fn(&[String]) -> Option<Vec<String>>,
    target_driver: Driver,
    target: &str,
) -> Vec<IndexSpec> {
    schema
        .indexes
        .iter()
        .filter_map(|index| {
            let columns = renamed(&index.columns)?;
            Some(IndexSpec {
                name: index_name(target_driver, target, &index.name),
                unique: index.unique,
                columns,
            })
        })
        .collect()
}

/// MySQL cannot index `TEXT` or `BLOB` without a prefix length, and an index entry holds at
/// most 3072 bytes (768 characters of `utf8mb4`): text and binary key columns get a length
/// that fits, 768 alone in their keys, 255 in keys of several columns. A longer value is then
/// lossy.
fn bound_key_columns(
    definitions: &mut [ColumnDefinition],
    primary_key: &[String],
    indexes: &[IndexSpec],
) {
    let keys = std::iter::once(primary_key).chain(indexes.iter().map(|index| &index.columns[..]));
    let mut widest: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for key in keys.filter(|key| !key.is_empty()) {
        for column in key {
            let entry = widest.entry(column.as_str()).or_default();
            *entry = (*entry).max(key.len());
        }
    }
    for definition in definitions.iter_mut() {
        let Some(columns) = widest.get(definition.name.as_str()) else {
            continue;
        };
        let limit: u32 = if *columns == 1 { 768 } else { 255 };
        let (kind, length) = match LogicalType::parse(Driver::MySql, &definition.ddl) {
            LogicalType::Text { max_length } => ("VARCHAR", max_length),
            LogicalType::Binary { max_length } => ("VARBINARY", max_length),
            _ => continue,
        };
        if length.is_none_or(|length| length > limit) {
            definition.ddl = format!("{kind}({limit})");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_matches("*", "daily_bars"));
        assert!(glob_matches("daily_*", "daily_bars"));
        assert!(!glob_matches("daily_*", "weekly_bars"));
        assert!(glob_matches("bar?", "bars"));
        assert!(
            !glob_matches("bar", "bars"),
            "a pattern matches the whole name"
        );
        assert!(glob_matches("*_tmp", "x_tmp"));
        assert!(!glob_matches("*_tmp", "x_tmpx"));
    }

    #[test]
    fn pipewrights_own_tables_are_never_copied_by_patterns() {
        assert!(is_own_table("bars__pw_staging"));
        assert!(is_own_table("bars__pw_backup_20260101000000"));
        assert!(is_own_table("bars__pw_backing_up"));
        assert!(is_own_table("pipewright_transform_checkpoints"));
        assert!(!is_own_table("bars"));
    }
}

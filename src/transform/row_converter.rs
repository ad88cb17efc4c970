//! Turning a source row into the row the target gets: constants and defaults filled in,
//! every value converted to its column's type, lossy values handled by their policy.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::data::{LogicalType, Row, Value};
use crate::pipeline::{Driver, LossyPolicy};
use crate::transform::TransformError;
use crate::transform::coerce::{coerce, shorten};
use crate::transform::table_plan::{Input, TablePlan};

/// How many values of a column a policy changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LossyCount {
    pub column: String,
    pub policy: LossyPolicy,
    pub values: u64,
}

/// Converts the rows of one table.
#[derive(Debug, Clone)]
pub(crate) struct RowConverter {
    table: String,
    inputs: Vec<Input>,
    defaults: Vec<Option<Value>>,
    policies: Vec<LossyPolicy>,
    names: Vec<String>,
    types: Vec<LogicalType>,
    nullable: Vec<bool>,
    driver: Driver,
    key: Vec<(String, usize)>,
    changed: BTreeMap<(usize, LossyPolicy), u64>,
}

impl RowConverter {
    /// For `plan`'s outputs, written to columns of `types` (`nullable`) on `driver`.
    pub(crate) fn new(
        plan: &TablePlan,
        types: Vec<LogicalType>,
        nullable: Vec<bool>,
        driver: Driver,
    ) -> Self {
        Self {
            table: plan.target.clone(),
            inputs: plan
                .outputs
                .iter()
                .map(|output| output.input.clone())
                .collect(),
            defaults: plan
                .outputs
                .iter()
                .map(|output| output.default.clone())
                .collect(),
            policies: plan.outputs.iter().map(|output| output.policy).collect(),
            names: plan.output_names(),
            types,
            nullable,
            driver,
            key: plan
                .read_key
                .iter()
                .map(|&index| (plan.read_columns[index].name.clone(), index))
                .collect(),
            changed: BTreeMap::new(),
        }
    }

    /// The row as the target gets it. `number` (1-based) names the row in errors when the
    /// source has no key.
    pub(crate) fn convert(&mut self, row: Row, number: u64) -> Result<Row, TransformError> {
        let mut converted = Vec::with_capacity(self.inputs.len());
        self.convert_into(row, number, &mut converted)?;
        Ok(converted)
    }

    /// [`convert`](Self::convert) into `converted`, whose values are replaced: one row
    /// reused for a whole load where each row is encoded as soon as it is converted.
    pub(crate) fn convert_into(
        &mut self,
        mut row: Row,
        number: u64,
        converted: &mut Row,
    ) -> Result<(), TransformError> {
        converted.clear();
        for (index, input) in self.inputs.iter().enumerate() {
            let value = match input {
                // Key columns stay in the source row: errors and checkpoints name them.
                Input::Source(position) if self.key.iter().any(|(_, key)| key == position) => {
                    row[*position].clone()
                }
                Input::Source(position) => std::mem::replace(&mut row[*position], Value::Null),
                Input::Constant(value) => value.clone(),
            };
            let value = match (&value, &self.defaults[index]) {
                (Value::Null, Some(default)) => default.clone(),
                _ => value,
            };
            let value = match coerce(value, &self.types[index], self.driver) {
                Ok(value) => value,
                Err(lossy) => {
                    let policy = self.policies[index];
                    let fallback = match policy {
                        LossyPolicy::Error => None,
                        LossyPolicy::Null if self.nullable[index] => Some(Value::Null),
                        LossyPolicy::Null => {
                            return Err(self.lossy_error(
                                index,
                                &row,
                                number,
                                format!(
                                    "{}; the column is NOT NULL, so `null` cannot replace it",
                                    lossy.reason
                                ),
                                policy,
                            ));
                        }
                        LossyPolicy::Clamp => match lossy.nearest {
                            Some(nearest) => Some(nearest),
                            None => {
                                return Err(self.lossy_error(
                                    index,
                                    &row,
                                    number,
                                    format!(
                                        "{}, and there is no nearest value to clamp it to",
                                        lossy.reason
                                    ),
                                    policy,
                                ));
                            }
                        },
                    };
                    match fallback {
                        Some(value) => {
                            *self.changed.entry((index, policy)).or_default() += 1;
                            value
                        }
                        None => {
                            return Err(self.lossy_error(
                                index,
                                &row,
                                number,
                                lossy.reason,
                                policy,
                            ));
                        }
                    }
                }
            };
            converted.push(value);
        }
        Ok(())
    }

    fn lossy_error(
        &self,
        index: usize,
        row: &Row,
        number: u64,
        reason: String,
        policy: LossyPolicy,
    ) -> TransformError {
        TransformError::Lossy {
            table: self.table.clone(),
            column: self.names[index].clone(),
            key: self
                .describe_key(row)
                .unwrap_or_else(|| format!("row {number}")),
            reason,
            policy: policy.name(),
        }
    }

    /// `id = 42, day = 2025-01-02`, from the source row.
    fn describe_key(&self, row: &Row) -> Option<String> {
        if self.key.is_empty() {
            return None;
        }
        Some(
            self.key
                .iter()
                .map(|(name, index)| {
                    format!(
                        "{name} = {}",
                        row[*index]
                            .canonical()
                            .map_or_else(|| "NULL".to_owned(), |text| shorten(&text))
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// Whether a key column of a source row is NULL.
    pub(crate) fn has_null_key(&self, row: &Row) -> bool {
        self.key.iter().any(|(_, index)| row[*index].is_null())
    }

    /// The canonical text of the key of a source row: a checkpoint.
    pub(crate) fn key_of(&self, row: &Row) -> Vec<String> {
        self.key
            .iter()
            .map(|(_, index)| row[*index].canonical().unwrap_or_default())
            .collect()
    }

    /// What the policies changed, per column.
    pub(crate) fn lossy_counts(&self) -> Vec<LossyCount> {
        self.changed
            .iter()
            .map(|((index, policy), values)| LossyCount {
                column: self.names[*index].clone(),
                policy: *policy,
                values: *values,
            })
            .collect()
    }

    /// Adds another converter's counts (a parallel range) to this one's.
    pub(crate) fn absorb(&mut self, other: &Self) {
        for (key, values) in &other.changed {
            *self.changed.entry(*key).or_default() += values;
        }
    }
}

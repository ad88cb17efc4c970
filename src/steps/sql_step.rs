//! The `sql` step: statements run on a connection, in one transaction by default.

use crate::db::DbError;
use crate::pipeline::SqlSpec;
use crate::steps::{StepContext, StepError, StepOutput};

/// Runs a `sql` step; the rows its statements affected are the step's rows.
pub async fn run_sql(spec: &SqlSpec, context: &StepContext) -> Result<StepOutput, StepError> {
    let driver = context.connections.spec(&spec.connection).driver;
    let statements = spec
        .statements(driver)
        .map_err(|source| StepError::ReadFile {
            path: spec.source.describe(),
            source,
        })?;
    if statements.is_empty() {
        return Err(StepError::NoStatements {
            origin: spec.source.describe(),
        });
    }
    let database = context.database(&spec.connection).await?;
    tracing::debug!(
        connection = %spec.connection,
        statements = statements.len(),
        transaction = spec.transaction,
        "running SQL"
    );
    match database
        .run_statements(&statements, spec.transaction, &context.cancel)
        .await
    {
        Ok(rows) => Ok(StepOutput {
            rows: Some(rows),
            ..StepOutput::default()
        }),
        Err(DbError::Cancelled) => Err(StepError::Cancelled {
            output_tail: Vec::new(),
        }),
        Err(error) => Err(StepError::Database(error)),
    }
}

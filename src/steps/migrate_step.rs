//! The `migrate` step: the migration engine's `up`, with each file reported as it goes.

use crate::migrate::{AppliedFile, MigrateError, MigrateProgress, Migrator};
use crate::pipeline::MigrateSpec;
use crate::steps::{StepContext, StepError, StepOutput};

/// Reports each file as a line of the step's output and as progress in files.
struct StepProgress<'a> {
    context: &'a StepContext,
}

impl StepProgress<'_> {
    fn line(&self, text: String) {
        self.context.output_line(text);
    }
}

impl MigrateProgress for StepProgress<'_> {
    fn file_started(&self, _file: &str, index: usize, total: usize) {
        self.context
            .progress(index as u64, Some(total as u64), "files");
    }

    fn file_applied_elsewhere(&self, file: &str) {
        self.line(format!(
            "skipped {file}: another process applied it meanwhile"
        ));
    }

    fn file_done(&self, applied: &AppliedFile) {
        let resumed = if applied.resumed_from > 0 {
            format!(", resumed after statement {}", applied.resumed_from)
        } else {
            String::new()
        };
        let plural = if applied.statements == 1 { "" } else { "s" };
        self.line(format!(
            "applied {} ({} statement{plural}{resumed}, {}ms)",
            applied.file, applied.statements, applied.duration_ms
        ));
    }
}

/// Applies the pending migrations of a `migrate` step.
pub async fn run_migrate(
    spec: &MigrateSpec,
    context: &StepContext,
) -> Result<StepOutput, StepError> {
    let database = context.database(&spec.connection).await?;
    let migrator = Migrator::new(&database, spec.options()).map_err(StepError::Migrate)?;
    let progress = StepProgress { context };
    match migrator.up(&context.cancel, &progress).await {
        Ok(applied) => {
            if applied.is_empty() {
                let count = migrator.files().len();
                progress.line(format!(
                    "up to date: {count} {} applied",
                    if count == 1 {
                        "migration"
                    } else {
                        "migrations"
                    }
                ));
            }
            Ok(StepOutput {
                rows: None,
                output_tail: applied
                    .iter()
                    .map(|file| format!("applied {}", file.file))
                    .collect(),
                details: None,
            })
        }
        Err(MigrateError::Cancelled { .. }) => Err(StepError::Cancelled {
            output_tail: Vec::new(),
        }),
        Err(error) => Err(StepError::Migrate(error)),
    }
}

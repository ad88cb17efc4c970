//! From `ManifestArgs` to a validated pipeline and its graph: variables, env files, loading.

use std::path::Path;

use crate::cli::CliError;
use crate::cli::arguments::{ManifestArgs, SelectionArgs};
use crate::graph::StepGraph;
use crate::manifest::{Variables, is_variable_name, load_pipeline, parse_env_file};
use crate::pipeline::Pipeline;
use crate::plan::{Selection, Selector};
use crate::secrets::{is_secret_name, register_secret};

/// A loaded manifest, ready to plan.
#[derive(Debug)]
pub(crate) struct LoadedManifest {
    pub(crate) pipeline: Pipeline,
    pub(crate) graph: StepGraph,
}

/// Loads and analyzes the manifest named on the command line.
pub(crate) fn load_manifest(arguments: &ManifestArgs) -> Result<LoadedManifest, CliError> {
    let variables = variables(arguments)?;
    let pipeline = load_pipeline(&arguments.manifest, &variables)?;
    let graph = StepGraph::new(&pipeline);
    Ok(LoadedManifest { pipeline, graph })
}

/// `--var`, the environment and `--env-file`s. Values of variables whose name says they are
/// secret are registered for redaction.
fn variables(arguments: &ManifestArgs) -> Result<Variables, CliError> {
    let mut command_line = Vec::with_capacity(arguments.vars.len());
    for pair in &arguments.vars {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(CliError::Usage(format!(
                "`--var {pair}` is not `KEY=VALUE`"
            )));
        };
        if !is_variable_name(name) {
            return Err(CliError::Usage(format!(
                "`--var {pair}`: `{name}` is not a variable name (letters, digits and `_`, not starting with a digit)"
            )));
        }
        command_line.push((name.to_owned(), value.to_owned()));
    }
    let environment: Vec<(String, String)> = std::env::vars().collect();
    let mut builder = Variables::builder();
    for path in &arguments.env_file {
        builder = builder.env_file(read_env_file(path)?);
    }
    for (name, value) in command_line.iter().chain(&environment) {
        if is_secret_name(name) {
            register_secret(value);
        }
    }
    Ok(builder
        .command_line(command_line)
        .environment(environment)
        .build())
}

fn read_env_file(path: &Path) -> Result<Vec<(String, String)>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        CliError::Usage(format!(
            "cannot read env file `{}`: {error}",
            path.display()
        ))
    })?;
    let entries =
        parse_env_file(path, &text).map_err(|error| CliError::Usage(error.to_string()))?;
    for (name, value) in &entries {
        if is_secret_name(name) {
            register_secret(value);
        }
    }
    Ok(entries)
}

/// Parses `--select` and `--exclude`.
pub(crate) fn selection(arguments: &SelectionArgs) -> Result<Selection, CliError> {
    let parse = |values: &[String]| -> Result<Vec<Selector>, CliError> {
        let mut selectors = Vec::new();
        for value in values {
            selectors.extend(
                Selector::parse_list(value).map_err(|error| CliError::Usage(error.to_string()))?,
            );
        }
        Ok(selectors)
    };
    Ok(Selection {
        select: parse(&arguments.select)?,
        exclude: parse(&arguments.exclude)?,
    })
}

//! `pipewright diff`: two manifests, or one and its version at a git revision, compared by
//! what they mean.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::CliError;
use crate::cli::arguments::{DiffArgs, DiffFormat, ManifestArgs};
use crate::cli::manifest_input::{LoadedManifest, load_manifest};
use crate::exit_code::ExitCode;

/// A directory removed when dropped: the revision `--base` names, extracted.
struct ScratchDirectory(PathBuf);

impl Drop for ScratchDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn diff_command(arguments: &DiffArgs) -> Result<ExitCode, CliError> {
    let load = |path: &Path| {
        load_manifest(&ManifestArgs {
            manifest: path.to_path_buf(),
            vars: arguments.vars.clone(),
            env_file: arguments.env_file.clone(),
        })
    };
    let (old, new, _scratch): (LoadedManifest, LoadedManifest, Option<ScratchDirectory>) =
        match (&arguments.base, arguments.manifests.as_slice()) {
            (None, [old, new]) => (load(old)?, load(new)?, None),
            (Some(revision), [new]) => {
                let (scratch, old) = manifest_at_revision(new, revision)?;
                (load(&old)?, load(new)?, Some(scratch))
            }
            (None, _) => {
                return Err(CliError::Usage(
                    "name two manifests, `OLD NEW`, or one with `--base GIT_REV`".to_owned(),
                ));
            }
            (Some(_), _) => {
                return Err(CliError::Usage(
                    "with `--base`, name one manifest: its version at the revision is the old one"
                        .to_owned(),
                ));
            }
        };
    let diff = crate::review::diff_pipelines(&old.pipeline, &old.graph, &new.pipeline, &new.graph);
    let text = match arguments.format {
        DiffFormat::Text => crate::review::render_text(&diff),
        DiffFormat::Markdown => crate::review::render_markdown(&diff, &new.pipeline, &new.graph),
        DiffFormat::Json => crate::review::render_json(&diff),
    };
    crate::cli::dispatch::print_stdout(&text);
    Ok(ExitCode::Success)
}

/// Extracts `revision` of the repository holding `manifest` into a scratch directory (so that
/// the files the old version references are those of the revision) and returns the
/// manifest's path in it.
fn manifest_at_revision(
    manifest: &Path,
    revision: &str,
) -> Result<(ScratchDirectory, PathBuf), CliError> {
    let absolute = std::fs::canonicalize(manifest).map_err(|source| CliError::ReadFile {
        path: manifest.display().to_string(),
        source,
    })?;
    let directory = absolute.parent().unwrap_or(Path::new("/"));
    let root = git(directory, &["rev-parse", "--show-toplevel"])?;
    let root = std::fs::canonicalize(root.trim()).map_err(|source| CliError::ReadFile {
        path: root.trim().to_owned(),
        source,
    })?;
    let relative = absolute.strip_prefix(&root).map_err(|_| {
        CliError::Usage(format!(
            "`{}` is not inside the git repository at `{}`",
            manifest.display(),
            root.display()
        ))
    })?;
    let scratch = ScratchDirectory(std::env::temp_dir().join(format!(
        "pipewright-diff-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )));
    std::fs::create_dir_all(&scratch.0).map_err(|source| CliError::WriteFile {
        path: scratch.0.display().to_string(),
        source,
    })?;
    let archive = scratch.0.join("revision.tar");
    git(
        &root,
        &[
            "archive",
            "--format=tar",
            "-o",
            &archive.display().to_string(),
            revision,
        ],
    )?;
    let extracted = Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&scratch.0)
        .status()
        .map_err(|error| CliError::Usage(format!("cannot run `tar`: {error}")))?;
    if !extracted.success() {
        return Err(CliError::Usage(format!(
            "cannot extract revision `{revision}` (tar {extracted})"
        )));
    }
    let old = scratch.0.join(relative);
    if !old.is_file() {
        return Err(CliError::Usage(format!(
            "`{}` does not exist at revision `{revision}`",
            relative.display()
        )));
    }
    Ok((scratch, old))
}

/// Runs git in `directory`; its stdout, or its stderr as the error.
fn git(directory: &Path, arguments: &[&str]) -> Result<String, CliError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(directory)
        .args(arguments)
        .output()
        .map_err(|error| CliError::Usage(format!("cannot run `git`: {error}")))?;
    if !output.status.success() {
        return Err(CliError::Usage(format!(
            "`git {}` failed: {}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

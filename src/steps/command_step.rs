//! The `command` step: a program or shell script in its own process group, its output logged,
//! and the whole group killed on timeout or cancellation.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::Child;

use crate::pipeline::CommandSpec;
use crate::run::{OutputStream, RunEvent};
use crate::secrets::redact;
use crate::steps::{StepContext, StepError, StepOutput};

/// How long a process group gets between SIGTERM and SIGKILL.
pub const TERMINATION_GRACE: Duration = Duration::from_secs(5);
/// Lines kept for error messages and reports.
const TAIL_LINES: usize = 20;
/// Longer lines are cut, so that output without newlines cannot exhaust memory.
const MAX_LINE_BYTES: usize = 16 * 1024;

type Tail = Arc<Mutex<VecDeque<String>>>;

/// Process groups of the command steps now running, for [`kill_running_commands`].
static RUNNING_GROUPS: Mutex<Vec<Pid>> = Mutex::new(Vec::new());

/// Kills every command step's process group at once: for a second Ctrl-C, when pipewright
/// exits without waiting for steps to stop.
pub fn kill_running_commands() {
    let groups = RUNNING_GROUPS
        .lock()
        .map(|groups| groups.clone())
        .unwrap_or_default();
    for group in groups {
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// Keeps a process group in [`RUNNING_GROUPS`] while the step runs.
struct GroupRegistration(Option<Pid>);

impl GroupRegistration {
    fn new(group: Option<Pid>) -> Self {
        if let (Some(group), Ok(mut groups)) = (group, RUNNING_GROUPS.lock()) {
            groups.push(group);
        }
        Self(group)
    }
}

impl Drop for GroupRegistration {
    fn drop(&mut self) {
        if let (Some(group), Ok(mut groups)) = (self.0, RUNNING_GROUPS.lock()) {
            groups.retain(|known| *known != group);
        }
    }
}

/// Runs a `command` step to completion, or until its context is cancelled.
pub async fn run_command(
    spec: &CommandSpec,
    context: &StepContext,
) -> Result<StepOutput, StepError> {
    let argv = spec.program.argv();
    let program = argv[0].clone();
    let mut command = tokio::process::Command::new(&program);
    command
        .args(&argv[1..])
        .current_dir(&spec.workdir)
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .env("PIPEWRIGHT_RUN_ID", context.run_id.to_string())
        .env("PIPEWRIGHT_STEP_ID", context.step_id.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: the terminal's Ctrl-C does not reach it directly, and a
        // timeout can stop every process it started.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| StepError::Spawn {
        program: program.clone(),
        source,
    })?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let _registration = GroupRegistration::new(group);
    tracing::debug!(step = %context.step_id, pid = group.map(Pid::as_raw), "started `{}`", redact(&spec.program.display_line()));

    let tail: Tail = Arc::default();
    let readers = [
        child
            .stdout
            .take()
            .map(|pipe| read_lines(pipe, OutputStream::Stdout, context, &tail)),
        child
            .stderr
            .take()
            .map(|pipe| read_lines(pipe, OutputStream::Stderr, context, &tail)),
    ];

    let status = tokio::select! {
        status = child.wait() => status.map_err(StepError::Io),
        () = context.cancel.cancelled() => {
            stop_group(group, &mut child).await;
            Err(StepError::Cancelled { output_tail: Vec::new() })
        }
    };
    // Processes of the group that outlive its leader would hold the pipes open and keep
    // running unaccounted for: a step's processes do not outlive the step.
    signal_group(group, Signal::SIGKILL);
    for reader in readers.into_iter().flatten() {
        let _ = reader.await;
    }
    let output_tail: Vec<String> = tail
        .lock()
        .map(|lines| lines.iter().cloned().collect())
        .unwrap_or_default();
    let status = status.map_err(|error| error.with_output_tail(output_tail.clone()))?;
    if status.success() {
        Ok(StepOutput {
            rows: None,
            output_tail,
            details: None,
        })
    } else {
        Err(StepError::Exited {
            program,
            status: describe_status(status),
            output_tail,
        })
    }
}

/// SIGTERM to the group, then SIGKILL if the leader has not exited after the grace period.
async fn stop_group(group: Option<Pid>, child: &mut Child) {
    signal_group(group, Signal::SIGTERM);
    if tokio::time::timeout(TERMINATION_GRACE, child.wait())
        .await
        .is_err()
    {
        signal_group(group, Signal::SIGKILL);
        let _ = child.wait().await;
    }
}

fn signal_group(group: Option<Pid>, signal: Signal) {
    if let Some(group) = group {
        // ESRCH means the group is already gone, which is the goal.
        let _ = killpg(group, signal);
    }
}

fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(name) => format!("was killed by signal {signal} ({name})"),
            Err(_) => format!("was killed by signal {signal}"),
        },
        (None, None) => "ended without a status".to_owned(),
    }
}

/// Reads a pipe line by line into the log and the tail, in a task of its own.
fn read_lines(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    stream: OutputStream,
    context: &StepContext,
    tail: &Tail,
) -> tokio::task::JoinHandle<()> {
    let context = context.clone();
    let tail = Arc::clone(tail);
    // The reader runs in a task of its own: it keeps the step's span, so its records carry
    // the run and step ids.
    let span = tracing::Span::current();
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            let mut reader = BufReader::new(pipe);
            let mut line: Vec<u8> = Vec::new();
            loop {
                let buffer = match reader.fill_buf().await {
                    Ok([]) | Err(_) => break,
                    Ok(buffer) => buffer,
                };
                let (chunk, complete) = match buffer.iter().position(|byte| *byte == b'\n') {
                    Some(end) => (&buffer[..end], true),
                    None => (buffer, false),
                };
                let room = MAX_LINE_BYTES.saturating_sub(line.len());
                line.extend_from_slice(&chunk[..chunk.len().min(room)]);
                let consumed = chunk.len() + usize::from(complete);
                reader.consume(consumed);
                if complete {
                    emit(&context, stream, &line, &tail);
                    line.clear();
                }
            }
            if !line.is_empty() {
                emit(&context, stream, &line, &tail);
            }
        },
        span,
    ))
}

/// A line of output goes to the log (for the files), to the reporters (for people) and to the
/// tail (for failure messages).
fn emit(context: &StepContext, stream: OutputStream, line: &[u8], tail: &Tail) {
    let text = String::from_utf8_lossy(line);
    let text = redact(text.trim_end_matches('\r')).into_owned();
    tracing::debug!(target: crate::logging::EVENTS_TARGET, step = %context.step_id, stream = stream.name(), "{text}");
    let _ = context.events.send(RunEvent::StepOutput {
        id: context.step_id.clone(),
        stream,
        line: text.clone(),
    });
    if let Ok(mut lines) = tail.lock() {
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(text);
    }
}

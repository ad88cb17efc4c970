//! The command line: arguments, commands and how errors end the process.

pub mod arguments;
mod backup_command;
mod cli_error;
mod diff_command;
mod dispatch;
mod history_command;
mod manifest_input;
mod migrate_command;
mod run_command;

pub use arguments::Arguments;
pub use cli_error::CliError;
pub use dispatch::main;
pub use run_command::{bench_command, run_command};

//! A validated `command` step: what to execute and where.

use std::path::PathBuf;

use serde::Serialize;

/// How the command is started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandProgram {
    /// `run = ["program", "arg", ...]`: executed directly, no shell.
    Argv(Vec<String>),
    /// `shell = "..."`: executed by `sh -c`.
    Shell(String),
}

impl CommandProgram {
    /// The program and arguments handed to the operating system.
    pub fn argv(&self) -> Vec<String> {
        match self {
            Self::Argv(argv) => argv.clone(),
            Self::Shell(script) => vec!["sh".to_owned(), "-c".to_owned(), script.clone()],
        }
    }

    /// A one-line description for plans and progress output.
    pub fn display_line(&self) -> String {
        match self {
            Self::Argv(argv) => argv
                .iter()
                .map(|argument| shell_quote(argument))
                .collect::<Vec<_>>()
                .join(" "),
            Self::Shell(script) => {
                let script = script.trim();
                let lines = script.lines().count();
                let first = script.lines().next().unwrap_or_default();
                if lines > 1 {
                    let shown = shell_quote(&format!("{first} …"));
                    format!("sh -c {shown} (script of {lines} lines)")
                } else {
                    format!("sh -c {}", shell_quote(first))
                }
            }
        }
    }
}

/// Quotes an argument the way a POSIX shell would need it, for display only.
fn shell_quote(argument: &str) -> String {
    let plain = !argument.is_empty()
        && argument
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_./=:,@%+".contains(character));
    if plain {
        argument.to_owned()
    } else {
        format!("'{}'", argument.replace('\'', r"'\''"))
    }
}

/// A `command` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandSpec {
    pub program: CommandProgram,
    /// Variables added to pipewright's own environment, in manifest order.
    pub env: Vec<(String, String)>,
    /// Absolute or relative to the current directory; the manifest's directory by default.
    pub workdir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let program = CommandProgram::Argv(vec![
            "echo".into(),
            "a b".into(),
            "it's".into(),
            "x=1".into(),
        ]);
        assert_eq!(program.display_line(), r"echo 'a b' 'it'\''s' x=1");
        let shell = CommandProgram::Shell("wc -l src/*.rs".into());
        assert_eq!(shell.display_line(), "sh -c 'wc -l src/*.rs'");
        assert_eq!(shell.argv(), ["sh", "-c", "wc -l src/*.rs"]);
        let script = CommandProgram::Shell("set -e\nmake\nmake test\n".into());
        assert_eq!(
            script.display_line(),
            "sh -c 'set -e …' (script of 3 lines)"
        );
    }
}

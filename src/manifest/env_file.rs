//! `--env-file`: `NAME=value` lines, as written for docker and dotenv.

use std::path::Path;

/// A line of an env file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct EnvFileError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// Parses env-file text: blank lines and `#` comments are skipped, `export ` is allowed,
/// values may be bare (trailing ` #comment` removed), `'single-quoted'` (literal) or
/// `"double-quoted"` (with `\n`, `\t`, `\"`, `\\` escapes).
pub fn parse_env_file(path: &Path, text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let error = |message: &str| EnvFileError {
            path: path.display().to_string(),
            line: index + 1,
            message: message.to_owned(),
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            return Err(error("expected `NAME=value`"));
        };
        let name = name.trim();
        if !crate::manifest::interpolation::is_variable_name(name) {
            return Err(error(&format!(
                "`{name}` is not a variable name (letters, digits and `_`, not starting with a digit)"
            )));
        }
        let value = parse_value(value.trim()).map_err(error)?;
        entries.push((name.to_owned(), value));
    }
    Ok(entries)
}

fn parse_value(value: &str) -> Result<String, &'static str> {
    if let Some(inner) = value.strip_prefix('\'') {
        let end = inner.find('\'').ok_or("unterminated single quote")?;
        return Ok(inner[..end].to_owned());
    }
    if let Some(inner) = value.strip_prefix('"') {
        let mut output = String::new();
        let mut characters = inner.chars();
        while let Some(character) = characters.next() {
            match character {
                '"' => return Ok(output),
                '\\' => match characters.next() {
                    Some('n') => output.push('\n'),
                    Some('t') => output.push('\t'),
                    Some('r') => output.push('\r'),
                    Some(other) => output.push(other),
                    None => break,
                },
                other => output.push(other),
            }
        }
        return Err("unterminated double quote");
    }
    let bare = match value.find(" #") {
        Some(position) => &value[..position],
        None => value,
    };
    Ok(bare.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_common_forms() {
        let text = "# comment\n\nA=1\nexport B = two words # note\nC='lit ${X} \\n'\nD=\"a\\nb \\\"q\\\"\"\nE=\n";
        let entries = parse_env_file(Path::new(".env"), text).unwrap();
        let expected = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "lit ${X} \\n"),
            ("D", "a\nb \"q\""),
            ("E", ""),
        ];
        assert_eq!(entries.len(), expected.len());
        for ((name, value), (expected_name, expected_value)) in entries.iter().zip(expected) {
            assert_eq!(
                (name.as_str(), value.as_str()),
                (expected_name, expected_value)
            );
        }
    }

    #[test]
    fn errors_name_the_line() {
        let error = parse_env_file(Path::new("x.env"), "A=1\nnot a pair\n").unwrap_err();
        assert_eq!(error.to_string(), "x.env:2: expected `NAME=value`");
        let error = parse_env_file(Path::new("x.env"), "1A=1\n").unwrap_err();
        assert_eq!(error.line, 1);
        let error = parse_env_file(Path::new("x.env"), "A=\"open\n").unwrap_err();
        assert!(error.message.contains("unterminated"));
    }
}

//! `${NAME}` and `${NAME:-default}` in the manifest values where the docs say they apply.

use crate::manifest::variables::Variables;

/// Why a string could not be interpolated. `offset..offset + length` is the range of the
/// offending `${...}` in the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub offset: usize,
    pub length: usize,
    pub kind: InterpolationErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationErrorKind {
    Unset {
        name: String,
    },
    Unterminated,
    InvalidName {
        name: String,
    },
    /// `${A:-${B}}`: defaults are literal text.
    NestedDefault,
}

/// Replaces every `${NAME}` and `${NAME:-default}` in `text`. `$${` writes a literal `${`; a
/// `$` not followed by `{` is kept as it is, so `$HOME` in a shell script reaches the shell.
pub fn interpolate(text: &str, variables: &Variables) -> Result<String, InterpolationError> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0;
    while let Some(position) = rest.find('$') {
        output.push_str(&rest[..position]);
        let after = &rest[position..];
        if let Some(tail) = after.strip_prefix("$${") {
            output.push_str("${");
            rest = tail;
            consumed += position + 3;
            continue;
        }
        if !after.starts_with("${") {
            output.push('$');
            rest = &after[1..];
            consumed += position + 1;
            continue;
        }
        let offset = consumed + position;
        let Some(close) = after.find('}') else {
            return Err(InterpolationError {
                offset,
                length: after.len(),
                kind: InterpolationErrorKind::Unterminated,
            });
        };
        let body = &after[2..close];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        let error = |kind| InterpolationError {
            offset,
            length: close + 1,
            kind,
        };
        if !is_variable_name(name) {
            return Err(error(InterpolationErrorKind::InvalidName {
                name: name.to_owned(),
            }));
        }
        if default.is_some_and(|default| default.contains("${")) {
            return Err(error(InterpolationErrorKind::NestedDefault));
        }
        // As in a shell, `:-` also replaces a variable that is set but empty.
        match (variables.get(name), default) {
            (Some(value), None) => output.push_str(value),
            (Some(value), Some(_)) if !value.is_empty() => output.push_str(value),
            (_, Some(default)) => output.push_str(default),
            (None, None) => {
                return Err(error(InterpolationErrorKind::Unset {
                    name: name.to_owned(),
                }));
            }
        }
        rest = &after[close + 1..];
        consumed = offset + close + 1;
    }
    output.push_str(rest);
    Ok(output)
}

/// `[A-Za-z_][A-Za-z0-9_]*`, the names a shell accepts too.
pub fn is_variable_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> Variables {
        Variables::builder()
            .command_line([
                ("HOST".to_owned(), "db.local".to_owned()),
                ("EMPTY".to_owned(), String::new()),
            ])
            .build()
    }

    #[test]
    fn replaces_variables_and_defaults() {
        let variables = variables();
        for (input, expected) in [
            ("postgres://${HOST}/x", "postgres://db.local/x"),
            ("${MISSING_VAR_FOR_TEST:-fallback}", "fallback"),
            ("${MISSING_VAR_FOR_TEST:-}", ""),
            ("${HOST:-ignored}", "db.local"),
            ("${EMPTY:-used when empty}", "used when empty"),
            ("[${EMPTY}]", "[]"),
            ("$HOME and $$ stay", "$HOME and $$ stay"),
            ("literal $${HOST}", "literal ${HOST}"),
            ("${HOST}${HOST}", "db.localdb.local"),
            (
                "sqlite://${MISSING_VAR_FOR_TEST:-data/x.db}",
                "sqlite://data/x.db",
            ),
            ("no variables", "no variables"),
            ("trailing $", "trailing $"),
        ] {
            assert_eq!(
                interpolate(input, &variables).as_deref(),
                Ok(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn errors_point_at_the_reference() {
        let variables = variables();
        let error = interpolate("a ${HOST} ${MISSING_VAR_FOR_TEST} b", &variables).unwrap_err();
        assert_eq!((error.offset, error.length), (10, 23));
        assert_eq!(
            error.kind,
            InterpolationErrorKind::Unset {
                name: "MISSING_VAR_FOR_TEST".into()
            }
        );
        let error = interpolate("x ${HOST", &variables).unwrap_err();
        assert_eq!(
            (error.offset, error.kind),
            (2, InterpolationErrorKind::Unterminated)
        );
        let error = interpolate("${1abc}", &variables).unwrap_err();
        assert!(matches!(
            error.kind,
            InterpolationErrorKind::InvalidName { .. }
        ));
        let error = interpolate("${HOST-default}", &variables).unwrap_err();
        assert!(matches!(
            error.kind,
            InterpolationErrorKind::InvalidName { .. }
        ));
        let error = interpolate("${A:-${HOST}}", &variables).unwrap_err();
        assert_eq!(error.kind, InterpolationErrorKind::NestedDefault);
    }
}

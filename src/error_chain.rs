//! Errors as one line with their causes, for reports and progress lines.

/// `error` and each of its sources, joined by `: `, secrets redacted. A source whose message
/// is already part of the previous one (as `#[error(transparent)]` makes it) is not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    crate::secrets::redact(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start `x`")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn joins_causes() {
        let error = Outer(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        assert_eq!(error_chain(&error), "cannot start `x`: no such file");
    }
}

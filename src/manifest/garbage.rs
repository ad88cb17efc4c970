//! What must hold for any input at all, however broken: the checks the fuzz target
//! (`fuzz/fuzz_targets/manifest.rs`) and the reliability suite run on garbage.

use crate::manifest::{ManifestLoadError, SourceFile, Variables, format_manifest, parse_pipeline};

/// Loads and analyzes `bytes` as a manifest, renders its errors, and formats it; panics if an
/// invariant breaks: an error whose span is outside the text or not on a character boundary,
/// an invalid manifest with no error, a formatting that is not idempotent or that `check`
/// would read differently. Any other outcome (a pipeline, or errors) is fine.
pub fn check_manifest_invariants(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let source = SourceFile::new("fuzz.toml", text);
    match parse_pipeline(&source, &Variables::default()) {
        Ok(_) => {}
        Err(ManifestLoadError::Invalid(invalid)) => {
            assert!(
                !invalid.errors.is_empty(),
                "an invalid manifest without an error"
            );
            for error in &invalid.errors {
                let span = error.span();
                assert!(
                    span.start <= span.end && span.end <= text.len(),
                    "{error}: span {span:?} outside a text of {} bytes",
                    text.len()
                );
                assert!(
                    text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                    "{error}: span {span:?} splits a character"
                );
            }
            let rendered = invalid.render(false, 100);
            assert!(!rendered.is_empty(), "errors render as nothing");
        }
        Err(ManifestLoadError::Read { .. }) => unreachable!("nothing is read from disk"),
    }
    if let Ok(formatted) = format_manifest(text) {
        assert_eq!(
            format_manifest(&formatted).ok().as_deref(),
            Some(formatted.as_str()),
            "formatting is not idempotent"
        );
    }
}

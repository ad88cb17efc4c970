//! Manifest loading and analysis on arbitrary bytes: no panic, every error points into the
//! text, formatting is idempotent. Run with `bash fuzz/run.sh` (docs/reliability.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    pipewright::manifest::check_manifest_invariants(bytes);
});

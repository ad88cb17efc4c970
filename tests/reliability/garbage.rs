//! Garbage in: the real manifests of the repository, mutated at random (bytes flipped, cut,
//! repeated, TOML fragments inserted), through loading, analysis, error rendering and `fmt`.
//! Nothing may panic, and every error must point into the text. The fuzz target
//! (`fuzz/`, with cargo-fuzz) checks the same invariants for longer.

use std::path::PathBuf;

use crate::support::{self, Seeded};

/// Pieces of TOML and of pipewright's syntax, inserted to reach deeper than random bytes do.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "=",
    ",",
    "{",
    "}",
    "\n",
    "#",
    ".",
    "${",
    "${X:-",
    "}",
    "\\u00e9",
    "\\",
    "\u{e9}",
    "\u{1F600}",
    "\0",
    "\r\n",
    "\u{feff}",
    "\n[steps.x]\nkind = \"sql\"\n",
    "\nafter = [\"x\"]\n",
    "kind = \"bench\"\n",
    "workload = { kind = \"query\" }",
    "checks = [{ kind = \"range\" }]",
    "1e999",
    "-0",
    "9999999999999999999999",
    "true",
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "0x",
    "_",
];

fn corpus() -> Vec<(String, Vec<u8>)> {
    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&directory)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "toml")
        })
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn count(length: usize) -> u64 {
    u64::try_from(length).unwrap_or(u64::MAX)
}

/// One random change to `bytes`.
fn mutate(bytes: &mut Vec<u8>, random: &mut Seeded) {
    let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    let at = usize::try_from(random.below(length + 1)).unwrap_or(0);
    match random.below(5) {
        0 if !bytes.is_empty() => {
            let position = at.min(bytes.len() - 1);
            bytes[position] ^= u8::try_from(1 + random.below(255)).unwrap_or(1);
        }
        1 if !bytes.is_empty() => {
            let end = (at + usize::try_from(random.below(40)).unwrap_or(0)).min(bytes.len());
            bytes.drain(at.min(end)..end);
        }
        2 if at < bytes.len() => {
            let end = (at + usize::try_from(random.below(200)).unwrap_or(0)).min(bytes.len());
            let copy = bytes[at..end].to_vec();
            bytes.splice(at..at, copy);
        }
        _ => {
            let fragment =
                FRAGMENTS[usize::try_from(random.below(count(FRAGMENTS.len()))).unwrap_or(0)];
            bytes.splice(at..at, fragment.bytes());
        }
    }
}

#[test]
fn mutated_manifests_never_panic_and_every_error_points_into_the_text() {
    let corpus = corpus();
    assert!(corpus.len() >= 4, "the example pipelines are the corpus");
    let iterations = support::seed_count(3_000, 300_000);
    let mut random = Seeded::new(0x5EED);
    for iteration in 0..iterations {
        let (name, original) = &corpus[usize::try_from(iteration % count(corpus.len())).unwrap()];
        let mut bytes = original.clone();
        for _ in 0..=random.below(8) {
            mutate(&mut bytes, &mut random);
        }
        let outcome = std::panic::catch_unwind(|| {
            pipewright::manifest::check_manifest_invariants(&bytes);
        });
        if outcome.is_err() {
            let saved = std::env::temp_dir().join(format!("pipewright-garbage-{iteration}.toml"));
            std::fs::write(&saved, &bytes).unwrap();
            panic!(
                "iteration {iteration} (a mutation of {name}) broke an invariant; the input is in {}",
                saved.display()
            );
        }
    }
}

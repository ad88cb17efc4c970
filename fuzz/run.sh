#!/usr/bin/env bash
# Fuzzes manifest loading, analysis and formatting for a fixed time (default 120 s), starting
# from the real manifests of the repository. cargo-fuzz needs a nightly compiler;
# RUSTC_BOOTSTRAP=1 lets the stable one accept nightly flags, which is how this machine runs it.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-120}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/manifest
for file in ../pipelines/*.toml; do cp "$file" "corpus/manifest/$(basename "$file")"; done
RUSTC_BOOTSTRAP=1 cargo fuzz run manifest corpus/manifest -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1

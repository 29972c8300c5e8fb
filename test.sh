#!/usr/bin/env bash
# The test command (the one CI runs): installs what the tests need when it is
# missing, checks formatting and lints, then runs every test, and under CI
# the fuzz targets for 30 s each (FUZZ_SECONDS=N to run them here). Tests that need
# root build their own network namespaces (bwt-*) and remove them afterwards.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
scripts/install-test-deps
cargo fmt --check
cargo fmt --check --manifest-path fuzz/Cargo.toml
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --all-targets --all-features --quiet -- -D warnings
# With the crash points built in (tests/failpoints.rs arms them).
cargo test --features failpoints
# The fuzz targets, for a bounded time each, under CI (or with FUZZ_SECONDS).
if [ "${CI:-}" = true ] || [ -n "${FUZZ_SECONDS:-}" ]; then
  scripts/fuzz "${FUZZ_SECONDS:-30}"
fi

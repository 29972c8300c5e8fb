#!/usr/bin/env bash
# The test command (the one CI runs): installs what the tests need when it is
# missing, checks formatting and lints, then runs every test. Tests that need
# root build their own network namespaces (bwt-*) and remove them afterwards.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test

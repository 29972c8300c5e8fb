#!/usr/bin/env bash
# The main job: installs what bridgewall needs (when missing), builds it, and
# runs it with your arguments, e.g.
#   ./run.sh plan examples/compose/web.yml
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps
cargo build --release --quiet
exec target/release/bridgewall "$@"

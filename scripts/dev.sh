#!/usr/bin/env bash
# Runs a one-node dev chain (`platon run --dev`): installs clang and libclang-dev first where they are
# missing (scripts/prereqs.sh build), so a fresh Debian machine with only Rust gets a running node.
# Extra arguments go to `platon run`, e.g. `scripts/dev.sh --datadir ./dev-data`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
./scripts/prereqs.sh build
exec cargo run -p platon-node --bin platon -- run --dev "$@"

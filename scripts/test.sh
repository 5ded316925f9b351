#!/usr/bin/env bash
# Runs every test of the workspace: unit, conformance (../shared/conformance), supervision,
# and the end-to-end tests that start the `platon` binary and drive it with web3.py, ethers.js (with
# solc-js) and a differential run against anvil. The npm packages: `npm ci --prefix integration/tests/js`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
cargo nextest run --workspace --no-fail-fast "$@"

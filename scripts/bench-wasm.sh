#!/usr/bin/env bash
# WASM execution speed: our metered wasm3 and wasmi beside wasmi's own fuel metering, the unmetered
# engines and the same loop in Solidity on revm, same run. Needs Node.js and
# `npm ci --prefix integration/tests/js` (solc-js). Argument: iterations (default 2000000).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
cargo test -q -p platon-vm --bench wasm -- "$@"

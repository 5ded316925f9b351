#!/usr/bin/env bash
# Block execution throughput (Mgas/s): our executor on revm beside raw revm, same transactions, same
# pre-state, same run. Needs Node.js and `npm ci --prefix integration/tests/js` (solc-js compiles the
# contracts). Arguments: transfers heavy-calls (default 1000 20). Dev profile: platon-vm and every
# dependency are compiled at opt-level 3.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
cargo test -q -p platon-vm --bench evm -- "$@"

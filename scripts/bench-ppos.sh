#!/usr/bin/env bash
# Per-block end-of-block work and commit time with the staking data in snapshotdb beside the earlier
# trie design, in the same run (101 candidates, 25 seats). Argument: blocks (default 500).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
cargo test -q -p platon-vm --bench ppos_storage -- "$@"

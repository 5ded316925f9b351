#!/usr/bin/env bash
# Runs the benchmarks, each beside its baseline in the same process, and prints the ratios.
# Built in the dev profile, where every crate involved (ours and the baselines) is compiled at
# opt-level 3, so it shares the test build cache. Arguments: leaves accounts (default 100000 10000).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
cargo test -q -p platon-storage --bench storage -- "$@"

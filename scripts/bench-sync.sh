#!/usr/bin/env bash
# Late-node sync benchmark (issue 20): four validators behind two sentries each build a chain of N
# blocks (default 3000; responsive pacing, 20 ms), then a full node joins from genesis, is killed
# once, restarts and catches up. Prints the blocks it replayed after the restart, how long that took,
# and the ratio to the rate the network made them (how many times faster than real time a late
# node catches up). Real processes on loopback; the chain's blocks are empty but for one transfer.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
export PLATON_SYNC_BLOCKS="${1:-3000}"
# cargo test, not nextest: the run is longer than nextest's per-test limit.
cargo test -q -p platon-node --test it -- --exact --nocapture \
  sync::a_late_full_node_catches_up_resumes_after_sigkill_and_serves_the_same_state 2>&1 \
  | grep -E "sync figures|test result|panicked"

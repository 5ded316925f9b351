#!/usr/bin/env bash
# Runs every test of the workspace: unit, conformance (../shared/conformance), supervision,
# and the end-to-end tests that start the `platon` binary and drive it with web3.py, ethers.js (with
# solc-js), a differential run against anvil, a Prometheus server scraping the node and headless Chromium
# driving the admin console.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
# Every prerequisite is installed first (Debian packages as root or through passwordless sudo; otherwise
# the exact command is printed and the script stops before building). PLATON_NO_INSTALL=1 only checks.
./scripts/prereqs.sh test
cargo nextest run --workspace --no-fail-fast "$@"

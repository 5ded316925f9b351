#!/usr/bin/env bash
# Runs every test of the workspace: unit, conformance (../shared/conformance), supervision,
# and the end-to-end tests that start the `platon` binary and drive it with web3.py, ethers.js (with
# solc-js) and a differential run against anvil. The npm packages: `npm ci --prefix integration/tests/js`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
# Preflight: say what is missing before a long build instead of failing tests after it.
# PLATON_SKIP_PREFLIGHT=1 skips it.
if [ -z "${PLATON_SKIP_PREFLIGHT:-}" ]; then
  missing=()
  command -v clang >/dev/null 2>&1 || missing+=("clang and libclang-dev (RocksDB's and wasm3's bindings): apt-get install clang libclang-dev")
  cargo nextest --version >/dev/null 2>&1 || missing+=("cargo-nextest: cargo install --locked cargo-nextest")
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || missing+=("the wasm32 target (example WASM contracts): rustup target add wasm32-unknown-unknown")
  python3 -c 'import web3, eth_account, trie' 2>/dev/null \
    || missing+=("web3.py, eth-account and py-trie (end-to-end tests): python3 -m pip install web3 eth-account trie")
  command -v node >/dev/null 2>&1 || missing+=("Node.js and npm (solc-js, ethers, anvil): apt-get install nodejs npm")
  [ -d integration/tests/js/node_modules ] \
    || missing+=("the npm packages of the client tests: npm ci --prefix integration/tests/js")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "scripts/test.sh: these are needed by the tests and missing:" >&2
    for m in "${missing[@]}"; do echo "  - $m" >&2; done
    echo "On a fresh Debian machine, .ci/run (as root) installs all of them and then runs this script." >&2
    exit 2
  fi
  command -v tshark >/dev/null 2>&1 \
    || echo "scripts/test.sh: tshark not found: the RELOAD frames' independent decoding check will be skipped (apt-get install tshark)" >&2
fi
cargo nextest run --workspace --no-fail-fast "$@"

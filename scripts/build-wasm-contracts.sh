#!/usr/bin/env bash
# Builds the example WASM contracts (vm/contracts, written with the SDK in vm/sdk) for
# wasm32-unknown-unknown and prints the folder that holds the .wasm files.
# Needs the target: `rustup target add wasm32-unknown-unknown` (.ci/run adds it).
set -euo pipefail
cd "$(dirname "$0")/../vm/contracts"
target="${CARGO_TARGET_DIR:-$PWD/target}/wasm-contracts"
# The contracts' own rustflags (vm/contracts/.cargo/config.toml) apply, not a caller's.
env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS CARGO_TARGET_DIR="$target" \
  cargo build --release --target wasm32-unknown-unknown --quiet >&2
echo "$target/wasm32-unknown-unknown/release"

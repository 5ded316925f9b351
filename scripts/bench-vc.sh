#!/usr/bin/env bash
# Groth16 proving benchmark (issue 15, point 7): a MiMC-5 chain circuit of 2^16 and 2^18 constraints
# (or the powers of two given), proved by single-threaded ark-groth16 and by the same prover on every
# core in one run, with the verification time and the gas platon_groth16_verify charges. Dev profile:
# platon-crypto and every dependency are optimised there (Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/platon-target}"
cargo run --quiet -p platon-crypto --example vc_bench -- "$@"

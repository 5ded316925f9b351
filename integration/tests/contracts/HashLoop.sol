// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// The WASM benchmark's loop in Solidity (vm/benches/wasm.rs): an LCG step and an xorshift per
/// iteration on a 64-bit word.
contract HashLoop {
    function run(uint64 n) external pure returns (uint64 x) {
        unchecked {
            x = 1;
            for (uint64 i = 0; i < n; i++) {
                x = x * 6364136223846793005 + 1442695040888963407;
                x ^= x >> 29;
            }
        }
    }
}

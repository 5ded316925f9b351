// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// The contract the JSON-RPC conformance test deploys in place of the execution-apis test chain's
/// contracts: it reverts with an `Error(string)`, with a `Panic(1)` or with raw data, answers fixed
/// data, and otherwise counts its calls, emits a log and returns its block environment.
contract Probe {
    uint256 public counter;

    event Emitted(bytes32 indexed inputHash, uint256 count);

    fallback(bytes calldata input) external payable returns (bytes memory) {
        if (input.length == 1 && input[0] == 0x01) revert("user error");
        if (input.length == 1 && input[0] == 0x00) assert(false);
        if (input.length >= 1 && input[0] == 0xff) {
            if (input.length == 2 && input[1] == 0x01) return hex"ffee";
            bytes memory m = "wrong-calldatasize";
            assembly {
                revert(add(m, 32), mload(m))
            }
        }
        counter += 1;
        emit Emitted(keccak256(input), counter);
        return abi.encode(block.number, block.chainid, block.coinbase, block.basefee, block.timestamp, tx.origin, msg.value);
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A batch-call contract with Multicall3's `aggregate3` interface, which viem's `multicall` uses:
/// each call runs in turn and reports its success and return data; a failing call reverts the batch
/// unless it allows failure.
contract Aggregator {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory results) {
        results = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory data) = calls[i].target.call(calls[i].callData);
            if (!ok && !calls[i].allowFailure) revert("Aggregator: call failed");
            results[i] = Result(ok, data);
        }
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// Names in a mapping, child contracts by CREATE2, a require message, a custom error and a hash loop:
/// what the client and differential tests exercise beyond ERC-20.
contract Registry {
    mapping(bytes32 => address) public owners;
    mapping(address => uint256) public counts;

    event Registered(bytes32 indexed name, address indexed owner, uint256 count);
    event Deployed(address child, bytes32 salt);

    error Taken(bytes32 name, address owner);

    function register(bytes32 name) external {
        require(name != bytes32(0), "Registry: empty name");
        address current = owners[name];
        if (current != address(0)) revert Taken(name, current);
        owners[name] = msg.sender;
        counts[msg.sender] += 1;
        emit Registered(name, msg.sender, counts[msg.sender]);
    }

    function release(bytes32 name) external {
        require(owners[name] == msg.sender, "Registry: not the owner");
        delete owners[name];
        counts[msg.sender] -= 1;
    }

    function deploy(bytes32 salt) external returns (address child) {
        child = address(new Child{salt: salt}(msg.sender));
        emit Deployed(child, salt);
    }

    /// Compute-heavy: n rounds of keccak over a running hash.
    function work(uint256 n) external pure returns (bytes32 h) {
        for (uint256 i = 0; i < n; i++) {
            h = keccak256(abi.encodePacked(h, i));
        }
    }

    /// The block context a call sees (for block overrides).
    function env() external view returns (uint256 number, uint256 time, address coinbase, uint256 basefee, uint256 gaslimit) {
        return (block.number, block.timestamp, block.coinbase, block.basefee, block.gaslimit);
    }

    function fail(uint256 code) external pure {
        if (code == 1) revert("Registry: failed on purpose");
        if (code == 2) revert Taken(bytes32(code), address(0));
        if (code == 3) assert(false);
    }
}

contract Child {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A BN254 Groth16 verifier on the EIP-196/197 precompiles (0x06 add, 0x07 mul, 0x08 pairing). It
/// takes the verifying key in the byte layout a PlatON VC contract stores (alpha ‖ beta ‖ gamma ‖
/// delta ‖ IC₀ … ICₙ; G2 points as x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0, the order 0x08 reads), so one deployed
/// verifier checks any model's proofs: an independent check of the node's own verifier.
contract Groth16Verifier {
    uint256 constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    function word(bytes calldata b, uint256 at) private pure returns (uint256) {
        return uint256(bytes32(b[at:at + 32]));
    }

    function add(uint256[2] memory p, uint256 x, uint256 y) private view returns (uint256[2] memory out) {
        uint256[4] memory input = [p[0], p[1], x, y];
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x06, input, 128, out, 64)
        }
        require(ok, "ecAdd failed");
    }

    function mul(uint256 x, uint256 y, uint256 s) private view returns (uint256 px, uint256 py) {
        uint256[3] memory input = [x, y, s];
        uint256[2] memory out;
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x07, input, 96, out, 64)
        }
        require(ok, "ecMul failed");
        return (out[0], out[1]);
    }

    /// True when `proof` (A ‖ B ‖ C, 256 bytes) proves `inputs` under `vk`.
    function verify(bytes calldata vk, bytes calldata proof, uint256[] calldata inputs) external view returns (bool) {
        require(proof.length == 256, "a proof is 256 bytes");
        require(vk.length == 448 + 64 * (inputs.length + 1), "the key does not fit the inputs");
        // vk_x = IC₀ + Σ inputsᵢ · ICᵢ₊₁
        uint256[2] memory acc = [word(vk, 448), word(vk, 480)];
        for (uint256 i = 0; i < inputs.length; i++) {
            require(inputs[i] < R, "an input is not a scalar");
            uint256 at = 448 + 64 * (i + 1);
            (uint256 x, uint256 y) = mul(word(vk, at), word(vk, at + 32), inputs[i]);
            acc = add(acc, x, y);
        }
        // e(−A, B) · e(alpha, beta) · e(vk_x, gamma) · e(C, delta) = 1
        uint256[24] memory p;
        p[0] = word(proof, 0);
        uint256 ay = word(proof, 32);
        p[1] = ay == 0 ? 0 : Q - (ay % Q);
        for (uint256 j = 0; j < 4; j++) p[2 + j] = word(proof, 64 + 32 * j);
        for (uint256 j = 0; j < 6; j++) p[6 + j] = word(vk, 32 * j);
        p[12] = acc[0];
        p[13] = acc[1];
        for (uint256 j = 0; j < 4; j++) p[14 + j] = word(vk, 192 + 32 * j);
        p[18] = word(proof, 192);
        p[19] = word(proof, 224);
        for (uint256 j = 0; j < 4; j++) p[20 + j] = word(vk, 320 + 32 * j);
        uint256[1] memory out;
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x08, p, 768, out, 32)
        }
        return ok && out[0] == 1;
    }
}

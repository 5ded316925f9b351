//! PlatON's WASM ABI: call data is `RLP([method, arg1, arg2, ...])` where `method` is the 64-bit
//! FNV-1a hash of the method's name (an RLP integer) and each argument is its RLP encoding (integers
//! big-endian without leading zeros, byte strings and strings as RLP strings, addresses as 20-byte
//! strings, booleans as 0 or 1, lists as RLP lists). A return value is the RLP encoding of the value.
//! The constructor is the method `init`.

use platon_messages::rlp::encode_raw_list;

/// 64-bit FNV-1a of `name`: the method id (the SDK's, so contracts and the node agree).
pub use platon_wasm_sdk::abi::fnv1a_64;

/// Call data for `method` with arguments already RLP-encoded.
pub fn encode_call(method: &str, args: &[Vec<u8>]) -> Vec<u8> {
    let mut items = vec![alloy_rlp::encode(fnv1a_64(method))];
    items.extend_from_slice(args);
    encode_raw_list(&items)
}

/// PlatON's deploy envelope: the magic, then `RLP([module, init_input])`.
pub fn encode_deploy(module: &[u8], init: &[u8]) -> Vec<u8> {
    let mut out = super::WASM_MAGIC.to_vec();
    out.extend(encode_raw_list(&[
        alloy_rlp::encode(module),
        alloy_rlp::encode(init),
    ]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // The FNV reference: the empty string is the offset basis, "a" and "foobar" known hashes.
        assert_eq!(fnv1a_64(""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64("a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a_64("foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn deploy_envelope_round_trips() {
        let env = encode_deploy(b"\0asm\x01\0\0\0", b"\xc1\x80");
        let (m, i) = crate::wasm::split_deploy(&env).expect("split");
        assert_eq!(m, b"\0asm\x01\0\0\0");
        assert_eq!(&i[..], b"\xc1\x80");
        assert!(crate::wasm::split_deploy(b"\0asm\xc2\x01").is_err());
    }
}

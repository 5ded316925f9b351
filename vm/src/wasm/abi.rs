//! PlatON's WASM ABI: call data is `RLP([method, arg1, arg2, ...])` where `method` is the 64-bit
//! FNV-1a hash of the method's name (an RLP integer) and each argument is its RLP encoding (integers
//! big-endian without leading zeros, byte strings and strings as RLP strings, addresses as 20-byte
//! strings, booleans as 0 or 1, lists as RLP lists). A return value is the RLP encoding of the value.
//! The constructor is the method `init`.

use alloy_rlp::{Encodable, Header};

/// 64-bit FNV-1a of `name`: the method id.
pub fn fnv1a_64(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Call data for `method` with arguments already RLP-encoded.
pub fn encode_call(method: &str, args: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = Vec::new();
    fnv1a_64(method).encode(&mut payload);
    for a in args {
        payload.extend_from_slice(a);
    }
    let mut out = Vec::new();
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&payload);
    out
}

/// PlatON's deploy envelope: the magic, then `RLP([module, init_input])`.
pub fn encode_deploy(module: &[u8], init: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    module.encode(&mut payload);
    init.encode(&mut payload);
    let mut out = super::WASM_MAGIC.to_vec();
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&payload);
    out
}

/// The byte-string items of an RLP list that spans all of `data`.
pub fn rlp_list(mut data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let h = Header::decode(&mut data).map_err(|e| e.to_string())?;
    if !h.list {
        return Err("expected an RLP list".into());
    }
    if h.payload_length != data.len() {
        return Err("trailing bytes after the RLP list".into());
    }
    let mut items = Vec::new();
    while !data.is_empty() {
        let item = Header::decode_bytes(&mut data, false).map_err(|e| e.to_string())?;
        items.push(item.to_vec());
    }
    Ok(items)
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
        assert!(rlp_list(b"\xc2\x01").is_err());
    }
}

//! PlatON's WASM ABI codec: method ids are the 64-bit FNV-1a of the name, values are RLP
//! (integers big-endian without leading zeros, byte strings, lists).

use alloc::string::String;
use alloc::vec::Vec;

/// 64-bit FNV-1a of `name` (usable in constants).
pub const fn fnv1a_64(name: &str) -> u64 {
    let b = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// A 20-byte account address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address as a 32-byte word, left-padded with zeros (an event topic, an EVM argument).
    pub fn to_word(&self) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(&self.0);
        w
    }
}

/// A `u128` as a 32-byte big-endian word (a 256-bit value, event data).
pub fn u128_word(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

/// A value that encodes to RLP.
pub trait Encode {
    /// Appends the RLP encoding.
    fn encode(&self, out: &mut Vec<u8>);
}

/// A value that decodes from one RLP item.
pub trait Decode: Sized {
    /// Decodes from an item: `Ok(payload)` of a string, or `Err(payload)` of a list.
    fn decode(item: Item<'_>) -> Option<Self>;
}

/// One RLP item.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    /// A byte string.
    Bytes(&'a [u8]),
    /// A list's payload.
    List(&'a [u8]),
}

/// The RLP encoding of `v`.
pub fn encode<T: Encode + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

fn header(out: &mut Vec<u8>, len: usize, short: u8) {
    if len < 56 {
        out.push(short + len as u8);
    } else {
        let be = (len as u64).to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push(short + 55 + (8 - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
}

/// Appends `b` as an RLP string.
pub fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    if b.len() == 1 && b[0] < 0x80 {
        out.push(b[0]);
    } else {
        header(out, b.len(), 0x80);
        out.extend_from_slice(b);
    }
}

/// Appends a list whose items are already encoded in `payload`.
pub fn encode_list(payload: &[u8], out: &mut Vec<u8>) {
    header(out, payload.len(), 0xc0);
    out.extend_from_slice(payload);
}

macro_rules! uint {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                let be = self.to_be_bytes();
                let skip = be.iter().take_while(|b| **b == 0).count();
                encode_bytes(&be[skip..], out);
            }
        }
        impl Decode for $t {
            fn decode(item: Item<'_>) -> Option<Self> {
                let Item::Bytes(b) = item else { return None };
                const N: usize = core::mem::size_of::<$t>();
                if b.len() > N || b.first() == Some(&0) {
                    return None;
                }
                let mut be = [0u8; N];
                be[N - b.len()..].copy_from_slice(b);
                Some(<$t>::from_be_bytes(be))
            }
        }
    )*};
}
uint!(u8, u16, u32, u64, u128);

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        u8::from(*self).encode(out)
    }
}

impl Decode for bool {
    fn decode(item: Item<'_>) -> Option<Self> {
        match u8::decode(item)? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

impl Encode for Address {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(&self.0, out)
    }
}

impl Decode for Address {
    fn decode(item: Item<'_>) -> Option<Self> {
        let Item::Bytes(b) = item else { return None };
        Some(Address(b.try_into().ok()?))
    }
}

impl Encode for [u8] {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self, out)
    }
}

impl Encode for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self, out)
    }
}

impl Decode for Vec<u8> {
    fn decode(item: Item<'_>) -> Option<Self> {
        let Item::Bytes(b) = item else { return None };
        Some(b.to_vec())
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_bytes(self.as_bytes(), out)
    }
}

impl Decode for String {
    fn decode(item: Item<'_>) -> Option<Self> {
        let Item::Bytes(b) = item else { return None };
        String::from_utf8(b.to_vec()).ok()
    }
}

impl<T: Encode> Encode for Option<T> {
    /// `None` is the empty list, `Some(v)` the list of `v`.
    fn encode(&self, out: &mut Vec<u8>) {
        let mut p = Vec::new();
        if let Some(v) = self {
            v.encode(&mut p);
        }
        encode_list(&p, out)
    }
}

/// Reads the items of an RLP list one by one.
pub struct Decoder<'a> {
    rest: &'a [u8],
}

fn be_len(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 8 || b[0] == 0 {
        return None;
    }
    let mut n: usize = 0;
    for x in b {
        n = n.checked_mul(256)?.checked_add(*x as usize)?;
    }
    Some(n)
}

/// Splits the first item off `data`: the item and what follows it.
pub fn split(data: &[u8]) -> Option<(Item<'_>, &[u8])> {
    let p = *data.first()?;
    let (list, off, len) = match p {
        0x00..=0x7f => return Some((Item::Bytes(&data[..1]), &data[1..])),
        0x80..=0xb7 => (false, 1, (p - 0x80) as usize),
        0xb8..=0xbf => {
            let n = (p - 0xb7) as usize;
            (false, 1 + n, be_len(data.get(1..1 + n)?)?)
        }
        0xc0..=0xf7 => (true, 1, (p - 0xc0) as usize),
        0xf8..=0xff => {
            let n = (p - 0xf7) as usize;
            (true, 1 + n, be_len(data.get(1..1 + n)?)?)
        }
    };
    let end = off.checked_add(len)?;
    let payload = data.get(off..end)?;
    if !list && len == 1 && off == 1 && payload[0] < 0x80 {
        return None; // non-canonical single byte
    }
    let item = if list {
        Item::List(payload)
    } else {
        Item::Bytes(payload)
    };
    Some((item, &data[end..]))
}

impl<'a> Decoder<'a> {
    /// A decoder over the items of the list that is all of `data`.
    pub fn list(data: &'a [u8]) -> Option<Self> {
        match split(data)? {
            (Item::List(p), []) => Some(Decoder { rest: p }),
            _ => None,
        }
    }

    /// The next item, decoded as `T`.
    #[allow(clippy::should_implement_trait)]
    pub fn next<T: Decode>(&mut self) -> Option<T> {
        let (item, rest) = split(self.rest)?;
        self.rest = rest;
        T::decode(item)
    }

    /// Whether all items were read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Call data for `method` with `args` (each already encoded with [`encode`]).
pub fn call_data(method: &str, args: &[&[u8]]) -> Vec<u8> {
    let mut p = Vec::new();
    fnv1a_64(method).encode(&mut p);
    for a in args {
        p.extend_from_slice(a);
    }
    let mut out = Vec::new();
    encode_list(&p, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_bytes_round_trip() {
        for v in [0u128, 1, 127, 128, 255, 256, u64::MAX as u128, u128::MAX] {
            let e = encode(&v);
            let (item, rest) = split(&e).expect("split");
            assert!(rest.is_empty());
            assert_eq!(u128::decode(item), Some(v));
        }
        let long = alloc::vec![7u8; 100];
        let e = encode(&long);
        assert_eq!(&e[..2], &[0xb8, 100]);
        let (item, _) = split(&e).expect("split");
        assert_eq!(Vec::<u8>::decode(item), Some(long));
        // Non-canonical forms are refused.
        assert!(split(&[0x81, 0x05]).is_none());
        assert!(u64::decode(Item::Bytes(&[0, 1])).is_none());
    }

    #[test]
    fn call_data_decodes_to_method_and_arguments() {
        let to = Address([9; 20]);
        let data = call_data("transfer", &[&encode(&to), &encode(&5u128)]);
        let mut d = Decoder::list(&data).expect("list");
        assert_eq!(d.next::<u64>(), Some(fnv1a_64("transfer")));
        assert_eq!(d.next::<Address>(), Some(to));
        assert_eq!(d.next::<u128>(), Some(5));
        assert!(d.is_empty());
        assert_eq!(fnv1a_64("a"), 0xaf63dc4c8601ec8c);
    }
}

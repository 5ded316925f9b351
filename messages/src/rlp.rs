//! Strict RLP reading (canonical lengths, no leading zeros, exact consumption) and list encoding.

use alloy_primitives::{Address, U256};
use alloy_rlp::{Encodable, Header};

/// Why bytes were not valid RLP for the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RlpError {
    /// The structure itself is broken: truncated, non-canonical length, etc.
    #[error("malformed RLP: {0}")]
    Malformed(String),
    /// A string appeared where a list was expected, or the reverse.
    #[error("unexpected RLP {found} where a {expected} was expected")]
    UnexpectedKind {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// An integer had leading zero bytes.
    #[error("integer field {0} has leading zero bytes")]
    LeadingZero(&'static str),
    /// An integer does not fit its field.
    #[error("integer field {0} overflows its type")]
    Overflow(&'static str),
    /// A field has the wrong byte length (addresses, hashes).
    #[error("field {field} must be {expected} bytes, got {got}")]
    BadLength {
        /// The field.
        field: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// Bytes left over after the item or list ended.
    #[error("{0} trailing bytes after the RLP item")]
    Trailing(usize),
    /// A list had fewer or more elements than its type has fields.
    #[error("list has the wrong number of elements")]
    WrongArity,
}

impl From<alloy_rlp::Error> for RlpError {
    fn from(e: alloy_rlp::Error) -> Self {
        RlpError::Malformed(e.to_string())
    }
}

/// A cursor over RLP bytes that only accepts canonical encodings.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// True when every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), RlpError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(RlpError::Trailing(self.buf.len()))
        }
    }

    fn item(&mut self) -> Result<(bool, &'a [u8]), RlpError> {
        let mut b = self.buf;
        let h = Header::decode(&mut b)?;
        if b.len() < h.payload_length {
            return Err(RlpError::Malformed(
                "payload shorter than its header says".into(),
            ));
        }
        let (payload, rest) = b.split_at(h.payload_length);
        self.buf = rest;
        Ok((h.list, payload))
    }

    /// Reads the next item, which must be a list, and returns a reader over its payload.
    pub fn list(&mut self) -> Result<Reader<'a>, RlpError> {
        match self.item()? {
            (true, p) => Ok(Reader::new(p)),
            (false, _) => Err(RlpError::UnexpectedKind {
                expected: "list",
                found: "string",
            }),
        }
    }

    /// Reads the next item, which must be a string, and returns its bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], RlpError> {
        match self.item()? {
            (false, p) => Ok(p),
            (true, _) => Err(RlpError::UnexpectedKind {
                expected: "string",
                found: "list",
            }),
        }
    }

    /// Reads the raw encoding (header included) of the next item, whatever it is.
    pub fn raw(&mut self) -> Result<&'a [u8], RlpError> {
        let start = self.buf;
        self.item()?;
        Ok(&start[..start.len() - self.buf.len()])
    }

    /// Reads a big-endian unsigned integer of at most `max_len` bytes, without leading zeros.
    fn uint_bytes(&mut self, field: &'static str, max_len: usize) -> Result<&'a [u8], RlpError> {
        let b = self.bytes()?;
        if b.first() == Some(&0) {
            return Err(RlpError::LeadingZero(field));
        }
        if b.len() > max_len {
            return Err(RlpError::Overflow(field));
        }
        Ok(b)
    }

    /// Reads a u64 field.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, RlpError> {
        let b = self.uint_bytes(field, 8)?;
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    /// Reads a 256-bit field.
    pub fn u256(&mut self, field: &'static str) -> Result<U256, RlpError> {
        let b = self.uint_bytes(field, 32)?;
        Ok(U256::from_be_slice(b))
    }

    /// Reads a 20-byte address.
    pub fn address(&mut self, field: &'static str) -> Result<Address, RlpError> {
        let b = self.bytes()?;
        if b.len() != 20 {
            return Err(RlpError::BadLength {
                field,
                expected: 20,
                got: b.len(),
            });
        }
        Ok(Address::from_slice(b))
    }

    /// Reads fixed-length bytes.
    pub fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], RlpError> {
        let b = self.bytes()?;
        b.try_into().map_err(|_| RlpError::BadLength {
            field,
            expected: N,
            got: b.len(),
        })
    }
}

/// Encodes heterogeneous fields as one RLP list.
pub fn encode_list(fields: &[&dyn Encodable]) -> Vec<u8> {
    let payload_length: usize = fields.iter().map(|f| f.length()).sum();
    let mut out = Vec::with_capacity(payload_length + 9);
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for f in fields {
        f.encode(&mut out);
    }
    out
}

/// Wraps already-encoded items (each a complete RLP item) in a list header.
pub fn encode_raw_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload_length: usize = items.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(payload_length + 9);
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for i in items {
        out.extend_from_slice(i);
    }
    out
}

/// A generic RLP value, for tests and tools that decode arbitrary RLP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list of items.
    List(Vec<Item>),
}

/// Nesting limit for [`decode_item`], so hostile input cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Decodes exactly one RLP item spanning all of `buf`, strictly.
pub fn decode_item(buf: &[u8]) -> Result<Item, RlpError> {
    let mut r = Reader::new(buf);
    let item = read_item(&mut r, 0)?;
    r.finish()?;
    Ok(item)
}

fn read_item(r: &mut Reader<'_>, depth: usize) -> Result<Item, RlpError> {
    if depth > MAX_DEPTH {
        return Err(RlpError::Malformed("nesting too deep".into()));
    }
    let (list, payload) = r.item()?;
    if !list {
        return Ok(Item::Bytes(payload.to_vec()));
    }
    let mut inner = Reader::new(payload);
    let mut items = Vec::new();
    while !inner.is_empty() {
        items.push(read_item(&mut inner, depth + 1)?);
    }
    Ok(Item::List(items))
}

/// Encodes a generic item.
pub fn encode_item(item: &Item) -> Vec<u8> {
    match item {
        Item::Bytes(b) => {
            let mut out = Vec::new();
            b.as_slice().encode(&mut out);
            out
        }
        Item::List(items) => encode_raw_list(&items.iter().map(encode_item).collect::<Vec<_>>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_canonical_forms() {
        // single byte below 0x80 wrapped as a string
        assert!(decode_item(&[0x81, 0x05]).is_err());
        // long form used for a short string
        assert!(decode_item(&[0xb8, 0x01, 0x90]).is_err());
        // truncated
        assert!(decode_item(&[0x83, 0x01]).is_err());
        // trailing bytes
        assert!(decode_item(&[0x01, 0x02]).is_err());
        assert_eq!(
            decode_item(&[0xc1, 0x01]),
            Ok(Item::List(vec![Item::Bytes(vec![1])]))
        );
    }

    #[test]
    fn integers_refuse_leading_zeros_and_overflow() {
        let mut r = Reader::new(&[0x82, 0x00, 0x01]);
        assert_eq!(r.u64("n"), Err(RlpError::LeadingZero("n")));
        let mut r = Reader::new(&[0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(r.u64("n"), Err(RlpError::Overflow("n")));
        let mut r = Reader::new(&[0x80]);
        assert_eq!(r.u64("n"), Ok(0));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut v = vec![0xc0u8];
        for _ in 0..200 {
            let len = v.len();
            let mut h = Vec::new();
            Header {
                list: true,
                payload_length: len,
            }
            .encode(&mut h);
            h.extend_from_slice(&v);
            v = h;
        }
        assert!(decode_item(&v).is_err());
    }
}

//! Byte-level reader and writer for RELOAD's TLS-style presentation language (big-endian integers,
//! length-prefixed `opaque<..>` vectors). The reader never panics: every read is bounds-checked.

/// Why bytes could not be decoded or a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The input ended inside a field.
    #[error("truncated: {0} needs more bytes")]
    Truncated(&'static str),
    /// A field holds a value the protocol does not allow.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Bytes were left over after a structure that must fill its container.
    #[error("{0} trailing bytes after {1}")]
    Trailing(usize, &'static str),
    /// A value is too long for its length prefix.
    #[error("{field} is {len} bytes, more than its {max}-byte limit")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl WireError {
    /// An [`WireError::Invalid`] for `field`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        WireError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// A bounds-checked cursor over untrusted bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Fails unless everything was read.
    pub fn finish(&self, what: &'static str) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError::Trailing(n, what)),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(WireError::Truncated(what))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// A `uint8`.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }
    /// A `uint16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    /// A `uint24`.
    pub fn u24(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.array::<3>(what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
    /// A `uint32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    /// A `uint64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    /// A `uint128`.
    pub fn u128(&mut self, what: &'static str) -> Result<u128, WireError> {
        Ok(u128::from_be_bytes(self.array(what)?))
    }
    /// A `Boolean` (0 or 1; anything else is refused).
    pub fn boolean(&mut self, what: &'static str) -> Result<bool, WireError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(WireError::invalid(what, format!("boolean {v}"))),
        }
    }

    /// An `opaque<0..2^(8*prefix)-1>` (prefix of 1, 2, 3 or 4 bytes).
    pub fn opaque(&mut self, prefix: u8, what: &'static str) -> Result<&'a [u8], WireError> {
        let len = match prefix {
            1 => self.u8(what)? as usize,
            2 => self.u16(what)? as usize,
            3 => self.u24(what)? as usize,
            _ => self.u32(what)? as usize,
        };
        self.take(len, what)
    }

    /// A sub-reader over an `opaque` of `prefix` length bytes (for vectors of structures).
    pub fn nested(&mut self, prefix: u8, what: &'static str) -> Result<Reader<'a>, WireError> {
        Ok(Reader::new(self.opaque(prefix, what)?))
    }

    /// Reads structures with `f` from a length-prefixed vector until it is used up.
    pub fn vec<T>(
        &mut self,
        prefix: u8,
        what: &'static str,
        mut f: impl FnMut(&mut Reader<'a>) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        let mut inner = self.nested(prefix, what)?;
        let mut out = Vec::new();
        while !inner.is_empty() {
            out.push(f(&mut inner)?);
        }
        Ok(out)
    }
}

/// Appends RELOAD-encoded values; length prefixes are checked against their limits.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

fn max_for(prefix: u8) -> usize {
    match prefix {
        1 => 0xff,
        2 => 0xffff,
        3 => 0xff_ffff,
        _ => u32::MAX as usize,
    }
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }
    /// A `uint8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// A `uint16`.
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// A `uint24` (the top byte of `v` must be zero).
    pub fn u24(&mut self, v: u32, what: &'static str) -> Result<(), WireError> {
        if v > 0xff_ffff {
            return Err(WireError::TooLong {
                field: what,
                len: v as usize,
                max: 0xff_ffff,
            });
        }
        self.buf.extend_from_slice(&v.to_be_bytes()[1..]);
        Ok(())
    }
    /// A `uint32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// A `uint64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// A `uint128`.
    pub fn u128(&mut self, v: u128) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    /// A `Boolean`.
    pub fn boolean(&mut self, v: bool) {
        self.buf.push(v as u8);
    }
    /// Raw bytes.
    pub fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    /// An `opaque` with a `prefix`-byte length.
    pub fn opaque(&mut self, prefix: u8, v: &[u8], what: &'static str) -> Result<(), WireError> {
        let max = max_for(prefix);
        if v.len() > max {
            return Err(WireError::TooLong {
                field: what,
                len: v.len(),
                max,
            });
        }
        let len = v.len() as u32;
        match prefix {
            1 => self.u8(len as u8),
            2 => self.u16(len as u16),
            3 => self.u24(len, what)?,
            _ => self.u32(len),
        }
        self.raw(v);
        Ok(())
    }
    /// A length-prefixed vector whose contents `f` writes.
    pub fn nested(
        &mut self,
        prefix: u8,
        what: &'static str,
        f: impl FnOnce(&mut Writer) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let mut inner = Writer::new();
        f(&mut inner)?;
        self.opaque(prefix, &inner.buf, what)
    }
}

//! The pure snapshotdb state: unrecognized, recognized and committed block data over a compacted
//! base. No IO: [`super::SnapshotDb`] logs every [`Record`] before handing it to [`Core::apply`].

use super::SnapshotError;
use alloy_primitives::B256;
use std::collections::{BTreeMap, HashMap, HashSet};

pub use platon_messages::snapshot::{At, BlockRef, Record};

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

struct Cursor<'a>(&'a [u8]);
impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError::Corrupt("snapshot record truncated".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, SnapshotError> {
        let n = self.take(4)?;
        let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn hash(&mut self) -> Result<B256, SnapshotError> {
        Ok(B256::from_slice(self.take(32)?))
    }
}

/// The WAL payload of a record.
pub fn encode_record(r: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    match r {
        Record::NewBlock { number, parent } => {
            out.push(1);
            out.extend_from_slice(&number.to_be_bytes());
            out.extend_from_slice(parent.as_slice());
        }
        Record::Put { key, value } => {
            out.push(2);
            put_bytes(&mut out, key);
            put_bytes(&mut out, value);
        }
        Record::Delete { key } => {
            out.push(3);
            put_bytes(&mut out, key);
        }
        Record::Seal { hash } => {
            out.push(4);
            out.extend_from_slice(hash.as_slice());
        }
        Record::Commit { hash } => {
            out.push(5);
            out.extend_from_slice(hash.as_slice());
        }
    }
    out
}

/// Strict decoding of a WAL payload.
pub fn decode_record(b: &[u8]) -> Result<Record, SnapshotError> {
    let (tag, rest) = b
        .split_first()
        .ok_or_else(|| SnapshotError::Corrupt("empty snapshot record".into()))?;
    let mut c = Cursor(rest);
    let r = match tag {
        1 => {
            let n = c.take(8)?;
            let mut arr = [0u8; 8];
            arr.copy_from_slice(n);
            Record::NewBlock {
                number: u64::from_be_bytes(arr),
                parent: c.hash()?,
            }
        }
        2 => Record::Put {
            key: c.bytes()?,
            value: c.bytes()?,
        },
        3 => Record::Delete { key: c.bytes()? },
        4 => Record::Seal { hash: c.hash()? },
        5 => Record::Commit { hash: c.hash()? },
        t => {
            return Err(SnapshotError::Corrupt(format!(
                "unknown snapshot record tag {t}"
            )))
        }
    };
    if !c.0.is_empty() {
        return Err(SnapshotError::Corrupt(
            "trailing bytes in snapshot record".into(),
        ));
    }
    Ok(r)
}

/// One block's data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockData {
    /// Height.
    pub number: u64,
    /// Parent hash.
    pub parent: B256,
    /// Own hash (zero while unrecognized).
    pub hash: B256,
    /// Changes: `None` is a deletion.
    pub data: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

/// The in-memory snapshotdb levels above the compacted base.
#[derive(Debug, Clone, Default)]
pub struct Core {
    base: BlockRef,
    committed: Vec<BlockData>,
    recognized: HashMap<B256, BlockData>,
    building: Option<BlockData>,
    /// Hashes of blocks at or below the base seen during replay (already compacted).
    compacted: HashSet<B256>,
    skipping: bool,
}

impl Core {
    /// A core whose compacted base ends at `base`.
    pub fn new(base: BlockRef) -> Self {
        Core {
            base,
            ..Default::default()
        }
    }

    /// The compacted base block.
    pub fn base(&self) -> BlockRef {
        self.base
    }

    /// The highest committed block (the base when nothing is committed above it).
    pub fn head(&self) -> BlockRef {
        self.committed
            .last()
            .map(|b| BlockRef {
                number: b.number,
                hash: b.hash,
            })
            .unwrap_or(self.base)
    }

    /// Recognized blocks (hash, number), for inspection.
    pub fn recognized(&self) -> Vec<BlockRef> {
        let mut v: Vec<BlockRef> = self
            .recognized
            .values()
            .map(|b| BlockRef {
                number: b.number,
                hash: b.hash,
            })
            .collect();
        v.sort_by_key(|b| (b.number, b.hash));
        v
    }

    /// Whether block `hash` is committed above the base.
    pub fn is_committed(&self, hash: &B256) -> bool {
        self.committed.iter().any(|b| b.hash == *hash)
    }

    /// Whether block `hash` is recognized (sealed, not committed).
    pub fn is_recognized(&self, hash: &B256) -> bool {
        self.recognized.contains_key(hash)
    }

    /// The committed blocks above the base, oldest first.
    pub fn committed(&self) -> &[BlockData] {
        &self.committed
    }

    fn number_of(&self, hash: &B256) -> Option<u64> {
        if *hash == self.head().hash {
            return Some(self.head().number);
        }
        self.recognized.get(hash).map(|b| b.number)
    }

    /// Whether `r` may be applied now; never changes anything.
    pub fn check(&self, r: &Record) -> Result<(), SnapshotError> {
        let invalid = |m: String| Err(SnapshotError::Invalid(m));
        match r {
            Record::NewBlock { number, parent } => {
                if self.building.is_some() {
                    return invalid("a block is already being built; seal it first".into());
                }
                let Some(parent_number) = self.number_of(parent) else {
                    return invalid(format!(
                        "parent {parent} is neither the highest committed block nor recognized"
                    ));
                };
                if Some(*number) != parent_number.checked_add(1) {
                    return invalid(format!(
                        "block {number} cannot follow parent at height {parent_number}"
                    ));
                }
            }
            Record::Put { .. } | Record::Delete { .. } if self.building.is_none() => {
                return invalid("write outside a block being built".into());
            }
            Record::Put { .. } | Record::Delete { .. } => {}
            Record::Seal { hash } => {
                if self.recognized.contains_key(hash)
                    || self.committed.iter().any(|b| b.hash == *hash)
                {
                    return invalid(format!("block {hash} is already known"));
                }
                if self.building.is_none() {
                    return invalid("seal without a block being built".into());
                }
            }
            Record::Commit { hash } => {
                let head = self.head();
                match self.recognized.get(hash) {
                    Some(b) if b.parent == head.hash => {}
                    Some(b) => {
                        return invalid(format!(
                            "block {hash} does not extend the committed head {} (its parent is {})",
                            head.hash, b.parent
                        ))
                    }
                    None => return invalid(format!("block {hash} is not recognized")),
                }
            }
        }
        Ok(())
    }

    /// Applies a record, or refuses it (see [`Core::check`]) and changes nothing.
    pub fn apply(&mut self, r: Record) -> Result<(), SnapshotError> {
        self.check(&r)?;
        match r {
            Record::NewBlock { number, parent } => {
                self.building = Some(BlockData {
                    number,
                    parent,
                    hash: B256::ZERO,
                    data: BTreeMap::new(),
                });
            }
            Record::Put { key, value } => {
                if let Some(b) = &mut self.building {
                    b.data.insert(key, Some(value));
                }
            }
            Record::Delete { key } => {
                if let Some(b) = &mut self.building {
                    b.data.insert(key, None);
                }
            }
            Record::Seal { hash } => {
                if let Some(mut b) = self.building.take() {
                    b.hash = hash;
                    self.recognized.insert(hash, b);
                }
            }
            Record::Commit { hash } => {
                let Some(b) = self.recognized.remove(&hash) else {
                    return Ok(());
                };
                let number = b.number;
                self.committed.push(b);
                // Other data at this height and below can never be committed now, nor anything built on it.
                self.recognized.retain(|_, r| r.number > number);
                loop {
                    let head = self.head().hash;
                    let orphans: Vec<B256> = self
                        .recognized
                        .values()
                        .filter(|r| r.parent != head && !self.recognized.contains_key(&r.parent))
                        .map(|r| r.hash)
                        .collect();
                    if orphans.is_empty() {
                        break;
                    }
                    for o in orphans {
                        self.recognized.remove(&o);
                    }
                }
                if self
                    .building
                    .as_ref()
                    .is_some_and(|b| b.number <= number || self.number_of(&b.parent).is_none())
                {
                    self.building = None;
                }
            }
        }
        Ok(())
    }

    /// Drops a block left unsealed at the end of a replay (a crash cut its batch short): its writer
    /// starts it again.
    pub fn drop_unsealed(&mut self) {
        self.skipping = false;
        self.building = None;
    }

    /// Applies a record during replay, skipping what compaction already folded into the base.
    pub fn replay(&mut self, r: Record) -> Result<(), SnapshotError> {
        match &r {
            Record::NewBlock { number, .. } => {
                // A block still unsealed here was cut short by a crash; its writer started over.
                self.building = None;
                self.skipping = *number <= self.base.number;
                if self.skipping {
                    return Ok(());
                }
            }
            Record::Put { .. } | Record::Delete { .. } if self.skipping => return Ok(()),
            Record::Seal { hash } if self.skipping => {
                self.compacted.insert(*hash);
                self.skipping = false;
                return Ok(());
            }
            Record::Commit { hash } if self.compacted.contains(hash) || *hash == self.base.hash => {
                return Ok(())
            }
            _ => {}
        }
        self.apply(r)
    }

    /// The data sets a read at `at` sees, newest first (down to the oldest committed block).
    fn chain(&self, at: At) -> Result<Vec<&BlockData>, SnapshotError> {
        let mut out = Vec::new();
        let mut cursor = match at {
            At::Building => {
                let b = self
                    .building
                    .as_ref()
                    .ok_or_else(|| SnapshotError::Invalid("no block is being built".into()))?;
                out.push(b);
                b.parent
            }
            At::Head => self.head().hash,
            At::Block(h) => h,
        };
        while let Some(b) = self.recognized.get(&cursor) {
            out.push(b);
            cursor = b.parent;
        }
        let Some(pos) = self.committed.iter().position(|b| b.hash == cursor) else {
            if cursor == self.base.hash {
                return Ok(out);
            }
            return Err(SnapshotError::Invalid(format!(
                "block {cursor} is unknown or already compacted (snapshotdb keeps the data of \
                 the last `state.snapshot_keep` committed blocks apart; older heights are folded into \
                 its base)"
            )));
        };
        out.extend(self.committed[..=pos].iter().rev());
        Ok(out)
    }

    /// The value of `key` seen at `at`: `Ok(Some(Some(v)))` set above the base, `Ok(Some(None))`
    /// deleted above the base, `Ok(None)` untouched above the base (read the base).
    pub fn lookup(&self, at: At, key: &[u8]) -> Result<Option<Option<Vec<u8>>>, SnapshotError> {
        for b in self.chain(at)? {
            if let Some(v) = b.data.get(key) {
                return Ok(Some(v.clone()));
            }
        }
        Ok(None)
    }

    /// Merges `base` entries (key order) with every level visible at `at`, newest wins, deletions hide.
    pub fn merge_prefix(
        &self,
        at: At,
        prefix: &[u8],
        base: crate::kv::Entries,
    ) -> Result<crate::kv::Entries, SnapshotError> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = base.into_iter().collect();
        for b in self.chain(at)?.into_iter().rev() {
            for (k, v) in b
                .data
                .range(prefix.to_vec()..)
                .take_while(|(k, _)| k.starts_with(prefix))
            {
                match v {
                    Some(v) => merged.insert(k.clone(), v.clone()),
                    None => merged.remove(k),
                };
            }
        }
        Ok(merged.into_iter().collect())
    }

    /// Drops the committed blocks above `to` (which must be the base or committed), and every
    /// recognized or unsealed block; returns how many committed blocks were dropped.
    pub fn rollback(&mut self, to: BlockRef) -> Result<usize, SnapshotError> {
        let keep = if to.hash == self.base.hash {
            0
        } else {
            match self.committed.iter().position(|b| b.hash == to.hash) {
                Some(p) => p + 1,
                None => {
                    return Err(SnapshotError::Invalid(format!(
                        "block {} ({}) is neither committed nor the base",
                        to.number, to.hash
                    )))
                }
            }
        };
        let dropped = self.committed.len() - keep;
        self.committed.truncate(keep);
        self.recognized.clear();
        self.building = None;
        Ok(dropped)
    }

    /// Removes and returns the oldest committed blocks so that at most `keep` remain; the new base is
    /// the last one returned.
    pub fn take_compactable(&mut self, keep: usize) -> Vec<BlockData> {
        let n = self.committed.len().saturating_sub(keep);
        let out: Vec<BlockData> = self.committed.drain(..n).collect();
        if let Some(last) = out.last() {
            self.base = BlockRef {
                number: last.number,
                hash: last.hash,
            };
        }
        out
    }

    /// Records that rebuild this core from its base (for rewriting the WAL after compaction).
    pub fn to_records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        let emit = |b: &BlockData, out: &mut Vec<Record>| {
            out.push(Record::NewBlock {
                number: b.number,
                parent: b.parent,
            });
            for (k, v) in &b.data {
                out.push(match v {
                    Some(v) => Record::Put {
                        key: k.clone(),
                        value: v.clone(),
                    },
                    None => Record::Delete { key: k.clone() },
                });
            }
        };
        for b in &self.committed {
            emit(b, &mut out);
            out.push(Record::Seal { hash: b.hash });
            out.push(Record::Commit { hash: b.hash });
        }
        let mut rec: Vec<&BlockData> = self.recognized.values().collect();
        rec.sort_by_key(|b| (b.number, b.hash));
        for b in rec {
            emit(b, &mut out);
            out.push(Record::Seal { hash: b.hash });
        }
        if let Some(b) = &self.building {
            emit(b, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> B256 {
        B256::repeat_byte(n)
    }

    fn build(core: &mut Core, number: u64, parent: B256, hash: B256, kv: &[(&str, Option<&str>)]) {
        core.apply(Record::NewBlock { number, parent })
            .expect("new block");
        for (k, v) in kv {
            let r = match v {
                Some(v) => Record::Put {
                    key: k.as_bytes().to_vec(),
                    value: v.as_bytes().to_vec(),
                },
                None => Record::Delete {
                    key: k.as_bytes().to_vec(),
                },
            };
            core.apply(r).expect("write");
        }
        core.apply(Record::Seal { hash }).expect("seal");
    }

    fn get(core: &Core, at: At, k: &str) -> Option<String> {
        core.lookup(at, k.as_bytes())
            .expect("lookup")
            .flatten()
            .map(|v| String::from_utf8(v).expect("utf8"))
    }

    #[test]
    fn reads_see_own_data_over_ancestors_and_forks_stay_apart() {
        let mut c = Core::new(BlockRef {
            number: 0,
            hash: h(0),
        });
        build(&mut c, 1, h(0), h(1), &[("a", Some("1")), ("b", Some("1"))]);
        // Two competing blocks at height 2.
        build(&mut c, 2, h(1), h(2), &[("a", Some("2"))]);
        build(&mut c, 2, h(1), h(3), &[("a", Some("3")), ("b", None)]);
        assert_eq!(get(&c, At::Block(h(2)), "a").as_deref(), Some("2"));
        assert_eq!(get(&c, At::Block(h(2)), "b").as_deref(), Some("1"));
        assert_eq!(get(&c, At::Block(h(3)), "a").as_deref(), Some("3"));
        assert_eq!(
            c.lookup(At::Block(h(3)), b"b").expect("lookup"),
            Some(None),
            "deleted above the base"
        );
        assert_eq!(
            c.lookup(At::Block(h(3)), b"zz").expect("lookup"),
            None,
            "read the base"
        );
        // Building on top of one fork sees that fork.
        c.apply(Record::NewBlock {
            number: 3,
            parent: h(3),
        })
        .expect("new");
        c.apply(Record::Put {
            key: b"c".to_vec(),
            value: b"x".to_vec(),
        })
        .expect("put");
        assert_eq!(get(&c, At::Building, "a").as_deref(), Some("3"));
        assert_eq!(get(&c, At::Building, "c").as_deref(), Some("x"));
    }

    #[test]
    fn commit_discards_competitors_and_their_descendants() {
        let mut c = Core::new(BlockRef {
            number: 0,
            hash: h(0),
        });
        build(&mut c, 1, h(0), h(1), &[("k", Some("1"))]);
        build(&mut c, 1, h(0), h(2), &[("k", Some("2"))]);
        build(&mut c, 2, h(2), h(4), &[("k", Some("4"))]);
        build(&mut c, 2, h(1), h(5), &[("k", Some("5"))]);
        c.apply(Record::Commit { hash: h(1) }).expect("commit");
        assert_eq!(
            c.head(),
            BlockRef {
                number: 1,
                hash: h(1)
            }
        );
        let left: Vec<B256> = c.recognized().iter().map(|b| b.hash).collect();
        assert_eq!(
            left,
            vec![h(5)],
            "h2 (same height) and h4 (built on h2) are gone"
        );
        assert!(c.apply(Record::Commit { hash: h(2) }).is_err());
        // Committing out of order is refused and changes nothing.
        build(&mut c, 3, h(5), h(6), &[]);
        assert!(c.apply(Record::Commit { hash: h(6) }).is_err());
        assert_eq!(c.head().number, 1);
        c.apply(Record::Commit { hash: h(5) }).expect("commit");
        c.apply(Record::Commit { hash: h(6) }).expect("commit");
        assert_eq!(get(&c, At::Head, "k").as_deref(), Some("5"));
    }

    #[test]
    fn misuse_is_refused_without_change() {
        let mut c = Core::new(BlockRef {
            number: 0,
            hash: h(0),
        });
        assert!(c
            .apply(Record::Put {
                key: b"a".to_vec(),
                value: b"b".to_vec()
            })
            .is_err());
        assert!(
            c.apply(Record::NewBlock {
                number: 1,
                parent: h(9)
            })
            .is_err(),
            "unknown parent"
        );
        assert!(
            c.apply(Record::NewBlock {
                number: 5,
                parent: h(0)
            })
            .is_err(),
            "wrong height"
        );
        c.apply(Record::NewBlock {
            number: 1,
            parent: h(0),
        })
        .expect("new");
        assert!(
            c.apply(Record::NewBlock {
                number: 1,
                parent: h(0)
            })
            .is_err(),
            "already building"
        );
        c.apply(Record::Seal { hash: h(1) }).expect("seal");
        c.apply(Record::NewBlock {
            number: 1,
            parent: h(0),
        })
        .expect("new");
        assert!(
            c.apply(Record::Seal { hash: h(1) }).is_err(),
            "duplicate hash"
        );
        assert!(c.lookup(At::Block(h(7)), b"a").is_err());
    }

    #[test]
    fn prefix_merge_orders_keys_and_applies_levels_newest_last() {
        let mut c = Core::new(BlockRef {
            number: 0,
            hash: h(0),
        });
        build(
            &mut c,
            1,
            h(0),
            h(1),
            &[("s/b", Some("1")), ("s/c", Some("1")), ("t/x", Some("1"))],
        );
        c.apply(Record::Commit { hash: h(1) }).expect("commit");
        build(
            &mut c,
            2,
            h(1),
            h(2),
            &[("s/a", Some("2")), ("s/c", None), ("s/d", Some("2"))],
        );
        let base = vec![
            (b"s/0".to_vec(), b"base".to_vec()),
            (b"s/c".to_vec(), b"base".to_vec()),
        ];
        let got = c
            .merge_prefix(At::Block(h(2)), b"s/", base.clone())
            .expect("merge");
        let keys: Vec<&[u8]> = got.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, vec![&b"s/0"[..], b"s/a", b"s/b", b"s/d"]);
        let at_head = c.merge_prefix(At::Head, b"s/", base).expect("merge");
        assert_eq!(
            at_head
                .iter()
                .find(|(k, _)| k == b"s/c")
                .map(|(_, v)| v.as_slice()),
            Some(&b"1"[..])
        );
    }

    #[test]
    fn records_encode_strictly_and_rebuild_the_core() {
        let mut c = Core::new(BlockRef {
            number: 0,
            hash: h(0),
        });
        build(&mut c, 1, h(0), h(1), &[("a", Some("1")), ("b", None)]);
        c.apply(Record::Commit { hash: h(1) }).expect("commit");
        build(&mut c, 2, h(1), h(2), &[("a", Some("2"))]);
        c.apply(Record::NewBlock {
            number: 2,
            parent: h(1),
        })
        .expect("new");
        let mut again = Core::new(BlockRef {
            number: 0,
            hash: h(0),
        });
        for r in c.to_records() {
            let enc = encode_record(&r);
            assert_eq!(decode_record(&enc).expect("decode"), r);
            again.apply(r).expect("apply");
        }
        assert_eq!(again.head(), c.head());
        assert_eq!(again.recognized(), c.recognized());
        assert_eq!(get(&again, At::Block(h(2)), "a").as_deref(), Some("2"));
        assert!(decode_record(&[9]).is_err());
        assert!(decode_record(&[2, 0, 0, 0, 5, 1]).is_err());
        assert!(decode_record(&[4, 1, 2]).is_err());
    }
}

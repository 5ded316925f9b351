//! The consensus WAL on disk: every [`WalRecord`] is appended and fsynced before the message it
//! records leaves the node. It uses the snapshotdb WAL's framing (length, its complement, payload,
//! chained keccak hash): a torn tail is cut and reported, never fatal; damage before the tail is an
//! error naming the file. [`ConsensusWal::compact`] drops records of views long decided.

use super::core::WalRecord;
use alloy_primitives::B256;
use platon_messages::cbft::{CbftMsg, VoteData};
use platon_storage::snapshotdb::wal::{ReplayReport, Wal};
use std::path::Path;

/// Errors of the consensus WAL.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The file could not be read or written, or is damaged before its tail.
    #[error("consensus WAL: {0}")]
    Storage(String),
    /// A record does not decode.
    #[error("consensus WAL record {index}: {reason}")]
    Record {
        /// Record number.
        index: usize,
        /// Why.
        reason: String,
    },
}

fn put_data(out: &mut Vec<u8>, d: &VoteData) {
    out.extend_from_slice(&d.epoch.to_be_bytes());
    out.extend_from_slice(&d.view.to_be_bytes());
    out.extend_from_slice(&d.index.to_be_bytes());
    out.extend_from_slice(&d.number.to_be_bytes());
    out.extend_from_slice(d.hash.as_slice());
}

fn get_data(b: &[u8]) -> Option<VoteData> {
    if b.len() != 60 {
        return None;
    }
    let u64_at = |i: usize| {
        b.get(i..i + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_be_bytes)
    };
    Some(VoteData {
        epoch: u64_at(0)?,
        view: u64_at(8)?,
        index: u32::from_be_bytes(b.get(16..20)?.try_into().ok()?),
        number: u64_at(20)?,
        hash: B256::from_slice(b.get(28..60)?),
    })
}

/// Encodes a record: a tag byte, then the slot data or the view.
pub fn encode(r: &WalRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(61);
    match r {
        WalRecord::Proposed(d) => {
            out.push(1);
            put_data(&mut out, d);
        }
        WalRecord::Voted(d) => {
            out.push(2);
            put_data(&mut out, d);
        }
        WalRecord::ViewChanged(v) => {
            out.push(3);
            out.extend_from_slice(&v.to_be_bytes());
        }
        WalRecord::Locked(d) => {
            out.push(4);
            put_data(&mut out, d);
        }
        WalRecord::SentViewChange(vc) => {
            out.push(5);
            out.extend_from_slice(&CbftMsg::ViewChange(vc.clone()).encode());
        }
        WalRecord::Accepted(p) => {
            out.push(6);
            out.extend_from_slice(&CbftMsg::Prepare(p.clone()).encode());
        }
    }
    out
}

/// Decodes a record.
pub fn decode(b: &[u8]) -> Result<WalRecord, String> {
    let (tag, rest) = b.split_first().ok_or("empty record")?;
    let data = || get_data(rest).ok_or_else(|| format!("bad slot data ({} bytes)", rest.len()));
    Ok(match tag {
        1 => WalRecord::Proposed(data()?),
        2 => WalRecord::Voted(data()?),
        3 => WalRecord::ViewChanged(u64::from_be_bytes(
            rest.try_into().map_err(|_| "bad view".to_string())?,
        )),
        4 => WalRecord::Locked(data()?),
        5 => match CbftMsg::decode(rest).map_err(|e| format!("bad view change: {e}"))? {
            CbftMsg::ViewChange(vc) => WalRecord::SentViewChange(vc),
            _ => return Err("tag 5 holds another message than a view change".into()),
        },
        6 => match CbftMsg::decode(rest).map_err(|e| format!("bad proposal: {e}"))? {
            CbftMsg::Prepare(p) => WalRecord::Accepted(p),
            _ => return Err("tag 6 holds another message than a proposal".into()),
        },
        t => return Err(format!("unknown tag {t}")),
    })
}

/// The consensus WAL file.
#[derive(Debug)]
pub struct ConsensusWal {
    wal: Wal,
    records: Vec<WalRecord>,
}

impl ConsensusWal {
    /// Opens (or creates) the WAL at `path`; returns the records to restore consensus from.
    pub fn open(path: &Path) -> Result<(Self, Vec<WalRecord>, ReplayReport), WalError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| WalError::Storage(e.to_string()))?;
        }
        let (wal, payloads, report) =
            Wal::open(path).map_err(|e| WalError::Storage(e.to_string()))?;
        let records = payloads
            .iter()
            .enumerate()
            .map(|(index, p)| decode(p).map_err(|reason| WalError::Record { index, reason }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((
            Self {
                wal,
                records: records.clone(),
            },
            records,
            report,
        ))
    }

    /// Appends a record and fsyncs: when this returns Ok the record is durable.
    pub fn write(&mut self, r: &WalRecord) -> Result<(), WalError> {
        self.write_all(std::slice::from_ref(r))
    }

    /// Appends records and fsyncs once: when this returns Ok they are all durable.
    pub fn write_all(&mut self, rs: &[WalRecord]) -> Result<(), WalError> {
        if rs.is_empty() {
            return Ok(());
        }
        for r in rs {
            self.wal
                .append(&encode(r))
                .map_err(|e| WalError::Storage(e.to_string()))?;
        }
        self.wal
            .sync()
            .map_err(|e| WalError::Storage(e.to_string()))?;
        self.records.extend_from_slice(rs);
        Ok(())
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Keeps only the records of views at or after `view` and the latest lock (views before it
    /// are decided: their blocks are committed), rewriting the file atomically.
    pub fn compact(&mut self, view: u64) -> Result<(), WalError> {
        let keep = compacted(&self.records, view);
        let payloads: Vec<Vec<u8>> = keep.iter().map(encode).collect();
        self.wal
            .rewrite(&payloads)
            .map_err(|e| WalError::Storage(e.to_string()))?;
        self.records = keep;
        Ok(())
    }
}

/// The node compacts its consensus WAL once it holds this many records (at a commit, to the
/// committed block's view), so the file and its in-memory copy stay bounded.
pub const WAL_COMPACT_AT: usize = 1_024;

/// What compaction to `view` keeps of `records`: this node's proposals, votes and view changes of
/// views at or after `view` (it acts only in its current view, never below the committed one),
/// and its latest lock.
pub fn compacted(records: &[WalRecord], view: u64) -> Vec<WalRecord> {
    let lock = records
        .iter()
        .filter_map(|r| match r {
            WalRecord::Locked(d) => Some(*d),
            _ => None,
        })
        .max_by_key(|d| (d.view, d.index));
    let mut keep: Vec<WalRecord> = records
        .iter()
        .filter(|r| match r {
            WalRecord::Proposed(d) | WalRecord::Voted(d) => d.view >= view,
            WalRecord::ViewChanged(v) => *v >= view,
            WalRecord::SentViewChange(vc) => vc.view >= view,
            WalRecord::Accepted(p) => p.block.data.view >= view,
            WalRecord::Locked(_) => false,
        })
        .cloned()
        .collect();
    if let Some(l) = lock {
        keep.push(WalRecord::Locked(l));
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbft::core::{Core, Out, Params};
    use crate::cbft::crypto::HashCrypto;
    use crate::cbft::sim::genesis;
    use platon_messages::cbft::{BlockInfo, CbftMsg, Proposal};
    use std::io::Write;
    use std::sync::Arc;

    fn slot(view: u64, index: u32, h: u8) -> VoteData {
        VoteData {
            epoch: 1,
            view,
            index,
            number: view * 10 + u64::from(index) + 1,
            hash: B256::repeat_byte(h),
        }
    }

    #[test]
    fn records_survive_reopen_a_torn_tail_is_cut_and_compaction_keeps_what_matters() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("consensus").join("wal");
        let recs = vec![
            WalRecord::Proposed(slot(1, 0, 1)),
            WalRecord::Voted(slot(1, 0, 1)),
            WalRecord::Locked(slot(1, 0, 1)),
            WalRecord::ViewChanged(1),
            WalRecord::Voted(slot(2, 0, 2)),
        ];
        {
            let (mut w, got, report) = ConsensusWal::open(&path).expect("open");
            assert!(got.is_empty() && report.records == 0);
            for r in &recs {
                w.write(r).expect("write");
            }
        }
        let (_, got, _) = ConsensusWal::open(&path).expect("reopen");
        assert_eq!(got, recs);
        // A crash in the middle of the next append: half a frame at the end.
        {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("file");
            f.write_all(&[0, 0, 0, 61, 0xff, 0xff]).expect("torn");
        }
        let (mut w, got, report) = ConsensusWal::open(&path).expect("torn tail is not fatal");
        assert_eq!(got, recs);
        assert!(report.torn_bytes_cut > 0);
        w.compact(2).expect("compact");
        let (_, got, _) = ConsensusWal::open(&path).expect("after compaction");
        assert_eq!(
            got,
            vec![
                WalRecord::Voted(slot(2, 0, 2)),
                WalRecord::Locked(slot(1, 0, 1))
            ]
        );
        assert!(decode(&[9]).is_err() && decode(&[2, 1, 2]).is_err());
    }

    #[test]
    fn a_restarted_validator_never_votes_twice_for_one_slot() {
        // Validator 1 voted for block A in view 0 slot 0, then crashed. Restored from its WAL, it
        // sees proposal B for the same slot and stays silent.
        let p = Params {
            validators: 4,
            amount: 5,
            period_ms: 1_000,
            responsive_ms: None,
            progress_timeout_ms: None,
            epoch: 1,
            round_blocks: 0,
        };
        let g = genesis(1);
        let a = slot(0, 0, 0xaa);
        let b = VoteData {
            number: 1,
            hash: B256::repeat_byte(0xbb),
            ..a
        };
        let wal = vec![WalRecord::Voted(VoteData { number: 1, ..a })];
        let mut core = Core::new(
            p.clone(),
            Some(1),
            Arc::new(HashCrypto::new(1)),
            g.clone(),
            &wal,
            0,
        );
        let signer = HashCrypto::new(p.proposer(0));
        use crate::cbft::core::Crypto as _;
        let prop = Proposal {
            block: BlockInfo {
                data: b,
                parent: g.data.hash,
                proposer: p.proposer(0),
            },
            payload: vec![],
            parent_qc: None,
            view_change_qc: None,
            signature: signer.sign(&b.signing_hash()),
        };
        core.on_message(CbftMsg::Prepare(Box::new(prop.clone())), 10);
        let outs = core.drain();
        assert!(
            !outs
                .iter()
                .any(|o| matches!(o, Out::Broadcast(CbftMsg::Vote(_)))),
            "no second vote for view 0 slot 0: {outs:?}"
        );
        // Without the WAL record it would have voted for B.
        let mut fresh = Core::new(p, Some(1), Arc::new(HashCrypto::new(1)), g, &[], 0);
        fresh.on_message(CbftMsg::Prepare(Box::new(prop)), 10);
        // It first asks for the block to be executed, and votes only once it is found valid.
        let outs = fresh.drain();
        assert!(outs.iter().any(|o| matches!(o, Out::Validate { .. })));
        assert!(!outs
            .iter()
            .any(|o| matches!(o, Out::Broadcast(CbftMsg::Vote(_)))));
        fresh.validated(b.hash, true, 11);
        assert!(fresh
            .drain()
            .iter()
            .any(|o| matches!(o, Out::Broadcast(CbftMsg::Vote(_)))));
    }
}

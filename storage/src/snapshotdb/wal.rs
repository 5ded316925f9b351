//! The snapshotdb write-ahead log: one file of framed records, each carrying a hash chained to the
//! previous record's, so that replay detects any change, loss or reordering.
//!
//! File: the magic `PSDBWAL1`, then frames
//! `[payload length: u32 BE][its bitwise complement: u32 BE][payload][chained hash: 32 bytes]`
//! where `hash_i = keccak256(payload_i ‖ hash_{i-1})` and `hash_0`'s predecessor is 32 zero bytes. For a
//! put, the payload is the record tag and the length-prefixed key and value, so the chain is the
//! design's `H(key ‖ value ‖ previous hash)` with unambiguous field boundaries.
//!
//! Replay: a last frame that is incomplete, or whose hash does not match, is a torn write: it is cut
//! and reported; so is a zero-filled tail. A bad frame followed by further data (a hash mismatch, or a
//! length whose complement does not match) is corruption: replay stops with an error that names the
//! file, the record and what to do. The length complement is what tells a damaged length in the middle
//! from a torn tail, so a corrupt length never silently drops the records after it.

use super::SnapshotError;
use alloy_primitives::{keccak256, B256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File magic and format version.
pub const MAGIC: &[u8; 8] = b"PSDBWAL1";
/// Largest payload accepted when reading (a corrupt length must not allocate gigabytes).
pub const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// What replay found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records replayed.
    pub records: u64,
    /// Bytes cut from a torn tail (0 when the file ended cleanly).
    pub torn_bytes_cut: u64,
}

/// An open WAL file positioned at its end.
#[derive(Debug)]
pub struct Wal {
    path: PathBuf,
    file: File,
    last_hash: B256,
    records: u64,
    unsynced: bool,
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> SnapshotError {
    SnapshotError::Io(format!("{what} {}: {e}", path.display()))
}

impl Wal {
    /// Opens (creating if absent) the WAL at `path`, returns every intact record's payload in order.
    /// A torn tail is truncated away (and reported); corruption before the tail is an error.
    pub fn open(path: &Path) -> Result<(Wal, Vec<Vec<u8>>, ReplayReport), SnapshotError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_err(path, "cannot open snapshot WAL", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_err(path, "cannot read snapshot WAL", e))?;
        if bytes.is_empty() {
            file.write_all(MAGIC)
                .map_err(|e| io_err(path, "cannot write snapshot WAL", e))?;
            file.sync_all()
                .map_err(|e| io_err(path, "cannot sync snapshot WAL", e))?;
            let wal = Wal {
                path: path.into(),
                file,
                last_hash: B256::ZERO,
                records: 0,
                unsynced: false,
            };
            return Ok((wal, Vec::new(), ReplayReport::default()));
        }
        let Parsed {
            payloads,
            end: pos,
            last_hash: prev,
            torn,
        } = parse(path, &bytes)?;
        if torn > 0 {
            file.set_len(pos as u64)
                .map_err(|e| io_err(path, "cannot truncate torn snapshot WAL tail", e))?;
            file.sync_all()
                .map_err(|e| io_err(path, "cannot sync snapshot WAL", e))?;
            tracing::warn!(file = %path.display(), bytes = torn, "snapshot WAL: torn last record cut");
        }
        file.seek(SeekFrom::Start(pos as u64))
            .map_err(|e| io_err(path, "cannot seek snapshot WAL", e))?;
        let report = ReplayReport {
            records: payloads.len() as u64,
            torn_bytes_cut: torn,
        };
        let wal = Wal {
            path: path.into(),
            file,
            last_hash: prev,
            records: report.records,
            unsynced: false,
        };
        Ok((wal, payloads, report))
    }

    /// Appends one record (buffered in the OS; durable after [`Wal::sync`]).
    pub fn append(&mut self, payload: &[u8]) -> Result<(), SnapshotError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(SnapshotError::Invalid(format!(
                "record of {} bytes exceeds {MAX_PAYLOAD}",
                payload.len()
            )));
        }
        let (frame, hash) = encode_frame(payload, &self.last_hash);
        self.file
            .write_all(&frame)
            .map_err(|e| io_err(&self.path, "cannot append to snapshot WAL", e))?;
        self.last_hash = hash;
        self.records += 1;
        self.unsynced = true;
        Ok(())
    }

    /// Makes every appended record durable (fsync). One call covers any number of appends. A failed
    /// fsync stops the process ([`crate::durable::fatal`]).
    pub fn sync(&mut self) -> Result<(), SnapshotError> {
        if let Some(fsync) = self.detach_sync()? {
            fsync.complete();
        }
        Ok(())
    }

    /// What [`Wal::sync`] would do, detached from the log so it can run without holding it: a handle
    /// to the file whose fsync covers every record appended so far (None when nothing is unsynced).
    /// The log counts as synced once [`PendingSync::complete`] returns.
    pub fn detach_sync(&mut self) -> Result<Option<PendingSync>, SnapshotError> {
        if !self.unsynced {
            return Ok(None);
        }
        let file = self
            .file
            .try_clone()
            .map_err(|e| io_err(&self.path, "cannot open the snapshot WAL again", e))?;
        self.unsynced = false;
        Ok(Some(PendingSync {
            file,
            path: self.path.clone(),
        }))
    }

    /// Records in the file.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Replaces the log with `payloads` (a compacted history): written to a temporary file, fsynced,
    /// renamed over the old one, and the directory fsynced, so a crash leaves the old or the new log.
    pub fn rewrite(&mut self, payloads: &[Vec<u8>]) -> Result<(), SnapshotError> {
        let tmp = self.path.with_extension("rewrite");
        {
            let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, "cannot create", e))?;
            f.write_all(MAGIC)
                .map_err(|e| io_err(&tmp, "cannot write", e))?;
            let mut prev = B256::ZERO;
            for p in payloads {
                let (frame, hash) = encode_frame(p, &prev);
                f.write_all(&frame)
                    .map_err(|e| io_err(&tmp, "cannot write", e))?;
                prev = hash;
            }
            if let Err(e) = f.sync_all() {
                crate::durable::fatal(&format!("fsync of {}", tmp.display()), &e);
            }
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| io_err(&self.path, "cannot replace", e))?;
        if let Some(dir) = self.path.parent() {
            if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
                crate::durable::fatal(&format!("fsync of {}", dir.display()), &e);
            }
        }
        let (wal, _, _) = Wal::open(&self.path)?;
        *self = wal;
        Ok(())
    }
}

/// An fsync of the WAL taken out of it ([`Wal::detach_sync`]).
#[derive(Debug)]
pub struct PendingSync {
    file: File,
    path: std::path::PathBuf,
}

impl PendingSync {
    /// Makes the records appended before [`Wal::detach_sync`] durable. A failed fsync stops the
    /// process ([`crate::durable::fatal`]), as in [`Wal::sync`].
    pub fn complete(self) {
        if let Err(e) = self.file.sync_data() {
            crate::durable::fatal(&format!("fsync of {}", self.path.display()), &e);
        }
    }
}

/// The intact records of a WAL image, where they end, and how many bytes after them are torn.
struct Parsed {
    payloads: Vec<Vec<u8>>,
    end: usize,
    last_hash: B256,
    torn: u64,
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Parsed, SnapshotError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::Corrupt(format!(
            "{} is not a snapshot WAL (bad magic); move it away and restore the data directory from a backup",
            path.display()
        )));
    }
    let mut payloads = Vec::new();
    let mut pos = MAGIC.len();
    let mut prev = B256::ZERO;
    let mut torn = 0u64;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let corrupt = |why: &str| {
            SnapshotError::Corrupt(format!(
                "{}: record {} at byte {pos} {why}; the log was altered or damaged in the middle. \
                 Restore the data directory from a backup",
                path.display(),
                payloads.len()
            ))
        };
        match parse_frame(rest) {
            Frame::Complete { payload, hash, len } => {
                if keccak256([payload, prev.as_slice()].concat()) == hash {
                    payloads.push(payload.to_vec());
                    prev = hash;
                    pos += len;
                } else if pos + len < bytes.len() {
                    return Err(corrupt(
                        "does not match the hash chain and more records follow",
                    ));
                } else {
                    torn = (bytes.len() - pos) as u64;
                    break;
                }
            }
            Frame::Incomplete => {
                torn = (bytes.len() - pos) as u64;
                break;
            }
            Frame::BadHeader if rest.iter().all(|b| *b == 0) => {
                torn = (bytes.len() - pos) as u64;
                break;
            }
            Frame::BadHeader => return Err(corrupt("has a damaged length field")),
        }
    }
    Ok(Parsed {
        payloads,
        end: pos,
        last_hash: prev,
        torn,
    })
}

/// Verifies a WAL without changing it: every record chains, and at most a torn tail follows them.
/// Returns the records and the replay report (what opening would cut).
pub fn verify(path: &Path) -> Result<(Vec<Vec<u8>>, ReplayReport), SnapshotError> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, "cannot read snapshot WAL", e))?;
    if bytes.is_empty() {
        return Ok((Vec::new(), ReplayReport::default()));
    }
    let p = parse(path, &bytes)?;
    let report = ReplayReport {
        records: p.payloads.len() as u64,
        torn_bytes_cut: p.torn,
    };
    Ok((p.payloads, report))
}

/// One frame for `payload` chained to `prev`, and the frame's hash.
fn encode_frame(payload: &[u8], prev: &B256) -> (Vec<u8>, B256) {
    let hash = keccak256([payload, prev.as_slice()].concat());
    let mut frame = Vec::with_capacity(payload.len() + 40);
    frame.extend_from_slice(&frame_header(payload.len()));
    frame.extend_from_slice(payload);
    frame.extend_from_slice(hash.as_slice());
    (frame, hash)
}

fn frame_header(len: usize) -> [u8; 8] {
    // Callers bound payloads by MAX_PAYLOAD, which fits in u32.
    let len = len as u32;
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(&len.to_be_bytes());
    h[4..].copy_from_slice(&(!len).to_be_bytes());
    h
}

enum Frame<'a> {
    Complete {
        payload: &'a [u8],
        hash: B256,
        len: usize,
    },
    Incomplete,
    BadHeader,
}

/// The frame at the start of `rest`.
fn parse_frame(rest: &[u8]) -> Frame<'_> {
    let (Some(len), Some(check)) = (rest.get(..4), rest.get(4..8)) else {
        return Frame::Incomplete;
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
    let check = u32::from_be_bytes([check[0], check[1], check[2], check[3]]);
    if check != !len || len as usize > MAX_PAYLOAD {
        return Frame::BadHeader;
    }
    let len = len as usize;
    match (rest.get(8..8 + len), rest.get(8 + len..8 + len + 32)) {
        (Some(payload), Some(hash)) => Frame::Complete {
            payload,
            hash: B256::from_slice(hash),
            len: 8 + len + 32,
        },
        _ => Frame::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_chain() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("wal");
        let (mut wal, got, _) = Wal::open(&path).expect("open");
        assert!(got.is_empty());
        for i in 0..5u8 {
            wal.append(&[i; 10]).expect("append");
        }
        wal.sync().expect("sync");
        drop(wal);
        let (wal, got, report) = Wal::open(&path).expect("reopen");
        assert_eq!(got.len(), 5);
        assert_eq!(got[3], vec![3u8; 10]);
        assert_eq!(
            report,
            ReplayReport {
                records: 5,
                torn_bytes_cut: 0
            }
        );
        assert_eq!(wal.records(), 5);
    }

    #[test]
    fn torn_tail_is_cut_and_middle_corruption_is_an_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("wal");
        let (mut wal, _, _) = Wal::open(&path).expect("open");
        for i in 0..4u8 {
            wal.append(&[i; 16]).expect("append");
        }
        wal.sync().expect("sync");
        drop(wal);
        let full = std::fs::read(&path).expect("read");
        // Torn: the last frame loses its last 7 bytes.
        std::fs::write(&path, &full[..full.len() - 7]).expect("write");
        let (mut wal, got, report) = Wal::open(&path).expect("torn tail is not fatal");
        assert_eq!(got.len(), 3);
        assert_eq!(report.torn_bytes_cut, (8 + 16 + 32 - 7) as u64);
        // Appending after the cut continues the chain.
        wal.append(&[9; 3]).expect("append");
        wal.sync().expect("sync");
        drop(wal);
        assert_eq!(Wal::open(&path).expect("reopen").1.len(), 4);
        // Corrupt: flip a byte in the second record's payload.
        let mut bytes = std::fs::read(&path).expect("read");
        let second = MAGIC.len() + (8 + 16 + 32);
        let mut payload_flipped = bytes.clone();
        payload_flipped[second + 8] ^= 0xff;
        std::fs::write(&path, &payload_flipped).expect("write");
        let msg = Wal::open(&path)
            .expect_err("corruption in the middle")
            .to_string();
        assert!(
            msg.contains("record 1") && msg.contains("hash chain") && msg.contains("backup"),
            "{msg}"
        );
        // A damaged length in the middle is corruption too, not a torn tail.
        bytes[second + 1] ^= 0x10;
        std::fs::write(&path, &bytes).expect("write");
        let msg = Wal::open(&path).expect_err("damaged length").to_string();
        assert!(msg.contains("record 1") && msg.contains("length"), "{msg}");
    }

    #[test]
    fn a_zero_filled_tail_is_torn() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("wal");
        let (mut wal, _, _) = Wal::open(&path).expect("open");
        wal.append(b"one").expect("append");
        wal.sync().expect("sync");
        drop(wal);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[0u8; 100]);
        std::fs::write(&path, &bytes).expect("write");
        let (_, got, report) = Wal::open(&path).expect("open");
        assert_eq!(got, vec![b"one".to_vec()]);
        assert_eq!(report.torn_bytes_cut, 100);
    }

    #[test]
    fn a_corrupted_last_record_is_treated_as_torn() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("wal");
        let (mut wal, _, _) = Wal::open(&path).expect("open");
        wal.append(b"one").expect("append");
        wal.append(b"two").expect("append");
        wal.sync().expect("sync");
        drop(wal);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let (_, got, report) = Wal::open(&path).expect("open");
        assert_eq!(got, vec![b"one".to_vec()]);
        assert!(report.torn_bytes_cut > 0);
    }

    #[test]
    fn rewrite_replaces_the_log_atomically() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("wal");
        let (mut wal, _, _) = Wal::open(&path).expect("open");
        wal.append(b"old").expect("append");
        wal.rewrite(&[b"a".to_vec(), b"b".to_vec()])
            .expect("rewrite");
        wal.append(b"c").expect("append");
        wal.sync().expect("sync");
        drop(wal);
        let got = Wal::open(&path).expect("open").1;
        assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert!(Wal::open(&dir.path().join("bad")).is_ok());
        std::fs::write(dir.path().join("bad2"), b"NOTAWAL!xx").expect("write");
        assert!(Wal::open(&dir.path().join("bad2")).is_err());
    }
}

//! Sync progress of a node that is behind the network: when it counts as syncing, how fast it
//! goes, what `eth_syncing` answers and what the terminal shows. The tracker is pure (the caller
//! passes the time); `cbft` feeds it and the RPC gateway reads the shared [`SyncStatus`].

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What the RPC gateway reads: whether the node is syncing and between which heights.
#[derive(Debug, Default)]
pub struct SyncStatus {
    syncing: AtomicBool,
    starting: AtomicU64,
    highest: AtomicU64,
}

impl SyncStatus {
    /// `eth_syncing` with geth's fields for a node at `current`: false when not syncing.
    pub fn eth_syncing(&self, current: u64) -> Value {
        if !self.syncing.load(Ordering::Acquire) {
            return json!(false);
        }
        let starting = self.starting.load(Ordering::Acquire);
        let highest = self.highest.load(Ordering::Acquire).max(current);
        eth_syncing_json(starting, current, highest)
    }

    fn set(&self, p: Option<(u64, u64)>) {
        match p {
            Some((starting, highest)) => {
                self.starting.store(starting, Ordering::Release);
                self.highest.store(highest, Ordering::Release);
                self.syncing.store(true, Ordering::Release);
            }
            None => self.syncing.store(false, Ordering::Release),
        }
    }
}

/// geth's `eth_syncing` object. The snap-sync counters are zero: this node replays blocks.
pub fn eth_syncing_json(starting: u64, current: u64, highest: u64) -> Value {
    let q = |n: u64| format!("{n:#x}");
    json!({
        "startingBlock": q(starting),
        "currentBlock": q(current),
        "highestBlock": q(highest),
        "syncedAccounts": "0x0",
        "syncedAccountBytes": "0x0",
        "syncedBytecodes": "0x0",
        "syncedBytecodeBytes": "0x0",
        "syncedStorage": "0x0",
        "syncedStorageBytes": "0x0",
        "healedTrienodes": "0x0",
        "healedTrienodeBytes": "0x0",
        "healedBytecodes": "0x0",
        "healedBytecodeBytes": "0x0",
        "healingTrienodes": "0x0",
        "healingBytecode": "0x0",
        "txIndexFinishedBlocks": "0x0",
        "txIndexRemainingBlocks": "0x0",
    })
}

/// What the tracker has to say after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// Nothing new.
    Quiet,
    /// The node fell behind by more than the margin.
    Started {
        /// Its committed block.
        at: u64,
        /// The network's.
        highest: u64,
    },
    /// Periodic progress while syncing.
    Progress {
        /// Committed block now.
        current: u64,
        /// The network's.
        highest: u64,
        /// Done, in percent of the way from the start.
        percent: f64,
        /// Blocks a second since the last report.
        rate: f64,
        /// Seconds left at that rate (None when it made no progress).
        eta_secs: Option<u64>,
    },
    /// Caught up.
    Done {
        /// Blocks synced.
        blocks: u64,
        /// In this many ms.
        ms: u64,
    },
}

/// Decides when a node is syncing and measures its progress.
#[derive(Debug, Clone)]
pub struct Tracker {
    margin: u64,
    every_ms: u64,
    run: Option<Run>,
}

#[derive(Debug, Clone)]
struct Run {
    start_block: u64,
    start_ms: u64,
    last_block: u64,
    last_ms: u64,
}

impl Tracker {
    /// A node counts as syncing while more than `margin` blocks behind; progress is reported
    /// every `every_ms`.
    pub fn new(margin: u64, every_ms: u64) -> Self {
        Tracker {
            margin,
            every_ms: every_ms.max(1),
            run: None,
        }
    }

    /// The node is at `current`, the network at `highest`, the time is `now` (ms).
    pub fn update(&mut self, current: u64, highest: u64, now: u64) -> Report {
        let behind = highest.saturating_sub(current) > self.margin;
        match (&mut self.run, behind) {
            (None, false) => Report::Quiet,
            (None, true) => {
                self.run = Some(Run {
                    start_block: current,
                    start_ms: now,
                    last_block: current,
                    last_ms: now,
                });
                Report::Started {
                    at: current,
                    highest,
                }
            }
            (Some(r), false) => {
                let report = Report::Done {
                    blocks: current.saturating_sub(r.start_block),
                    ms: now.saturating_sub(r.start_ms),
                };
                self.run = None;
                report
            }
            (Some(r), true) => {
                let dt = now.saturating_sub(r.last_ms);
                if dt < self.every_ms {
                    return Report::Quiet;
                }
                let rate = current.saturating_sub(r.last_block) as f64 * 1000.0 / dt as f64;
                let span = highest.saturating_sub(r.start_block).max(1);
                let percent = current.saturating_sub(r.start_block) as f64 * 100.0 / span as f64;
                let left = highest.saturating_sub(current);
                let eta_secs = (rate > 0.0).then(|| (left as f64 / rate).ceil() as u64);
                r.last_block = current;
                r.last_ms = now;
                Report::Progress {
                    current,
                    highest,
                    percent,
                    rate,
                    eta_secs,
                }
            }
        }
    }

    /// Publishes the state for `eth_syncing`.
    pub fn publish(&self, status: &SyncStatus, highest: u64) {
        status.set(self.run.as_ref().map(|r| (r.start_block, highest)));
    }

    /// Whether a run is under way.
    pub fn syncing(&self) -> bool {
        self.run.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_behind_syncs_reports_progress_and_catches_up() {
        let mut t = Tracker::new(20, 5_000);
        let status = SyncStatus::default();
        assert_eq!(t.update(100, 110, 0), Report::Quiet, "within the margin");
        t.publish(&status, 110);
        assert_eq!(status.eth_syncing(100), json!(false));

        assert_eq!(
            t.update(100, 1_100, 1_000),
            Report::Started {
                at: 100,
                highest: 1_100
            }
        );
        t.publish(&status, 1_100);
        let s = status.eth_syncing(350);
        assert_eq!(s["startingBlock"], "0x64");
        assert_eq!(s["currentBlock"], "0x15e");
        assert_eq!(s["highestBlock"], "0x44c");
        assert_eq!(s["healedTrienodes"], "0x0");

        assert_eq!(
            t.update(300, 1_100, 3_000),
            Report::Quiet,
            "before the interval"
        );
        match t.update(600, 1_100, 6_000) {
            Report::Progress {
                current,
                highest,
                percent,
                rate,
                eta_secs,
            } => {
                assert_eq!((current, highest), (600, 1_100));
                assert!((percent - 50.0).abs() < 1e-9, "{percent}");
                assert!((rate - 100.0).abs() < 1e-9, "{rate}");
                assert_eq!(eta_secs, Some(5));
            }
            r => panic!("{r:?}"),
        }
        // No progress: no ETA.
        match t.update(600, 1_100, 12_000) {
            Report::Progress { eta_secs, rate, .. } => {
                assert_eq!(eta_secs, None);
                assert_eq!(rate, 0.0);
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(
            t.update(1_095, 1_100, 14_000),
            Report::Done {
                blocks: 995,
                ms: 13_000
            }
        );
        t.publish(&status, 1_100);
        assert_eq!(status.eth_syncing(1_095), json!(false));
        assert!(!t.syncing());
    }

    #[test]
    fn a_highest_below_current_never_counts_as_behind() {
        let mut t = Tracker::new(0, 1);
        assert_eq!(t.update(50, 10, 0), Report::Quiet);
        assert_eq!(eth_syncing_json(1, 2, 3)["currentBlock"], "0x2");
    }
}

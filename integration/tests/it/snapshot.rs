//! The `snapshot` actor in a running node: group commit, refusal of bad records, and recovery from
//! the WAL after a hot restart (which, rest_for_one, also restarts `chain` started after it).

use crate::common::*;
use alloy_primitives::B256;
use platon_actors::handles::SnapshotHandle;
use platon_config::NodeConfig;
use platon_messages::snapshot::{At, Record};
use platon_supervision::{ActorStatus, Fault};
use std::time::Duration;

fn block(number: u64, parent: B256, hash: B256, key: &[u8], value: &[u8]) -> Vec<Record> {
    vec![
        Record::NewBlock { number, parent },
        Record::Put {
            key: key.to_vec(),
            value: value.to_vec(),
        },
        Record::Seal { hash },
    ]
}

/// An in-process dev node's configuration: data under `dir/data`, ports chosen here.
fn dev_config(dir: &std::path::Path) -> NodeConfig {
    let mut cfg = NodeConfig {
        datadir: Some(dir.join("data")),
        ..Default::default()
    };
    cfg.dev.enabled = true;
    (cfg.http.port, cfg.admin.port) = free_port_pair();
    cfg
}

#[test]
fn group_commit_refusal_and_recovery_after_restart() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = dev_config(tmp.path());
    cfg.admin.faults = true;
    let node = rt.block_on(platon_node::start(cfg)).expect("node");
    let reg = node.tree.registry.clone();
    let snap = SnapshotHandle(reg.clone());
    let genesis = node
        .ctx
        .store
        .block_by_number(0)
        .expect("read")
        .expect("genesis")
        .hash();
    rt.block_on(async {
        // 64 writers queue up behind a stalled actor, then share fsyncs.
        let syncs_before = snap.status().await.expect("status").syncs;
        reg.inject_fault("snapshot", Fault::Stall(Duration::from_millis(300)))
            .expect("stall");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let writes: Vec<_> = (1..=64u8)
            .map(|i| {
                let s = snap.clone();
                tokio::spawn(async move {
                    s.write(block(1, genesis, B256::repeat_byte(i), b"k", &[i]))
                        .await
                })
            })
            .collect();
        for w in writes {
            w.await
                .expect("join")
                .expect("reachable")
                .expect("accepted");
        }
        let syncs = snap.status().await.expect("status").syncs - syncs_before;
        assert!(
            syncs < 8,
            "64 queued writes took {syncs} fsyncs; group commit should share them"
        );

        // A refused record: the reply says why; nothing else changes.
        let refused = snap
            .write(vec![Record::Commit {
                hash: B256::repeat_byte(0xaa),
            }])
            .await
            .expect("reachable");
        assert!(refused
            .expect_err("unknown block")
            .contains("not recognized"));
        // Hot restart: the recognized blocks come back from the WAL.
        let chain_restarts = reg.info("chain").expect("chain").restarts;
        reg.inject_fault("snapshot", Fault::Panic).expect("panic");
        let status = wait_for_async(&snap).await;
        assert_eq!(status.highest.number, 0);
        for i in [1u8, 7, 64] {
            assert_eq!(
                snap.get(At::Block(B256::repeat_byte(i)), b"k".to_vec())
                    .await
                    .expect("reachable")
                    .expect("get"),
                Some(vec![i])
            );
        }
        // A commit the chain store never recorded (the chain is still at genesis) is undone at the
        // next start: the chain is the record.
        snap.write(vec![Record::Commit {
            hash: B256::repeat_byte(7),
        }])
        .await
        .expect("reachable")
        .expect("commit");
        assert_eq!(snap.status().await.expect("status").highest.number, 1);
        reg.inject_fault("snapshot", Fault::Panic).expect("panic");
        let status = wait_for_async(&snap).await;
        assert_eq!(status.highest.number, 0, "undone");
        assert!(snap
            .get(At::Block(B256::repeat_byte(7)), b"k".to_vec())
            .await
            .expect("reachable")
            .is_err());
        let chain = reg.info("chain").expect("chain");
        assert_eq!(
            chain.restarts,
            chain_restarts + 2,
            "rest_for_one restarts chain after snapshot, each time"
        );
        assert_eq!(chain.status, ActorStatus::Running);
        assert_eq!(reg.info("snapshot").expect("snapshot").restarts, 2);
    });
    assert!(node.datadir.join("snapshot").join("snapshot.wal").is_file());
    rt.block_on(node.shutdown());
    // `db check` verifies the WAL chain and reports what it holds: nothing, as undoing the commit
    // rewrote the log without it and without the recognized blocks (pending blocks are executed
    // again after a restart).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--dev", "--datadir"])
        .arg(tmp.path().join("data"))
        .output()
        .expect("db check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("snapshotdb WAL chain intact (0 records, committed block 0, base block 0)"),
        "{stdout}"
    );
}

async fn wait_for_async(snap: &SnapshotHandle) -> platon_messages::actors::SnapshotStatus {
    for _ in 0..200 {
        if let Ok(s) = snap.status().await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("snapshot actor never came back");
}

fn db_check(datadir: &std::path::Path) -> (bool, String) {
    cli(&["db", "check", "--datadir", datadir.to_str().expect("utf8")])
}

/// A one-validator PPoS chain (rounds of 10 blocks) keeps its staking data in snapshotdb: after
/// SIGKILL the node replays the WAL and resumes with the same candidates, verifiers and validators,
/// and `db check` verifies the committed blocks' data against their state roots. Then one value in a
/// committed block of the WAL is changed and the WAL rewritten with a valid frame chain (so only the
/// state roots can tell): `db check` fails, and the node refuses to start rather than diverge.
#[test]
fn staking_data_survives_sigkill_and_a_diverged_snapshotdb_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (config, datadir) =
        one_validator_net(tmp.path(), &["--round-blocks", "10", "--period-ms", "1000"]);
    let staking = |p: u16| {
        [
            "platon_getCandidateList",
            "platon_getVerifierList",
            "platon_getValidatorList",
        ]
        .map(|m| rpc(p, m, serde_json::json!([])))
    };
    let mut node = run_config(&config, tmp.path(), &[]).expect("start");
    let reached = wait_for("block 25", Duration::from_secs(60), || {
        block_number(node.http).filter(|n| *n >= 25)
    });
    let before = staking(node.http);
    assert!(
        before[0].as_array().is_some_and(|c| !c.is_empty()),
        "candidates: {:?}",
        before[0]
    );
    node.kill9();
    let (ok, report) = db_check(&datadir);
    assert!(ok, "{report}");
    assert!(report.contains("staking data of"), "{report}");

    let mut node = run_config(&config, tmp.path(), &[]).expect("restart");
    let after_restart = staking(node.http);
    assert_eq!(
        before, after_restart,
        "the same staking data after the restart"
    );
    wait_for("blocks after the restart", Duration::from_secs(60), || {
        block_number(node.http).filter(|n| *n >= reached + 12)
    });
    assert!(
        node.log_text()
            .contains("committed staking data matches the state roots"),
        "{}",
        node.log_text()
    );
    node.kill9();

    // Change one value of a committed block, keeping the WAL's own hash chain valid.
    let wal_path = datadir
        .join(platon_actors::snapshot::SNAPSHOT_DIR)
        .join(platon_storage::snapshotdb::WAL_FILE);
    let (mut wal, payloads, _) =
        platon_storage::snapshotdb::wal::Wal::open(&wal_path).expect("wal");
    let mut changed = false;
    let payloads: Vec<Vec<u8>> = payloads
        .into_iter()
        .map(|p| {
            let rec = platon_storage::snapshotdb::decode_record(&p).expect("record");
            match rec {
                Record::Put { key, mut value } if !changed && !value.is_empty() => {
                    changed = true;
                    let last = value.len() - 1;
                    value[last] ^= 1;
                    platon_storage::snapshotdb::encode_record(&Record::Put { key, value })
                }
                _ => p,
            }
        })
        .collect();
    assert!(changed, "the log holds staking writes");
    wal.rewrite(&payloads).expect("rewrite");
    drop(wal);
    let (ok, report) = db_check(&datadir);
    assert!(!ok, "db check passed a diverged snapshotdb: {report}");
    assert!(report.contains("diverged from the chain"), "{report}");
    let refused = run_config(&config, tmp.path(), &[])
        .map(|_| ())
        .expect_err("the node started on a diverged snapshotdb");
    assert!(refused.contains("diverged from the chain"), "{refused}");
}

/// The actor compacts as blocks commit (`state.snapshot_keep` = 8: compaction once 16 committed
/// blocks piled up): the base moves on, reads see the newest values, and the WAL stays bounded.
#[test]
fn the_actor_compacts_committed_blocks_and_keeps_its_log_bounded() {
    use platon_messages::{Block, ExecutedBlock, Header};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = dev_config(tmp.path());
    cfg.state.snapshot_keep = 8;
    let node = rt.block_on(platon_node::start(cfg)).expect("node");
    let snap = SnapshotHandle(node.tree.registry.clone());
    let mut parent = node.ctx.store.head_header().expect("genesis");
    let wal = node.datadir.join("snapshot").join("snapshot.wal");
    let mut sizes = Vec::new();
    rt.block_on(async {
        for n in 1..=80u64 {
            let header = Header {
                parent_hash: parent.hash(),
                number: n,
                timestamp: n,
                ..parent.clone()
            };
            let mut writes = std::collections::BTreeMap::new();
            writes.insert(
                format!("k{}", n % 3).into_bytes(),
                Some(n.to_be_bytes().to_vec()),
            );
            writes.insert(b"many".to_vec(), Some(vec![n as u8; 200]));
            let executed = ExecutedBlock {
                block: Block {
                    header: header.clone(),
                    transactions: vec![],
                },
                receipts: vec![],
                state_nodes: vec![],
                codes: vec![],
                rejected: vec![],
                snapshot: writes,
            };
            assert!(snap
                .commit_block(&executed)
                .await
                .expect("reachable")
                .expect("commit"));
            parent = header;
            if n % 20 == 0 {
                sizes.push(std::fs::metadata(&wal).expect("wal").len());
            }
        }
        let status = snap.status().await.expect("status");
        assert_eq!(status.highest.number, 80);
        assert!(
            (64..80).contains(&status.base.number),
            "the base moved on: {status:?}"
        );
        for (k, n) in [("k0", 78u64), ("k1", 79), ("k2", 80)] {
            assert_eq!(
                snap.get(At::Head, k.as_bytes().to_vec())
                    .await
                    .expect("reachable")
                    .expect("get"),
                Some(n.to_be_bytes().to_vec())
            );
        }
    });
    // Never more than 16 blocks in the log: its size does not grow with the chain.
    let max = *sizes.iter().max().expect("sizes");
    // (A block here logs about 540 bytes: its two writes, its seal and its commit.)
    assert!(max < 16 * 600, "the WAL grew to {max} bytes: {sizes:?}");
    rt.block_on(node.shutdown());
}

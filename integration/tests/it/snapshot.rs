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

#[test]
fn group_commit_refusal_and_recovery_after_restart() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = NodeConfig {
        datadir: Some(tmp.path().join("data")),
        ..Default::default()
    };
    cfg.dev.enabled = true;
    cfg.admin.faults = true;
    cfg.http.port = free_port();
    cfg.admin.port = free_port();
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
        snap.write(vec![Record::Commit {
            hash: B256::repeat_byte(7),
        }])
        .await
        .expect("reachable")
        .expect("commit");
        snap.write(block(
            2,
            B256::repeat_byte(7),
            B256::repeat_byte(0x77),
            b"k",
            b"two",
        ))
        .await
        .expect("reachable")
        .expect("b2");

        // Hot restart: the state comes back from the WAL.
        let chain_restarts = reg.info("chain").expect("chain").restarts;
        reg.inject_fault("snapshot", Fault::Panic).expect("panic");
        let status = wait_for_async(&snap).await;
        assert_eq!(status.highest.number, 1);
        assert_eq!(status.highest.hash, B256::repeat_byte(7));
        assert_eq!(
            snap.get(At::Head, b"k".to_vec())
                .await
                .expect("reachable")
                .expect("get"),
            Some(vec![7])
        );
        assert_eq!(
            snap.get(At::Block(B256::repeat_byte(0x77)), b"k".to_vec())
                .await
                .expect("reachable")
                .expect("get"),
            Some(b"two".to_vec())
        );
        // Competing blocks at height 1 were discarded by the commit of block 7.
        assert!(snap
            .get(At::Block(B256::repeat_byte(8)), b"k".to_vec())
            .await
            .expect("reachable")
            .is_err());
        let chain = reg.info("chain").expect("chain");
        assert_eq!(
            chain.restarts,
            chain_restarts + 1,
            "rest_for_one restarts chain after snapshot"
        );
        assert_eq!(chain.status, ActorStatus::Running);
        assert_eq!(reg.info("snapshot").expect("snapshot").restarts, 1);
    });
    assert!(node.datadir.join("snapshot").join("snapshot.wal").is_file());
    rt.block_on(node.shutdown());
    // `db check` verifies the WAL chain and reports what it holds: 64 blocks of 3 records, a commit,
    // and block 2's 3 records (discarded siblings stay in the log until compaction).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_platon"))
        .args(["db", "check", "--dev", "--datadir"])
        .arg(tmp.path().join("data"))
        .output()
        .expect("db check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout
            .contains("snapshotdb WAL chain intact (196 records, committed block 1, base block 0)"),
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

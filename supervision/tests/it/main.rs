//! Integration tests of the supervision tree: strategies, restart types, budgets, the registry,
//! bounded mailboxes and fault injection, on the real ractor runtime.

use platon_supervision::*;
use ractor::RpcReplyPort;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug)]
enum Msg {
    Incarnation(RpcReplyPort<u64>),
    Fail,
    Exit,
}

struct Probe {
    starts: Arc<AtomicU64>,
}

impl Service for Probe {
    type Msg = Msg;
    type State = u64;
    async fn init(&self, _ctx: &Ctx<Msg>) -> Result<u64, BoxError> {
        Ok(self.starts.fetch_add(1, Ordering::SeqCst) + 1)
    }
    async fn handle(&self, ctx: &Ctx<Msg>, msg: Msg, state: &mut u64) -> Result<(), BoxError> {
        match msg {
            Msg::Incarnation(r) => {
                let _ = r.send(*state);
            }
            Msg::Fail => return Err("asked to fail".into()),
            Msg::Exit => ctx.stop_self("asked to exit"),
        }
        Ok(())
    }
}

struct Tree {
    handle: TreeHandle,
    starts: Vec<Arc<AtomicU64>>,
}

async fn tree(strategy: Strategy, restarts: &[Restart], budget: Budget) -> Tree {
    let registry = Registry::new(true, Duration::from_secs(2));
    let mut starts = Vec::new();
    let mut children = Vec::new();
    for (i, r) in restarts.iter().enumerate() {
        let s = Arc::new(AtomicU64::new(0));
        starts.push(s.clone());
        children.push(ChildSpec::worker(
            &format!("w{i}"),
            *r,
            4,
            Probe { starts: s },
        ));
    }
    let group = SupervisorSpec {
        name: "group".into(),
        strategy,
        budget,
        children,
    };
    let root = SupervisorSpec {
        name: "node".into(),
        strategy: Strategy::OneForOne,
        budget: Budget::new(0, Duration::from_secs(1)),
        children: vec![ChildSpec::supervisor(group, Restart::Permanent)],
    };
    Tree {
        handle: start_tree(root, registry).await.expect("tree starts"),
        starts,
    }
}

async fn incarnation(reg: &Arc<Registry>, name: &str) -> u64 {
    for _ in 0..200 {
        if let Ok(addr) = reg.lookup::<Msg>(name) {
            if let Ok(v) = addr.call(Msg::Incarnation).await {
                return v;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never answered");
}

fn count(starts: &[Arc<AtomicU64>]) -> Vec<u64> {
    starts.iter().map(|s| s.load(Ordering::SeqCst)).collect()
}

#[tokio::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let t = tree(
        Strategy::OneForOne,
        &[Restart::Permanent; 3],
        Budget::new(5, Duration::from_secs(10)),
    )
    .await;
    let reg = t.handle.registry.clone();
    reg.inject_fault("w1", Fault::Panic).expect("inject");
    assert_eq!(incarnation(&reg, "w1").await, 2);
    assert_eq!(count(&t.starts), vec![1, 2, 1]);
    let info = reg.info("w1").expect("info");
    assert_eq!(info.restarts, 1);
    assert!(
        info.last_failure
            .as_deref()
            .unwrap_or("")
            .contains("injected fault"),
        "{info:?}"
    );
    assert_eq!(info.parent.as_deref(), Some("group"));
    assert_eq!(reg.info("w0").expect("info").restarts, 0);
}

#[tokio::test]
async fn one_for_all_restarts_every_child() {
    let t = tree(
        Strategy::OneForAll,
        &[Restart::Permanent; 3],
        Budget::new(5, Duration::from_secs(10)),
    )
    .await;
    let reg = t.handle.registry.clone();
    reg.lookup::<Msg>("w2")
        .expect("addr")
        .send(Msg::Fail)
        .expect("send");
    assert_eq!(incarnation(&reg, "w2").await, 2);
    assert_eq!(incarnation(&reg, "w0").await, 2);
    assert_eq!(count(&t.starts), vec![2, 2, 2]);
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_later_ones() {
    let t = tree(
        Strategy::RestForOne,
        &[Restart::Permanent; 3],
        Budget::new(5, Duration::from_secs(10)),
    )
    .await;
    let reg = t.handle.registry.clone();
    reg.inject_fault("w1", Fault::Panic).expect("inject");
    // w2 is stopped before w1 restarts, so once w1 answers, w2 is the new incarnation (or starting).
    assert_eq!(incarnation(&reg, "w1").await, 2);
    assert_eq!(incarnation(&reg, "w2").await, 2);
    assert_eq!(count(&t.starts), vec![1, 2, 2]);
}

#[tokio::test]
async fn restart_types_decide_what_comes_back() {
    let t = tree(
        Strategy::OneForOne,
        &[
            Restart::Permanent,
            Restart::Transient,
            Restart::Temporary,
            Restart::Transient,
        ],
        Budget::new(10, Duration::from_secs(10)),
    )
    .await;
    let reg = t.handle.registry.clone();
    // Permanent: a normal exit is restarted.
    reg.lookup::<Msg>("w0")
        .expect("addr")
        .send(Msg::Exit)
        .expect("send");
    assert_eq!(incarnation(&reg, "w0").await, 2);
    // Transient: a normal exit is final, a failure is restarted.
    reg.lookup::<Msg>("w1")
        .expect("addr")
        .send(Msg::Exit)
        .expect("send");
    reg.lookup::<Msg>("w3")
        .expect("addr")
        .send(Msg::Fail)
        .expect("send");
    assert_eq!(incarnation(&reg, "w3").await, 2);
    // Temporary: even a failure is final.
    reg.lookup::<Msg>("w2")
        .expect("addr")
        .send(Msg::Fail)
        .expect("send");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(reg.info("w1").expect("info").status, ActorStatus::Stopped);
    assert_eq!(reg.info("w2").expect("info").status, ActorStatus::Failed);
    let err = reg.lookup::<Msg>("w2").expect_err("gone");
    assert!(
        err.is_retryable(),
        "a stopped actor reads as not running: {err}"
    );
    assert_eq!(count(&t.starts), vec![2, 1, 1, 2]);
}

#[tokio::test]
async fn exceeded_budget_fails_upward_and_stops_the_tree() {
    let t = tree(
        Strategy::OneForOne,
        &[Restart::Permanent; 2],
        Budget::new(2, Duration::from_secs(30)),
    )
    .await;
    let reg = t.handle.registry.clone();
    for expected in 2..=3 {
        reg.inject_fault("w0", Fault::Panic).expect("inject");
        assert_eq!(incarnation(&reg, "w0").await, expected);
    }
    // The third failure within the window exceeds the budget of 2: the group fails, and the root
    // (budget 0) stops the whole tree.
    reg.inject_fault("w0", Fault::Panic).expect("inject");
    tokio::time::timeout(Duration::from_secs(10), t.handle.join)
        .await
        .expect("root stops")
        .expect("join");
    let group = reg.info("group").expect("info");
    assert!(
        group
            .last_failure
            .as_deref()
            .unwrap_or("")
            .contains("restart budget exceeded"),
        "{group:?}"
    );
    let root = reg.info("node").expect("info");
    assert!(
        root.last_failure.as_deref().unwrap_or("").contains("group"),
        "{root:?}"
    );
    assert!(reg.lookup::<Msg>("w1").is_err(), "siblings were stopped");
}

#[tokio::test]
async fn mailbox_bound_rejects_and_counts_and_drop_fault_drops() {
    let t = tree(
        Strategy::OneForOne,
        &[Restart::Permanent],
        Budget::new(5, Duration::from_secs(10)),
    )
    .await;
    let reg = t.handle.registry.clone();
    reg.inject_fault("w0", Fault::Stall(Duration::from_millis(500)))
        .expect("inject");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let addr = reg.lookup::<Msg>("w0").expect("addr");
    let mut pending = Vec::new();
    for _ in 0..4 {
        let a = addr.clone();
        pending.push(tokio::spawn(async move { a.call(Msg::Incarnation).await }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = addr.call(Msg::Incarnation).await.expect_err("mailbox full");
    assert!(
        matches!(err, CallError::Overloaded { capacity: 4, .. }),
        "{err}"
    );
    assert_eq!(reg.info("w0").expect("info").messages_rejected, 1);
    for p in pending {
        assert_eq!(p.await.expect("join").expect("served after the stall"), 1);
    }
    reg.inject_fault("w0", Fault::Drop(1)).expect("inject");
    assert_eq!(
        addr.call(Msg::Incarnation).await,
        Err(CallError::Dropped("w0".into()))
    );
    assert_eq!(addr.call(Msg::Incarnation).await, Ok(1));
    let info = reg.info("w0").expect("info");
    assert_eq!(info.messages_dropped, 1);
    assert!(info.messages_handled >= 5);
    assert_eq!(info.messages_waiting, 0);
}

#[tokio::test]
async fn admin_restart_and_disabled_faults() {
    let t = tree(
        Strategy::OneForOne,
        &[Restart::Permanent; 2],
        Budget::new(0, Duration::from_secs(10)),
    )
    .await;
    let reg = t.handle.registry.clone();
    // An operator restart does not count against the budget (0 here).
    reg.restart("w1").await.expect("restart");
    assert_eq!(incarnation(&reg, "w1").await, 2);
    assert_eq!(reg.info("w1").expect("info").restarts, 1);
    assert!(matches!(
        reg.restart("nope").await,
        Err(CallError::Unknown(_))
    ));
    let snapshot = reg.snapshot();
    let names: Vec<&str> = snapshot.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["node", "group", "w0", "w1"]);

    let locked = Registry::new(false, Duration::from_secs(1));
    assert_eq!(
        locked.inject_fault("w0", Fault::Panic),
        Err(CallError::FaultsDisabled)
    );
}

/// Fails its first `fail_inits` starts after the first one.
struct Flaky {
    starts: Arc<AtomicU64>,
    fail_inits: Arc<AtomicU64>,
}

impl Service for Flaky {
    type Msg = Msg;
    type State = u64;
    async fn init(&self, _ctx: &Ctx<Msg>) -> Result<u64, BoxError> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        if n > 1 && self.fail_inits.load(Ordering::SeqCst) > 0 {
            self.fail_inits.fetch_sub(1, Ordering::SeqCst);
            return Err("storage not ready".into());
        }
        Ok(n)
    }
    async fn handle(&self, _ctx: &Ctx<Msg>, msg: Msg, state: &mut u64) -> Result<(), BoxError> {
        if let Msg::Incarnation(r) = msg {
            let _ = r.send(*state);
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_child_that_fails_to_restart_is_retried_within_the_budget() {
    for (fail_inits, budget, survives) in [(2u64, 5u32, true), (5, 3, false)] {
        let registry = Registry::new(true, Duration::from_secs(2));
        let starts = Arc::new(AtomicU64::new(0));
        let flaky = Flaky {
            starts: starts.clone(),
            fail_inits: Arc::new(AtomicU64::new(fail_inits)),
        };
        let spec = SupervisorSpec {
            name: "node".into(),
            strategy: Strategy::OneForOne,
            budget: Budget::new(budget, Duration::from_secs(30)),
            children: vec![ChildSpec::worker("flaky", Restart::Permanent, 4, flaky)],
        };
        let handle = start_tree(spec, registry.clone()).await.expect("starts");
        registry
            .inject_fault("flaky", Fault::Panic)
            .expect("inject");
        if survives {
            // 1 start + 2 failed starts + 1 good one.
            assert_eq!(incarnation(&registry, "flaky").await, 4);
            assert_eq!(registry.info("flaky").expect("info").restarts, 3);
        } else {
            tokio::time::timeout(Duration::from_secs(10), handle.join)
                .await
                .expect("gives up")
                .expect("join");
            let why = registry
                .info("node")
                .and_then(|i| i.last_failure)
                .unwrap_or_default();
            assert!(
                why.contains("restart budget exceeded") && why.contains("storage not ready"),
                "{why}"
            );
        }
    }
}

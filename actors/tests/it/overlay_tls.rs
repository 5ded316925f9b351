//! 64 overlay peers in one process over real loopback TLS sockets.

use platon_actors::handles::OverlayHandle;
use platon_actors::overlay::core::Params;
use platon_actors::overlay::service::{OverlayMsg, OverlayService, OverlaySettings, OverlayStats};
use platon_crypto::node_key::NodeKey;
use platon_messages::reload::{Contact, FloodTopic, NodeId};
use platon_supervision::{
    start_tree, Budget, ChildSpec, Registry, Restart, Strategy, SupervisorSpec, TreeHandle,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn settings(bootstrap: Vec<(Option<NodeId>, SocketAddr)>) -> OverlaySettings {
    let limits = LIMITS.with(|l| *l.borrow());
    OverlaySettings {
        max_messages_per_sec: limits.0,
        write_timeout_ms: limits.1,
        params: Params {
            k: 8,
            request_timeout: 2_000,
            refresh_interval: 5_000,
            ..Params::default()
        },
        bootstrap,
        ..OverlaySettings::default()
    }
}

thread_local! {
    /// Per-link limits of the peers a test starts next on this thread (messages a second, write
    /// timeout in ms).
    static LIMITS: std::cell::RefCell<(u32, u64)> = const { std::cell::RefCell::new((5_000, 10_000)) };
}

fn key(i: usize) -> Arc<NodeKey> {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1000).to_be_bytes());
    Arc::new(NodeKey::from_seed(&seed).expect("key"))
}

async fn start(
    registry: &Arc<Registry>,
    i: usize,
    bootstrap: Vec<SocketAddr>,
) -> (TreeHandle, NodeId, SocketAddr) {
    start_with(
        registry,
        i,
        bootstrap.into_iter().map(|a| (None, a)).collect(),
    )
    .await
}

/// A peer joining through bootstrap nodes whose Node-IDs it may know.
async fn start_with(
    registry: &Arc<Registry>,
    i: usize,
    bootstrap: Vec<(Option<NodeId>, SocketAddr)>,
) -> (TreeHandle, NodeId, SocketAddr) {
    let svc = OverlayService::new(settings(bootstrap), key(i), None);
    let id = svc.node_id();
    let bound = svc.bound();
    let spec = SupervisorSpec {
        name: format!("net-{i}"),
        strategy: Strategy::OneForOne,
        budget: Budget::new(3, Duration::from_secs(10)),
        children: vec![ChildSpec::worker(
            &format!("overlay-{i}"),
            Restart::Permanent,
            100_000,
            svc,
        )],
    };
    let tree = start_tree(spec, registry.clone()).await.expect("start");
    let addr = bound.lock().expect("bound");
    (tree, id, addr)
}

async fn call<T: Send + 'static>(
    reg: &Arc<Registry>,
    i: usize,
    f: impl FnOnce(ractor::RpcReplyPort<T>) -> OverlayMsg,
) -> T {
    OverlayHandle::new(reg.clone(), &format!("overlay-{i}"))
        .call(f)
        .await
        .expect("call")
}

/// Whether a lookup from peer `from` returns `target` among the closest nodes.
async fn lookup_finds(reg: &Arc<Registry>, from: usize, target: NodeId) -> bool {
    let (closest, _) = call(reg, from, |reply| OverlayMsg::Lookup { target, reply })
        .await
        .expect("lookup");
    closest.iter().any(|c| c.id == target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_peers_over_tls_find_each_other_flood_and_isolate_link_failures() {
    let n = 64;
    let registry = Registry::new(true, Duration::from_secs(30));
    let mut trees = Vec::new();
    let mut ids = Vec::new();
    let (t0, id0, addr0) = start(&registry, 0, vec![]).await;
    trees.push(t0);
    ids.push(id0);
    let mut addrs = vec![addr0];
    for i in 1..n {
        let (t, id, a) = start(&registry, i, vec![addr0]).await;
        trees.push(t);
        ids.push(id);
        addrs.push(a);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;

    // Lookups from many nodes for random targets return the true closest node.
    let mut hops = Vec::new();
    for q in 0..40u64 {
        let from = (q as usize * 17) % n;
        let target = NodeId(u128::from_be_bytes(
            platon_crypto::keccak256(q.to_be_bytes()).0[..16]
                .try_into()
                .expect("16"),
        ));
        let (closest, h) = call(&registry, from, |reply| OverlayMsg::Lookup {
            target,
            reply,
        })
        .await
        .expect("lookup");
        let mut cands: Vec<NodeId> = closest.iter().map(|c| c.id).collect();
        cands.push(ids[from]);
        let got = cands
            .into_iter()
            .min_by_key(|id| id.distance(&target))
            .expect("some");
        let want = *ids
            .iter()
            .min_by_key(|id| id.distance(&target))
            .expect("ids");
        assert_eq!(got, want, "lookup {q} from node {from}");
        hops.push(h);
    }
    let mean = hops.iter().sum::<u32>() as f64 / hops.len() as f64;
    let max = *hops.iter().max().expect("hops");
    println!("64 TLS peers: lookup hops mean {mean:.2}, max {max} (log2 N = 6)");
    assert!(max <= 6);

    // A flood reaches every node; copies per node reported.
    call::<()>(&registry, 9, |reply| {
        let _ = reply.send(());
        OverlayMsg::Flood {
            topic: FloodTopic::Other,
            payload: b"hello overlay".to_vec(),
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut copies = 0;
    for i in 0..n {
        let s: OverlayStats = call(&registry, i, OverlayMsg::Stats).await;
        if i != 9 {
            assert_eq!(s.protocol.floods_delivered, 1, "node {i} got the flood");
        }
        copies += s.protocol.flood_copies;
        assert_eq!(s.links.malformed, 0);
    }
    println!(
        "flood: {:.2} copies per node",
        copies as f64 / (n - 1) as f64
    );

    // A contact whose certificate gives another Node-ID is refused.
    let bogus = Contact {
        id: NodeId(0xdead_beef),
        addr: addrs[2],
    };
    let before: OverlayStats = call(&registry, 1, OverlayMsg::Stats).await;
    OverlayHandle::new(registry.clone(), "overlay-1")
        .dial(bogus)
        .expect("dial");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: OverlayStats = call(&registry, 1, OverlayMsg::Stats).await;
    assert_eq!(
        after.links.refused,
        before.links.refused + 1,
        "mismatched Node-ID refused"
    );
    let peers = call(&registry, 1, OverlayMsg::Peers).await;
    assert!(peers.iter().all(|p| p.id != bogus.id.to_string()));

    // One link fails: only that link goes; the overlay and its other links stay.
    let peers = call(&registry, 0, OverlayMsg::Peers).await;
    assert!(peers.len() >= 3);
    let victim = NodeId::from_hex(&peers[0].id).expect("id");
    OverlayHandle::new(registry.clone(), "overlay-0")
        .fail_link(victim)
        .expect("fail");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_peers = call(&registry, 0, OverlayMsg::Peers).await;
    let info = registry.info("overlay-0").expect("info");
    assert_eq!(info.restarts, 0, "the overlay actor did not restart");
    for p in &peers[1..] {
        assert!(
            after_peers.iter().any(|a| a.id == p.id),
            "link to {} survived",
            p.id
        );
    }
    let s: OverlayStats = call(&registry, 0, OverlayMsg::Stats).await;
    assert!(s.links.links_closed >= 1);
    // The overlay still works: a lookup of the failed peer finds it (a new link is opened).
    let (closest, _) = call(&registry, 0, |reply| OverlayMsg::Lookup {
        target: victim,
        reply,
    })
    .await
    .expect("lookup");
    assert_eq!(closest.first().map(|c| c.id), Some(victim));

    for t in trees {
        t.shutdown(Duration::from_secs(5)).await;
    }
}

mod signed {
    use super::key;
    use platon_actors::overlay::core::{Core, Effect, Params, Signer};
    use platon_actors::overlay::tls::Ed25519Signer;
    use platon_messages::reload::{
        error_code, kind, Body, Contact, DataValue, Destination, ForwardingHeader, KindData,
        Message, NodeId, ResourceId, SecurityBlock, Signature, StoredData, StoredDataValue,
    };
    use std::sync::Arc;

    fn contact(i: usize) -> Contact {
        Contact {
            id: NodeId::from_bytes(key(i).node_id()),
            addr: ([127, 0, 0, 1], 2000 + i as u16).into(),
        }
    }

    fn store_req(
        signer: &Ed25519Signer,
        to: NodeId,
        kind: u32,
        value: StoredDataValue,
        tamper: bool,
    ) -> Message {
        let resource = ResourceId::from_u128(77);
        let mut signature = signer
            .sign_data(&resource, kind, 1_000, &value)
            .expect("sign");
        if tamper {
            signature.value[0] ^= 1;
        }
        let body = Body::StoreReq {
            resource,
            replica_number: 0,
            kinds: vec![KindData {
                kind,
                generation: 0,
                values: vec![StoredData {
                    storage_time: 1_000,
                    lifetime: 60,
                    value,
                    signature,
                }],
            }],
        };
        let mut msg = Message {
            header: ForwardingHeader::new(
                Params::default().overlay,
                5,
                10,
                vec![Destination::Node(to)],
            ),
            code: body.code(),
            body: body.encode().expect("body"),
            extensions: vec![],
            security: SecurityBlock {
                certificates: vec![],
                signature: Signature::none(),
            },
        };
        signer.sign_message(&mut msg).expect("sign message");
        msg
    }

    fn answer(b: &mut Core) -> Option<Body> {
        b.drain().into_iter().find_map(|e| match e {
            Effect::Send { msg, .. } => Body::decode(msg.code, &msg.body).ok(),
            _ => None,
        })
    }

    #[test]
    fn signed_storage_refuses_forged_values_foreign_redir_keys_and_impostors() {
        let sa = Ed25519Signer::new(key(1));
        let mut b = Core::new(
            contact(2),
            Params::default(),
            Arc::new(Ed25519Signer::new(key(2))),
            0,
        );
        let single = StoredDataValue::Single(DataValue {
            exists: true,
            value: b"v".to_vec(),
        });

        b.on_message(
            contact(1),
            store_req(&sa, contact(2).id, kind::APP_VALUE, single.clone(), false),
            1_000,
        );
        assert!(
            matches!(answer(&mut b), Some(Body::StoreAns(_))),
            "a signed value is stored"
        );
        assert_eq!(b.store().len(), 1);

        b.on_message(
            contact(1),
            store_req(&sa, contact(2).id, kind::APP_VALUE, single.clone(), true),
            1_000,
        );
        assert!(
            matches!(
                answer(&mut b),
                Some(Body::Error {
                    code: error_code::FORBIDDEN,
                    ..
                })
            ),
            "a forged value is refused"
        );

        let foreign = StoredDataValue::Dictionary {
            key: contact(3).id.to_bytes().to_vec(),
            value: DataValue {
                exists: true,
                value: vec![0, 0],
            },
        };
        b.on_message(
            contact(1),
            store_req(&sa, contact(2).id, kind::REDIR, foreign, false),
            1_000,
        );
        assert!(
            matches!(
                answer(&mut b),
                Some(Body::Error {
                    code: error_code::FORBIDDEN,
                    ..
                })
            ),
            "ReDiR entries are node-match"
        );

        // Signed by node 1 but arriving on node 3's link as its own: refused without an answer.
        let before = b.stats().refused;
        b.on_message(
            contact(3),
            store_req(&sa, contact(2).id, kind::APP_VALUE, single, false),
            1_000,
        );
        assert!(answer(&mut b).is_none());
        assert_eq!(b.stats().refused, before + 1);
        assert_eq!(b.store().len(), 1);
    }
}

/// Hostile peers: an answer is taken only from the peer that was asked, transaction ids are
/// unpredictable once seeded, and an oversized frame is refused from its length field.
/// A bootstrap node named with its Node-ID must prove it: a node that answers at that address
/// with another certificate is refused (and counted), so a hijacked address cannot become the
/// entry point; with the right id the join goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_node_with_the_wrong_node_id_is_refused() {
    let registry = Registry::new(true, Duration::from_secs(30));
    let (_t0, id0, addr0) = start(&registry, 200, vec![]).await;
    let (_t1, _, _) = start_with(&registry, 201, vec![(Some(NodeId(0xbad)), addr0)]).await;
    let (_t2, id2, _) = start_with(&registry, 202, vec![(Some(id0), addr0)]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s1: OverlayStats = call(&registry, 201, OverlayMsg::Stats).await;
    assert!(
        s1.links.refused >= 1,
        "the impostor was refused: {:?}",
        s1.links
    );
    let peers1 = call(&registry, 201, OverlayMsg::Peers).await;
    assert!(
        peers1.is_empty(),
        "no link through a bootstrap node that is not who it should be"
    );
    let peers2 = call(&registry, 202, OverlayMsg::Peers).await;
    assert!(
        peers2.iter().any(|p| p.id == id0.to_string()),
        "joined through the right one"
    );
    let peers0 = call(&registry, 200, OverlayMsg::Peers).await;
    assert!(peers0.iter().any(|p| p.id == id2.to_string()));
}

fn flood(reg: &Arc<Registry>, i: usize, payload: Vec<u8>) {
    OverlayHandle::new(reg.clone(), &format!("overlay-{i}"))
        .flood(FloodTopic::Other, payload)
        .expect("flood");
}

/// A flooding peer: its link is held to `overlay.max_messages_per_sec`, the excess dropped and
/// counted, and the node keeps serving everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_over_its_message_rate_is_held_to_it_and_the_node_keeps_serving() {
    let registry = Registry::new(true, Duration::from_secs(30));
    LIMITS.with(|l| *l.borrow_mut() = (200, 10_000));
    let (_t0, id0, addr0) = start(&registry, 210, vec![]).await;
    LIMITS.with(|l| *l.borrow_mut() = (1_000_000, 10_000));
    let (_t1, _, _) = start(&registry, 211, vec![addr0]).await;
    let (_t2, id2, _) = start(&registry, 212, vec![addr0]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    for i in 0..5_000u32 {
        flood(&registry, 211, i.to_be_bytes().to_vec());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s0: OverlayStats = call(&registry, 210, OverlayMsg::Stats).await;
    assert!(
        s0.links.rate_limited > 1_000,
        "the flood was held to the rate: {:?}",
        s0.links
    );
    assert!(s0.protocol.floods_delivered < 2_000, "{:?}", s0.protocol);
    // The node still answers: a lookup from the quiet peer finds it.
    assert!(
        lookup_finds(&registry, 212, id0).await,
        "lookup after the flood"
    );
    let peers = call(&registry, 210, OverlayMsg::Peers).await;
    assert!(peers.iter().any(|p| p.id == id2.to_string()));
}

/// A peer that completes the handshake, then sends garbage: messages that do not decode inside
/// valid frames are dropped and counted while the link stays up, bytes that are not a frame are
/// counted and close the link, and the node keeps answering everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_from_an_authenticated_peer_is_counted_and_the_node_keeps_serving() {
    use platon_actors::overlay::service::open_raw_link;
    use platon_messages::reload::Frame;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let registry = Registry::new(true, Duration::from_secs(30));
    let (_t0, id0, addr0) = start(&registry, 230, vec![]).await;
    let (_t1, _, _) = start(&registry, 231, vec![addr0]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let listen: SocketAddr = ([127, 0, 0, 1], 9).into();
    let (peer, mut link) = open_raw_link(key(232), listen, Params::default().overlay, addr0)
        .await
        .expect("the hostile peer's link");
    assert_eq!(peer.id, id0);
    let before: OverlayStats = call(&registry, 230, OverlayMsg::Stats).await;
    // Not a RELOAD message (no RELO token): a valid frame around garbage.
    let data_frame = |sequence: u32, message: Vec<u8>| {
        Frame::Data { sequence, message }.encode().expect("frame")
    };
    for i in 0..50u32 {
        let junk: Vec<u8> = (0..200u32).map(|j| (i * 7 + j) as u8).collect();
        link.write_all(&data_frame(i, junk)).await.expect("write");
    }
    link.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mid: OverlayStats = call(&registry, 230, OverlayMsg::Stats).await;
    assert_eq!(
        mid.links.malformed,
        before.links.malformed + 50,
        "each garbage message is counted: {:?}",
        mid.links
    );
    // The link is still up: more garbage messages are still read and counted.
    link.write_all(&data_frame(50, vec![0xee; 40]))
        .await
        .expect("write");
    link.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let more: OverlayStats = call(&registry, 230, OverlayMsg::Stats).await;
    assert_eq!(more.links.malformed, mid.links.malformed + 1);
    // Bytes that are not a frame at all: counted, and the node closes the link.
    link.write_all(&[0x55; 64]).await.expect("write");
    link.flush().await.expect("flush");
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match link.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the node closes a link that sent a non-frame"
    );
    let after: OverlayStats = call(&registry, 230, OverlayMsg::Stats).await;
    assert_eq!(after.links.malformed, more.links.malformed + 1);
    // The node still serves: a lookup from an honest peer finds it.
    assert!(
        lookup_finds(&registry, 231, id0).await,
        "lookup after the garbage"
    );
}

/// A peer that stops reading: the link's writes stall, and after `write_timeout_ms` the link is
/// closed and counted instead of holding its queue forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_cut_off() {
    use tokio::io::AsyncWriteExt;
    let registry = Registry::new(true, Duration::from_secs(30));
    LIMITS.with(|l| *l.borrow_mut() = (1_000_000, 500));
    let (_t0, id0, addr0) = start(&registry, 220, vec![]).await;
    // A proxy in front of node 220 that forwards until told to stop reading from the dialer.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy");
    let proxy_addr = proxy.local_addr().expect("addr");
    let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let p = paused.clone();
    tokio::spawn(async move {
        let Ok((inbound, _)) = proxy.accept().await else {
            return;
        };
        let Ok(outbound) = tokio::net::TcpStream::connect(addr0).await else {
            return;
        };
        let (mut ir, mut iw) = inbound.into_split();
        let (mut or, mut ow) = outbound.into_split();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut or, &mut iw).await;
        });
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if p.load(std::sync::atomic::Ordering::Relaxed) {
                // Stops reading: the dialer's writes back up.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            use tokio::io::AsyncReadExt;
            match ir.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if ow.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let (_t1, _, _) = start_with(&registry, 221, vec![(Some(id0), proxy_addr)]).await;
    let linked = async {
        loop {
            let peers = call(&registry, 221, OverlayMsg::Peers).await;
            if peers.iter().any(|p| p.id == id0.to_string()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), linked)
        .await
        .expect("linked through the proxy");
    paused.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Enough to fill the socket buffers on the way.
    for _ in 0..64 {
        flood(&registry, 221, vec![7u8; 512 * 1024]);
    }
    let cut = async {
        loop {
            let s: OverlayStats = call(&registry, 221, OverlayMsg::Stats).await;
            if s.links.slow_peers >= 1 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), cut)
        .await
        .expect("the stalled write was given up");
    let closed = async {
        loop {
            let s: OverlayStats = call(&registry, 221, OverlayMsg::Stats).await;
            if s.links.links_closed >= 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .expect("the link to the peer that stopped reading was closed");
}

mod hostile {
    use super::key;
    use platon_actors::overlay::core::{Core, Effect, Params, Signer};
    use platon_actors::overlay::tls::Ed25519Signer;
    use platon_messages::reload::{Contact, Message, NodeId};
    use std::sync::Arc;

    fn contact(i: usize) -> Contact {
        Contact {
            id: NodeId::from_bytes(key(i).node_id()),
            addr: ([127, 0, 0, 1], 3000 + i as u16).into(),
        }
    }

    fn core(i: usize) -> Core {
        Core::new(
            contact(i),
            Params::default(),
            Arc::new(Ed25519Signer::new(key(i))),
            0,
        )
    }

    fn sends(c: &mut Core) -> Vec<(Contact, Message)> {
        c.drain()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send { to, msg } => Some((to, *msg)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_answer_from_a_peer_that_was_not_asked_is_dropped_and_counted() {
        let (mut a, mut b) = (core(11), core(12));
        a.seed_ids(rand::random());
        a.join(contact(12), 0);
        let requests = sends(&mut a);
        let (to, req) = requests
            .first()
            .cloned()
            .expect("a request to the bootstrap node");
        assert_eq!(to.id, contact(12).id);
        b.on_message(contact(11), req, 1);
        let answers = sends(&mut b);
        let (_, ans) = answers.first().cloned().expect("B answers");
        // B's answer relayed by C is refused by its signature (signed by someone else).
        let refused = a.stats().refused;
        a.on_message(contact(13), ans.clone(), 2);
        assert_eq!(a.stats().refused, refused + 1);
        // C (never asked) forges the answer under its own signature with the right transaction
        // id: the signature checks out, the answer is still dropped.
        let mut forged = ans.clone();
        Ed25519Signer::new(key(13))
            .sign_message(&mut forged)
            .expect("sign");
        a.drain();
        a.on_message(contact(13), forged, 2);
        assert_eq!(a.stats().forged_answers, 1);
        let after_forged = a.drain();
        assert!(
            after_forged.is_empty(),
            "the forged answer moved nothing on: {after_forged:?}"
        );
        // B's own answer is taken: the join goes on.
        a.on_message(contact(12), ans.clone(), 3);
        assert_eq!(a.stats().forged_answers, 1);
        let after_real = a.drain();
        assert!(!after_real.is_empty(), "B's answer was taken");
        // A replay of it answers nothing pending: dropped and counted too.
        a.on_message(contact(12), ans, 4);
        assert_eq!(a.stats().forged_answers, 2);
    }

    #[test]
    fn seeded_transaction_ids_cannot_be_predicted_from_the_node_id() {
        let ids = |seed: Option<[u8; 32]>| {
            let mut c = core(21);
            if let Some(s) = seed {
                c.seed_ids(s);
            }
            c.join(contact(22), 0);
            sends(&mut c)
                .first()
                .map(|(_, m)| m.header.transaction_id)
                .expect("a request")
        };
        assert_eq!(
            ids(None),
            ids(None),
            "unseeded (the simulation): deterministic"
        );
        let (x, y) = (ids(Some(rand::random())), ids(Some(rand::random())));
        assert_ne!(x, y, "seeded from the OS: a peer cannot know the next id");
        assert_ne!(x, ids(None));
    }

    #[tokio::test]
    async fn a_frame_longer_than_the_bound_is_refused_from_its_length_field() {
        use tokio::io::AsyncWriteExt;
        let (mut w, mut r) = tokio::io::duplex(64);
        // A data frame header declaring 16 MiB - 1 of body, and nothing after it.
        w.write_all(&[128, 0, 0, 0, 1, 0xff, 0xff, 0xff])
            .await
            .expect("write");
        let err = platon_actors::overlay::service::read_frame_sized(&mut r, 1024)
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, platon_actors::overlay::service::FrameError::Malformed(e) if e.contains("overlay.max_frame_bytes")),
            "{err}"
        );
    }
}

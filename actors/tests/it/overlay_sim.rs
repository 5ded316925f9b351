//! The overlay on the simulated network: lookups, floods, churn and replicated storage.

use platon_actors::overlay::core::{Event, Params};
use platon_actors::overlay::sim::{sim_id, SimNet};
use platon_messages::reload::{
    kind, Body, DataValue, Destination, FloodTopic, NodeId, ResourceId, Selector, Specifier,
    StoredDataValue,
};

fn params() -> Params {
    Params {
        k: 8,
        alpha: 3,
        replicas: 3,
        request_timeout: 1_000,
        refresh_interval: 10_000,
        republish_interval: 30_000,
        flood_fanout: 2,
        ..Params::default()
    }
}

/// Looks up `count` random targets from random live nodes; every lookup must return the live node
/// closest to the target. Returns (mean hops, max hops).
fn check_lookups(net: &mut SimNet, count: usize, salt: u64) -> (f64, u32) {
    let alive = net.alive();
    let mut total = 0u64;
    let mut max = 0;
    for q in 0..count {
        let from = alive[q * 7919 % alive.len()];
        let target = sim_id(salt, q);
        let op = net.with(from, |c, now| c.lookup(target, now));
        let (closest, hops) = net
            .wait_for(from, 30_000, |e| match e {
                Event::Lookup {
                    op: o,
                    closest,
                    hops,
                } if *o == op => Some((closest.clone(), *hops)),
                _ => None,
            })
            .expect("lookup finished");
        let want = net.contact(net.closest_alive(target)).id;
        let got = if net.contact(from).id.distance(&target)
            < closest
                .first()
                .map(|c| c.id.distance(&target))
                .unwrap_or(u128::MAX)
        {
            net.contact(from).id
        } else {
            closest[0].id
        };
        assert_eq!(got, want, "lookup {q} of {target} from node {from}");
        total += u64::from(hops);
        max = max.max(hops);
    }
    (total as f64 / count as f64, max)
}

fn flood_reach(net: &mut SimNet, from: usize, payload: &[u8]) -> (usize, usize, u64) {
    let before: Vec<u64> = net
        .nodes
        .iter()
        .map(|n| n.core.stats().flood_copies)
        .collect();
    net.events.clear();
    net.with(from, |c, _| c.flood(FloodTopic::Other, payload.to_vec()));
    net.run_for(5_000);
    let alive = net.alive();
    let reached = alive
        .iter()
        .filter(|&&i| {
            i == from
                || net.events.iter().any(|(n, e)| {
                    *n == i && matches!(e, Event::Flood { payload: p, .. } if p == payload)
                })
        })
        .count();
    let copies: u64 = alive
        .iter()
        .map(|&i| net.nodes[i].core.stats().flood_copies - before[i])
        .sum();
    (reached, alive.len(), copies)
}

#[test]
fn lookups_floods_and_churn_on_256_simulated_nodes() {
    let n = 256;
    let mut net = SimNet::new(n, params(), 11);
    net.bootstrap();
    let (mean, max) = check_lookups(&mut net, 200, 99);
    let log2n = (n as f64).log2();
    println!("256 nodes: lookup hops mean {mean:.2}, max {max}, log2 N = {log2n:.1}");
    assert!(max as f64 <= log2n, "hops bounded by log2 N");

    // Requests routed hop by hop: to a node, and to a resource's responsible node; answers come
    // back along the via list.
    let mut routed_hops = Vec::new();
    for q in 0..30usize {
        let from = (q * 13) % n;
        let to = (q * 29 + 7) % n;
        if from == to {
            continue;
        }
        let dest = Destination::Node(net.contact(to).id);
        let op = net.with(from, |c, now| c.route(dest, Body::PingReq(vec![]), now));
        let (responder, body, hops) = net
            .wait_for(from, 30_000, |e| match e {
                Event::Routed {
                    op: o,
                    result,
                    hops,
                } if *o == op => Some((result.clone(), *hops)),
                _ => None,
            })
            .map(|(r, h)| {
                let (id, b) = r.expect("routed answer");
                (id, b, h)
            })
            .expect("routed");
        assert_eq!(responder, net.contact(to).id);
        assert!(matches!(body, Body::PingAns { .. }));
        routed_hops.push(hops);
        let resource = ResourceId::from_u128(sim_id(31337, q).0);
        let want = net
            .contact(net.closest_alive(NodeId(resource.position())))
            .id;
        let spec = vec![Specifier {
            kind: kind::APP_VALUE,
            generation: 0,
            selector: Selector::Single,
        }];
        let op = net.with(from, |c, now| {
            c.route(
                Destination::Resource(resource.clone()),
                Body::FetchReq {
                    resource,
                    specifiers: spec,
                },
                now,
            )
        });
        let (responder, _) = net
            .wait_for(from, 30_000, |e| match e {
                Event::Routed { op: o, result, .. } if *o == op => Some(result.clone()),
                _ => None,
            })
            .expect("routed")
            .expect("answer");
        assert_eq!(
            responder, want,
            "the responsible node answers a routed Fetch"
        );
    }
    let delivered: u64 = net
        .nodes
        .iter()
        .map(|n| n.core.stats().routed_delivered)
        .sum();
    assert!(delivered > 0, "some requests took more than one hop");
    println!(
        "routed: hops mean {:.2}, max {}",
        routed_hops.iter().sum::<u32>() as f64 / routed_hops.len() as f64,
        routed_hops.iter().max().expect("hops")
    );

    // Leave: the neighbors of a leaving node drop it at once.
    let leaving = 10;
    let neighbors: Vec<NodeId> = net.nodes[leaving]
        .core
        .table()
        .contacts()
        .map(|c| c.id)
        .collect();
    net.with(leaving, |c, now| c.leave(now));
    net.run_for(1_000);
    net.kill(leaving);
    let gone = net.contact(leaving).id;
    for i in net.alive() {
        if neighbors.contains(&net.contact(i).id) {
            assert!(
                !net.nodes[i].core.table().contains(gone),
                "node {i} forgot the leaving node"
            );
        }
    }

    let (reached, alive, copies) = flood_reach(&mut net, 3, b"block 1");
    println!(
        "flood: reached {reached}/{alive}, {:.2} copies per node",
        copies as f64 / alive as f64
    );
    assert_eq!(reached, alive);
    assert!(
        copies as f64 <= 3.0 * alive as f64,
        "at most 3 copies per node"
    );

    // Kill a quarter of the nodes (the one that left counts); after the tables refresh, lookups
    // and floods still succeed.
    for i in (0..n).filter(|i| i % 4 == 1 && *i != 9) {
        net.kill(i);
    }
    net.run_for(25_000);
    let (mean, max) = check_lookups(&mut net, 100, 1234);
    println!("after killing 64: lookup hops mean {mean:.2}, max {max}");
    let (reached, alive, copies) = flood_reach(&mut net, 0, b"block 2");
    println!(
        "flood after churn: reached {reached}/{alive}, {:.2} copies per node",
        copies as f64 / alive as f64
    );
    assert_eq!(reached, alive);
    assert!(
        copies as f64 <= 3.0 * alive as f64,
        "at most 3 copies per node"
    );
}

#[test]
fn lookups_and_floods_on_1000_simulated_nodes_before_and_after_churn() {
    let n = 1000;
    let mut net = SimNet::new(n, params(), 23);
    net.bootstrap();
    let log2n = (n as f64).log2();
    let (mean, max) = check_lookups(&mut net, 300, 7);
    println!("1000 nodes: lookup hops mean {mean:.2}, max {max}, log2 N = {log2n:.1}");
    assert!(max as f64 <= log2n, "hops bounded by log2 N");
    for (k, from) in [0usize, 417, 999].into_iter().enumerate() {
        let payload = format!("block {k}");
        let (reached, alive, copies) = flood_reach(&mut net, from, payload.as_bytes());
        println!(
            "1000 nodes: flood from {from} reached {reached}/{alive}, {:.2} copies per node",
            copies as f64 / alive as f64
        );
        assert_eq!(reached, alive, "a flood reaches every live node");
        assert!(
            copies as f64 <= 3.0 * alive as f64,
            "at most 3 copies per node"
        );
    }

    // A quarter of the nodes crash; once the tables have refreshed, the bounds still hold.
    for i in (0..n).filter(|i| i % 4 == 2) {
        net.kill(i);
    }
    // Before any table notices, a quarter of the picked entry points are dead: the second pick
    // per region still carries the flood to most of the network (91 % here; the rest is reached
    // once the tables have dropped the dead, below).
    let (reached, alive, copies) = flood_reach(&mut net, 1, b"block at once after churn");
    println!(
        "1000 nodes, 250 just killed: flood reached {reached}/{alive}, {:.2} copies per node",
        copies as f64 / alive as f64
    );
    assert!(
        reached * 5 >= alive * 4,
        "most live nodes reached before the tables refresh"
    );
    // Five refresh intervals: at 2.5 a rare table still held a dead entry point (749 of 750).
    net.run_for(50_000);
    let (mean, max) = check_lookups(&mut net, 200, 77);
    println!("1000 nodes, 250 killed: lookup hops mean {mean:.2}, max {max}");
    assert!(max as f64 <= log2n, "hops bounded by log2 N after churn");
    let (reached, alive, copies) = flood_reach(&mut net, 1, b"block after churn");
    println!(
        "1000 nodes, 250 killed: flood reached {reached}/{alive}, {:.2} copies per node",
        copies as f64 / alive as f64
    );
    assert_eq!(
        reached, alive,
        "a flood reaches every live node after churn"
    );
    assert!(
        copies as f64 <= 3.0 * alive as f64,
        "at most 3 copies per node after churn"
    );
}

fn single(v: &[u8]) -> StoredDataValue {
    StoredDataValue::Single(DataValue {
        exists: true,
        value: v.to_vec(),
    })
}

#[test]
fn stored_data_survives_the_loss_of_r_minus_one_replicas_and_expires() {
    let mut net = SimNet::new(64, params(), 5);
    net.bootstrap();
    let mut resources = Vec::new();
    for r in 0..10u64 {
        let resource = ResourceId::from_u128(sim_id(777, r as usize).0);
        let op = net.with(r as usize, |c, now| {
            c.store_values(
                resource.clone(),
                kind::APP_VALUE,
                vec![single(&r.to_be_bytes())],
                600,
                now,
            )
        });
        let replicas = net
            .wait_for(r as usize, 30_000, |e| match e {
                Event::Stored { op: o, result } if *o == op => Some(result.clone()),
                _ => None,
            })
            .expect("store finished")
            .expect("stored");
        assert_eq!(replicas.len(), 3, "r replicas");
        // The replicas are the three live nodes closest to the resource.
        let mut by_dist: Vec<NodeId> = net.alive().iter().map(|i| net.contact(*i).id).collect();
        by_dist.sort_by_key(|id| id.0 ^ resource.position());
        let mut got = replicas.clone();
        got.sort_by_key(|id| id.0 ^ resource.position());
        assert_eq!(got, by_dist[..3].to_vec());
        resources.push((resource, replicas, r));
    }
    // For each resource, each choice of r - 1 = 2 replicas to lose: the third still serves it.
    let fetcher = 63;
    for (resource, replicas, r) in &resources {
        for skip in 0..3 {
            let lost: Vec<usize> = replicas
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != skip)
                .map(|(_, id)| {
                    (0..64)
                        .find(|i| net.contact(*i).id == *id)
                        .expect("replica index")
                })
                .filter(|i| *i != fetcher)
                .collect();
            for i in &lost {
                net.kill(*i);
            }
            let op = net.with(fetcher, |c, now| {
                c.fetch(
                    resource.clone(),
                    vec![Specifier {
                        kind: kind::APP_VALUE,
                        generation: 0,
                        selector: Selector::Single,
                    }],
                    now,
                )
            });
            let kinds = net
                .wait_for(fetcher, 60_000, |e| match e {
                    Event::Fetched { op: o, result } if *o == op => Some(result.clone()),
                    _ => None,
                })
                .expect("fetch finished")
                .expect("fetched");
            let values: Vec<&StoredDataValue> = kinds
                .iter()
                .flat_map(|k| k.values.iter().map(|v| &v.value))
                .collect();
            assert_eq!(
                values,
                vec![&single(&r.to_be_bytes())],
                "resource {r} survived losing {lost:?}"
            );
            for i in &lost {
                net.revive(*i);
            }
        }
    }
    // Lose two replicas of the first resource for good: republishing copies it to the new closest set.
    for id in resources[0].1.iter().take(2) {
        let i = (0..64)
            .find(|i| net.contact(*i).id == *id)
            .expect("replica index");
        net.kill(i);
    }
    // Republishing copies the data to the new closest set; after its lifetime it is gone.
    net.run_for(40_000);
    let res0 = &resources[0].0;
    let holders = net
        .alive()
        .iter()
        .filter(|i| {
            net.nodes[**i]
                .core
                .store()
                .all(net.now)
                .iter()
                .any(|(r, _)| r == res0)
        })
        .count();
    assert_eq!(holders, 3, "republished to r live replicas");
    net.run_for(600_000);
    assert!(
        net.alive()
            .iter()
            .all(|i| net.nodes[*i].core.store().is_empty()),
        "expired everywhere"
    );
}

/// The seed's validator deployment on the simulated network: a validator behind two sentries
/// talks to them only, no routing table anywhere names it, floods reach it and leave it both
/// ways, and it stays reachable when one sentry dies.
#[test]
fn a_validator_behind_sentries_is_named_by_nobody_and_floods_both_ways() {
    use platon_actors::overlay::core::Privacy;
    let n = 40;
    let (v, s1, s2) = (n - 1, n - 3, n - 2);
    let mut net = SimNet::new(n, params(), 23);
    let vid = net.contact(v).id;
    let sentries: std::collections::HashSet<NodeId> =
        [net.contact(s1).id, net.contact(s2).id].into();
    net.nodes[v].core.set_privacy(Privacy {
        allow: Some(sentries.clone()),
        hidden: Default::default(),
    });
    for s in [s1, s2] {
        net.nodes[s].core.set_privacy(Privacy {
            allow: None,
            hidden: [vid].into(),
        });
    }
    for i in 1..v {
        let c = net.contact(i / 2);
        net.with(i, |core, now| core.join(c, now));
        net.run_for(300);
    }
    // The validator joins through its sentries.
    for s in [s1, s2] {
        let c = net.contact(s);
        net.with(v, |core, now| core.join(c, now));
    }
    net.run_for(30_000);

    for i in 0..v {
        assert!(
            !net.nodes[i].core.table().contains(vid),
            "node {i}'s routing table names the validator"
        );
    }
    let known: std::collections::HashSet<NodeId> =
        net.nodes[v].core.table().contacts().map(|c| c.id).collect();
    assert_eq!(
        known, sentries,
        "the validator knows its sentries and nobody else"
    );
    for s in [s1, s2] {
        assert_eq!(
            net.nodes[s]
                .core
                .hidden_peers()
                .iter()
                .map(|c| c.id)
                .collect::<Vec<_>>(),
            vec![vid]
        );
    }

    // The validator's flood reaches every node; a node's flood reaches the validator.
    let (reached, alive, _) = flood_reach(&mut net, v, b"vote from the validator");
    assert_eq!(
        reached, alive,
        "the validator's flood reached {reached} of {alive}"
    );
    for from in [0, 17] {
        let payload = format!("from {from}").into_bytes();
        let (reached, alive, _) = flood_reach(&mut net, from, &payload);
        assert_eq!(
            reached, alive,
            "node {from}'s flood reached {reached} of {alive}"
        );
    }

    // One sentry dies: the other still carries floods both ways.
    net.kill(s1);
    net.with(v, |core, now| core.peer_down(net_id(s1), now));
    net.run_for(5_000);
    let (reached, alive, _) = flood_reach(&mut net, 9, b"after a sentry died");
    assert_eq!(reached, alive, "with one sentry left: {reached} of {alive}");
    let (reached, alive, _) = flood_reach(&mut net, v, b"validator, one sentry left");
    assert_eq!(
        reached, alive,
        "the validator's flood with one sentry: {reached} of {alive}"
    );
    // Still nobody names it.
    for i in net.alive() {
        if i != v {
            assert!(!net.nodes[i].core.table().contains(vid), "node {i}");
        }
    }

    fn net_id(i: usize) -> NodeId {
        sim_id(23, i)
    }
}

//! ReDiR on the simulated overlay: 500 providers, lookups checked against brute force, expiry.

use platon_actors::overlay::core::Params;
use platon_actors::overlay::sim::{sim_id, SimNet};
use platon_actors::redir::walk::{successor, Lookup, Registration, TreeParams};
use platon_actors::redir::{drive_many, drive_sim, Walk};
use platon_messages::reload::NodeId;

#[test]
fn redir_finds_what_brute_force_finds_and_forgets_expired_providers() {
    let n: usize = std::env::var("PLATON_REDIR_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let params = Params {
        k: 8,
        request_timeout: 1_000,
        refresh_interval: 20_000,
        republish_interval: 60_000,
        ..Params::default()
    };
    let mut net = SimNet::new(n, params, 21);
    net.bootstrap();
    let tree = TreeParams {
        branching: 4,
        start_level: 2,
        lifetime: 120,
    };
    let ns = "vc-compute";
    // Everyone registers at once, in batches of 100 concurrent walks.
    let mut regs: Vec<Registration> = (0..n)
        .map(|i| {
            let me = net.contact(i);
            Registration::new(tree, ns, me.id)
        })
        .collect();
    let start = net.now;
    for (b, chunk) in regs.chunks_mut(100).enumerate() {
        let mut walks: Vec<(usize, &mut dyn Walk)> = chunk
            .iter_mut()
            .enumerate()
            .map(|(j, r)| (b * 100 + j, r as &mut dyn Walk))
            .collect();
        for r in drive_many(&mut net, &mut walks, tree.lifetime) {
            r.expect("registered");
        }
    }
    let depth_total: usize = regs.iter().map(|r| r.levels.len()).sum();
    println!(
        "{n} registrations in {} s of simulated time: {:.2} tree nodes stored per provider",
        (net.now - start) / 1000,
        depth_total as f64 / n as f64
    );
    let ids: Vec<NodeId> = (0..n).map(|i| net.contact(i).id).collect();
    let mut fetches = 0;
    let probes = 300;
    for q in 0..probes {
        let key = sim_id(4242, q).0;
        let from = (q * 31) % n;
        let mut lookup = Lookup::new(tree, ns, key);
        let got = drive_sim(&mut net, from, &mut lookup, tree.lifetime).expect("lookup ran");
        fetches += lookup.fetches;
        if got.as_ref().map(|p| p.node_id) != successor(&ids, key) {
            let want = successor(&ids, key).expect("some");
            let level = 2;
            let j = tree.interval(level, key);
            let res = tree.resource(ns, level, j);
            let holders: Vec<(usize, bool)> = (0..n)
                .filter_map(|i| {
                    let all = net.nodes[i].core.store().all(net.now);
                    all.iter().find(|(r, _)| *r == res).map(|(_, k)| {
                        (
                            i,
                            platon_actors::redir::records(k)
                                .iter()
                                .any(|p| p.node_id == want),
                        )
                    })
                })
                .collect();
            let mut by: Vec<usize> = (0..n).collect();
            by.sort_by_key(|i| net.contact(*i).id.0 ^ res.position());
            panic!("probe {q}: key {key:032x} fetches {} got {got:?}, want {want}; holders {holders:?}; closest {:?}", lookup.fetches, &by[..5]);
        }
    }
    // Boundary keys: exactly a provider's id, one past it, zero and the top of the space.
    for key in [ids[7].0, ids[7].0.wrapping_add(1), 0, u128::MAX] {
        let mut lookup = Lookup::new(tree, ns, key);
        let got = drive_sim(&mut net, 3, &mut lookup, tree.lifetime).expect("lookup ran");
        assert_eq!(got.map(|p| p.node_id), successor(&ids, key), "key {key:x}");
    }
    println!(
        "{probes} lookups: {:.2} tree nodes fetched per lookup",
        fetches as f64 / probes as f64
    );

    // Providers 0..100 stop refreshing; the others refresh before expiry. Once the lifetime has
    // passed, the stale ones are never returned and lookups match brute force over the rest.
    let live: Vec<usize> = (100..n).collect();
    for _round in 0..3 {
        net.run_for(u64::from(tree.lifetime) * 1000 / 2);
        let mut regs: Vec<Registration> = live
            .iter()
            .map(|&i| {
                let me = net.contact(i);
                Registration::new(tree, ns, me.id)
            })
            .collect();
        let mut walks: Vec<(usize, &mut dyn Walk)> = regs
            .iter_mut()
            .zip(&live)
            .map(|(r, &i)| (i, r as &mut dyn Walk))
            .collect();
        for r in drive_many(&mut net, &mut walks, tree.lifetime) {
            r.expect("refreshed");
        }
    }
    let live_ids: Vec<NodeId> = live.iter().map(|i| net.contact(*i).id).collect();
    for q in 0..100 {
        let key = sim_id(999, q).0;
        let mut lookup = Lookup::new(tree, ns, key);
        let got =
            drive_sim(&mut net, (200 + q) % n, &mut lookup, tree.lifetime).expect("lookup ran");
        assert_eq!(
            got.map(|p| p.node_id),
            successor(&live_ids, key),
            "after expiry, probe {q}"
        );
    }
}

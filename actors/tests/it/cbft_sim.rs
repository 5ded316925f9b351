//! CBFT under the deterministic simulation: many seeds with loss, duplication, delay, partitions,
//! crashes (torn WAL writes included) and one equivocating validator.
//!
//! `PLATON_CBFT_SEEDS=N` runs N seeds (CI runs 1,000); `PLATON_CBFT_SEED=S` replays one seed.

use platon_actors::cbft::sim::{run, SimConfig};

/// The seeds of a heavier configuration: a fifth of `PLATON_CBFT_SEEDS` (at least one), or
/// `default` when it is not set.
fn seeds_fifth(default: u64) -> u64 {
    std::env::var("PLATON_CBFT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(|n: u64| n / 5)
        .unwrap_or(default)
        .max(1)
}

#[test]
fn cbft_is_safe_and_live_over_many_seeded_fault_schedules() {
    let cfg = SimConfig::default();
    let seeds: Vec<u64> = match std::env::var("PLATON_CBFT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(s) => vec![s],
        None => {
            let n: u64 = std::env::var("PLATON_CBFT_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1_000);
            (1..=n).collect()
        }
    };
    let (mut crashes, mut torn, mut partitions, mut dropped, mut dup, mut evidence, mut delivered) =
        (0, 0, 0, 0, 0, 0, 0);
    let mut invalid = 0;
    let mut kept = 0;
    let (mut compactions, mut max_wal, mut max_retained) = (0, 0, 0);
    let mut min_growth = u64::MAX;
    let mut min_height = u64::MAX;
    let mut failures = Vec::new();
    for &seed in &seeds {
        let r = run(seed, &cfg);
        crashes += r.crashes;
        torn += r.torn_writes;
        partitions += r.partitions;
        dropped += r.dropped;
        dup += r.duplicated;
        evidence += r.evidence;
        invalid += r.invalid_refused;
        kept += r.evidence_kept;
        delivered += r.delivered;
        compactions += r.compactions;
        max_wal = max_wal.max(r.max_wal);
        max_retained = max_retained.max(r.max_retained);
        min_growth = min_growth.min(r.growth_after_heal);
        min_height = min_height.min(r.heights.iter().skip(1).copied().min().unwrap_or(0));
        if !r.violations.is_empty() {
            failures.push((seed, r.violations.clone()));
        }
    }
    println!(
        "{} seeds: {crashes} crashes ({torn} between a WAL write and its sync), {partitions} partitions, \
         {dropped} messages dropped, {dup} duplicated, {delivered} delivered, {evidence} evidence reports ({kept} distinct kept), \
         {invalid} invalid blocks refused; \
         lowest honest height {min_height}, least growth after healing {min_growth}; \
         {compactions} WAL compactions, at most {max_wal} WAL records and {max_retained} core entries on any node",
        seeds.len()
    );
    if let Some((seed, v)) = failures.first() {
        panic!(
            "{} of {} seeds failed; first: PLATON_CBFT_SEED={seed} cargo test -p platon-actors --test it cbft -- --nocapture\n{}",
            failures.len(),
            seeds.len(),
            v.join("\n")
        );
    }
    assert!(evidence > 0, "the equivocating validator was caught");
    assert!(invalid > 0, "blocks that do not execute got no vote");
    // Restarts from compacted WALs were part of the runs above, and safe.
    assert!(compactions > 0, "WALs were compacted");
}

/// What consensus keeps per block, vote and view is pruned: a run eight times longer holds no
/// more (WAL records and core entries at every commit, on every node) than a short one.
#[test]
fn consensus_memory_and_wal_stay_bounded_in_a_long_run() {
    use platon_actors::cbft::sim::SIM_WAL_COMPACT_AT;
    let short = SimConfig {
        heal_ms: 60_000,
        ..SimConfig::default()
    };
    let long = SimConfig {
        heal_ms: 480_000,
        ..SimConfig::default()
    };
    let (a, b) = (run(3, &short), run(3, &long));
    assert!(
        a.violations.is_empty() && b.violations.is_empty(),
        "{:?} {:?}",
        a.violations,
        b.violations
    );
    let (ha, hb) = (
        a.heights.iter().copied().min().unwrap_or(0),
        b.heights.iter().copied().min().unwrap_or(0),
    );
    println!(
        "short run: height {ha}, at most {} core entries, {} WAL records; long run: height {hb}, {} core entries, {} WAL records",
        a.max_retained, a.max_wal, b.max_retained, b.max_wal
    );
    assert!(
        hb > 4 * ha,
        "the long run committed far more ({hb} vs {ha})"
    );
    assert!(
        b.max_retained <= a.max_retained + a.max_retained / 2,
        "core entries grow with the chain: {} after {hb} blocks, {} after {ha}",
        b.max_retained,
        a.max_retained
    );
    assert!(
        b.max_wal <= SIM_WAL_COMPACT_AT + 16,
        "the WAL grows with the chain: {} records",
        b.max_wal
    );
}

/// The first of seeds 1..=`seeds` whose run reports a violation containing `what` (any, when
/// empty), with that violation.
fn first_violation(cfg: &SimConfig, seeds: u64, what: &str) -> Option<(u64, String)> {
    (1..=seeds).find_map(|seed| {
        run(seed, cfg)
            .violations
            .into_iter()
            .find(|v| v.contains(what))
            .map(|v| (seed, v))
    })
}

/// The checks can fail: validators restarted without their WAL sign twice for one slot, and the
/// harness says so.
#[test]
fn without_the_wal_restarted_validators_double_sign_and_the_harness_catches_it() {
    let cfg = SimConfig {
        forget_wal: true,
        byzantine: false,
        ..SimConfig::default()
    };
    let caught = first_violation(&cfg, 300, "signed two different");
    let (seed, v) = caught.expect("a double sign within 300 seeds");
    println!("seed {seed}: {v}");
}

/// Power cuts of the whole network (every honest node at once, losing what its disk had not
/// synced) and clocks that run at different rates from different offsets: safe and live.
/// `PLATON_CBFT_POWER_SEEDS=N` runs N seeds (default 1,000).
#[test]
fn cbft_is_safe_and_live_through_power_cuts_and_clock_skew() {
    let cfg = SimConfig {
        power_cuts: true,
        clock_skew: true,
        ..SimConfig::default()
    };
    let n: u64 = std::env::var("PLATON_CBFT_POWER_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let (mut cuts, mut lost) = (0, 0);
    for seed in 1..=n {
        let r = run(seed, &cfg);
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
        cuts += r.power_cuts;
        lost += r.records_lost;
    }
    println!("{n} seeds: {cuts} power cuts of the whole network, {lost} WAL records lost");
    assert!(cuts > n / 2, "only {cuts} power cuts in {n} seeds");
    assert_eq!(
        lost, 0,
        "a node that syncs before it sends loses nothing it acted on"
    );
}

/// The power cuts can catch a missing fsync: validators that send before their WAL record is
/// synced lose it with the power, and sign twice for one slot after the restart.
#[test]
fn without_the_wal_fsync_power_cuts_make_validators_double_sign() {
    let cfg = SimConfig {
        power_cuts: true,
        unsynced_wal: true,
        byzantine: false,
        ..SimConfig::default()
    };
    let caught = first_violation(&cfg, 300, "signed two different");
    let (seed, v) = caught.expect("a double sign within 300 seeds");
    println!("seed {seed}: {v}");
}

/// The power cuts can catch lost block bodies: when the whole network loses power while locked
/// on blocks that are not committed, validators that restart without the proposals they voted
/// for (and the chain recorded with their lock) hold a lock on blocks nobody has, and the chain
/// stops.
#[test]
fn without_the_voted_blocks_a_network_wide_power_cut_stalls_the_chain() {
    let cfg = SimConfig {
        power_cuts: true,
        forget_uncommitted: true,
        byzantine: false,
        ..SimConfig::default()
    };
    let caught = first_violation(&cfg, 300, "");
    let (seed, v) = caught.expect("a stall within 300 seeds");
    println!("seed {seed}: {v}");
}

/// A few seeds with real BLS signatures and aggregate QCs.
#[test]
fn cbft_with_real_bls_signatures() {
    let cfg = SimConfig {
        bls: true,
        faults_until: 6_000,
        heal_ms: 6_000,
        ..SimConfig::default()
    };
    for seed in 1..=2u64 {
        let r = run(seed, &cfg);
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
        assert!(r.growth_after_heal > 0);
        println!(
            "BLS seed {seed}: heights {:?}, {} evidence reports",
            r.heights, r.evidence
        );
    }
}

/// Seven validators (f = 2): the equivocator plus a crashed one are within the bound.
#[test]
fn seven_validators_with_an_equivocator_and_crashes() {
    let cfg = SimConfig {
        validators: 7,
        ..SimConfig::default()
    };
    let n = seeds_fifth(100);
    for seed in 1..=n {
        let r = run(seed, &cfg);
        assert!(
            r.violations.is_empty(),
            "PLATON_CBFT_SEED={seed} (7 validators): {:?}",
            r.violations
        );
    }
}

/// One validator of four down for good (and no Byzantine one): the other three keep the chain going.
#[test]
fn three_of_four_validators_keep_the_chain_going() {
    let cfg = SimConfig {
        byzantine: false,
        dead: Some(3),
        ..SimConfig::default()
    };
    for seed in 1..=100u64 {
        let r = run(seed, &cfg);
        assert!(
            r.violations.is_empty(),
            "PLATON_CBFT_SEED={seed} (validator 3 dead): {:?}",
            r.violations
        );
        assert!(
            r.growth_after_heal >= 5,
            "seed {seed}: grew {} after healing",
            r.growth_after_heal
        );
    }
}

fn rotation() -> SimConfig {
    SimConfig {
        validators: 4,
        candidates: 10,
        round_blocks: 10,
        ..SimConfig::default()
    }
}

/// PPoS rotation: ten candidates each run a node, four validators per round of ten blocks, each
/// round's set elected from the chain alone (the election's own code). Under the usual faults
/// (the equivocator is a candidate that wins seats now and then) the chain stays safe and live,
/// every node elects the same validators for every round, rounds switch while the network is
/// partitioned, and the seats go round.
#[test]
fn ten_candidates_rotate_through_four_seats_safely() {
    let cfg = rotation();
    let n: u64 = match std::env::var("PLATON_CBFT_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(_) => 1,
        None => seeds_fifth(200),
    };
    let first = std::env::var("PLATON_CBFT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1u64);
    let (mut in_partition, mut min_rounds, mut seated, mut crashes) = (0, u64::MAX, 0, 0);
    for seed in first..first + n {
        let r = run(seed, &cfg);
        assert!(
            r.violations.is_empty(),
            "PLATON_CBFT_SEED={seed} (rotation): {:?}",
            r.violations
        );
        assert!(
            r.growth_after_heal > 0,
            "seed {seed}: no growth after healing"
        );
        in_partition += r.switches_in_partition;
        min_rounds = min_rounds.min(r.rounds);
        seated = seated.max(r.seated);
        crashes += r.crashes;
    }
    println!(
        "{n} seeds: every honest node reached round {min_rounds} or later; up to {seated} of 10 \
         candidates seated in one run; {in_partition} round switches during partitions; {crashes} crashes"
    );
    assert!(min_rounds >= 5, "rounds went by: {min_rounds}");
    assert!(seated >= 8, "seats rotate: {seated} candidates seated");
    assert!(in_partition > 0, "some round switched during a partition");
}

/// The agreement check can fail: electing from the round's last block itself (distance 0), whose
/// branch a view change can still replace, makes nodes disagree on the next validators. (Short
/// rounds give many switches per run.) Such a fork is rare, so this scan is a separate command:
/// `cargo test -p platon-actors --test it unsettled -- --ignored --nocapture`.
#[test]
#[ignore = "a long scan of seeds; run on its own"]
fn an_election_from_an_unsettled_block_is_caught() {
    let cfg = SimConfig {
        election_distance: 0,
        round_blocks: 5,
        ..rotation()
    };
    let caught = first_violation(&cfg, 3_000, "another node");
    let (seed, v) = caught.expect("a disagreement within 3,000 seeds");
    println!("seed {seed}: {v}");
}

/// Responsive pacing (each block as soon as its parent has a QC, at least 20 ms after the last):
/// safe and live under the same faults, crashes and equivocation, and on the healed network it
/// commits more blocks than period / amount pacing does on the same seeds.
#[test]
fn responsive_pacing_is_safe_live_and_faster_on_a_healthy_network() {
    let responsive = SimConfig {
        responsive_ms: Some(20),
        ..SimConfig::default()
    };
    let n = seeds_fifth(200);
    let (mut fast, mut paced) = (0, 0);
    for seed in 1..=n {
        let r = run(seed, &responsive);
        assert!(
            r.violations.is_empty(),
            "PLATON_CBFT_SEED={seed} (responsive): {:?}",
            r.violations
        );
        fast += r.growth_after_heal;
        paced += run(seed, &SimConfig::default()).growth_after_heal;
    }
    println!(
        "{n} seeds: {fast} blocks after healing with responsive pacing, {paced} with period pacing"
    );
    assert!(
        fast > paced + paced / 2,
        "responsive pacing grew the chain by {fast} blocks, period pacing by {paced}"
    );
}

/// The progress timeout (responsive pacing): a view whose QCs stop for 200 ms ends then, instead of
/// a whole 1 s period after it began. Safe under every fault with equivocation; and with one of four
/// validators down for good, whose views produce nothing, the healed network commits more blocks
/// than without the progress timeout on the same seeds.
#[test]
fn the_progress_timeout_is_safe_and_skips_a_dead_proposer_sooner() {
    let progress = SimConfig {
        responsive_ms: Some(20),
        progress_timeout_ms: Some(200),
        ..SimConfig::default()
    };
    let n = seeds_fifth(200);
    for seed in 1..=n {
        let r = run(seed, &progress);
        assert!(
            r.violations.is_empty(),
            "PLATON_CBFT_SEED={seed} (progress timeout): {:?}",
            r.violations
        );
    }
    let dead = |progress_timeout_ms| SimConfig {
        byzantine: false,
        dead: Some(3),
        progress_timeout_ms,
        ..progress.clone()
    };
    let (mut quick, mut slow) = (0, 0);
    for seed in 1..=n.min(50) {
        let r = run(seed, &dead(Some(200)));
        assert!(
            r.violations.is_empty(),
            "PLATON_CBFT_SEED={seed} (progress timeout, validator 3 dead): {:?}",
            r.violations
        );
        quick += r.growth_after_heal;
        slow += run(seed, &dead(None)).growth_after_heal;
    }
    println!(
        "validator 3 dead: {quick} blocks after healing with a 200 ms progress timeout, {slow} \
         with the 1 s view timeout alone"
    );
    assert!(
        quick > slow + slow / 4,
        "progress timeout: {quick} blocks, view timeout alone: {slow}"
    );
}

//! The election lottery draws what its weights say: over 20,000 seeds, the frequency of each set of
//! three validators drawn from six weighted candidates matches the exact probability of that set
//! (computed by enumerating every draw sequence), by a chi-square test at significance 0.001; and a
//! simulated rotation over many rounds keeps the replacement cap and visits every candidate.

use alloy_primitives::{keccak256, B256};
use platon_vm::ppos::election::{lottery_order, next_validators};
use std::collections::BTreeMap;

/// The probability of each 3-set under sequential weighted draws without replacement.
fn exact_set_probabilities(weights: &[u128]) -> BTreeMap<Vec<usize>, f64> {
    let n = weights.len();
    let total: u128 = weights.iter().sum();
    let mut out = BTreeMap::new();
    for a in 0..n {
        for b in 0..n {
            for c in 0..n {
                if a == b || b == c || a == c {
                    continue;
                }
                let (wa, wb, wc) = (weights[a] as f64, weights[b] as f64, weights[c] as f64);
                let t = total as f64;
                let p = wa / t * wb / (t - wa) * wc / (t - wa - wb);
                let mut set = vec![a, b, c];
                set.sort();
                *out.entry(set).or_insert(0.0) += p;
            }
        }
    }
    out
}

#[test]
fn lottery_sets_follow_the_weights_chi_square() {
    let weights: Vec<u128> = vec![1, 2, 3, 5, 8, 13];
    let entries: Vec<(usize, u128)> = weights.iter().copied().enumerate().collect();
    let expected = exact_set_probabilities(&weights);
    assert_eq!(expected.len(), 20);
    let trials = 20_000u64;
    let mut counts: BTreeMap<Vec<usize>, u64> = BTreeMap::new();
    for t in 0..trials {
        let seed = keccak256(t.to_be_bytes());
        let mut set: Vec<usize> = lottery_order(seed, &entries).into_iter().take(3).collect();
        set.sort();
        *counts.entry(set).or_insert(0) += 1;
    }
    let chi2: f64 = expected
        .iter()
        .map(|(set, p)| {
            let e = p * trials as f64;
            let o = *counts.get(set).unwrap_or(&0) as f64;
            (o - e) * (o - e) / e
        })
        .sum();
    // 19 degrees of freedom: the 0.001 critical value is 43.82.
    println!("chi-square {chi2:.2} over 20 sets (19 df; critical value at 0.001: 43.82)");
    assert!(chi2 < 43.82, "chi-square {chi2}");
    // The heaviest candidate is drawn first about 13/32 of the time.
    let first = (0..trials)
        .filter(|t| lottery_order(keccak256(t.to_be_bytes()), &entries)[0] == 5)
        .count() as f64
        / trials as f64;
    assert!((first - 13.0 / 32.0).abs() < 0.02, "{first}");
}

#[test]
fn rotation_over_many_rounds_keeps_the_cap_and_visits_every_candidate() {
    // 10 candidates, 4 seats, equal weights: every round at most one seat changes hands.
    let verifiers: Vec<(u32, u128)> = (0..10).map(|i| (i, 100)).collect();
    let mut current = vec![0u32, 1, 2, 3];
    let mut seen = std::collections::BTreeSet::new();
    let mut changes = 0;
    let mut seed = B256::ZERO;
    for _ in 0..300 {
        seed = keccak256(seed);
        let next = next_validators(&current, &verifiers, 4, seed);
        assert_eq!(next.len(), 4);
        let replaced = next.iter().filter(|v| !current.contains(v)).count();
        assert!(replaced <= 1);
        changes += replaced;
        seen.extend(next.iter().copied());
        current = next;
    }
    assert_eq!(seen.len(), 10, "every candidate served");
    assert!(
        changes > 100,
        "the set rotates: {changes} changes in 300 rounds"
    );
}

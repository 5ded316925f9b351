//! Validator election, pure and deterministic: candidates ranked by total stake (PlatON's ordering)
//! form an epoch's verifier list; each round's validators are drawn from it by a lottery seeded by
//! the VRF, weighted by the square root of stake; at most (validators − 1) / 3 sitting validators
//! are replaced per round unless more must leave (they stopped being verifiers).

use alloy_primitives::{keccak256, B256, U256};

/// One LAT in von (the smallest unit).
pub const LAT: u128 = 1_000_000_000_000_000_000;

/// `whole` LAT in von (saturating: a config cannot overflow it, u64 LAT fit easily).
pub fn lat(whole: u64) -> U256 {
    U256::from(whole).saturating_mul(U256::from(LAT))
}

/// What ranking needs to know of a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranked<Id> {
    /// The candidate.
    pub id: Id,
    /// Its total stake (own and delegated) that counts this epoch.
    pub stake: U256,
    /// The block in which it staked.
    pub staking_block: u64,
    /// The index of its staking transaction in that block.
    pub staking_tx_index: u32,
}

/// Orders candidates as PlatON does: more stake first, then who staked earlier (block, then
/// transaction index), then the identity (so the order is total).
pub fn rank<Id: Ord + Copy>(cands: &mut [Ranked<Id>]) {
    cands.sort_by(|a, b| {
        b.stake
            .cmp(&a.stake)
            .then(a.staking_block.cmp(&b.staking_block))
            .then(a.staking_tx_index.cmp(&b.staking_tx_index))
            .then(a.id.cmp(&b.id))
    });
}

/// The epoch's verifier list: the first `max` of the ranked candidates with at least `min_stake`.
pub fn verifiers<Id: Ord + Copy>(
    mut cands: Vec<Ranked<Id>>,
    max: usize,
    min_stake: U256,
) -> Vec<Ranked<Id>> {
    cands.retain(|c| c.stake >= min_stake);
    rank(&mut cands);
    cands.truncate(max);
    cands
}

/// A candidate's lottery weight: the integer square root of its stake in whole LAT (at least 1).
pub fn weight(stake: U256) -> u128 {
    let lat = stake / U256::from(LAT);
    let root = lat.root(2);
    u128::try_from(root).unwrap_or(u128::MAX).max(1)
}

/// The whole lottery order of `entries` (identity, weight) under `seed`: draw after draw without
/// replacement, each remaining entry chosen with probability weight / remaining weight, from
/// keccak256(seed ‖ draw) reduced modulo the remaining weight (the bias is below 2^-128).
pub fn lottery_order<Id: Copy>(seed: B256, entries: &[(Id, u128)]) -> Vec<Id> {
    let mut left: Vec<(Id, u128)> = entries.iter().map(|(i, w)| (*i, (*w).max(1))).collect();
    let mut order = Vec::with_capacity(left.len());
    let mut draw = 0u64;
    while !left.is_empty() {
        let total: U256 = left
            .iter()
            .fold(U256::ZERO, |acc, (_, w)| acc.saturating_add(U256::from(*w)));
        let mut buf = [0u8; 40];
        buf[..32].copy_from_slice(seed.as_slice());
        buf[32..].copy_from_slice(&draw.to_be_bytes());
        let r = U256::from_be_bytes(keccak256(buf).0) % total;
        let mut acc = U256::ZERO;
        let mut pick = left.len() - 1;
        for (i, (_, w)) in left.iter().enumerate() {
            acc = acc.saturating_add(U256::from(*w));
            if r < acc {
                pick = i;
                break;
            }
        }
        order.push(left.remove(pick).0);
        draw = draw.wrapping_add(1);
    }
    order
}

/// The next round's validators (in validator-index order, which is their lottery order).
///
/// `current` are the sitting validators, `verifiers` the epoch's verifier list with weights, `n`
/// the seats. The lottery ranks every verifier; its first `n` are the target. Sitting validators
/// that are no longer verifiers must leave; their seats, and any empty seat, go to target members
/// (then to further verifiers in lottery order). Beyond those, at most (n − 1) / 3 seats in all
/// change hands: sitting validators outside the target (the least lucky first) give way to target
/// members from outside.
pub fn next_validators<Id: Copy + Ord>(
    current: &[Id],
    verifiers: &[(Id, u128)],
    n: usize,
    seed: B256,
) -> Vec<Id> {
    use std::collections::BTreeSet;
    let order = lottery_order(seed, verifiers);
    let pos = |id: &Id| order.iter().position(|x| x == id).unwrap_or(usize::MAX);
    let eligible: BTreeSet<Id> = verifiers.iter().map(|(i, _)| *i).collect();
    let target: BTreeSet<Id> = order.iter().take(n).copied().collect();
    let cap = n.saturating_sub(1) / 3;

    let mut seats: Vec<Id> = current
        .iter()
        .copied()
        .filter(|v| eligible.contains(v))
        .collect();
    seats.sort_by_key(|v| pos(v));
    seats.dedup();
    seats.truncate(n);
    let forced = current.len().saturating_sub(seats.len());
    // Newcomers in lottery order: target members first, then the rest.
    let mut newcomers: Vec<Id> = order
        .iter()
        .copied()
        .filter(|v| !seats.contains(v))
        .collect();
    newcomers.sort_by_key(|v| (!target.contains(v), pos(v)));
    let mut newcomers = newcomers.into_iter();
    // Empty seats (forced departures, a growing set) are filled first.
    while seats.len() < n {
        match newcomers.next() {
            Some(v) => seats.push(v),
            None => break,
        }
    }
    // Voluntary swaps within the cap, counting the forced ones.
    let mut swaps = cap.saturating_sub(forced);
    let mut entering: Vec<Id> = newcomers.filter(|v| target.contains(v)).collect();
    entering.reverse(); // pop() takes the luckiest first
    while swaps > 0 {
        let Some(out) = seats
            .iter()
            .enumerate()
            .filter(|(_, v)| !target.contains(v))
            .max_by_key(|(_, v)| pos(v))
            .map(|(i, _)| i)
        else {
            break;
        };
        let Some(inn) = entering.pop() else { break };
        seats[out] = inn;
        swaps -= 1;
    }
    seats.sort_by_key(|v| pos(v));
    seats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stake(lat: u64) -> U256 {
        U256::from(lat) * U256::from(LAT)
    }

    #[test]
    fn ranking_is_stake_then_age_then_identity() {
        let mut c = vec![
            Ranked {
                id: 1u32,
                stake: stake(5),
                staking_block: 9,
                staking_tx_index: 0,
            },
            Ranked {
                id: 2,
                stake: stake(7),
                staking_block: 9,
                staking_tx_index: 0,
            },
            Ranked {
                id: 3,
                stake: stake(5),
                staking_block: 3,
                staking_tx_index: 4,
            },
            Ranked {
                id: 4,
                stake: stake(5),
                staking_block: 3,
                staking_tx_index: 1,
            },
            Ranked {
                id: 5,
                stake: stake(1),
                staking_block: 1,
                staking_tx_index: 0,
            },
        ];
        rank(&mut c);
        assert_eq!(
            c.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![2, 4, 3, 1, 5]
        );
        let v = verifiers(c, 3, stake(2));
        assert_eq!(v.iter().map(|r| r.id).collect::<Vec<_>>(), vec![2, 4, 3]);
    }

    #[test]
    fn weights_are_square_roots_of_whole_lat() {
        assert_eq!(weight(stake(1_000_000)), 1000);
        assert_eq!(weight(stake(99)), 9);
        assert_eq!(weight(U256::from(5u8)), 1, "at least one");
    }

    #[test]
    fn replacement_is_capped_unless_validators_must_leave() {
        let verifiers: Vec<(u32, u128)> = (0..10).map(|i| (i, 1 + i as u128)).collect();
        for s in 0..200u64 {
            let seed = keccak256(s.to_be_bytes());
            let current = vec![0, 1, 2, 3];
            let next = next_validators(&current, &verifiers, 4, seed);
            assert_eq!(next.len(), 4);
            let kept = next.iter().filter(|v| current.contains(v)).count();
            assert!(kept >= 3, "at most (4-1)/3 = 1 replaced: {next:?}");
            // Two sitting validators stopped being verifiers: both go, nothing else changes hands.
            let shrunk: Vec<(u32, u128)> =
                verifiers.iter().copied().filter(|(i, _)| *i > 1).collect();
            let next = next_validators(&current, &shrunk, 4, seed);
            assert_eq!(next.len(), 4);
            assert!(!next.contains(&0) && !next.contains(&1));
            assert!(next.contains(&2) && next.contains(&3));
        }
        // From nothing (or too few verifiers) the seats fill as far as they can.
        let first = next_validators(&[], &verifiers, 4, B256::ZERO);
        assert_eq!(first.len(), 4);
        assert_eq!(
            next_validators(&[], &verifiers[..2], 4, B256::ZERO).len(),
            2
        );
        // Same inputs, same result.
        assert_eq!(first, next_validators(&[], &verifiers, 4, B256::ZERO));
    }
}

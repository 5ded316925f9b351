//! Reward and penalty arithmetic, pure and checked: how a node's reward is shared with its
//! delegators after its commission, how an epoch's staking reward is divided among the verifiers,
//! and how a double-sign penalty is split between the reporter and the reward pool. Every function
//! conserves value exactly: what is paid out plus what is returned equals what went in, and
//! integer-division remainders stay with a named party, never vanish.

use alloy_primitives::U256;

/// Basis points in a whole.
pub const BPS: u16 = 10_000;

/// Arithmetic that would overflow (or a ratio above 100 %): refused, never wrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ppos arithmetic: {0}")]
pub struct MathError(pub &'static str);

fn bps(amount: U256, ratio: u16, what: &'static str) -> Result<U256, MathError> {
    if ratio > BPS {
        return Err(MathError("a ratio above 100 %"));
    }
    amount
        .checked_mul(U256::from(ratio))
        .map(|x| x / U256::from(BPS))
        .ok_or(MathError(what))
}

/// A reward shared between a node and its delegators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// What the node (its benefit address) gets: its commission and every remainder.
    pub node: U256,
    /// What each delegator gets, in the order given.
    pub delegators: Vec<U256>,
}

/// Shares `reward`: `delegators_bps` of it goes to the delegators in proportion to their
/// delegations (PlatON's "reward per"), the rest, with the remainders of the division, to the node.
pub fn split_reward(
    reward: U256,
    delegators_bps: u16,
    delegations: &[U256],
) -> Result<Split, MathError> {
    let total_delegated = delegations
        .iter()
        .try_fold(U256::ZERO, |acc, d| acc.checked_add(*d))
        .ok_or(MathError("delegation total"))?;
    if total_delegated.is_zero() {
        return Ok(Split {
            node: reward,
            delegators: vec![U256::ZERO; delegations.len()],
        });
    }
    let pot = bps(reward, delegators_bps, "delegators' pot")?;
    let mut paid = U256::ZERO;
    let mut shares = Vec::with_capacity(delegations.len());
    for d in delegations {
        let share = pot.checked_mul(*d).ok_or(MathError("delegator share"))? / total_delegated;
        paid = paid.checked_add(share).ok_or(MathError("delegator sum"))?;
        shares.push(share);
    }
    Ok(Split {
        node: reward.checked_sub(paid).ok_or(MathError("node share"))?,
        delegators: shares,
    })
}

/// Divides an epoch's staking reward equally among `verifiers`; the remainder stays in the pool.
/// Returns (each verifier's reward, remainder).
pub fn epoch_rewards(reward: U256, verifiers: usize) -> (U256, U256) {
    if verifiers == 0 {
        return (U256::ZERO, reward);
    }
    let n = U256::from(verifiers);
    (reward / n, reward % n)
}

/// A double-sign penalty taken from a stake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Penalty {
    /// Taken from the stake in all.
    pub total: U256,
    /// Paid to the reporter.
    pub reporter: U256,
    /// Returned to the reward pool.
    pub pool: U256,
}

/// The penalty of `penalty_bps` of `stake` (PlatON: 10 = 0.1 %), `reporter_bps` of it to the
/// reporter (PlatON: half), the rest to the reward pool.
pub fn penalty(stake: U256, penalty_bps: u16, reporter_bps: u16) -> Result<Penalty, MathError> {
    let total = bps(stake, penalty_bps, "penalty")?;
    let reporter = bps(total, reporter_bps, "reporter reward")?;
    Ok(Penalty {
        total,
        reporter,
        pool: total.checked_sub(reporter).ok_or(MathError("pool share"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_conserve_value_and_keep_remainders_with_the_node() {
        let s = split_reward(
            U256::from(1001u64),
            5000,
            &[U256::from(1u8), U256::from(2u8)],
        )
        .expect("split");
        // Pot 500: 166 and 333, one unit of remainder back to the node.
        assert_eq!(s.delegators, vec![U256::from(166u64), U256::from(333u64)]);
        assert_eq!(s.node, U256::from(502u64));
        let none = split_reward(U256::from(7u8), 5000, &[]).expect("split");
        assert_eq!(none.node, U256::from(7u8));
        assert!(split_reward(U256::from(7u8), 10_001, &[U256::from(1u8)]).is_err());
        assert!(split_reward(U256::MAX, 5000, &[U256::MAX, U256::MAX]).is_err());
        assert_eq!(
            epoch_rewards(U256::from(10u8), 3),
            (U256::from(3u8), U256::from(1u8))
        );
        assert_eq!(
            epoch_rewards(U256::from(10u8), 0),
            (U256::ZERO, U256::from(10u8))
        );
        let p = penalty(U256::from(1_000_001u64), 10, 5000).expect("penalty");
        assert_eq!(p.total, U256::from(1000u64));
        assert_eq!(p.reporter + p.pool, p.total);
    }
}

//! PPoS rules, pure and deterministic: the validator election (ranking, the VRF-seeded lottery,
//! the per-round replacement cap) and the reward and penalty arithmetic. The staking contract and
//! the elector actor build on these.

pub mod election;
pub mod rewards;

//! PPoS rules, deterministic: the validator election (ranking, the VRF-seeded lottery, the
//! per-round replacement cap), the reward and penalty arithmetic, and the staking contract's
//! ledger over the state. The elector actor builds on these.

pub mod election;
pub mod rewards;
pub mod staking;

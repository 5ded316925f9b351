//! The `cbft` subsystem: PlatON's consensus. [`core::Core`] is the protocol as a pure state
//! machine, [`crypto`] its signatures (BLS in the node), [`sim`] the deterministic simulation that
//! tests it under faults.

pub mod core;
pub mod crypto;
pub mod evidence;
pub mod service;
pub mod sim;
pub mod wal;

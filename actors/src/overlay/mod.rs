//! The `overlay` subsystem: a RELOAD (RFC 6940) peer with the Kademlia topology plug-in.
//!
//! [`core::Core`] is the protocol as a pure state machine; [`sim::SimNet`] runs many of them on a
//! simulated network; the TLS shell runs one per node over real sockets.

pub mod core;
pub mod service;
pub mod sim;
pub mod store;
pub mod table;
pub mod tls;

//! Supervision trees on `ractor`: child specs with restart types, one_for_one / one_for_all /
//! rest_for_one strategies, restart budgets, a name registry that never hands out stale references,
//! per-actor introspection, bounded mailboxes, and fault injection.
//!
//! # How it fits together
//! - A [`Service`] is a subsystem's logic: `init` rebuilds its state (from durable storage on a
//!   restart), `handle` processes one message. [`ChildSpec::worker`] wraps it in a ractor actor.
//! - A [`SupervisorSpec`] lists children in start order, a [`Strategy`] and a [`Budget`]. Supervisors
//!   nest: [`ChildSpec::supervisor`]. [`start_tree`] starts the root.
//! - Every actor is registered by name in the [`Registry`]. Callers look the name up on every send
//!   ([`Registry::lookup`]) and get an [`Addr`], whose `send` and `call` enforce the mailbox bound and
//!   count what was handled, waiting, rejected and dropped. A call to an actor that is restarting fails
//!   at once with [`CallError::NotRunning`], which is retryable.
//! - [`Registry::snapshot`] is the introspection the admin API and console read.
//! - [`Registry::inject_fault`] makes a named actor panic, stall or drop its next messages; it is
//!   refused unless the registry was built with faults enabled.
//!
//! `ractor-supervisor` was evaluated; this crate implements the OTP semantics itself because the
//! registry, bounded mailboxes, introspection counters and fault injection need hooks inside every
//! worker and supervisor, which a wrapper around that crate's supervisors would not give.

mod registry;
mod supervisor;
mod worker;

pub use registry::{
    ActorInfo, ActorKind, ActorStatus, Addr, CallError, Fault, Registry, RequestGuard,
};
pub use supervisor::{
    start_tree, Budget, ChildSpec, Restart, Strategy, SupervisorMsg, SupervisorSpec, TreeHandle,
};
pub use worker::{Ctx, Envelope, Service};

/// The error type services return; any error fails the actor and lets its supervisor decide.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

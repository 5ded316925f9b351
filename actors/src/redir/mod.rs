//! The `redir` subsystem: ReDiR service discovery (RFC 7374) on overlay storage.
//!
//! [`walk`] holds the registration and lookup walks as pure state machines; [`drive_sim`] runs them
//! on the simulated overlay, and the node's redir actor runs them through the overlay actor.

pub mod walk;

use crate::overlay::core::Event;
use crate::overlay::sim::SimNet;
use platon_messages::reload::{kind, Selector, Specifier};
use walk::{Action, Input, Provider};

/// A walk (registration or lookup) the drivers can run.
pub trait Walk: Send {
    /// Advances the walk.
    fn step(&mut self, input: Input) -> Action;
}

impl Walk for walk::Registration {
    fn step(&mut self, input: Input) -> Action {
        walk::Registration::step(self, input)
    }
}

impl Walk for walk::Lookup {
    fn step(&mut self, input: Input) -> Action {
        walk::Lookup::step(self, input)
    }
}

/// The Fetch specifier of a whole ReDiR tree node.
pub fn all_records() -> Vec<Specifier> {
    vec![Specifier {
        kind: kind::REDIR,
        generation: 0,
        selector: Selector::Dictionary(Vec::new()),
    }]
}

/// Records in a Fetch answer (malformed ones are skipped).
pub fn records(kinds: &[platon_messages::reload::KindData]) -> Vec<Provider> {
    kinds
        .iter()
        .filter(|k| k.kind == kind::REDIR)
        .flat_map(|k| k.values.iter())
        .filter(|v| v.value.value().exists)
        .filter_map(|v| walk::from_value(&v.value).ok())
        .collect()
}

/// Runs a walk from node `i` of a simulated overlay; `Err` when a store or fetch fails.
pub fn drive_sim(
    net: &mut SimNet,
    i: usize,
    walk: &mut dyn Walk,
    lifetime: u32,
) -> Result<Option<Provider>, String> {
    let mut one: Vec<(usize, &mut dyn Walk)> = vec![(i, walk)];
    drive_many(net, &mut one, lifetime)
        .pop()
        .unwrap_or(Err("no result".into()))
}

/// Runs many walks at once, each from its node, on a simulated overlay; results in order.
pub fn drive_many(
    net: &mut SimNet,
    walks: &mut [(usize, &mut dyn Walk)],
    lifetime: u32,
) -> Vec<Result<Option<Provider>, String>> {
    let mut results: Vec<Option<Result<Option<Provider>, String>>> = vec![None; walks.len()];
    // Operation id -> walk index.
    let mut waiting: std::collections::HashMap<(usize, u64), usize> = Default::default();
    let mut actions: Vec<(usize, Action)> = walks
        .iter_mut()
        .enumerate()
        .map(|(w, (_, walk))| (w, walk.step(Input::Start)))
        .collect();
    let deadline = net.now + 3_600_000;
    loop {
        for (w, action) in actions.drain(..) {
            let node = walks[w].0;
            match action {
                Action::Done(p) => results[w] = Some(Ok(p)),
                Action::Store { resource, record } => match walk::to_value(&record) {
                    Ok(value) => {
                        let op = net.with(node, |c, now| {
                            c.store_values(resource, kind::REDIR, vec![value], lifetime, now)
                        });
                        waiting.insert((node, op), w);
                    }
                    Err(e) => results[w] = Some(Err(e.to_string())),
                },
                Action::Fetch { resource, .. } => {
                    let op = net.with(node, |c, now| c.fetch(resource, all_records(), now));
                    waiting.insert((node, op), w);
                }
            }
        }
        if waiting.is_empty() || net.now >= deadline {
            break;
        }
        net.run_for(20);
        let events = std::mem::take(&mut net.events);
        for (node, ev) in events {
            let (op, input) = match &ev {
                Event::Stored { op, result } => (*op, result.clone().map(|_| Input::Stored)),
                Event::Fetched { op, result } => (
                    *op,
                    result
                        .as_ref()
                        .map(|k| Input::Fetched(records(k)))
                        .map_err(Clone::clone),
                ),
                _ => {
                    net.events.push((node, ev));
                    continue;
                }
            };
            let Some(w) = waiting.remove(&(node, op)) else {
                net.events.push((node, ev));
                continue;
            };
            match input {
                Ok(input) => {
                    let a = walks[w].1.step(input);
                    actions.push((w, a));
                }
                Err(e) => results[w] = Some(Err(e)),
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err("timed out".into())))
        .collect()
}

pub mod service;

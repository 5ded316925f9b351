//! A deterministic in-process network for the overlay: many [`Core`]s, a simulated clock, seeded
//! latencies and message loss, node crashes. Every message goes through the RELOAD encoder and
//! decoder on its way, as on a real link. Tests and the `overlay` benchmark drive it.

use super::core::{Core, Effect, Event, Params, Unsigned};
use platon_messages::reload::{Contact, Message, NodeId};
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

/// A node of the simulation.
pub struct SimNode {
    /// Its overlay core.
    pub core: Core,
    /// Whether it is running.
    pub alive: bool,
}

/// The simulated network.
pub struct SimNet {
    /// The nodes, by index.
    pub nodes: Vec<SimNode>,
    by_addr: HashMap<SocketAddr, usize>,
    queue: BinaryHeap<Reverse<(u64, u64, usize, usize)>>,
    in_flight: HashMap<u64, (Contact, Vec<u8>)>,
    seq: u64,
    /// Simulated time (ms).
    pub now: u64,
    rng: rand::rngs::StdRng,
    /// Latency range of one message (ms).
    pub latency: (u64, u64),
    /// Probability that a message is lost.
    pub loss: f64,
    /// Events reported by nodes, in order.
    pub events: Vec<(usize, Event)>,
    /// Messages delivered so far.
    pub delivered: u64,
    next_tick: u64,
    /// Tick interval (ms).
    pub tick_every: u64,
}

/// A node id drawn from the seed (ids spread over the whole space).
pub fn sim_id(seed: u64, i: usize) -> NodeId {
    let h = platon_crypto::keccak256([seed.to_be_bytes(), (i as u64).to_be_bytes()].concat());
    NodeId(u128::from_be_bytes(h.0[..16].try_into().unwrap_or([0; 16])))
}

fn sim_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 6084))
}

impl SimNet {
    /// `n` nodes with ids from `seed`; none has joined yet.
    pub fn new(n: usize, params: Params, seed: u64) -> Self {
        let mut nodes = Vec::with_capacity(n);
        let mut by_addr = HashMap::new();
        for i in 0..n {
            let me = Contact {
                id: sim_id(seed, i),
                addr: sim_addr(i),
            };
            by_addr.insert(me.addr, i);
            nodes.push(SimNode {
                core: Core::new(me, params.clone(), Arc::new(Unsigned), 0),
                alive: true,
            });
        }
        Self {
            nodes,
            by_addr,
            queue: BinaryHeap::new(),
            in_flight: HashMap::new(),
            seq: 0,
            now: 0,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            latency: (5, 50),
            loss: 0.0,
            events: Vec::new(),
            delivered: 0,
            next_tick: 0,
            tick_every: 250,
        }
    }

    /// The contact of node `i`.
    pub fn contact(&self, i: usize) -> Contact {
        self.nodes[i].core.me()
    }

    fn collect(&mut self, i: usize) {
        let effects = self.nodes[i].core.drain();
        let from = self.nodes[i].core.me();
        for e in effects {
            match e {
                Effect::Send { to, msg } => {
                    let Some(&j) = self.by_addr.get(&to.addr) else {
                        continue;
                    };
                    if self.loss > 0.0 && self.rng.gen_bool(self.loss) {
                        continue;
                    }
                    let Ok(bytes) = msg.encode() else {
                        continue;
                    };
                    let delay = self.rng.gen_range(self.latency.0..=self.latency.1);
                    self.seq += 1;
                    self.in_flight.insert(self.seq, (from, bytes));
                    self.queue.push(Reverse((self.now + delay, self.seq, j, i)));
                }
                Effect::Event(ev) => self.events.push((i, ev)),
            }
        }
    }

    /// Runs `f` on node `i` and collects what it produced.
    pub fn with<T>(&mut self, i: usize, f: impl FnOnce(&mut Core, u64) -> T) -> T {
        let now = self.now;
        let out = f(&mut self.nodes[i].core, now);
        self.collect(i);
        out
    }

    /// Advances the simulation until `until` (ms) or until nothing is queued and `idle_ok`.
    pub fn run_until(&mut self, until: u64) {
        loop {
            let next_msg = self.queue.peek().map(|Reverse((t, ..))| *t);
            let next = match next_msg {
                Some(t) if t <= self.next_tick => t,
                _ => self.next_tick,
            };
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            if next_msg == Some(next) {
                let Some(Reverse((_, seq, to, _from_idx))) = self.queue.pop() else {
                    continue;
                };
                let Some((from, bytes)) = self.in_flight.remove(&seq) else {
                    continue;
                };
                if !self.nodes[to].alive {
                    continue;
                }
                let Ok(msg) = Message::decode(&bytes) else {
                    continue;
                };
                self.delivered += 1;
                let now = self.now;
                self.nodes[to].core.on_message(from, msg, now);
                self.collect(to);
            } else {
                self.next_tick += self.tick_every;
                for i in 0..self.nodes.len() {
                    if self.nodes[i].alive {
                        let now = self.now;
                        self.nodes[i].core.tick(now);
                        self.collect(i);
                    }
                }
            }
        }
    }

    /// Runs for `ms` more.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        self.run_until(until);
    }

    /// Node 0 starts the overlay; every other node joins through a node that joined before it.
    pub fn bootstrap(&mut self) {
        for i in 1..self.nodes.len() {
            let via = if i < 4 { 0 } else { self.rng.gen_range(0..i) };
            let c = self.contact(via);
            self.with(i, |core, now| core.join(c, now));
            self.run_for(300);
        }
        self.run_for(5_000);
    }

    /// Stops node `i` (crash: it answers nothing from now on).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].alive = false;
    }

    /// Restarts node `i` with the state it had (a healed partition).
    pub fn revive(&mut self, i: usize) {
        self.nodes[i].alive = true;
    }

    /// Indices of running nodes.
    pub fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].alive)
            .collect()
    }

    /// Runs until node `i` reports an event that `pick` accepts (or `timeout` ms pass).
    pub fn wait_for<T>(
        &mut self,
        i: usize,
        timeout: u64,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> Option<T> {
        let deadline = self.now + timeout;
        let mut seen = 0;
        loop {
            while seen < self.events.len() {
                let (n, ev) = &self.events[seen];
                seen += 1;
                if *n == i {
                    if let Some(t) = pick(ev) {
                        let idx = seen - 1;
                        self.events.remove(idx);
                        return Some(t);
                    }
                }
            }
            if self.now >= deadline {
                return None;
            }
            let step = (self.now + 50).min(deadline);
            self.run_until(step);
        }
    }

    /// The live node closest to `target` by brute force.
    pub fn closest_alive(&self, target: NodeId) -> usize {
        self.alive()
            .into_iter()
            .min_by_key(|i| self.nodes[*i].core.me().id.distance(&target))
            .unwrap_or(0)
    }
}

//! The name registry, typed addresses with bounded mailboxes, and introspection.

use crate::worker::Envelope;
use parking_lot::RwLock;
use ractor::rpc::CallResult;
use ractor::{ActorRef, RpcReplyPort};
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fault to inject into a named actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// Panic inside the actor's message handler.
    Panic,
    /// Block the actor's message loop for this long.
    Stall(#[serde(with = "millis")] Duration),
    /// Drop the next N messages unhandled (their callers see the reply port closed).
    Drop(u32),
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Why a message did not reach an actor or its reply did not come back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No actor of that name is registered.
    #[error("no actor named {0:?}")]
    Unknown(String),
    /// The actor is starting, restarting or stopped. Retry shortly.
    #[error("actor {0:?} is not running (restarting or stopped); retry shortly")]
    NotRunning(String),
    /// The actor's mailbox is at its bound; the message was rejected and counted.
    #[error("actor {name:?} is overloaded: {capacity} messages already waiting; retry later")]
    Overloaded {
        /// Actor name.
        name: String,
        /// Mailbox bound.
        capacity: u64,
    },
    /// No reply within the deadline.
    #[error("actor {0:?} did not reply in time")]
    Timeout(String),
    /// The actor took the message but dropped the reply (it failed or dropped the message).
    #[error("actor {0:?} dropped the request (it may have restarted); retry")]
    Dropped(String),
    /// Fault injection is disabled on this node.
    #[error("fault injection is disabled; start the node with --admin.faults to enable it")]
    FaultsDisabled,
    /// The actor has the wrong message type for this address (a programming error).
    #[error("actor {0:?} does not accept this message type")]
    WrongType(String),
}

impl CallError {
    /// True when the same call may succeed if retried.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CallError::NotRunning(_)
                | CallError::Overloaded { .. }
                | CallError::Timeout(_)
                | CallError::Dropped(_)
        )
    }
}

/// Lifecycle state of an actor as introspection shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorStatus {
    /// Spawned, initialising.
    Starting,
    /// Processing messages.
    Running,
    /// Failed; its supervisor is restarting it.
    Restarting,
    /// Stopped for good (temporary child, or its supervisor gave up).
    Stopped,
    /// Failed and not restarted.
    Failed,
}

/// Whether an actor is a worker or a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// A service actor.
    Worker,
    /// A supervisor of other actors.
    Supervisor,
}

/// Counters shared by an actor's incarnations (they survive restarts).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub handled: AtomicU64,
    pub waiting: AtomicU64,
    pub rejected: AtomicU64,
    pub dropped: AtomicU64,
    pub restarts: AtomicU64,
    /// When a refusal was last logged (ms since the Unix epoch): at most one line a second.
    pub rejected_logged_ms: AtomicU64,
}

/// Refusals of a full mailbox are logged at most this often per actor (each is counted).
const REJECT_LOG_INTERVAL_MS: u64 = 1_000;

impl Counters {
    /// One message left the mailbox and was handled.
    pub(crate) fn finished_one(&self) {
        let _ = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some(w.saturating_sub(1))
            });
        self.handled.fetch_add(1, Ordering::Relaxed);
    }
}

type Injector = Arc<dyn Fn(Fault) -> Result<(), CallError> + Send + Sync>;

pub(crate) struct Entry {
    pub kind: ActorKind,
    pub parent: Option<String>,
    pub children: Vec<String>,
    pub status: ActorStatus,
    pub started_at: Option<Instant>,
    pub last_failure: Option<String>,
    pub capacity: u64,
    pub counters: Arc<Counters>,
    /// The current incarnation's typed `ActorRef<Envelope<M>>`, boxed; None while not running.
    pub addr: Option<Box<dyn Any + Send + Sync>>,
    pub cell: Option<ractor::ActorCell>,
    pub injector: Option<Injector>,
}

/// One actor's introspection snapshot.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ActorInfo {
    /// Registry name.
    pub name: String,
    /// Supervisor's name (None for the root).
    pub parent: Option<String>,
    /// Worker or supervisor.
    pub kind: ActorKind,
    /// Lifecycle state.
    pub status: ActorStatus,
    /// Milliseconds since the current incarnation started (0 when not running).
    pub uptime_ms: u64,
    /// Restarts so far.
    pub restarts: u64,
    /// The most recent failure, if any.
    pub last_failure: Option<String>,
    /// Messages handled, all incarnations.
    pub messages_handled: u64,
    /// Messages accepted and not yet handled.
    pub messages_waiting: u64,
    /// Messages refused because the mailbox was full.
    pub messages_rejected: u64,
    /// Messages dropped by fault injection.
    pub messages_dropped: u64,
    /// Mailbox bound.
    pub mailbox_capacity: u64,
    /// Children in start order (supervisors only).
    pub children: Vec<String>,
}

/// The node-wide registry of actors by name.
pub struct Registry {
    entries: RwLock<HashMap<String, Entry>>,
    faults_enabled: AtomicBool,
    call_timeout: Duration,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("actors", &self.entries.read().len())
            .finish()
    }
}

impl Registry {
    /// A new registry; `faults_enabled` gates [`Registry::inject_fault`]; `call_timeout` bounds every call.
    pub fn new(faults_enabled: bool, call_timeout: Duration) -> Arc<Self> {
        Arc::new(Registry {
            entries: RwLock::new(HashMap::new()),
            faults_enabled: AtomicBool::new(faults_enabled),
            call_timeout,
        })
    }

    /// Whether fault injection is allowed.
    pub fn faults_enabled(&self) -> bool {
        self.faults_enabled.load(Ordering::Relaxed)
    }

    pub(crate) fn declare(
        &self,
        name: &str,
        kind: ActorKind,
        parent: Option<String>,
        capacity: u64,
    ) -> Arc<Counters> {
        let mut map = self.entries.write();
        if let Some(p) = &parent {
            if let Some(pe) = map.get_mut(p) {
                if !pe.children.iter().any(|c| c == name) {
                    pe.children.push(name.to_string());
                }
            }
        }
        let e = map.entry(name.to_string()).or_insert_with(|| Entry {
            kind,
            parent: parent.clone(),
            children: Vec::new(),
            status: ActorStatus::Starting,
            started_at: None,
            last_failure: None,
            capacity,
            counters: Arc::new(Counters::default()),
            addr: None,
            cell: None,
            injector: None,
        });
        e.status = ActorStatus::Starting;
        e.counters.clone()
    }

    pub(crate) fn set_running(
        &self,
        name: &str,
        cell: ractor::ActorCell,
        addr: Box<dyn Any + Send + Sync>,
        injector: Option<Injector>,
    ) {
        if let Some(e) = self.entries.write().get_mut(name) {
            e.status = ActorStatus::Running;
            e.started_at = Some(Instant::now());
            e.cell = Some(cell);
            e.addr = Some(addr);
            e.injector = injector;
            e.counters.waiting.store(0, Ordering::Relaxed);
        }
    }

    /// Marks `name` as no longer running, if `cell` is still its current incarnation (or `cell` is None).
    pub(crate) fn set_down(
        &self,
        name: &str,
        cell_id: Option<ractor::ActorId>,
        status: ActorStatus,
        failure: Option<String>,
    ) {
        if let Some(e) = self.entries.write().get_mut(name) {
            let current = e.cell.as_ref().map(|c| c.get_id());
            if cell_id.is_some() && current.is_some() && current != cell_id {
                return;
            }
            e.status = status;
            e.cell = None;
            e.addr = None;
            e.injector = None;
            e.started_at = None;
            if failure.is_some() {
                e.last_failure = failure;
            }
        }
    }

    pub(crate) fn note_restart(&self, name: &str) {
        if let Some(e) = self.entries.read().get(name) {
            e.counters.restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The parent supervisor of `name`.
    pub fn parent_of(&self, name: &str) -> Option<String> {
        self.entries.read().get(name).and_then(|e| e.parent.clone())
    }

    /// The current address of the actor called `name`, typed by its message.
    pub fn lookup<M: Send + 'static>(self: &Arc<Self>, name: &str) -> Result<Addr<M>, CallError> {
        let map = self.entries.read();
        let e = map
            .get(name)
            .ok_or_else(|| CallError::Unknown(name.to_string()))?;
        let addr = e
            .addr
            .as_ref()
            .ok_or_else(|| CallError::NotRunning(name.to_string()))?;
        let actor = addr
            .downcast_ref::<ActorRef<Envelope<M>>>()
            .ok_or_else(|| CallError::WrongType(name.to_string()))?
            .clone();
        Ok(Addr {
            name: name.to_string(),
            actor,
            counters: e.counters.clone(),
            capacity: e.capacity,
            timeout: self.call_timeout,
        })
    }

    /// Injects a fault into the actor called `name` (refused unless faults are enabled).
    pub fn inject_fault(&self, name: &str, fault: Fault) -> Result<(), CallError> {
        if !self.faults_enabled() {
            return Err(CallError::FaultsDisabled);
        }
        let injector = {
            let map = self.entries.read();
            let e = map
                .get(name)
                .ok_or_else(|| CallError::Unknown(name.to_string()))?;
            e.injector
                .clone()
                .ok_or_else(|| CallError::NotRunning(name.to_string()))?
        };
        injector(fault)
    }

    /// Restarts the actor called `name` through its supervisor (which applies its strategy).
    pub async fn restart(self: &Arc<Self>, name: &str) -> Result<(), CallError> {
        let parent = {
            let map = self.entries.read();
            let e = map
                .get(name)
                .ok_or_else(|| CallError::Unknown(name.to_string()))?;
            e.parent.clone().ok_or_else(|| {
                CallError::Unknown(format!("{name} (the root cannot be restarted)"))
            })?
        };
        let sup = self.lookup::<crate::SupervisorMsg>(&parent)?;
        let child = name.to_string();
        sup.call(|reply| crate::SupervisorMsg::RestartChild { name: child, reply })
            .await?
    }

    /// Introspection of every actor, parents before children, in start order.
    pub fn snapshot(&self) -> Vec<ActorInfo> {
        let map = self.entries.read();
        let mut out = Vec::new();
        let mut roots: Vec<&String> = map
            .iter()
            .filter(|(_, e)| e.parent.is_none())
            .map(|(n, _)| n)
            .collect();
        roots.sort();
        fn visit(map: &HashMap<String, Entry>, name: &str, out: &mut Vec<ActorInfo>) {
            let Some(e) = map.get(name) else { return };
            let c = &e.counters;
            out.push(ActorInfo {
                name: name.to_string(),
                parent: e.parent.clone(),
                kind: e.kind,
                status: e.status,
                uptime_ms: e
                    .started_at
                    .map(|t| t.elapsed().as_millis() as u64)
                    .unwrap_or(0),
                restarts: c.restarts.load(Ordering::Relaxed),
                last_failure: e.last_failure.clone(),
                messages_handled: c.handled.load(Ordering::Relaxed),
                messages_waiting: c.waiting.load(Ordering::Relaxed),
                messages_rejected: c.rejected.load(Ordering::Relaxed),
                messages_dropped: c.dropped.load(Ordering::Relaxed),
                mailbox_capacity: e.capacity,
                children: e.children.clone(),
            });
            for child in &e.children {
                visit(map, child, out);
            }
        }
        for r in roots {
            visit(&map, r, &mut out);
        }
        out
    }

    /// One actor's snapshot.
    pub fn info(&self, name: &str) -> Option<ActorInfo> {
        self.snapshot().into_iter().find(|i| i.name == name)
    }

    /// Counts a request served outside the mailbox (e.g. an HTTP request on the rpc gateway): it shows
    /// as waiting until the returned guard drops, then as handled.
    pub fn request_started(&self, name: &str) -> RequestGuard {
        let counters = self.entries.read().get(name).map(|e| e.counters.clone());
        if let Some(c) = &counters {
            c.waiting.fetch_add(1, Ordering::AcqRel);
        }
        RequestGuard { counters }
    }
}

/// Marks one request of [`Registry::request_started`] finished when dropped.
#[derive(Debug)]
pub struct RequestGuard {
    counters: Option<Arc<Counters>>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if let Some(c) = &self.counters {
            c.finished_one();
        }
    }
}

/// A typed address of one actor incarnation, with its mailbox bound.
pub struct Addr<M> {
    name: String,
    actor: ActorRef<Envelope<M>>,
    counters: Arc<Counters>,
    capacity: u64,
    timeout: Duration,
}

impl<M> std::fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addr")
            .field("name", &self.name)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            name: self.name.clone(),
            actor: self.actor.clone(),
            counters: self.counters.clone(),
            capacity: self.capacity,
            timeout: self.timeout,
        }
    }
}

impl<M: Send + 'static> Addr<M> {
    /// The actor's registry name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn admit(&self) -> Result<(), CallError> {
        let prev = self.counters.waiting.fetch_add(1, Ordering::AcqRel);
        if prev >= self.capacity {
            self.counters.waiting.fetch_sub(1, Ordering::AcqRel);
            let total = self.counters.rejected.fetch_add(1, Ordering::Relaxed) + 1;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let last = self.counters.rejected_logged_ms.load(Ordering::Relaxed);
            if now.saturating_sub(last) >= REJECT_LOG_INTERVAL_MS
                && self
                    .counters
                    .rejected_logged_ms
                    .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::warn!(
                    actor = %self.name,
                    capacity = self.capacity,
                    refused_total = total,
                    "mailbox full: message refused (counted as messages_rejected in admin_actors; logged at most once a second)"
                );
            }
            return Err(CallError::Overloaded {
                name: self.name.clone(),
                capacity: self.capacity,
            });
        }
        Ok(())
    }

    fn unadmit(&self) {
        // Saturating: a restart may have reset the counter meanwhile.
        let _ = self
            .counters
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some(w.saturating_sub(1))
            });
    }

    /// Sends without waiting for a reply.
    pub fn send(&self, msg: M) -> Result<(), CallError> {
        self.admit()?;
        self.actor.cast(Envelope::Msg(msg)).map_err(|_| {
            self.unadmit();
            CallError::NotRunning(self.name.clone())
        })
    }

    /// Sends a request built around a reply port and waits (bounded by the registry's call timeout).
    pub async fn call<T: Send + 'static>(
        &self,
        build: impl FnOnce(RpcReplyPort<T>) -> M,
    ) -> Result<T, CallError> {
        self.admit()?;
        let res = self
            .actor
            .call(|port| Envelope::Msg(build(port)), Some(self.timeout))
            .await;
        match res {
            Ok(CallResult::Success(v)) => Ok(v),
            Ok(CallResult::Timeout) => Err(CallError::Timeout(self.name.clone())),
            Ok(CallResult::SenderError) => Err(CallError::Dropped(self.name.clone())),
            Err(_) => {
                self.unadmit();
                Err(CallError::NotRunning(self.name.clone()))
            }
        }
    }
}

//! Supervisors: child specs, restart strategies and budgets, in the OTP sense.

use crate::registry::{ActorKind, ActorStatus, CallError, Registry};
use crate::worker::{Envelope, Service, Worker};
use futures::future::BoxFuture;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When a child is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Restart {
    /// Always: after a failure and after a normal exit.
    Permanent,
    /// Only after a failure.
    Transient,
    /// Never.
    Temporary,
}

/// Which children restart when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Only the failed child.
    OneForOne,
    /// Every child (stopped in reverse order, started in order).
    OneForAll,
    /// The failed child and every child started after it.
    RestForOne,
}

/// At most `max_restarts` restarts within `window`; one more and the supervisor fails upward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Restarts allowed within the window (0: any failure fails the supervisor).
    pub max_restarts: u32,
    /// The sliding window.
    pub window: Duration,
}

impl Budget {
    /// `max_restarts` within `window`.
    pub const fn new(max_restarts: u32, window: Duration) -> Self {
        Budget {
            max_restarts,
            window,
        }
    }
}

type StartFn = Arc<dyn Fn(StartCtx) -> BoxFuture<'static, Result<ActorCell, String>> + Send + Sync>;

/// What a child's start function receives.
#[derive(Clone)]
pub struct StartCtx {
    supervisor: ActorCell,
    parent: String,
    registry: Arc<Registry>,
}

/// How to start and when to restart one child.
#[derive(Clone)]
pub struct ChildSpec {
    /// Registry name.
    pub name: String,
    /// Restart type.
    pub restart: Restart,
    start: StartFn,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .finish()
    }
}

impl ChildSpec {
    /// A worker running `service`, with a mailbox of at most `capacity` waiting messages.
    pub fn worker<S: Service>(name: &str, restart: Restart, capacity: u64, service: S) -> Self {
        let service = Arc::new(service);
        let name_owned = name.to_string();
        let start: StartFn = Arc::new(move |cx: StartCtx| {
            let service = service.clone();
            let name = name_owned.clone();
            Box::pin(async move {
                let counters = cx.registry.declare(
                    &name,
                    ActorKind::Worker,
                    Some(cx.parent.clone()),
                    capacity,
                );
                let worker = Worker {
                    service,
                    name: name.clone(),
                    registry: cx.registry.clone(),
                    counters,
                };
                let (actor, _join) = Actor::spawn_linked(None, worker, (), cx.supervisor.clone())
                    .await
                    .map_err(|e| format!("{name}: {e}"))?;
                Ok(actor.get_cell())
            })
        });
        ChildSpec {
            name: name.to_string(),
            restart,
            start,
        }
    }

    /// A nested supervisor.
    pub fn supervisor(spec: SupervisorSpec, restart: Restart) -> Self {
        let name = spec.name.clone();
        let spec = Arc::new(spec);
        let start: StartFn = Arc::new(move |cx: StartCtx| {
            let spec = spec.clone();
            Box::pin(async move {
                spawn_supervisor(
                    spec,
                    cx.registry.clone(),
                    Some((cx.parent.clone(), cx.supervisor.clone())),
                )
                .await
                .map(|(r, _)| r.get_cell())
            })
        });
        ChildSpec {
            name,
            restart,
            start,
        }
    }
}

/// A supervisor: its name, strategy, budget and children in start order.
#[derive(Clone, Debug)]
pub struct SupervisorSpec {
    /// Registry name.
    pub name: String,
    /// Restart strategy.
    pub strategy: Strategy,
    /// Restart budget.
    pub budget: Budget,
    /// Children, started in this order and stopped in reverse.
    pub children: Vec<ChildSpec>,
}

/// Messages a supervisor accepts besides supervision events.
#[derive(Debug)]
pub enum SupervisorMsg {
    /// Restart a child (and, by the strategy, its siblings); not counted against the budget.
    RestartChild {
        /// The child's name.
        name: String,
        /// Reply when done.
        reply: RpcReplyPort<Result<(), CallError>>,
    },
}

struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
}

struct Supervisor {
    spec: Arc<SupervisorSpec>,
    registry: Arc<Registry>,
    counters: Arc<crate::registry::Counters>,
}

struct SupState {
    children: Vec<Child>,
    restarts: VecDeque<Instant>,
}

async fn spawn_supervisor(
    spec: Arc<SupervisorSpec>,
    registry: Arc<Registry>,
    parent: Option<(String, ActorCell)>,
) -> Result<
    (
        ActorRef<Envelope<SupervisorMsg>>,
        tokio::task::JoinHandle<()>,
    ),
    String,
> {
    let counters = registry.declare(
        &spec.name,
        ActorKind::Supervisor,
        parent.as_ref().map(|p| p.0.clone()),
        64,
    );
    let sup = Supervisor {
        spec: spec.clone(),
        registry,
        counters,
    };
    let res = match parent {
        Some((_, cell)) => Actor::spawn_linked(None, sup, (), cell).await,
        None => Actor::spawn(None, sup, ()).await,
    };
    res.map_err(|e| format!("supervisor {}: {e}", spec.name))
}

/// A running supervision tree.
pub struct TreeHandle {
    /// The root supervisor.
    pub root: ActorRef<Envelope<SupervisorMsg>>,
    /// Completes when the root stops.
    pub join: tokio::task::JoinHandle<()>,
    /// The registry.
    pub registry: Arc<Registry>,
    name: String,
}

impl TreeHandle {
    /// Why the root stopped, if it failed (available after `join` completes).
    pub fn failure(&self) -> Option<String> {
        self.registry.info(&self.name).and_then(|i| i.last_failure)
    }

    /// Stops the whole tree (children in reverse order) and waits.
    pub async fn shutdown(self, timeout: Duration) {
        let _ = self
            .root
            .stop_and_wait(Some("shutdown".into()), Some(timeout))
            .await;
        let _ = tokio::time::timeout(timeout, self.join).await;
    }
}

/// Starts a supervision tree from its root spec; returns once every child has started.
pub async fn start_tree(
    spec: SupervisorSpec,
    registry: Arc<Registry>,
) -> Result<TreeHandle, String> {
    let name = spec.name.clone();
    let (root, join) = spawn_supervisor(Arc::new(spec), registry.clone(), None).await?;
    Ok(TreeHandle {
        root,
        join,
        registry,
        name,
    })
}

impl Supervisor {
    fn start_ctx(&self, myself: &ActorRef<Envelope<SupervisorMsg>>) -> StartCtx {
        StartCtx {
            supervisor: myself.get_cell(),
            parent: self.spec.name.clone(),
            registry: self.registry.clone(),
        }
    }

    async fn start_child(
        &self,
        myself: &ActorRef<Envelope<SupervisorMsg>>,
        child: &mut Child,
    ) -> Result<(), String> {
        let cell = (child.spec.start)(self.start_ctx(myself)).await?;
        child.cell = Some(cell);
        Ok(())
    }

    /// Stops a child (gracefully, then by force after 3 s) and records `status` for it.
    async fn stop_child(&self, child: &mut Child, status: ActorStatus) {
        if let Some(cell) = child.cell.take() {
            let id = cell.get_id();
            if cell
                .stop_and_wait(Some("restart".into()), Some(Duration::from_secs(3)))
                .await
                .is_err()
            {
                let _ = cell.kill_and_wait(Some(Duration::from_secs(3))).await;
            }
            self.registry
                .set_down(&child.spec.name, Some(id), status, None);
        }
    }

    async fn stop_all(&self, state: &mut SupState) {
        for child in state.children.iter_mut().rev() {
            self.stop_child(child, ActorStatus::Stopped).await;
        }
    }

    /// Charges one restart to the budget; past the budget the supervisor stops its children and
    /// returns the failure to report upward.
    async fn charge(
        &self,
        state: &mut SupState,
        child: &str,
        cause: &str,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        state.restarts.push_back(now);
        while state
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.spec.budget.window)
        {
            state.restarts.pop_front();
        }
        if state.restarts.len() <= self.spec.budget.max_restarts as usize {
            return Ok(());
        }
        let why = format!(
            "supervisor {}: restart budget exceeded ({} restarts within {:?}) after child {child} stopped ({cause}); giving up",
            self.spec.name, self.spec.budget.max_restarts, self.spec.budget.window,
        );
        tracing::error!("{why}");
        self.stop_all(state).await;
        self.registry.set_down(
            &self.spec.name,
            None,
            ActorStatus::Failed,
            Some(why.clone()),
        );
        Err(why.into())
    }

    /// Restarts `idx` and, by the strategy, its siblings. `cause` is set when the restart follows a
    /// failure or exit (it is charged to the budget); operator restarts pass None and are not charged.
    /// Temporary siblings are stopped and not restarted, as in OTP. A child that fails to start is
    /// retried, each attempt charged to the budget.
    async fn restart_from(
        &self,
        myself: &ActorRef<Envelope<SupervisorMsg>>,
        state: &mut SupState,
        idx: usize,
        cause: Option<&str>,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(cause) = cause {
            let name = state.children[idx].spec.name.clone();
            self.charge(state, &name, cause).await?;
        }
        let range: Vec<usize> = match self.spec.strategy {
            Strategy::OneForOne => vec![idx],
            Strategy::OneForAll => (0..state.children.len()).collect(),
            Strategy::RestForOne => (idx..state.children.len()).collect(),
        };
        for &i in range.iter().rev() {
            self.stop_child(&mut state.children[i], ActorStatus::Restarting)
                .await;
        }
        for &i in &range {
            let name = state.children[i].spec.name.clone();
            if state.children[i].spec.restart == Restart::Temporary && i != idx {
                self.registry
                    .set_down(&name, None, ActorStatus::Stopped, None);
                continue;
            }
            loop {
                self.registry.note_restart(&name);
                tracing::info!(supervisor = %self.spec.name, child = %name, "restarting");
                match self.start_child(myself, &mut state.children[i]).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(supervisor = %self.spec.name, child = %name, "restart failed: {e}");
                        self.registry.set_down(
                            &name,
                            None,
                            ActorStatus::Restarting,
                            Some(e.clone()),
                        );
                        self.charge(state, &name, &format!("failed to restart: {e}"))
                            .await?;
                        tokio::time::sleep(RESTART_RETRY_DELAY).await;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Pause between attempts to start a child that failed to start.
const RESTART_RETRY_DELAY: Duration = Duration::from_millis(100);

impl Actor for Supervisor {
    type Msg = Envelope<SupervisorMsg>;
    type State = SupState;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<SupState, ActorProcessingErr> {
        let mut state = SupState {
            children: self
                .spec
                .children
                .iter()
                .map(|spec| Child {
                    spec: spec.clone(),
                    cell: None,
                })
                .collect(),
            restarts: VecDeque::new(),
        };
        for i in 0..state.children.len() {
            if let Err(e) = self.start_child(&myself, &mut state.children[i]).await {
                self.stop_all(&mut state).await;
                return Err(format!("supervisor {}: {e}", self.spec.name).into());
            }
        }
        let me = myself.clone();
        self.registry
            .set_running(&self.spec.name, myself.get_cell(), Box::new(me), None);
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Envelope::Msg(SupervisorMsg::RestartChild { name, reply }) => {
                self.counters.finished_one();
                let Some(idx) = state.children.iter().position(|c| c.spec.name == name) else {
                    let _ = reply.send(Err(CallError::Unknown(name)));
                    return Ok(());
                };
                let res = self.restart_from(&myself, state, idx, None).await;
                let _ = reply.send(Ok(()));
                res
            }
            // Supervisors take no injected faults; their children do.
            Envelope::Fault(_) => Ok(()),
        }
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match evt {
            SupervisionEvent::ActorFailed(cell, err) => (cell, Some(err.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, None),
            _ => return Ok(()),
        };
        let id = cell.get_id();
        // Events from an incarnation we already replaced or stopped are ignored.
        let Some(idx) = state
            .children
            .iter()
            .position(|c| c.cell.as_ref().map(|c| c.get_id()) == Some(id))
        else {
            return Ok(());
        };
        let child = &mut state.children[idx];
        child.cell = None;
        let name = child.spec.name.clone();
        let restart = matches!(
            (child.spec.restart, failure.is_some()),
            (Restart::Permanent, _) | (Restart::Transient, true)
        );
        if let Some(f) = &failure {
            tracing::warn!(supervisor = %self.spec.name, child = %name, "child failed: {f}");
        }
        let status = if restart {
            ActorStatus::Restarting
        } else if failure.is_some() {
            ActorStatus::Failed
        } else {
            ActorStatus::Stopped
        };
        self.registry
            .set_down(&name, Some(id), status, failure.clone());
        if restart {
            self.restart_from(
                &myself,
                state,
                idx,
                Some(failure.as_deref().unwrap_or("normal exit")),
            )
            .await?;
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SupState,
    ) -> Result<(), ActorProcessingErr> {
        self.stop_all(state).await;
        self.registry
            .set_down(&self.spec.name, None, ActorStatus::Stopped, None);
        Ok(())
    }
}

//! A [`Service`] wrapped in a ractor actor: counters, the mailbox bound, fault injection.

use crate::registry::{ActorStatus, Addr, CallError, Counters, Fault, Registry};
use crate::BoxError;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What a worker actor's mailbox carries: the service's own messages, or an injected fault.
#[derive(Debug)]
pub enum Envelope<M> {
    /// A service message.
    Msg(M),
    /// A fault injected by a test or the admin API.
    Fault(Fault),
}

/// What a service sees of itself: its name, its own address and the registry to reach others.
pub struct Ctx<M> {
    /// Registry name.
    pub name: String,
    /// The node's registry.
    pub registry: Arc<Registry>,
    myself: ActorRef<Envelope<M>>,
}

impl<M: Send + 'static> Ctx<M> {
    /// This incarnation's own address (for timers and self-messages).
    pub fn myself(&self) -> Result<Addr<M>, CallError> {
        self.registry.lookup(&self.name)
    }

    /// Stops this incarnation normally (a permanent child is restarted, transient and temporary are not).
    pub fn stop_self(&self, reason: &str) {
        self.myself.stop(Some(reason.to_string()));
    }

    /// Sends a message to self after `delay`, unless this incarnation has stopped by then.
    pub fn send_after(&self, delay: std::time::Duration, msg: M) {
        let me = self.myself.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = me.cast(Envelope::Msg(msg));
        });
    }
}

/// A subsystem's logic, run inside a supervised actor.
///
/// `init` must rebuild the state from durable storage: it runs at first start and after every restart.
pub trait Service: Send + Sync + 'static {
    /// The service's message type.
    type Msg: Send + 'static;
    /// The state `init` builds.
    type State: Send + 'static;

    /// Builds the state. An error fails the start (and counts against the supervisor's budget).
    fn init(
        &self,
        ctx: &Ctx<Self::Msg>,
    ) -> impl Future<Output = Result<Self::State, BoxError>> + Send;

    /// Handles one message. An error (or a panic) fails this incarnation; the supervisor decides.
    fn handle(
        &self,
        ctx: &Ctx<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;
}

pub(crate) struct Worker<S: Service> {
    pub service: Arc<S>,
    pub name: String,
    pub registry: Arc<Registry>,
    pub counters: Arc<Counters>,
}

pub(crate) struct WorkerState<S: Service> {
    ctx: Ctx<S::Msg>,
    inner: S::State,
    drop_next: u32,
}

impl<S: Service> Actor for Worker<S> {
    type Msg = Envelope<S::Msg>;
    type State = WorkerState<S>;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        let ctx = Ctx {
            name: self.name.clone(),
            registry: self.registry.clone(),
            myself: myself.clone(),
        };
        let inner = self
            .service
            .init(&ctx)
            .await
            .map_err(|e| format!("{}: init failed: {e}", self.name))?;
        let me = myself.clone();
        let injector = Arc::new(move |f: Fault| {
            me.cast(Envelope::Fault(f))
                .map_err(|_| CallError::NotRunning(String::new()))
        });
        self.registry.set_running(
            &self.name,
            myself.get_cell(),
            Box::new(myself.clone()),
            Some(injector),
        );
        Ok(WorkerState {
            ctx,
            inner,
            drop_next: 0,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Envelope::Msg(m) => {
                let _ =
                    self.counters
                        .waiting
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                            Some(w.saturating_sub(1))
                        });
                if state.drop_next > 0 {
                    state.drop_next -= 1;
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(actor = %self.name, "injected fault: message dropped");
                    return Ok(());
                }
                let res = self.service.handle(&state.ctx, m, &mut state.inner).await;
                self.counters.handled.fetch_add(1, Ordering::Relaxed);
                res.map_err(|e| format!("{}: {e}", self.name).into())
            }
            Envelope::Fault(Fault::Panic) => {
                tracing::warn!(actor = %self.name, "injected fault: panicking");
                panic!("injected fault: panic in actor {}", self.name);
            }
            Envelope::Fault(Fault::Stall(d)) => {
                tracing::warn!(actor = %self.name, ms = d.as_millis() as u64, "injected fault: stalling");
                tokio::time::sleep(d).await;
                Ok(())
            }
            Envelope::Fault(Fault::Drop(n)) => {
                state.drop_next = state.drop_next.saturating_add(n);
                Ok(())
            }
        }
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        _state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.registry.set_down(
            &self.name,
            Some(myself.get_id()),
            ActorStatus::Stopped,
            None,
        );
        Ok(())
    }
}

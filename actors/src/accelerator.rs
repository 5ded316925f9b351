//! The `accelerator` actor: the node's one door to the heavy kernels (Groth16 proving, G1
//! multi-scalar multiplication, FFT, batch secp256k1 sender recovery, BLS aggregate checks), run on
//! the configured [`Backend`]. Jobs wait in the actor's bounded mailbox and run one at a time on a
//! blocking thread, each using the whole backend (a multi-core backend uses every core for one job:
//! two proofs at once would only share them). A full mailbox refuses the job at once; the caller
//! sees `Overloaded`. Counters per kind of job are shared with `/metrics` and `platon_accelerator`.

use alloy_primitives::{Address, B256};
use platon_config::AcceleratorBackend;
use platon_crypto::vc::backend::{Backend, BlsAggregate, Cpu};
use platon_crypto::vc::{Assignment, G1Point, G1Sum, Model, ProvingKey254, Scalar, PROOF_BYTES};
use platon_crypto::RecoverableSig;
use platon_supervision::{BoxError, Ctx, Service};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::oneshot;

/// One proof to make.
pub struct ProveJob {
    /// The model's proving key.
    pub pk: Arc<ProvingKey254>,
    /// The model.
    pub model: Arc<dyn Model>,
    /// The task id, as a scalar.
    pub task: Scalar,
    /// The model's public and private values for the task.
    pub assignment: Assignment,
    /// Seed of the proof's randomness (fresh per proof).
    pub rng_seed: [u8; 32],
}

/// A job for the accelerator; each carries the port its answer goes to (no call timeout: a proof
/// takes as long as it takes).
pub enum AcceleratorMsg {
    /// A Groth16 proof.
    Prove(
        Box<ProveJob>,
        oneshot::Sender<Result<[u8; PROOF_BYTES], String>>,
    ),
    /// Σ scalarsᵢ · basesᵢ over G1.
    Msm(
        Arc<Vec<G1Point>>,
        Vec<Scalar>,
        oneshot::Sender<Result<G1Sum, String>>,
    ),
    /// Evaluations of a polynomial over its radix-2 domain.
    Fft(Vec<Scalar>, oneshot::Sender<Result<Vec<Scalar>, String>>),
    /// Signers of (prehash, signature) pairs.
    RecoverSenders(
        Vec<(B256, RecoverableSig)>,
        oneshot::Sender<Vec<Result<Address, String>>>,
    ),
    /// Whether each BLS aggregate verifies.
    BlsVerify(Vec<BlsAggregate>, oneshot::Sender<Vec<bool>>),
}

/// The kinds of job, as counters label them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Groth16 proofs.
    Prove,
    /// G1 multi-scalar multiplications.
    Msm,
    /// FFTs.
    Fft,
    /// Batch secp256k1 sender recovery.
    RecoverSenders,
    /// BLS aggregate checks.
    BlsVerify,
}

impl Kind {
    /// Every kind, in counter order.
    pub const ALL: [Kind; 5] = [
        Kind::Prove,
        Kind::Msm,
        Kind::Fft,
        Kind::RecoverSenders,
        Kind::BlsVerify,
    ];

    /// The label counters and `platon_accelerator` use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prove => "prove",
            Kind::Msm => "msm",
            Kind::Fft => "fft",
            Kind::RecoverSenders => "recover_senders",
            Kind::BlsVerify => "bls_verify",
        }
    }
}

/// One kind's counters, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindFigures {
    /// The kind.
    pub kind: Kind,
    /// Jobs done (including failed ones).
    pub jobs: u64,
    /// Jobs that failed.
    pub failed: u64,
    /// Items handled.
    pub items: u64,
    /// Time spent on the backend, in milliseconds.
    pub busy_ms: u64,
}

/// Counters of one kind of job.
#[derive(Debug, Default)]
pub struct KindCounters {
    /// Jobs done (including failed ones).
    pub jobs: AtomicU64,
    /// Jobs that failed.
    pub failed: AtomicU64,
    /// Items handled (signatures, aggregates, points; 1 per proof or FFT).
    pub items: AtomicU64,
    /// Time spent on the backend, in microseconds.
    pub busy_us: AtomicU64,
}

/// The accelerator's counters, shared with the metrics and the RPC gateway.
#[derive(Debug, Default)]
pub struct Counters {
    /// The backend in use (empty until the actor started).
    pub backend: parking_lot::RwLock<String>,
    /// Per kind of job, in [`Kind::ALL`] order (index: `kind as usize`).
    pub kinds: [KindCounters; 5],
}

impl Counters {
    fn record(&self, kind: Kind, items: usize, failed: bool, started: std::time::Instant) {
        let k = &self.kinds[kind as usize];
        k.jobs.fetch_add(1, Ordering::Relaxed);
        k.items
            .fetch_add(u64::try_from(items).unwrap_or(u64::MAX), Ordering::Relaxed);
        if failed {
            k.failed.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        k.busy_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Every kind's counters now (`/metrics` and `platon_accelerator` read these).
    pub fn figures(&self) -> Vec<KindFigures> {
        Kind::ALL
            .iter()
            .zip(&self.kinds)
            .map(|(kind, k)| KindFigures {
                kind: *kind,
                jobs: k.jobs.load(Ordering::Relaxed),
                failed: k.failed.load(Ordering::Relaxed),
                items: k.items.load(Ordering::Relaxed),
                busy_ms: k.busy_us.load(Ordering::Relaxed) / 1000,
            })
            .collect()
    }

    /// The counters as JSON (`platon_accelerator`).
    pub fn to_json(&self) -> serde_json::Value {
        let kinds: serde_json::Map<String, serde_json::Value> = self
            .figures()
            .into_iter()
            .map(|f| {
                let v = serde_json::json!({
                    "jobs": f.jobs,
                    "failed": f.failed,
                    "items": f.items,
                    "busyMs": f.busy_ms,
                });
                (f.kind.name().to_string(), v)
            })
            .collect();
        serde_json::json!({ "backend": self.backend.read().clone(), "jobs": kinds })
    }
}

/// The backend `choice` names, or the reason it is not available and the default in its place.
pub fn select_backend(
    choice: AcceleratorBackend,
) -> Result<(Arc<dyn Backend>, Option<String>), String> {
    let cpu = |b: Result<Cpu, platon_crypto::vc::VcError>| {
        b.map(|c| Arc::new(c) as Arc<dyn Backend>)
            .map_err(|e| e.to_string())
    };
    match choice {
        AcceleratorBackend::CpuSingle => Ok((cpu(Cpu::single())?, None)),
        AcceleratorBackend::CpuMulti => Ok((cpu(Cpu::multi())?, None)),
        AcceleratorBackend::Gpu => Ok((
            cpu(Cpu::multi())?,
            Some("this build has no GPU backend (the `gpu` feature is not implemented yet); using cpu-multi".into()),
        )),
    }
}

/// The `accelerator` actor.
#[derive(Debug)]
pub struct AcceleratorService {
    /// The backend asked for (`vc.backend`).
    pub backend: AcceleratorBackend,
    /// The counters it keeps (the node's: [`crate::NodeContext::accelerator`]).
    pub counters: Arc<Counters>,
}

/// Runs a job on a blocking thread (a kernel never runs on a runtime worker).
async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, BoxError> {
    Ok(tokio::task::spawn_blocking(f).await?)
}

impl Service for AcceleratorService {
    type Msg = AcceleratorMsg;
    type State = Arc<dyn Backend>;

    async fn init(&self, _ctx: &Ctx<AcceleratorMsg>) -> Result<Arc<dyn Backend>, BoxError> {
        let (backend, fallback) = select_backend(self.backend)?;
        if let Some(why) = fallback {
            tracing::warn!(%why, "accelerator: backend fallback");
        }
        tracing::info!(backend = backend.name(), "accelerator ready");
        *self.counters.backend.write() = backend.name().to_string();
        Ok(backend)
    }

    async fn handle(
        &self,
        _ctx: &Ctx<AcceleratorMsg>,
        msg: AcceleratorMsg,
        backend: &mut Arc<dyn Backend>,
    ) -> Result<(), BoxError> {
        let b = backend.clone();
        let counters = self.counters.clone();
        let started = std::time::Instant::now();
        match msg {
            AcceleratorMsg::Prove(job, reply) => {
                let res = run(move || {
                    b.groth16_prove(
                        &job.pk,
                        job.model.as_ref(),
                        job.task,
                        &job.assignment,
                        job.rng_seed,
                    )
                    .map_err(|e| e.to_string())
                })
                .await?;
                counters.record(Kind::Prove, 1, res.is_err(), started);
                let _ = reply.send(res);
            }
            AcceleratorMsg::Msm(bases, scalars, reply) => {
                let n = scalars.len();
                let res =
                    run(move || b.msm_g1(&bases, &scalars).map_err(|e| e.to_string())).await?;
                counters.record(Kind::Msm, n, res.is_err(), started);
                let _ = reply.send(res);
            }
            AcceleratorMsg::Fft(coeffs, reply) => {
                let res = run(move || b.fft(&coeffs).map_err(|e| e.to_string())).await?;
                counters.record(Kind::Fft, 1, res.is_err(), started);
                let _ = reply.send(res);
            }
            AcceleratorMsg::RecoverSenders(items, reply) => {
                let n = items.len();
                let res = run(move || {
                    b.recover_senders(&items)
                        .into_iter()
                        .map(|r| r.map_err(|e| e.to_string()))
                        .collect::<Vec<_>>()
                })
                .await?;
                counters.record(
                    Kind::RecoverSenders,
                    n,
                    res.iter().any(|r| r.is_err()),
                    started,
                );
                let _ = reply.send(res);
            }
            AcceleratorMsg::BlsVerify(items, reply) => {
                let n = items.len();
                let res = run(move || b.bls_aggregate_verify(&items)).await?;
                counters.record(Kind::BlsVerify, n, res.iter().any(|ok| !ok), started);
                let _ = reply.send(res);
            }
        }
        Ok(())
    }
}

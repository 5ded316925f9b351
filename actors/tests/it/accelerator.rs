//! The `accelerator` actor under a supervisor: every kind of job answered through its handle (a
//! proof that verifies, sender recovery, BLS aggregates, MSM, FFT), errors returned and counted,
//! and a full mailbox refusing jobs at once instead of queueing without bound.

use platon_actors::accelerator::{AcceleratorService, Counters};
use platon_actors::handles::AcceleratorHandle;
use platon_actors::names;
use platon_config::AcceleratorBackend;
use platon_crypto::bls::{BlsSecretKey, BlsSignature};
use platon_crypto::vc::backend::BlsAggregate;
use platon_crypto::vc::{self, G1Sum, MimcChain, Model, Scalar};
use platon_crypto::{sign_prehash, SecretKey};
use platon_supervision::{
    start_tree, Budget, CallError, ChildSpec, Registry, Restart, Strategy, SupervisorSpec,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

async fn start(capacity: u64) -> (Arc<Registry>, Arc<Counters>, platon_supervision::TreeHandle) {
    start_with(capacity, AcceleratorBackend::CpuMulti).await
}

async fn start_with(
    capacity: u64,
    backend: AcceleratorBackend,
) -> (Arc<Registry>, Arc<Counters>, platon_supervision::TreeHandle) {
    let registry = Registry::new(false, Duration::from_secs(30));
    let counters = Arc::new(Counters::default());
    let spec = SupervisorSpec {
        name: "computing".into(),
        strategy: Strategy::OneForOne,
        budget: Budget::new(3, Duration::from_secs(10)),
        children: vec![ChildSpec::worker(
            names::ACCELERATOR,
            Restart::Permanent,
            capacity,
            AcceleratorService {
                backend,
                counters: counters.clone(),
            },
        )],
    };
    let tree = start_tree(spec, registry.clone()).await.expect("start");
    (registry, counters, tree)
}

fn job(m: &Arc<MimcChain>, keys: &vc::Keys, x: u64) -> platon_actors::accelerator::ProveJob {
    let mut input = [0u8; 32];
    input[24..].copy_from_slice(&x.to_be_bytes());
    platon_actors::accelerator::ProveJob {
        pk: Arc::new(keys.pk.clone()),
        model: m.clone(),
        task: Scalar::from(x),
        assignment: m.compute(&input).expect("compute"),
        rng_seed: [x as u8; 32],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_job_goes_through_the_actor_and_is_counted() {
    let (registry, counters, _tree) = start(64).await;
    let acc = AcceleratorHandle(registry.clone());
    assert_eq!(*counters.backend.read(), "cpu-multi");

    let m = Arc::new(MimcChain::new(50));
    let keys = vc::setup(m.as_ref(), b"accelerator actor").expect("setup");
    let j = job(&m, &keys, 7);
    let public = vc::public_words(&j.task, &j.assignment);
    let proof = acc.prove(j).await.expect("answered").expect("proof");
    assert_eq!(vc::verify(&keys.vk, &proof, &public), Ok(true));

    let signers: Vec<SecretKey> = (1..=5u8)
        .map(|i| SecretKey::from_bytes(&[i; 32]).expect("key"))
        .collect();
    let items: Vec<_> = signers
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let h = alloy_primitives::B256::repeat_byte(i as u8 + 1);
            (h, sign_prehash(&h, k))
        })
        .collect();
    let got = acc.recover_senders(items).await.expect("answered");
    let want: Vec<_> = signers.iter().map(|k| Ok(k.address())).collect();
    assert_eq!(got, want);

    let bls: Vec<BlsSecretKey> = (1..=3u8)
        .map(|i| BlsSecretKey::from_ikm(&[i; 32]).expect("bls"))
        .collect();
    let pks: Vec<_> = bls.iter().map(|k| k.public_key()).collect();
    let sig = BlsSignature::aggregate(&bls.iter().map(|k| k.sign(b"qc")).collect::<Vec<_>>())
        .expect("aggregate");
    let checks = vec![
        BlsAggregate {
            msg: b"qc".to_vec(),
            keys: pks.clone(),
            sig: sig.clone(),
        },
        BlsAggregate {
            msg: b"another block".to_vec(),
            keys: pks,
            sig,
        },
    ];
    assert_eq!(
        acc.bls_verify(checks).await.expect("answered"),
        vec![true, false]
    );

    // The empty MSM is the identity; mismatched lengths are an error, counted as failed.
    let zero = acc.msm(Arc::new(vec![]), vec![]).await.expect("answered");
    assert_eq!(zero, Ok(G1Sum::default()));
    let bad = acc
        .msm(Arc::new(vec![]), vec![Scalar::from(1u64)])
        .await
        .expect("answered");
    assert!(bad.is_err());
    let f = acc.fft(vec![Scalar::from(3u64)]).await.expect("answered");
    assert_eq!(f, Ok(vec![Scalar::from(3u64)]));
    assert!(acc
        .fft(vec![Scalar::from(1u64); 3])
        .await
        .expect("answered")
        .is_err());

    let k = |i: usize| &counters.kinds[i];
    assert_eq!(k(0).jobs.load(Ordering::Relaxed), 1);
    assert_eq!(k(1).jobs.load(Ordering::Relaxed), 2);
    assert_eq!(k(1).failed.load(Ordering::Relaxed), 1);
    assert_eq!(k(2).failed.load(Ordering::Relaxed), 1);
    assert_eq!(k(3).items.load(Ordering::Relaxed), 5);
    assert_eq!(k(4).items.load(Ordering::Relaxed), 2);
    assert_eq!(
        k(4).failed.load(Ordering::Relaxed),
        1,
        "a false aggregate counts as failed"
    );
    let json = counters.to_json();
    assert_eq!(json["jobs"]["prove"]["jobs"], serde_json::json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_refuses_jobs_at_once() {
    let (registry, _counters, _tree) = start(1).await;
    let acc = AcceleratorHandle(registry.clone());
    let m = Arc::new(MimcChain::new(400));
    let keys = vc::setup(m.as_ref(), b"overload").expect("setup");
    let jobs: Vec<_> = (1..=4u64).map(|x| acc.prove(job(&m, &keys, x))).collect();
    let results = futures::future::join_all(jobs).await;
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(CallError::Overloaded { .. })))
        .count();
    let proved = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert!(refused >= 1, "{results:?}");
    assert!(proved >= 1, "{results:?}");
    assert_eq!(refused + proved, 4, "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_a_gpu_in_a_build_without_one_falls_back_to_every_core() {
    let (registry, counters, _tree) = start_with(8, AcceleratorBackend::Gpu).await;
    assert_eq!(*counters.backend.read(), "cpu-multi");
    let m = Arc::new(MimcChain::new(20));
    let keys = vc::setup(m.as_ref(), b"fallback").expect("setup");
    let j = job(&m, &keys, 3);
    let public = vc::public_words(&j.task, &j.assignment);
    let proof = AcceleratorHandle(registry)
        .prove(j)
        .await
        .expect("answered")
        .expect("proof");
    assert_eq!(vc::verify(&keys.vk, &proof, &public), Ok(true));
}

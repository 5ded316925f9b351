//! The heavy kernels of verifiable computation behind one trait, so the `accelerator` actor can pick
//! the best backend present: multi-scalar multiplication, FFT, Groth16 proving and batch sender
//! recovery. Two CPU backends exist: one thread ([`Cpu::single`]) and every core ([`Cpu::multi`],
//! the default). Both run the same arkworks and libsecp256k1 code on a rayon pool of their size, so
//! they give identical results.

use super::{models::Model, Assignment, VcError, PROOF_BYTES};
use crate::{CryptoError, RecoverableSig};
use alloy_primitives::{Address, B256};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::VariableBaseMSM;
use ark_groth16::ProvingKey;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rayon::prelude::*;

/// A backend for the heavy kernels.
pub trait Backend: Send + Sync {
    /// The backend's name (`cpu-single`, `cpu-multi`), as counters and logs show it.
    fn name(&self) -> &'static str;
    /// Σ scalarsᵢ · basesᵢ over G1; the slices must have the same length.
    fn msm_g1(&self, bases: &[G1Affine], scalars: &[Fr]) -> Result<G1Projective, VcError>;
    /// Σ scalarsᵢ · basesᵢ over G2; the slices must have the same length.
    fn msm_g2(&self, bases: &[G2Affine], scalars: &[Fr]) -> Result<G2Projective, VcError>;
    /// The evaluations of a polynomial (its coefficients) over the radix-2 domain of its size,
    /// which must be a power of two.
    fn fft(&self, coeffs: &[Fr]) -> Result<Vec<Fr>, VcError>;
    /// A Groth16 proof of one task (see [`super::prove`]).
    fn groth16_prove(
        &self,
        pk: &ProvingKey<Bn254>,
        model: &dyn Model,
        task: Fr,
        assignment: &Assignment,
        rng_seed: [u8; 32],
    ) -> Result<[u8; PROOF_BYTES], VcError>;
    /// Each signature's signer (low-s required), in order.
    fn recover_senders(
        &self,
        items: &[(B256, RecoverableSig)],
    ) -> Vec<Result<Address, CryptoError>>;
    /// For each aggregate (a QC's signature over one message by a set of keys that proved
    /// possession), whether it verifies, in order.
    fn bls_aggregate_verify(&self, items: &[BlsAggregate]) -> Vec<bool>;
}

/// One BLS aggregate to check: every key in `keys` signed `msg`, and `sig` aggregates them.
#[derive(Debug, Clone)]
pub struct BlsAggregate {
    /// The signed message.
    pub msg: Vec<u8>,
    /// The signers' keys.
    pub keys: Vec<crate::bls::BlsPublicKey>,
    /// The aggregate signature.
    pub sig: crate::bls::BlsSignature,
}

/// Groth16 proving built from a backend's multi-scalar multiplications: the constraint system
/// and the QAP witness map (its FFTs) run here on the calling rayon pool, and the five MSMs that
/// dominate a proof (the H, L, A and B-in-G1 queries over G1, the B query over G2) go to
/// `backend`. A backend with faster MSMs (a GPU's) therefore proves faster with no other change.
/// The randomness r, s comes from `rng_seed` as `ark-groth16` draws it, so the proof is the one
/// `super::prove` makes from the same seed, byte for byte.
pub fn prove_with(
    backend: &dyn Backend,
    pk: &ProvingKey<Bn254>,
    model: &dyn Model,
    task: Fr,
    assignment: &Assignment,
    rng_seed: [u8; 32],
) -> Result<[u8; PROOF_BYTES], VcError> {
    use ark_ec::CurveGroup;
    use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
    use ark_poly::GeneralEvaluationDomain;
    use ark_relations::gr1cs::{
        ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
    };
    use ark_std::rand::{rngs::StdRng, SeedableRng};
    use ark_std::UniformRand;
    let err = |e: ark_relations::gr1cs::SynthesisError| VcError::Proving(e.to_string());
    let mut rng = StdRng::from_seed(rng_seed);
    let r = Fr::rand(&mut rng);
    let s = Fr::rand(&mut rng);
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
        generate_lc_assignments: false,
    });
    super::TaskCircuit::with(model, task, assignment)
        .generate_constraints(cs.clone())
        .map_err(err)?;
    cs.finalize();
    if !cs.is_satisfied().map_err(err)? {
        return Err(VcError::Proving(
            "the assignment does not satisfy the model's circuit".into(),
        ));
    }
    let h = LibsnarkReduction::witness_map::<Fr, GeneralEvaluationDomain<Fr>>(cs.clone())
        .map_err(err)?;
    let prover = cs
        .borrow()
        .ok_or_else(|| VcError::Proving("the constraint system is shared".into()))?;
    let missing = || VcError::Proving("the constraint system holds no assignment".into());
    let instance = prover.instance_assignment().map_err(err)?;
    let aux = prover.witness_assignment().map_err(err)?;
    let inputs = instance.get(1..).ok_or_else(missing)?;
    let assignment: Vec<Fr> = inputs.iter().chain(aux.iter()).copied().collect();
    let n = assignment.len();
    let h = h.get(..pk.h_query.len()).ok_or_else(missing)?;
    let (a0, a) = split_query(&pk.a_query, n, "A")?;
    let (b0, b) = split_query(&pk.b_g1_query, n, "B")?;
    let (b20, b2) = split_query(&pk.b_g2_query, n, "B (G2)")?;
    let h_acc = backend.msm_g1(&pk.h_query, h)?;
    let l_acc = backend.msm_g1(&pk.l_query, aux)?;
    let g_a = pk.delta_g1 * r + a0 + backend.msm_g1(a, &assignment)? + pk.vk.alpha_g1;
    let g1_b = pk.delta_g1 * s + b0 + backend.msm_g1(b, &assignment)? + pk.beta_g1;
    let g2_b = pk.vk.delta_g2 * s + b20 + backend.msm_g2(b2, &assignment)? + pk.vk.beta_g2;
    let g_c = g_a * s + g1_b * r - pk.delta_g1 * (r * s) + l_acc + h_acc;
    Ok(super::proof_to_bytes(&ark_groth16::Proof {
        a: g_a.into_affine(),
        b: g2_b.into_affine(),
        c: g_c.into_affine(),
    }))
}

/// A proving-key query's constant term and its terms for the `n` variables after it.
fn split_query<'a, T: Copy>(q: &'a [T], n: usize, what: &str) -> Result<(T, &'a [T]), VcError> {
    match (q.first(), q.get(1..=n)) {
        (Some(c), Some(terms)) => Ok((*c, terms)),
        _ => Err(VcError::Proving(format!(
            "the proving key's {what} query is short"
        ))),
    }
}

/// A CPU backend over a rayon pool of a fixed size.
pub struct Cpu {
    pool: rayon::ThreadPool,
    name: &'static str,
}

impl Cpu {
    /// One thread: the baseline.
    pub fn single() -> Result<Self, VcError> {
        Cpu::with_threads(1, "cpu-single")
    }

    /// Every core: the default.
    pub fn multi() -> Result<Self, VcError> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        Cpu::with_threads(n, "cpu-multi")
    }

    fn with_threads(threads: usize, name: &'static str) -> Result<Self, VcError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(move |i| format!("{name}-{i}"))
            .build()
            .map_err(|e| VcError::Proving(format!("thread pool: {e}")))?;
        Ok(Cpu { pool, name })
    }

    /// Threads of the pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Σ scalarsᵢ · basesᵢ in group `G`, on this pool; the slices must have the same length.
    fn msm<G: VariableBaseMSM<ScalarField = Fr>>(
        &self,
        bases: &[G::MulBase],
        scalars: &[Fr],
    ) -> Result<G, VcError> {
        if bases.len() != scalars.len() {
            return Err(VcError::BadInput(format!(
                "msm: {} bases and {} scalars",
                bases.len(),
                scalars.len()
            )));
        }
        self.pool
            .install(|| G::msm(bases, scalars).map_err(|n| VcError::BadInput(format!("msm: {n}"))))
    }
}

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        self.name
    }

    fn msm_g1(&self, bases: &[G1Affine], scalars: &[Fr]) -> Result<G1Projective, VcError> {
        self.msm(bases, scalars)
    }

    fn msm_g2(&self, bases: &[G2Affine], scalars: &[Fr]) -> Result<G2Projective, VcError> {
        self.msm(bases, scalars)
    }

    fn fft(&self, coeffs: &[Fr]) -> Result<Vec<Fr>, VcError> {
        if !coeffs.len().is_power_of_two() {
            return Err(VcError::BadInput(format!(
                "fft: {} coefficients is not a power of two",
                coeffs.len()
            )));
        }
        let domain = Radix2EvaluationDomain::<Fr>::new(coeffs.len())
            .ok_or_else(|| VcError::BadInput("fft: no domain of that size".into()))?;
        Ok(self.pool.install(|| domain.fft(coeffs)))
    }

    fn groth16_prove(
        &self,
        pk: &ProvingKey<Bn254>,
        model: &dyn Model,
        task: Fr,
        assignment: &Assignment,
        rng_seed: [u8; 32],
    ) -> Result<[u8; PROOF_BYTES], VcError> {
        self.pool
            .install(|| prove_with(self, pk, model, task, assignment, rng_seed))
    }

    fn recover_senders(
        &self,
        items: &[(B256, RecoverableSig)],
    ) -> Vec<Result<Address, CryptoError>> {
        self.pool.install(|| {
            items
                .par_iter()
                .map(|(hash, sig)| crate::recover_signer(hash, sig, true))
                .collect()
        })
    }

    fn bls_aggregate_verify(&self, items: &[BlsAggregate]) -> Vec<bool> {
        self.pool.install(|| {
            items
                .par_iter()
                .map(|a| a.sig.fast_aggregate_verify(&a.msg, &a.keys))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vc::{public_words, setup, verify, MimcChain};
    use ark_ec::{AffineRepr, CurveGroup, PrimeGroup};
    use ark_poly::{univariate::DensePolynomial, DenseUVPolynomial, Polynomial};

    fn backends() -> [Cpu; 2] {
        [Cpu::single().expect("single"), Cpu::multi().expect("multi")]
    }

    #[test]
    fn msm_and_fft_agree_with_the_naive_computation_on_both_backends() {
        let g = G1Projective::generator();
        let bases: Vec<G1Affine> = (1..=64u64)
            .map(|i| (g * Fr::from(i)).into_affine())
            .collect();
        let scalars: Vec<Fr> = (0..64u64).map(|i| Fr::from(i * i + 3)).collect();
        let naive = bases
            .iter()
            .zip(&scalars)
            .fold(G1Projective::default(), |acc, (b, s)| {
                acc + b.into_group() * s
            });
        let coeffs: Vec<Fr> = (0..16u64).map(|i| Fr::from(7 * i + 1)).collect();
        let poly = DensePolynomial::from_coefficients_slice(&coeffs);
        let domain = Radix2EvaluationDomain::<Fr>::new(16).expect("domain");
        let evals: Vec<Fr> = domain.elements().map(|x| poly.evaluate(&x)).collect();
        for b in backends() {
            assert_eq!(
                b.msm_g1(&bases, &scalars).expect("msm"),
                naive,
                "{}",
                b.name()
            );
            assert_eq!(b.fft(&coeffs).expect("fft"), evals, "{}", b.name());
            assert!(b.msm_g1(&bases[..3], &scalars).is_err());
            assert!(b.fft(&coeffs[..5]).is_err());
        }
        assert_eq!(backends()[0].threads(), 1);
    }

    #[test]
    fn proofs_and_recovered_senders_are_the_same_on_both_backends() {
        let m = MimcChain::new(10);
        let keys = setup(&m, b"backend").expect("setup");
        let a = m.compute(&[0u8; 32]).expect("compute");
        let task = Fr::from(11u64);
        let keys_and_sigs: Vec<(Address, (B256, RecoverableSig))> = (1..=20u8)
            .map(|i| {
                let key = crate::SecretKey::from_bytes(&[i; 32]).expect("key");
                let hash = B256::repeat_byte(i.wrapping_mul(3));
                let addr = key.address();
                (addr, (hash, crate::sign_prehash(&hash, &key)))
            })
            .collect();
        let items: Vec<(B256, RecoverableSig)> = keys_and_sigs.iter().map(|(_, i)| *i).collect();
        let want: Vec<Address> = keys_and_sigs.iter().map(|(a, _)| *a).collect();
        let mut proofs = Vec::new();
        for b in backends() {
            let p = b
                .groth16_prove(&keys.pk, &m, task, &a, [5; 32])
                .expect("prove");
            assert_eq!(verify(&keys.vk, &p, &public_words(&task, &a)), Ok(true));
            proofs.push(p);
            let got: Vec<Address> = b
                .recover_senders(&items)
                .into_iter()
                .map(|r| r.expect("recovers"))
                .collect();
            assert_eq!(got, want, "{}", b.name());
        }
        // The same seed gives the same proof: the backends compute the same thing.
        assert_eq!(proofs[0], proofs[1]);
    }

    #[test]
    fn the_backend_composed_prover_gives_ark_groth16s_proof_byte_for_byte() {
        let m = MimcChain::new(30);
        let keys = setup(&m, b"composed prover").expect("setup");
        let a = m.compute(&[3u8; 32].map(|b| b & 0x0f)).expect("compute");
        let task = Fr::from(99u64);
        for seed in [[1u8; 32], [2u8; 32]] {
            let ours = prove_with(&Cpu::single().expect("cpu"), &keys.pk, &m, task, &a, seed)
                .expect("ours");
            let theirs = crate::vc::prove(&keys.pk, &m, task, &a, seed).expect("arkworks");
            assert_eq!(ours, theirs);
            assert_eq!(verify(&keys.vk, &ours, &public_words(&task, &a)), Ok(true));
        }
        // An assignment that does not satisfy the circuit is an error, not a bad proof.
        let mut wrong = a.clone();
        wrong.public[1] += Fr::from(1u64);
        assert!(prove_with(
            &Cpu::single().expect("cpu"),
            &keys.pk,
            &m,
            task,
            &wrong,
            [1; 32]
        )
        .is_err());
    }

    #[test]
    fn bls_aggregates_verify_alike_on_both_backends_and_a_wrong_one_fails() {
        use crate::bls::{BlsSecretKey, BlsSignature};
        let keys: Vec<BlsSecretKey> = (1..=4u8)
            .map(|i| BlsSecretKey::from_ikm(&[i; 32]).expect("key"))
            .collect();
        let pks: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
        let agg = |msg: &[u8], signers: &[usize]| {
            let sigs: Vec<BlsSignature> = signers.iter().map(|i| keys[*i].sign(msg)).collect();
            BlsSignature::aggregate(&sigs).expect("aggregate")
        };
        let items = vec![
            BlsAggregate {
                msg: b"block 1".to_vec(),
                keys: pks[..3].to_vec(),
                sig: agg(b"block 1", &[0, 1, 2]),
            },
            // Claims key 3 signed too: it did not.
            BlsAggregate {
                msg: b"block 2".to_vec(),
                keys: pks.clone(),
                sig: agg(b"block 2", &[0, 1, 2]),
            },
            // Signed another message.
            BlsAggregate {
                msg: b"block 3".to_vec(),
                keys: pks.clone(),
                sig: agg(b"block 4", &[0, 1, 2, 3]),
            },
            BlsAggregate {
                msg: b"block 5".to_vec(),
                keys: pks.clone(),
                sig: agg(b"block 5", &[0, 1, 2, 3]),
            },
        ];
        for b in backends() {
            assert_eq!(
                b.bls_aggregate_verify(&items),
                vec![true, false, false, true],
                "{}",
                b.name()
            );
        }
    }
}

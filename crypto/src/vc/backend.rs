//! The heavy kernels of verifiable computation behind one trait, so the `accelerator` actor can pick
//! the best backend present: multi-scalar multiplication, FFT, Groth16 proving and batch sender
//! recovery. Two CPU backends exist: one thread ([`Cpu::single`]) and every core ([`Cpu::multi`],
//! the default). Both run the same arkworks and libsecp256k1 code on a rayon pool of their size, so
//! they give identical results.

use super::{models::Model, Assignment, VcError, PROOF_BYTES};
use crate::{CryptoError, RecoverableSig};
use alloy_primitives::{Address, B256};
use ark_bn254::{Bn254, Fr, G1Affine, G1Projective};
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
}

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        self.name
    }

    fn msm_g1(&self, bases: &[G1Affine], scalars: &[Fr]) -> Result<G1Projective, VcError> {
        if bases.len() != scalars.len() {
            return Err(VcError::BadInput(format!(
                "msm: {} bases and {} scalars",
                bases.len(),
                scalars.len()
            )));
        }
        self.pool.install(|| {
            G1Projective::msm(bases, scalars).map_err(|n| VcError::BadInput(format!("msm: {n}")))
        })
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
            .install(|| super::prove(pk, model, task, assignment, rng_seed))
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

//! Verifiable computation: BN254 Groth16 (`ark-groth16`) with the byte layout the chain stores and
//! the EVM's pairing precompile reads, and the computation models ([`models`]) that give a task's
//! plain result and its R1CS circuit from one piece of code.
//!
//! The layout (every number 32 bytes, big-endian, as in EIP-196/197):
//! - a G1 point is `x ‖ y` (64 bytes; `0 ‖ 0` is the point at infinity);
//! - a G2 point is `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0` (128 bytes), the precompile's order;
//! - a proof is `A (G1) ‖ B (G2) ‖ C (G1)`, 256 bytes;
//! - a verifying key is `α (G1) ‖ β (G2) ‖ γ (G2) ‖ δ (G2) ‖ IC₀ … ICₙ (G1)`, 448 + 64·(n+1) bytes
//!   for n public inputs;
//! - a public input is a scalar below the group order r.
//!
//! Decoding checks every coordinate is below the field modulus, every point is on its curve and
//! in the prime-order subgroup: bytes from a transaction cannot make verification panic.

pub mod backend;
pub mod models;

use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::rand::{rngs::StdRng, SeedableRng};

pub use ark_bn254::Fr as Scalar;
pub use ark_bn254::{G1Affine as G1Point, G1Projective as G1Sum};
/// A BN254 Groth16 proving key.
pub type ProvingKey254 = ProvingKey<Bn254>;
pub use models::{Assignment, MerkleMembership, MimcChain, Model};

/// Bytes of an encoded proof.
pub const PROOF_BYTES: usize = 256;
/// Bytes of a verifying key before its IC points.
pub const VK_FIXED_BYTES: usize = 448;
/// Bytes of one G1 point.
pub const G1_BYTES: usize = 64;
/// Bytes of one G2 point.
pub const G2_BYTES: usize = 128;

/// Why bytes are not a key, a proof or a public input, or why proving failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VcError {
    /// The verifying key's length or a point in it is wrong.
    #[error("malformed verifying key: {0}")]
    MalformedKey(String),
    /// The proof's length or a point in it is wrong.
    #[error("malformed proof: {0}")]
    MalformedProof(String),
    /// A public input is not below the group order.
    #[error("public input {0} is not below the BN254 group order")]
    InputNotInField(usize),
    /// The number of public inputs does not match the key.
    #[error("the key takes {expected} public inputs, {got} were given")]
    WrongInputCount {
        /// What the key takes.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// A task's input does not fit the model.
    #[error("bad task input: {0}")]
    BadInput(String),
    /// The circuit could not be built or proved.
    #[error("proving failed: {0}")]
    Proving(String),
    /// The proving key's bytes do not decode, or do not match the hash the contract recorded.
    #[error("proving key: {0}")]
    ProvingKey(String),
}

/// A scalar from 32 big-endian bytes, refused when not below r.
pub fn scalar_from_be(bytes: &[u8; 32]) -> Option<Fr> {
    field_from_be(bytes)
}

/// A scalar as 32 big-endian bytes.
pub fn scalar_to_be(x: &Fr) -> [u8; 32] {
    field_to_be(x)
}

/// An element of a 256-bit prime field from 32 big-endian bytes, refused when not below the modulus
/// (a reduction that changes the bytes is a refusal).
fn field_from_be<F: PrimeField>(bytes: &[u8; 32]) -> Option<F> {
    let x = F::from_be_bytes_mod_order(bytes);
    (field_to_be(&x) == *bytes).then_some(x)
}

/// An element of a 256-bit prime field as 32 big-endian bytes.
fn field_to_be<F: PrimeField>(x: &F) -> [u8; 32] {
    let be = x.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    let n = be.len().min(32);
    out[32 - n..].copy_from_slice(&be[be.len() - n..]);
    out
}

fn fq(bytes: &[u8]) -> Option<Fq> {
    field_from_be(bytes.try_into().ok()?)
}

/// Decodes a G1 point (on the curve; BN254's G1 has cofactor 1).
pub fn g1_from_bytes(b: &[u8]) -> Result<G1Affine, String> {
    if b.len() != G1_BYTES {
        return Err(format!("a G1 point is {G1_BYTES} bytes, not {}", b.len()));
    }
    let (x, y) = (
        fq(&b[..32]).ok_or("x is not below the field modulus")?,
        fq(&b[32..]).ok_or("y is not below the field modulus")?,
    );
    if x == Fq::from(0u64) && y == Fq::from(0u64) {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err("G1 point is not on the curve".into());
    }
    Ok(p)
}

/// Encodes a G1 point.
pub fn g1_to_bytes(p: &G1Affine) -> [u8; G1_BYTES] {
    let mut out = [0u8; G1_BYTES];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&field_to_be(&x));
        out[32..].copy_from_slice(&field_to_be(&y));
    }
    out
}

/// Decodes a G2 point (on the twist and in the order-r subgroup).
pub fn g2_from_bytes(b: &[u8]) -> Result<G2Affine, String> {
    if b.len() != G2_BYTES {
        return Err(format!("a G2 point is {G2_BYTES} bytes, not {}", b.len()));
    }
    let c = |i: usize| {
        fq(&b[i * 32..(i + 1) * 32]).ok_or("a coordinate is not below the field modulus")
    };
    let x = Fq2::new(c(1)?, c(0)?);
    let y = Fq2::new(c(3)?, c(2)?);
    if b.iter().all(|&v| v == 0) {
        return Ok(G2Affine::zero());
    }
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err("G2 point is not on the curve".into());
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err("G2 point is not in the order-r subgroup".into());
    }
    Ok(p)
}

/// Encodes a G2 point.
pub fn g2_to_bytes(p: &G2Affine) -> [u8; G2_BYTES] {
    let mut out = [0u8; G2_BYTES];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&field_to_be(&x.c1));
        out[32..64].copy_from_slice(&field_to_be(&x.c0));
        out[64..96].copy_from_slice(&field_to_be(&y.c1));
        out[96..].copy_from_slice(&field_to_be(&y.c0));
    }
    out
}

/// Encodes a verifying key.
pub fn vk_to_bytes(vk: &VerifyingKey<Bn254>) -> Vec<u8> {
    let mut out = Vec::with_capacity(VK_FIXED_BYTES + G1_BYTES * vk.gamma_abc_g1.len());
    out.extend_from_slice(&g1_to_bytes(&vk.alpha_g1));
    out.extend_from_slice(&g2_to_bytes(&vk.beta_g2));
    out.extend_from_slice(&g2_to_bytes(&vk.gamma_g2));
    out.extend_from_slice(&g2_to_bytes(&vk.delta_g2));
    for p in &vk.gamma_abc_g1 {
        out.extend_from_slice(&g1_to_bytes(p));
    }
    out
}

/// Decodes a verifying key.
pub fn vk_from_bytes(b: &[u8]) -> Result<VerifyingKey<Bn254>, VcError> {
    let bad = VcError::MalformedKey;
    if b.len() < VK_FIXED_BYTES + G1_BYTES || (b.len() - VK_FIXED_BYTES) % G1_BYTES != 0 {
        return Err(bad(format!(
            "{} bytes: a key is {VK_FIXED_BYTES} + 64·(inputs + 1) bytes",
            b.len()
        )));
    }
    let alpha_g1 = g1_from_bytes(&b[..64]).map_err(bad)?;
    let beta_g2 = g2_from_bytes(&b[64..192]).map_err(bad)?;
    let gamma_g2 = g2_from_bytes(&b[192..320]).map_err(bad)?;
    let delta_g2 = g2_from_bytes(&b[320..448]).map_err(bad)?;
    let gamma_abc_g1 = b[VK_FIXED_BYTES..]
        .chunks(G1_BYTES)
        .map(g1_from_bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    Ok(VerifyingKey {
        alpha_g1,
        beta_g2,
        gamma_g2,
        delta_g2,
        gamma_abc_g1,
    })
}

/// The number of public inputs a key's bytes take, without decoding its points.
pub fn vk_inputs(vk_len: usize) -> Option<usize> {
    let ic = vk_len.checked_sub(VK_FIXED_BYTES)?;
    (ic % G1_BYTES == 0 && ic >= G1_BYTES).then(|| ic / G1_BYTES - 1)
}

/// Encodes a proof.
pub fn proof_to_bytes(p: &Proof<Bn254>) -> [u8; PROOF_BYTES] {
    let mut out = [0u8; PROOF_BYTES];
    out[..64].copy_from_slice(&g1_to_bytes(&p.a));
    out[64..192].copy_from_slice(&g2_to_bytes(&p.b));
    out[192..].copy_from_slice(&g1_to_bytes(&p.c));
    out
}

/// Decodes a proof.
pub fn proof_from_bytes(b: &[u8]) -> Result<Proof<Bn254>, VcError> {
    let bad = VcError::MalformedProof;
    if b.len() != PROOF_BYTES {
        return Err(bad(format!("{} bytes, a proof is {PROOF_BYTES}", b.len())));
    }
    Ok(Proof {
        a: g1_from_bytes(&b[..64]).map_err(bad)?,
        b: g2_from_bytes(&b[64..192]).map_err(bad)?,
        c: g1_from_bytes(&b[192..]).map_err(bad)?,
    })
}

/// Verifies an encoded proof against an encoded key and public inputs (32-byte words).
/// `Ok(false)` is a well-formed proof that does not verify; `Err` is bytes that are not a key, a
/// proof or inputs.
pub fn verify(vk: &[u8], proof: &[u8], inputs: &[[u8; 32]]) -> Result<bool, VcError> {
    let vk = vk_from_bytes(vk)?;
    let proof = proof_from_bytes(proof)?;
    let expected = vk.gamma_abc_g1.len() - 1;
    if inputs.len() != expected {
        return Err(VcError::WrongInputCount {
            expected,
            got: inputs.len(),
        });
    }
    let inputs = inputs
        .iter()
        .enumerate()
        .map(|(i, w)| scalar_from_be(w).ok_or(VcError::InputNotInField(i)))
        .collect::<Result<Vec<_>, _>>()?;
    Groth16::<Bn254>::verify_proof(&ark_groth16::prepare_verifying_key(&vk), &proof, &inputs)
        .map_err(|e| VcError::Proving(e.to_string()))
}

/// The circuit of a task: the task's id as the first public input (so a proof answers one task
/// only), then the model's public values, then its private witness.
pub struct TaskCircuit<'a> {
    model: &'a dyn Model,
    task: Option<Fr>,
    assignment: Option<&'a Assignment>,
}

impl<'a> TaskCircuit<'a> {
    /// The shape only, for key generation.
    pub fn shape(model: &'a dyn Model) -> Self {
        TaskCircuit {
            model,
            task: None,
            assignment: None,
        }
    }

    /// With the values of one task.
    pub fn with(model: &'a dyn Model, task: Fr, assignment: &'a Assignment) -> Self {
        TaskCircuit {
            model,
            task: Some(task),
            assignment: Some(assignment),
        }
    }
}

impl ConstraintSynthesizer<Fr> for TaskCircuit<'_> {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar};
        let missing = || SynthesisError::AssignmentMissing;
        let _task = FpVar::new_input(cs.clone(), || self.task.ok_or_else(missing))?;
        let mut public = Vec::with_capacity(self.model.public_len());
        for i in 0..self.model.public_len() {
            let v = self.assignment.and_then(|a| a.public.get(i).copied());
            public.push(FpVar::new_input(cs.clone(), || v.ok_or_else(missing))?);
        }
        let mut private = Vec::with_capacity(self.model.private_len());
        for i in 0..self.model.private_len() {
            let v = self.assignment.and_then(|a| a.private.get(i).copied());
            private.push(FpVar::new_witness(cs.clone(), || v.ok_or_else(missing))?);
        }
        self.model.synthesize(&public, &private)
    }
}

/// A model's Groth16 keys.
pub struct Keys {
    /// The proving key (large: kept by computing nodes; the chain keeps its hash).
    pub pk: ProvingKey<Bn254>,
    /// The verifying key's bytes (kept on chain).
    pub vk: Vec<u8>,
}

/// Generates a model's keys from a seed. Anyone who knows the seed can forge proofs: a seed that
/// is published (the dev chain's) gives keys for testing only. See the README's "Verifiable
/// computation" section on trust.
pub fn setup(model: &dyn Model, seed: &[u8]) -> Result<Keys, VcError> {
    let mut rng = StdRng::from_seed(crate::keccak256(seed).0);
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(TaskCircuit::shape(model), &mut rng)
        .map_err(|e| VcError::Proving(e.to_string()))?;
    Ok(Keys {
        pk,
        vk: vk_to_bytes(&vk),
    })
}

/// Proves one task: its id (a scalar) and the model's assignment. Runs on the calling rayon pool
/// (install a one-thread pool for a single-threaded prover).
pub fn prove(
    pk: &ProvingKey<Bn254>,
    model: &dyn Model,
    task: Fr,
    assignment: &Assignment,
    rng_seed: [u8; 32],
) -> Result<[u8; PROOF_BYTES], VcError> {
    let mut rng = StdRng::from_seed(rng_seed);
    let proof = Groth16::<Bn254>::prove(pk, TaskCircuit::with(model, task, assignment), &mut rng)
        .map_err(|e| VcError::Proving(e.to_string()))?;
    Ok(proof_to_bytes(&proof))
}

/// The proving key's bytes (uncompressed arkworks encoding) and their keccak256, the hash a VC
/// contract records.
pub fn pk_to_bytes(pk: &ProvingKey<Bn254>) -> Result<Vec<u8>, VcError> {
    let mut out = Vec::new();
    pk.serialize_uncompressed(&mut out)
        .map_err(|e| VcError::ProvingKey(e.to_string()))?;
    Ok(out)
}

/// Decodes a proving key whose bytes hash to `expected` (the contract's record), so a file that
/// was swapped or truncated is refused before it is used.
pub fn pk_from_bytes(bytes: &[u8], expected: &[u8; 32]) -> Result<ProvingKey<Bn254>, VcError> {
    let got = crate::keccak256(bytes);
    if got.0 != *expected {
        return Err(VcError::ProvingKey(format!(
            "the file hashes to {got}, the contract records 0x{}",
            hex::encode(expected)
        )));
    }
    ProvingKey::deserialize_uncompressed_unchecked(bytes)
        .map_err(|e| VcError::ProvingKey(e.to_string()))
}

/// The public inputs of a task as 32-byte words: the task id, then the model's public values
/// (what `set_result` hands the verifier).
pub fn public_words(task: &Fr, assignment: &Assignment) -> Vec<[u8; 32]> {
    std::iter::once(scalar_to_be(task))
        .chain(assignment.public.iter().map(scalar_to_be))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mimc_keys(rounds: usize) -> (MimcChain, Keys) {
        let m = MimcChain::new(rounds);
        let k = setup(&m, b"test seed").expect("setup");
        (m, k)
    }

    #[test]
    fn a_proof_verifies_for_its_task_and_result_only() {
        let (m, keys) = mimc_keys(8);
        let mut input = [0u8; 32];
        input[31] = 7;
        let a = m.compute(&input).expect("compute");
        // The largest id a contract makes: a hash with its top three bits cleared.
        let mut id = [0xff; 32];
        id[0] &= 0x1f;
        let task = scalar_from_be(&id).expect("below r");
        let proof = prove(&keys.pk, &m, task, &a, [1; 32]).expect("prove");
        let words = public_words(&task, &a);
        assert_eq!(verify(&keys.vk, &proof, &words), Ok(true));

        // Another task (a replay), another result, another input: each fails.
        let mut other_task = words.clone();
        other_task[0][31] ^= 1;
        assert_eq!(verify(&keys.vk, &proof, &other_task), Ok(false));
        let mut wrong_result = words.clone();
        wrong_result[2][31] ^= 1;
        assert_eq!(verify(&keys.vk, &proof, &wrong_result), Ok(false));
        let mut wrong_input = words.clone();
        wrong_input[1][31] ^= 1;
        assert_eq!(verify(&keys.vk, &proof, &wrong_input), Ok(false));

        // A proof made with another model's keys for the same values does not verify either.
        let other = setup(&m, b"another seed").expect("setup");
        assert_eq!(verify(&other.vk, &proof, &words), Ok(false));
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        let (m, keys) = mimc_keys(2);
        let a = m.compute(&[0u8; 32]).expect("compute");
        let task = Fr::from(5u64);
        let proof = prove(&keys.pk, &m, task, &a, [2; 32]).expect("prove");
        let words = public_words(&task, &a);

        assert!(matches!(
            verify(&keys.vk[..100], &proof, &words),
            Err(VcError::MalformedKey(_))
        ));
        assert!(matches!(
            verify(&keys.vk, &proof[..255], &words),
            Err(VcError::MalformedProof(_))
        ));
        // A point moved off the curve.
        let mut off = proof;
        off[63] ^= 1;
        assert!(matches!(
            verify(&keys.vk, &off, &words),
            Err(VcError::MalformedProof(_))
        ));
        // A coordinate above the modulus.
        let mut big = proof;
        big[..32].copy_from_slice(&[0xff; 32]);
        assert!(matches!(
            verify(&keys.vk, &big, &words),
            Err(VcError::MalformedProof(_))
        ));
        // An input above r, and the wrong number of inputs.
        let mut above = words.clone();
        above[1] = [0xff; 32];
        assert_eq!(
            verify(&keys.vk, &proof, &above),
            Err(VcError::InputNotInField(1))
        );
        assert!(matches!(
            verify(&keys.vk, &proof, &words[..2]),
            Err(VcError::WrongInputCount {
                expected: 3,
                got: 2
            })
        ));
        // Random bytes of the right length.
        let junk: Vec<u8> = (0..PROOF_BYTES).map(|i| (i * 37 % 251) as u8).collect();
        assert!(verify(&keys.vk, &junk, &words).is_err());
    }

    #[test]
    fn encodings_round_trip_and_keys_are_determined_by_the_seed() {
        let (m, keys) = mimc_keys(3);
        let vk = vk_from_bytes(&keys.vk).expect("decode");
        assert_eq!(vk_to_bytes(&vk), keys.vk);
        assert_eq!(vk_inputs(keys.vk.len()), Some(3));
        let again = setup(&m, b"test seed").expect("setup");
        assert_eq!(again.vk, keys.vk);
        let pk = pk_to_bytes(&keys.pk).expect("pk");
        let hash = crate::keccak256(&pk).0;
        let back = pk_from_bytes(&pk, &hash).expect("decode pk");
        assert_eq!(vk_to_bytes(&back.vk), keys.vk);
        let mut wrong = hash;
        wrong[0] ^= 1;
        assert!(matches!(
            pk_from_bytes(&pk, &wrong),
            Err(VcError::ProvingKey(_))
        ));
        let r = Fr::from(123456789u64);
        assert_eq!(scalar_from_be(&scalar_to_be(&r)), Some(r));
        assert_eq!(scalar_from_be(&[0xff; 32]), None);
    }
}

//! Computation models: each is one Rust type whose plain computation and R1CS circuit come from
//! the same generic code ([`Num`] is implemented by field elements and by circuit variables), so
//! the result a computing node posts and the statement its proof makes cannot drift apart.
//!
//! - [`MimcChain`]: N rounds of the MiMC-5 round function `x ← (x + cᵢ)⁵` over BN254's scalar field
//!   (3 constraints a round), from a public start to a public end.
//! - [`MerkleMembership`]: a leaf and a root (public) joined by a path (private) through a binary
//!   tree hashed with [`mimc_hash2`].
//!
//! The round constants are `keccak256("platon-vc-mimc5" ‖ i)` reduced mod r (c₀ = 0). gcd(5, r − 1)
//! = 1, so each round is a permutation. These models show the machinery; neither hash is a
//! standardised or audited one.

use super::{scalar_from_be, scalar_to_be, VcError};
use ark_bn254::Fr;
use ark_ff::{One, PrimeField, Zero};
use ark_r1cs_std::{eq::EqGadget, fields::fp::FpVar, fields::FieldVar};
use ark_relations::gr1cs::SynthesisError;
use std::ops::{Add, Mul, Sub};
use std::sync::Mutex;

/// Arithmetic that both a field element and a circuit variable support: a model written over
/// `Num` is evaluated on [`Fr`] for its result and on `FpVar<Fr>` for its constraints.
pub trait Num:
    Clone + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Add<Fr, Output = Self>
{
}

impl Num for Fr {}
impl Num for FpVar<Fr> {}

/// A task's values: the model's public ones (the input's public words, then the result's) and
/// its private witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Public values: input words, then result words.
    pub public: Vec<Fr>,
    /// Private values.
    pub private: Vec<Fr>,
}

impl Assignment {
    /// The result as the bytes `set_result` carries: the result words, 32 bytes each.
    pub fn result_bytes(&self, model: &dyn Model) -> Vec<u8> {
        self.public
            .iter()
            .skip(model.input_words())
            .flat_map(scalar_to_be)
            .collect()
    }
}

/// A computation the chain can outsource: its plain evaluation and its circuit.
pub trait Model: Send + Sync {
    /// The name a VC contract records (`mimc5-chain:64`, `merkle-mimc:16`).
    fn name(&self) -> String;
    /// Public words taken from the start of a task's input.
    fn input_words(&self) -> usize;
    /// Words of the result.
    fn result_words(&self) -> usize;
    /// Private values of the witness.
    fn private_len(&self) -> usize;
    /// Public values: input words then result words.
    fn public_len(&self) -> usize {
        self.input_words() + self.result_words()
    }
    /// Evaluates a task's input: its public values (the result included) and private witness.
    fn compute(&self, input: &[u8]) -> Result<Assignment, VcError>;
    /// Constrains `public` and `private` (allocated by the caller in that order).
    fn synthesize(&self, public: &[FpVar<Fr>], private: &[FpVar<Fr>])
        -> Result<(), SynthesisError>;
}

/// The model a contract's recorded name denotes.
pub fn by_name(name: &str) -> Result<Box<dyn Model>, VcError> {
    let (kind, n) = name
        .split_once(':')
        .ok_or_else(|| VcError::BadInput(format!("model {name:?}: expected kind:size")))?;
    let n: usize = n
        .parse()
        .map_err(|_| VcError::BadInput(format!("model {name:?}: size is not a number")))?;
    match kind {
        "mimc5-chain" if (1..=MAX_ROUNDS).contains(&n) => Ok(Box::new(MimcChain::new(n))),
        "merkle-mimc" if (1..=MAX_DEPTH).contains(&n) => Ok(Box::new(MerkleMembership::new(n))),
        _ => Err(VcError::BadInput(format!(
            "model {name:?}: known models are mimc5-chain:1..={MAX_ROUNDS} and merkle-mimc:1..={MAX_DEPTH}"
        ))),
    }
}

/// The most rounds a [`MimcChain`] takes (about 2²⁰ constraints).
pub const MAX_ROUNDS: usize = 350_000;
/// The deepest [`MerkleMembership`] tree.
pub const MAX_DEPTH: usize = 64;
/// Rounds of the MiMC permutation inside [`mimc_hash2`] (⌈log₅ r⌉ = 110).
pub const HASH_ROUNDS: usize = 110;

/// The first `n` round constants, computed once up to the largest count asked for so far.
fn constants(n: usize) -> Vec<Fr> {
    static CACHE: Mutex<Vec<Fr>> = Mutex::new(Vec::new());
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    while c.len() < n {
        let i = c.len() as u64;
        c.push(if i == 0 {
            Fr::zero()
        } else {
            let mut pre = b"platon-vc-mimc5".to_vec();
            pre.extend_from_slice(&i.to_be_bytes());
            Fr::from_be_bytes_mod_order(crate::keccak256(&pre).as_slice())
        });
    }
    c[..n].to_vec()
}

/// `rounds` rounds of `x ← (x + cᵢ)⁵`.
pub fn mimc<T: Num>(mut x: T, consts: &[Fr]) -> T {
    for c in consts {
        let t = x + *c;
        let t2 = t.clone() * t.clone();
        let t4 = t2.clone() * t2;
        x = t4 * t;
    }
    x
}

/// The two-to-one hash of the Merkle model: `P(P(l) + r)` with P the 110-round permutation.
pub fn mimc_hash2<T: Num>(l: T, r: T, consts: &[Fr]) -> T {
    mimc(mimc(l, consts) + r, consts)
}

/// The root of `leaf` under `path` (each level: the direction, 1 when the node is a right child,
/// and the sibling). The direction is used arithmetically; the circuit constrains it to 0 or 1.
pub fn merkle_root<T: Num>(leaf: T, path: &[(T, T)], consts: &[Fr]) -> T {
    let mut cur = leaf;
    for (bit, sib) in path {
        let left = cur.clone() + bit.clone() * (sib.clone() - cur.clone());
        // The other of the two: one multiplication (one constraint) a level, not two.
        let right = cur.clone() + sib.clone() - left.clone();
        cur = mimc_hash2(left, right, consts);
    }
    cur
}

/// The scalar in the 32 bytes of `input` at `at`; `what` names it in the error.
fn scalar_at(input: &[u8], at: usize, what: &dyn std::fmt::Display) -> Result<Fr, VcError> {
    let w: [u8; 32] = input
        .get(at..at + 32)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| VcError::BadInput(format!("{what} is missing")))?;
    scalar_from_be(&w).ok_or_else(|| VcError::BadInput(format!("{what} is not below r")))
}

/// N rounds of MiMC-5 from a public start to a public end.
#[derive(Debug, Clone)]
pub struct MimcChain {
    rounds: usize,
}

impl MimcChain {
    /// A chain of `rounds` rounds (3 constraints each).
    pub fn new(rounds: usize) -> Self {
        MimcChain { rounds }
    }

    /// The chain with about `constraints` constraints (a third as many rounds).
    pub fn with_constraints(constraints: usize) -> Self {
        MimcChain::new((constraints / 3).max(1))
    }
}

impl Model for MimcChain {
    fn name(&self) -> String {
        format!("mimc5-chain:{}", self.rounds)
    }
    fn input_words(&self) -> usize {
        1
    }
    fn result_words(&self) -> usize {
        1
    }
    fn private_len(&self) -> usize {
        0
    }
    fn compute(&self, input: &[u8]) -> Result<Assignment, VcError> {
        if input.len() != 32 {
            return Err(VcError::BadInput(format!(
                "{} takes one 32-byte word, not {} bytes",
                self.name(),
                input.len()
            )));
        }
        let x = scalar_at(input, 0, &"word 0")?;
        let y = mimc(x, &constants(self.rounds));
        Ok(Assignment {
            public: vec![x, y],
            private: vec![],
        })
    }
    fn synthesize(&self, public: &[FpVar<Fr>], _: &[FpVar<Fr>]) -> Result<(), SynthesisError> {
        let [x, y] = public else {
            return Err(SynthesisError::Unsatisfiable);
        };
        mimc(x.clone(), &constants(self.rounds)).enforce_equal(y)
    }
}

/// Membership of a leaf in a MiMC Merkle tree of a fixed depth.
#[derive(Debug, Clone)]
pub struct MerkleMembership {
    depth: usize,
}

impl MerkleMembership {
    /// A tree of `depth` levels.
    pub fn new(depth: usize) -> Self {
        MerkleMembership { depth }
    }

    /// A task's input: the leaf, then for each level from the leaf up, the direction (one byte, 1
    /// when the node is a right child) and the sibling.
    pub fn encode_input(leaf: &Fr, path: &[(bool, Fr)]) -> Vec<u8> {
        let mut out = scalar_to_be(leaf).to_vec();
        for (right, sib) in path {
            out.push(u8::from(*right));
            out.extend_from_slice(&scalar_to_be(sib));
        }
        out
    }

    /// The root of a tree over `leaves` (a power of two of them) and each leaf's path.
    pub fn tree(leaves: &[Fr]) -> (Fr, Vec<Vec<(bool, Fr)>>) {
        let consts = constants(HASH_ROUNDS);
        let mut paths = vec![Vec::new(); leaves.len()];
        let mut level = leaves.to_vec();
        let mut index: Vec<usize> = (0..leaves.len()).collect();
        while level.len() > 1 {
            for (leaf, at) in index.iter_mut().enumerate() {
                let sib = level[*at ^ 1];
                paths[leaf].push((*at % 2 == 1, sib));
                *at /= 2;
            }
            level = level
                .chunks(2)
                .map(|p| mimc_hash2(p[0], p.get(1).copied().unwrap_or(p[0]), &consts))
                .collect();
        }
        (level.first().copied().unwrap_or(Fr::zero()), paths)
    }
}

impl Model for MerkleMembership {
    fn name(&self) -> String {
        format!("merkle-mimc:{}", self.depth)
    }
    fn input_words(&self) -> usize {
        1
    }
    fn result_words(&self) -> usize {
        1
    }
    fn private_len(&self) -> usize {
        2 * self.depth
    }
    fn compute(&self, input: &[u8]) -> Result<Assignment, VcError> {
        let want = 32 + 33 * self.depth;
        if input.len() != want {
            return Err(VcError::BadInput(format!(
                "{} takes {want} bytes (a leaf and {} levels of direction and sibling), not {}",
                self.name(),
                self.depth,
                input.len()
            )));
        }
        let leaf = scalar_at(input, 0, &"word 0")?;
        let mut path = Vec::with_capacity(self.depth);
        let mut private = Vec::with_capacity(2 * self.depth);
        for level in 0..self.depth {
            let at = 32 + 33 * level;
            let bit = match input[at] {
                0 => Fr::zero(),
                1 => Fr::one(),
                b => {
                    return Err(VcError::BadInput(format!(
                        "level {level}: direction {b} is neither 0 nor 1"
                    )))
                }
            };
            let sib = scalar_at(input, at + 1, &format_args!("level {level}: sibling"))?;
            path.push((bit, sib));
            private.extend([bit, sib]);
        }
        let root = merkle_root(leaf, &path, &constants(HASH_ROUNDS));
        Ok(Assignment {
            public: vec![leaf, root],
            private,
        })
    }
    fn synthesize(
        &self,
        public: &[FpVar<Fr>],
        private: &[FpVar<Fr>],
    ) -> Result<(), SynthesisError> {
        let [leaf, root] = public else {
            return Err(SynthesisError::Unsatisfiable);
        };
        let mut path = Vec::with_capacity(self.depth);
        for pair in private.chunks(2) {
            let [bit, sib] = pair else {
                return Err(SynthesisError::Unsatisfiable);
            };
            // bit · (bit − 1) = 0: the direction is 0 or 1.
            (bit.clone() * (bit.clone() - FpVar::one())).enforce_equal(&FpVar::zero())?;
            path.push((bit.clone(), sib.clone()));
        }
        merkle_root(leaf.clone(), &path, &constants(HASH_ROUNDS)).enforce_equal(root)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{prove, public_words, setup, verify, TaskCircuit};
    use super::*;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};

    fn satisfied(model: &dyn Model, a: &Assignment) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        TaskCircuit::with(model, Fr::from(1u64), a)
            .generate_constraints(cs.clone())
            .expect("synthesize");
        cs.is_satisfied().expect("check")
    }

    #[test]
    fn mimc_chain_circuit_accepts_the_plain_result_only() {
        let m = MimcChain::new(20);
        let mut input = [0u8; 32];
        input[30] = 1;
        let a = m.compute(&input).expect("compute");
        // The plain result is what the generic code gives on field elements.
        let mut x = a.public[0];
        for c in constants(20) {
            let t = x + c;
            x = t * t * t * t * t;
        }
        assert_eq!(a.public[1], x);
        assert!(satisfied(&m, &a));
        let mut wrong = a.clone();
        wrong.public[1] += Fr::one();
        assert!(!satisfied(&m, &wrong));

        let cs = ConstraintSystem::<Fr>::new_ref();
        TaskCircuit::with(&m, Fr::from(1u64), &a)
            .generate_constraints(cs.clone())
            .expect("synthesize");
        assert_eq!(cs.num_constraints(), 3 * 20 + 1);
        assert!(MimcChain::new(1).compute(&[0xff; 32]).is_err());
        assert!(MimcChain::new(1).compute(&[0; 31]).is_err());
    }

    #[test]
    fn merkle_membership_proves_a_leaf_of_the_tree_and_no_other() {
        let leaves: Vec<Fr> = (0..8u64).map(|i| Fr::from(1000 + i)).collect();
        let (root, paths) = MerkleMembership::tree(&leaves);
        let m = MerkleMembership::new(3);
        let input = MerkleMembership::encode_input(&leaves[5], &paths[5]);
        let a = m.compute(&input).expect("compute");
        assert_eq!(a.public, vec![leaves[5], root]);
        assert!(satisfied(&m, &a));

        // A leaf that is not in the tree gives another root; claiming the real one fails.
        let stranger = MerkleMembership::encode_input(&Fr::from(7u64), &paths[5]);
        let mut s = m.compute(&stranger).expect("compute");
        assert_ne!(s.public[1], root);
        s.public[1] = root;
        assert!(!satisfied(&m, &s));
        // A direction of 2 is refused in plain code, and unsatisfiable in the circuit.
        let mut bad = input.clone();
        bad[32] = 2;
        assert!(m.compute(&bad).is_err());
        let mut two = a.clone();
        two.private[0] = Fr::from(2u64);
        assert!(!satisfied(&m, &two));

        let keys = setup(&m, b"merkle").expect("setup");
        let task = Fr::from(99u64);
        let proof = prove(&keys.pk, &m, task, &a, [3; 32]).expect("prove");
        assert_eq!(verify(&keys.vk, &proof, &public_words(&task, &a)), Ok(true));
    }

    #[test]
    fn models_are_found_by_their_recorded_names() {
        assert_eq!(
            by_name("mimc5-chain:64").expect("mimc").name(),
            "mimc5-chain:64"
        );
        assert_eq!(by_name("merkle-mimc:16").expect("merkle").private_len(), 32);
        for bad in [
            "mimc5-chain",
            "mimc5-chain:0",
            "mimc5-chain:x",
            "sha:3",
            "merkle-mimc:65",
        ] {
            assert!(by_name(bad).is_err(), "{bad}");
        }
    }
}

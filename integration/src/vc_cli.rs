//! `platon vc`: key generation for a VC contract, the off-chain `real_compute` (a result and its
//! proof for one task), the snarkjs JSON of keys and proofs, and a computing node's task list.

use alloy_primitives::{keccak256, U256};
use platon_crypto::vc;
use serde_json::{json, Value};
use std::path::Path;

fn hex_arg(what: &str, s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("{what}: not hex: {e}"))
}

fn word_arg(what: &str, s: &str) -> Result<[u8; 32], String> {
    hex_arg(what, s)?
        .try_into()
        .map_err(|_| format!("{what}: expected 32 bytes"))
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// `platon vc setup`: a model's keys from a seed. The proving key goes to `out/<hash>.pk` (the
/// file name a computing node looks for); the verifying key and the hash are printed for `init`.
pub fn setup(model: &str, seed: &str, out: &Path) -> Result<Value, String> {
    let m = vc::models::by_name(model).map_err(|e| e.to_string())?;
    let keys = vc::setup(m.as_ref(), seed.as_bytes()).map_err(|e| e.to_string())?;
    let pk = vc::pk_to_bytes(&keys.pk).map_err(|e| e.to_string())?;
    let hash = keccak256(&pk);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let file = out.join(format!("{}.pk", hex::encode(hash)));
    std::fs::write(&file, &pk).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(json!({
        "model": m.name(),
        "inputWords": m.input_words(),
        "resultWords": m.result_words(),
        "pkHash": hash,
        "pkFile": file,
        "pkBytes": pk.len(),
        "vk": hex0x(&keys.vk),
    }))
}

/// `platon vc prove` (the seed's `real_compute`): a task's result and a proof of it.
pub fn prove(model: &str, pk_file: &Path, task: &str, input: &str) -> Result<Value, String> {
    let m = vc::models::by_name(model).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(pk_file).map_err(|e| format!("{}: {e}", pk_file.display()))?;
    let pk = vc::pk_from_bytes(&bytes, &keccak256(&bytes).0).map_err(|e| e.to_string())?;
    let task = word_arg("--task", task)?;
    let id = vc::scalar_from_be(&task).ok_or("--task is not a BN254 scalar")?;
    let input = hex_arg("--input", input)?;
    let a = m.compute(&input).map_err(|e| e.to_string())?;
    let proof = vc::prove(&pk, m.as_ref(), id, &a, rand::random()).map_err(|e| e.to_string())?;
    let public: Vec<String> = vc::public_words(&id, &a).iter().map(|w| hex0x(w)).collect();
    Ok(json!({
        "result": hex0x(&a.result_bytes(m.as_ref())),
        "proof": hex0x(&proof),
        "public": public,
    }))
}

fn dec(b: &[u8]) -> String {
    U256::from_be_slice(b).to_string()
}

/// A G1 point (x ‖ y) as snarkjs writes it.
fn g1(b: &[u8]) -> Value {
    json!([dec(&b[..32]), dec(&b[32..64]), "1"])
}

/// A G2 point (EIP-197 order: x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0) as snarkjs writes it (c0 first).
fn g2(b: &[u8]) -> Value {
    json!([
        [dec(&b[32..64]), dec(&b[..32])],
        [dec(&b[96..128]), dec(&b[64..96])],
        ["1", "0"]
    ])
}

/// A verifying key in snarkjs's `verification_key.json` form.
pub fn snarkjs_vk(vk: &[u8]) -> Result<Value, String> {
    // Decoding checks the layout and every point.
    vc::vk_from_bytes(vk).map_err(|e| e.to_string())?;
    let n = vc::vk_inputs(vk.len()).ok_or("not a verifying key")?;
    let ic: Vec<Value> = vk[vc::VK_FIXED_BYTES..]
        .chunks_exact(vc::G1_BYTES)
        .map(g1)
        .collect();
    Ok(json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": n,
        "vk_alpha_1": g1(&vk[..64]),
        "vk_beta_2": g2(&vk[64..192]),
        "vk_gamma_2": g2(&vk[192..320]),
        "vk_delta_2": g2(&vk[320..448]),
        "IC": ic,
    }))
}

/// A proof in snarkjs's `proof.json` form.
pub fn snarkjs_proof(proof: &[u8]) -> Result<Value, String> {
    vc::proof_from_bytes(proof).map_err(|e| e.to_string())?;
    Ok(json!({
        "protocol": "groth16",
        "curve": "bn128",
        "pi_a": g1(&proof[..64]),
        "pi_b": g2(&proof[64..192]),
        "pi_c": g1(&proof[192..256]),
    }))
}

/// `platon vc snarkjs`: the verifying key, and optionally a proof and its public words, as the
/// three JSON files `snarkjs groth16 verify` reads.
pub fn snarkjs(vk: &str, proof: Option<&str>, public: &[String]) -> Result<Value, String> {
    let mut out = json!({ "vk": snarkjs_vk(&hex_arg("--vk", vk)?)? });
    if let Some(p) = proof {
        out["proof"] = snarkjs_proof(&hex_arg("--proof", p)?)?;
    }
    let words: Result<Vec<String>, String> = public
        .iter()
        .map(|w| word_arg("--public", w).map(|w| dec(&w)))
        .collect();
    out["public"] = json!(words?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use platon_crypto::vc::Model;

    #[test]
    fn snarkjs_json_has_the_points_in_snarkjs_order() {
        let m = vc::MimcChain::new(2);
        let keys = vc::setup(&m, b"snarkjs").expect("setup");
        let v = snarkjs_vk(&keys.vk).expect("vk");
        assert_eq!(v["nPublic"], json!(1 + m.input_words() + m.result_words()));
        assert_eq!(
            v["IC"].as_array().map(Vec::len),
            Some(4),
            "one point per public input, plus one"
        );
        // beta's x.c0 is the second word of the EIP-197 encoding.
        assert_eq!(v["vk_beta_2"][0][0], json!(dec(&keys.vk[96..128])));
        assert!(snarkjs_vk(&keys.vk[..100]).is_err());
        assert!(snarkjs_proof(&[0u8; 10]).is_err());
        assert!(snarkjs(&hex0x(&keys.vk), None, &["0x12".into()]).is_err());
    }
}

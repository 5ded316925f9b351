//! The node's sr25519 VRF (schnorrkel) against an independent implementation, npm `@scure/sr25519`,
//! both ways: for 16 seeds and messages, the keys derived from the seed agree, JavaScript accepts our
//! proofs (and refuses them for another message), we accept its proofs, and both give the same VRF
//! pre-output, hence the same election output.

use crate::common::manifest_dir;
use platon_crypto::vrf::{VrfPublicKey, VrfSecretKey, VRF_CONTEXT};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn vrf_proofs_cross_check_with_scure_sr25519_both_ways() {
    let js = manifest_dir().join("tests/js");
    assert!(
        js.join("node_modules/@scure/sr25519").is_dir(),
        "npm package @scure/sr25519 is missing: run `npm ci --prefix integration/tests/js` (.ci/run does)"
    );
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for i in 0..16u8 {
        let seed = [i.wrapping_mul(37).wrapping_add(1); 32];
        let key = VrfSecretKey::from_seed(&seed).expect("key");
        let msg: Vec<u8> = (0..(i as usize * 7)).map(|j| j as u8 ^ i).collect();
        let (output, proof) = key.prove(&msg);
        cases.push(json!({
            "seed": hex::encode(seed),
            "msg": hex::encode(&msg),
            "publicKey": hex::encode(key.public_key().to_bytes()),
            "proof": hex::encode(proof),
        }));
        ours.push((key.public_key(), msg, output, proof));
    }
    let mut child = Command::new("node")
        .arg(js.join("vrf.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            json!({"context": String::from_utf8_lossy(VRF_CONTEXT), "cases": cases})
                .to_string()
                .as_bytes(),
        )
        .expect("write");
    let out = child.wait_with_output().expect("node ran");
    assert!(
        out.status.success(),
        "vrf.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(answers.len(), ours.len());
    for (a, (pk, msg, output, proof)) in answers.iter().zip(&ours) {
        assert_eq!(
            a["publicKey"].as_str(),
            Some(hex::encode(pk.to_bytes()).as_str()),
            "the same key from the same seed"
        );
        assert_eq!(
            a["rustProofValid"],
            json!(true),
            "JavaScript accepts our proof"
        );
        assert_eq!(
            a["rustProofValidForOtherMessage"],
            json!(false),
            "and not for another message"
        );
        let theirs = hex::decode(a["proof"].as_str().expect("proof")).expect("hex");
        let js_pk = VrfPublicKey::from_bytes(
            &hex::decode(a["publicKey"].as_str().expect("pk")).expect("hex"),
        )
        .expect("pk");
        assert_eq!(
            js_pk.verify(msg, &theirs).as_ref(),
            Ok(output),
            "we accept its proof, same output"
        );
        assert_eq!(theirs[..32], proof[..32], "the same VRF pre-output");
        assert!(js_pk.verify(b"another message", &theirs).is_err());
    }
}

//! BLS conformance, read in place: every case of `bls12-381-tests` (sign, verify, aggregate,
//! fast_aggregate_verify, aggregate_verify, batch_verify, deserialization of G1 and G2, hash_to_G2),
//! the RFC 9380 `BLS12381G2_XMD:SHA-256_SSWU_RO_` hash-to-curve suite, and Wycheproof's BLS files
//! (POP and basic verification, basic aggregate verification, hash to G2).

use platon_crypto::bls::{self, BlsPublicKey, BlsSecretKey, BlsSignature};
use serde_json::Value;

use platon_crypto::conformance::conformance;

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string").trim_start_matches("0x")).expect("hex")
}

fn cases(handler: &str) -> Vec<(String, Value)> {
    let Some(dir) = conformance(&format!("bls12-381-tests/{handler}")) else {
        return vec![];
    };
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let v =
                serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
            (
                p.file_name().expect("name").to_string_lossy().to_string(),
                v,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!out.is_empty(), "no cases for {handler}");
    out
}

fn pks(v: &Value) -> Option<Vec<BlsPublicKey>> {
    v.as_array()
        .expect("pubkeys")
        .iter()
        .map(|p| BlsPublicKey::from_bytes(&hex_of(p)).ok())
        .collect()
}

fn sig(v: &Value) -> Option<BlsSignature> {
    BlsSignature::from_bytes(&hex_of(v)).ok()
}

#[test]
fn sign() {
    for (name, c) in cases("sign") {
        let got = BlsSecretKey::from_bytes(&hex_of(&c["input"]["privkey"]))
            .ok()
            .map(|sk| sk.sign(&hex_of(&c["input"]["message"])));
        match &c["output"] {
            Value::Null => assert!(got.is_none(), "{name}"),
            want => assert_eq!(
                got.expect(&name).to_bytes().to_vec(),
                hex_of(want),
                "{name}"
            ),
        }
    }
}

#[test]
fn verify() {
    for (name, c) in cases("verify") {
        let i = &c["input"];
        let got = match (
            BlsPublicKey::from_bytes(&hex_of(&i["pubkey"])).ok(),
            sig(&i["signature"]),
        ) {
            (Some(pk), Some(s)) => s.verify(&hex_of(&i["message"]), &pk),
            _ => false,
        };
        assert_eq!(got, c["output"].as_bool().expect("bool"), "{name}");
    }
}

#[test]
fn aggregate() {
    for (name, c) in cases("aggregate") {
        let sigs: Option<Vec<BlsSignature>> = c["input"]
            .as_array()
            .expect("sigs")
            .iter()
            .map(sig)
            .collect();
        let got = sigs.and_then(|s| BlsSignature::aggregate(&s).ok());
        match &c["output"] {
            Value::Null => assert!(got.is_none(), "{name}"),
            want => assert_eq!(
                got.expect(&name).to_bytes().to_vec(),
                hex_of(want),
                "{name}"
            ),
        }
    }
}

#[test]
fn fast_aggregate_verify() {
    for (name, c) in cases("fast_aggregate_verify") {
        let i = &c["input"];
        let got = match (pks(&i["pubkeys"]), sig(&i["signature"])) {
            (Some(pks), Some(s)) => s.fast_aggregate_verify(&hex_of(&i["message"]), &pks),
            _ => false,
        };
        assert_eq!(got, c["output"].as_bool().expect("bool"), "{name}");
    }
}

#[test]
fn aggregate_verify() {
    for (name, c) in cases("aggregate_verify") {
        let i = &c["input"];
        let msgs: Vec<Vec<u8>> = i["messages"]
            .as_array()
            .expect("msgs")
            .iter()
            .map(hex_of)
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        let got = match (pks(&i["pubkeys"]), sig(&i["signature"])) {
            (Some(pks), Some(s)) => s.aggregate_verify(&refs, &pks),
            _ => false,
        };
        assert_eq!(got, c["output"].as_bool().expect("bool"), "{name}");
    }
}

#[test]
fn batch_verify() {
    for (name, c) in cases("batch_verify") {
        let i = &c["input"];
        let msgs: Vec<Vec<u8>> = i["messages"]
            .as_array()
            .expect("msgs")
            .iter()
            .map(hex_of)
            .collect();
        let sigs: Option<Vec<BlsSignature>> = i["signatures"]
            .as_array()
            .expect("sigs")
            .iter()
            .map(sig)
            .collect();
        let got = match (pks(&i["pubkeys"]), sigs) {
            (Some(pks), Some(sigs)) => {
                let items: Vec<_> = pks
                    .iter()
                    .zip(&msgs)
                    .zip(&sigs)
                    .map(|((p, m), s)| (p, m.as_slice(), s))
                    .collect();
                bls::batch_verify(&items, [7u8; 32])
            }
            _ => false,
        };
        assert_eq!(got, c["output"].as_bool().expect("bool"), "{name}");
    }
}

#[test]
fn deserialization() {
    for (name, c) in cases("deserialization_G1") {
        let bytes = hex_of(&c["input"]["pubkey"]);
        let got = bls::g1_point_is_valid(&bytes);
        // As a key, the identity is refused even where its encoding is valid.
        if bytes.first().is_some_and(|b| b & 0x40 != 0) {
            assert!(
                BlsPublicKey::from_bytes(&bytes).is_err(),
                "{name}: identity as a key"
            );
        }
        assert_eq!(got, c["output"].as_bool().expect("bool"), "{name}");
    }
    for (name, c) in cases("deserialization_G2") {
        let got = BlsSignature::from_bytes(&hex_of(&c["input"]["signature"])).is_ok();
        assert_eq!(got, c["output"].as_bool().expect("bool"), "{name}");
    }
}

/// "c0,c1" hex pairs → the 192-byte uncompressed point blst writes (x.c1, x.c0, y.c1, y.c0).
fn g2_point(x: &str, y: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for coord in [x, y] {
        let parts: Vec<&str> = coord.split(',').collect();
        assert_eq!(parts.len(), 2, "{coord}");
        for part in [parts[1], parts[0]] {
            out.extend(hex::decode(part.trim().trim_start_matches("0x")).expect("hex"));
        }
    }
    out
}

#[test]
fn hash_to_g2_eth_vectors() {
    for (name, c) in cases("hash_to_G2") {
        let msg = c["input"]["msg"].as_str().expect("msg");
        let want = g2_point(
            c["output"]["x"].as_str().expect("x"),
            c["output"]["y"].as_str().expect("y"),
        );
        let got = bls::hash_to_g2(
            msg.as_bytes(),
            b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_",
        );
        assert_eq!(got.to_vec(), want, "{name}");
    }
}

#[test]
fn hash_to_curve_rfc9380_g2_suite() {
    let Some(p) = conformance("hash-to-curve/BLS12381G2_XMD:SHA-256_SSWU_RO_.json") else {
        return;
    };
    let suite: Value =
        serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json");
    let dst = suite["dst"].as_str().expect("dst");
    let vectors = suite["vectors"].as_array().expect("vectors");
    assert!(!vectors.is_empty());
    for v in vectors {
        let msg = v["msg"].as_str().expect("msg");
        let want = g2_point(
            v["P"]["x"].as_str().expect("x"),
            v["P"]["y"].as_str().expect("y"),
        );
        assert_eq!(
            bls::hash_to_g2(msg.as_bytes(), dst.as_bytes()).to_vec(),
            want,
            "msg {msg:?}"
        );
    }
}

#[test]
fn proof_of_possession_binds_the_key() {
    let a = BlsSecretKey::from_ikm(&[1u8; 32]).expect("key");
    let b = BlsSecretKey::from_ikm(&[2u8; 32]).expect("key");
    let pop = a.prove_possession();
    assert!(a.public_key().verify_possession(&pop));
    assert!(!b.public_key().verify_possession(&pop));
    // A proof of possession is not a signature of the key bytes under the signing tag.
    assert!(!pop.verify(&a.public_key().to_bytes(), &a.public_key()));
    let round = BlsSignature::from_bytes(&pop.to_bytes()).expect("decode");
    assert_eq!(round, pop);
    assert!(BlsSecretKey::from_bytes(&[0u8; 32]).is_err());
    assert!(BlsPublicKey::from_bytes(&[0u8; 48]).is_err());
    assert!(BlsSignature::from_bytes(&[1u8; 96]).is_err());
}

fn wycheproof(file: &str) -> Option<Value> {
    let p = conformance(&format!("wycheproof/{file}"))?;
    Some(serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json"))
}

fn wy_hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex")).unwrap_or_default()
}

#[test]
fn wycheproof_pop_and_basic_verify() {
    for (file, dst) in [
        ("bls_sig_g2_pop_verify_test.json", bls::DST_SIG),
        ("bls_sig_g2_basic_verify_test.json", bls::DST_BASIC),
    ] {
        let Some(doc) = wycheproof(file) else { return };
        let mut n = 0;
        for g in doc["testGroups"].as_array().expect("groups") {
            assert_eq!(
                g["ciphersuite"].as_str().map(str::as_bytes),
                Some(dst),
                "{file}"
            );
            let pk = BlsPublicKey::from_bytes(&wy_hex(&g["publicKey"]["pk"])).ok();
            for t in g["tests"].as_array().expect("tests") {
                let got = match (&pk, BlsSignature::from_bytes(&wy_hex(&t["sig"])).ok()) {
                    (Some(pk), Some(sig)) => sig.verify_with_dst(&wy_hex(&t["msg"]), pk, dst),
                    _ => false,
                };
                let want = t["result"] == "valid";
                assert_eq!(got, want, "{file} tc {}: {}", t["tcId"], t["comment"]);
                n += 1;
            }
        }
        assert!(n > 0, "{file}");
    }
}

#[test]
fn wycheproof_basic_aggregate_verify() {
    let Some(doc) = wycheproof("bls_sig_g2_aggregate_verify_test.json") else {
        return;
    };
    for g in doc["testGroups"].as_array().expect("groups") {
        for t in g["tests"].as_array().expect("tests") {
            let msgs: Vec<Vec<u8>> = t["messages"]
                .as_array()
                .expect("msgs")
                .iter()
                .map(wy_hex)
                .collect();
            let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            let keys: Option<Vec<BlsPublicKey>> = t["pubkeys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|k| BlsPublicKey::from_bytes(&wy_hex(k)).ok())
                .collect();
            let got = match (keys, BlsSignature::from_bytes(&wy_hex(&t["sig"])).ok()) {
                (Some(keys), Some(sig)) => sig.aggregate_verify_basic(&refs, &keys),
                _ => false,
            };
            assert_eq!(
                got,
                t["result"] == "valid",
                "tc {}: {}",
                t["tcId"],
                t["comment"]
            );
        }
    }
}

#[test]
fn wycheproof_hash_to_g2() {
    let Some(doc) = wycheproof("bls_hash_to_g2_test.json") else {
        return;
    };
    for g in doc["testGroups"].as_array().expect("groups") {
        let dst = g["dst"].as_str().expect("dst");
        for t in g["tests"].as_array().expect("tests") {
            let got = bls::hash_to_g2_compressed(&wy_hex(&t["msg"]), dst.as_bytes());
            assert_eq!(
                got.to_vec(),
                wy_hex(&t["expected"]),
                "tc {}: {}",
                t["tcId"],
                t["comment"]
            );
        }
    }
}

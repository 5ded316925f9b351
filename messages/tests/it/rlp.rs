use crate::{conformance, read_json};
use platon_messages::rlp::{decode_item, encode_item, Item};
use serde_json::Value;

fn to_item(v: &Value) -> Item {
    match v {
        Value::String(s) if s.starts_with('#') => Item::Bytes(decimal_to_be_bytes(&s[1..])),
        Value::String(s) => Item::Bytes(s.as_bytes().to_vec()),
        Value::Number(n) => {
            let n = n.as_u64().expect("u64");
            Item::Bytes(
                n.to_be_bytes()
                    .iter()
                    .skip_while(|b| **b == 0)
                    .copied()
                    .collect(),
            )
        }
        Value::Array(a) => Item::List(a.iter().map(to_item).collect()),
        other => panic!("unexpected input {other}"),
    }
}

/// Big-endian minimal bytes of an arbitrarily large decimal number.
fn decimal_to_be_bytes(dec: &str) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new(); // little-endian base-256 digits
    for c in dec.bytes() {
        let mut carry = u32::from(c - b'0');
        for d in out.iter_mut() {
            let v = u32::from(*d) * 10 + carry;
            *d = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            out.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    out.reverse();
    out
}

fn hex_bytes(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).expect("hex")
}

#[test]
fn valid_rlp_vectors_encode_and_decode() {
    let Some(dir) = conformance("RLPTests") else {
        return;
    };
    let mut checked = 0;
    for file in ["rlptest.json"] {
        let v = read_json(&dir.join(file));
        for (name, case) in v.as_object().expect("object") {
            let expected = hex_bytes(case["out"].as_str().expect("out"));
            let item = to_item(&case["in"]);
            assert_eq!(encode_item(&item), expected, "{name}: encoding");
            assert_eq!(
                decode_item(&expected).expect(name),
                item,
                "{name}: decoding"
            );
            checked += 1;
        }
    }
    // The random tests: each output must decode and re-encode to itself.
    let random = dir.join("RandomRLPTests");
    if random.is_dir() {
        for entry in std::fs::read_dir(&random).expect("dir") {
            let path = entry.expect("entry").path();
            let v = read_json(&path);
            for (name, case) in v.as_object().expect("object") {
                let bytes = hex_bytes(case["out"].as_str().expect("out"));
                let item = decode_item(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(encode_item(&item), bytes, "{name}");
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} vectors");
    eprintln!("RLP: {checked} valid vectors passed");
}

#[test]
fn invalid_rlp_vectors_are_refused() {
    let Some(dir) = conformance("RLPTests") else {
        return;
    };
    let v = read_json(&dir.join("invalidRLPTest.json"));
    let mut checked = 0;
    for (name, case) in v.as_object().expect("object") {
        let bytes = hex_bytes(case["out"].as_str().expect("out"));
        assert!(
            decode_item(&bytes).is_err(),
            "{name}: {} decoded but must be refused",
            case["out"]
        );
        checked += 1;
    }
    assert!(checked > 10);
    eprintln!("RLP: {checked} invalid vectors refused");
}

use crate::{conformance, read_json};
use platon_messages::{intrinsic_gas, SignedTransaction, TxRules};

/// The fork whose rules our chain applies to stand-alone transaction validity.
const FORK: &str = "London";

#[test]
fn london_transaction_tests() {
    let Some(dir) = conformance("TransactionTests") else {
        return;
    };
    let rules = TxRules {
        chain_id: 1,
        shanghai: false,
    };
    let (mut valid, mut invalid) = (0, 0);
    let mut failures = Vec::new();
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    for path in files {
        let v = read_json(&path);
        for (name, case) in v.as_object().expect("object") {
            let Some(result) = case["result"].get(FORK) else {
                continue;
            };
            let raw = hex::decode(
                case["txbytes"]
                    .as_str()
                    .expect("txbytes")
                    .trim_start_matches("0x"),
            );
            let decoded = raw
                .map_err(|e| e.to_string())
                .and_then(|b| SignedTransaction::decode(&b, &rules).map_err(|e| e.to_string()));
            match (result.get("exception"), decoded) {
                (Some(exc), Ok(tx)) => failures.push(format!(
                    "{name}: accepted, expected {exc} (sender {})",
                    tx.sender
                )),
                (Some(_), Err(_)) => invalid += 1,
                (None, Err(e)) => failures.push(format!("{name}: refused ({e}), expected valid")),
                (None, Ok(tx)) => {
                    let want_hash = result["hash"].as_str().expect("hash");
                    let want_sender = result["sender"].as_str().expect("sender");
                    let want_gas = u64::from_str_radix(
                        result["intrinsicGas"]
                            .as_str()
                            .expect("gas")
                            .trim_start_matches("0x"),
                        16,
                    )
                    .expect("gas");
                    if format!("{:#x}", tx.hash) != want_hash.to_lowercase() {
                        failures.push(format!("{name}: hash {:x} != {want_hash}", tx.hash));
                    }
                    if format!("{:#x}", tx.sender) != want_sender.to_lowercase() {
                        failures.push(format!("{name}: sender {:x} != {want_sender}", tx.sender));
                    }
                    if intrinsic_gas(&tx.body, false) != want_gas {
                        failures.push(format!(
                            "{name}: intrinsic gas {} != {want_gas}",
                            intrinsic_gas(&tx.body, false)
                        ));
                    }
                    valid += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        valid > 40 && invalid > 100,
        "valid {valid} invalid {invalid}"
    );
    eprintln!("TransactionTests ({FORK}): {valid} valid and {invalid} invalid cases passed");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out
}

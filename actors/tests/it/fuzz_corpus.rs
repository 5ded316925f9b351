//! The `jsonrpc_params` fuzz target (`fuzz/`) over its kept corpus and a bounded number of seeded
//! mutations of it. `PLATON_FUZZ_WRITE_SEEDS=1` rewrites the seeds: parameters as clients send them.

use platon_messages::fuzz;

#[test]
fn jsonrpc_params_corpus() {
    let seeds: Vec<Vec<u8>> = [
        r#"["0x5FbDB2315678afecb367f032d93F642f64180aa3", "latest"]"#,
        r#"[{"from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":"0x5fbdb2315678afecb367f032d93f642f64180aa3","gas":"0x5208","gasPrice":"0x3b9aca00","value":"0x1","input":"0x70a08231"}, {"blockHash":"0x8de627b1fbe8252433c410b6f41bd56b99f2d5dc0ee82bbd22080d37b92493c9"}]"#,
        r#"[{"to":null,"data":"0x6000","maxFeePerGas":"0x77359400","maxPriorityFeePerGas":"0x1","accessList":[{"address":"0x0000000000000000000000000000000000000001","storageKeys":["0x0000000000000000000000000000000000000000000000000000000000000000"]}]}, "0x10"]"#,
        r#"["0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", {"blockNumber":"pending"}, "earliest", "safe", "finalized", 12]"#,
        r#"{"blockHash":"0x00","requireCanonical":true}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let corpus = fuzz::corpus_dir();
    if std::env::var_os("PLATON_FUZZ_WRITE_SEEDS").is_some() {
        fuzz::write_seeds(&corpus, "jsonrpc_params", &seeds);
    }
    let n = fuzz::replay(
        &corpus,
        "jsonrpc_params",
        platon_actors::rpc::fuzz::params,
        &seeds,
        20_000,
    );
    assert!(n > 20_000);
}

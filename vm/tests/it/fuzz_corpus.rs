//! The `wasm_deploy` fuzz target (`fuzz/`) over its kept corpus and a bounded number of seeded
//! mutations of it. `PLATON_FUZZ_WRITE_SEEDS=1` rewrites the seeds: the test contract and random
//! valid modules.

use platon_messages::fuzz;

#[test]
fn wasm_deploy_corpus() {
    let mut seeds = vec![crate::wasm::module()];
    for i in 0..6u8 {
        let bytes: Vec<u8> = (0..4096u32)
            .map(|j| (j as u8).wrapping_mul(31).wrapping_add(i * 17))
            .collect();
        let mut u = arbitrary::Unstructured::new(&bytes);
        if let Ok(m) = wasm_smith::Module::new(crate::wasm_fuzz::config(), &mut u) {
            seeds.push(m.to_bytes());
        }
    }
    let corpus = fuzz::corpus_dir();
    if std::env::var_os("PLATON_FUZZ_WRITE_SEEDS").is_some() {
        fuzz::write_seeds(&corpus, "wasm_deploy", &seeds);
    }
    let n = fuzz::replay(
        &corpus,
        "wasm_deploy",
        platon_vm::fuzz::wasm_deploy,
        &seeds,
        5_000,
    );
    assert!(n > 5_000);
}

//! Entry point of the `wasm_deploy` fuzz target (`fuzz/`) and of its corpus replay in the test
//! suite: a module as a deploy transaction carries it.

/// Deploy validation of `data`: it may refuse; what it accepts must validate under the deploy
/// features and load in wasmi, as every call of the contract will.
pub fn wasm_deploy(data: &[u8]) {
    if let Ok(prepared) = crate::wasm::prepare::prepare(data) {
        wasmparser::Validator::new_with_features(crate::wasm::prepare::features())
            .validate_all(&prepared)
            .expect("a prepared module validates");
        let _ = crate::wasm::wasmi_engine::load_check(&prepared);
    }
}

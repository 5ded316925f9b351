#![no_main]
//! Fuzz target: `platon_vm::fuzz::wasm_deploy`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| platon_vm::fuzz::wasm_deploy(data));

#![no_main]
//! Fuzz target: `platon_actors::rpc::fuzz::params`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| platon_actors::rpc::fuzz::params(data));

#![no_main]
//! Fuzz target: `platon_messages::fuzz::transaction`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| platon_messages::fuzz::transaction(data));

#![no_main]
//! Fuzz target: `platon_messages::fuzz::cbft`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| platon_messages::fuzz::cbft(data));

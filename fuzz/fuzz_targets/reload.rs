#![no_main]
//! Fuzz target: `platon_messages::fuzz::reload`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| platon_messages::fuzz::reload(data));

//! Conformance of RLP and transaction decoding against the Ethereum test vectors in
//! `../shared/conformance` (read in place, never copied).

mod cbft;
mod fuzz_corpus;
mod reload;
mod rlp;
mod robustness;
mod transactions;

pub use platon_crypto::conformance::conformance;

/// Parses a conformance file.
pub fn read_json(p: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

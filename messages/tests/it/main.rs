//! Conformance of RLP and transaction decoding against the Ethereum test vectors in
//! `../shared/conformance` (read in place, never copied).

mod cbft;
mod reload;
mod rlp;
mod robustness;
mod transactions;

use std::path::PathBuf;

/// The conformance folder, or None (with a loud message) when it is absent.
pub fn conformance(sub: &str) -> Option<PathBuf> {
    let base = std::env::var("PLATON_CONFORMANCE_DIR")
        .unwrap_or_else(|_| "../../shared/conformance".into());
    let p = PathBuf::from(base).join(sub);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("\n!!!!! CONFORMANCE VECTORS ABSENT: {} does not exist; this test checked NOTHING !!!!!\n", p.display());
        None
    }
}

/// Parses a conformance file.
pub fn read_json(p: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

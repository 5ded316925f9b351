//! Where the workspace's tests find the public conformance vectors (`../shared/conformance`, or
//! `PLATON_CONFORMANCE_DIR`), and what they do when a folder is missing: under CI (`CI` set) the test
//! fails, since a suite that did not run proves nothing; elsewhere it prints a loud skip line.

use std::path::PathBuf;

/// The conformance folder or file `sub` (relative to the vectors' root). `None` only outside CI,
/// after printing that the calling test checked nothing.
///
/// # Panics
/// When `sub` is missing and the `CI` variable is set.
pub fn conformance(sub: &str) -> Option<PathBuf> {
    let base = std::env::var("PLATON_CONFORMANCE_DIR")
        .unwrap_or_else(|_| "../../shared/conformance".into());
    let p = PathBuf::from(base).join(sub);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "conformance vectors missing: {} does not exist, and under CI every conformance test must \
         run. Check out ../shared beside the repository or set PLATON_CONFORMANCE_DIR.",
        p.display()
    );
    eprintln!(
        "\n!!!!! SKIP: CONFORMANCE VECTORS ABSENT: {} does not exist; this test checked NOTHING !!!!!\n",
        p.display()
    );
    None
}

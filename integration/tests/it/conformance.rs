//! JSON-RPC conformance with the ethereum/execution-apis specification: `tests/js/conformance.mjs`
//! replays the specification's `.io` tests (vendored under `tests/data/execution-apis`, commit and
//! licence in its SOURCE.md) against a fresh dev chain and validates every answer against the
//! method's OpenRPC schema.

use crate::common::*;
use std::process::Command;

#[test]
fn execution_apis_requests_conform_to_their_schemas() {
    let js = manifest_dir().join("tests/js");
    for pkg in ["ajv", "js-yaml", "ethers", "solc"] {
        assert!(
            js.join("node_modules").join(pkg).is_dir(),
            "npm package {pkg} is missing: run `npm ci --prefix integration/tests/js` (.ci/run does)"
        );
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let node = NodeProc::start_dev(&[], tmp.path());
    let out = Command::new("node")
        .arg(js.join("conformance.mjs"))
        .arg(format!("http://127.0.0.1:{}", node.http))
        .output()
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("CONFORMANCE PASSED"),
        "conformance failed:\n{stdout}\n{stderr}\nnode log:\n{}",
        node.log_text()
    );
    // The run really covered the specification: hundreds of requests, simulations matched.
    let checked: usize = stdout
        .split("conformance: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        checked >= 200,
        "only {checked} requests were checked:\n{stdout}"
    );
}

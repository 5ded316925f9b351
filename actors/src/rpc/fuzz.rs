//! Entry point of the `jsonrpc_params` fuzz target (`fuzz/`) and of its corpus replay in the test
//! suite: untrusted JSON through the gateway's parameter parsers.

use super::json::{parse_address, parse_block_id, parse_bytes, parse_hash, parse_u256, parse_u64};
use serde_json::Value;

/// Parses `data` as JSON and hands the value (and, for an array or object, each member) to every
/// parameter parser; each may refuse, none may panic.
pub fn params(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut values = vec![v.clone()];
    match &v {
        Value::Array(a) => values.extend(a.iter().cloned()),
        Value::Object(o) => values.extend(o.values().cloned()),
        _ => {}
    }
    for v in &values {
        let _ = parse_u64(v, "fuzz");
        let _ = parse_u256(v, "fuzz");
        let _ = parse_bytes(v, "fuzz");
        let _ = parse_address(v, "fuzz");
        let _ = parse_hash(v, "fuzz");
        let _ = parse_block_id(Some(v));
        let _ = super::methods::parse_call(v);
    }
}

//! Direct calls of a module's exports on either engine, outside the chain: the WebAssembly spec
//! suite, the differential fuzzer and the benchmark drive the engines through this. A session
//! instantiates the module once and runs a sequence of calls on that instance, as the spec scripts
//! expect. Only integer signatures exist here (floats are refused at deploy).
//!
//! An instrumented module (see [`super::prepare`]) is metered: pass `gas` and the session sets the
//! counter before the first call and reports what is left after each.

use super::{wasm3_engine, wasmi_engine, WasmEngine};

/// An integer value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
}

/// One call of a session.
#[derive(Debug, Clone)]
pub struct Call {
    /// Export name.
    pub func: String,
    /// Arguments.
    pub args: Vec<Val>,
}

/// What one call gave: its results or its trap, and the gas left after it (metered sessions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    /// Results, or the trap (a short class: "trap", "out of gas", "stack limit", "unsupported").
    pub result: Result<Vec<Val>, String>,
    /// Gas left after the call, for metered sessions.
    pub gas_left: Option<u64>,
}

impl CallResult {
    /// A call's outcome with the counter read after it (`None`: unmetered). A counter below zero
    /// means the call ran out of gas (not every segment checks it), and nothing is left.
    pub fn metered(result: Result<Vec<Val>, String>, counter: Option<i64>) -> Self {
        match counter {
            Some(c) if c < 0 => CallResult {
                result: Err("out of gas".into()),
                gas_left: Some(0),
            },
            c => CallResult {
                result,
                gas_left: c.map(|c| c as u64),
            },
        }
    }
}

/// Instantiates `code` on `engine` and runs `calls` in order on that instance. `gas`: the module
/// is instrumented and metered with this much gas. `Err`: the module did not instantiate.
pub fn session(
    engine: WasmEngine,
    code: &[u8],
    gas: Option<u64>,
    calls: &[Call],
) -> Result<Vec<CallResult>, String> {
    match engine {
        WasmEngine::Wasm3 => wasm3_engine::raw_session(code, gas, calls),
        WasmEngine::Wasmi => wasmi_engine::raw_session(code, gas, calls),
    }
}

//! WASM contracts: PlatON's second contract runtime, beside the EVM, in the same state.
//!
//! Code that starts with the WASM magic (`\0asm`) is a WASM contract. A deploy is validated and
//! instrumented once ([`prepare`]); the instrumented module is the contract's code, and every call
//! runs it on the selected engine ([`WasmEngine`]: wasm3 by default, wasmi as the cross-check) with
//! the host functions of [`host`]. Gas lives in the instrumented code, so both engines charge the
//! same gas and stop at the same limits. The EVM glue ([`revm_glue`]) makes WASM contracts callable
//! from EVM contracts and the other way round, in one journal: one state, one receipt and log
//! format, reverts that roll back both.
//!
//! Deploy data: the module alone (its constructor gets empty input), or PlatON's envelope, the
//! magic followed by `RLP([module, init_input])`. The constructor is the module's `invoke`, run once
//! at deploy with the init input. The ABI of calls is PlatON's ([`abi`]).

pub mod abi;
pub mod cost;
pub mod host;
pub mod prepare;
pub mod raw;
pub mod revm_glue;
pub mod wasm3_engine;
pub mod wasmi_engine;

pub use host::Halt;
pub use prepare::{prepare, DeployError, WASM_MAGIC};

use alloy_primitives::Bytes;

/// Which engine runs WASM contracts (`--wasm.engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WasmEngine {
    /// wasm3 (default).
    #[default]
    Wasm3,
    /// wasmi (the cross-check).
    Wasmi,
}

impl WasmEngine {
    /// The engine's name.
    pub fn name(self) -> &'static str {
        match self {
            WasmEngine::Wasm3 => "wasm3",
            WasmEngine::Wasmi => "wasmi",
        }
    }
}

/// Whether `code` is a WASM contract.
pub fn is_wasm(code: &[u8]) -> bool {
    code.starts_with(&WASM_MAGIC)
}

/// Splits deploy data into the module and the constructor's input: PlatON's envelope (magic, then
/// `RLP([module, init])`) or a bare module.
pub fn split_deploy(data: &[u8]) -> Result<(Vec<u8>, Bytes), DeployError> {
    let rest = data
        .strip_prefix(&WASM_MAGIC[..])
        .ok_or_else(|| DeployError::Invalid("missing the \\0asm magic".into()))?;
    // A bare module continues with its version (1, 0, 0, 0); the envelope with an RLP list (≥ 0xc0).
    match rest.first() {
        Some(b) if *b >= 0xc0 => {
            let envelope = |rest| -> Result<(Vec<u8>, Bytes), platon_messages::rlp::RlpError> {
                let mut outer = platon_messages::rlp::Reader::new(rest);
                let mut items = outer.list()?;
                outer.finish()?;
                let module = items.bytes()?.to_vec();
                let init = Bytes::copy_from_slice(items.bytes()?);
                items.finish()?;
                Ok((module, init))
            };
            envelope(rest).map_err(|e| {
                DeployError::Invalid(format!(
                    "deploy envelope must be RLP([module, init_input]): {e}"
                ))
            })
        }
        _ => Ok((data.to_vec(), Bytes::new())),
    }
}

/// Runs an instrumented module's entry point on `exec` with `engine`, after charging its
/// instantiation. On `Ok` the frame completed; `exec.gas_left` and `exec.output` hold the rest.
pub fn execute(engine: WasmEngine, code: &[u8], exec: &mut host::Exec<'_>) -> Result<(), Halt> {
    exec.charge((code.len() as u64).saturating_mul(cost::INSTANTIATE_BYTE_GAS))?;
    match engine {
        WasmEngine::Wasm3 => wasm3_engine::run(code, exec),
        WasmEngine::Wasmi => wasmi_engine::run(code, exec),
    }
}

//! The WASM gas schedule: what each instruction class, each page of memory growth and each host
//! call costs, and the limits a module must stay within. The README's gas table is this file.
//!
//! Gas is charged per straight-line segment: at its start the instrumented code subtracts the sum of
//! the costs of the segment's instructions (see [`super::prepare`]), so the very same counts hold on
//! every engine. A `br_if` does not end a segment: the instructions after it are charged with those
//! before it, also when the branch is taken.

use wasmparser::Operator;

/// Largest module a deploy may carry, in bytes (before instrumentation).
pub const MAX_MODULE_BYTES: usize = 48 * 1024;
/// The most bytes of an instrumented module, the code a WASM contract stores: the gas and stack
/// checks roughly double a module, so EIP-170's 24,576 bytes would refuse most modules the deploy
/// rules accept. A creation transaction that deploys WASM runs under this limit instead.
pub const MAX_CODE_BYTES: usize = 4 * MAX_MODULE_BYTES;
/// Most functions a module may define.
pub const MAX_FUNCTIONS: usize = 2_048;
/// Most imports a module may declare.
pub const MAX_IMPORTS: usize = 128;
/// Most globals a module may define.
pub const MAX_GLOBALS: usize = 256;
/// Most entries the module's table may hold.
pub const MAX_TABLE_ELEMENTS: u64 = 4_096;
/// Most 64 KiB pages a contract's memory may reach, declared or grown (4 MiB).
pub const MAX_MEMORY_PAGES: u64 = 64;
/// Most locals (parameters included) one function may declare.
pub const MAX_LOCALS: u32 = 512;
/// Highest operand stack one function may build.
pub const MAX_STACK_HEIGHT: u32 = 512;
/// The stack budget of one execution, in value slots: each active call costs its callee's locals,
/// its highest operand stack and [`CALL_OVERHEAD`]; a call past the budget halts the frame. This is
/// the deterministic stack-height limit; both engines are given far more real stack than it allows.
pub const STACK_LIMIT: u32 = 32_768;
/// Slots each active call costs beyond its locals and operands (the engines' frame bookkeeping).
pub const CALL_OVERHEAD: u32 = 32;

/// Gas of each page (64 KiB) that `memory.grow` adds.
pub const PAGE_GAS: u64 = 8_192;
/// Gas per byte of `memory.copy` and `memory.fill` (run as metered byte loops).
pub const BULK_BYTE_GAS: u64 = 4;
/// Gas every host call costs before its own charges.
pub const HOST_CALL_GAS: u64 = 40;
/// Gas per 32-byte word a host call reads from or writes to linear memory.
pub const HOST_WORD_GAS: u64 = 3;
/// Gas per byte of the module's code, charged at every instantiation (parsing and compilation).
pub const INSTANTIATE_BYTE_GAS: u64 = 1;

/// Reading a storage entry: per entry and per 32-byte word.
pub const STORAGE_GET_GAS: u64 = 800;
/// Writing a storage entry: per 32-byte word written that was zero before.
pub const STORAGE_SET_NEW_WORD_GAS: u64 = 20_000;
/// Writing a storage entry: per 32-byte word overwritten or cleared.
pub const STORAGE_SET_WORD_GAS: u64 = 5_000;
/// An event: base, per topic, per byte of data (the EVM's LOG costs).
pub const EVENT_GAS: u64 = 375;
/// An event's cost per topic.
pub const EVENT_TOPIC_GAS: u64 = 375;
/// An event's cost per byte of data.
pub const EVENT_BYTE_GAS: u64 = 8;
/// Keccak-256: base and per word (the EVM's).
pub const KECCAK_GAS: u64 = 30;
/// Keccak-256's cost per 32-byte word.
pub const KECCAK_WORD_GAS: u64 = 6;
/// SHA-256: base and per word (the EVM precompile's prices).
pub const SHA256_GAS: u64 = 60;
/// SHA-256's cost per 32-byte word.
pub const SHA256_WORD_GAS: u64 = 12;
/// RIPEMD-160: base and per word (the EVM precompile's prices).
pub const RIPEMD160_GAS: u64 = 600;
/// RIPEMD-160's cost per 32-byte word.
pub const RIPEMD160_WORD_GAS: u64 = 120;
/// Reading an account's balance.
pub const BALANCE_GAS: u64 = 700;
/// A call, delegate call or static call to another contract, before the gas it forwards.
pub const CALL_GAS: u64 = 700;
/// A call that transfers value.
pub const CALL_VALUE_GAS: u64 = 9_000;
/// A call that transfers value to an account that does not exist yet.
pub const NEW_ACCOUNT_GAS: u64 = 25_000;
/// Creating a contract, before the gas it forwards and the code deposit.
pub const CREATE_GAS: u64 = 32_000;
/// Code deposit per byte of a deployed module (the EVM's).
pub const CODE_DEPOSIT_BYTE_GAS: u64 = 200;
/// Reading a block hash.
pub const BLOCKHASH_GAS: u64 = 20;
/// `platon_ecrecover` (the EVM precompile's price).
pub const ECRECOVER_GAS: u64 = 3_000;
/// `platon_groth16_verify`'s fixed part: four pairings at EIP-1108's prices (45,000 + 4 · 34,000).
pub const GROTH16_BASE_GAS: u64 = 181_000;
/// `platon_groth16_verify` per public input: one G1 scalar multiplication and one addition at
/// EIP-1108's prices (6,000 + 150).
pub const GROTH16_INPUT_GAS: u64 = 6_150;
/// The most public inputs `platon_groth16_verify` takes.
pub const GROTH16_MAX_INPUTS: u32 = 64;

/// The gas of verifying a Groth16 proof with `inputs` public inputs.
pub const fn groth16_verify_gas(inputs: u32) -> u64 {
    GROTH16_BASE_GAS + GROTH16_INPUT_GAS * inputs as u64
}

/// The gas of one instruction, by class:
///
/// | class | gas |
/// |---|---|
/// | constants, locals, globals, `drop`, `select`, `nop` | 1 |
/// | integer add, sub, logic, shifts, rotations, comparisons, counts, sign extension, conversions | 1 |
/// | integer multiplication | 3 |
/// | integer division and remainder | 8 |
/// | loads and stores | 3 |
/// | `block`, `loop`, `if`, `else`, `end`, `br`, `br_if`, `return`, `unreachable` | 1 |
/// | `br_table` | 2 + 1 per 8 targets |
/// | `call` | 10 |
/// | `call_indirect` | 15 |
/// | `memory.size` | 1 |
/// | `memory.grow` | 10, plus [`PAGE_GAS`] per page |
/// | `memory.copy`, `memory.fill` | 10 (the call), plus [`BULK_BYTE_GAS`] per byte |
///
/// Floating-point instructions never reach here: deploy refuses them.
pub fn instruction_gas(op: &Operator<'_>) -> u64 {
    use Operator::*;
    match op {
        I32Mul | I64Mul => 3,
        I32DivS | I32DivU | I32RemS | I32RemU | I64DivS | I64DivU | I64RemS | I64RemU => 8,
        I32Load { .. }
        | I64Load { .. }
        | I32Load8S { .. }
        | I32Load8U { .. }
        | I32Load16S { .. }
        | I32Load16U { .. }
        | I64Load8S { .. }
        | I64Load8U { .. }
        | I64Load16S { .. }
        | I64Load16U { .. }
        | I64Load32S { .. }
        | I64Load32U { .. }
        | I32Store { .. }
        | I64Store { .. }
        | I32Store8 { .. }
        | I32Store16 { .. }
        | I64Store8 { .. }
        | I64Store16 { .. }
        | I64Store32 { .. } => 3,
        BrTable { targets } => 2u64.saturating_add(u64::from(targets.len()) / 8),
        Call { .. } => 10,
        CallIndirect { .. } => 15,
        MemoryGrow { .. } | MemoryCopy { .. } | MemoryFill { .. } => 10,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cost_what_the_table_says() {
        assert_eq!(instruction_gas(&Operator::I32Add), 1);
        assert_eq!(instruction_gas(&Operator::I64Mul), 3);
        assert_eq!(instruction_gas(&Operator::I32DivU), 8);
        assert_eq!(instruction_gas(&Operator::Call { function_index: 0 }), 10);
        assert_eq!(instruction_gas(&Operator::MemoryGrow { mem: 0 }), 10);
    }
}

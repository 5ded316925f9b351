//! Deploy-time preparation of a WASM contract: validation against the rules that keep execution
//! deterministic and bounded, then instrumentation with gas metering and a stack budget. The
//! instrumented module is what the chain stores and what both engines run, so their gas and their
//! limits agree by construction.
//!
//! Refused at deploy: floating-point types and instructions; features beyond WebAssembly 1.0 with
//! mutable globals and sign extension (no multi-value, bulk memory, reference types, SIMD, threads);
//! a start function; imports other than the host functions of [`super::host`] with their exact
//! signatures; a module without a memory or without an `invoke() -> ()` export; and anything past the
//! bounds of [`super::cost`] (module size, functions, globals, table and memory size, locals, operand
//! stack height).
//!
//! Instrumentation (all appended, so no existing index moves except defined functions, which shift
//! past three added imports):
//! - an `i64` global holding the gas left, and at the start of every straight-line segment (a
//!   `br_if` does not end one) a subtraction of the segment's cost
//!   ([`super::cost::instruction_gas`]); segments that start a loop body or end in a call also check
//!   the counter, and a negative one calls `__platon_halt(1)`. A counter still negative when the
//!   call returns, or handed to a host function, is out of gas too (see `charge`);
//! - around every host call, the counter handed to the host (`__platon_gas_in`) and taken back
//!   (`__platon_gas_out`), so host functions charge from the same counter;
//! - an `i32` global holding the stack budget in use: each call adds its callee's frame size and
//!   checks [`super::cost::STACK_LIMIT`] (`__platon_halt(2)` past it), and subtracts it on return;
//! - `memory.grow` replaced by a function that refuses growth past
//!   [`super::cost::MAX_MEMORY_PAGES`] (returning −1, as a failed grow does) and charges
//!   [`super::cost::PAGE_GAS`] per page;
//! - exports `__platon_gas_init(i64)` (sets the counter, clears the stack budget) and
//!   `__platon_gas_left() -> i64`.

use super::cost::*;
use super::host::{self, HostSig, Ty};
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ElementSection, EntityType, ExportKind, ExportSection,
    Function, FunctionSection, GlobalSection, GlobalType, ImportSection, Instruction, Module,
    RawSection, TypeSection, ValType,
};
use wasmparser::{
    ExternalKind, FuncType, Operator, Parser, Payload, TypeRef, ValType as PValType, Validator,
    WasmFeatures,
};

/// The WASM magic prefix: code that starts with it is a WASM contract.
pub const WASM_MAGIC: [u8; 4] = [0x00, 0x61, 0x73, 0x6d];

/// Export names the instrumentation adds.
pub const GAS_INIT_EXPORT: &str = "__platon_gas_init";
/// Export returning the gas left.
pub const GAS_LEFT_EXPORT: &str = "__platon_gas_left";
/// The entry point every contract exports.
pub const ENTRY: &str = "invoke";

/// Why a module was refused at deploy. The message is the receipt's revert data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    /// Larger than [`MAX_MODULE_BYTES`].
    #[error("wasm module too large: {size} bytes, at most {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        max: usize,
    },
    /// Not a valid module under the accepted features (floats, post-1.0 features, malformed bytes).
    #[error("invalid wasm module: {0}")]
    Invalid(String),
    /// Valid WebAssembly, but refused by a deploy rule.
    #[error("wasm module refused: {0}")]
    Refused(String),
}

fn refused(msg: impl Into<String>) -> DeployError {
    DeployError::Refused(msg.into())
}

/// The features a contract may use: WebAssembly 1.0 with mutable globals and sign extension,
/// without floats.
pub fn features() -> WasmFeatures {
    (WasmFeatures::MVP
        | WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::BULK_MEMORY)
        .difference(WasmFeatures::FLOATS)
}

/// Of the bulk-memory proposal only `memory.copy` and `memory.fill` are accepted (today's Rust emits
/// them even for the MVP CPU, from its precompiled `core`); instrumentation replaces them with
/// metered functions, so the stored code has no bulk-memory instruction at all.
fn refused_bulk_op(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::MemoryInit { .. }
            | Operator::DataDrop { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. }
            | Operator::ElemDrop { .. }
    )
}

fn val(t: Ty) -> PValType {
    match t {
        Ty::I32 => PValType::I32,
        Ty::I64 => PValType::I64,
    }
}

fn sig_matches(s: &HostSig, f: &FuncType) -> bool {
    f.params()
        .iter()
        .copied()
        .eq(s.params.iter().map(|t| val(*t)))
        && f.results()
            .iter()
            .copied()
            .eq(s.result.iter().map(|t| val(*t)))
}

/// What validation learned of a module that instrumentation needs.
struct Info {
    types: Vec<FuncType>,
    /// Host function index of each import, by import index.
    imports: Vec<usize>,
    /// Type index of each defined function.
    funcs: Vec<u32>,
    /// Frame size (locals + highest operand stack + overhead) of each defined function.
    frames: Vec<u32>,
    globals: u32,
    has_memory: bool,
}

/// Validates `module` against the deploy rules and returns the instrumented module to store.
pub fn prepare(module: &[u8]) -> Result<Vec<u8>, DeployError> {
    if module.len() > MAX_MODULE_BYTES {
        return Err(DeployError::TooLarge {
            size: module.len(),
            max: MAX_MODULE_BYTES,
        });
    }
    if !module.starts_with(&WASM_MAGIC) {
        return Err(DeployError::Invalid("missing the \\0asm magic".into()));
    }
    let info = validate(module, true)?;
    let code = instrument(module, &info).map_err(|e| DeployError::Invalid(e.to_string()))?;
    if code.len() > MAX_CODE_BYTES {
        return Err(DeployError::Invalid(format!(
            "the instrumented module is {} bytes, over {MAX_CODE_BYTES}",
            code.len()
        )));
    }
    engines_accept(&code)?;
    Ok(code)
}

/// Both engines must load the instrumented module, and wasm3 compile every function of it, or the
/// deploy is refused: a module one engine runs and the other cannot would split the chain.
fn engines_accept(code: &[u8]) -> Result<(), DeployError> {
    super::wasmi_engine::load_check(code).map_err(DeployError::Refused)?;
    super::wasm3_engine::compile_check(code).map_err(DeployError::Refused)
}

/// Validates and instruments any module under the same rules except the contract's shape (a
/// memory, an `invoke` export, host imports): the spec suite, the fuzzer and the benchmark meter
/// plain modules with it.
pub fn instrument_module(module: &[u8]) -> Result<Vec<u8>, DeployError> {
    let info = validate(module, false)?;
    let code = instrument(module, &info).map_err(|e| DeployError::Invalid(e.to_string()))?;
    engines_accept(&code)?;
    Ok(code)
}

fn validate(module: &[u8], contract: bool) -> Result<Info, DeployError> {
    let mut validator = Validator::new_with_features(features());
    let mut info = Info {
        types: Vec::new(),
        imports: Vec::new(),
        funcs: Vec::new(),
        frames: Vec::new(),
        globals: 0,
        has_memory: false,
    };
    let mut has_memory = false;
    let mut has_entry = false;
    let mut allocs = wasmparser::FuncValidatorAllocations::default();
    let invalid = |e: wasmparser::BinaryReaderError| DeployError::Invalid(e.message().to_string());
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(invalid)?;
        let valid = validator.payload(&payload).map_err(invalid)?;
        match &payload {
            Payload::TypeSection(r) => {
                for rec in r.clone().into_iter_err_on_gc_types() {
                    info.types.push(rec.map_err(invalid)?);
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.clone() {
                    let imp = imp.map_err(invalid)?;
                    if info.imports.len() >= MAX_IMPORTS {
                        return Err(refused(format!("more than {MAX_IMPORTS} imports")));
                    }
                    let TypeRef::Func(t) = imp.ty else {
                        return Err(refused(format!(
                            "import {}.{}: only functions may be imported",
                            imp.module, imp.name
                        )));
                    };
                    let idx = (imp.module == "env")
                        .then(|| host::host_index(imp.name))
                        .flatten()
                        .ok_or_else(|| {
                            refused(format!("unknown import {}.{}", imp.module, imp.name))
                        })?;
                    let ty = info
                        .types
                        .get(t as usize)
                        .ok_or_else(|| refused("import of an unknown type"))?;
                    if !sig_matches(&host::HOST_FUNCTIONS[idx], ty) {
                        return Err(refused(format!(
                            "import env.{} has the wrong signature",
                            imp.name
                        )));
                    }
                    info.imports.push(idx);
                }
            }
            Payload::FunctionSection(r) => {
                for f in r.clone() {
                    info.funcs.push(f.map_err(invalid)?);
                }
                if info.funcs.len() > MAX_FUNCTIONS {
                    return Err(refused(format!(
                        "{} functions, at most {MAX_FUNCTIONS}",
                        info.funcs.len()
                    )));
                }
            }
            Payload::TableSection(r) => {
                for t in r.clone() {
                    let t = t.map_err(invalid)?;
                    if t.ty.initial > MAX_TABLE_ELEMENTS {
                        return Err(refused(format!(
                            "a table of {} elements, at most {MAX_TABLE_ELEMENTS}",
                            t.ty.initial
                        )));
                    }
                }
            }
            Payload::MemorySection(r) => {
                for m in r.clone() {
                    let m = m.map_err(invalid)?;
                    if m.initial > MAX_MEMORY_PAGES {
                        return Err(refused(format!(
                            "a memory of {} pages, at most {MAX_MEMORY_PAGES}",
                            m.initial
                        )));
                    }
                    has_memory = true;
                }
            }
            Payload::GlobalSection(r) => {
                info.globals = r.count();
                if info.globals as usize > MAX_GLOBALS {
                    return Err(refused(format!(
                        "{} globals, at most {MAX_GLOBALS}",
                        info.globals
                    )));
                }
            }
            Payload::ExportSection(r) => {
                for e in r.clone() {
                    let e = e.map_err(invalid)?;
                    if e.name.starts_with("__platon") {
                        return Err(refused(format!("export name {} is reserved", e.name)));
                    }
                    if e.name == ENTRY && e.kind == ExternalKind::Func {
                        let defined = (e.index as usize)
                            .checked_sub(info.imports.len())
                            .and_then(|i| info.funcs.get(i))
                            .and_then(|t| info.types.get(*t as usize));
                        match defined {
                            Some(t) if t.params().is_empty() && t.results().is_empty() => {
                                has_entry = true
                            }
                            _ => {
                                return Err(refused(
                                    "export invoke must be a defined () -> () function",
                                ))
                            }
                        }
                    }
                }
            }
            Payload::StartSection { .. } => return Err(refused("a start function is not allowed")),
            Payload::DataSection(r) => {
                for d in r.clone() {
                    if !matches!(
                        d.map_err(invalid)?.kind,
                        wasmparser::DataKind::Active { .. }
                    ) {
                        return Err(refused("passive data segments are not allowed"));
                    }
                }
            }
            Payload::ElementSection(r) => {
                for el in r.clone() {
                    let el = el.map_err(invalid)?;
                    if !matches!(el.kind, wasmparser::ElementKind::Active { .. }) {
                        return Err(refused(
                            "passive and declared element segments are not allowed",
                        ));
                    }
                    if let wasmparser::ElementItems::Functions(fs) = el.items {
                        for f in fs {
                            if (f.map_err(invalid)? as usize) < info.imports.len() {
                                return Err(refused(
                                    "a host function may not be placed in a table",
                                ));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if let wasmparser::ValidPayload::Func(to_validate, body) = valid {
            let mut fv = to_validate.into_validator(std::mem::take(&mut allocs));
            let mut locals_reader = body.get_locals_reader().map_err(invalid)?;
            let mut locals: u32 = fv.len_locals();
            for _ in 0..locals_reader.get_count() {
                let offset = locals_reader.original_position();
                let (count, ty) = locals_reader.read().map_err(invalid)?;
                locals = locals.saturating_add(count);
                if locals > MAX_LOCALS {
                    return Err(refused(format!(
                        "a function with more than {MAX_LOCALS} locals"
                    )));
                }
                fv.define_locals(offset, count, ty).map_err(invalid)?;
            }
            let mut ops = body.get_operators_reader().map_err(invalid)?;
            let mut height = 0u32;
            while !ops.eof() {
                let offset = ops.original_position();
                let op = ops.read().map_err(invalid)?;
                fv.op(offset, &op).map_err(invalid)?;
                if refused_bulk_op(&op) {
                    return Err(refused(
                        "of the bulk-memory instructions only memory.copy and memory.fill are allowed",
                    ));
                }
                height = height.max(fv.operand_stack_height());
                if height > MAX_STACK_HEIGHT {
                    return Err(refused(format!(
                        "a function whose operand stack exceeds {MAX_STACK_HEIGHT}"
                    )));
                }
            }
            fv.finish(ops.original_position()).map_err(invalid)?;
            info.frames
                .push(locals.saturating_add(height).saturating_add(CALL_OVERHEAD));
            allocs = fv.into_allocations();
        }
    }
    if contract && !has_memory {
        return Err(refused("a contract must define a memory"));
    }
    if contract && !has_entry {
        return Err(refused("a contract must export invoke() -> ()"));
    }
    info.has_memory = has_memory;
    Ok(info)
}

/// Function indices shifted past the added imports.
struct Shift {
    imports: u32,
}

const ADDED_IMPORTS: u32 = 3;

impl Reencode for Shift {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> u32 {
        if func < self.imports {
            func
        } else {
            func + ADDED_IMPORTS
        }
    }
}

fn enc(t: Ty) -> ValType {
    match t {
        Ty::I32 => ValType::I32,
        Ty::I64 => ValType::I64,
    }
}

/// Emits the charge of `cost` gas: a subtraction from the counter, which may go below zero. With
/// `check`, a negative counter then calls `__platon_halt(1)` (out of gas).
///
/// Not every segment checks: only those that start a loop body and those that end in a call. Every
/// backward branch lands on a loop body's start and every call is preceded by a check, so between
/// two checks a function runs straight-line code only, and the counter cannot go further below zero
/// than the cost of one function body's forward path. Whatever runs there is rolled back with the
/// frame when the counter is found negative: by the next check, by a host call (which refuses a
/// negative counter), or by the engine reading the counter when the call returns.
fn charge(f: &mut Function, gas: u32, halt: u32, cost: u64, check: bool) {
    if cost > 0 {
        f.instruction(&Instruction::GlobalGet(gas))
            .instruction(&Instruction::I64Const(cost as i64))
            .instruction(&Instruction::I64Sub)
            .instruction(&Instruction::GlobalSet(gas));
    }
    if check {
        f.instruction(&Instruction::GlobalGet(gas))
            .instruction(&Instruction::I64Const(0))
            .instruction(&Instruction::I64LtS);
        halt_if(f, halt);
    }
}

/// Emits: if the `i32` on the stack is true, `__platon_halt(1)` (out of gas).
fn halt_if(f: &mut Function, halt: u32) {
    f.instruction(&Instruction::If(BlockType::Empty))
        .instruction(&Instruction::I32Const(host::HALT_OUT_OF_GAS))
        .instruction(&Instruction::Call(halt))
        .instruction(&Instruction::Unreachable)
        .instruction(&Instruction::End);
}

/// Emits the charge of the gas in `i64` local `amount`, checked first: a counter below the amount
/// (or already below zero) halts out of gas and is left as it is.
fn charge_local(f: &mut Function, gas: u32, halt: u32, amount: u32) {
    f.instruction(&Instruction::GlobalGet(gas))
        .instruction(&Instruction::LocalGet(amount))
        .instruction(&Instruction::I64LtS);
    halt_if(f, halt);
    f.instruction(&Instruction::GlobalGet(gas))
        .instruction(&Instruction::LocalGet(amount))
        .instruction(&Instruction::I64Sub)
        .instruction(&Instruction::GlobalSet(gas));
}

/// Whether the segment ends after `op`: control flow joins or leaves here. `br_if` does not end
/// one: the code after it is charged with the code before it (charged but not run when the branch
/// is taken), which halves the charges of a typical loop.
fn ends_segment(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::Unreachable
            | Operator::Call { .. }
            | Operator::CallIndirect { .. }
    )
}

/// What a function body's rewrite needs: the module's frame sizes and the indices instrumentation
/// adds.
struct Rewrite<'i> {
    info: &'i Info,
    imports: u32,
    gas_in: u32,
    gas_out: u32,
    halt: u32,
    grow: u32,
    copy: u32,
    fill: u32,
    gas: u32,
    stack: u32,
    max_frame: u32,
}

type ReencodeError = wasm_encoder::reencode::Error;

impl Rewrite<'_> {
    /// The body with a gas charge before each straight-line segment and every instruction rewritten
    /// by [`Rewrite::op`].
    fn body(
        &self,
        shift: &mut Shift,
        body: wasmparser::FunctionBody<'_>,
    ) -> Result<Function, ReencodeError> {
        let mut locals = Vec::new();
        for l in body.get_locals_reader()? {
            let (count, ty) = l?;
            locals.push((count, shift.val_type(ty)?));
        }
        let mut f = Function::new(locals);
        let ops: Vec<Operator<'_>> = body
            .get_operators_reader()?
            .into_iter()
            .collect::<Result<_, _>>()?;
        let mut start = 0usize;
        while start < ops.len() {
            let mut end = start;
            let mut cost = 0u64;
            while end < ops.len() {
                cost = cost.saturating_add(instruction_gas(&ops[end]));
                end += 1;
                if ends_segment(&ops[end - 1]) {
                    break;
                }
            }
            // No charge for the function's closing `end` alone.
            let closing = end == ops.len() && end - start == 1;
            let loop_body = start > 0 && matches!(ops[start - 1], Operator::Loop { .. });
            let calls = matches!(
                ops[end - 1],
                Operator::Call { .. } | Operator::CallIndirect { .. }
            );
            if !closing {
                charge(&mut f, self.gas, self.halt, cost, loop_body || calls);
            }
            for op in &ops[start..end] {
                self.op(shift, &mut f, op)?;
            }
            start = end;
        }
        Ok(f)
    }

    /// One instruction: host calls hand the gas counter over, calls account the stack budget,
    /// `memory.grow`/`copy`/`fill` go to the metered functions, the rest is copied (with function
    /// indices shifted).
    fn op(
        &self,
        shift: &mut Shift,
        f: &mut Function,
        op: &Operator<'_>,
    ) -> Result<(), ReencodeError> {
        match op {
            Operator::Call { function_index } if *function_index < self.imports => {
                f.instruction(&Instruction::GlobalGet(self.gas))
                    .instruction(&Instruction::Call(self.gas_in))
                    .instruction(&Instruction::Call(*function_index))
                    .instruction(&Instruction::Call(self.gas_out))
                    .instruction(&Instruction::GlobalSet(self.gas));
            }
            Operator::Call { function_index } => {
                let frame = self
                    .info
                    .frames
                    .get((*function_index - self.imports) as usize)
                    .copied()
                    .unwrap_or(self.max_frame);
                stack_in(f, self.stack, self.halt, frame);
                f.instruction(&Instruction::Call(function_index + ADDED_IMPORTS));
                stack_out(f, self.stack, frame);
            }
            Operator::CallIndirect { .. } => {
                stack_in(f, self.stack, self.halt, self.max_frame);
                f.instruction(&shift.instruction(op.clone())?);
                stack_out(f, self.stack, self.max_frame);
            }
            Operator::MemoryGrow { .. } => {
                f.instruction(&Instruction::Call(self.grow));
            }
            Operator::MemoryCopy { .. } => {
                f.instruction(&Instruction::Call(self.copy));
            }
            Operator::MemoryFill { .. } => {
                f.instruction(&Instruction::Call(self.fill));
            }
            other => {
                f.instruction(&shift.instruction(other.clone())?);
            }
        }
        Ok(())
    }
}

fn instrument(module: &[u8], info: &Info) -> Result<Vec<u8>, wasm_encoder::reencode::Error> {
    let n_imports = info.imports.len() as u32;
    let n_funcs = info.funcs.len() as u32;
    let n_types = info.types.len() as u32;
    // Indices of what is added.
    let imp_gas_in = n_imports;
    let imp_gas_out = n_imports + 1;
    let imp_halt = n_imports + 2;
    let f_grow = n_imports + ADDED_IMPORTS + n_funcs;
    let f_init = f_grow + 1;
    let f_left = f_grow + 2;
    let f_copy = f_grow + 3;
    let f_fill = f_grow + 4;
    let g_gas = info.globals;
    let g_stack = info.globals + 1;
    let t_gas_in = n_types;
    let t_gas_out = n_types + 1;
    let t_halt = n_types + 2;
    let t_grow = n_types + 3;
    let t_bulk = n_types + 4;

    let mut shift = Shift { imports: n_imports };
    let mut types = TypeSection::new();
    let mut imports = ImportSection::new();
    let mut functions = FunctionSection::new();
    let mut globals = GlobalSection::new();
    let mut exports = ExportSection::new();
    let mut elements: Option<ElementSection> = None;
    let mut code = CodeSection::new();
    let mut table: Option<RawSection<'_>> = None;
    let mut memory: Option<RawSection<'_>> = None;
    let mut data: Option<RawSection<'_>> = None;
    let rewrite = Rewrite {
        info,
        imports: n_imports,
        gas_in: imp_gas_in,
        gas_out: imp_gas_out,
        halt: imp_halt,
        grow: f_grow,
        copy: f_copy,
        fill: f_fill,
        gas: g_gas,
        stack: g_stack,
        max_frame: info.frames.iter().copied().max().unwrap_or(CALL_OVERHEAD),
    };

    for payload in Parser::new(0).parse_all(module) {
        match payload? {
            Payload::TypeSection(r) => RoundtripReencoder.parse_type_section(&mut types, r)?,
            Payload::ImportSection(r) => shift.parse_import_section(&mut imports, r)?,
            Payload::FunctionSection(r) => shift.parse_function_section(&mut functions, r)?,
            Payload::TableSection(r) => {
                table = Some(RawSection {
                    id: wasm_encoder::SectionId::Table as u8,
                    data: &module[r.range()],
                })
            }
            Payload::MemorySection(r) => {
                memory = Some(RawSection {
                    id: wasm_encoder::SectionId::Memory as u8,
                    data: &module[r.range()],
                })
            }
            Payload::GlobalSection(r) => shift.parse_global_section(&mut globals, r)?,
            Payload::ExportSection(r) => shift.parse_export_section(&mut exports, r)?,
            Payload::ElementSection(r) => {
                let mut e = ElementSection::new();
                shift.parse_element_section(&mut e, r)?;
                elements = Some(e);
            }
            Payload::DataSection(r) => {
                data = Some(RawSection {
                    id: wasm_encoder::SectionId::Data as u8,
                    data: &module[r.range()],
                })
            }
            Payload::CodeSectionEntry(body) => {
                code.function(&rewrite.body(&mut shift, body)?);
            }
            _ => {}
        }
    }

    // Added types, imports, globals, functions, exports.
    for s in host::INJECTED_IMPORTS {
        types.ty().function(
            s.params.iter().map(|t| enc(*t)),
            s.result.iter().map(|t| enc(*t)),
        );
    }
    types.ty().function([ValType::I32], [ValType::I32]);
    types
        .ty()
        .function([ValType::I32, ValType::I32, ValType::I32], []);
    imports.import(
        "env",
        host::INJECTED_IMPORTS[0].name,
        EntityType::Function(t_gas_in),
    );
    imports.import(
        "env",
        host::INJECTED_IMPORTS[1].name,
        EntityType::Function(t_gas_out),
    );
    imports.import(
        "env",
        host::INJECTED_IMPORTS[2].name,
        EntityType::Function(t_halt),
    );
    globals.global(
        GlobalType {
            val_type: ValType::I64,
            mutable: true,
            shared: false,
        },
        &ConstExpr::i64_const(0),
    );
    globals.global(
        GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        },
        &ConstExpr::i32_const(0),
    );
    functions.function(t_grow);
    functions.function(t_gas_in);
    functions.function(t_gas_out);
    functions.function(t_bulk);
    functions.function(t_bulk);

    // grow(pages): refuse past the page bound, charge per page, then grow.
    let mut grow = Function::new([(1, ValType::I64)]);
    if !info.has_memory {
        grow.instruction(&Instruction::I32Const(-1));
    } else {
        grow.instruction(&Instruction::MemorySize(0))
            .instruction(&Instruction::I64ExtendI32U)
            .instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I64ExtendI32U)
            .instruction(&Instruction::I64Add)
            .instruction(&Instruction::I64Const(MAX_MEMORY_PAGES as i64))
            .instruction(&Instruction::I64GtU)
            .instruction(&Instruction::If(BlockType::Empty))
            .instruction(&Instruction::I32Const(-1))
            .instruction(&Instruction::Return)
            .instruction(&Instruction::End)
            .instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::I64ExtendI32U)
            .instruction(&Instruction::I64Const(PAGE_GAS as i64))
            .instruction(&Instruction::I64Mul)
            .instruction(&Instruction::LocalSet(1));
        charge_local(&mut grow, g_gas, imp_halt, 1);
        grow.instruction(&Instruction::LocalGet(0))
            .instruction(&Instruction::MemoryGrow(0));
    }
    grow.instruction(&Instruction::End);
    code.function(&grow);
    let mut init = Function::new([]);
    init.instruction(&Instruction::LocalGet(0))
        .instruction(&Instruction::GlobalSet(g_gas))
        .instruction(&Instruction::I32Const(0))
        .instruction(&Instruction::GlobalSet(g_stack))
        .instruction(&Instruction::End);
    code.function(&init);
    let mut left = Function::new([]);
    left.instruction(&Instruction::GlobalGet(g_gas))
        .instruction(&Instruction::End);
    code.function(&left);
    code.function(&bulk(true, info.has_memory, g_gas, imp_halt));
    code.function(&bulk(false, info.has_memory, g_gas, imp_halt));
    exports.export(GAS_INIT_EXPORT, ExportKind::Func, f_init);
    exports.export(GAS_LEFT_EXPORT, ExportKind::Func, f_left);

    let mut out = Module::new();
    out.section(&types);
    out.section(&imports);
    out.section(&functions);
    if let Some(t) = &table {
        out.section(t);
    }
    if let Some(m) = &memory {
        out.section(m);
    }
    out.section(&globals);
    out.section(&exports);
    if let Some(e) = &elements {
        out.section(e);
    }
    out.section(&code);
    if let Some(d) = &data {
        out.section(d);
    }
    Ok(out.finish())
}

/// `memory.copy(dst, src, n)` (`copy`) or `memory.fill(dst, value, n)` as a metered function: the
/// bounds are checked first (a trap writes nothing), then [`BULK_BYTE_GAS`] per byte is charged, then
/// the bytes move one at a time (backwards when a copy's ranges overlap that way).
fn bulk(copy: bool, has_memory: bool, gas: u32, halt: u32) -> Function {
    use Instruction as I;
    let mut f = Function::new([(1, ValType::I64), (1, ValType::I32)]);
    if !has_memory {
        f.instruction(&I::Unreachable).instruction(&I::End);
        return f;
    }
    // The memory's size in bytes goes through a local first: wasm3 0.4 has no form of an i64
    // comparison whose two operands are both computed.
    f.instruction(&I::MemorySize(0))
        .instruction(&I::I64ExtendI32U)
        .instruction(&I::I64Const(16))
        .instruction(&I::I64Shl)
        .instruction(&I::LocalSet(3));
    let end_past_memory = |f: &mut Function, base: u32| {
        f.instruction(&I::LocalGet(base))
            .instruction(&I::I64ExtendI32U)
            .instruction(&I::LocalGet(2))
            .instruction(&I::I64ExtendI32U)
            .instruction(&I::I64Add)
            .instruction(&I::LocalGet(3))
            .instruction(&I::I64GtU);
    };
    end_past_memory(&mut f, 0);
    if copy {
        end_past_memory(&mut f, 1);
        f.instruction(&I::I32Or);
    }
    f.instruction(&I::If(BlockType::Empty))
        .instruction(&I::Unreachable)
        .instruction(&I::End);
    // Gas: n × BULK_BYTE_GAS.
    f.instruction(&I::LocalGet(2))
        .instruction(&I::I64ExtendI32U)
        .instruction(&I::I64Const(BULK_BYTE_GAS as i64))
        .instruction(&I::I64Mul)
        .instruction(&I::LocalSet(3));
    charge_local(&mut f, gas, halt, 3);
    // One byte at offset local 4: mem[dst + i] = (copy ? mem[src + i] : value).
    let step = |f: &mut Function| {
        f.instruction(&I::LocalGet(0))
            .instruction(&I::LocalGet(4))
            .instruction(&I::I32Add);
        if copy {
            f.instruction(&I::LocalGet(1))
                .instruction(&I::LocalGet(4))
                .instruction(&I::I32Add)
                .instruction(&I::I32Load8U(wasm_encoder::MemArg {
                    offset: 0,
                    align: 0,
                    memory_index: 0,
                }));
        } else {
            f.instruction(&I::LocalGet(1));
        }
        f.instruction(&I::I32Store8(wasm_encoder::MemArg {
            offset: 0,
            align: 0,
            memory_index: 0,
        }));
    };
    let forward = |f: &mut Function| {
        f.instruction(&I::Block(BlockType::Empty))
            .instruction(&I::Loop(BlockType::Empty))
            .instruction(&I::LocalGet(4))
            .instruction(&I::LocalGet(2))
            .instruction(&I::I32GeU)
            .instruction(&I::BrIf(1));
        step(f);
        f.instruction(&I::LocalGet(4))
            .instruction(&I::I32Const(1))
            .instruction(&I::I32Add)
            .instruction(&I::LocalSet(4))
            .instruction(&I::Br(0))
            .instruction(&I::End)
            .instruction(&I::End);
    };
    if copy {
        f.instruction(&I::LocalGet(0))
            .instruction(&I::LocalGet(1))
            .instruction(&I::I32LeU)
            .instruction(&I::If(BlockType::Empty));
        forward(&mut f);
        f.instruction(&I::Else)
            .instruction(&I::LocalGet(2))
            .instruction(&I::LocalSet(4))
            .instruction(&I::Block(BlockType::Empty))
            .instruction(&I::Loop(BlockType::Empty))
            .instruction(&I::LocalGet(4))
            .instruction(&I::I32Eqz)
            .instruction(&I::BrIf(1))
            .instruction(&I::LocalGet(4))
            .instruction(&I::I32Const(1))
            .instruction(&I::I32Sub)
            .instruction(&I::LocalSet(4));
        step(&mut f);
        f.instruction(&I::Br(0))
            .instruction(&I::End)
            .instruction(&I::End)
            .instruction(&I::End);
    } else {
        forward(&mut f);
    }
    f.instruction(&I::End);
    f
}

fn stack_in(f: &mut Function, g_stack: u32, halt: u32, frame: u32) {
    f.instruction(&Instruction::GlobalGet(g_stack))
        .instruction(&Instruction::I32Const(frame as i32))
        .instruction(&Instruction::I32Add)
        .instruction(&Instruction::GlobalSet(g_stack))
        .instruction(&Instruction::GlobalGet(g_stack))
        .instruction(&Instruction::I32Const(STACK_LIMIT as i32))
        .instruction(&Instruction::I32GtU)
        .instruction(&Instruction::If(BlockType::Empty))
        .instruction(&Instruction::I32Const(host::HALT_STACK))
        .instruction(&Instruction::Call(halt))
        .instruction(&Instruction::Unreachable)
        .instruction(&Instruction::End);
}

fn stack_out(f: &mut Function, g_stack: u32, frame: u32) {
    f.instruction(&Instruction::GlobalGet(g_stack))
        .instruction(&Instruction::I32Const(frame as i32))
        .instruction(&Instruction::I32Sub)
        .instruction(&Instruction::GlobalSet(g_stack));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(s: &str) -> Vec<u8> {
        wat::parse_str(s).expect("wat")
    }

    #[test]
    fn an_oversized_module_is_refused_before_parsing() {
        let big = format!(
            r#"(module (memory (export "memory") 1) (data (i32.const 0) "{}") (func (export "invoke")))"#,
            "x".repeat(MAX_MODULE_BYTES)
        );
        assert!(matches!(
            prepare(&wat(&big)),
            Err(DeployError::TooLarge {
                max: MAX_MODULE_BYTES,
                ..
            })
        ));
    }

    #[test]
    fn instrumentation_adds_the_counter_and_keeps_the_module_valid() {
        let code = prepare(&wat(r#"(module (memory (export "memory") 1)
                 (func $f (param i32) (result i32) local.get 0 i32.const 1 i32.add)
                 (func (export "invoke") i32.const 1 call $f drop))"#))
        .expect("prepare");
        Validator::new_with_features(features())
            .validate_all(&code)
            .expect("valid");
        let exports: Vec<String> = Parser::new(0)
            .parse_all(&code)
            .filter_map(|p| match p {
                Ok(Payload::ExportSection(r)) => Some(
                    r.into_iter()
                        .filter_map(|e| e.ok().map(|e| e.name.to_string()))
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        for name in [ENTRY, GAS_INIT_EXPORT, GAS_LEFT_EXPORT] {
            assert!(
                exports.iter().any(|e| e == name),
                "{name} missing: {exports:?}"
            );
        }
    }

    #[test]
    fn reserved_exports_and_other_bulk_instructions_are_refused() {
        let r = prepare(&wat(
            r#"(module (memory (export "memory") 1) (func (export "invoke")) (func (export "__platon_x")))"#,
        ));
        assert!(matches!(r, Err(DeployError::Refused(m)) if m.contains("reserved")));
        let r = prepare(&wat(r#"(module (memory (export "memory") 1) (data $d "x")
                 (func (export "invoke") i32.const 0 i32.const 0 i32.const 1 memory.init $d))"#));
        assert!(r.is_err(), "{r:?}");
    }
}

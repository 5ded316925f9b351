//! The WebAssembly core spec tests (`../shared/conformance/wasm-spec`, read in place and parsed with
//! the `wast` crate) through our engine wrappers, on wasm3 and wasmi, twice: the module as written
//! (gas off) and the module as deploy instruments it (gas on). Metering must change nothing but gas:
//! every assertion holds in both runs, and both engines leave the same gas after every call.
//!
//! Modules our deploy rules refuse (floats, post-1.0 features) are counted and skipped with their
//! assertions; `assert_invalid` and `assert_malformed` modules must be refused by our validation.
//! Calls whose signature the wasm3 wrapper cannot express (more than three parameters) are skipped on
//! both engines and counted.

use platon_vm::wasm::prepare::instrument_module;
use platon_vm::wasm::raw::{session, Call, CallResult, Val};
use platon_vm::wasm::WasmEngine;
use wast::core::{WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastRet};

/// The files whose instructions we accept (integer, control, memory, table, call instructions).
const FILES: &[&str] = &[
    "address",
    "align",
    "binary-leb128",
    "block",
    "br",
    "br_if",
    "br_table",
    "call",
    "call_indirect",
    "comments",
    "const",
    "custom",
    "data",
    "elem",
    "endianness",
    "exports",
    "fac",
    "forward",
    "func",
    "func_ptrs",
    "global",
    "i32",
    "i64",
    "if",
    "int_exprs",
    "int_literals",
    "labels",
    "left-to-right",
    "load",
    "local_get",
    "local_set",
    "local_tee",
    "loop",
    "memory",
    "memory_copy",
    "memory_fill",
    "memory_grow",
    "memory_redundancy",
    "memory_size",
    "memory_trap",
    "nop",
    "return",
    "select",
    "stack",
    "store",
    "switch",
    "token",
    "traps",
    "type",
    "unreachable",
    "unreached-invalid",
    "unreached-valid",
    "unwind",
];

const GAS: u64 = 1 << 40;

#[derive(Debug, Clone)]
enum Expect {
    Return(Vec<Val>),
    Trap,
    Exhaustion,
    Any,
}

#[derive(Default, Debug)]
struct Tally {
    modules: usize,
    refused: usize,
    passed: usize,
    skipped: usize,
    invalid_refused: usize,
    raw_refused: usize,
}

fn arg(a: &WastArg<'_>) -> Option<Val> {
    match a {
        WastArg::Core(WastArgCore::I32(x)) => Some(Val::I32(*x)),
        WastArg::Core(WastArgCore::I64(x)) => Some(Val::I64(*x)),
        _ => None,
    }
}

fn ret(r: &WastRet<'_>) -> Option<Val> {
    match r {
        WastRet::Core(WastRetCore::I32(x)) => Some(Val::I32(*x)),
        WastRet::Core(WastRetCore::I64(x)) => Some(Val::I64(*x)),
        _ => None,
    }
}

/// A call both engine wrappers can make (at most three integer arguments), or None.
fn call_of(exec: &WastExecute<'_>) -> Option<Call> {
    match exec {
        WastExecute::Invoke(i) if i.module.is_none() && i.args.len() <= 3 => Some(Call {
            func: i.name.to_string(),
            args: i.args.iter().map(arg).collect::<Option<Vec<_>>>()?,
        }),
        _ => None,
    }
}

fn check(file: &str, c: &Call, r: &CallResult, e: &Expect, metered: bool) -> bool {
    match (&r.result, e) {
        (Err(u), _) if u.starts_with("unsupported") => return false,
        (Ok(v), Expect::Return(want)) => {
            assert_eq!(v, want, "{file} (metered {metered}): wrong result of {c:?}")
        }
        (Err(t), Expect::Trap) => assert_eq!(t, "trap", "{file} (metered {metered}): {c:?}"),
        (Err(t), Expect::Exhaustion) => {
            assert!(
                t == "stack limit" || t == "out of gas",
                "{file}: exhaustion gave {t}"
            )
        }
        (_, Expect::Any) => {}
        (got, want) => panic!("{file} (metered {metered}): {c:?} gave {got:?}, expected {want:?}"),
    }
    true
}

/// Runs one module's batch on both engines, raw and metered; returns assertions passed and skipped.
fn run_batch(file: &str, module: &[u8], batch: &[(Call, Expect)], t: &mut Tally) {
    t.modules += 1;
    let Ok(metered) = instrument_module(module) else {
        t.refused += 1;
        return;
    };
    let calls: Vec<Call> = batch.iter().map(|(c, _)| c.clone()).collect();
    // Raw runs skip exhaustion calls: without the stack budget they rely on each engine's own limit.
    let raw_calls: Vec<Call> = batch
        .iter()
        .filter(|(_, e)| !matches!(e, Expect::Exhaustion))
        .map(|(c, _)| c.clone())
        .collect();
    let raw_expect: Vec<&Expect> = batch
        .iter()
        .filter(|(_, e)| !matches!(e, Expect::Exhaustion))
        .map(|(_, e)| e)
        .collect();
    let mut gas_runs = Vec::new();
    for engine in [WasmEngine::Wasm3, WasmEngine::Wasmi] {
        // The module as written: an engine may refuse what we accept only after lowering (bulk
        // memory) or an encoding wasm3 0.4 does not read; the instrumented module must load.
        // A module with bulk-memory instructions runs only lowered (wasm3 0.4's own memory.copy
        // gives wrong results in the spec's tests, which is why deploy lowers it).
        let plain =
            platon_vm::wasm::prepare::features().difference(wasmparser::WasmFeatures::BULK_MEMORY);
        let raw_ok = wasmparser::Validator::new_with_features(plain)
            .validate_all(module)
            .is_ok();
        let raw = match raw_ok.then(|| session(engine, module, None, &raw_calls)) {
            Some(Ok(r)) => r,
            _ => {
                t.raw_refused += 1;
                Vec::new()
            }
        };
        for ((r, e), c) in raw.iter().zip(&raw_expect).zip(&raw_calls) {
            if check(file, c, r, e, false) {
                t.passed += 1;
            } else {
                t.skipped += 1;
            }
        }
        let m = session(engine, &metered, Some(GAS), &calls)
            .unwrap_or_else(|e| panic!("{file}: {engine:?} refused the instrumented module: {e}"));
        for (r, (c, e)) in m.iter().zip(batch) {
            if check(file, c, r, e, true) {
                t.passed += 1;
            } else {
                t.skipped += 1;
            }
        }
        gas_runs.push(m);
    }
    // Both engines: the same results (supported calls) and the same gas after every call.
    for (a, b) in gas_runs[0].iter().zip(&gas_runs[1]) {
        let unsupported =
            |r: &CallResult| matches!(&r.result, Err(u) if u.starts_with("unsupported"));
        if !unsupported(a) && !unsupported(b) {
            assert_eq!(a, b, "{file}: wasm3 and wasmi differ under metering");
        }
    }
}

#[test]
fn wasm_core_spec_on_both_engines_with_and_without_metering() {
    let Some(dir) = platon_crypto::conformance::conformance("wasm-spec") else {
        return;
    };
    let mut t = Tally::default();
    for file in FILES {
        let path = dir.join(format!("{file}.wast"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(buf) = ParseBuffer::new(&text) else {
            continue;
        };
        let Ok(wast) = parser::parse::<Wast<'_>>(&buf) else {
            eprintln!("{file}: the wast crate does not parse it; skipped");
            continue;
        };
        let mut current: Option<Vec<u8>> = None;
        let mut batch: Vec<(Call, Expect)> = Vec::new();
        for d in wast.directives {
            match d {
                WastDirective::Module(mut m) => {
                    if let Some(prev) = current.take() {
                        run_batch(file, &prev, &batch, &mut t);
                    }
                    batch.clear();
                    current = match &m {
                        QuoteWat::Wat(wast::Wat::Module(_)) | QuoteWat::QuoteModule(..) => {
                            m.encode().ok()
                        }
                        _ => None,
                    };
                }
                WastDirective::AssertInvalid { mut module, .. }
                | WastDirective::AssertMalformed { mut module, .. } => {
                    if let Ok(bytes) = module.encode() {
                        assert!(
                            instrument_module(&bytes).is_err(),
                            "{file}: an invalid module passed our validation"
                        );
                        t.invalid_refused += 1;
                    }
                }
                WastDirective::AssertReturn { exec, results, .. } => {
                    let want: Option<Vec<Val>> = results.iter().map(ret).collect();
                    match (call_of(&exec), want) {
                        (Some(c), Some(w)) if current.is_some() => {
                            batch.push((c, Expect::Return(w)))
                        }
                        _ => t.skipped += 1,
                    }
                }
                WastDirective::AssertTrap { exec, .. } => match call_of(&exec) {
                    Some(c) if current.is_some() => batch.push((c, Expect::Trap)),
                    _ => t.skipped += 1,
                },
                WastDirective::AssertExhaustion { call, .. } => {
                    match call_of(&WastExecute::Invoke(call)) {
                        Some(c) if current.is_some() => batch.push((c, Expect::Exhaustion)),
                        _ => t.skipped += 1,
                    }
                }
                WastDirective::Invoke(i) => match call_of(&WastExecute::Invoke(i)) {
                    Some(c) if current.is_some() => batch.push((c, Expect::Any)),
                    _ => t.skipped += 1,
                },
                _ => {}
            }
        }
        if let Some(prev) = current.take() {
            run_batch(file, &prev, &batch, &mut t);
        }
    }
    eprintln!("wasm spec: {t:?}");
    assert!(t.passed > 10_000, "too few spec assertions ran: {t:?}");
    assert!(
        t.invalid_refused > 100,
        "too few invalid modules checked: {t:?}"
    );
}

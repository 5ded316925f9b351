//! Differential fuzzing of the two WASM engines: random valid modules from `wasm-smith` (within the
//! features deploy accepts), instrumented as deploy does, every exported function called on wasm3
//! and on wasmi; results, traps and gas must agree. CI runs fixed seeds; any number runs with
//! `PLATON_WASM_FUZZ_CASES=N PLATON_WASM_FUZZ_SEED=S cargo nextest run -p platon-vm wasm_fuzz`.

use platon_vm::wasm::prepare::instrument_module;
use platon_vm::wasm::raw::{session, Call, Val};
use platon_vm::wasm::WasmEngine;
use rand::{RngCore, SeedableRng};

pub fn config() -> wasm_smith::Config {
    wasm_smith::Config {
        allow_floats: false,
        allow_start_export: false,
        bulk_memory_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        multi_value_enabled: false,
        reference_types_enabled: false,
        relaxed_simd_enabled: false,
        saturating_float_to_int_enabled: false,
        simd_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        extended_const_enabled: false,
        sign_extension_ops_enabled: true,
        export_everything: true,
        max_imports: 0,
        max_memories: 1,
        max_memory32_bytes: 4 * 65536,
        max_tables: 1,
        max_table_elements: 100,
        min_funcs: 2,
        max_funcs: 20,
        max_instructions: 200,
        max_data_segments: 10,
        max_element_segments: 10,
        ..wasm_smith::Config::default()
    }
}

fn args_for(code: &[u8], name: &str, seed: u64) -> Option<Vec<Val>> {
    // The export's parameter types, filled with values derived from the seed.
    let mut types = Vec::new();
    let mut funcs = Vec::new();
    for p in wasmparser::Parser::new(0).parse_all(code) {
        match p.ok()? {
            wasmparser::Payload::TypeSection(r) => {
                for t in r.into_iter_err_on_gc_types() {
                    types.push(t.ok()?);
                }
            }
            wasmparser::Payload::FunctionSection(r) => {
                for f in r {
                    funcs.push(f.ok()?);
                }
            }
            wasmparser::Payload::ExportSection(r) => {
                for e in r {
                    let e = e.ok()?;
                    if e.name == name && e.kind == wasmparser::ExternalKind::Func {
                        let ty = types.get(*funcs.get(e.index as usize)? as usize)?;
                        // The wasm3 wrapper calls up to three parameters; both engines get the
                        // same calls, so their gas stays comparable.
                        if ty.params().len() > 3 {
                            return None;
                        }
                        let mut x = seed;
                        return ty
                            .params()
                            .iter()
                            .map(|t| {
                                x = x
                                    .wrapping_mul(6364136223846793005)
                                    .wrapping_add(1442695040888963407);
                                match t {
                                    wasmparser::ValType::I32 => Some(Val::I32((x >> 33) as i32)),
                                    wasmparser::ValType::I64 => Some(Val::I64(x as i64)),
                                    _ => None,
                                }
                            })
                            .collect();
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn exports(code: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for p in wasmparser::Parser::new(0).parse_all(code) {
        if let Ok(wasmparser::Payload::ExportSection(r)) = p {
            for e in r.into_iter().flatten() {
                // wasm3 finds exports by C string, and an empty name finds some other function
                // there: only names it can look up are called (the chain looks up `invoke`).
                if e.kind == wasmparser::ExternalKind::Func
                    && !e.name.starts_with("__platon")
                    && !e.name.is_empty()
                    && !e.name.contains('\0')
                {
                    out.push(e.name.to_string());
                }
            }
        }
    }
    out
}

/// Runs `cases` random modules from `seed`; returns (modules run, calls compared).
fn fuzz(seed: u64, cases: usize) -> (usize, usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut modules, mut compared) = (0, 0);
    for case in 0..cases {
        let mut bytes = vec![0u8; 16 * 1024];
        rng.fill_bytes(&mut bytes);
        let mut u = arbitrary::Unstructured::new(&bytes);
        let m = match wasm_smith::Module::new(config(), &mut u) {
            Ok(m) => m,
            Err(e) => {
                if std::env::var("PLATON_WASM_FUZZ_VERBOSE").is_ok() {
                    eprintln!("case {case}: wasm-smith: {e}");
                }
                continue;
            }
        };
        let module = m.to_bytes();
        let code = match instrument_module(&module) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("PLATON_WASM_FUZZ_VERBOSE").is_ok() {
                    eprintln!("case {case}: refused: {e}");
                }
                continue;
            }
        };
        let calls: Vec<Call> = exports(&module)
            .into_iter()
            .filter_map(|f| {
                let args = args_for(&module, &f, seed ^ case as u64)?;
                Some(Call { func: f, args })
            })
            .collect();
        if calls.is_empty() {
            if std::env::var("PLATON_WASM_FUZZ_VERBOSE").is_ok() {
                eprintln!("case {case}: no callable export");
            }
            continue;
        }
        let a = session(WasmEngine::Wasm3, &code, Some(2_000_000), &calls);
        let b = session(WasmEngine::Wasmi, &code, Some(2_000_000), &calls);
        match (&a, &b) {
            (Ok(a), Ok(b)) => {
                // After a trap the instance's state is whatever the trapping call left (an engine
                // may stop a few instructions apart inside a metered segment); a chain call ends
                // there with all gas consumed, so gas is compared only up to the first trap.
                let mut trapped = false;
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    let unsupported = |r: &platon_vm::wasm::raw::CallResult| {
                        matches!(&r.result, Err(u) if u.starts_with("unsupported"))
                    };
                    if unsupported(x) || unsupported(y) {
                        // One engine skipped the call: gas is no longer comparable after it.
                        trapped = true;
                        continue;
                    }
                    let same = if trapped || x.result.is_err() {
                        x.result == y.result
                    } else {
                        x == y
                    };
                    assert!(
                        same,
                        "seed {seed} case {case} call {i} ({}): engines differ: {x:?} / {y:?}\nmodule: {}",
                        calls[i].func,
                        hex::encode(&module)
                    );
                    trapped |= x.result.is_err();
                    compared += 1;
                }
            }
            // A module neither engine instantiates (e.g. an out-of-range data segment) is fine.
            (Err(_), Err(_)) => {}
            _ => panic!(
                "seed {seed} case {case}: one engine instantiated, the other did not: {a:?} / {b:?}\nmodule: {}",
                hex::encode(&module)
            ),
        }
        modules += 1;
    }
    (modules, compared)
}

#[test]
fn engines_agree_on_random_modules() {
    let seed = std::env::var("PLATON_WASM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let cases = std::env::var("PLATON_WASM_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let (modules, compared) = fuzz(seed, cases);
    eprintln!("wasm fuzz: seed {seed}, {modules} modules, {compared} calls compared");
    assert!(
        modules > cases / 5 && compared > cases / 5,
        "too few cases ran: {modules} modules, {compared} calls"
    );
}

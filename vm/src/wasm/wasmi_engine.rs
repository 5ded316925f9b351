//! The `wasmi` engine: the cross-check beside wasm3. It runs the very same instrumented module with
//! the host functions of [`super::host`]; its own fuel metering stays off (gas is in the code).

use super::host::{self, call_host, Exec, Halt, SliceMemory, Ty};
use super::prepare::{ENTRY, GAS_INIT_EXPORT, GAS_LEFT_EXPORT};
use std::sync::OnceLock;
use wasmi::{Caller, Config, Engine, Extern, FuncType, Linker, Module, Store, Val, ValType};

/// Real stack far above the deterministic stack budget of the instrumented code.
const MAX_RECURSION_DEPTH: usize = 16 * 1024;

/// The engine configuration: the features deploy accepts and nothing more.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut c = Config::default();
        c.wasm_mutable_global(true)
            .wasm_sign_extension(true)
            .wasm_multi_value(false)
            .wasm_bulk_memory(false)
            .wasm_reference_types(false)
            .floats(false)
            .consume_fuel(false)
            .set_max_recursion_depth(MAX_RECURSION_DEPTH);
        Engine::new(&c)
    })
}

fn vt(t: Ty) -> ValType {
    match t {
        Ty::I32 => ValType::I32,
        Ty::I64 => ValType::I64,
    }
}

/// A host error that carries no message of its own: the reason is in `Exec::halt`.
#[derive(Debug)]
struct HostHalt;

impl std::fmt::Display for HostHalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "host halt")
    }
}

impl wasmi::errors::HostError for HostHalt {}

/// Runs `code` (an instrumented module) on `exec`.
pub fn run<'s, 'c>(code: &[u8], exec: &'s mut Exec<'c>) -> Result<(), Halt> {
    let engine = engine();
    let module = Module::new(engine, code)
        .map_err(|e| Halt::Trap(format!("stored module does not load: {e}")))?;
    let mut linker: Linker<&'s mut Exec<'c>> = Linker::new(engine);
    let all = host::HOST_FUNCTIONS
        .iter()
        .chain(host::INJECTED_IMPORTS)
        .enumerate();
    for (index, sig) in all {
        let ty = FuncType::new(
            sig.params.iter().map(|t| vt(*t)),
            sig.result.iter().map(|t| vt(*t)),
        );
        linker
            .func_new(
                "env",
                sig.name,
                ty,
                move |mut caller: Caller<'_, &'s mut Exec<'c>>,
                      params: &[Val],
                      results: &mut [Val]|
                      -> Result<(), wasmi::Error> {
                    let args: Vec<i64> = params
                        .iter()
                        .map(|v| match v {
                            Val::I32(x) => i64::from(*x as u32),
                            Val::I64(x) => *x,
                            _ => 0,
                        })
                        .collect();
                    let outcome = match caller.get_export("memory").and_then(Extern::into_memory) {
                        Some(memory) => {
                            let (data, exec) = memory.data_and_store_mut(&mut caller);
                            let mut mem = SliceMemory(data);
                            call_host(exec, &mut mem, index, &args)
                        }
                        None => Err(Halt::Trap("contract has no exported memory".into())),
                    };
                    match outcome {
                        Ok(r) => {
                            if let (Some(v), Some(slot)) = (r, results.first_mut()) {
                                *slot = match sig.result {
                                    Some(Ty::I32) => Val::I32(v as i32),
                                    _ => Val::I64(v),
                                };
                            }
                            Ok(())
                        }
                        Err(h) => {
                            caller.data_mut().halt = Some(h);
                            Err(wasmi::Error::host(HostHalt))
                        }
                    }
                },
            )
            .map_err(|e| Halt::Fatal(format!("linking {}: {e}", sig.name)))?;
    }
    let gas = exec.gas_left;
    let mut store = Store::new(engine, exec);
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| Halt::Trap(format!("instantiation failed: {e}")))?;
    let trap = |store: &mut Store<&'s mut Exec<'c>>, e: wasmi::Error| -> Halt {
        store
            .data_mut()
            .halt
            .take()
            .unwrap_or_else(|| Halt::Trap(e.to_string()))
    };
    let init = instance
        .get_typed_func::<i64, ()>(&store, GAS_INIT_EXPORT)
        .map_err(|e| Halt::Trap(format!("{GAS_INIT_EXPORT}: {e}")))?;
    init.call(&mut store, gas as i64)
        .map_err(|e| trap(&mut store, e))?;
    let entry = instance
        .get_typed_func::<(), ()>(&store, ENTRY)
        .map_err(|e| Halt::Trap(format!("{ENTRY}: {e}")))?;
    entry.call(&mut store, ()).map_err(|e| trap(&mut store, e))?;
    let left = instance
        .get_typed_func::<(), i64>(&store, GAS_LEFT_EXPORT)
        .map_err(|e| Halt::Trap(format!("{GAS_LEFT_EXPORT}: {e}")))?;
    let g = left.call(&mut store, ()).map_err(|e| trap(&mut store, e))?;
    store.data_mut().gas_left = g as u64;
    Ok(())
}


/// See [`super::raw::session`].
pub fn raw_session(
    code: &[u8],
    gas: Option<u64>,
    calls: &[super::raw::Call],
) -> Result<Vec<super::raw::CallResult>, String> {
    use super::raw::{CallResult, Val as V};
    let engine = engine();
    let module = Module::new(engine, code).map_err(|e| e.to_string())?;
    let mut linker: Linker<Option<Halt>> = Linker::new(engine);
    for s in host::INJECTED_IMPORTS {
        let ty = FuncType::new(s.params.iter().map(|t| vt(*t)), s.result.iter().map(|t| vt(*t)));
        linker
            .func_new("env", s.name, ty, |mut caller: Caller<'_, Option<Halt>>, params: &[Val], _r: &mut [Val]| {
                let code = match params.first() {
                    Some(Val::I32(c)) => *c,
                    _ => 0,
                };
                *caller.data_mut() = Some(match code {
                    host::HALT_OUT_OF_GAS => Halt::OutOfGas,
                    host::HALT_STACK => Halt::StackLimit,
                    _ => Halt::Trap("host".into()),
                });
                Err(wasmi::Error::host(HostHalt))
            })
            .map_err(|e| e.to_string())?;
    }
    let mut store = Store::new(engine, None);
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| e.to_string())?;
    if let Some(g) = gas {
        let init = instance
            .get_typed_func::<i64, ()>(&store, GAS_INIT_EXPORT)
            .map_err(|e| e.to_string())?;
        init.call(&mut store, g as i64).map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    for c in calls {
        let result = (|| {
            let f = instance
                .get_func(&store, &c.func)
                .ok_or_else(|| "unsupported: no such export".to_string())?;
            let ty = f.ty(&store);
            let args: Vec<Val> = c
                .args
                .iter()
                .map(|a| match a {
                    V::I32(x) => Val::I32(*x),
                    V::I64(x) => Val::I64(*x),
                })
                .collect();
            let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default(*t)).collect();
            match f.call(&mut store, &args, &mut results) {
                Ok(()) => results
                    .into_iter()
                    .map(|v| match v {
                        Val::I32(x) => Ok(V::I32(x)),
                        Val::I64(x) => Ok(V::I64(x)),
                        _ => Err("unsupported: float result".to_string()),
                    })
                    .collect(),
                Err(e) => Err(match store.data_mut().take() {
                    Some(Halt::OutOfGas) => "out of gas".to_string(),
                    Some(Halt::StackLimit) => "stack limit".to_string(),
                    _ => {
                        let _ = e;
                        "trap".to_string()
                    }
                }),
            }
        })();
        let gas_left = match gas {
            Some(_) => {
                let left = instance
                    .get_typed_func::<(), i64>(&store, GAS_LEFT_EXPORT)
                    .map_err(|e| e.to_string())?;
                Some(left.call(&mut store, ()).map_err(|e| e.to_string())? as u64)
            }
            None => None,
        };
        out.push(CallResult { result, gas_left });
    }
    Ok(out)
}

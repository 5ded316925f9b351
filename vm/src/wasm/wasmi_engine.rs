//! The `wasmi` engine: the cross-check beside wasm3. It runs the very same instrumented module with
//! the host functions of [`super::host`]; its own fuel metering stays off (gas is in the code).

use super::host::{self, call_host, Exec, Halt, SliceMemory, Ty};
use super::prepare::{ENTRY, GAS_INIT_EXPORT, GAS_LEFT_EXPORT};
use std::sync::OnceLock;
use wasmi::{Caller, Config, Engine, FuncType, Linker, Module, ResumableCall, Store, Val, ValType};

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

/// A host error that carries no message of its own: the reason is in the store's data or `Exec`.
#[derive(Debug)]
struct HostHalt;

impl std::fmt::Display for HostHalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "host halt")
    }
}

impl wasmi::errors::HostError for HostHalt {}

/// A host call the contract made, waiting for the driver: which function, with what arguments.
#[derive(Debug, Default)]
struct Pending {
    call: Option<(usize, Vec<i64>)>,
}

/// Every host function, linked once: each one records the call and pauses the contract, so the
/// driver ([`run`]) carries it out with the execution state it holds and resumes.
fn linker() -> &'static Linker<Pending> {
    static LINKER: OnceLock<Linker<Pending>> = OnceLock::new();
    LINKER.get_or_init(|| {
        let mut linker = Linker::new(engine());
        let all = host::HOST_FUNCTIONS
            .iter()
            .chain(host::INJECTED_IMPORTS)
            .enumerate();
        for (index, sig) in all {
            let ty = FuncType::new(
                sig.params.iter().map(|t| vt(*t)),
                sig.result.iter().map(|t| vt(*t)),
            );
            let defined = linker.func_new(
                "env",
                sig.name,
                ty,
                move |mut caller: Caller<'_, Pending>, params: &[Val], _results: &mut [Val]| {
                    let args = params
                        .iter()
                        .map(|v| match v {
                            Val::I32(x) => i64::from(*x as u32),
                            Val::I64(x) => *x,
                            _ => 0,
                        })
                        .collect();
                    caller.data_mut().call = Some((index, args));
                    Err(wasmi::Error::host(HostHalt))
                },
            );
            // The names are distinct by construction; a failure here is a bug caught by every test.
            debug_assert!(defined.is_ok(), "linking {}", sig.name);
        }
        linker
    })
}

/// Runs `code` (an instrumented module) on `exec`.
pub fn run(code: &[u8], exec: &mut Exec<'_>) -> Result<(), Halt> {
    let engine = engine();
    let module = Module::new(engine, code)
        .map_err(|e| Halt::Trap(format!("stored module does not load: {e}")))?;
    let mut store = Store::new(engine, Pending::default());
    let instance = linker()
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| Halt::Trap(format!("instantiation failed: {e}")))?;
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or_else(|| Halt::Trap("contract has no exported memory".into()))?;
    let func = |name: &str| {
        instance
            .get_func(&store, name)
            .ok_or_else(|| Halt::Trap(format!("contract does not export {name}")))
    };
    let (init, entry, left) = (func(GAS_INIT_EXPORT)?, func(ENTRY)?, func(GAS_LEFT_EXPORT)?);
    init.call(&mut store, &[Val::I64(exec.gas_left as i64)], &mut [])
        .map_err(|e| Halt::Trap(e.to_string()))?;
    let mut call = entry
        .call_resumable(&mut store, &[], &mut [])
        .map_err(|e| Halt::Trap(e.to_string()))?;
    loop {
        match call {
            ResumableCall::Finished => break,
            ResumableCall::HostTrap(paused) => {
                let (index, args) =
                    store.data_mut().call.take().ok_or_else(|| {
                        Halt::Trap(format!("host error: {}", paused.host_error()))
                    })?;
                let mut mem = SliceMemory(memory.data_mut(&mut store));
                let result = call_host(exec, &mut mem, index, &args)?;
                let results: Vec<Val> =
                    match (result, host::import_sig(index).and_then(|s| s.result)) {
                        (Some(v), Some(Ty::I32)) => vec![Val::I32(v as i32)],
                        (Some(v), Some(Ty::I64)) => vec![Val::I64(v)],
                        _ => vec![],
                    };
                call = paused
                    .resume(&mut store, &results, &mut [])
                    .map_err(|e| Halt::Trap(e.to_string()))?;
            }
            ResumableCall::OutOfFuel(_) => return Err(Halt::Trap("fuel metering is off".into())),
        }
    }
    let mut out = [Val::I64(0)];
    left.call(&mut store, &[], &mut out)
        .map_err(|e| Halt::Trap(e.to_string()))?;
    match out[0] {
        Val::I64(g) => exec.gas_left = host::counter(g)?,
        _ => return Err(Halt::Trap(format!("{GAS_LEFT_EXPORT} is not i64"))),
    }
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
        let ty = FuncType::new(
            s.params.iter().map(|t| vt(*t)),
            s.result.iter().map(|t| vt(*t)),
        );
        linker
            .func_new(
                "env",
                s.name,
                ty,
                |mut caller: Caller<'_, Option<Halt>>, params: &[Val], _r: &mut [Val]| {
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
                },
            )
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
            let mut results: Vec<Val> = ty
                .results()
                .iter()
                .map(|t| Val::default_for_ty(*t))
                .collect();
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
        let left = match gas {
            Some(_) => {
                let left = instance
                    .get_typed_func::<(), i64>(&store, GAS_LEFT_EXPORT)
                    .map_err(|e| e.to_string())?;
                Some(left.call(&mut store, ()).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        out.push(CallResult::metered(result, left));
    }
    Ok(out)
}

/// Whether wasmi loads and instantiates the instrumented module (deploy refuses it otherwise).
pub fn load_check(code: &[u8]) -> Result<(), String> {
    let module = Module::new(engine(), code).map_err(|e| format!("wasmi does not load it: {e}"))?;
    let mut store = Store::new(engine(), Pending::default());
    linker()
        .instantiate_and_start(&mut store, &module)
        .map(|_| ())
        .map_err(|e| format!("wasmi does not instantiate it: {e}"))
}

//! The `wasm3` engine (the design card's choice, the default): a fast interpreter in C, reached
//! through the `wasm3` crate. It runs the same instrumented module as [`super::wasmi_engine`].
//!
//! This is the one module of the crate with unsafe code. wasm3's host closures must be `'static`,
//! and its call context hands out linear memory as a raw pointer, so:
//! - the execution state is passed to the closures as a raw pointer, set for the duration of one
//!   [`run`] and dereferenced only while that `run` holds the `&mut Exec` it came from;
//! - memory is turned into a slice only inside a host call, and dropped before the call returns
//!   (wasm3 may move memory when the contract grows it, which it cannot do during a host call).

#![allow(unsafe_code)]

use super::host::{self, call_host, Exec, Halt, SliceMemory, Ty};
use super::prepare::{ENTRY, GAS_INIT_EXPORT, GAS_LEFT_EXPORT};
use super::raw::{Call, CallResult, Val};
use std::cell::Cell;
use std::rc::Rc;
use wasm3::error::Trap;
use wasm3::{CallContext, Environment, Module, WasmArgs, WasmType};

/// wasm3's value stack, in bytes: eight times what the deterministic stack budget can use, so the
/// budget, not wasm3, decides when a deep recursion halts.
const STACK_BYTES: u32 = super::cost::STACK_LIMIT * 8 * 8;

/// The execution state a closure reaches: a type-erased `*mut Exec`, null outside a run.
type Slot = Rc<Cell<*mut ()>>;

fn with_exec<R>(slot: &Slot, f: impl FnOnce(&mut Exec<'_>) -> R) -> Option<R> {
    let p = slot.get() as *mut Exec<'static>;
    if p.is_null() {
        return None;
    }
    // SAFETY: the pointer was made from the `&mut Exec` that `run` holds for as long as the slot
    // is set, and nothing else touches that `Exec` while wasm3 runs the contract (host calls are
    // the only re-entry, and they come one at a time on this thread).
    let exec = unsafe { &mut *p };
    Some(f(exec))
}

fn host_call(
    slot: &Slot,
    cc: &CallContext<'_>,
    index: usize,
    args: &[i64],
) -> Result<Option<i64>, Trap> {
    let r = with_exec(slot, |exec| {
        // SAFETY: the memory pointer is valid for this host call: the contract cannot grow or
        // free its memory until the host call returns, and the slice is dropped before then.
        let mem = unsafe { &mut *cc.memory_mut() };
        let mut mem = SliceMemory(mem);
        match call_host(exec, &mut mem, index, args) {
            Ok(v) => Ok(v),
            Err(h) => {
                exec.halt = Some(h);
                Err(Trap::Abort)
            }
        }
    });
    r.unwrap_or(Err(Trap::Abort))
}

fn link<A, R>(
    module: &mut Module<'_>,
    name: &str,
    index: usize,
    slot: &Slot,
    args: fn(A) -> Vec<i64>,
    ret: fn(Option<i64>) -> R,
) -> Result<(), Halt>
where
    A: WasmArgs + 'static,
    R: WasmType + 'static,
{
    let slot = slot.clone();
    module
        .link_closure::<A, R, _>("env", name, move |cc: CallContext<'_>, a: A| {
            host_call(&slot, &cc, index, &args(a)).map(ret)
        })
        .map_err(|e| Halt::Fatal(format!("wasm3 linking env.{name}: {e}")))
}

fn u(x: i32) -> i64 {
    i64::from(x as u32)
}

fn none(_: Option<i64>) {}
fn ret_i32(v: Option<i64>) -> i32 {
    v.unwrap_or(0) as i32
}
fn ret_i64(v: Option<i64>) -> i64 {
    v.unwrap_or(0)
}

/// Links host function `index` with the closure of its signature.
fn link_index(module: &mut Module<'_>, index: usize, slot: &Slot) -> Result<(), Halt> {
    use Ty::{I32, I64};
    let sig =
        host::import_sig(index).ok_or_else(|| Halt::Fatal(format!("no host function {index}")))?;
    let n = sig.name;
    match (sig.params, sig.result) {
        ([], None) => link::<(), ()>(module, n, index, slot, |_| vec![], none),
        ([], Some(I32)) => link::<(), i32>(module, n, index, slot, |_| vec![], ret_i32),
        ([], Some(I64)) => link::<(), i64>(module, n, index, slot, |_| vec![], ret_i64),
        ([I32], None) => link::<i32, ()>(module, n, index, slot, |a| vec![u(a)], none),
        ([I64], None) => link::<i64, ()>(module, n, index, slot, |a| vec![a], none),
        ([I64, I32], None) => {
            link::<(i64, i32), ()>(module, n, index, slot, |(a, b)| vec![a, u(b)], none)
        }
        ([I32, I32], None) => {
            link::<(i32, i32), ()>(module, n, index, slot, |(a, b)| vec![u(a), u(b)], none)
        }
        ([I32, I32], Some(I32)) => {
            link::<(i32, i32), i32>(module, n, index, slot, |(a, b)| vec![u(a), u(b)], ret_i32)
        }
        ([I32, I32, I32], None) => link::<(i32, i32, i32), ()>(
            module,
            n,
            index,
            slot,
            |(a, b, c)| vec![u(a), u(b), u(c)],
            none,
        ),
        ([I32, I32, I32], Some(I32)) => link::<(i32, i32, i32), i32>(
            module,
            n,
            index,
            slot,
            |(a, b, c)| vec![u(a), u(b), u(c)],
            ret_i32,
        ),
        ([I32, I32, I32, I32], None) => link::<(i32, i32, i32, i32), ()>(
            module,
            n,
            index,
            slot,
            |(a, b, c, d)| vec![u(a), u(b), u(c), u(d)],
            none,
        ),
        ([I32, I32, I32, I32], Some(I32)) => link::<(i32, i32, i32, i32), i32>(
            module,
            n,
            index,
            slot,
            |(a, b, c, d)| vec![u(a), u(b), u(c), u(d)],
            ret_i32,
        ),
        ([I32, I32, I32, I64], Some(I32)) => link::<(i32, i32, i32, i64), i32>(
            module,
            n,
            index,
            slot,
            |(a, b, c, d)| vec![u(a), u(b), u(c), d],
            ret_i32,
        ),
        ([I32, I32, I32, I32, I64], Some(I32)) => link::<(i32, i32, i32, i32, i64), i32>(
            module,
            n,
            index,
            slot,
            |(a, b, c, d, e)| vec![u(a), u(b), u(c), u(d), e],
            ret_i32,
        ),
        ([I32, I32, I32, I32, I32], Some(I32)) => link::<(i32, i32, i32, i32, i32), i32>(
            module,
            n,
            index,
            slot,
            |(a, b, c, d, e)| vec![u(a), u(b), u(c), u(d), u(e)],
            ret_i32,
        ),
        ([I32, I32, I32, I32, I32, I64, I32], Some(I32)) => {
            link::<(i32, i32, i32, i32, i32, i64, i32), i32>(
                module,
                n,
                index,
                slot,
                |(a, b, c, d, e, f, g)| vec![u(a), u(b), u(c), u(d), u(e), f, u(g)],
                ret_i32,
            )
        }
        _ => Err(Halt::Fatal(format!(
            "no wasm3 binding for the signature of {n}"
        ))),
    }
}

/// The host function indices a module imports, in import order.
fn imported(code: &[u8]) -> Result<Vec<usize>, Halt> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        let payload =
            payload.map_err(|e| Halt::Trap(format!("stored module does not parse: {e}")))?;
        if let wasmparser::Payload::ImportSection(r) = payload {
            for imp in r {
                let imp = imp.map_err(|e| Halt::Trap(format!("stored module: {e}")))?;
                let idx = host::HOST_FUNCTIONS
                    .iter()
                    .chain(host::INJECTED_IMPORTS)
                    .position(|s| s.name == imp.name)
                    .ok_or_else(|| Halt::Trap(format!("stored module imports {}", imp.name)))?;
                out.push(idx);
            }
            break;
        }
    }
    Ok(out)
}

/// Runs `code` (an instrumented module) on `exec`.
pub fn run(code: &[u8], exec: &mut Exec<'_>) -> Result<(), Halt> {
    let imports = imported(code)?;
    let slot: Slot = Rc::new(Cell::new(std::ptr::null_mut()));
    let result = (|| {
        let env = Environment::new().map_err(|e| Halt::Fatal(format!("wasm3: {e}")))?;
        let rt = env
            .create_runtime(STACK_BYTES)
            .map_err(|e| Halt::Fatal(format!("wasm3 runtime: {e}")))?;
        let parsed = Module::parse(&env, code)
            .map_err(|e| Halt::Trap(format!("wasm3 does not load the module: {e}")))?;
        let mut module = rt
            .load_module(parsed)
            .map_err(|e| Halt::Trap(format!("wasm3 does not load the module: {e}")))?;
        for index in imports {
            link_index(&mut module, index, &slot)?;
        }
        let gas = exec.gas_left;
        slot.set(exec as *mut Exec<'_> as *mut ());
        let trap = |e: wasm3::error::Error, exec: &mut Exec<'_>| -> Halt {
            exec.halt
                .take()
                .unwrap_or_else(|| Halt::Trap(format!("wasm3: {e}")))
        };
        let init = module
            .find_function::<i64, ()>(GAS_INIT_EXPORT)
            .map_err(|e| Halt::Trap(format!("{GAS_INIT_EXPORT}: {e}")))?;
        let r = init.call(gas as i64);
        r.map_err(|e| with_exec(&slot, |x| trap(e, x)).unwrap_or(Halt::Fatal("lost exec".into())))?;
        let entry = module
            .find_function::<(), ()>(ENTRY)
            .map_err(|e| Halt::Trap(format!("{ENTRY}: {e}")))?;
        let r = entry.call();
        r.map_err(|e| with_exec(&slot, |x| trap(e, x)).unwrap_or(Halt::Fatal("lost exec".into())))?;
        let left = module
            .find_function::<(), i64>(GAS_LEFT_EXPORT)
            .map_err(|e| Halt::Trap(format!("{GAS_LEFT_EXPORT}: {e}")))?;
        let g = left.call().map_err(|e| Halt::Trap(format!("wasm3: {e}")))?;
        host::counter(g)
    })();
    slot.set(std::ptr::null_mut());
    exec.gas_left = result?;
    Ok(())
}

/// The Rust type of a WASM value type, for wasm3's typed calls.
macro_rules! rust_ty {
    (I32) => {
        i32
    };
    (I64) => {
        i64
    };
}

/// The next argument, which must be of WASM type `$t`.
macro_rules! next_arg {
    ($t:ident, $it:ident) => {
        match $it.next() {
            Some(Val::$t(x)) => *x,
            _ => return Err("unsupported: argument type".into()),
        }
    };
}

/// One match arm per result (none, `i32`, `i64`) for each listed parameter list: the export is
/// looked up with that signature and called with `args` converted to it.
macro_rules! typed_calls {
    ($m:ident, $name:ident, $sig:expr, $args:ident; $( [$($p:ident),*] ),* $(,)?) => {
        match $sig {
            $(
                ([$(Ty::$p),*], None) => {
                    let f = $m
                        .find_function::<($(rust_ty!($p),)*), ()>($name)
                        .map_err(|e| format!("unsupported: {e}"))?;
                    #[allow(unused_mut, unused_variables)]
                    let mut it = $args.iter();
                    f.call($(next_arg!($p, it)),*).map(|()| None).map_err(|e| e.to_string())
                }
                ([$(Ty::$p),*], Some(Ty::I32)) => {
                    let f = $m
                        .find_function::<($(rust_ty!($p),)*), i32>($name)
                        .map_err(|e| format!("unsupported: {e}"))?;
                    #[allow(unused_mut, unused_variables)]
                    let mut it = $args.iter();
                    f.call($(next_arg!($p, it)),*).map(|v| Some(Val::I32(v))).map_err(|e| e.to_string())
                }
                ([$(Ty::$p),*], Some(Ty::I64)) => {
                    let f = $m
                        .find_function::<($(rust_ty!($p),)*), i64>($name)
                        .map_err(|e| format!("unsupported: {e}"))?;
                    #[allow(unused_mut, unused_variables)]
                    let mut it = $args.iter();
                    f.call($(next_arg!($p, it)),*).map(|v| Some(Val::I64(v))).map_err(|e| e.to_string())
                }
            )*
            _ => Err("unsupported: signature".into()),
        }
    };
}

/// Calls export `name` of signature `params -> result` with wasm3's typed calls. `Err("unsupported…")`
/// for signatures beyond three integer parameters; any other `Err` is wasm3's trap.
fn call_dyn(
    m: &Module<'_>,
    name: &str,
    params: &[Ty],
    result: Option<Ty>,
    args: &[Val],
) -> Result<Option<Val>, String> {
    typed_calls!(m, name, (params, result), args;
        [],
        [I32], [I64],
        [I32, I32], [I32, I64], [I64, I32], [I64, I64],
        [I32, I32, I32], [I32, I32, I64], [I32, I64, I32], [I32, I64, I64],
        [I64, I32, I32], [I64, I32, I64], [I64, I64, I32], [I64, I64, I64],
    )
}

/// An integer signature: parameters and result.
type IntSig = (Vec<Ty>, Option<Ty>);

/// The integer signature of each exported function (None for a signature with other types).
fn export_sigs(code: &[u8]) -> Result<std::collections::HashMap<String, Option<IntSig>>, String> {
    use wasmparser::{ExternalKind, Payload, TypeRef, ValType};
    let mut types = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut out = std::collections::HashMap::new();
    let conv = |t: &ValType| match t {
        ValType::I32 => Some(Ty::I32),
        ValType::I64 => Some(Ty::I64),
        _ => None,
    };
    for p in wasmparser::Parser::new(0).parse_all(code) {
        match p.map_err(|e| e.to_string())? {
            Payload::TypeSection(r) => {
                for t in r.into_iter_err_on_gc_types() {
                    let t = t.map_err(|e| e.to_string())?;
                    let params: Option<Vec<Ty>> = t.params().iter().map(conv).collect();
                    let results: Option<Vec<Ty>> = t.results().iter().map(conv).collect();
                    types.push(match (params, results) {
                        (Some(p), Some(r)) if r.len() <= 1 => Some((p, r.first().copied())),
                        _ => None,
                    });
                }
            }
            Payload::ImportSection(r) => {
                for i in r {
                    if let TypeRef::Func(t) = i.map_err(|e| e.to_string())?.ty {
                        funcs.push(t);
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for f in r {
                    funcs.push(f.map_err(|e| e.to_string())?);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(|e| e.to_string())?;
                    if e.kind == ExternalKind::Func {
                        let sig = funcs
                            .get(e.index as usize)
                            .and_then(|t| types.get(*t as usize))
                            .cloned()
                            .flatten();
                        out.insert(e.name.to_string(), sig);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// See [`super::raw::session`].
pub fn raw_session(
    code: &[u8],
    gas: Option<u64>,
    calls: &[Call],
) -> Result<Vec<CallResult>, String> {
    let sigs = export_sigs(code)?;
    let env = Environment::new().map_err(|e| e.to_string())?;
    let rt = env.create_runtime(STACK_BYTES).map_err(|e| e.to_string())?;
    let mut module = rt
        .load_module(Module::parse(&env, code).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let halt: Rc<Cell<i32>> = Rc::new(Cell::new(0));
    for imp in imported(code).map_err(|e| e.to_string())? {
        let name = host::import_sig(imp).map(|s| s.name).unwrap_or_default();
        let h = halt.clone();
        let r = match imp {
            host::HALT => module.link_closure::<i32, (), _>(
                "env",
                name,
                move |_cc: CallContext<'_>, code: i32| {
                    h.set(code);
                    Err(Trap::Abort)
                },
            ),
            host::GAS_IN => {
                module
                    .link_closure::<i64, (), _>("env", name, |_cc: CallContext<'_>, _g: i64| Ok(()))
            }
            host::GAS_OUT => {
                module.link_closure::<(), i64, _>("env", name, |_cc: CallContext<'_>, ()| Ok(0))
            }
            _ => return Err(format!("unsupported: imports {name}")),
        };
        r.map_err(|e| e.to_string())?;
    }
    if let Some(g) = gas {
        module
            .find_function::<i64, ()>(GAS_INIT_EXPORT)
            .and_then(|f| f.call(g as i64))
            .map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    for c in calls {
        halt.set(0);
        let result = match sigs.get(&c.func) {
            None => Err("unsupported: no such export".to_string()),
            Some(None) => Err("unsupported: signature".to_string()),
            Some(Some((params, result))) => call_dyn(&module, &c.func, params, *result, &c.args)
                .map(|v| v.into_iter().collect())
                .map_err(|e| {
                    if e.starts_with("unsupported") {
                        e
                    } else {
                        match halt.get() {
                            host::HALT_OUT_OF_GAS => "out of gas".to_string(),
                            host::HALT_STACK => "stack limit".to_string(),
                            _ => "trap".to_string(),
                        }
                    }
                }),
        };
        let left = match gas {
            Some(_) => Some(
                module
                    .find_function::<(), i64>(GAS_LEFT_EXPORT)
                    .and_then(|f| f.call())
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        out.push(CallResult::metered(result, left));
    }
    Ok(out)
}

/// wasm3 compiles functions lazily and lacks some operation variants (for example certain operand
/// placements of an instruction): a function it cannot compile would trap on wasm3 and run on
/// wasmi. Deploy therefore compiles every function of the instrumented module on wasm3 once, and
/// refuses the module if one does not compile.
pub fn compile_check(code: &[u8]) -> Result<(), String> {
    use std::ffi::{c_void, CStr, CString};
    use wasm3::wasm3_sys as ffi;
    extern "C" {
        fn Compile_Function(io_function: ffi::IM3Function) -> ffi::M3Result;
    }
    unsafe extern "C" fn refuse(
        _rt: ffi::IM3Runtime,
        _sp: *mut u64,
        _mem: *mut c_void,
    ) -> *const c_void {
        // SAFETY: a static error string of wasm3's; never called (nothing runs here).
        unsafe { ffi::m3Err_trapAbort as *const c_void }
    }
    fn text(r: ffi::M3Result) -> String {
        // SAFETY: wasm3's results are static NUL-terminated strings.
        unsafe { CStr::from_ptr(r) }.to_string_lossy().into_owned()
    }
    let imports = imported(code).map_err(|e| e.to_string())?;
    let bytes = code.to_vec();
    let len = u32::try_from(bytes.len()).map_err(|_| "module too large".to_string())?;
    // SAFETY: the environment, runtime and module are created, used and freed here; the module
    // refers to `bytes`, which outlives them; function pointers come from the module's own array
    // of `numFunctions` entries.
    unsafe {
        let env = ffi::m3_NewEnvironment();
        if env.is_null() {
            return Err("wasm3: out of memory".into());
        }
        let rt = ffi::m3_NewRuntime(env, 64 * 1024, std::ptr::null_mut());
        if rt.is_null() {
            ffi::m3_FreeEnvironment(env);
            return Err("wasm3: out of memory".into());
        }
        let done = |e: Result<(), String>| {
            ffi::m3_FreeRuntime(rt);
            ffi::m3_FreeEnvironment(env);
            e
        };
        let mut module: ffi::IM3Module = std::ptr::null_mut();
        let r = ffi::m3_ParseModule(env, &mut module, bytes.as_ptr(), len);
        if !r.is_null() {
            return done(Err(format!("wasm3 does not parse it: {}", text(r))));
        }
        let r = ffi::m3_LoadModule(rt, module);
        if !r.is_null() {
            ffi::m3_FreeModule(module);
            return done(Err(format!("wasm3 does not load it: {}", text(r))));
        }
        for index in imports {
            let Some(sig) = host::import_sig(index) else {
                continue;
            };
            let letter = |t: &Ty| match t {
                Ty::I32 => 'i',
                Ty::I64 => 'I',
            };
            let s: String = std::iter::once(sig.result.as_ref().map_or('v', letter))
                .chain(std::iter::once('('))
                .chain(sig.params.iter().map(letter))
                .chain(std::iter::once(')'))
                .collect();
            let (Ok(m), Ok(n), Ok(s)) =
                (CString::new("env"), CString::new(sig.name), CString::new(s))
            else {
                continue;
            };
            let r =
                ffi::m3_LinkRawFunction(module, m.as_ptr(), n.as_ptr(), s.as_ptr(), Some(refuse));
            if !r.is_null() {
                return done(Err(format!(
                    "wasm3 does not link {}: {}",
                    sig.name,
                    text(r)
                )));
            }
        }
        let m = &*module;
        for i in 0..m.numFunctions as usize {
            let f = m.functions.add(i);
            if (*f).import.moduleUtf8.is_null() && (*f).compiled.is_null() {
                let r = Compile_Function(f);
                if !r.is_null() {
                    return done(Err(format!(
                        "wasm3 cannot compile function {i}: {}",
                        text(r)
                    )));
                }
            }
        }
        done(Ok(()))
    }
}

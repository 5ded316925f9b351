//! WASM execution speed (not part of the test suite): one CPU-heavy loop (an LCG step and an
//! xorshift per iteration on a 64-bit word) run the same run five ways:
//! 1. our metered wasm3: the module instrumented as deploy does, gas counted in the code;
//! 2. our metered wasmi: the same instrumented module;
//! 3. wasmi with its own fuel metering on the plain module (the baseline of the goal);
//! 4. wasm3 and wasmi unmetered (for the metering's cost);
//! 5. the same loop in Solidity (`integration/tests/contracts/HashLoop.sol`, solc-js) on revm.
//!
//! ```sh
//! scripts/bench-wasm.sh            # 2,000,000 iterations
//! scripts/bench-wasm.sh 500000
//! ```
//! Results must agree; each figure is the fastest of five runs, and the table shows time (of the call
//! alone: the instantiation is subtracted), ns per iteration and per WASM instruction, gas and
//! Mgas/s, and each row's speed relative to wasmi's fuel metering.

use alloy_primitives::{Address, Bytes, U256};
use platon_vm::wasm::prepare::instrument_module;
use platon_vm::wasm::raw::{session, Call, Val};
use platon_vm::wasm::WasmEngine;
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::TxKind;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};
use std::time::Instant;

const LOOP: &str = r#"
(module
  (func (export "run") (param $n i64) (result i64)
    (local $x i64) (local $i i64)
    i64.const 1
    local.set $x
    block $done
      loop $next
        local.get $i
        local.get $n
        i64.ge_u
        br_if $done
        local.get $x
        i64.const 6364136223846793005
        i64.mul
        i64.const 1442695040888963407
        i64.add
        local.tee $x
        local.get $x
        i64.const 29
        i64.shr_u
        i64.xor
        local.set $x
        local.get $i
        i64.const 1
        i64.add
        local.set $i
        br $next
      end
    end
    local.get $x))
"#;

/// WASM instructions the loop body executes per iteration (from `local.get $i` to `br $next`).
const INSTRUCTIONS_PER_ITERATION: u64 = 19;

fn reference(n: u64) -> u64 {
    let mut x: u64 = 1;
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x ^= x >> 29;
    }
    x
}

struct Row {
    name: &'static str,
    secs: f64,
    gas: Option<u64>,
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

/// Runs of each measurement; the fastest counts.
const RUNS: usize = 5;

fn best<T>(mut f: impl FnMut() -> (T, f64)) -> (T, f64) {
    let (mut out, mut secs) = f();
    for _ in 1..RUNS {
        let (o, s) = f();
        if s < secs {
            (out, secs) = (o, s);
        }
    }
    (out, secs)
}

/// One session calling `run(n)`: the result, the gas used and the seconds of the call alone (the
/// fastest session's time less the fastest time of a session calling `run(0)`, which is the
/// instantiation and compilation that the fuel baseline's timing leaves out too).
fn ours(engine: WasmEngine, code: &[u8], gas: Option<u64>, n: u64) -> (u64, Option<u64>, f64) {
    let session_of = |n: u64| {
        let calls = [Call {
            func: "run".into(),
            args: vec![Val::I64(n as i64)],
        }];
        time(|| session(engine, code, gas, &calls).expect("instantiate"))
    };
    let (_, setup) = best(|| session_of(0));
    let (r, secs) = best(|| session_of(n));
    let r = &r[0];
    let x = match r.result.as_deref() {
        Ok([Val::I64(x)]) => *x as u64,
        other => panic!("{engine:?}: {other:?}"),
    };
    (
        x,
        gas.zip(r.gas_left).map(|(g, l)| g - l),
        (secs - setup).max(0.0),
    )
}

fn wasmi_fuel(module: &[u8], n: u64) -> (u64, u64, f64) {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    let engine = wasmi::Engine::new(&config);
    let m = wasmi::Module::new(&engine, module).expect("module");
    let mut store = wasmi::Store::new(&engine, ());
    store.set_fuel(u64::MAX / 2).expect("fuel");
    let linker = wasmi::Linker::<()>::new(&engine);
    let instance = linker
        .instantiate_and_start(&mut store, &m)
        .expect("instance");
    let run = instance
        .get_typed_func::<i64, i64>(&store, "run")
        .expect("run");
    let (x, secs) = best(|| {
        store.set_fuel(u64::MAX / 2).expect("fuel");
        time(|| run.call(&mut store, n as i64).expect("call"))
    });
    let fuel = u64::MAX / 2 - store.get_fuel().expect("fuel");
    (x as u64, fuel, secs)
}

fn solidity(n: u64) -> (u64, u64, f64) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../integration/tests/js/compile.mjs"
    );
    let out = std::process::Command::new("node")
        .arg(script)
        .output()
        .expect("node (run `npm ci --prefix integration/tests/js`)");
    assert!(
        out.status.success(),
        "compile.mjs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let code = hex::decode(
        v["HashLoop"]["bytecode"]
            .as_str()
            .expect("bytecode")
            .trim_start_matches("0x"),
    )
    .expect("hex");
    let sender = Address::repeat_byte(0x11);
    let mut db = CacheDB::new(EmptyDB::default());
    db.insert_account_info(
        sender,
        revm::state::AccountInfo {
            balance: U256::from(10u64).pow(U256::from(24u64)),
            ..Default::default()
        },
    );
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|c| {
            c.disable_base_fee = true;
            c.tx_gas_limit_cap = Some(u64::MAX);
        })
        .modify_block_chained(|b| b.gas_limit = u64::MAX)
        .build_mainnet();
    let deploy = evm
        .transact_commit(TxEnv {
            caller: sender,
            kind: TxKind::Create,
            data: Bytes::from(code),
            gas_limit: 5_000_000,
            nonce: 0,
            ..Default::default()
        })
        .expect("deploy");
    let addr = sender.create(0);
    assert!(deploy.is_success(), "{deploy:?}");
    let mut data = alloy_primitives::keccak256("run(uint64)")[..4].to_vec();
    data.extend_from_slice(&U256::from(n).to_be_bytes::<32>());
    let (r, secs) = time(|| {
        evm.transact_commit(TxEnv {
            caller: sender,
            kind: TxKind::Call(addr),
            data: Bytes::from(data),
            gas_limit: 1u64 << 40,
            nonce: 1,
            ..Default::default()
        })
        .expect("call")
    });
    let out = r.output().expect("output");
    let x = U256::from_be_slice(out).to::<u64>();
    (x, r.tx_gas_used(), secs)
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let module = wat::parse_str(LOOP).expect("wat");
    let metered = instrument_module(&module).expect("instrument");
    let want = reference(n);
    let gas = Some(u64::MAX / 4);
    let mut rows = Vec::new();
    for (name, engine, code, g) in [
        ("wasm3, metered (ours)", WasmEngine::Wasm3, &metered, gas),
        ("wasmi, metered (ours)", WasmEngine::Wasmi, &metered, gas),
        ("wasm3, unmetered", WasmEngine::Wasm3, &module, None),
        ("wasmi, unmetered", WasmEngine::Wasmi, &module, None),
    ] {
        let (x, used, secs) = ours(engine, code, g, n);
        assert_eq!(x, want, "{name}");
        rows.push(Row {
            name,
            secs,
            gas: used,
        });
    }
    let (x, fuel, secs) = wasmi_fuel(&module, n);
    assert_eq!(x, want, "wasmi fuel");
    rows.push(Row {
        name: "wasmi, own fuel metering",
        secs,
        gas: Some(fuel),
    });
    let (x, gas_used, secs) = solidity(n);
    assert_eq!(x, want, "solidity");
    rows.push(Row {
        name: "Solidity on revm",
        secs,
        gas: Some(gas_used),
    });
    let base = rows[4].secs;
    println!("{n} iterations, {INSTRUCTIONS_PER_ITERATION} WASM instructions each");
    println!(
        "| run | time (ms) | ns/iteration | ns/WASM instruction | gas (fuel) | Mgas/s | speed vs wasmi fuel |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        let ns_iter = r.secs * 1e9 / n as f64;
        let (gas, mgas) = match r.gas {
            Some(g) => (g.to_string(), format!("{:.0}", g as f64 / r.secs / 1e6)),
            None => ("-".into(), "-".into()),
        };
        let per_instr = if r.name.starts_with("Solidity") {
            "-".to_string()
        } else {
            format!("{:.2}", ns_iter / INSTRUCTIONS_PER_ITERATION as f64)
        };
        println!(
            "| {} | {:.1} | {:.2} | {} | {} | {} | {:.2}× |",
            r.name,
            r.secs * 1e3,
            ns_iter,
            per_instr,
            gas,
            mgas,
            base / r.secs
        );
    }
}

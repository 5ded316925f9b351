//! Multi-call simulation: `eth_simulateV1` (blocks of calls on top of a block, with state and
//! block overrides, ETH transfers traced as logs, and a validation mode) and
//! `eth_createAccessList` (the access list a call would touch, as geth computes it).
//! Both run on the blocking pool; nothing they do reaches the chain's state.

use super::evm::{
    apply_block_overrides, apply_state_overrides, blocking, call_env, call_message, default_gas,
    exec_err, halt_message,
};
use super::json::*;
use super::methods::{arg, parse_call, storage_err, CallObject, RpcCtx, R};
use alloy_primitives::{Address, Bytes, B256};
use jsonrpsee::types::ErrorObjectOwned;
use platon_messages::actors::BlockEnv;
use platon_messages::{Header, Receipt};
use platon_storage::StateDb;
use platon_vm::{BlockHashes, Outcome, Runtime as _, Status, TxReject};
use serde_json::{json, Value};

/// Most blocks one `eth_simulateV1` request may span, gaps included (geth's bound).
pub const MAX_SIMULATE_BLOCKS: u64 = 256;
/// Most calls one `eth_simulateV1` request may hold, over all its blocks.
pub const MAX_SIMULATE_CALLS: usize = 1_000;
/// Seconds between simulated blocks whose time is not given (geth's default).
const BLOCK_TIME: u64 = 12;
/// Most rounds of `eth_createAccessList` before it gives up on a list that keeps changing.
const ACCESS_LIST_ROUNDS: usize = 16;

/// The error of a call that could not be a transaction, with the spec's codes.
fn reject_code(e: &TxReject, from: &Address) -> ErrorObjectOwned {
    match e {
        TxReject::Nonce { account, tx } if tx < account => rpc_err(
            -38010,
            format!("nonce too low: address {from}, tx: {tx} state: {account}"),
        ),
        TxReject::Nonce { account, tx } => rpc_err(
            -38011,
            format!("nonce too high: address {from}, tx: {tx} state: {account}"),
        ),
        TxReject::FeeCapBelowBaseFee => rpc_err(
            -38012,
            format!("max fee per gas less than block base fee: address {from}"),
        ),
        TxReject::IntrinsicGas { gas_limit, intrinsic } => rpc_err(
            -38013,
            format!("intrinsic gas too low: have {gas_limit}, want {intrinsic}"),
        ),
        TxReject::InsufficientFunds { balance, cost } => rpc_err(
            -38014,
            format!("insufficient funds for gas * price + value: address {from} have {balance} want {cost}"),
        ),
        TxReject::BlockGasExhausted { gas, remaining } => rpc_err(
            -38015,
            format!("block gas limit reached: gas {gas} exceeds the {remaining} left"),
        ),
        other => rpc_err(-32000, other.to_string()),
    }
}

/// Block hashes of the canonical chain below the simulation's base, then of the simulated blocks.
struct SimHashes<'a> {
    chain: &'a dyn BlockHashes,
    base: u64,
    simulated: Vec<(u64, B256)>,
}

impl BlockHashes for SimHashes<'_> {
    fn block_hash(&self, number: u64) -> Result<Option<B256>, platon_storage::StorageError> {
        if number <= self.base {
            return self.chain.block_hash(number);
        }
        Ok(self
            .simulated
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, h)| *h))
    }
}

fn flag(o: &serde_json::Map<String, Value>, k: &str) -> Result<bool, ErrorObjectOwned> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(invalid_params(format!("{k}: a boolean expected"))),
    }
}

/// `eth_simulateV1([{blockStateCalls, traceTransfers?, validation?, returnFullTransactions?}, block])`.
pub async fn simulate(c: &RpcCtx, a: &[Value]) -> R {
    let a = a.to_vec();
    blocking(c, move |c| simulate_blocking(c, &a)).await
}

/// One planned block: its environment and the entry (overrides and calls) it runs, if any.
struct Planned<'a> {
    env: BlockEnv,
    entry: Option<&'a serde_json::Map<String, Value>>,
}

fn simulate_blocking(c: &RpcCtx, a: &[Value]) -> R {
    let payload = arg(a, 0, "simulation payload")?
        .as_object()
        .ok_or_else(|| invalid_params("simulation payload: object expected"))?;
    for k in payload.keys() {
        if ![
            "blockStateCalls",
            "traceTransfers",
            "validation",
            "returnFullTransactions",
        ]
        .contains(&k.as_str())
        {
            return Err(invalid_params(format!(
                "simulation payload: unknown field {k:?}"
            )));
        }
    }
    let entries = payload
        .get("blockStateCalls")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_params("blockStateCalls: array expected"))?;
    let trace_transfers = flag(payload, "traceTransfers")?;
    let validation = flag(payload, "validation")?;
    let full_txs = flag(payload, "returnFullTransactions")?;
    let base = c.header_or_err(parse_block_id(a.get(1))?)?;

    // Plan the blocks: numbers and times must grow; gaps are filled with empty blocks.
    let mut plan: Vec<Planned<'_>> = Vec::new();
    let mut calls_total = 0usize;
    // Each block follows the one before (at first the base): one number and BLOCK_TIME seconds
    // later, with its gas limit and fee recipient unless overridden (as geth builds simulated
    // headers), and no prevRandao.
    let mut prev = call_env(c, &base);
    let after = |p: &BlockEnv| BlockEnv {
        number: p.number.saturating_add(1),
        timestamp: p.timestamp.saturating_add(BLOCK_TIME),
        prev_randao: B256::ZERO,
        ..p.clone()
    };
    for e in entries {
        let entry = e
            .as_object()
            .ok_or_else(|| invalid_params("blockStateCalls: objects expected"))?;
        for k in entry.keys() {
            if !["blockOverrides", "stateOverrides", "calls"].contains(&k.as_str()) {
                return Err(invalid_params(format!(
                    "blockStateCalls: unknown field {k:?}"
                )));
            }
        }
        calls_total = calls_total.saturating_add(
            entry
                .get("calls")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
        );
        let overrides = entry.get("blockOverrides").cloned().unwrap_or(Value::Null);
        if let Some(o) = overrides.as_object() {
            if o.contains_key("withdrawals") || o.contains_key("blobBaseFee") {
                return Err(invalid_params(
                    "blockOverrides: withdrawals and blobBaseFee need forks this chain does not run",
                ));
            }
        }
        let number = match overrides.get("number") {
            Some(n) if !n.is_null() => parse_u64(n, "blockOverrides.number")?,
            _ => prev.number.saturating_add(1),
        };
        if number <= prev.number {
            return Err(rpc_err(
                -38020,
                format!(
                    "block numbers must be in order: {number} <= {}",
                    prev.number
                ),
            ));
        }
        if number.saturating_sub(base.number) > MAX_SIMULATE_BLOCKS {
            return Err(rpc_err(
                -38026,
                format!("too many blocks: at most {MAX_SIMULATE_BLOCKS}"),
            ));
        }
        while prev.number.saturating_add(1) < number {
            prev = after(&prev);
            plan.push(Planned {
                env: prev.clone(),
                entry: None,
            });
        }
        let mut env = after(&prev);
        apply_block_overrides(&mut env, &overrides)?;
        if env.timestamp <= prev.timestamp {
            return Err(rpc_err(
                -38021,
                format!(
                    "block timestamps must be in order: {} <= {}",
                    env.timestamp, prev.timestamp
                ),
            ));
        }
        prev = env.clone();
        plan.push(Planned {
            env,
            entry: Some(entry),
        });
    }
    if calls_total > MAX_SIMULATE_CALLS {
        return Err(invalid_params(format!(
            "too many calls: at most {MAX_SIMULATE_CALLS} per request"
        )));
    }

    let mut sim = Sim {
        state: c.node.store.state_of(&base),
        // As geth: all the calls together get at most the RPC gas cap.
        budget: c.node.config.evm.rpc_gas_cap,
        deadline: super::evm::request_deadline(c),
        hashes: SimHashes {
            chain: &c.node.store,
            base: base.number,
            simulated: Vec::new(),
        },
    };
    let mut parent = base.clone();
    let mut out = Vec::with_capacity(plan.len());
    for p in plan {
        let mut env = p.env;
        let overrides = p.entry.and_then(|e| e.get("blockOverrides"));
        let base_fee_given = overrides.is_some_and(|o| o.get("baseFeePerGas").is_some());
        if !base_fee_given {
            // As geth: the real base fee under validation, none otherwise.
            env.base_fee = if validation {
                platon_vm::next_base_fee(&parent)
            } else {
                0
            };
        }
        let mut moved = None;
        if let Some(o) = p.entry.and_then(|e| e.get("stateOverrides")) {
            let (rest, moves) = take_moves(o)?;
            if !moves.is_empty() {
                moved = Some(platon_vm::tracing::move_precompiles(moves).map_err(|a| {
                    rpc_err(SERVER_ERROR, format!("account {a} is not a precompile"))
                })?);
            }
            apply_state_overrides(&mut sim.state, &rest)?;
        }
        let calls: &[Value] = p
            .entry
            .and_then(|e| e.get("calls"))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let block = simulate_block(
            c,
            &mut sim,
            &parent,
            &env,
            calls,
            &CallRules {
                trace_transfers,
                validation,
                full_txs,
                moved,
            },
        )?;
        sim.hashes.simulated.push((block.header.number, block.hash));
        parent = block.header.clone();
        out.push(block.json);
    }
    Ok(Value::Array(out))
}

/// What a simulation carries from call to call and block to block.
struct Sim<'a> {
    state: StateDb,
    hashes: SimHashes<'a>,
    /// Gas the remaining calls may still use.
    budget: u64,
    /// When the whole simulation must be done (`evm.rpc_timeout_ms`).
    deadline: std::time::Instant,
}

/// A simulated block: its header, its hash and its answer.
struct SimBlock {
    header: Header,
    hash: B256,
    json: Value,
}

/// How a simulated block's calls run.
struct CallRules {
    trace_transfers: bool,
    validation: bool,
    full_txs: bool,
    /// Precompiles this block's overrides moved.
    moved: Option<std::sync::Arc<platon_vm::tracing::MovedPrecompiles>>,
}

/// Takes the `movePrecompileToAddress` entries out of a block's state overrides: the overrides
/// without them, and the moves.
fn take_moves(o: &Value) -> Result<(Value, Vec<(Address, Address)>), ErrorObjectOwned> {
    let Some(map) = o.as_object() else {
        return Ok((o.clone(), vec![]));
    };
    let mut rest = map.clone();
    let mut moves = Vec::new();
    for (k, v) in map {
        if let Some(to) = v.get("movePrecompileToAddress") {
            let from = parse_address(&Value::String(k.clone()), "state override address")?;
            moves.push((from, parse_address(to, "movePrecompileToAddress")?));
            if let Some(Value::Object(entry)) = rest.get_mut(k) {
                entry.remove("movePrecompileToAddress");
            }
        }
    }
    Ok((Value::Object(rest), moves))
}

fn simulate_block(
    c: &RpcCtx,
    sim: &mut Sim<'_>,
    parent: &Header,
    env: &BlockEnv,
    calls: &[Value],
    rules: &CallRules,
) -> Result<SimBlock, ErrorObjectOwned> {
    let Sim {
        state,
        hashes,
        budget,
        deadline,
    } = sim;
    let CallRules {
        trace_transfers,
        validation,
        full_txs,
        ..
    } = *rules;
    let mut gas_used: u64 = 0;
    let mut outcomes = Vec::with_capacity(calls.len());
    let mut txs = Vec::with_capacity(calls.len());
    let mut receipts: Vec<Receipt> = Vec::with_capacity(calls.len());
    for (i, v) in calls.iter().enumerate() {
        let mut call = parse_call(v)?;
        let from = *call.from.get_or_insert(Address::ZERO);
        let left = env.gas_limit.saturating_sub(gas_used);
        let gas = match call.gas {
            Some(g) if g > left => {
                return Err(rpc_err(
                    -38015,
                    format!("block gas limit reached: call {i} asks for {g}, {left} left"),
                ))
            }
            Some(g) if g > *budget => {
                return Err(rpc_err(
                    SERVER_ERROR,
                    format!(
                    "call {i} asks for {g} gas; the simulation has {} of its evm.rpc_gas_cap left",
                    *budget
                ),
                ))
            }
            Some(g) => g,
            None => left.min(*budget),
        };
        let account_nonce = state.account(&from).map_err(storage_err)?.nonce;
        if call.nonce.is_none() {
            call.nonce = Some(account_nonce);
        }
        let (mut msg, mut opts) = call_message(c, &call, gas, *deadline)?;
        msg.nonce = call.nonce;
        opts.check_nonce = validation;
        opts.check_base_fee = validation;
        if !validation && call.nonce != Some(account_nonce) {
            // Without validation any nonce runs; the account's nonce still advances by one.
            msg.nonce = Some(account_nonce);
        }
        let outcome = if trace_transfers || rules.moved.is_some() {
            // On revm directly: the transfer tracer and the moved precompiles are revm's.
            platon_vm::tracing::simulate_call(
                state,
                &*hashes,
                env,
                &msg,
                opts,
                rules.moved.clone(),
                trace_transfers,
            )
        } else {
            c.node.runtime().transact(state, &*hashes, env, &msg, opts)
        }
        .map_err(|e| exec_err(c, e))?
        .map_err(|e| reject_code(&e, &from))?;
        gas_used = gas_used.saturating_add(outcome.gas_used);
        *budget = budget.saturating_sub(outcome.gas_used);
        let body = super::methods::body_of(c, &call, gas, call.nonce.unwrap_or(account_nonce))?;
        let tx = unsigned_tx(body, from);
        let mut receipt = platon_vm::receipt_for(&tx, env, outcome.clone());
        receipt.cumulative_gas_used = gas_used;
        receipts.push(receipt);
        outcomes.push(outcome);
        txs.push(tx);
    }
    // The staking writes' running hash goes into the root, as a real block's would (the writes stay in
    // the overlay, for the next simulated block to read).
    let mut sealed = state.clone();
    platon_vm::ppos::staking::seal_snapshot(&mut sealed).map_err(storage_err)?;
    let (state_root, _) = sealed.commit().map_err(storage_err)?;
    let header = platon_vm::seal(parent, env, state_root, &txs, &receipts, Bytes::new());
    let hash = header.hash();
    let mut json = header_json(&header, Some(header.encode().len()));
    let mut log_index = 0usize;
    let mut call_json = Vec::with_capacity(outcomes.len());
    for (i, ((o, r), tx)) in outcomes.iter().zip(&receipts).zip(&txs).enumerate() {
        let logs: Vec<Value> = r
            .logs
            .iter()
            .map(|l| {
                let v = super::evm::log_json(l, &header, hash, tx.hash, i, log_index);
                log_index += 1;
                v
            })
            .collect();
        call_json.push(call_result_json(o, logs));
    }
    json["calls"] = Value::Array(call_json);
    json["transactions"] = Value::Array(
        txs.iter()
            .enumerate()
            .map(|(i, tx)| {
                if full_txs {
                    tx_json(tx, Some(TxPosition::in_block(&header, hash, i)))
                } else {
                    json!(tx.hash)
                }
            })
            .collect(),
    );
    json["uncles"] = json!([]);
    Ok(SimBlock { header, hash, json })
}

/// One call's answer: return data, logs, gas, status and, when it failed, the error.
fn call_result_json(o: &Outcome, logs: Vec<Value>) -> Value {
    // As geth: a failed call's data is in its error, not its return data.
    let ret = if o.success() {
        o.output.clone()
    } else {
        Bytes::new()
    };
    let mut v = json!({
        "returnData": ret,
        "logs": logs,
        "gasUsed": qty(o.gas_used),
        "maxUsedGas": qty(o.gas_used.saturating_add(o.gas_refunded)),
        "status": qty(u8::from(o.success())),
    });
    match &o.status {
        Status::Success => {}
        Status::Revert => {
            let msg = match platon_vm::tracing::revert_reason(&o.output) {
                Some(r) => format!("execution reverted: {r}"),
                None => "execution reverted".to_string(),
            };
            v["error"] =
                json!({ "code": super::evm::REVERT_CODE, "message": msg, "data": o.output });
        }
        Status::Halt(reason) => {
            v["error"] = json!({ "code": -32015, "message": halt_message(reason) });
        }
    }
    v
}

/// `eth_createAccessList(call, block?)`: runs the call, gathers what it touched as an access list
/// (leaving out the sender, the recipient and the precompiles unless their storage is read), and
/// runs again with that list until the list stops changing, as geth does.
pub async fn create_access_list(c: &RpcCtx, a: &[Value]) -> R {
    let a = a.to_vec();
    blocking(c, move |c| {
        let deadline = super::evm::request_deadline(c);
        let call = parse_call(arg(&a, 0, "transaction")?)?;
        let header = c.header_or_err(parse_block_id(a.get(1))?)?;
        let state = c.node.store.state_of(&header);
        let env = call_env(c, &header);
        let gas = default_gas(c, &call, &env);
        let from = call.from.unwrap_or_default();
        let nonce = match call.nonce {
            Some(n) => n,
            None => state.account(&from).map_err(storage_err)?.nonce,
        };
        let target = match call.to {
            Some(to) => to,
            None => from.create(nonce),
        };
        let excluded =
            |a: &Address| *a == from || *a == target || platon_vm::tracing::is_precompile(a);
        let mut list = call.access_list.clone();
        for _ in 0..ACCESS_LIST_ROUNDS {
            let with_list = CallObject {
                access_list: list.clone(),
                ..call.clone()
            };
            let (msg, opts) = call_message(c, &with_list, gas, deadline)?;
            let mut scratch = state.clone();
            let (out, touched) =
                match platon_vm::tracing::touched(&mut scratch, &c.node.store, &env, &msg, opts)
                    .map_err(|e| exec_err(c, e))?
                {
                    Ok(r) => r,
                    Err(e) => {
                        return Err(rpc_err(
                            SERVER_ERROR,
                            format!("failed to apply transaction: {e}"),
                        ))
                    }
                };
            let mut next: std::collections::BTreeMap<Address, std::collections::BTreeSet<B256>> =
                Default::default();
            for a in touched.named.iter().filter(|a| !excluded(a)) {
                next.entry(*a).or_default();
            }
            for (a, slots) in &touched.slots {
                next.entry(*a).or_default().extend(slots.iter().copied());
            }
            let next: Vec<platon_messages::AccessListItem> = next
                .into_iter()
                .map(|(address, keys)| platon_messages::AccessListItem {
                    address,
                    storage_keys: keys.into_iter().collect(),
                })
                .collect();
            if next == list {
                let mut v = json!({ "accessList": list, "gasUsed": qty(out.gas_used) });
                if !out.success() {
                    v["error"] = json!(match &out.status {
                        Status::Halt(r) => halt_message(r),
                        _ => "execution reverted".to_string(),
                    });
                }
                return Ok(v);
            }
            list = next;
        }
        Err(rpc_err(
            SERVER_ERROR,
            "the access list did not settle: each run touched different state",
        ))
    })
    .await
}

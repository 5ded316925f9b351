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
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, U256};
use jsonrpsee::types::ErrorObjectOwned;
use platon_messages::actors::BlockEnv;
use platon_messages::{Header, Log, Receipt};
use platon_storage::trie::ordered_root;
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
    let (mut prev_number, mut prev_time) = (base.number, base.timestamp);
    // A block's gas limit and fee recipient are its parent's unless overridden (as geth builds
    // simulated headers).
    let mut prev_gas_limit = base.gas_limit;
    let mut prev_beneficiary = base.beneficiary;
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
        let mut env = call_env(c, &base);
        env.gas_limit = prev_gas_limit;
        env.beneficiary = prev_beneficiary;
        env.number = prev_number.saturating_add(1);
        env.timestamp = prev_time.saturating_add(BLOCK_TIME);
        env.prev_randao = B256::ZERO;
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
            _ => env.number,
        };
        if number <= prev_number {
            return Err(rpc_err(
                -38020,
                format!("block numbers must be in order: {number} <= {prev_number}"),
            ));
        }
        if number.saturating_sub(base.number) > MAX_SIMULATE_BLOCKS {
            return Err(rpc_err(
                -38026,
                format!("too many blocks: at most {MAX_SIMULATE_BLOCKS}"),
            ));
        }
        for gap in prev_number.saturating_add(1)..number {
            let mut g = call_env(c, &base);
            g.gas_limit = prev_gas_limit;
            g.beneficiary = prev_beneficiary;
            g.number = gap;
            prev_time = prev_time.saturating_add(BLOCK_TIME);
            g.timestamp = prev_time;
            g.prev_randao = B256::ZERO;
            plan.push(Planned {
                env: g,
                entry: None,
            });
        }
        env.number = number;
        env.timestamp = prev_time.saturating_add(BLOCK_TIME);
        apply_block_overrides(&mut env, &overrides)?;
        if env.timestamp <= prev_time {
            return Err(rpc_err(
                -38021,
                format!(
                    "block timestamps must be in order: {} <= {prev_time}",
                    env.timestamp
                ),
            ));
        }
        prev_number = env.number;
        prev_time = env.timestamp;
        prev_gas_limit = env.gas_limit;
        prev_beneficiary = env.beneficiary;
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
        state: c.node.store.state_at(base.state_root),
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
        sim.hashes
            .simulated
            .push((block.header.number, block.header.hash()));
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

/// A simulated block: its header and its answer.
struct SimBlock {
    header: Header,
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
    let mut results = Vec::with_capacity(calls.len());
    let mut txs = Vec::with_capacity(calls.len());
    let mut receipts: Vec<Receipt> = Vec::with_capacity(calls.len());
    let mut all_logs: Vec<(usize, Log)> = Vec::new();
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
        let (outcome, logs) = if trace_transfers || rules.moved.is_some() {
            // On revm directly: the transfer tracer and the moved precompiles are revm's.
            match platon_vm::tracing::simulate_call(
                state,
                &*hashes,
                env,
                &msg,
                opts,
                rules.moved.clone(),
                trace_transfers,
            )
            .map_err(exec_err)?
            {
                Ok(r) => r,
                Err(e) => return Err(reject_code(&e, &from)),
            }
        } else {
            match c
                .node
                .runtime()
                .transact(state, &*hashes, env, &msg, opts)
                .map_err(exec_err)?
            {
                Ok(o) => {
                    let logs = o.logs.clone();
                    (o, logs)
                }
                Err(e) => return Err(reject_code(&e, &from)),
            }
        };
        gas_used = gas_used.saturating_add(outcome.gas_used);
        *budget = budget.saturating_sub(outcome.gas_used);
        let body = super::methods::body_of(c, &call, gas, call.nonce.unwrap_or(account_nonce))?;
        let raw = body.encode_unsigned();
        let tx_hash = keccak256(&raw);
        let logs = if outcome.success() { logs } else { vec![] };
        receipts.push(Receipt {
            tx_type: body.tx_type(),
            success: outcome.success(),
            cumulative_gas_used: gas_used,
            logs_bloom: Receipt::bloom_of(&logs),
            logs: logs.clone(),
            gas_used: outcome.gas_used,
            effective_gas_price: u128::try_from(body.effective_gas_price(U256::from(env.base_fee)))
                .unwrap_or(u128::MAX),
            contract_address: outcome.contract_address,
        });
        all_logs.extend(logs.into_iter().map(|l| (i, l)));
        results.push((outcome, tx_hash));
        txs.push((body, raw, tx_hash, from));
    }
    let mut logs_bloom = Bloom::ZERO;
    for r in &receipts {
        logs_bloom.accrue_bloom(&r.logs_bloom);
    }
    let (state_root, _) = state.clone().commit().map_err(storage_err)?;
    let header = Header {
        parent_hash: parent.hash(),
        ommers_hash: platon_messages::block::EMPTY_OMMERS_HASH,
        beneficiary: env.beneficiary,
        state_root,
        transactions_root: ordered_root(&txs.iter().map(|t| t.1.clone()).collect::<Vec<_>>()),
        receipts_root: ordered_root(
            &receipts
                .iter()
                .map(Receipt::consensus_encode)
                .collect::<Vec<_>>(),
        ),
        logs_bloom,
        difficulty: U256::ZERO,
        number: env.number,
        gas_limit: env.gas_limit,
        gas_used,
        timestamp: env.timestamp,
        extra_data: Bytes::new(),
        mix_hash: env.prev_randao,
        nonce: [0; 8],
        base_fee_per_gas: env.base_fee,
    };
    let hash = header.hash();
    let mut json = header_json(&header, Some(header.encode().len()));
    let mut log_index = 0usize;
    let call_json: Vec<Value> = results
        .iter()
        .enumerate()
        .map(|(i, (o, tx_hash))| {
            let logs: Vec<Value> = all_logs
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, l)| {
                    let v = super::evm::log_json(l, &header, hash, *tx_hash, i, log_index);
                    log_index += 1;
                    v
                })
                .collect();
            call_result_json(o, logs)
        })
        .collect();
    json["calls"] = Value::Array(call_json);
    json["transactions"] = Value::Array(
        txs.iter()
            .enumerate()
            .map(|(i, (body, raw, tx_hash, from))| {
                if !full_txs {
                    return json!(tx_hash);
                }
                let tx = platon_messages::SignedTransaction {
                    hash: *tx_hash,
                    sender: *from,
                    sig: platon_crypto::RecoverableSig {
                        r: U256::ZERO,
                        s: U256::ZERO,
                        y_parity: false,
                    },
                    body: body.clone(),
                    encoded: raw.clone().into(),
                };
                let mut pos = TxPosition::in_block(&header, i);
                pos.block_hash = hash;
                tx_json(&tx, Some(pos))
            })
            .collect(),
    );
    json["uncles"] = json!([]);
    Ok(SimBlock { header, json })
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
        let state = c.node.store.state_at(header.state_root);
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
        let excluded = |a: &Address| {
            *a == from || *a == target || {
                let b = a.as_slice();
                b[..19].iter().all(|x| *x == 0) && (1..=9).contains(&b[19])
            }
        };
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
                    .map_err(exec_err)?
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

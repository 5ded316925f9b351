//! Contract methods of the gateway: `eth_call` and `eth_estimateGas` (with state and block overrides),
//! logs (`eth_getLogs`, filters, the `logs` subscription), `eth_getBlockReceipts`, and the geth
//! tracers (`debug_traceTransaction`, `debug_traceCall`). EVM work runs on the blocking pool, never on
//! the gateway's async workers.

use super::json::*;
use super::methods::{arg, parse_call, storage_err, CallObject, RpcCtx, R};
use alloy_primitives::{Address, B256, U256};
use jsonrpsee::types::ErrorObjectOwned;
use platon_messages::actors::BlockEnv;
use platon_messages::{Block, Header, Log, Receipt, TxKind};
use platon_storage::StateDb;
use platon_vm::tracing::{revert_reason, TracerKind};
use platon_vm::{ExecOptions, Message, Outcome, Runtime as _, Status, TxReject};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// geth's error code for a reverted call, with the revert data in `data`.
pub const REVERT_CODE: i32 = 3;
/// Idle filters are dropped after this long, as geth does.
pub const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn blocking_err(e: tokio::task::JoinError) -> ErrorObjectOwned {
    rpc_err(INTERNAL_ERROR, format!("execution task failed: {e}"))
}

/// Runs `f` on the blocking pool: EVM execution, trie and store reads, signature recovery.
pub(super) async fn blocking<F, T>(c: &RpcCtx, f: F) -> Result<T, ErrorObjectOwned>
where
    F: FnOnce(&RpcCtx) -> Result<T, ErrorObjectOwned> + Send + 'static,
    T: Send + 'static,
{
    let ctx = c.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(blocking_err)?
}

/// The environment of the block `header` heads: what a call at that block runs in (as geth), and
/// what its transactions ran in.
pub(super) fn call_env(c: &RpcCtx, header: &Header) -> BlockEnv {
    BlockEnv {
        number: header.number,
        timestamp: header.timestamp,
        beneficiary: header.beneficiary,
        gas_limit: header.gas_limit,
        base_fee: header.base_fee_per_gas,
        prev_randao: header.mix_hash,
        chain_id: c.node.store.chain_id(),
    }
}

fn u128_of(v: U256, what: &str) -> Result<u128, ErrorObjectOwned> {
    u128::try_from(v).map_err(|_| invalid_params(format!("{what} does not fit 128 bits")))
}

/// The message and checks of a call object, with `gas` as its gas limit.
pub(super) fn call_message(
    c: &RpcCtx,
    call: &CallObject,
    gas: u64,
    deadline: Instant,
) -> Result<(Message, ExecOptions), ErrorObjectOwned> {
    let (tx_type, gas_price, priority_fee) = match (call.gas_price, call.max_fee, call.max_tip) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(invalid_params(
                "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified",
            ))
        }
        (Some(p), None, None) => (
            u8::from(!call.access_list.is_empty()),
            u128_of(p, "gasPrice")?,
            None,
        ),
        (None, None, None) => (u8::from(!call.access_list.is_empty()), 0, None),
        (None, fee, tip) => {
            let tip = u128_of(tip.unwrap_or_default(), "maxPriorityFeePerGas")?;
            let fee = match fee {
                Some(f) => u128_of(f, "maxFeePerGas")?,
                None => tip,
            };
            if tip > fee {
                return Err(rpc_err(
                    SERVER_ERROR,
                    "max priority fee per gas higher than max fee per gas",
                ));
            }
            (2, fee, Some(tip))
        }
    };
    let msg = Message {
        tx_type,
        caller: call.from.unwrap_or_default(),
        kind: call.to.map(TxKind::Call).unwrap_or(TxKind::Create),
        value: call.value,
        data: call.input.clone(),
        gas_limit: gas,
        gas_price,
        priority_fee,
        nonce: call.nonce,
        chain_id: Some(c.node.store.chain_id()),
        access_list: call
            .access_list
            .iter()
            .map(|i| (i.address, i.storage_keys.clone()))
            .collect(),
    };
    // A call without a price pays nothing, so the base fee does not apply (geth's rule).
    let priced = gas_price != 0;
    // geth does not check the nonce of simulated calls (clients often send a stale one).
    let opts = ExecOptions {
        check_nonce: false,
        check_base_fee: priced,
        check_balance: true,
        deadline: Some(deadline),
    };
    Ok((msg, opts))
}

/// When a request that starts now must be done (`evm.rpc_timeout_ms`).
pub(super) fn request_deadline(c: &RpcCtx) -> Instant {
    Instant::now() + Duration::from_millis(c.node.config.evm.rpc_timeout_ms)
}

/// Applies geth's state override set (`{address: {balance, nonce, code, state, stateDiff}}`).
pub(super) fn apply_state_overrides(
    state: &mut StateDb,
    v: &Value,
) -> Result<(), ErrorObjectOwned> {
    let Some(map) = v.as_object() else {
        return if v.is_null() {
            Ok(())
        } else {
            Err(invalid_params("state overrides: object expected"))
        };
    };
    for (addr, o) in map {
        let address = parse_address(&Value::String(addr.clone()), "state override address")?;
        let o = o
            .as_object()
            .ok_or_else(|| invalid_params(format!("state override for {addr}: object expected")))?;
        for k in o.keys() {
            if !["balance", "nonce", "code", "state", "stateDiff"].contains(&k.as_str()) {
                return Err(invalid_params(format!(
                    "state override for {addr}: unknown field {k:?}"
                )));
            }
        }
        let mut account = state.account(&address).map_err(storage_err)?;
        if let Some(b) = o.get("balance") {
            account.balance = parse_u256(b, "balance override")?;
        }
        if let Some(n) = o.get("nonce") {
            account.nonce = parse_u64(n, "nonce override")?;
        }
        state.set_account(address, account);
        if let Some(code) = o.get("code") {
            let code = parse_bytes(code, "code override")?;
            state
                .set_code(address, code.to_vec())
                .map_err(storage_err)?;
        }
        let slots = match (o.get("state"), o.get("stateDiff")) {
            (Some(_), Some(_)) => {
                return Err(invalid_params(format!(
                    "state override for {addr}: both state and stateDiff set"
                )))
            }
            (Some(full), None) => {
                state.wipe_storage(address);
                Some(full)
            }
            (None, diff) => diff,
        };
        if let Some(slots) = slots {
            let slots = slots
                .as_object()
                .ok_or_else(|| invalid_params("storage override: object expected"))?;
            for (k, v) in slots {
                let slot = parse_hash(&Value::String(k.clone()), "storage slot")?;
                let value = parse_hash(v, "storage value")?;
                state.set_storage(address, slot, U256::from_be_bytes(value.0));
            }
        }
    }
    Ok(())
}

/// Applies geth's block overrides (`number`, `time`, `gasLimit`, `feeRecipient`, `prevRandao`,
/// `baseFeePerGas`).
pub(super) fn apply_block_overrides(env: &mut BlockEnv, v: &Value) -> Result<(), ErrorObjectOwned> {
    let Some(o) = v.as_object() else {
        return if v.is_null() {
            Ok(())
        } else {
            Err(invalid_params("block overrides: object expected"))
        };
    };
    for (k, v) in o {
        match k.as_str() {
            "number" => env.number = parse_u64(v, "number override")?,
            "time" => env.timestamp = parse_u64(v, "time override")?,
            "gasLimit" => env.gas_limit = parse_u64(v, "gasLimit override")?,
            "feeRecipient" | "coinbase" => env.beneficiary = parse_address(v, "feeRecipient")?,
            "prevRandao" | "random" => env.prev_randao = parse_hash(v, "prevRandao")?,
            "baseFeePerGas" | "baseFee" => env.base_fee = parse_u64(v, "baseFeePerGas")?,
            other => {
                return Err(invalid_params(format!(
                    "block overrides: unsupported field {other:?}"
                )))
            }
        }
    }
    Ok(())
}

/// The error geth returns for a call that did not succeed.
pub fn failure(out: &Outcome) -> ErrorObjectOwned {
    match &out.status {
        Status::Success => rpc_err(INTERNAL_ERROR, "not a failure"),
        Status::Revert => {
            let msg = match revert_reason(&out.output) {
                Some(r) => format!("execution reverted: {r}"),
                None => "execution reverted".to_string(),
            };
            ErrorObjectOwned::owned(REVERT_CODE, msg, Some(out.output.clone()))
        }
        Status::Halt(reason) => rpc_err(SERVER_ERROR, halt_message(reason)),
    }
}

/// geth's wording for an exceptional halt.
pub(super) fn halt_message(reason: &str) -> String {
    if reason.starts_with("OutOfGas") {
        "out of gas".into()
    } else if reason.contains("OpcodeNotFound") || reason.contains("InvalidFEOpcode") {
        "invalid opcode".into()
    } else if reason.contains("InvalidJump") {
        "invalid jump destination".into()
    } else if reason.contains("StackUnderflow") {
        "stack underflow".into()
    } else if reason.contains("StackOverflow") {
        "stack limit reached 1024 (1023)".into()
    } else if reason.contains("StateChangeDuringStaticCall") {
        "write protection".into()
    } else {
        format!("execution halted: {reason}")
    }
}

pub(super) fn reject_err(e: TxReject) -> ErrorObjectOwned {
    rpc_err(SERVER_ERROR, e.to_string())
}

/// State, environment and overrides of a call request `[call, block?, stateOverrides?, blockOverrides?]`.
fn prepare(c: &RpcCtx, a: &[Value]) -> Result<(CallObject, StateDb, BlockEnv), ErrorObjectOwned> {
    let call = parse_call(arg(a, 0, "transaction")?)?;
    let header = c.header_or_err(parse_block_id(a.get(1))?)?;
    let mut state = c.node.store.state_of(&header);
    let mut env = call_env(c, &header);
    if let Some(o) = a.get(2) {
        apply_state_overrides(&mut state, o)?;
    }
    if let Some(o) = a.get(3) {
        apply_block_overrides(&mut env, o)?;
    }
    Ok((call, state, env))
}

pub(super) fn default_gas(c: &RpcCtx, call: &CallObject, env: &BlockEnv) -> u64 {
    let cap = c.node.config.evm.rpc_gas_cap;
    call.gas.unwrap_or(env.gas_limit).min(cap)
}

fn run(
    c: &RpcCtx,
    state: &StateDb,
    env: &BlockEnv,
    call: &CallObject,
    gas: u64,
    deadline: Instant,
) -> Result<Result<Outcome, TxReject>, ErrorObjectOwned> {
    let (msg, opts) = call_message(c, call, gas, deadline)?;
    let mut scratch = state.clone();
    c.node
        .runtime()
        .transact(&mut scratch, &c.node.store, env, &msg, opts)
        .map_err(|e| exec_err(c, e))
}

/// `eth_call`.
pub async fn call(c: &RpcCtx, a: &[Value]) -> R {
    let a = a.to_vec();
    blocking(c, move |c| {
        let deadline = request_deadline(c);
        let (call, state, env) = prepare(c, &a)?;
        let gas = default_gas(c, &call, &env);
        match run(c, &state, &env, &call, gas, deadline)?.map_err(reject_err)? {
            out if out.success() => Ok(json!(out.output)),
            out => Err(failure(&out)),
        }
    })
    .await
}

/// `eth_estimateGas`: the least gas limit with which the call succeeds (binary search, as geth).
pub async fn estimate_gas(c: &RpcCtx, a: &[Value]) -> R {
    let a = a.to_vec();
    blocking(c, move |c| {
        let deadline = request_deadline(c);
        let (call, state, env) = prepare(c, &a)?;
        let mut hi = default_gas(c, &call, &env);
        // With a price, the sender's balance bounds the gas it can buy.
        let price = call.max_fee.or(call.gas_price).unwrap_or_default();
        if !price.is_zero() {
            let from = call.from.unwrap_or_default();
            let balance = state.account(&from).map_err(storage_err)?.balance;
            let available = balance
                .checked_sub(call.value)
                .ok_or_else(|| rpc_err(SERVER_ERROR, "insufficient funds for transfer"))?;
            let allowance = u64::try_from(available / price).unwrap_or(u64::MAX);
            hi = hi.min(allowance);
        }
        let cap = hi;
        let first = match run(c, &state, &env, &call, hi, deadline)? {
            Ok(o) => o,
            Err(TxReject::IntrinsicGas { .. }) => {
                return Err(rpc_err(
                    SERVER_ERROR,
                    format!("gas required exceeds allowance ({cap})"),
                ))
            }
            Err(e) => return Err(reject_err(e)),
        };
        match first.status {
            Status::Success => {}
            Status::Revert => return Err(failure(&first)),
            Status::Halt(_) => {
                return Err(rpc_err(
                    SERVER_ERROR,
                    format!("gas required exceeds allowance ({cap})"),
                ))
            }
        }
        // Gas used (before refunds) is a lower bound; the 63/64 rule may need more.
        let mut lo = first
            .gas_used
            .saturating_add(first.gas_refunded)
            .saturating_sub(1);
        let ok = |gas: u64| -> Result<bool, ErrorObjectOwned> {
            Ok(matches!(run(c, &state, &env, &call, gas, deadline)?, Ok(o) if o.success()))
        };
        let optimistic = first
            .gas_used
            .saturating_add(first.gas_refunded)
            .saturating_add(2_300)
            .saturating_mul(64)
            / 63;
        if optimistic < hi {
            if ok(optimistic)? {
                hi = optimistic;
            } else {
                lo = optimistic;
            }
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if ok(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(json!(qty(hi)))
    })
    .await
}

/// A log filter: block range and address/topic criteria.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// First block (None: latest at query time).
    pub from: Option<u64>,
    /// Last block (None: latest at query time).
    pub to: Option<u64>,
    /// A single block by hash (excludes from/to).
    pub block_hash: Option<B256>,
    /// Any of these addresses (empty: any).
    pub addresses: Vec<Address>,
    /// Per position: any of these topics (empty: any).
    pub topics: Vec<Vec<B256>>,
}

impl LogFilter {
    /// True when `log` matches the address and topic criteria.
    pub fn matches(&self, log: &Log) -> bool {
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        self.topics.iter().enumerate().all(|(i, wanted)| {
            wanted.is_empty() || log.topics.get(i).is_some_and(|t| wanted.contains(t))
        })
    }

    /// False when the block's bloom rules out every match.
    pub fn may_match(&self, bloom: &alloy_primitives::Bloom) -> bool {
        use alloy_primitives::BloomInput;
        let addr_ok = self.addresses.is_empty()
            || self
                .addresses
                .iter()
                .any(|a| bloom.contains_input(BloomInput::Raw(a.as_slice())));
        addr_ok
            && self.topics.iter().all(|wanted| {
                wanted.is_empty()
                    || wanted
                        .iter()
                        .any(|t| bloom.contains_input(BloomInput::Raw(t.as_slice())))
            })
    }
}

fn parse_block_number(c: &RpcCtx, v: Option<&Value>) -> Result<Option<u64>, ErrorObjectOwned> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match parse_block_id(Some(v))? {
            BlockId::Latest | BlockId::Pending => Ok(None),
            BlockId::Number(n) => Ok(Some(n)),
            BlockId::Hash(h) => Ok(Some(
                c.node
                    .store
                    .header_by_hash(&h)
                    .map_err(storage_err)?
                    .ok_or_else(|| rpc_err(SERVER_ERROR, "header not found"))?
                    .number,
            )),
        },
    }
}

/// Parses a filter object (`eth_getLogs`, `eth_newFilter`, the `logs` subscription).
pub fn parse_filter(c: &RpcCtx, v: Option<&Value>) -> Result<LogFilter, ErrorObjectOwned> {
    let empty = serde_json::Map::new();
    let o = match v {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err(invalid_params("filter object expected")),
    };
    for k in o.keys() {
        if !["fromBlock", "toBlock", "blockHash", "address", "topics"].contains(&k.as_str()) {
            return Err(invalid_params(format!("filter: unknown field {k:?}")));
        }
    }
    let block_hash = o
        .get("blockHash")
        .filter(|v| !v.is_null())
        .map(|v| parse_hash(v, "blockHash"))
        .transpose()?;
    if block_hash.is_some() && (o.contains_key("fromBlock") || o.contains_key("toBlock")) {
        return Err(invalid_params(
            "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other",
        ));
    }
    let addresses = match o.get("address") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| parse_address(v, "address"))
            .collect::<Result<_, _>>()?,
        Some(v) => vec![parse_address(v, "address")?],
    };
    let topics = match o.get("topics") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) => {
            if a.len() > 4 {
                return Err(invalid_params("filter: more than 4 topic positions"));
            }
            a.iter()
                .map(|t| match t {
                    Value::Null => Ok(vec![]),
                    Value::Array(alts) => alts
                        .iter()
                        .map(|v| parse_hash(v, "topic"))
                        .collect::<Result<_, _>>(),
                    v => Ok(vec![parse_hash(v, "topic")?]),
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => return Err(invalid_params("filter: topics must be an array")),
    };
    Ok(LogFilter {
        from: parse_block_number(c, o.get("fromBlock"))?,
        to: parse_block_number(c, o.get("toBlock"))?,
        block_hash,
        addresses,
        topics,
    })
}

/// One log as geth shows it.
pub fn log_json(
    log: &Log,
    block: &Header,
    block_hash: B256,
    tx_hash: B256,
    tx_index: usize,
    log_index: usize,
) -> Value {
    json!({
        "address": log.address,
        "topics": log.topics,
        "data": log.data,
        "blockHash": block_hash,
        "blockNumber": qty(block.number),
        "blockTimestamp": qty(block.timestamp),
        "transactionHash": tx_hash,
        "transactionIndex": qty(tx_index as u64),
        "logIndex": qty(log_index as u64),
        "removed": false,
    })
}

/// The matching logs of one block, appended to `out`; errors once `out` would exceed `max`.
pub fn block_logs(
    block: &Block,
    receipts: &[Receipt],
    filter: &LogFilter,
    out: &mut Vec<Value>,
    max: usize,
) -> Result<(), ErrorObjectOwned> {
    let hash = block.hash();
    let mut index = 0usize;
    for (i, (r, tx)) in receipts.iter().zip(&block.transactions).enumerate() {
        for log in &r.logs {
            if filter.matches(log) {
                if out.len() >= max {
                    return Err(rpc_err(
                        -32005,
                        format!("query returned more than {max} results"),
                    ));
                }
                out.push(log_json(log, &block.header, hash, tx.hash, i, index));
            }
            index += 1;
        }
    }
    Ok(())
}

/// Matching logs in blocks `from..=to` (bounded by the configured range and result size).
fn logs_in_range(c: &RpcCtx, filter: &LogFilter, from: u64, to: u64) -> R {
    let cfg = &c.node.config.evm;
    if to >= from && to - from >= cfg.max_log_range {
        return Err(rpc_err(
            -32005,
            format!(
                "block range {from}..={to} exceeds the limit of {} blocks (evm.max_log_range)",
                cfg.max_log_range
            ),
        ));
    }
    let mut out = Vec::new();
    for n in from..=to {
        let Some(header) = c.node.store.header_by_number(n).map_err(storage_err)? else {
            break;
        };
        if !filter.may_match(&header.logs_bloom) {
            continue;
        }
        let Some(block) = c.node.store.block_by_number(n).map_err(storage_err)? else {
            break;
        };
        let receipts = c
            .node
            .store
            .receipts(&block.hash())
            .map_err(storage_err)?
            .unwrap_or_default();
        block_logs(&block, &receipts, filter, &mut out, cfg.max_logs)?;
    }
    Ok(Value::Array(out))
}

fn filter_logs(c: &RpcCtx, filter: &LogFilter) -> R {
    if let Some(h) = filter.block_hash {
        let block = c
            .node
            .store
            .block_by_hash(&h)
            .map_err(storage_err)?
            .ok_or_else(|| rpc_err(SERVER_ERROR, "unknown block"))?;
        let receipts = c
            .node
            .store
            .receipts(&h)
            .map_err(storage_err)?
            .unwrap_or_default();
        let mut out = Vec::new();
        block_logs(
            &block,
            &receipts,
            filter,
            &mut out,
            c.node.config.evm.max_logs,
        )?;
        return Ok(Value::Array(out));
    }
    let head = c.node.store.head_header().map_err(storage_err)?.number;
    let from = filter.from.unwrap_or(head).min(head.saturating_add(1));
    let to = filter.to.unwrap_or(head).min(head);
    if from > to {
        return Ok(json!([]));
    }
    logs_in_range(c, filter, from, to)
}

/// `eth_getLogs`. As geth: a reversed range, or one that reaches past the head, is an invalid-params
/// error rather than an empty answer.
pub async fn get_logs(c: &RpcCtx, a: &[Value]) -> R {
    let filter = parse_filter(c, a.first())?;
    check_range(c, &filter)?;
    blocking(c, move |c| filter_logs(c, &filter)).await
}

/// geth's range checks of `eth_getLogs`.
fn check_range(c: &RpcCtx, filter: &LogFilter) -> Result<(), ErrorObjectOwned> {
    if filter.block_hash.is_some() {
        return Ok(());
    }
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(invalid_params("invalid block range params"));
        }
    }
    let head = c.node.store.head_header().map_err(storage_err)?.number;
    if filter.from.is_some_and(|f| f > head) || filter.to.is_some_and(|t| t > head) {
        return Err(invalid_params(
            "block range extends beyond current head block",
        ));
    }
    Ok(())
}

/// `eth_getBlockReceipts`.
pub fn block_receipts(c: &RpcCtx, a: &[Value]) -> R {
    let id = parse_block_id(Some(arg(a, 0, "block")?))?;
    let Some(block) = c.block(id)? else {
        return Ok(Value::Null);
    };
    let receipts = c
        .node
        .store
        .receipts(&block.hash())
        .map_err(storage_err)?
        .unwrap_or_default();
    let mut offset = 0;
    let mut out = Vec::with_capacity(receipts.len());
    for (i, (r, tx)) in receipts.iter().zip(&block.transactions).enumerate() {
        out.push(receipt_json(&block, i, r, tx, offset));
        offset += r.logs.len();
    }
    Ok(Value::Array(out))
}

/// What an installed filter watches.
#[derive(Debug)]
enum FilterKind {
    Blocks,
    Logs(LogFilter),
    /// Transactions the pool admits: its admissions since the last poll.
    PendingTxs(tokio::sync::broadcast::Receiver<B256>),
}

#[derive(Debug)]
struct Installed {
    kind: FilterKind,
    /// Last block whose changes were reported.
    last: u64,
    polled: Instant,
}

/// Installed filters (`eth_newFilter`, `eth_newBlockFilter`), bounded and expiring when idle.
#[derive(Debug, Default)]
pub struct Filters {
    next: u64,
    installed: HashMap<u64, Installed>,
}

impl Filters {
    fn expire(&mut self, now: Instant) {
        self.installed
            .retain(|_, f| now.duration_since(f.polled) < FILTER_TIMEOUT);
    }

    fn install(
        &mut self,
        kind: FilterKind,
        head: u64,
        max: usize,
    ) -> Result<u64, ErrorObjectOwned> {
        let now = Instant::now();
        self.expire(now);
        if self.installed.len() >= max {
            return Err(rpc_err(
                SERVER_ERROR,
                format!("too many installed filters (evm.max_filters = {max}); uninstall some or let idle ones expire"),
            ));
        }
        self.next = self.next.wrapping_add(1);
        let id = self.next;
        self.installed.insert(
            id,
            Installed {
                kind,
                last: head,
                polled: now,
            },
        );
        Ok(id)
    }
}

fn filter_id(a: &[Value]) -> Result<u64, ErrorObjectOwned> {
    parse_u64(arg(a, 0, "filter id")?, "filter id")
}

fn not_found() -> ErrorObjectOwned {
    rpc_err(SERVER_ERROR, "filter not found")
}

/// `eth_newFilter`.
pub fn new_filter(c: &RpcCtx, a: &[Value]) -> R {
    let filter = parse_filter(c, a.first())?;
    let head = c.node.store.head_header().map_err(storage_err)?.number;
    let id = c.filters.lock().install(
        FilterKind::Logs(filter),
        head,
        c.node.config.evm.max_filters,
    )?;
    Ok(json!(qty(id)))
}

/// `eth_newBlockFilter`.
pub fn new_block_filter(c: &RpcCtx, _: &[Value]) -> R {
    let head = c.node.store.head_header().map_err(storage_err)?.number;
    let id = c
        .filters
        .lock()
        .install(FilterKind::Blocks, head, c.node.config.evm.max_filters)?;
    Ok(json!(qty(id)))
}

/// `eth_newPendingTransactionFilter`: reports the hashes of transactions the pool admits after it
/// is installed (at most [`crate::PENDING_TXS_CAPACITY`] between polls; a filter polled less often
/// skips the oldest, as a lagging subscriber does).
pub fn new_pending_filter(c: &RpcCtx, _: &[Value]) -> R {
    let head = c.node.store.head_header().map_err(storage_err)?.number;
    let id = c.filters.lock().install(
        FilterKind::PendingTxs(c.node.pending_txs.subscribe()),
        head,
        c.node.config.evm.max_filters,
    )?;
    Ok(json!(qty(id)))
}

/// Drains a pending-transaction filter's admissions.
fn drain_pending(rx: &mut tokio::sync::broadcast::Receiver<B256>) -> Vec<Value> {
    use tokio::sync::broadcast::error::TryRecvError;
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(h) => out.push(json!(h)),
            Err(TryRecvError::Lagged(n)) => {
                tracing::debug!("a pending-transaction filter skipped {n} hashes");
            }
            Err(TryRecvError::Empty | TryRecvError::Closed) => return out,
        }
    }
}

/// `eth_uninstallFilter`.
pub fn uninstall_filter(c: &RpcCtx, a: &[Value]) -> R {
    let id = filter_id(a)?;
    Ok(json!(c.filters.lock().installed.remove(&id).is_some()))
}

/// `eth_getFilterChanges`: new block hashes or new matching logs since the last poll.
pub async fn filter_changes(c: &RpcCtx, a: &[Value]) -> R {
    let id = filter_id(a)?;
    let head = c.node.store.head_header().map_err(storage_err)?.number;
    let (logs, last) = {
        let mut filters = c.filters.lock();
        filters.expire(Instant::now());
        let f = filters.installed.get_mut(&id).ok_or_else(not_found)?;
        f.polled = Instant::now();
        let last = f.last;
        f.last = head.max(last);
        match &mut f.kind {
            FilterKind::PendingTxs(rx) => return Ok(Value::Array(drain_pending(rx))),
            FilterKind::Blocks => (None, last),
            FilterKind::Logs(filter) => (Some(filter.clone()), last),
        }
    };
    if head <= last {
        return Ok(json!([]));
    }
    match logs {
        None => {
            let mut out = Vec::new();
            for n in last + 1..=head {
                if let Some(h) = c.node.store.hash_by_number(n).map_err(storage_err)? {
                    out.push(json!(h));
                }
            }
            Ok(Value::Array(out))
        }
        Some(filter) => {
            let from = filter.from.map_or(last + 1, |f| f.max(last + 1));
            let to = filter.to.map_or(head, |t| t.min(head));
            if from > to {
                return Ok(json!([]));
            }
            blocking(c, move |c| logs_in_range(c, &filter, from, to)).await
        }
    }
}

/// `eth_getFilterLogs`: every log the filter matches.
pub async fn filter_logs_all(c: &RpcCtx, a: &[Value]) -> R {
    let id = filter_id(a)?;
    let filter = {
        let mut filters = c.filters.lock();
        filters.expire(Instant::now());
        let f = filters.installed.get_mut(&id).ok_or_else(not_found)?;
        f.polled = Instant::now();
        match &f.kind {
            FilterKind::Logs(filter) => filter.clone(),
            FilterKind::Blocks | FilterKind::PendingTxs(_) => return Err(not_found()),
        }
    };
    blocking(c, move |c| filter_logs(c, &filter)).await
}

/// A tracer request: the tracer, and whether the node's step bound (`evm.max_trace_steps`) rather
/// than the client's `limit` ends a struct-log trace.
#[derive(Debug, Clone)]
pub(super) struct TraceRequest {
    pub kind: TracerKind,
    capped: bool,
}

/// Parses geth's tracer config `{tracer?, tracerConfig?, disableStack?, enableMemory?, ...}`.
pub(super) fn parse_tracer(
    c: &RpcCtx,
    v: Option<&Value>,
) -> Result<TraceRequest, ErrorObjectOwned> {
    let empty = serde_json::Map::new();
    let o = match v {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err(invalid_params("tracer options: object expected")),
    };
    let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
    let cfg = o.get("tracerConfig");
    let cflag = |k: &str| {
        cfg.and_then(|c| c.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let cap = c.node.config.evm.max_trace_steps;
    match o.get("tracer").and_then(Value::as_str) {
        None | Some("") | Some("structLogger") => {
            let asked = o
                .get("limit")
                .and_then(Value::as_u64)
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(0);
            let capped = asked == 0 || asked > cap;
            Ok(TraceRequest {
                kind: TracerKind::StructLogs {
                    disable_stack: flag("disableStack"),
                    enable_memory: flag("enableMemory"),
                    disable_storage: flag("disableStorage"),
                    enable_return_data: flag("enableReturnData"),
                    limit: if capped { cap } else { asked },
                },
                capped,
            })
        }
        Some("callTracer") => Ok(TraceRequest {
            kind: TracerKind::Call {
                only_top_call: cflag("onlyTopCall"),
                with_log: cflag("withLog"),
            },
            capped: false,
        }),
        Some("prestateTracer") => Ok(TraceRequest {
            kind: TracerKind::Prestate {
                diff_mode: cflag("diffMode"),
            },
            capped: false,
        }),
        Some(other) => Err(invalid_params(format!(
            "tracer {other:?} is not supported; use the default struct logger, callTracer or prestateTracer"
        ))),
    }
}

impl TraceRequest {
    /// The request with at most `left` struct-log entries still allowed.
    fn with_budget(&self, left: usize) -> TracerKind {
        let mut kind = self.kind.clone();
        if let TracerKind::StructLogs { limit, .. } = &mut kind {
            *limit = (*limit).min(left.max(1));
        }
        kind
    }

    /// Struct-log entries of `trace`; an error once they reach the node's bound.
    fn steps(&self, c: &RpcCtx, trace: &Value, used: usize) -> Result<usize, ErrorObjectOwned> {
        let n = trace
            .get("structLogs")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let cap = c.node.config.evm.max_trace_steps;
        if self.capped && used.saturating_add(n) >= cap {
            return Err(rpc_err(
                SERVER_ERROR,
                format!("trace exceeds {cap} steps (evm.max_trace_steps); ask for fewer with the tracer's \"limit\", or trace a single transaction"),
            ));
        }
        Ok(n)
    }
}

/// An engine failure as the gateway answers it; a call past its deadline gets geth's "execution
/// aborted" naming the configured bound.
pub(super) fn exec_err(c: &RpcCtx, e: platon_vm::ExecError) -> ErrorObjectOwned {
    match e {
        platon_vm::ExecError::Deadline(_) => rpc_err(
            SERVER_ERROR,
            format!(
                "execution aborted (timeout = {}ms); the bound is evm.rpc_timeout_ms",
                c.node.config.evm.rpc_timeout_ms
            ),
        ),
        e => rpc_err(INTERNAL_ERROR, e.to_string()),
    }
}

/// Replays `block` on its parent's state and traces the transactions `which` selects, in order:
/// `(transaction hash, trace)` for each.
pub(super) fn trace_block_txs(
    c: &RpcCtx,
    block: &Block,
    which: Option<usize>,
    req: &TraceRequest,
) -> Result<Vec<(B256, Value)>, ErrorObjectOwned> {
    if block.header.number == 0 {
        return Err(rpc_err(SERVER_ERROR, "genesis is not traceable"));
    }
    let parent = c
        .node
        .store
        .header_by_hash(&block.header.parent_hash)
        .map_err(storage_err)?
        .ok_or_else(|| rpc_err(SERVER_ERROR, "parent block not found"))?;
    let mut state = c.node.store.state_of(&parent);
    // The block's own context, as for a call at that block.
    let env = call_env(c, &block.header);
    let mut out = Vec::new();
    let mut used = 0usize;
    let cap = c.node.config.evm.max_trace_steps;
    for (i, tx) in block.transactions.iter().enumerate() {
        let msg = Message::from_tx(tx).map_err(reject_err)?;
        if which.is_none_or(|w| w == i) {
            let kind = req.with_budget(cap.saturating_sub(used));
            let (_, trace) = platon_vm::tracing::trace(
                &mut state,
                &c.node.store,
                &env,
                &msg,
                ExecOptions::BLOCK,
                &kind,
            )
            .map_err(|e| exec_err(c, e))?
            .map_err(reject_err)?;
            used = used.saturating_add(req.steps(c, &trace, used)?);
            out.push((tx.hash, trace));
            if which.is_some() {
                return Ok(out);
            }
        } else {
            c.node
                .runtime()
                .transact(&mut state, &c.node.store, &env, &msg, ExecOptions::BLOCK)
                .map_err(|e| exec_err(c, e))?
                .map_err(reject_err)?;
        }
    }
    if which.is_some() {
        return Err(rpc_err(SERVER_ERROR, "transaction not found in its block"));
    }
    Ok(out)
}

/// `debug_traceTransaction`: replays the block up to the transaction, then traces it.
pub async fn trace_transaction(c: &RpcCtx, a: &[Value]) -> R {
    let hash = parse_hash(arg(a, 0, "transaction hash")?, "transaction hash")?;
    let req = parse_tracer(c, a.get(1))?;
    blocking(c, move |c| {
        let (block, target) = super::methods::locate(c, &hash)?
            .ok_or_else(|| rpc_err(SERVER_ERROR, "transaction not found"))?;
        let mut traces = trace_block_txs(c, &block, Some(target), &req)?;
        traces
            .pop()
            .map(|(_, t)| t)
            .ok_or_else(|| rpc_err(SERVER_ERROR, "transaction not found in its block"))
    })
    .await
}

/// `debug_traceBlockByNumber` and `debug_traceBlockByHash`: every transaction's trace, as
/// `[{txHash, result}]`.
pub async fn trace_block(c: &RpcCtx, block: Block, opts: Option<&Value>) -> R {
    let req = parse_tracer(c, opts)?;
    blocking(c, move |c| {
        let traces = trace_block_txs(c, &block, None, &req)?;
        Ok(Value::Array(
            traces
                .into_iter()
                .map(|(h, t)| json!({ "txHash": h, "result": t }))
                .collect(),
        ))
    })
    .await
}

/// `debug_traceCall`: `[call, block, {tracer options, stateOverrides?, blockOverrides?}]`.
pub async fn trace_call(c: &RpcCtx, a: &[Value]) -> R {
    let req = parse_tracer(c, a.get(2))?;
    let mut call_args = vec![
        arg(a, 0, "transaction")?.clone(),
        a.get(1).cloned().unwrap_or(Value::Null),
    ];
    if let Some(opts) = a.get(2) {
        call_args.push(opts.get("stateOverrides").cloned().unwrap_or(Value::Null));
        call_args.push(opts.get("blockOverrides").cloned().unwrap_or(Value::Null));
    }
    blocking(c, move |c| {
        let (call, mut state, env) = prepare(c, &call_args)?;
        let gas = default_gas(c, &call, &env);
        let (msg, opts) = call_message(c, &call, gas, request_deadline(c))?;
        let (_, trace) =
            platon_vm::tracing::trace(&mut state, &c.node.store, &env, &msg, opts, &req.kind)
                .map_err(|e| exec_err(c, e))?
                .map_err(reject_err)?;
        req.steps(c, &trace, 0)?;
        Ok(trace)
    })
    .await
}

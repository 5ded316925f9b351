//! `platon bench load`: an open-loop load generator for any Ethereum JSON-RPC node. It funds fresh
//! senders, pre-signs EIP-1559 transfers (or ERC-20 transfers), offers them at a target rate in
//! JSON-RPC batches to one or more nodes, and measures what was accepted, what was committed and
//! the finality latency (submission to the `newHeads` notification of the block that holds it).

use crate::staking_cli::{q as quantity, request as call};
use alloy_primitives::{Address, Bytes, B256, U256};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use platon_crypto::SecretKey;
use platon_messages::{TxBody, TxKind};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What each offered transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadKind {
    /// A plain value transfer (21,000 gas) to a fresh address.
    Transfer,
    /// An ERC-20 `transfer` of one unit to a fresh holder (the test suite's `Token.sol`).
    Erc20,
}

/// The settings of one load run.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// JSON-RPC HTTP URLs; batches go to them round-robin.
    pub rpc: Vec<String>,
    /// WebSocket URL for `newHeads` (default: the first RPC URL with ws://).
    pub ws: Option<String>,
    /// Transactions offered per second.
    pub rate: u64,
    /// Seconds of offering.
    pub seconds: u64,
    /// Fresh senders the load is spread over.
    pub senders: usize,
    /// Transactions per JSON-RPC batch.
    pub batch: usize,
    /// Transfers or ERC-20 transfers.
    pub kind: LoadKind,
    /// The token's creation code (hex), for [`LoadKind::Erc20`].
    pub token_code: Option<Vec<u8>>,
    /// The funded account that pays for everything.
    pub funder: SecretKey,
    /// Seconds to wait for the last commits after offering stops.
    pub drain_seconds: u64,
    /// Most batches in flight at once; a batch that finds none free is sent late and counted.
    pub max_in_flight: usize,
    /// Seed of the senders' keys (a fresh seed gives fresh senders).
    pub seed: u64,
    /// Pending transactions a sender may have at once while being funded (the pool's nonce gap).
    pub fund_chunk: usize,
}

fn client(url: &str) -> Result<HttpClient, String> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .build(url)
        .map_err(|e| format!("bad RPC URL {url}: {e}"))
}

/// A sender key from the run's seed: keccak256(seed ‖ index), fresh for every seed.
fn sender_key(seed: u64, i: usize) -> Result<SecretKey, String> {
    let mut input = b"platon-bench-load".to_vec();
    input.extend_from_slice(&seed.to_be_bytes());
    input.extend_from_slice(&(i as u64).to_be_bytes());
    SecretKey::from_bytes(platon_crypto::keccak256(&input).as_slice()).map_err(|e| e.to_string())
}

/// A fresh recipient per transaction (so ERC-20 transfers create holders, as a busy token does).
fn recipient(seed: u64, i: usize) -> Address {
    let mut input = b"platon-bench-recipient".to_vec();
    input.extend_from_slice(&seed.to_be_bytes());
    input.extend_from_slice(&(i as u64).to_be_bytes());
    Address::from_slice(&platon_crypto::keccak256(&input)[12..])
}

/// ABI call data of `transfer(address,uint256)`.
fn erc20_transfer(to: Address, amount: U256) -> Bytes {
    let mut d = vec![0xa9, 0x05, 0x9c, 0xbb];
    d.extend_from_slice(&[0u8; 12]);
    d.extend_from_slice(to.as_slice());
    d.extend_from_slice(&amount.to_be_bytes::<32>());
    d.into()
}

/// ABI encoding of `Token`'s constructor arguments `(string name, string symbol, uint256 supply)`.
fn token_constructor(name: &str, symbol: &str, supply: U256) -> Vec<u8> {
    fn word(n: usize) -> [u8; 32] {
        U256::from(n).to_be_bytes::<32>()
    }
    fn string(s: &str) -> Vec<u8> {
        let mut out = word(s.len()).to_vec();
        let mut data = s.as_bytes().to_vec();
        data.resize(s.len().div_ceil(32) * 32, 0);
        out.extend_from_slice(&data);
        out
    }
    let (n, s) = (string(name), string(symbol));
    let mut out = Vec::new();
    out.extend_from_slice(&word(96));
    out.extend_from_slice(&word(96 + n.len()));
    out.extend_from_slice(&supply.to_be_bytes::<32>());
    out.extend_from_slice(&n);
    out.extend_from_slice(&s);
    out
}

/// Reads the token's creation code: a hex file, or the JSON `compile.mjs` prints
/// (`{"Token": {"bytecode": "0x…"}}`).
pub fn read_token_code(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let hex_text = match serde_json::from_str::<Value>(&text) {
        Ok(v) => v["Token"]["bytecode"]
            .as_str()
            .ok_or_else(|| format!("{}: no Token.bytecode", path.display()))?
            .to_string(),
        Err(_) => text.trim().to_string(),
    };
    hex::decode(hex_text.trim_start_matches("0x"))
        .map_err(|e| format!("{}: not hex creation code: {e}", path.display()))
}

struct Fees {
    chain_id: u64,
    max_fee: U256,
    tip: U256,
}

fn sign(
    key: &SecretKey,
    fees: &Fees,
    nonce: u64,
    gas: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
) -> (B256, String) {
    let tx = TxBody::DynamicFee {
        chain_id: fees.chain_id,
        nonce,
        max_priority_fee_per_gas: fees.tip,
        max_fee_per_gas: fees.max_fee,
        gas_limit: gas,
        to,
        value,
        input,
        access_list: Vec::new(),
    }
    .sign(key);
    (tx.hash, format!("0x{}", hex::encode(&tx.encoded)))
}

/// Sends `txs` in batches and waits until the sender's committed nonce reaches `until`.
async fn send_and_wait(
    c: &HttpClient,
    txs: &[(B256, String)],
    from: Address,
    until: u64,
) -> Result<(), String> {
    for chunk in txs.chunks(100) {
        let mut b = BatchRequestBuilder::new();
        for (_, raw) in chunk {
            b.insert("eth_sendRawTransaction", vec![raw.clone()])
                .map_err(|e| e.to_string())?;
        }
        let res = c
            .batch_request::<B256>(b)
            .await
            .map_err(|e| format!("funding batch: {e}"))?;
        for r in res.into_iter() {
            if let Err(e) = r {
                return Err(format!("funding transaction refused: {}", e.message()));
            }
        }
    }
    let started = Instant::now();
    loop {
        let n = quantity(
            &call(
                c,
                "eth_getTransactionCount",
                vec![json!(from), json!("latest")],
            )
            .await?,
        )?;
        if n as u64 >= until {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "funding: {from}'s nonce is {n} after 120 s, waiting for {until}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// An error message with its numbers replaced by `N`, so the report counts kinds of refusal
/// ("nonce too high: next nonce N, tx nonce N, …") rather than every instance.
fn error_class(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut in_number = false;
    for ch in msg.chars() {
        if ch.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(ch);
        }
    }
    out
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// What the commit watcher shares with the run: when each of our transactions was seen committed.
struct Commits {
    index: HashMap<B256, usize>,
    at: parking_lot::Mutex<Vec<Option<Instant>>>,
    count: AtomicU64,
    blocks: AtomicU64,
}

/// Follows `newHeads` on `ws` and marks our transactions in each new block as committed at the
/// moment the head arrived.
async fn watch_commits(ws: String, http: HttpClient, commits: Arc<Commits>) -> Result<(), String> {
    let wsc = jsonrpsee::ws_client::WsClientBuilder::default()
        .max_response_size(64 * 1024 * 1024)
        .build(&ws)
        .await
        .map_err(|e| format!("newHeads: cannot connect to {ws}: {e}"))?;
    let mut sub = wsc
        .subscribe::<Value, _>("eth_subscribe", vec!["newHeads"], "eth_unsubscribe")
        .await
        .map_err(|e| format!("newHeads subscription on {ws}: {e}"))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Instant)>(4096);
    // Block bodies are fetched beside the subscription, so a slow fetch does not delay the next
    // head's timestamp.
    let fetcher = {
        let commits = commits.clone();
        tokio::spawn(async move {
            while let Some((hash, seen)) = rx.recv().await {
                let Ok(block) =
                    call(&http, "eth_getBlockByHash", vec![json!(hash), json!(false)]).await
                else {
                    continue;
                };
                commits.blocks.fetch_add(1, Ordering::Relaxed);
                let Some(txs) = block["transactions"].as_array() else {
                    continue;
                };
                let mut at = commits.at.lock();
                for t in txs {
                    let Some(h) = t.as_str().and_then(|s| s.parse::<B256>().ok()) else {
                        continue;
                    };
                    if let Some(&i) = commits.index.get(&h) {
                        if at[i].is_none() {
                            at[i] = Some(seen);
                            commits.count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        })
    };
    while let Some(head) = sub.next().await {
        let seen = Instant::now();
        let Ok(head) = head else { break };
        if let Some(hash) = head["hash"].as_str() {
            if tx.send((hash.to_string(), seen)).await.is_err() {
                break;
            }
        }
    }
    drop(tx);
    let _ = fetcher.await;
    Ok(())
}

/// Runs the load and returns the report (JSON).
pub async fn run(s: LoadSettings) -> Result<Value, String> {
    if s.rpc.is_empty() {
        return Err("no --rpc URL".into());
    }
    if s.rate == 0 || s.seconds == 0 || s.senders == 0 || s.batch == 0 {
        return Err("--rate, --seconds, --senders and --batch must be positive".into());
    }
    let clients: Vec<HttpClient> = s.rpc.iter().map(|u| client(u)).collect::<Result<_, _>>()?;
    let c0 = &clients[0];
    let chain_id = quantity(&call(c0, "eth_chainId", vec![]).await?)? as u64;
    let latest = call(
        c0,
        "eth_getBlockByNumber",
        vec![json!("latest"), json!(false)],
    )
    .await?;
    let base_fee = latest["baseFeePerGas"]
        .as_str()
        .map(|_| quantity(&latest["baseFeePerGas"]))
        .transpose()?
        .unwrap_or(0);
    let tip = U256::from(1_000_000_000u64);
    // Room for the base fee to rise while blocks are full.
    let fees = Fees {
        chain_id,
        max_fee: U256::from(base_fee.max(1_000_000_000)) * U256::from(10u64) + tip,
        tip,
    };
    let total = usize::try_from(s.rate.saturating_mul(s.seconds)).map_err(|e| e.to_string())?;
    let per_sender = total.div_ceil(s.senders) as u64;
    let gas = match s.kind {
        LoadKind::Transfer => 21_000u64,
        LoadKind::Erc20 => 80_000u64,
    };
    let funder = s.funder.address();
    let mut nonce = quantity(
        &call(
            c0,
            "eth_getTransactionCount",
            vec![json!(funder), json!("pending")],
        )
        .await?,
    )? as u64;
    let setup_started = Instant::now();

    // The token, when the load is ERC-20 transfers.
    let token = match s.kind {
        LoadKind::Transfer => None,
        LoadKind::Erc20 => {
            let mut code = s
                .token_code
                .clone()
                .ok_or("--kind erc20 needs --token (Token.sol's creation code)")?;
            code.extend(token_constructor("Load", "LOAD", U256::MAX >> 1));
            let deploy = sign(
                &s.funder,
                &fees,
                nonce,
                3_000_000,
                TxKind::Create,
                U256::ZERO,
                code.into(),
            );
            let address = funder.create(nonce);
            nonce += 1;
            send_and_wait(c0, &[deploy], funder, nonce).await?;
            let code = call(c0, "eth_getCode", vec![json!(address), json!("latest")]).await?;
            if code.as_str().is_none_or(|c| c.len() <= 2) {
                return Err(format!("the token deploy left no code at {address}"));
            }
            Some(address)
        }
    };

    // Fresh senders, funded in chunks the pool's nonce gap allows.
    let keys: Vec<SecretKey> = (0..s.senders)
        .map(|i| sender_key(s.seed, i))
        .collect::<Result<_, _>>()?;
    let value = U256::from(1u64);
    let budget = (U256::from(gas) * fees.max_fee + value) * U256::from(per_sender + 1);
    let mut funding = Vec::new();
    for k in &keys {
        funding.push(sign(
            &s.funder,
            &fees,
            nonce,
            21_000,
            TxKind::Call(k.address()),
            budget,
            Bytes::new(),
        ));
        nonce += 1;
        if let Some(t) = token {
            let units = U256::from(per_sender + 1);
            funding.push(sign(
                &s.funder,
                &fees,
                nonce,
                100_000,
                TxKind::Call(t),
                U256::ZERO,
                erc20_transfer(k.address(), units),
            ));
            nonce += 1;
        }
    }
    let first = nonce - funding.len() as u64;
    for (i, chunk) in funding.chunks(s.fund_chunk.max(1)).enumerate() {
        let until = first + (i * s.fund_chunk.max(1) + chunk.len()) as u64;
        send_and_wait(c0, chunk, funder, until).await?;
    }
    let setup_s = setup_started.elapsed().as_secs_f64();

    // Pre-signed load: transaction j is sender j mod S's nonce j div S.
    let sign_started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let signed: Vec<(B256, String)> = {
        let (keys, fees) = (&keys, &fees);
        let mut parts: Vec<Vec<(B256, String)>> = Vec::new();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        let lo = total * t / threads;
                        let hi = total * (t + 1) / threads;
                        (lo..hi)
                            .map(|j| {
                                let key = &keys[j % keys.len()];
                                let nonce = (j / keys.len()) as u64;
                                let to = recipient(s.seed, j);
                                match token {
                                    None => sign(
                                        key,
                                        fees,
                                        nonce,
                                        gas,
                                        TxKind::Call(to),
                                        value,
                                        Bytes::new(),
                                    ),
                                    Some(t) => sign(
                                        key,
                                        fees,
                                        nonce,
                                        gas,
                                        TxKind::Call(t),
                                        U256::ZERO,
                                        erc20_transfer(to, U256::from(1u64)),
                                    ),
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                parts.push(h.join().unwrap_or_default());
            }
        });
        parts.into_iter().flatten().collect()
    };
    if signed.len() != total {
        return Err("a signing thread failed".into());
    }
    let sign_s = sign_started.elapsed().as_secs_f64();

    // Commits, from newHeads on the first node.
    let commits = Arc::new(Commits {
        index: signed
            .iter()
            .enumerate()
            .map(|(i, (h, _))| (*h, i))
            .collect(),
        at: parking_lot::Mutex::new(vec![None; total]),
        count: AtomicU64::new(0),
        blocks: AtomicU64::new(0),
    });
    let ws = s.ws.clone().unwrap_or_else(|| {
        s.rpc[0]
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
    });
    let watcher = tokio::spawn(watch_commits(ws, clients[0].clone(), commits.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    if watcher.is_finished() {
        return match watcher.await {
            Ok(Err(e)) => Err(e),
            _ => Err("the newHeads watcher stopped".into()),
        };
    }

    // Open-loop offering: batch k leaves at k × batch / rate seconds, whatever happened before.
    let signed = Arc::new(signed);
    let sent_at = Arc::new(parking_lot::Mutex::new(vec![None::<Instant>; total]));
    let accepted = Arc::new(parking_lot::Mutex::new(vec![false; total]));
    let errors = Arc::new(parking_lot::Mutex::new(BTreeMap::<String, u64>::new()));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(s.max_in_flight.max(1)));
    let late = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let interval = Duration::from_secs_f64(s.batch as f64 / s.rate as f64);
    let mut tasks = Vec::new();
    for (k, lo) in (0..total).step_by(s.batch).enumerate() {
        let hi = (lo + s.batch).min(total);
        let due = start + interval.mul_f64(k as f64);
        tokio::time::sleep_until(due.into()).await;
        let permit = match in_flight.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                late.fetch_add(1, Ordering::Relaxed);
                in_flight
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        let c = clients[k % clients.len()].clone();
        let (signed, sent_at, accepted, errors) = (
            signed.clone(),
            sent_at.clone(),
            accepted.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let mut b = BatchRequestBuilder::new();
            for (_, raw) in &signed[lo..hi] {
                if b.insert("eth_sendRawTransaction", vec![raw.clone()])
                    .is_err()
                {
                    return;
                }
            }
            let now = Instant::now();
            {
                let mut at = sent_at.lock();
                for slot in &mut at[lo..hi] {
                    *slot = Some(now);
                }
            }
            match c.batch_request::<B256>(b).await {
                Ok(res) => {
                    let mut acc = accepted.lock();
                    let mut errs = errors.lock();
                    for (i, r) in res.into_iter().enumerate() {
                        match r {
                            Ok(_) => acc[lo + i] = true,
                            Err(e) => *errs.entry(error_class(e.message())).or_default() += 1,
                        }
                    }
                }
                Err(e) => {
                    *errors
                        .lock()
                        .entry(format!("batch failed: {e}"))
                        .or_default() += (hi - lo) as u64;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let offer_s = start.elapsed().as_secs_f64();
    let n_accepted = accepted.lock().iter().filter(|a| **a).count() as u64;

    // Drain: until every accepted transaction committed, nothing committed for 10 s, or the limit.
    let drain_started = Instant::now();
    let mut last = (commits.count.load(Ordering::Relaxed), Instant::now());
    loop {
        let n = commits.count.load(Ordering::Relaxed);
        if n >= n_accepted {
            break;
        }
        if n != last.0 {
            last = (n, Instant::now());
        }
        if last.1.elapsed() > Duration::from_secs(10)
            || drain_started.elapsed() > Duration::from_secs(s.drain_seconds)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();

    let sent_at = sent_at.lock().clone();
    let at = commits.at.lock().clone();
    let mut latencies = Vec::new();
    let mut last_commit = start;
    for i in 0..total {
        if let (Some(sent), Some(done)) = (sent_at[i], at[i]) {
            latencies.push(done.saturating_duration_since(sent).as_secs_f64());
            last_commit = last_commit.max(done);
        }
    }
    latencies.sort_by(f64::total_cmp);
    // A committed ERC-20 transfer may still have reverted: the first committed one's holder must
    // hold its unit.
    let mut erc20_check = Value::Null;
    if let Some(t) = token {
        if let Some(i) = (0..total).find(|&i| at[i].is_some()) {
            let mut data = vec![0x70, 0xa0, 0x82, 0x31];
            data.extend_from_slice(&[0u8; 12]);
            data.extend_from_slice(recipient(s.seed, i).as_slice());
            let call_obj = json!({"to": t, "data": Bytes::from(data)});
            let got = call(c0, "eth_call", vec![call_obj, json!("latest")]).await?;
            let units = got
                .as_str()
                .map(|h| U256::from_str_radix(h.trim_start_matches("0x"), 16));
            erc20_check = match units {
                Some(Ok(u)) if u == U256::from(1u64) => json!("the first holder holds its unit"),
                other => {
                    return Err(format!(
                    "ERC-20 transfers were committed but did not move tokens (balanceOf {other:?})"
                ))
                }
            };
        }
    }
    let committed = latencies.len() as u64;
    let commit_span = last_commit.saturating_duration_since(start).as_secs_f64();
    let errors = errors.lock().clone();
    Ok(json!({
        "rpc": s.rpc,
        "kind": match s.kind { LoadKind::Transfer => "transfer", LoadKind::Erc20 => "erc20" },
        "senders": s.senders,
        "batch": s.batch,
        "offered_tps": s.rate,
        "offered": total,
        "offer_seconds": round3(offer_s),
        "late_batches": late.load(Ordering::Relaxed),
        "accepted": n_accepted,
        "accepted_tps": round3(n_accepted as f64 / offer_s.max(1e-9)),
        "refused": errors.values().sum::<u64>(),
        "errors": errors,
        "committed": committed,
        "committed_tps": round3(committed as f64 / commit_span.max(1e-9)),
        "blocks": commits.blocks.load(Ordering::Relaxed),
        "finality_s": {
            "p50": round3(percentile(&latencies, 50.0)),
            "p99": round3(percentile(&latencies, 99.0)),
            "max": round3(latencies.last().copied().unwrap_or(0.0)),
        },
        "erc20_check": erc20_check,
        "setup_seconds": round3(setup_s),
        "sign_seconds": round3(sign_s),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_encodings_follow_the_solidity_abi() {
        let d = erc20_transfer(Address::repeat_byte(0x11), U256::from(5u64));
        assert_eq!(&d[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(d.len(), 68);
        assert_eq!(&d[16..36], Address::repeat_byte(0x11).as_slice());
        assert_eq!(d[67], 5);
        let c = token_constructor("Load", "LOAD", U256::from(7u64));
        // Three head words, then each string as a length word and one data word.
        assert_eq!(c.len(), 32 * 7);
        assert_eq!(c[31], 96);
        assert_eq!(c[63], 160);
        assert_eq!(c[95], 7);
        assert_eq!(c[127], 4);
        assert_eq!(&c[128..132], b"Load");
    }

    #[test]
    fn percentiles_take_the_ranked_sample() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn errors_are_counted_by_kind() {
        assert_eq!(
            error_class("nonce too high: next nonce 42, tx nonce 117, at most 64 ahead are queued"),
            "nonce too high: next nonce N, tx nonce N, at most N ahead are queued"
        );
    }

    #[test]
    fn senders_are_fresh_per_seed() {
        let a = sender_key(1, 0).expect("key").address();
        let b = sender_key(2, 0).expect("key").address();
        assert_ne!(a, b);
        assert_eq!(a, sender_key(1, 0).expect("key").address());
    }
}

//! The method implementations of the gateway.

use super::json::*;
use crate::handles::{CbftHandle, RedirHandle, TxPoolHandle};
use crate::{names, NodeContext};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use platon_messages::actors::PoolError;
use platon_messages::{Block, Header, SignedTransaction, TxBody, TxKind};
use platon_supervision::CallError;
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// The tip suggested to clients (1 gwei, as geth's dev mode).
pub const SUGGESTED_TIP: u64 = 1_000_000_000;
/// Most blocks `eth_feeHistory` reports at once.
pub const FEE_HISTORY_MAX_BLOCKS: u64 = 1024;

/// What every method sees.
#[derive(Clone, Debug)]
pub struct RpcCtx {
    /// Shared node context.
    pub node: NodeContext,
    /// New heads, for `eth_subscribe("newHeads")` and `eth_subscribe("logs")`.
    pub heads: broadcast::Sender<Header>,
    /// Installed filters.
    pub filters: std::sync::Arc<parking_lot::Mutex<super::evm::Filters>>,
}

pub(super) type R = Result<Value, ErrorObjectOwned>;

fn args(p: &Params<'_>) -> Result<Vec<Value>, ErrorObjectOwned> {
    match p.as_str() {
        None => Ok(vec![]),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(Value::Null) => Ok(vec![]),
            Ok(_) => Err(invalid_params(
                "positional parameters (a JSON array) expected",
            )),
            Err(e) => Err(invalid_params(e.to_string())),
        },
    }
}

pub(super) fn arg<'a>(a: &'a [Value], i: usize, what: &str) -> Result<&'a Value, ErrorObjectOwned> {
    a.get(i)
        .ok_or_else(|| invalid_params(format!("missing value for required argument {i} ({what})")))
}

pub(super) fn storage_err(e: platon_storage::StorageError) -> ErrorObjectOwned {
    match e {
        platon_storage::StorageError::MissingNode(h) => rpc_err(
            SERVER_ERROR,
            format!("missing trie node {h}: that block's state was pruned (the node runs --state.mode full); query a recent block or an archive node"),
        ),
        e => rpc_err(INTERNAL_ERROR, format!("storage: {e}")),
    }
}

fn unavailable(e: CallError) -> ErrorObjectOwned {
    rpc_err(SERVER_ERROR, format!("{e}"))
}

fn pool_err(e: PoolError) -> ErrorObjectOwned {
    rpc_err(SERVER_ERROR, e.to_string())
}

impl RpcCtx {
    fn head(&self) -> Result<Block, ErrorObjectOwned> {
        self.node.store.head().map_err(storage_err)
    }

    pub(super) fn block(&self, id: BlockId) -> Result<Option<Block>, ErrorObjectOwned> {
        match id {
            BlockId::Latest | BlockId::Pending => self.head().map(Some),
            BlockId::Number(n) => self.node.store.block_by_number(n).map_err(storage_err),
            BlockId::Hash(h) => self.node.store.block_by_hash(&h).map_err(storage_err),
        }
    }

    fn block_or_err(&self, id: BlockId) -> Result<Block, ErrorObjectOwned> {
        self.block(id)?
            .ok_or_else(|| rpc_err(SERVER_ERROR, "header not found"))
    }

    /// The header of a block, without decoding its transactions (state lookups need only the root).
    pub(super) fn header_or_err(&self, id: BlockId) -> Result<Header, ErrorObjectOwned> {
        let header = match id {
            BlockId::Latest | BlockId::Pending => {
                Some(self.node.store.head_header().map_err(storage_err)?)
            }
            BlockId::Number(n) => self.node.store.header_by_number(n).map_err(storage_err)?,
            BlockId::Hash(h) => self.node.store.header_by_hash(&h).map_err(storage_err)?,
        };
        header.ok_or_else(|| rpc_err(SERVER_ERROR, "header not found"))
    }

    fn state(&self, id: BlockId) -> Result<platon_storage::StateDb, ErrorObjectOwned> {
        Ok(self.node.store.state_of(&self.header_or_err(id)?))
    }

    fn account(
        &self,
        addr: &Address,
        id: BlockId,
    ) -> Result<platon_storage::Account, ErrorObjectOwned> {
        self.state(id)?.account(addr).map_err(storage_err)
    }

    pub(super) fn pool(&self) -> TxPoolHandle {
        TxPoolHandle(self.node.registry.clone())
    }

    fn chain_id(&self) -> u64 {
        self.node.store.chain_id()
    }

    async fn submit(&self, tx: SignedTransaction) -> R {
        match self.pool().submit_and_flood(tx).await {
            Ok(Ok(hash)) => Ok(json!(hash)),
            Ok(Err(e)) => Err(pool_err(e)),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn pending_nonce(&self, addr: Address) -> Result<u64, ErrorObjectOwned> {
        let state_nonce = self.account(&addr, BlockId::Latest)?.nonce;
        Ok(self
            .pool()
            .next_nonce(addr)
            .await
            .map_err(unavailable)?
            .unwrap_or(state_nonce)
            .max(state_nonce))
    }
}

fn chain_id(c: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(qty(c.chain_id())))
}

fn net_version(c: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(c.chain_id().to_string()))
}

fn client_version(_: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(format!(
        "platon-rs/v{}/{}-{}/rust",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )))
}

fn listening(_: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(true))
}

fn peer_count(_: &RpcCtx, _: &[Value]) -> R {
    // The dev chain runs alone; the overlay (a later subsystem) will report its links here.
    Ok(json!("0x0"))
}

/// `eth_syncing`: false once caught up; while the node replays the blocks it missed, geth's object
/// (starting, current and highest block).
fn syncing(c: &RpcCtx, _: &[Value]) -> R {
    let head = c.header_or_err(BlockId::Latest)?;
    Ok(c.node.sync.eth_syncing(head.number))
}

fn block_number(c: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(qty(c.header_or_err(BlockId::Latest)?.number)))
}

fn accounts(c: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(c
        .node
        .dev_keys
        .iter()
        .map(|k| k.address())
        .collect::<Vec<_>>()))
}

fn get_balance(c: &RpcCtx, a: &[Value]) -> R {
    let addr = parse_address(arg(a, 0, "address")?, "address")?;
    let id = parse_block_id(a.get(1))?;
    Ok(json!(qty(c.account(&addr, id)?.balance)))
}

async fn get_transaction_count(c: &RpcCtx, a: &[Value]) -> R {
    let addr = parse_address(arg(a, 0, "address")?, "address")?;
    let id = parse_block_id(a.get(1))?;
    if id == BlockId::Pending {
        return Ok(json!(qty(c.pending_nonce(addr).await?)));
    }
    super::evm::blocking(c, move |c| Ok(json!(qty(c.account(&addr, id)?.nonce)))).await
}

fn get_code(c: &RpcCtx, a: &[Value]) -> R {
    let addr = parse_address(arg(a, 0, "address")?, "address")?;
    let code = c
        .state(parse_block_id(a.get(1))?)?
        .code(&addr)
        .map_err(storage_err)?;
    Ok(json!(format!("0x{}", hex::encode(code))))
}

fn hex_list(nodes: &[Vec<u8>]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| format!("0x{}", hex::encode(n)))
        .collect()
}

fn get_storage_at(c: &RpcCtx, a: &[Value]) -> R {
    let addr = parse_address(arg(a, 0, "address")?, "address")?;
    let slot = parse_u256(arg(a, 1, "storage slot")?, "storage slot")?;
    let state = c.state(parse_block_id(a.get(2))?)?;
    let v = state
        .storage(&addr, B256::from(slot))
        .map_err(storage_err)?;
    Ok(storage_word(v))
}

/// Most storage keys one `eth_getProof` call may ask for.
pub const MAX_PROOF_KEYS: usize = 256;

fn get_proof(c: &RpcCtx, a: &[Value]) -> R {
    let addr = parse_address(arg(a, 0, "address")?, "address")?;
    let keys = arg(a, 1, "storage keys")?
        .as_array()
        .ok_or_else(|| invalid_params("storage keys: array expected"))?;
    if keys.len() > MAX_PROOF_KEYS {
        return Err(invalid_params(format!(
            "at most {MAX_PROOF_KEYS} storage keys per call"
        )));
    }
    let state = c.state(parse_block_id(a.get(2))?)?;
    let (account, account_proof) = state.prove_account(&addr).map_err(storage_err)?;
    let mut storage_proof = Vec::with_capacity(keys.len());
    for k in keys {
        let slot = parse_u256(k, "storage key")?;
        let (value, proof) = state
            .prove_storage(account.storage_root, B256::from(slot))
            .map_err(storage_err)?;
        storage_proof.push(json!({ "key": k, "value": qty(value), "proof": hex_list(&proof) }));
    }
    Ok(json!({
        "address": addr,
        "accountProof": hex_list(&account_proof),
        "balance": qty(account.balance),
        "codeHash": account.code_hash,
        "nonce": qty(account.nonce),
        "storageHash": account.storage_root,
        "storageProof": storage_proof,
    }))
}

fn gas_price(c: &RpcCtx, _: &[Value]) -> R {
    let base = platon_vm::next_base_fee(&c.header_or_err(BlockId::Latest)?);
    Ok(json!(qty(U256::from(base) + U256::from(SUGGESTED_TIP))))
}

fn max_priority_fee(_: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(qty(SUGGESTED_TIP)))
}

fn fee_history(c: &RpcCtx, a: &[Value]) -> R {
    let count = parse_u64(arg(a, 0, "blockCount")?, "blockCount")?.min(FEE_HISTORY_MAX_BLOCKS);
    let newest = c.block_or_err(parse_block_id(Some(arg(a, 1, "newestBlock")?))?)?;
    let percentiles: Vec<f64> = match a.get(2) {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(p)) => p
            .iter()
            .map(|x| {
                x.as_f64()
                    .ok_or_else(|| invalid_params("rewardPercentiles: numbers expected"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid_params("rewardPercentiles: array expected")),
    };
    if percentiles.iter().any(|p| !(0.0..=100.0).contains(p))
        || percentiles.windows(2).any(|w| w[0] > w[1])
    {
        return Err(invalid_params(
            "rewardPercentiles must be ascending values between 0 and 100",
        ));
    }
    let newest_n = newest.header.number;
    let oldest = newest_n.saturating_sub(count.saturating_sub(1));
    let mut base_fees = Vec::new();
    let mut ratios = Vec::new();
    let mut rewards = Vec::new();
    let mut last_header = None;
    if count > 0 {
        for n in oldest..=newest_n {
            let b = c.block_or_err(BlockId::Number(n))?;
            let h = &b.header;
            base_fees.push(json!(qty(h.base_fee_per_gas)));
            ratios.push(json!(if h.gas_limit == 0 {
                0.0
            } else {
                h.gas_used as f64 / h.gas_limit as f64
            }));
            if !percentiles.is_empty() {
                let receipts = c
                    .node
                    .store
                    .receipts(&b.hash())
                    .map_err(storage_err)?
                    .unwrap_or_default();
                let base = U256::from(h.base_fee_per_gas);
                let mut tips: Vec<(U256, u64)> = b
                    .transactions
                    .iter()
                    .zip(&receipts)
                    .map(|(t, r)| {
                        (
                            t.body.effective_gas_price(base).saturating_sub(base),
                            r.gas_used,
                        )
                    })
                    .collect();
                tips.sort();
                let row: Vec<Value> = percentiles
                    .iter()
                    .map(|p| {
                        if tips.is_empty() {
                            return json!("0x0");
                        }
                        let threshold = (h.gas_used as f64 * p / 100.0) as u64;
                        let mut acc = 0u64;
                        for (tip, gas) in &tips {
                            acc = acc.saturating_add(*gas);
                            if acc >= threshold {
                                return json!(qty(*tip));
                            }
                        }
                        json!(qty(tips[tips.len() - 1].0))
                    })
                    .collect();
                rewards.push(json!(row));
            }
            last_header = Some(b.header);
        }
    }
    if let Some(h) = last_header {
        base_fees.push(json!(qty(platon_vm::next_base_fee(&h))));
    }
    let mut out =
        json!({ "oldestBlock": qty(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios });
    if !percentiles.is_empty() {
        out["reward"] = json!(rewards);
    }
    Ok(out)
}

/// A call object (`eth_call`, `eth_estimateGas`, `eth_sendTransaction`).
#[derive(Debug, Clone)]
pub(super) struct CallObject {
    pub(super) from: Option<Address>,
    pub(super) to: Option<Address>,
    pub(super) gas: Option<u64>,
    pub(super) gas_price: Option<U256>,
    pub(super) max_fee: Option<U256>,
    pub(super) max_tip: Option<U256>,
    pub(super) value: U256,
    pub(super) input: Bytes,
    pub(super) nonce: Option<u64>,
    pub(super) access_list: Vec<platon_messages::AccessListItem>,
}

pub(super) fn parse_call(v: &Value) -> Result<CallObject, ErrorObjectOwned> {
    let o = v
        .as_object()
        .ok_or_else(|| invalid_params("transaction object expected"))?;
    let opt = |k: &str| o.get(k).filter(|v| !v.is_null());
    let input = match (opt("input"), opt("data")) {
        (Some(i), Some(d)) if i != d => {
            return Err(invalid_params(
                "both \"data\" and \"input\" are set and not equal",
            ))
        }
        (Some(i), _) => parse_bytes(i, "input")?,
        (None, Some(d)) => parse_bytes(d, "data")?,
        (None, None) => Bytes::new(),
    };
    Ok(CallObject {
        from: opt("from").map(|v| parse_address(v, "from")).transpose()?,
        to: opt("to").map(|v| parse_address(v, "to")).transpose()?,
        gas: opt("gas").map(|v| parse_u64(v, "gas")).transpose()?,
        gas_price: opt("gasPrice")
            .map(|v| parse_u256(v, "gasPrice"))
            .transpose()?,
        max_fee: opt("maxFeePerGas")
            .map(|v| parse_u256(v, "maxFeePerGas"))
            .transpose()?,
        max_tip: opt("maxPriorityFeePerGas")
            .map(|v| parse_u256(v, "maxPriorityFeePerGas"))
            .transpose()?,
        value: opt("value")
            .map(|v| parse_u256(v, "value"))
            .transpose()?
            .unwrap_or_default(),
        input,
        nonce: opt("nonce").map(|v| parse_u64(v, "nonce")).transpose()?,
        access_list: match opt("accessList") {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| invalid_params(format!("accessList: {e}")))?,
            None => vec![],
        },
    })
}

/// `platon_findService(service, key)`: the provider ReDiR finds for `key` (a 32-hex-digit id; a
/// longer hex string or any text is hashed into the id space), or null.
async fn find_service(c: &RpcCtx, a: &[Value]) -> R {
    let service = arg(a, 0, "service")?
        .as_str()
        .ok_or_else(|| invalid_params("service: a string expected"))?
        .to_string();
    if !platon_config::SERVICES.contains(&service.as_str()) {
        return Err(invalid_params(format!(
            "unknown service {service:?}; use one of {}",
            platon_config::SERVICES.join(", ")
        )));
    }
    let key = match a.get(1) {
        None | Some(Value::Null) => platon_messages::reload::NodeId(0),
        Some(Value::String(s)) => match platon_messages::reload::NodeId::from_hex(s) {
            Some(id) => id,
            None => {
                let h = keccak256(s.as_bytes());
                let mut b = [0u8; 16];
                b.copy_from_slice(&h[..16]);
                platon_messages::reload::NodeId::from_bytes(b)
            }
        },
        Some(_) => return Err(invalid_params("key: a string expected")),
    };
    let found = match RedirHandle::of_node(c.node.registry.clone())
        .find(service, key)
        .await
    {
        Err(CallError::Unknown(_)) => {
            return Err(rpc_err(
                SERVER_ERROR,
                "service discovery is off: this node is not in an overlay (overlay.enabled)",
            ))
        }
        r => r.map_err(unavailable)?,
    }
    .map_err(|e| rpc_err(SERVER_ERROR, format!("service lookup failed: {e}")))?;
    Ok(match found {
        None => Value::Null,
        Some(p) => json!({
            "nodeId": format!("0x{}", p.node_id),
            "service": p.namespace,
            "level": p.level,
            "interval": p.node,
            "key": format!("0x{}", key),
        }),
    })
}

/// `platon_getBlockQuorumCertByHash(hash)`: the QC stored with a committed block: slot, signer
/// bit-array, aggregate BLS signature and the hash it signs, for anyone to check against the
/// validators' public keys.
fn quorum_cert(c: &RpcCtx, a: &[Value]) -> R {
    let hash = parse_hash(arg(a, 0, "block hash")?, "block hash")?;
    let Some(bytes) = c.node.store.qc(&hash).map_err(storage_err)? else {
        return Ok(Value::Null);
    };
    let Ok(platon_messages::cbft::CbftMsg::Qc(qc)) = platon_messages::cbft::CbftMsg::decode(&bytes)
    else {
        return Err(rpc_err(SERVER_ERROR, "the stored QC does not decode"));
    };
    Ok(json!({
        "epoch": qc.data.epoch,
        "viewNumber": qc.data.view,
        "blockIndex": qc.data.index,
        "blockNumber": qc.data.number,
        "blockHash": qc.data.hash,
        "signers": qc.signers.iter().map(|b| if *b { '1' } else { '0' }).collect::<String>(),
        "signature": format!("0x{}", hex::encode(&qc.signature)),
        "signedHash": qc.data.signing_hash(),
    }))
}

/// A node without consensus says so plainly.
fn cbft_err(e: CallError) -> ErrorObjectOwned {
    match e {
        CallError::Unknown(_) => {
            rpc_err(SERVER_ERROR, "this node does not run CBFT (cbft.enabled)")
        }
        e => unavailable(e),
    }
}

/// `platon_evidences()`: verified evidence of equivocation this node holds.
async fn evidences(c: &RpcCtx, _a: &[Value]) -> R {
    CbftHandle(c.node.registry.clone())
        .evidences()
        .await
        .map_err(cbft_err)
}

/// `platon_vcTasks()`: the tasks a computing node's `vc_pool` knows (pending in blocks not yet
/// final, open with this node's progress, recently finished), its account and its queue's height.
async fn vc_tasks(c: &RpcCtx, _a: &[Value]) -> R {
    crate::handles::VcPoolHandle(c.node.registry.clone())
        .tasks()
        .await
        .map_err(|e| match e {
            CallError::Unknown(_) => rpc_err(
                SERVER_ERROR,
                "this node is not a computing node (start it with --vc, or set vc.enabled)",
            ),
            e => unavailable(e),
        })
}

/// `platon_accelerator()`: the accelerator's backend and its job counters.
fn accelerator(c: &RpcCtx, _a: &[Value]) -> R {
    Ok(c.node.accelerator.to_json())
}

/// `platon_consensusStatus()`: view, highest QC and committed height of this node.
async fn consensus_status(c: &RpcCtx, _a: &[Value]) -> R {
    CbftHandle(c.node.registry.clone())
        .status()
        .await
        .map_err(cbft_err)
}

// ---- staking reads (the staking contract's ledger at the latest block) ---------------------------

fn candidate_json(c: &platon_vm::ppos::staking::Candidate) -> Value {
    use platon_vm::ppos::staking::Status;
    json!({
        "nodeId": format!("0x{:032x}", c.node_id),
        "stakingAddress": c.staking_address,
        "benefitAddress": c.benefit_address,
        "blsPubKey": format!("0x{}", hex::encode(c.bls_key)),
        "vrfPubKey": format!("0x{}", hex::encode(c.vrf_key)),
        "rewardPer": c.reward_per,
        "nodeName": c.name,
        "shares": qty(c.total_stake()),
        "released": qty(c.stake),
        "releasedHes": qty(c.stake_pending),
        "delegateTotal": qty(c.delegated),
        "delegateTotalHes": qty(c.delegated_pending),
        "stakingBlockNum": c.staking_block,
        "stakingTxIndex": c.staking_seq,
        "status": match c.status {
            Status::Active => "active",
            Status::Withdrawn => "withdrawn",
            Status::Slashed => "slashed",
            Status::LowRatio => "lowRatio",
        },
    })
}

fn parse_node_id(v: &Value) -> Result<u128, ErrorObjectOwned> {
    v.as_str()
        .and_then(|s| u128::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| invalid_params("node id: 16 bytes in hex"))
}

fn staking_read<T>(
    c: &RpcCtx,
    f: impl FnOnce(&platon_vm::ppos::staking::Ledger<'_>) -> Result<T, platon_storage::StorageError>,
) -> Result<T, ErrorObjectOwned> {
    let mut state = c.state(BlockId::Latest)?;
    let ledger = platon_vm::ppos::staking::Ledger {
        state: &mut state,
        contract: platon_vm::system::STAKING,
    };
    f(&ledger).map_err(storage_err)
}

fn candidates_json(
    l: &platon_vm::ppos::staking::Ledger<'_>,
    ids: Vec<u128>,
) -> Result<Value, platon_storage::StorageError> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(c) = l.candidate(id)? {
            out.push(candidate_json(&c));
        }
    }
    Ok(json!(out))
}

/// `platon_getCandidateList()`: every candidate, in staking order.
fn candidate_list(c: &RpcCtx, _a: &[Value]) -> R {
    staking_read(c, |l| candidates_json(l, l.candidate_ids()?))
}

/// `platon_getVerifierList()`: this epoch's verifiers, ranked.
fn verifier_list(c: &RpcCtx, _a: &[Value]) -> R {
    staking_read(c, |l| candidates_json(l, l.verifiers()?))
}

/// `platon_getValidatorList()`: this round's validators, in validator-index order.
fn validator_list(c: &RpcCtx, _a: &[Value]) -> R {
    staking_read(c, |l| candidates_json(l, l.validators()?))
}

/// `platon_getRoundValidators(round)`: the consensus set the chain recorded for a round (its
/// election's result, fixed since), in validator-index order: Node-ID, BLS and VRF keys. Empty
/// when that round is not elected yet.
fn round_validators(c: &RpcCtx, a: &[Value]) -> R {
    let round = match arg(a, 0, "round")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
        _ => None,
    }
    .ok_or_else(|| invalid_params("round: a number or a hex quantity"))?;
    staking_read(c, |l| {
        Ok(json!(l
            .round_set(round)?
            .iter()
            .map(|s| json!({
                "nodeId": format!("0x{:032x}", s.node_id),
                "blsPubKey": format!("0x{}", hex::encode(s.bls_key)),
                "vrfPubKey": format!("0x{}", hex::encode(s.vrf_key)),
            }))
            .collect::<Vec<_>>()))
    })
}

/// `platon_getCandidateInfo(nodeId)`: one candidate, or null.
fn candidate_info(c: &RpcCtx, a: &[Value]) -> R {
    let id = parse_node_id(arg(a, 0, "node id")?)?;
    staking_read(c, |l| {
        Ok(l.candidate(id)?
            .map(|c| candidate_json(&c))
            .unwrap_or(Value::Null))
    })
}

/// `platon_getDelegateInfo(delegator, nodeId)`: the delegation, settled to this epoch.
fn delegate_info(c: &RpcCtx, a: &[Value]) -> R {
    let who = parse_address(arg(a, 0, "delegator")?, "delegator")?;
    let id = parse_node_id(arg(a, 1, "node id")?)?;
    staking_read(c, |l| {
        let d = l.delegation(who, id)?;
        Ok(json!({
            "delegateAddress": who,
            "nodeId": format!("0x{id:032x}"),
            "released": qty(d.amount),
            "releasedHes": qty(d.pending),
            "delegateEpoch": d.pending_epoch,
        }))
    })
}

async fn send_raw_transaction(c: &RpcCtx, a: &[Value]) -> R {
    let raw = parse_bytes(arg(a, 0, "data")?, "data")?;
    // Decoding recovers the sender (secp256k1): CPU work, off the runtime's workers.
    let tx = super::evm::blocking(c, move |c| {
        SignedTransaction::decode(&raw, &c.node.store.tx_rules())
            .map_err(|e| rpc_err(SERVER_ERROR, e.to_string()))
    })
    .await?;
    c.submit(tx).await
}

fn dev_key(c: &RpcCtx, addr: &Address) -> Result<platon_crypto::SecretKey, ErrorObjectOwned> {
    c.node
        .dev_keys
        .iter()
        .find(|k| k.address() == *addr)
        .copied()
        .ok_or_else(|| rpc_err(SERVER_ERROR, "unknown account"))
}

/// What a transaction object leaves out, filled as geth fills it: the gas limit by estimation, the
/// sender's next nonce, EIP-1559 fees (tip 1 gwei, cap twice the next base fee plus the tip) unless a
/// gas price is given.
async fn fill_body(c: &RpcCtx, tx_arg: &Value) -> Result<(CallObject, TxBody), ErrorObjectOwned> {
    let call = parse_call(tx_arg)?;
    let from = call
        .from
        .ok_or_else(|| invalid_params("transaction object needs \"from\""))?;
    let gas_limit = match call.gas {
        Some(g) => g,
        None => {
            let est = super::evm::estimate_gas(c, std::slice::from_ref(tx_arg)).await?;
            parse_u64(&est, "estimate")?
        }
    };
    let nonce = match call.nonce {
        Some(n) => n,
        None => c.pending_nonce(from).await?,
    };
    let body = body_of(c, &call, gas_limit, nonce)?;
    Ok((call, body))
}

/// The transaction body of a call object with its gas limit and nonce decided.
pub(super) fn body_of(
    c: &RpcCtx,
    call: &CallObject,
    gas_limit: u64,
    nonce: u64,
) -> Result<TxBody, ErrorObjectOwned> {
    let to = call.to.map(TxKind::Call).unwrap_or(TxKind::Create);
    let base = U256::from(platon_vm::next_base_fee(&c.header_or_err(BlockId::Latest)?));
    Ok(match (call.gas_price, call.max_fee, call.max_tip) {
        (Some(gas_price), None, None) if call.access_list.is_empty() => TxBody::Legacy {
            chain_id: Some(c.chain_id()),
            nonce,
            gas_price,
            gas_limit,
            to,
            value: call.value,
            input: call.input.clone(),
        },
        (Some(gas_price), None, None) => TxBody::AccessList {
            chain_id: c.chain_id(),
            nonce,
            gas_price,
            gas_limit,
            to,
            value: call.value,
            input: call.input.clone(),
            access_list: call.access_list.clone(),
        },
        (None, fee, tip) => {
            let tip = tip.unwrap_or(U256::from(SUGGESTED_TIP));
            let fee = fee.unwrap_or(base.saturating_mul(U256::from(2)).saturating_add(tip));
            TxBody::DynamicFee {
                chain_id: c.chain_id(),
                nonce,
                max_priority_fee_per_gas: tip,
                max_fee_per_gas: fee,
                gas_limit,
                to,
                value: call.value,
                input: call.input.clone(),
                access_list: call.access_list.clone(),
            }
        }
        _ => {
            return Err(invalid_params(
                "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified",
            ))
        }
    })
}

/// Signs `body` with the dev key of `from`, checked by the decoder exactly as anyone's transaction is.
fn sign_checked(
    c: &RpcCtx,
    from: &Address,
    body: TxBody,
) -> Result<SignedTransaction, ErrorObjectOwned> {
    let key = dev_key(c, from)?;
    let signed = body.sign(&key);
    SignedTransaction::decode(&signed.encoded, &c.node.store.tx_rules())
        .map_err(|e| rpc_err(SERVER_ERROR, e.to_string()))
}

async fn send_transaction(c: &RpcCtx, a: &[Value]) -> R {
    let tx_arg = arg(a, 0, "transaction")?;
    let from = parse_call(tx_arg)?
        .from
        .ok_or_else(|| invalid_params("transaction object needs \"from\""))?;
    dev_key(c, &from)?;
    let (_, body) = fill_body(c, tx_arg).await?;
    let tx = sign_checked(c, &from, body)?;
    c.submit(tx).await
}

/// `eth_signTransaction`: as geth, the object must give its gas, nonce and price; the answer is the
/// signed encoding and the transaction, not sent.
fn sign_transaction(c: &RpcCtx, a: &[Value]) -> R {
    let call = parse_call(arg(a, 0, "transaction")?)?;
    let from = call
        .from
        .ok_or_else(|| invalid_params("transaction object needs \"from\""))?;
    let gas = call
        .gas
        .ok_or_else(|| invalid_params("gas not specified"))?;
    let nonce = call
        .nonce
        .ok_or_else(|| invalid_params("nonce not specified"))?;
    if call.gas_price.is_none() && call.max_fee.is_none() {
        return Err(invalid_params(
            "missing gasPrice or maxFeePerGas/maxPriorityFeePerGas",
        ));
    }
    let tx = sign_checked(c, &from, body_of(c, &call, gas, nonce)?)?;
    Ok(json!({ "raw": tx.encoded, "tx": tx_json(&tx, None) }))
}

/// `eth_fillTransaction`: the object with what it leaves out filled, and its unsigned encoding.
async fn fill_transaction(c: &RpcCtx, a: &[Value]) -> R {
    let (call, body) = fill_body(c, arg(a, 0, "transaction")?).await?;
    let unsigned = unsigned_tx(body, call.from.unwrap_or_default());
    let mut tx = tx_json(&unsigned, None);
    if let Some(o) = tx.as_object_mut() {
        // An unsigned transaction has no hash anyone could look up (geth shows none either).
        o.remove("hash");
    }
    Ok(json!({ "raw": unsigned.encoded, "tx": tx }))
}

fn sign(c: &RpcCtx, a: &[Value]) -> R {
    let addr = parse_address(arg(a, 0, "address")?, "address")?;
    let data = parse_bytes(arg(a, 1, "data")?, "data")?;
    let key = dev_key(c, &addr)?;
    let mut msg = format!("\x19Ethereum Signed Message:\n{}", data.len()).into_bytes();
    msg.extend_from_slice(&data);
    let sig = platon_crypto::sign_prehash(&keccak256(&msg), &key);
    let mut out = Vec::with_capacity(65);
    out.extend_from_slice(&sig.r.to_be_bytes::<32>());
    out.extend_from_slice(&sig.s.to_be_bytes::<32>());
    out.push(27 + u8::from(sig.y_parity));
    Ok(json!(format!("0x{}", hex::encode(out))))
}

fn block_by_number(c: &RpcCtx, a: &[Value]) -> R {
    let id = parse_block_id(Some(arg(a, 0, "block")?))?;
    let full = a.get(1).and_then(Value::as_bool).unwrap_or(false);
    Ok(c.block(id)?
        .map(|b| block_json(&b, full))
        .unwrap_or(Value::Null))
}

fn block_by_hash(c: &RpcCtx, a: &[Value]) -> R {
    let h = parse_hash(arg(a, 0, "block hash")?, "block hash")?;
    let full = a.get(1).and_then(Value::as_bool).unwrap_or(false);
    Ok(c.block(BlockId::Hash(h))?
        .map(|b| block_json(&b, full))
        .unwrap_or(Value::Null))
}

fn tx_count_by_number(c: &RpcCtx, a: &[Value]) -> R {
    let id = parse_block_id(Some(arg(a, 0, "block")?))?;
    Ok(c.block(id)?
        .map(|b| json!(qty(b.transactions.len() as u64)))
        .unwrap_or(Value::Null))
}

fn tx_count_by_hash(c: &RpcCtx, a: &[Value]) -> R {
    let h = parse_hash(arg(a, 0, "block hash")?, "block hash")?;
    Ok(c.block(BlockId::Hash(h))?
        .map(|b| json!(qty(b.transactions.len() as u64)))
        .unwrap_or(Value::Null))
}

pub(super) fn locate(c: &RpcCtx, hash: &B256) -> Result<Option<(Block, usize)>, ErrorObjectOwned> {
    let Some(loc) = c.node.store.tx_location(hash).map_err(storage_err)? else {
        return Ok(None);
    };
    let Some(block) = c
        .node
        .store
        .block_by_hash(&loc.block_hash)
        .map_err(storage_err)?
    else {
        return Ok(None);
    };
    let idx = loc.index as usize;
    if idx >= block.transactions.len() {
        return Ok(None);
    }
    Ok(Some((block, idx)))
}

async fn tx_by_hash(c: &RpcCtx, a: &[Value]) -> R {
    let hash = parse_hash(arg(a, 0, "transaction hash")?, "transaction hash")?;
    let found = super::evm::blocking(c, move |c| {
        Ok(locate(c, &hash)?.map(|(block, i)| {
            let pos = TxPosition::in_block(&block.header, block.hash(), i);
            tx_json(&block.transactions[i], Some(pos))
        }))
    })
    .await?;
    if let Some(tx) = found {
        return Ok(tx);
    }
    match c.pool().get(hash).await {
        Ok(Some(tx)) => Ok(tx_json(&tx, None)),
        Ok(None) => Ok(Value::Null),
        Err(e) => Err(unavailable(e)),
    }
}

fn receipt(c: &RpcCtx, a: &[Value]) -> R {
    let hash = parse_hash(arg(a, 0, "transaction hash")?, "transaction hash")?;
    let Some((block, i)) = locate(c, &hash)? else {
        return Ok(Value::Null);
    };
    let receipts = c
        .node
        .store
        .receipts(&block.hash())
        .map_err(storage_err)?
        .unwrap_or_default();
    let Some(r) = receipts.get(i) else {
        return Ok(Value::Null);
    };
    let offset = receipts[..i].iter().map(|r| r.logs.len()).sum();
    Ok(receipt_json(&block, i, r, &block.transactions[i], offset))
}

/// `eth_coinbase`: the address this node's blocks pay their fees to (`dev.coinbase`).
fn coinbase(c: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(c.node.config.dev.coinbase))
}

/// `eth_baseFee`: the base fee of the next block.
fn base_fee(c: &RpcCtx, _: &[Value]) -> R {
    Ok(json!(qty(platon_vm::next_base_fee(
        &c.header_or_err(BlockId::Latest)?
    ))))
}

/// `eth_blobBaseFee`: this chain runs no blob fork (EIP-4844), so, as geth on such a chain, zero.
fn blob_base_fee(_: &RpcCtx, _: &[Value]) -> R {
    Ok(json!("0x0"))
}

/// Most slots one `eth_getStorageValues` call may ask for (geth's bound).
pub const MAX_STORAGE_VALUES: usize = 1024;

/// `eth_getStorageValues({address: [slots]}, block)`: many slots at one block.
fn storage_values(c: &RpcCtx, a: &[Value]) -> R {
    let req = arg(a, 0, "requests")?
        .as_object()
        .ok_or_else(|| invalid_params("requests: an object of address to slots expected"))?;
    if req.is_empty() {
        return Err(invalid_params("empty request"));
    }
    let total: usize = req.values().map(|v| v.as_array().map_or(0, Vec::len)).sum();
    if total > MAX_STORAGE_VALUES {
        return Err(invalid_params(format!(
            "too many slots (max {MAX_STORAGE_VALUES})"
        )));
    }
    let state = c.state(parse_block_id(a.get(1))?)?;
    let mut out = serde_json::Map::new();
    for (addr, slots) in req {
        let address = parse_address(&Value::String(addr.clone()), "address")?;
        let slots = slots
            .as_array()
            .ok_or_else(|| invalid_params(format!("slots of {addr}: array expected")))?;
        let mut values = Vec::with_capacity(slots.len());
        for k in slots {
            let slot = parse_hash(k, "storage slot")?;
            let v = state.storage(&address, slot).map_err(storage_err)?;
            values.push(storage_word(v));
        }
        out.insert(addr.clone(), Value::Array(values));
    }
    Ok(Value::Object(out))
}

/// CRC-32 (IEEE), for the EIP-2124 fork hash.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `eth_config` (EIP-7910). Every rule of this chain is active from genesis and no fork is
/// scheduled, so `current` describes genesis and `next`/`last` are null. The chain runs no blob
/// fork: its blob schedule is all zero. The fork id is the EIP-2124 hash of the genesis hash alone
/// (no fork block follows it).
fn config(c: &RpcCtx, _: &[Value]) -> R {
    let genesis = c.header_or_err(BlockId::Number(0))?;
    let precompile = |n: u8| Address::with_last_byte(n);
    Ok(json!({
        "current": {
            "activationTime": genesis.timestamp,
            "blobSchedule": { "baseFeeUpdateFraction": 0, "max": 0, "target": 0 },
            "chainId": qty(c.chain_id()),
            "forkId": format!("0x{:08x}", crc32(genesis.hash().as_slice())),
            "precompiles": {
                "ECREC": precompile(1),
                "SHA256": precompile(2),
                "RIPEMD160": precompile(3),
                "ID": precompile(4),
                "MODEXP": precompile(5),
                "BN254_ADD": precompile(6),
                "BN254_MUL": precompile(7),
                "BN254_PAIRING": precompile(8),
                "BLAKE2F": precompile(9),
            },
            "systemContracts": {
                "PLATON_STAKING": platon_vm::system::STAKING,
                "PLATON_REWARD_POOL": platon_vm::system::REWARD_POOL,
                "PLATON_SLASHING": platon_vm::system::SLASHING,
                "PLATON_REWARD": platon_vm::system::REWARD,
            },
        },
        "next": null,
        "last": null,
    }))
}

/// `eth_capabilities`: what history this node serves. Blocks, transactions, receipts and logs are
/// kept from genesis; state (and so proofs) from genesis on an archive node, for the last
/// `state.retain` blocks on a full one.
fn capabilities(c: &RpcCtx, _: &[Value]) -> R {
    let head = c.header_or_err(BlockId::Latest)?;
    let all = json!({ "disabled": false, "oldestBlock": "0x0" });
    let state = match c.node.store.mode() {
        platon_storage::chain::StateMode::Archive => all.clone(),
        platon_storage::chain::StateMode::Full { retain } => {
            json!({
                "disabled": false,
                "oldestBlock": qty(head.number.saturating_sub(retain.saturating_sub(1))),
                "deleteStrategy": { "type": "window", "retentionBlocks": qty(retain) },
            })
        }
    };
    Ok(json!({
        "head": { "number": qty(head.number), "hash": head.hash() },
        "state": state,
        "tx": all,
        "logs": all,
        "receipts": all,
        "blocks": all,
        "stateproofs": state,
    }))
}

/// The error of a block access list query: this chain runs no EIP-7928 fork, so no block has one
/// (geth's answer for blocks before that fork).
pub(super) fn no_access_lists() -> ErrorObjectOwned {
    rpc_err(
        -32001,
        "block access lists are not available: this chain does not run EIP-7928",
    )
}

/// `eth_getBlockAccessList`: a known block has none; an unknown one is not found.
fn block_access_list(c: &RpcCtx, a: &[Value]) -> R {
    let id = parse_block_id(Some(arg(a, 0, "block")?))?;
    c.header_or_err(id)?;
    Err(no_access_lists())
}

fn tx_at(block: Option<Block>, index: &Value) -> R {
    let i = parse_u64(index, "transaction index")?;
    let Some(block) = block else {
        return Ok(Value::Null);
    };
    let Some(tx) = usize::try_from(i)
        .ok()
        .and_then(|i| block.transactions.get(i))
    else {
        return Ok(Value::Null);
    };
    Ok(tx_json(
        tx,
        Some(TxPosition::in_block(
            &block.header,
            block.hash(),
            i as usize,
        )),
    ))
}

/// `eth_getTransactionByBlockHashAndIndex`.
fn tx_by_block_hash_and_index(c: &RpcCtx, a: &[Value]) -> R {
    let h = parse_hash(arg(a, 0, "block hash")?, "block hash")?;
    tx_at(c.block(BlockId::Hash(h))?, arg(a, 1, "index")?)
}

/// `eth_getTransactionByBlockNumberAndIndex`.
fn tx_by_block_number_and_index(c: &RpcCtx, a: &[Value]) -> R {
    let id = parse_block_id(Some(arg(a, 0, "block")?))?;
    tx_at(c.block(id)?, arg(a, 1, "index")?)
}

async fn txpool_status(c: &RpcCtx, _: &[Value]) -> R {
    let s = c.pool().status().await.map_err(unavailable)?;
    Ok(json!({ "pending": qty(s.pending as u64), "queued": qty(s.queued as u64) }))
}

macro_rules! methods {
    ($module:expr, $( $name:literal => $f:path ),* $(,)?) => {
        $(
            $module.register_async_method($name, |p, c, _| async move {
                let _in_flight = c.node.registry.request_started(names::RPC);
                let a = args(&p)?;
                $f(&c, &a).await
            })?;
        )*
    };
}

/// Registers synchronous methods that read storage or do CPU work: each call runs on the blocking
/// pool, so no runtime worker waits on a trie or a disk (the README's rule).
macro_rules! blocking_methods {
    ($module:expr, $( $name:literal => $f:path ),* $(,)?) => {
        $(
            $module.register_async_method($name, |p, c, _| async move {
                let _in_flight = c.node.registry.request_started(names::RPC);
                let a = args(&p)?;
                tokio::task::spawn_blocking(move || $f(&c, &a))
                    .await
                    .map_err(super::evm::blocking_err)?
            })?;
        )*
    };
}

/// Registers synchronous methods that answer from memory.
macro_rules! inline_methods {
    ($module:expr, $( $name:literal => $f:path ),* $(,)?) => {
        $(
            $module.register_method($name, |p, c, _| {
                let _in_flight = c.node.registry.request_started(names::RPC);
                let a = args(&p)?;
                $f(&c, &a)
            })?;
        )*
    };
}

/// Registers every method on the module.
pub fn register(m: &mut RpcModule<RpcCtx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    methods!(m,
        "eth_getTransactionCount" => get_transaction_count,
        "eth_estimateGas" => super::evm::estimate_gas,
        "eth_call" => super::evm::call,
        "eth_getLogs" => super::evm::get_logs,
        "eth_getFilterChanges" => super::evm::filter_changes,
        "eth_getFilterLogs" => super::evm::filter_logs_all,
        "debug_traceTransaction" => super::evm::trace_transaction,
        "debug_traceCall" => super::evm::trace_call,
        "eth_sendRawTransaction" => send_raw_transaction,
        "eth_sendTransaction" => send_transaction,
        "eth_getTransactionByHash" => tx_by_hash,
        "txpool_status" => txpool_status,
        "eth_fillTransaction" => fill_transaction,
        "eth_createAccessList" => super::simulate::create_access_list,
        "eth_simulateV1" => super::simulate::simulate,
        "debug_traceBlockByNumber" => super::debug::trace_block_by_number,
        "debug_traceBlockByHash" => super::debug::trace_block_by_hash,
        "debug_getRawTransaction" => super::debug::raw_transaction,
        "platon_findService" => find_service,
        "platon_evidences" => evidences,
        "platon_consensusStatus" => consensus_status,
        "platon_vcTasks" => vc_tasks,
    );
    // Storage reads and CPU work, nothing awaited: on the blocking pool.
    blocking_methods!(m,
        "eth_syncing" => syncing,
        "eth_blockNumber" => block_number,
        "eth_getBalance" => get_balance,
        "eth_getCode" => get_code,
        "eth_getStorageAt" => get_storage_at,
        "eth_getProof" => get_proof,
        "eth_gasPrice" => gas_price,
        "eth_maxPriorityFeePerGas" => max_priority_fee,
        "eth_feeHistory" => fee_history,
        "eth_newFilter" => super::evm::new_filter,
        "eth_newBlockFilter" => super::evm::new_block_filter,
        "eth_getBlockReceipts" => super::evm::block_receipts,
        "eth_sign" => sign,
        "eth_getBlockByNumber" => block_by_number,
        "eth_getBlockByHash" => block_by_hash,
        "eth_getBlockTransactionCountByNumber" => tx_count_by_number,
        "eth_getBlockTransactionCountByHash" => tx_count_by_hash,
        "eth_getTransactionReceipt" => receipt,
        "eth_baseFee" => base_fee,
        "eth_blobBaseFee" => blob_base_fee,
        "eth_getStorageValues" => storage_values,
        "eth_config" => config,
        "eth_getBlockAccessList" => block_access_list,
        "eth_getTransactionByBlockHashAndIndex" => tx_by_block_hash_and_index,
        "eth_getTransactionByBlockNumberAndIndex" => tx_by_block_number_and_index,
        "eth_signTransaction" => sign_transaction,
        "eth_newPendingTransactionFilter" => super::evm::new_pending_filter,
        "debug_getRawHeader" => super::debug::raw_header,
        "debug_getRawBlock" => super::debug::raw_block,
        "debug_getRawReceipts" => super::debug::raw_receipts,
        "debug_getRawBlockAccessList" => super::debug::raw_block_access_list,
        "debug_getBadBlocks" => super::debug::bad_blocks,
        "platon_getBlockQuorumCertByHash" => quorum_cert,
        "platon_getCandidateList" => candidate_list,
        "platon_getVerifierList" => verifier_list,
        "platon_getValidatorList" => validator_list,
        "platon_getCandidateInfo" => candidate_info,
        "platon_getRoundValidators" => round_validators,
        "platon_getDelegateInfo" => delegate_info,
    );
    // Answers from memory: inline.
    inline_methods!(m,
        "web3_clientVersion" => client_version,
        "platon_accelerator" => accelerator,
        "net_version" => net_version,
        "net_listening" => listening,
        "net_peerCount" => peer_count,
        "eth_chainId" => chain_id,
        "eth_accounts" => accounts,
        "eth_uninstallFilter" => super::evm::uninstall_filter,
        "eth_coinbase" => coinbase,
        "eth_capabilities" => capabilities,
    );
    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |p, pending, c, _| async move {
            subscribe(p, pending, c).await;
            Ok(())
        },
    )?;
    Ok(())
}

async fn subscribe(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    c: std::sync::Arc<RpcCtx>,
) {
    let a = match args(&p) {
        Ok(a) => a,
        Err(e) => return pending.reject(e).await,
    };
    if a.first().and_then(Value::as_str) == Some("newPendingTransactions") {
        let full = a.get(1).and_then(Value::as_bool).unwrap_or(false);
        return pending_subscription(pending, c, full).await;
    }
    let logs_filter = match a.first().and_then(Value::as_str) {
        Some("newHeads") => None,
        Some("logs") => match super::evm::parse_filter(&c, a.get(1)) {
            Ok(f) => Some(f),
            Err(e) => return pending.reject(e).await,
        },
        Some(other) => {
            return pending
                .reject(invalid_params(format!(
                    "unsupported subscription kind {other:?}; this node serves newHeads, logs and newPendingTransactions"
                )))
                .await
        }
        None => {
            return pending
                .reject(invalid_params("subscription kind expected"))
                .await
        }
    };
    let rx = c.heads.subscribe();
    let c2 = c.clone();
    pump(pending, rx, "newHeads", move |h| {
        let items = match &logs_filter {
            None => vec![header_json(&h, None)],
            Some(f) => head_logs(&c2, &h, f),
        };
        async move { items }
    })
    .await;
}

/// `eth_subscribe("newPendingTransactions", fullTx?)`: each transaction's hash (or, with `true`, the
/// transaction) as the pool admits it.
async fn pending_subscription(
    pending: PendingSubscriptionSink,
    c: std::sync::Arc<RpcCtx>,
    full: bool,
) {
    let rx = c.node.pending_txs.subscribe();
    pump(pending, rx, "newPendingTransactions", move |h| {
        let c = c.clone();
        async move {
            if !full {
                return vec![json!(h)];
            }
            match c.pool().get(h).await {
                Ok(Some(tx)) => vec![tx_json(&tx, None)],
                // Already included or dropped: nothing to show in full.
                _ => vec![],
            }
        }
    })
    .await;
}

/// Accepts a subscription and sends what `items` makes of each event of `rx` until the client
/// goes away or the source closes; a subscriber that falls behind skips events.
async fn pump<T, F, Fut>(
    pending: PendingSubscriptionSink,
    mut rx: broadcast::Receiver<T>,
    kind: &str,
    mut items: F,
) where
    T: Clone,
    F: FnMut(T) -> Fut,
    Fut: std::future::Future<Output = Vec<Value>>,
{
    let Ok(sink) = pending.accept().await else {
        return;
    };
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            e = rx.recv() => match e {
                Ok(e) => {
                    for item in items(e).await {
                        let Ok(raw) = serde_json::value::to_raw_value(&item) else { return };
                        if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => tracing::debug!("{kind} subscriber skipped {n}"),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// The logs of the new head `h` that match `filter` (for the `logs` subscription).
fn head_logs(c: &RpcCtx, h: &Header, filter: &super::evm::LogFilter) -> Vec<Value> {
    if !filter.may_match(&h.logs_bloom) {
        return vec![];
    }
    let hash = h.hash();
    let (Ok(Some(block)), Ok(Some(receipts))) = (
        c.node.store.block_by_hash(&hash),
        c.node.store.receipts(&hash),
    ) else {
        return vec![];
    };
    let mut out = Vec::new();
    // A subscription streams every match; the size bound applies to one block only.
    let _ = super::evm::block_logs(&block, &receipts, filter, &mut out, usize::MAX);
    out
}

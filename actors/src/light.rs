//! The light client (`node.role = "light"`): keeps headers only, each checked against its QC and
//! the validators' BLS keys, and answers state reads (`eth_getBalance`, `eth_getTransactionCount`,
//! `eth_getCode`, `eth_getStorageAt`) from full nodes' `eth_getProof` data, verified against a
//! checked header's state root. It trusts no answer it cannot check: a full node whose header, QC or
//! proof does not verify is set aside for a while and the next one is asked.
//!
//! The checks ([`check_header`], [`check_account`], [`HeaderChain`]) are pure; [`LightService`] is the
//! actor that fetches headers and serves the JSON-RPC methods.

use crate::{now_ms, NodeContext};
use alloy_primitives::{keccak256, Address, B256, U256};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;
use parking_lot::RwLock;
use platon_crypto::bls::BlsPublicKey;
use platon_messages::actors::LightMsg;
use platon_messages::cbft::{Qc, VoteData};
use platon_messages::Header;
use platon_storage::Account;
use platon_supervision::{BoxError, Ctx, Service};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Headers kept (older ones are pruned; reads name a kept block or `latest`).
pub const KEEP_HEADERS: usize = 1024;

/// Headers fetched per poll at most.
const HEADERS_PER_POLL: u64 = 256;

/// How long a full node that sent something that does not verify is left out (ms).
const SET_ASIDE_MS: u64 = 60_000;

/// Why an answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LightError {
    /// The header does not decode or does not match its QC.
    #[error("wrong header: {0}")]
    Header(String),
    /// The QC does not verify against the validators' keys.
    #[error("bad QC: {0}")]
    Qc(String),
    /// The header does not extend the checked chain.
    #[error("header {number} does not extend the checked chain: {why}")]
    Chain {
        /// Its number.
        number: u64,
        /// What is wrong.
        why: String,
    },
    /// A proof or a value does not verify.
    #[error("wrong proof: {0}")]
    Proof(String),
}

/// A QC as `platon_getBlockQuorumCertByHash` answers it.
pub fn qc_from_json(v: &Value) -> Result<Qc, LightError> {
    let bad = |what: &str| LightError::Qc(format!("the QC's {what} is missing or malformed"));
    let u = |k: &str| v.get(k).and_then(Value::as_u64).ok_or_else(|| bad(k));
    let hash: B256 = v
        .get("blockHash")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("blockHash"))?;
    let signers = v
        .get("signers")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("signers"))?
        .chars()
        .map(|c| match c {
            '1' => Ok(true),
            '0' => Ok(false),
            _ => Err(bad("signers")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signature = v
        .get("signature")
        .and_then(Value::as_str)
        .and_then(|s| hex::decode(s.trim_start_matches("0x")).ok())
        .ok_or_else(|| bad("signature"))?;
    Ok(Qc {
        data: VoteData {
            epoch: u("epoch")?,
            view: u("viewNumber")?,
            index: u32::try_from(u("blockIndex")?).map_err(|_| bad("blockIndex"))?,
            number: u("blockNumber")?,
            hash,
        },
        signers,
        signature,
    })
}

/// Checks a header (its RLP) against its QC: the QC names this header's hash and number, at least
/// n − (n−1)/3 of the `validators` signed it, and the aggregate signature verifies.
pub fn check_header(
    raw: &[u8],
    qc: &Qc,
    validators: &[BlsPublicKey],
) -> Result<Header, LightError> {
    let header = Header::decode(raw).map_err(|e| LightError::Header(e.to_string()))?;
    let hash = header.hash();
    if qc.data.hash != hash || qc.data.number != header.number {
        return Err(LightError::Header(format!(
            "block {} hashes to {hash}, its QC certifies block {} {}",
            header.number, qc.data.number, qc.data.hash
        )));
    }
    // Consensus's own check: one bit per validator, a quorum, the aggregate signature.
    let crypto = crate::cbft::crypto::BlsCrypto::new(None, validators.to_vec());
    let n = u32::try_from(validators.len()).unwrap_or(u32::MAX);
    if validators.is_empty() || !crate::cbft::core::Core::check_qc(qc, n, &crypto) {
        return Err(LightError::Qc(format!(
            "the QC on block {} ({} of {} signer bits set, for {n} validators) does not verify against the validators' keys",
            header.number,
            qc.signer_indices().len(),
            qc.signers.len()
        )));
    }
    Ok(header)
}

/// The checked headers, by number: each extends the one before it (parent hash), and only the last
/// [`KEEP_HEADERS`] are kept.
#[derive(Debug, Default)]
pub struct HeaderChain {
    headers: BTreeMap<u64, Header>,
}

impl HeaderChain {
    /// The highest checked header.
    pub fn head(&self) -> Option<&Header> {
        self.headers.values().next_back()
    }

    /// A kept header.
    pub fn get(&self, number: u64) -> Option<&Header> {
        self.headers.get(&number)
    }

    /// The next number to fetch (0 before any).
    pub fn next(&self) -> u64 {
        self.head().map(|h| h.number.saturating_add(1)).unwrap_or(0)
    }

    /// Adds a checked header; it must be the next one and link to the head.
    pub fn extend(&mut self, header: Header) -> Result<(), LightError> {
        if let Some(head) = self.head() {
            if header.number != head.number.saturating_add(1) {
                return Err(LightError::Chain {
                    number: header.number,
                    why: format!("the next header is {}", head.number.saturating_add(1)),
                });
            }
            if header.parent_hash != head.hash() {
                return Err(LightError::Chain {
                    number: header.number,
                    why: format!(
                        "its parent {} is not the checked block {} {}",
                        header.parent_hash,
                        head.number,
                        head.hash()
                    ),
                });
            }
        }
        self.headers.insert(header.number, header);
        while self.headers.len() > KEEP_HEADERS {
            self.headers.pop_first();
        }
        Ok(())
    }
}

fn hex_bytes(v: &Value, what: &str) -> Result<Vec<u8>, LightError> {
    v.as_str()
        .and_then(|s| hex::decode(s.trim_start_matches("0x")).ok())
        .ok_or_else(|| LightError::Proof(format!("{what} is not hex")))
}

fn quantity(v: &Value, what: &str) -> Result<U256, LightError> {
    v.as_str()
        .and_then(|s| U256::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| LightError::Proof(format!("{what} is not a quantity")))
}

fn proof_nodes(v: &Value, what: &str) -> Result<Vec<Vec<u8>>, LightError> {
    v.as_array()
        .ok_or_else(|| LightError::Proof(format!("{what} is not a list")))?
        .iter()
        .map(|n| hex_bytes(n, what))
        .collect()
}

/// Checks an `eth_getProof` answer for `address` (with `slots`) against a checked header's state
/// root; returns the account and the slots' values.
pub fn check_account(
    state_root: B256,
    address: &Address,
    slots: &[B256],
    answer: &Value,
) -> Result<(Account, Vec<U256>), LightError> {
    let field = |k: &str| {
        answer
            .get(k)
            .ok_or_else(|| LightError::Proof(format!("the answer has no {k}")))
    };
    let nonce = u64::try_from(quantity(field("nonce")?, "nonce")?)
        .map_err(|_| LightError::Proof("nonce overflows".into()))?;
    let parse_hash = |k: &str| -> Result<B256, LightError> {
        field(k)?
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| LightError::Proof(format!("{k} is not a hash")))
    };
    let account = Account {
        nonce,
        balance: quantity(field("balance")?, "balance")?,
        storage_root: parse_hash("storageHash")?,
        code_hash: parse_hash("codeHash")?,
    };
    let proof = proof_nodes(field("accountProof")?, "accountProof")?;
    platon_storage::state::verify_account_proof(state_root, address, &account, &proof)
        .map_err(LightError::Proof)?;
    let storage = field("storageProof")?
        .as_array()
        .ok_or_else(|| LightError::Proof("storageProof is not a list".into()))?;
    let mut values = Vec::with_capacity(slots.len());
    for slot in slots {
        let entry = storage
            .iter()
            .find(|e| {
                e.get("key")
                    .and_then(Value::as_str)
                    .and_then(|k| U256::from_str_radix(k.trim_start_matches("0x"), 16).ok())
                    == Some(U256::from_be_bytes(slot.0))
            })
            .ok_or_else(|| LightError::Proof(format!("no proof for slot {slot}")))?;
        let value = quantity(&entry["value"], "a slot's value")?;
        let proof = proof_nodes(&entry["proof"], "a slot's proof")?;
        platon_storage::state::verify_storage_proof(account.storage_root, *slot, value, &proof)
            .map_err(LightError::Proof)?;
        values.push(value);
    }
    Ok((account, values))
}

/// Checks code against the account's proven code hash.
pub fn check_code(code_hash: B256, code: &[u8]) -> Result<(), LightError> {
    if keccak256(code) == code_hash {
        Ok(())
    } else {
        Err(LightError::Proof(format!(
            "the code hashes to {}, the proven account has {code_hash}",
            keccak256(code)
        )))
    }
}

/// A full node the light client asks.
struct FullNode {
    url: String,
    client: HttpClient,
    /// Left out until this time (ms since the epoch) after it sent something that did not verify.
    aside_until: AtomicU64,
}

/// What the light client's actor and its JSON-RPC methods share.
struct Shared {
    chain: RwLock<HeaderChain>,
    nodes: Vec<FullNode>,
    validators: Vec<BlsPublicKey>,
    chain_id: u64,
    /// The genesis hash the configuration makes.
    genesis: B256,
}

impl Shared {
    /// The full nodes to ask now, those not set aside first.
    fn order(&self) -> Vec<&FullNode> {
        let now = now_ms();
        let (mut good, aside): (Vec<&FullNode>, Vec<&FullNode>) = self
            .nodes
            .iter()
            .partition(|n| n.aside_until.load(Ordering::Relaxed) <= now);
        good.extend(aside);
        good
    }

    fn set_aside(&self, node: &FullNode, why: &LightError) {
        tracing::warn!(server = %node.url, error = %why, "light: a full node's answer does not verify; it is left out for a while");
        node.aside_until
            .store(now_ms().saturating_add(SET_ASIDE_MS), Ordering::Relaxed);
    }

    /// Fetches and checks the next headers from one full node.
    async fn poll(&self) {
        for node in self.order() {
            match self.poll_from(node).await {
                Ok(()) => return,
                Err(Fetch::Refused(e)) => self.set_aside(node, &e),
                Err(Fetch::Unreachable(e)) => {
                    tracing::debug!(server = %node.url, error = %e, "light: full node unreachable")
                }
            }
        }
    }

    async fn poll_from(&self, node: &FullNode) -> Result<(), Fetch> {
        let head: String = node
            .client
            .request("eth_blockNumber", jsonrpsee::rpc_params![])
            .await
            .map_err(|e| Fetch::Unreachable(e.to_string()))?;
        let head = u64::from_str_radix(head.trim_start_matches("0x"), 16)
            .map_err(|e| Fetch::Unreachable(e.to_string()))?;
        let next = self.chain.read().next();
        let last = head.min(next.saturating_add(HEADERS_PER_POLL - 1));
        for n in next..=last {
            let raw: String = node
                .client
                .request(
                    "debug_getRawHeader",
                    jsonrpsee::rpc_params![format!("{n:#x}")],
                )
                .await
                .map_err(|e| Fetch::Unreachable(e.to_string()))?;
            let raw = hex::decode(raw.trim_start_matches("0x"))
                .map_err(|e| Fetch::Refused(LightError::Header(e.to_string())))?;
            let header = if n == 0 {
                // The genesis has no QC: it must be the one the configuration makes.
                let h = Header::decode(&raw)
                    .map_err(|e| Fetch::Refused(LightError::Header(e.to_string())))?;
                if h.hash() != self.genesis {
                    return Err(Fetch::Refused(LightError::Header(format!(
                        "its genesis {} is not this network's {}",
                        h.hash(),
                        self.genesis
                    ))));
                }
                h
            } else {
                // The QC of the block the node names at this height; the header must be that block.
                let block: Value = node
                    .client
                    .request(
                        "eth_getBlockByNumber",
                        jsonrpsee::rpc_params![format!("{n:#x}"), false],
                    )
                    .await
                    .map_err(|e| Fetch::Unreachable(e.to_string()))?;
                let hash: B256 = block
                    .get("hash")
                    .and_then(Value::as_str)
                    .and_then(|h| h.parse().ok())
                    .ok_or_else(|| Fetch::Unreachable(format!("no block {n}")))?;
                let qc: Value = node
                    .client
                    .request(
                        "platon_getBlockQuorumCertByHash",
                        jsonrpsee::rpc_params![hash],
                    )
                    .await
                    .map_err(|e| Fetch::Unreachable(e.to_string()))?;
                if qc.is_null() {
                    // A block committed through a descendant's QC has none stored: ask another.
                    return Err(Fetch::Unreachable(format!("no QC stored for block {n}")));
                }
                let qc = qc_from_json(&qc).map_err(Fetch::Refused)?;
                check_header(&raw, &qc, &self.validators).map_err(Fetch::Refused)?
            };
            self.chain.write().extend(header).map_err(Fetch::Refused)?;
        }
        Ok(())
    }

    /// A checked header for a block tag (`latest`, a kept number).
    fn header(&self, tag: &Value) -> Result<Header, ErrorObjectOwned> {
        let chain = self.chain.read();
        let h = match tag.as_str().unwrap_or("latest") {
            "latest" | "safe" | "finalized" | "pending" => chain.head(),
            s => {
                let n = u64::from_str_radix(s.trim_start_matches("0x"), 16)
                    .map_err(|_| err(-32602, format!("invalid block tag {s}")))?;
                chain.get(n)
            }
        };
        h.cloned().ok_or_else(|| {
            err(
                -32000,
                "that block's header is not checked here (a light node keeps the last 1024)".into(),
            )
        })
    }

    /// The proven account for `[address, block]` parameters.
    async fn proven_account(&self, p: Vec<Value>) -> Result<Account, ErrorObjectOwned> {
        let h = self.header(p.get(1).unwrap_or(&json!("latest")))?;
        Ok(self.proven(address_arg(&p)?, &[], &h).await?.0)
    }

    /// The proven account (and slots) at a checked header, from the first full node whose answer
    /// verifies.
    async fn proven(
        &self,
        address: Address,
        slots: &[B256],
        header: &Header,
    ) -> Result<(Account, Vec<U256>, &FullNode), ErrorObjectOwned> {
        let at = format!("{:#x}", header.number);
        for node in self.order() {
            let answer: Result<Value, _> = node
                .client
                .request("eth_getProof", jsonrpsee::rpc_params![address, slots, &at])
                .await;
            let Ok(answer) = answer else { continue };
            match check_account(header.state_root, &address, slots, &answer) {
                Ok((account, values)) => return Ok((account, values, node)),
                Err(e) => self.set_aside(node, &e),
            }
        }
        Err(err(
            -32000,
            "no full node gave an answer that verifies against the checked header".into(),
        ))
    }
}

enum Fetch {
    Refused(LightError),
    Unreachable(String),
}

fn err(code: i32, msg: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg, None::<()>)
}

fn address_arg(p: &[Value]) -> Result<Address, ErrorObjectOwned> {
    p.first()
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| err(-32602, "invalid address".into()))
}

fn methods(shared: Arc<Shared>) -> Result<RpcModule<Arc<Shared>>, BoxError> {
    let mut m = RpcModule::new(shared);
    m.register_method("eth_chainId", |_, s, _| {
        Ok::<_, ErrorObjectOwned>(json!(format!("{:#x}", s.chain_id)))
    })?;
    m.register_method("net_version", |_, s, _| {
        Ok::<_, ErrorObjectOwned>(json!(s.chain_id.to_string()))
    })?;
    m.register_method("eth_syncing", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(json!(false))
    })?;
    m.register_method("eth_blockNumber", |_, s, _| {
        let n = s.chain.read().head().map(|h| h.number).unwrap_or(0);
        Ok::<_, ErrorObjectOwned>(json!(format!("{n:#x}")))
    })?;
    m.register_async_method("eth_getBalance", |p, s, _| async move {
        let a = s.proven_account(p.parse()?).await?;
        Ok::<_, ErrorObjectOwned>(json!(format!("{:#x}", a.balance)))
    })?;
    m.register_async_method("eth_getTransactionCount", |p, s, _| async move {
        let a = s.proven_account(p.parse()?).await?;
        Ok::<_, ErrorObjectOwned>(json!(format!("{:#x}", a.nonce)))
    })?;
    m.register_async_method("eth_getStorageAt", |p, s, _| async move {
        let p: Vec<Value> = p.parse()?;
        let slot = p
            .get(1)
            .and_then(Value::as_str)
            .and_then(|k| U256::from_str_radix(k.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| err(-32602, "invalid storage slot".into()))?;
        let h = s.header(p.get(2).unwrap_or(&json!("latest")))?;
        let slot = B256::from(slot);
        let (_, values, _) = s.proven(address_arg(&p)?, &[slot], &h).await?;
        let v = values.first().copied().unwrap_or_default();
        Ok::<_, ErrorObjectOwned>(json!(B256::from(v)))
    })?;
    m.register_async_method("eth_getCode", |p, s, _| async move {
        let p: Vec<Value> = p.parse()?;
        let h = s.header(p.get(1).unwrap_or(&json!("latest")))?;
        let address = address_arg(&p)?;
        let (a, _, node) = s.proven(address, &[], &h).await?;
        let code: String = node
            .client
            .request(
                "eth_getCode",
                jsonrpsee::rpc_params![address, format!("{:#x}", h.number)],
            )
            .await
            .map_err(|e| err(-32000, format!("the full node gave no code: {e}")))?;
        let bytes = hex::decode(code.trim_start_matches("0x"))
            .map_err(|_| err(-32000, "the full node's code is not hex".into()))?;
        if let Err(e) = check_code(a.code_hash, &bytes) {
            s.set_aside(node, &e);
            return Err(err(-32000, e.to_string()));
        }
        Ok::<_, ErrorObjectOwned>(json!(code))
    })?;
    m.register_method("eth_call", |_, _, _| {
        Err::<Value, _>(err(
            -32601,
            "eth_call is not served by a light node in this build: ask a full node".into(),
        ))
    })?;
    Ok(m)
}

/// The light client's actor: fetches and checks headers every `cbft.period_ms / amount` and serves
/// the light JSON-RPC methods on the `http` listener.
#[derive(Debug)]
pub struct LightService {
    /// Shared node context.
    pub node: NodeContext,
}

/// The running light client; dropping it stops its server.
pub struct LightState {
    shared: Arc<Shared>,
    handle: ServerHandle,
    every: Duration,
}

impl Drop for LightState {
    fn drop(&mut self) {
        let _ = self.handle.stop();
    }
}

impl Service for LightService {
    type Msg = LightMsg;
    type State = LightState;

    async fn init(&self, ctx: &Ctx<LightMsg>) -> Result<LightState, BoxError> {
        let c = &self.node.config;
        let nodes = c
            .light
            .servers
            .iter()
            .map(|url| {
                Ok(FullNode {
                    url: url.clone(),
                    client: HttpClientBuilder::default()
                        .request_timeout(Duration::from_secs(10))
                        .build(url)
                        .map_err(|e| format!("light.servers: {url}: {e}"))?,
                    aside_until: AtomicU64::new(0),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let shared = Arc::new(Shared {
            chain: RwLock::new(HeaderChain::default()),
            nodes,
            validators: self.node.system.validators.to_vec(),
            chain_id: c.chain.chain_id,
            genesis: self.node.genesis_ref()?.hash,
        });
        let addr = std::net::SocketAddr::new(c.http.addr, c.http.port);
        let module = methods(shared.clone())?;
        let server = crate::rpc::bind_with_retry(addr, "--http.addr/--http.port", || {
            Server::builder().build(addr)
        })
        .await?;
        let bound = server.local_addr()?;
        let handle = server.start(module);
        tracing::info!(
            servers = c.light.servers.len(),
            "light client: JSON-RPC on http://{bound}"
        );
        ctx.send_after(Duration::from_millis(10), LightMsg::Poll);
        let every = Duration::from_millis(
            (c.cbft.period_ms / u64::from(c.cbft.amount.max(1))).clamp(50, 2_000),
        );
        Ok(LightState {
            shared,
            handle,
            every,
        })
    }

    async fn handle(
        &self,
        ctx: &Ctx<LightMsg>,
        msg: LightMsg,
        st: &mut LightState,
    ) -> Result<(), BoxError> {
        match msg {
            LightMsg::Poll => {
                st.shared.poll().await;
                ctx.send_after(st.every, LightMsg::Poll);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platon_crypto::bls::{BlsSecretKey, BlsSignature};
    use platon_messages::block::{EMPTY_OMMERS_HASH, EMPTY_ROOT};

    fn header(number: u64, parent: B256, state_root: B256) -> Header {
        Header {
            parent_hash: parent,
            ommers_hash: EMPTY_OMMERS_HASH,
            beneficiary: Address::repeat_byte(2),
            state_root,
            transactions_root: EMPTY_ROOT,
            receipts_root: EMPTY_ROOT,
            logs_bloom: Default::default(),
            difficulty: U256::ZERO,
            number,
            gas_limit: 30_000_000,
            gas_used: 0,
            timestamp: 1_700_000_000 + number,
            extra_data: Default::default(),
            mix_hash: B256::ZERO,
            nonce: [0; 8],
            base_fee_per_gas: 7,
        }
    }

    fn qc_for(h: &Header, keys: &[BlsSecretKey], signing: &[usize], n: usize) -> Qc {
        let data = VoteData {
            epoch: 1,
            view: 3,
            index: 0,
            number: h.number,
            hash: h.hash(),
        };
        let msg = data.signing_hash();
        let sigs: Vec<BlsSignature> = signing
            .iter()
            .map(|i| keys[*i].sign(msg.as_slice()))
            .collect();
        Qc {
            data,
            signers: (0..n).map(|i| signing.contains(&i)).collect(),
            signature: BlsSignature::aggregate(&sigs)
                .expect("aggregate")
                .to_bytes()
                .to_vec(),
        }
    }

    #[test]
    fn a_header_is_accepted_only_with_a_quorum_of_the_validators_signatures_on_it() {
        let keys: Vec<BlsSecretKey> = (0..4)
            .map(|_| BlsSecretKey::random().expect("key"))
            .collect();
        let pks: Vec<BlsPublicKey> = keys.iter().map(|k| k.public_key()).collect();
        let h = header(5, B256::repeat_byte(9), EMPTY_ROOT);
        let raw = h.encode();
        let qc = qc_for(&h, &keys, &[0, 1, 3], 4);
        assert_eq!(
            check_header(&raw, &qc, &pks).expect("3 of 4").hash(),
            h.hash()
        );
        // Through the JSON platon_getBlockQuorumCertByHash answers.
        let j = json!({
            "epoch": qc.data.epoch, "viewNumber": qc.data.view, "blockIndex": qc.data.index,
            "blockNumber": qc.data.number, "blockHash": qc.data.hash,
            "signers": "1101", "signature": format!("0x{}", hex::encode(&qc.signature)),
        });
        assert_eq!(qc_from_json(&j).expect("json"), qc);

        let two = qc_for(&h, &keys, &[0, 1], 4);
        assert!(
            matches!(check_header(&raw, &two, &pks), Err(LightError::Qc(_))),
            "2 of 4"
        );
        let other: Vec<BlsSecretKey> = (0..4)
            .map(|_| BlsSecretKey::random().expect("key"))
            .collect();
        let forged = qc_for(&h, &other, &[0, 1, 2], 4);
        assert!(
            matches!(check_header(&raw, &forged, &pks), Err(LightError::Qc(_))),
            "other keys"
        );
        // A QC of another block (an old one) for this header.
        let old = qc_for(
            &header(4, B256::repeat_byte(8), EMPTY_ROOT),
            &keys,
            &[0, 1, 2],
            4,
        );
        assert!(matches!(
            check_header(&raw, &old, &pks),
            Err(LightError::Header(_))
        ));
        // A changed header (another state root) under the real QC.
        let lie = header(5, B256::repeat_byte(9), B256::repeat_byte(7)).encode();
        assert!(matches!(
            check_header(&lie, &qc, &pks),
            Err(LightError::Header(_))
        ));
        assert!(matches!(
            check_header(&raw[1..], &qc, &pks),
            Err(LightError::Header(_))
        ));
        let mut short = qc.clone();
        short.signers.pop();
        assert!(matches!(
            check_header(&raw, &short, &pks),
            Err(LightError::Qc(_))
        ));
    }

    #[test]
    fn the_chain_takes_only_the_next_linked_header_and_keeps_a_bounded_window() {
        let mut c = HeaderChain::default();
        let g = header(0, B256::ZERO, EMPTY_ROOT);
        c.extend(g.clone()).expect("genesis");
        assert!(matches!(
            c.extend(header(2, g.hash(), EMPTY_ROOT)),
            Err(LightError::Chain { number: 2, .. })
        ));
        assert!(matches!(
            c.extend(header(1, B256::repeat_byte(3), EMPTY_ROOT)),
            Err(LightError::Chain { number: 1, .. })
        ));
        let mut parent = g.hash();
        for n in 1..(KEEP_HEADERS as u64 + 10) {
            let h = header(n, parent, EMPTY_ROOT);
            parent = h.hash();
            c.extend(h).expect("linked");
        }
        assert_eq!(c.next(), KEEP_HEADERS as u64 + 10);
        assert!(c.get(0).is_none() && c.get(9).is_none() && c.get(10).is_some());
    }

    #[test]
    fn state_answers_verify_against_the_state_root_and_a_changed_value_does_not() {
        let nodes = Arc::new(platon_storage::trie::MemoryNodes::default());
        let mut s = platon_storage::StateDb::at_root(EMPTY_ROOT, nodes.clone());
        let who = Address::repeat_byte(0x11);
        let code = vec![0x60, 0x00, 0xf3];
        let account = Account {
            nonce: 4,
            balance: U256::from(123_456u64),
            storage_root: EMPTY_ROOT,
            code_hash: keccak256(&code),
        };
        s.set_account(who, account.clone());
        s.set_account(Address::repeat_byte(0x22), Account::default());
        let (root, trie) = s.commit().expect("commit");
        nodes.insert(trie, Vec::new());
        let back = platon_storage::StateDb::at_root(root, nodes.clone());
        let answer = |a: &Account, proof: &[Vec<u8>]| {
            json!({
                "nonce": format!("{:#x}", a.nonce),
                "balance": format!("{:#x}", a.balance),
                "storageHash": a.storage_root,
                "codeHash": a.code_hash,
                "accountProof": proof.iter().map(|n| format!("0x{}", hex::encode(n))).collect::<Vec<_>>(),
                "storageProof": [],
            })
        };
        let (got, proof) = back.prove_account(&who).expect("prove");
        assert_eq!(got, account);
        let (a, _) = check_account(root, &who, &[], &answer(&got, &proof)).expect("verifies");
        assert_eq!(a.balance, U256::from(123_456u64));
        check_code(a.code_hash, &code).expect("code");
        assert!(check_code(a.code_hash, &[0x00]).is_err());
        let mut more = got.clone();
        more.balance += U256::from(1u64);
        assert!(matches!(
            check_account(root, &who, &[], &answer(&more, &proof)),
            Err(LightError::Proof(_))
        ));
        // An absent account is proven absent; claiming it has a balance is refused.
        let nobody = Address::repeat_byte(0x33);
        let (none, absent) = back.prove_account(&nobody).expect("prove absence");
        check_account(root, &nobody, &[], &answer(&none, &absent)).expect("absent");
        let mut rich = none.clone();
        rich.balance = U256::from(5u64);
        assert!(check_account(root, &nobody, &[], &answer(&rich, &absent)).is_err());
        // The proof of another root does not do.
        assert!(check_account(B256::repeat_byte(1), &who, &[], &answer(&got, &proof)).is_err());
        // A slot asked for must come with its proof.
        let slot = B256::ZERO;
        assert!(check_account(root, &who, &[slot], &answer(&got, &proof)).is_err());
    }
}

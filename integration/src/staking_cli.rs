//! `platon staking …`: the staking contract from the command line. Writes are ordinary signed
//! transactions to `0x1000…0002` with PlatON's call encoding: each is first simulated with
//! `eth_call` (a refusal prints the contract's reason and sends nothing), then sent, and the
//! command waits for its receipt. Reads go to the `platon_*` JSON-RPC methods.

use alloy_primitives::{Address, Bytes, U256};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use platon_crypto::bls::BlsSecretKey;
use platon_crypto::vrf::VrfSecretKey;
use platon_crypto::SecretKey;
use platon_messages::{TxBody, TxKind};
use platon_vm::ppos::election::LAT;
use platon_vm::ppos::staking;
use platon_vm::system::{encode_call, STAKING};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// A staking write.
#[derive(Debug)]
pub enum Write {
    /// Become a candidate.
    Create {
        /// Overlay Node-ID (16 bytes).
        node_id: u128,
        /// Own stake.
        amount: U256,
        /// Delegators' share of rewards (basis points).
        reward_per: u16,
        /// Display name.
        name: String,
        /// Reward address (default: the sender).
        benefit: Option<Address>,
        /// BLS secret key (hex), whose public key and proof of possession are registered.
        bls: Box<BlsSecretKey>,
        /// VRF key.
        vrf: Box<VrfSecretKey>,
    },
    /// Change reward address, reward share, name.
    Edit {
        /// Node-ID.
        node_id: u128,
        /// Reward address.
        benefit: Address,
        /// Delegators' share (basis points).
        reward_per: u16,
        /// Display name.
        name: String,
    },
    /// Add own stake.
    Increase {
        /// Node-ID.
        node_id: u128,
        /// Amount.
        amount: U256,
    },
    /// Stop being a candidate.
    Withdraw {
        /// Node-ID.
        node_id: u128,
    },
    /// Delegate to a candidate.
    Delegate {
        /// Node-ID.
        node_id: u128,
        /// Amount.
        amount: U256,
    },
    /// Take a delegation back.
    Undelegate {
        /// Node-ID.
        node_id: u128,
        /// Amount.
        amount: U256,
    },
}

fn enc<T: alloy_rlp::Encodable>(v: T) -> Vec<u8> {
    alloy_rlp::encode(v)
}

fn enc_bytes(b: &[u8]) -> Vec<u8> {
    alloy_rlp::encode(b)
}

impl Write {
    /// The call data, for `sender`.
    pub fn call_data(&self, sender: Address) -> Vec<u8> {
        let id = |n: &u128| enc_bytes(&n.to_be_bytes());
        match self {
            Write::Create {
                node_id,
                amount,
                reward_per,
                name,
                benefit,
                bls,
                vrf,
            } => encode_call(
                staking::CREATE_STAKING,
                &[
                    enc(benefit.unwrap_or(sender)),
                    id(node_id),
                    enc_bytes(name.as_bytes()),
                    enc(*amount),
                    enc(u64::from(*reward_per)),
                    enc_bytes(&bls.public_key().to_bytes()),
                    enc_bytes(&bls.prove_possession().to_bytes()),
                    enc_bytes(&vrf.public_key().to_bytes()),
                ],
            ),
            Write::Edit {
                node_id,
                benefit,
                reward_per,
                name,
            } => encode_call(
                staking::EDIT_CANDIDATE,
                &[
                    enc(*benefit),
                    id(node_id),
                    enc(u64::from(*reward_per)),
                    enc_bytes(name.as_bytes()),
                ],
            ),
            Write::Increase { node_id, amount } => {
                encode_call(staking::INCREASE_STAKING, &[id(node_id), enc(*amount)])
            }
            Write::Withdraw { node_id } => encode_call(staking::WITHDREW_STAKING, &[id(node_id)]),
            Write::Delegate { node_id, amount } => {
                encode_call(staking::DELEGATE, &[id(node_id), enc(*amount)])
            }
            Write::Undelegate { node_id, amount } => {
                encode_call(staking::WITHDREW_DELEGATION, &[id(node_id), enc(*amount)])
            }
        }
    }
}

/// Parses an amount in LAT (`100000`, `0.5`) into von.
pub fn parse_lat(s: &str) -> Result<U256, String> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 18 {
        return Err(format!("{s:?}: an amount in LAT with at most 18 decimals"));
    }
    let digits = |d: &str| d.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return Err(format!("{s:?}: an amount in LAT with at most 18 decimals"));
    }
    let w = if whole.is_empty() {
        U256::ZERO
    } else {
        U256::from_str_radix(whole, 10).map_err(|e| format!("{s:?}: {e}"))?
    };
    let f = if frac.is_empty() {
        U256::ZERO
    } else {
        U256::from_str_radix(&format!("{frac:0<18}"), 10).map_err(|e| format!("{s:?}: {e}"))?
    };
    w.checked_mul(U256::from(LAT))
        .and_then(|x| x.checked_add(f))
        .ok_or_else(|| format!("{s:?}: too large"))
}

/// Parses a Node-ID (32 hex digits, `0x` optional).
pub fn parse_node_id(s: &str) -> Result<u128, String> {
    let h = s.trim_start_matches("0x");
    if h.len() != 32 {
        return Err(format!("{s:?}: a Node-ID is 32 hex digits"));
    }
    u128::from_str_radix(h, 16).map_err(|e| format!("{s:?}: {e}"))
}

/// Reads a hex secret from a file.
fn read_hex(path: &Path) -> Result<Vec<u8>, String> {
    crate::load_or_create_hex_secret(path, None).map_err(|e| e.to_string())
}

/// The account key in `path` (hex).
pub fn read_account_key(path: &Path) -> Result<SecretKey, String> {
    SecretKey::from_bytes(&read_hex(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// The BLS key in `path` (hex, as `nodeK/consensus/bls.key`).
pub fn read_bls_key(path: &Path) -> Result<BlsSecretKey, String> {
    BlsSecretKey::from_bytes(&read_hex(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

/// The VRF key whose 32-byte seed is in `path` (hex).
pub fn read_vrf_key(path: &Path) -> Result<VrfSecretKey, String> {
    let seed: [u8; 32] = read_hex(path)?
        .try_into()
        .map_err(|_| format!("{}: a VRF seed is 32 bytes", path.display()))?;
    VrfSecretKey::from_seed(&seed).map_err(|e| format!("{}: {e}", path.display()))
}

/// A JSON-RPC client for `url`.
pub fn client(url: &str) -> Result<HttpClient, String> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(url)
        .map_err(|e| format!("bad RPC URL {url}: {e}"))
}

/// One JSON-RPC call; a node's refusal comes back as its message.
pub(crate) async fn request(
    c: &HttpClient,
    method: &str,
    params: Vec<Value>,
) -> Result<Value, String> {
    let mut p = jsonrpsee::core::params::ArrayParams::new();
    for v in params {
        p.insert(v).map_err(|e| e.to_string())?;
    }
    c.request(method, p).await.map_err(|e| match e {
        jsonrpsee::core::ClientError::Call(obj) => obj.message().to_string(),
        e => e.to_string(),
    })
}

/// A hex quantity from a JSON-RPC answer.
pub(crate) fn q(v: &Value) -> Result<u128, String> {
    v.as_str()
        .and_then(|s| u128::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| format!("unexpected answer {v}"))
}

/// Simulates, signs, sends and waits for `w`; the receipt.
pub async fn send(c: &HttpClient, key: &SecretKey, w: &Write) -> Result<Value, String> {
    let from = key.address();
    let data = Bytes::from(w.call_data(from));
    let call = json!({"from": from, "to": STAKING, "data": data});
    // The contract's verdict first: a refusal costs nothing.
    request(c, "eth_call", vec![call.clone(), json!("latest")]).await?;
    let chain_id = q(&request(c, "eth_chainId", vec![]).await?)? as u64;
    let nonce = q(&request(
        c,
        "eth_getTransactionCount",
        vec![json!(from), json!("pending")],
    )
    .await?)? as u64;
    let price = q(&request(c, "eth_gasPrice", vec![]).await?)?;
    let gas = q(&request(c, "eth_estimateGas", vec![call]).await?)? as u64;
    let tx = TxBody::Legacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price: U256::from(price),
        gas_limit: gas.saturating_add(gas / 5),
        to: TxKind::Call(STAKING),
        value: U256::ZERO,
        input: data,
    }
    .sign(key);
    let hash = request(
        c,
        "eth_sendRawTransaction",
        vec![json!(format!("0x{}", hex::encode(&tx.encoded)))],
    )
    .await?;
    for _ in 0..600 {
        let r = request(c, "eth_getTransactionReceipt", vec![hash.clone()]).await?;
        if !r.is_null() {
            if r["status"] != "0x1" {
                return Err(format!("transaction {hash} failed: {r}"));
            }
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("transaction {hash} sent; no receipt within 60 s"))
}

/// A staking read through `platon_*`.
pub async fn read(c: &HttpClient, method: &str, params: Vec<Value>) -> Result<Value, String> {
    request(c, method, params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_node_ids_parse_strictly() {
        assert_eq!(
            parse_lat("100000"),
            Ok(U256::from(100_000u64) * U256::from(LAT))
        );
        assert_eq!(parse_lat("0.5"), Ok(U256::from(LAT / 2)));
        assert_eq!(parse_lat("1.000000000000000001"), Ok(U256::from(LAT + 1)));
        for bad in ["", ".", "1.0000000000000000001", "-1", "1e3", "12a"] {
            assert!(parse_lat(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_node_id("0x0000000000000000000000000000abcd"),
            Ok(0xabcd)
        );
        assert!(parse_node_id("abcd").is_err());
    }
}

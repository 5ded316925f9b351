//! JSON shapes of blocks, transactions and receipts as geth returns them, and parsing of the
//! parameters clients send (quantities, block tags, call objects).

use alloy_primitives::{Address, Bytes, B256, U256};
use jsonrpsee::types::ErrorObjectOwned;
use platon_messages::{Block, Header, Receipt, SignedTransaction, TxBody};
use serde_json::{json, Value};

/// geth's code for server-side errors with a message (nonce too low, insufficient funds, ...).
pub const SERVER_ERROR: i32 = -32000;
/// JSON-RPC invalid params.
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC internal error.
pub const INTERNAL_ERROR: i32 = -32603;

/// An error object with a code and message.
pub fn rpc_err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.into(), None::<()>)
}

/// Invalid params (-32602).
pub fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    rpc_err(INVALID_PARAMS, msg)
}

/// Bytes as a `0x`-prefixed hex string.
pub fn hex0x(b: &[u8]) -> Value {
    json!(format!("0x{}", hex::encode(b)))
}

/// A hex quantity: `0x` and lowercase hex without leading zeros.
pub fn qty<T: std::fmt::LowerHex>(v: T) -> String {
    format!("{v:#x}")
}

/// Parses a quantity given as a hex string or a JSON number.
pub fn parse_u64(v: &Value, what: &str) -> Result<u64, ErrorObjectOwned> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| invalid_params(format!("{what}: not a non-negative integer"))),
        Value::String(s) => {
            let hex = s
                .strip_prefix("0x")
                .ok_or_else(|| invalid_params(format!("{what}: hex string without 0x prefix")))?;
            if hex.is_empty() || hex.len() > 16 {
                return Err(invalid_params(format!(
                    "{what}: invalid hex quantity {s:?}"
                )));
            }
            u64::from_str_radix(hex, 16)
                .map_err(|_| invalid_params(format!("{what}: invalid hex quantity {s:?}")))
        }
        _ => Err(invalid_params(format!("{what}: expected a quantity"))),
    }
}

/// Parses a 256-bit quantity.
pub fn parse_u256(v: &Value, what: &str) -> Result<U256, ErrorObjectOwned> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| invalid_params(format!("{what}: not a non-negative integer"))),
        Value::String(s) => {
            let hex = s
                .strip_prefix("0x")
                .ok_or_else(|| invalid_params(format!("{what}: hex string without 0x prefix")))?;
            if hex.is_empty() || hex.len() > 64 {
                return Err(invalid_params(format!(
                    "{what}: invalid hex quantity {s:?}"
                )));
            }
            U256::from_str_radix(hex, 16)
                .map_err(|_| invalid_params(format!("{what}: invalid hex quantity {s:?}")))
        }
        _ => Err(invalid_params(format!("{what}: expected a quantity"))),
    }
}

/// Parses 0x-prefixed hex data.
pub fn parse_bytes(v: &Value, what: &str) -> Result<Bytes, ErrorObjectOwned> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid_params(format!("{what}: expected hex data")))?;
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| invalid_params(format!("{what}: hex data without 0x prefix")))?;
    hex::decode(hex)
        .map(Bytes::from)
        .map_err(|_| invalid_params(format!("{what}: invalid hex data")))
}

/// Parses an address.
pub fn parse_address(v: &Value, what: &str) -> Result<Address, ErrorObjectOwned> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid_params(format!("{what}: expected an address")))?;
    s.parse::<Address>()
        .map_err(|_| invalid_params(format!("{what}: invalid address {s:?}")))
}

/// Parses a 32-byte hash.
pub fn parse_hash(v: &Value, what: &str) -> Result<B256, ErrorObjectOwned> {
    let s = v
        .as_str()
        .ok_or_else(|| invalid_params(format!("{what}: expected a 32-byte hash")))?;
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| invalid_params(format!("{what}: hex string without 0x prefix")))?;
    if hex.len() != 64 {
        return Err(invalid_params(format!(
            "{what}: expected a 32-byte hash, got {s:?}"
        )));
    }
    s.parse::<B256>()
        .map_err(|_| invalid_params(format!("{what}: invalid hash {s:?}")))
}

/// A block selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// The head (latest, safe and finalized are all the head on an instant-finality chain).
    Latest,
    /// The head plus the pool (for nonces).
    Pending,
    /// A height.
    Number(u64),
    /// A hash.
    Hash(B256),
}

/// Parses a block tag, number, or EIP-1898 object; absent means latest.
pub fn parse_block_id(v: Option<&Value>) -> Result<BlockId, ErrorObjectOwned> {
    let Some(v) = v else {
        return Ok(BlockId::Latest);
    };
    match v {
        Value::Null => Ok(BlockId::Latest),
        Value::String(s) => match s.as_str() {
            "latest" | "safe" | "finalized" => Ok(BlockId::Latest),
            "pending" => Ok(BlockId::Pending),
            "earliest" => Ok(BlockId::Number(0)),
            _ if s.len() == 66 => Ok(BlockId::Hash(parse_hash(v, "block hash")?)),
            _ => Ok(BlockId::Number(parse_u64(v, "block number")?)),
        },
        Value::Object(o) => {
            if let Some(h) = o.get("blockHash") {
                Ok(BlockId::Hash(parse_hash(h, "blockHash")?))
            } else if let Some(n) = o.get("blockNumber") {
                parse_block_id(Some(n))
            } else {
                Err(invalid_params(
                    "block selector object needs blockHash or blockNumber",
                ))
            }
        }
        Value::Number(_) => Ok(BlockId::Number(parse_u64(v, "block number")?)),
        _ => Err(invalid_params("invalid block selector")),
    }
}

/// Where a transaction sits, for its JSON.
#[derive(Debug, Clone, Copy)]
pub struct TxPosition {
    /// Block hash.
    pub block_hash: B256,
    /// Block number.
    pub block_number: u64,
    /// Index within the block.
    pub index: u64,
    /// The block's base fee.
    pub base_fee: u64,
    /// The block's timestamp.
    pub timestamp: u64,
}

impl TxPosition {
    /// The position of the `index`-th transaction of the block `h` heads, whose hash is
    /// `block_hash`.
    pub fn in_block(h: &Header, block_hash: B256, index: usize) -> TxPosition {
        TxPosition {
            block_hash,
            block_number: h.number,
            index: index as u64,
            base_fee: h.base_fee_per_gas,
            timestamp: h.timestamp,
        }
    }
}

fn access_list_json(tx: &SignedTransaction) -> Value {
    serde_json::to_value(tx.body.access_list()).unwrap_or(Value::Null)
}

/// A 32-byte storage word as `eth_getStorageAt` answers it: 0x and 64 hex digits.
pub fn storage_word(v: U256) -> Value {
    json!(format!("0x{}", hex::encode(v.to_be_bytes::<32>())))
}

/// A transaction not signed (`eth_fillTransaction`, `eth_simulateV1`): its unsigned encoding,
/// the hash of that, `sender` as its sender and a zero signature.
pub fn unsigned_tx(body: TxBody, sender: Address) -> SignedTransaction {
    let raw = body.encode_unsigned();
    SignedTransaction {
        hash: alloy_primitives::keccak256(&raw),
        sender,
        sig: platon_crypto::RecoverableSig {
            r: U256::ZERO,
            s: U256::ZERO,
            y_parity: false,
        },
        body,
        encoded: raw.into(),
    }
}

/// A transaction as `eth_getTransactionByHash` returns it.
pub fn tx_json(tx: &SignedTransaction, pos: Option<TxPosition>) -> Value {
    let b = &tx.body;
    let mut o = json!({
        "hash": tx.hash,
        "nonce": qty(b.nonce()),
        "blockHash": pos.map(|p| p.block_hash),
        "blockNumber": pos.map(|p| qty(p.block_number)),
        "blockTimestamp": pos.map(|p| qty(p.timestamp)),
        "transactionIndex": pos.map(|p| qty(p.index)),
        "from": tx.sender,
        "to": b.kind().to(),
        "value": qty(b.value()),
        "gas": qty(b.gas_limit()),
        "input": b.input(),
        "type": qty(b.tx_type()),
        "v": qty(tx.v()),
        "r": qty(tx.sig.r),
        "s": qty(tx.sig.s),
    });
    let gas_price = match (b, pos) {
        (TxBody::DynamicFee { .. }, Some(p)) => b.effective_gas_price(U256::from(p.base_fee)),
        _ => b.max_fee_per_gas(),
    };
    o["gasPrice"] = json!(qty(gas_price));
    if let Some(id) = b.chain_id() {
        o["chainId"] = json!(qty(id));
    }
    if b.tx_type() != 0 {
        o["accessList"] = access_list_json(tx);
        o["yParity"] = json!(qty(u8::from(tx.sig.y_parity)));
    }
    if let TxBody::DynamicFee {
        max_fee_per_gas,
        max_priority_fee_per_gas,
        ..
    } = b
    {
        o["maxFeePerGas"] = json!(qty(*max_fee_per_gas));
        o["maxPriorityFeePerGas"] = json!(qty(*max_priority_fee_per_gas));
    }
    o
}

/// A header's fields as block JSON carries them.
pub fn header_json(h: &Header, size: Option<usize>) -> Value {
    let mut o = json!({
        "number": qty(h.number),
        "hash": h.hash(),
        "parentHash": h.parent_hash,
        "nonce": format!("0x{}", hex::encode(h.nonce)),
        "sha3Uncles": h.ommers_hash,
        "logsBloom": h.logs_bloom,
        "transactionsRoot": h.transactions_root,
        "stateRoot": h.state_root,
        "receiptsRoot": h.receipts_root,
        "miner": h.beneficiary,
        "difficulty": qty(h.difficulty),
        "totalDifficulty": "0x0",
        "extraData": h.extra_data,
        "gasLimit": qty(h.gas_limit),
        "gasUsed": qty(h.gas_used),
        "timestamp": qty(h.timestamp),
        "baseFeePerGas": qty(h.base_fee_per_gas),
        "mixHash": h.mix_hash,
    });
    if let Some(s) = size {
        o["size"] = json!(qty(s as u64));
    }
    o
}

/// A block as `eth_getBlockBy*` returns it.
pub fn block_json(block: &Block, full: bool) -> Value {
    let h = &block.header;
    let mut o = header_json(h, Some(block.encode().len()));
    let hash = h.hash();
    o["transactions"] = if full {
        block
            .transactions
            .iter()
            .enumerate()
            .map(|(i, t)| tx_json(t, Some(TxPosition::in_block(h, hash, i))))
            .collect()
    } else {
        block.transactions.iter().map(|t| json!(t.hash)).collect()
    };
    o["uncles"] = json!([]);
    o
}

/// A receipt as `eth_getTransactionReceipt` returns it.
/// `log_offset` is the number of logs in the block's earlier receipts (log indexes are per block).
pub fn receipt_json(
    block: &Block,
    index: usize,
    receipt: &Receipt,
    tx: &SignedTransaction,
    log_offset: usize,
) -> Value {
    let hash = block.hash();
    let number = block.header.number;
    let logs: Vec<Value> = receipt
        .logs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "address": l.address,
                "topics": l.topics,
                "data": l.data,
                "blockHash": hash,
                "blockNumber": qty(number),
                "blockTimestamp": qty(block.header.timestamp),
                "transactionHash": tx.hash,
                "transactionIndex": qty(index as u64),
                "logIndex": qty((log_offset + i) as u64),
                "removed": false,
            })
        })
        .collect();
    json!({
        "transactionHash": tx.hash,
        "transactionIndex": qty(index as u64),
        "blockHash": hash,
        "blockNumber": qty(number),
        "from": tx.sender,
        "to": tx.body.kind().to(),
        "cumulativeGasUsed": qty(receipt.cumulative_gas_used),
        "gasUsed": qty(receipt.gas_used),
        "effectiveGasPrice": qty(receipt.effective_gas_price),
        "contractAddress": receipt.contract_address,
        "logs": logs,
        "logsBloom": receipt.logs_bloom,
        "type": qty(receipt.tx_type),
        "status": qty(u8::from(receipt.success)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_tags() {
        assert_eq!(qty(0u64), "0x0");
        assert_eq!(qty(255u64), "0xff");
        assert_eq!(qty(U256::ZERO), "0x0");
        assert_eq!(qty(U256::from(4096u64)), "0x1000");
        assert_eq!(parse_u64(&json!("0x10"), "n").expect("hex"), 16);
        assert_eq!(parse_u64(&json!(16), "n").expect("num"), 16);
        assert!(parse_u64(&json!("10"), "n").is_err());
        assert!(parse_u64(&json!("0x"), "n").is_err());
        assert!(parse_u64(&json!("0x1ffffffffffffffff"), "n").is_err());
        assert_eq!(
            parse_block_id(Some(&json!("earliest"))).expect("tag"),
            BlockId::Number(0)
        );
        assert_eq!(
            parse_block_id(Some(&json!("finalized"))).expect("tag"),
            BlockId::Latest
        );
        assert_eq!(parse_block_id(None).expect("tag"), BlockId::Latest);
        assert!(parse_block_id(Some(&json!("newest"))).is_err());
        assert!(parse_address(&json!("0x12"), "a").is_err());
        assert!(parse_bytes(&json!("0xzz"), "d").is_err());
    }
}

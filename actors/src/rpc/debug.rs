//! geth's debug namespace beyond the single-transaction tracers: block tracing
//! (`debug_traceBlockByNumber`, `debug_traceBlockByHash`), the raw getters (headers, blocks,
//! receipts and transactions in their consensus encodings) and `debug_getBadBlocks`.

use super::json::*;
use super::methods::{arg, storage_err, RpcCtx, R};
use alloy_rlp::Encodable;
use platon_messages::rlp::encode_raw_list;
use platon_messages::{Block, Receipt};
use serde_json::{json, Value};

/// The block a raw getter or tracer names: by number or tag, with geth's not-found error.
fn block_by_selector(c: &RpcCtx, v: &Value) -> Result<Block, jsonrpsee::types::ErrorObjectOwned> {
    let id = parse_block_id(Some(v))
        .map_err(|e| invalid_params(format!("invalid argument 0: {}", e.message())))?;
    c.block(id)?.ok_or_else(|| match id {
        BlockId::Number(n) => rpc_err(SERVER_ERROR, format!("block #{n} not found")),
        BlockId::Hash(h) => rpc_err(SERVER_ERROR, format!("block {h} not found")),
        _ => rpc_err(SERVER_ERROR, "block not found"),
    })
}

/// The Ethereum (devp2p) encoding of a block: `[header, transactions, uncles]`, a legacy
/// transaction as its RLP list and a typed one as a byte string of its envelope.
pub fn eth_block_rlp(block: &Block) -> Vec<u8> {
    let txs: Vec<Vec<u8>> = block
        .transactions
        .iter()
        .map(|t| {
            if t.body.tx_type() == 0 {
                t.encoded.to_vec()
            } else {
                let mut o = Vec::with_capacity(t.encoded.len() + 4);
                t.encoded.encode(&mut o);
                o
            }
        })
        .collect();
    encode_raw_list(&[
        block.header.encode(),
        encode_raw_list(&txs),
        encode_raw_list(&[]),
    ])
}

/// `debug_getRawHeader(block)`: the header's RLP.
pub fn raw_header(c: &RpcCtx, a: &[Value]) -> R {
    let b = block_by_selector(c, arg(a, 0, "block")?)?;
    Ok(hex0x(&b.header.encode()))
}

/// `debug_getRawBlock(block)`: the block's RLP.
pub fn raw_block(c: &RpcCtx, a: &[Value]) -> R {
    let b = block_by_selector(c, arg(a, 0, "block")?)?;
    Ok(hex0x(&eth_block_rlp(&b)))
}

/// `debug_getRawReceipts(block)`: each receipt's consensus (EIP-2718) encoding.
pub fn raw_receipts(c: &RpcCtx, a: &[Value]) -> R {
    let b = block_by_selector(c, arg(a, 0, "block")?)?;
    let receipts = c
        .node
        .store
        .receipts(&b.hash())
        .map_err(storage_err)?
        .unwrap_or_default();
    Ok(Value::Array(
        receipts
            .iter()
            .map(|r| hex0x(&Receipt::consensus_encode(r)))
            .collect(),
    ))
}

/// `debug_getRawTransaction(hash)`: the transaction's envelope, `0x` when unknown (as geth).
pub async fn raw_transaction(c: &RpcCtx, a: &[Value]) -> R {
    let hash = parse_hash(arg(a, 0, "transaction hash")?, "invalid argument 0")?;
    if let Some((block, i)) = super::methods::locate(c, &hash)? {
        return Ok(hex0x(&block.transactions[i].encoded));
    }
    match c.pool().get(hash).await {
        Ok(Some(tx)) => Ok(hex0x(&tx.encoded)),
        Ok(None) => Ok(json!("0x")),
        Err(e) => Err(rpc_err(SERVER_ERROR, e.to_string())),
    }
}

/// `debug_getRawBlockAccessList(block)`: no block of this chain has one (EIP-7928 is not run).
pub fn raw_block_access_list(c: &RpcCtx, a: &[Value]) -> R {
    block_by_selector(c, arg(a, 0, "block")?)?;
    Err(super::methods::no_access_lists())
}

/// `debug_getBadBlocks`: the last blocks proposed to this node that did not execute to their
/// header, newest last (at most [`crate::BAD_BLOCKS_KEPT`]).
pub fn bad_blocks(c: &RpcCtx, _: &[Value]) -> R {
    Ok(Value::Array(
        c.node
            .bad_blocks
            .list()
            .iter()
            .map(|b| {
                json!({
                    "block": block_json(b, true),
                    "hash": b.hash(),
                    "rlp": hex0x(&eth_block_rlp(b)),
                })
            })
            .collect(),
    ))
}

/// `debug_traceBlockByNumber(block, options?)`.
pub async fn trace_block_by_number(c: &RpcCtx, a: &[Value]) -> R {
    let block = block_by_selector(c, arg(a, 0, "block")?)?;
    super::evm::trace_block(c, block, a.get(1)).await
}

/// `debug_traceBlockByHash(hash, options?)`.
pub async fn trace_block_by_hash(c: &RpcCtx, a: &[Value]) -> R {
    let h = parse_hash(arg(a, 0, "block hash")?, "invalid argument 0")?;
    let block = c
        .block(BlockId::Hash(h))?
        .ok_or_else(|| rpc_err(SERVER_ERROR, format!("block {h} not found")))?;
    super::evm::trace_block(c, block, a.get(1)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{keccak256, Bytes, B256, U256};
    use platon_messages::{Header, TxBody, TxKind};

    #[test]
    fn block_rlp_is_ethereum_shaped() {
        let key = platon_crypto::derive_dev_keys(platon_crypto::DEV_MNEMONIC, 1).expect("key")[0];
        let legacy = TxBody::Legacy {
            chain_id: Some(1),
            nonce: 0,
            gas_price: U256::from(1),
            gas_limit: 21_000,
            to: TxKind::Call(Default::default()),
            value: U256::ZERO,
            input: Bytes::new(),
        }
        .sign(&key);
        let typed = TxBody::DynamicFee {
            chain_id: 1,
            nonce: 1,
            max_priority_fee_per_gas: U256::from(1),
            max_fee_per_gas: U256::from(2),
            gas_limit: 21_000,
            to: TxKind::Call(Default::default()),
            value: U256::ZERO,
            input: Bytes::new(),
            access_list: vec![],
        }
        .sign(&key);
        let block = Block {
            header: Header {
                parent_hash: B256::repeat_byte(1),
                ommers_hash: B256::repeat_byte(2),
                beneficiary: Default::default(),
                state_root: B256::repeat_byte(3),
                transactions_root: B256::repeat_byte(4),
                receipts_root: B256::repeat_byte(5),
                logs_bloom: Default::default(),
                difficulty: U256::ZERO,
                number: 7,
                gas_limit: 30_000_000,
                gas_used: 42_000,
                timestamp: 1_700_000_000,
                extra_data: Bytes::new(),
                mix_hash: B256::ZERO,
                nonce: [0; 8],
                base_fee_per_gas: 1,
            },
            transactions: vec![legacy.clone(), typed.clone()],
        };
        let raw = eth_block_rlp(&block);
        let item = platon_messages::rlp::decode_item(&raw).expect("rlp");
        let platon_messages::rlp::Item::List(parts) = item else {
            panic!("a block is a list")
        };
        assert_eq!(parts.len(), 3, "header, transactions, uncles");
        assert_eq!(
            keccak256(platon_messages::rlp::encode_item(&parts[0])),
            block.header.hash(),
            "the first item is the header the hash commits to"
        );
        let platon_messages::rlp::Item::List(txs) = &parts[1] else {
            panic!("transactions are a list")
        };
        // The legacy transaction is its own list; the typed one a byte string of its envelope.
        assert_eq!(
            platon_messages::rlp::encode_item(&txs[0]),
            legacy.encoded.to_vec()
        );
        assert_eq!(
            txs[1],
            platon_messages::rlp::Item::Bytes(typed.encoded.to_vec())
        );
        assert_eq!(parts[2], platon_messages::rlp::Item::List(vec![]));
    }
}

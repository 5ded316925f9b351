//! Headers, blocks, receipts and logs, with their Ethereum encodings and hashes.

use crate::rlp::{encode_list, encode_raw_list, Reader, RlpError};
use crate::transaction::{SignedTransaction, TxRules};
use alloy_primitives::{keccak256, Address, Bloom, BloomInput, Bytes, B256, U256};
use alloy_rlp::Encodable;

/// keccak256 of the RLP of an empty list: the ommers hash of every block here.
pub const EMPTY_OMMERS_HASH: B256 =
    alloy_primitives::b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");
/// Root of the empty Merkle Patricia trie.
pub const EMPTY_ROOT: B256 =
    alloy_primitives::b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// A block header in the London layout (with base fee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Hash of the parent header.
    pub parent_hash: B256,
    /// Always the empty-list hash: there are no ommers.
    pub ommers_hash: B256,
    /// Fee recipient (the proposer).
    pub beneficiary: Address,
    /// State trie root after the block.
    pub state_root: B256,
    /// Root of the transactions trie.
    pub transactions_root: B256,
    /// Root of the receipts trie.
    pub receipts_root: B256,
    /// Union of the receipts' blooms.
    pub logs_bloom: Bloom,
    /// Always zero.
    pub difficulty: U256,
    /// Height.
    pub number: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// Gas used by all transactions.
    pub gas_used: u64,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// Free-form, at most 32 bytes.
    pub extra_data: Bytes,
    /// Unused (zero).
    pub mix_hash: B256,
    /// Unused (zero).
    pub nonce: [u8; 8],
    /// EIP-1559 base fee.
    pub base_fee_per_gas: u64,
}

impl Header {
    /// RLP encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode_list(&[
            &self.parent_hash,
            &self.ommers_hash,
            &self.beneficiary,
            &self.state_root,
            &self.transactions_root,
            &self.receipts_root,
            &self.logs_bloom,
            &self.difficulty,
            &self.number,
            &self.gas_limit,
            &self.gas_used,
            &self.timestamp,
            &self.extra_data,
            &self.mix_hash,
            &alloy_primitives::FixedBytes::<8>(self.nonce),
            &self.base_fee_per_gas,
        ])
    }

    /// keccak256 of the encoding.
    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, RlpError> {
        let mut outer = Reader::new(bytes);
        let mut r = outer.list()?;
        outer.finish()?;
        let h = Header {
            parent_hash: r.fixed::<32>("parentHash")?.into(),
            ommers_hash: r.fixed::<32>("ommersHash")?.into(),
            beneficiary: r.address("beneficiary")?,
            state_root: r.fixed::<32>("stateRoot")?.into(),
            transactions_root: r.fixed::<32>("transactionsRoot")?.into(),
            receipts_root: r.fixed::<32>("receiptsRoot")?.into(),
            logs_bloom: Bloom::from(r.fixed::<256>("logsBloom")?),
            difficulty: r.u256("difficulty")?,
            number: r.u64("number")?,
            gas_limit: r.u64("gasLimit")?,
            gas_used: r.u64("gasUsed")?,
            timestamp: r.u64("timestamp")?,
            extra_data: Bytes::copy_from_slice(r.bytes()?),
            mix_hash: r.fixed::<32>("mixHash")?.into(),
            nonce: r.fixed::<8>("nonce")?,
            base_fee_per_gas: r.u64("baseFeePerGas")?,
        };
        r.finish().map_err(|_| RlpError::WrongArity)?;
        Ok(h)
    }
}

/// A log entry emitted by a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Emitting contract.
    pub address: Address,
    /// Indexed topics.
    pub topics: Vec<B256>,
    /// Unindexed data.
    pub data: Bytes,
}

impl Log {
    /// RLP `[address, [topics], data]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut topics = Vec::new();
        alloy_rlp::encode_list::<B256, B256>(&self.topics, &mut topics);
        let mut addr = Vec::new();
        self.address.encode(&mut addr);
        let mut data = Vec::new();
        self.data.encode(&mut data);
        encode_raw_list(&[addr, topics, data])
    }
}

/// keccak256 of the RLP list of `logs` (the state tests' `logs` field).
pub fn logs_hash(logs: &[Log]) -> B256 {
    let items: Vec<Vec<u8>> = logs.iter().map(Log::encode).collect();
    alloy_primitives::keccak256(encode_raw_list(&items))
}

/// The outcome of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Transaction type (0, 1, 2).
    pub tx_type: u8,
    /// True on success.
    pub success: bool,
    /// Gas used by this and every earlier transaction of the block.
    pub cumulative_gas_used: u64,
    /// Bloom of this receipt's logs.
    pub logs_bloom: Bloom,
    /// Logs.
    pub logs: Vec<Log>,
    /// Gas used by this transaction alone.
    pub gas_used: u64,
    /// Price per gas actually paid.
    pub effective_gas_price: u128,
    /// Address of a created contract.
    pub contract_address: Option<Address>,
}

impl Receipt {
    /// Computes the bloom of a list of logs.
    pub fn bloom_of(logs: &[Log]) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in logs {
            bloom.accrue(BloomInput::Raw(log.address.as_slice()));
            for t in &log.topics {
                bloom.accrue(BloomInput::Raw(t.as_slice()));
            }
        }
        bloom
    }

    /// The consensus encoding that goes into the receipts trie (typed envelope for types 1 and 2).
    pub fn consensus_encode(&self) -> Vec<u8> {
        let logs: Vec<Vec<u8>> = self.logs.iter().map(Log::encode).collect();
        let logs = encode_raw_list(&logs);
        struct Raw<'a>(&'a [u8]);
        impl Encodable for Raw<'_> {
            fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
                out.put_slice(self.0)
            }
            fn length(&self) -> usize {
                self.0.len()
            }
        }
        let body = encode_list(&[
            &self.success,
            &self.cumulative_gas_used,
            &self.logs_bloom,
            &Raw(&logs),
        ]);
        if self.tx_type == 0 {
            body
        } else {
            let mut out = vec![self.tx_type];
            out.extend(body);
            out
        }
    }
}

fn enc<T: Encodable + ?Sized>(x: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.length());
    x.encode(&mut out);
    out
}

/// Storage encoding of a block's receipts: RLP list of
/// `[type, success, cumulativeGas, bloom, logs, gasUsed, effectiveGasPrice, contractAddress]`.
pub fn encode_receipts(receipts: &[Receipt]) -> Vec<u8> {
    let items: Vec<Vec<u8>> = receipts
        .iter()
        .map(|r| {
            let logs: Vec<Vec<u8>> = r.logs.iter().map(Log::encode).collect();
            let contract: Bytes = r
                .contract_address
                .map(|a| Bytes::copy_from_slice(a.as_slice()))
                .unwrap_or_default();
            encode_raw_list(&[
                enc(&r.tx_type),
                enc(&r.success),
                enc(&r.cumulative_gas_used),
                enc(&r.logs_bloom),
                encode_raw_list(&logs),
                enc(&r.gas_used),
                enc(&r.effective_gas_price),
                enc(&contract),
            ])
        })
        .collect();
    encode_raw_list(&items)
}

/// Decodes [`encode_receipts`] output strictly.
pub fn decode_receipts(bytes: &[u8]) -> Result<Vec<Receipt>, RlpError> {
    let mut outer = Reader::new(bytes);
    let mut list = outer.list()?;
    outer.finish()?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let mut r = list.list()?;
        let tx_type = u8::try_from(r.u64("type")?).map_err(|_| RlpError::Overflow("type"))?;
        let success = match r.u64("status")? {
            0 => false,
            1 => true,
            _ => return Err(RlpError::Overflow("status")),
        };
        let cumulative_gas_used = r.u64("cumulativeGasUsed")?;
        let logs_bloom = Bloom::from(r.fixed::<256>("logsBloom")?);
        let mut logs_r = r.list()?;
        let mut logs = Vec::new();
        while !logs_r.is_empty() {
            let mut l = logs_r.list()?;
            let address = l.address("log address")?;
            let mut topics_r = l.list()?;
            let mut topics = Vec::new();
            while !topics_r.is_empty() {
                topics.push(B256::from(topics_r.fixed::<32>("topic")?));
            }
            let data = Bytes::copy_from_slice(l.bytes()?);
            l.finish().map_err(|_| RlpError::WrongArity)?;
            logs.push(Log {
                address,
                topics,
                data,
            });
        }
        let gas_used = r.u64("gasUsed")?;
        let price = r.u256("effectiveGasPrice")?;
        let effective_gas_price =
            u128::try_from(price).map_err(|_| RlpError::Overflow("effectiveGasPrice"))?;
        let contract = r.bytes()?;
        let contract_address = match contract.len() {
            0 => None,
            20 => Some(Address::from_slice(contract)),
            n => {
                return Err(RlpError::BadLength {
                    field: "contractAddress",
                    expected: 20,
                    got: n,
                })
            }
        };
        r.finish().map_err(|_| RlpError::WrongArity)?;
        out.push(Receipt {
            tx_type,
            success,
            cumulative_gas_used,
            logs_bloom,
            logs,
            gas_used,
            effective_gas_price,
            contract_address,
        });
    }
    Ok(out)
}

/// Below this many senders to recover, a block's are recovered on one thread (spawning threads
/// costs more than it saves: each new thread also faults in fresh memory).
pub const PARALLEL_DECODE_MIN: usize = 64;

/// A block: header plus transactions (no ommers, no withdrawals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions, in order.
    pub transactions: Vec<SignedTransaction>,
}

impl Block {
    /// Storage encoding: RLP list of [header, [tx encodings as byte strings]].
    pub fn encode(&self) -> Vec<u8> {
        let txs: Vec<Vec<u8>> = self
            .transactions
            .iter()
            .map(|t| {
                let mut o = Vec::new();
                t.encoded.encode(&mut o);
                o
            })
            .collect();
        encode_raw_list(&[self.header.encode(), encode_raw_list(&txs)])
    }

    /// Decodes the storage encoding, re-checking every transaction against `rules`.
    pub fn decode(bytes: &[u8], rules: &TxRules) -> Result<Self, crate::TxError> {
        Self::decode_with(bytes, rules, &|_, _| None)
    }

    /// [`Block::decode`], where `known(index, hash)` may give a transaction's sender already
    /// recovered from the same bytes (see [`SignedTransaction::decode_with`]). The senders it does
    /// not know are recovered on every core at once when there are many.
    pub fn decode_with(
        bytes: &[u8],
        rules: &TxRules,
        known: &(dyn Fn(usize, &B256) -> Option<Address> + Sync),
    ) -> Result<Self, crate::TxError> {
        let mut outer = Reader::new(bytes);
        let mut r = outer.list()?;
        outer.finish()?;
        let header = Header::decode(r.raw()?)?;
        let mut txr = r.list()?;
        r.finish().map_err(|_| RlpError::WrongArity)?;
        let mut raws = Vec::new();
        while !txr.is_empty() {
            raws.push(txr.bytes()?);
        }
        // Senders known already (the usual case: this node's pool admitted the transactions, or
        // the store kept them) cost a hash each; only many unknown ones are worth threads.
        let hashes: Vec<B256> = raws.iter().map(keccak256).collect();
        let known: Vec<Option<Address>> = hashes
            .iter()
            .enumerate()
            .map(|(i, h)| known(i, h))
            .collect();
        let decode =
            |first: usize, chunk: &[&[u8]]| -> Result<Vec<SignedTransaction>, crate::TxError> {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, raw)| {
                        let k = first + i;
                        SignedTransaction::decode_hashed(raw, rules, hashes[k], known[k])
                    })
                    .collect()
            };
        let unknown = known.iter().filter(|k| k.is_none()).count();
        let threads = crate::parallelism();
        let transactions = if threads < 2 || unknown < PARALLEL_DECODE_MIN {
            decode(0, &raws)?
        } else {
            let per = raws.len().div_ceil(threads);
            let parts: Vec<Result<Vec<SignedTransaction>, crate::TxError>> =
                std::thread::scope(|s| {
                    let handles: Vec<_> = raws
                        .chunks(per)
                        .enumerate()
                        .map(|(k, chunk)| s.spawn(move || decode(k * per, chunk)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or(Err(crate::TxError::Empty)))
                        .collect()
                });
            let mut all = Vec::with_capacity(raws.len());
            for part in parts {
                all.extend(part?);
            }
            all
        };
        Ok(Block {
            header,
            transactions,
        })
    }

    /// The block hash.
    pub fn hash(&self) -> B256 {
        self.header.hash()
    }
}

/// A block the executor has run: the block, its receipts, and the trie nodes its new state needs.
/// The chain actor writes all of it in one atomic batch.
#[derive(Debug, Clone)]
pub struct ExecutedBlock {
    /// The sealed block.
    pub block: Block,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// New trie nodes (hash, RLP) of the post-state, to persist with the block.
    pub state_nodes: Vec<(B256, Vec<u8>)>,
    /// Contract code first stored by this block (keccak256, code).
    pub codes: Vec<(B256, Vec<u8>)>,
    /// Transactions the executor had to skip (e.g. nonce already used), with the reason.
    pub rejected: Vec<(B256, String)>,
    /// The block's snapshotdb writes (staking data), key to new value (`None`: deleted), in key
    /// order; the state root commits to their running hash.
    pub snapshot: std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(number: u64) -> Header {
        Header {
            parent_hash: B256::repeat_byte(1),
            ommers_hash: EMPTY_OMMERS_HASH,
            beneficiary: Address::repeat_byte(2),
            state_root: EMPTY_ROOT,
            transactions_root: EMPTY_ROOT,
            receipts_root: EMPTY_ROOT,
            logs_bloom: Bloom::ZERO,
            difficulty: U256::ZERO,
            number,
            gas_limit: 30_000_000,
            gas_used: 0,
            timestamp: 1_700_000_000,
            extra_data: Bytes::new(),
            mix_hash: B256::ZERO,
            nonce: [0; 8],
            base_fee_per_gas: 7,
        }
    }

    /// A block of many transactions decodes in parallel to what it was, in order; senders that
    /// `known` gives are taken as they are (not recovered), the others are recovered; a bad
    /// transaction anywhere fails the whole block.
    #[test]
    fn blocks_decode_in_parallel_and_take_known_senders() {
        let rules = TxRules {
            chain_id: 1337,
            shanghai: true,
        };
        let keys: Vec<platon_crypto::SecretKey> = (1..=8u8)
            .map(|i| platon_crypto::SecretKey::from_bytes(&[i; 32]).expect("key"))
            .collect();
        let txs: Vec<SignedTransaction> = (0..300u64)
            .map(|n| {
                crate::TxBody::DynamicFee {
                    chain_id: 1337,
                    nonce: n,
                    max_priority_fee_per_gas: U256::from(1),
                    max_fee_per_gas: U256::from(9),
                    gas_limit: 21_000,
                    to: crate::TxKind::Call(Address::repeat_byte(3)),
                    value: U256::from(n),
                    input: Bytes::new(),
                    access_list: vec![],
                }
                .sign(&keys[(n % 8) as usize])
            })
            .collect();
        let block = Block {
            header: header(9),
            transactions: txs.clone(),
        };
        let enc = block.encode();
        assert_eq!(Block::decode(&enc, &rules).expect("decode"), block);
        // Every 10th sender "known" as a marker address: taken without recovery, by index.
        let marker = Address::repeat_byte(0xee);
        let hashes: Vec<B256> = txs.iter().map(|t| t.hash).collect();
        let known = |i: usize, h: &B256| (i % 10 == 0 && hashes[i] == *h).then_some(marker);
        let got = Block::decode_with(&enc, &rules, &known).expect("decode");
        for (i, (g, t)) in got.transactions.iter().zip(&txs).enumerate() {
            let want = if i % 10 == 0 { marker } else { t.sender };
            assert_eq!(g.sender, want, "transaction {i}");
            assert_eq!(g.hash, t.hash);
        }
        // One transaction of another chain, late in the block: the block is refused.
        let mut bad = block.clone();
        bad.transactions[250] = crate::TxBody::DynamicFee {
            chain_id: 1,
            nonce: 0,
            max_priority_fee_per_gas: U256::from(1),
            max_fee_per_gas: U256::from(9),
            gas_limit: 21_000,
            to: crate::TxKind::Call(Address::repeat_byte(3)),
            value: U256::ZERO,
            input: Bytes::new(),
            access_list: vec![],
        }
        .sign(&keys[0]);
        assert!(matches!(
            Block::decode(&bad.encode(), &rules),
            Err(crate::TxError::InvalidChainId { .. })
        ));
    }

    #[test]
    fn header_round_trips_and_rejects_trailing_bytes() {
        let h = Header {
            gas_used: 21_000,
            extra_data: Bytes::from_static(b"platon"),
            base_fee_per_gas: 1_000_000_000,
            ..header(7)
        };
        let enc = h.encode();
        assert_eq!(Header::decode(&enc), Ok(h.clone()));
        let mut bad = enc.clone();
        bad.push(0);
        assert!(Header::decode(&bad).is_err());
        assert!(Header::decode(&enc[..enc.len() - 1]).is_err());
    }

    #[test]
    fn receipts_round_trip_through_storage() {
        let log = Log {
            address: Address::repeat_byte(9),
            topics: vec![B256::repeat_byte(4)],
            data: Bytes::from_static(b"d"),
        };
        let rs = vec![
            Receipt {
                tx_type: 2,
                success: true,
                cumulative_gas_used: 21_000,
                logs_bloom: Receipt::bloom_of(std::slice::from_ref(&log)),
                logs: vec![log],
                gas_used: 21_000,
                effective_gas_price: 7,
                contract_address: None,
            },
            Receipt {
                tx_type: 0,
                success: false,
                cumulative_gas_used: 50_000,
                logs_bloom: Bloom::ZERO,
                logs: vec![],
                gas_used: 29_000,
                effective_gas_price: 1,
                contract_address: Some(Address::repeat_byte(1)),
            },
        ];
        assert_eq!(decode_receipts(&encode_receipts(&rs)), Ok(rs));
        assert!(decode_receipts(&[0xc1, 0x80]).is_err());
    }

    #[test]
    fn bloom_contains_log_address_and_topics() {
        let log = Log {
            address: Address::repeat_byte(9),
            topics: vec![B256::repeat_byte(4)],
            data: Bytes::new(),
        };
        let bloom = Receipt::bloom_of(std::slice::from_ref(&log));
        assert!(bloom.contains_input(BloomInput::Raw(log.address.as_slice())));
        assert!(bloom.contains_input(BloomInput::Raw(log.topics[0].as_slice())));
        assert!(!bloom.contains_input(BloomInput::Raw(&[1, 2, 3])));
    }
}

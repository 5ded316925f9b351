//! Ethereum transactions: legacy (type 0, with EIP-155 replay protection), EIP-2930 access lists
//! (type 1) and EIP-1559 dynamic fees (type 2); strict decoding, signing, and sender recovery.

use crate::rlp::{encode_raw_list, Reader, RlpError};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_rlp::Encodable;
use platon_crypto::{recover_signer, sign_prehash, CryptoError, RecoverableSig, SecretKey};

/// Why a transaction was refused before it reached any state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a well-formed transaction encoding.
    #[error("rlp: {0}")]
    Rlp(#[from] RlpError),
    /// A typed envelope with a type this node does not support.
    #[error("transaction type {0} not supported")]
    TypeNotSupported(u8),
    /// Empty input.
    #[error("empty transaction bytes")]
    Empty,
    /// The signature's chain id differs from the chain's.
    #[error("invalid chain id for signer: have {have:?} want {want}")]
    InvalidChainId {
        /// The chain id the transaction carries (None for pre-EIP-155 legacy).
        have: Option<u64>,
        /// This chain's id.
        want: u64,
    },
    /// The legacy `v` value is neither 27/28 nor an EIP-155 value.
    #[error("invalid signature v value {0}")]
    InvalidV(u64),
    /// The signature is malformed or does not recover.
    #[error("invalid sender: {0}")]
    InvalidSignature(#[from] CryptoError),
    /// Nonce 2^64-1 is reserved (EIP-2681).
    #[error("nonce has max value")]
    NonceMax,
    /// gas limit × price does not fit in 256 bits.
    #[error("gas limit times gas price overflows 256 bits")]
    GasPriceProductOverflow,
    /// max priority fee above max fee.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// The gas limit does not cover the intrinsic gas.
    #[error("intrinsic gas too low: have {have}, want {want}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        have: u64,
        /// The intrinsic gas it needs.
        want: u64,
    },
}

/// Call target: a contract creation or a call to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// Contract creation (`to` is empty).
    Create,
    /// Message call or transfer.
    Call(Address),
}

impl TxKind {
    /// The target address, if any.
    pub fn to(&self) -> Option<Address> {
        match self {
            TxKind::Create => None,
            TxKind::Call(a) => Some(*a),
        }
    }
}

impl Encodable for TxKind {
    fn encode(&self, out: &mut dyn alloy_rlp::BufMut) {
        match self {
            TxKind::Create => out.put_u8(0x80),
            TxKind::Call(a) => a.encode(out),
        }
    }
    fn length(&self) -> usize {
        match self {
            TxKind::Create => 1,
            TxKind::Call(_) => 21,
        }
    }
}

/// One entry of an EIP-2930 access list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessListItem {
    /// The account.
    pub address: Address,
    /// Its storage slots.
    pub storage_keys: Vec<B256>,
}

/// The fields of a transaction, per type, without the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxBody {
    /// Type 0.
    Legacy {
        /// EIP-155 chain id, None for an unprotected transaction.
        chain_id: Option<u64>,
        /// Sender nonce.
        nonce: u64,
        /// Price per gas.
        gas_price: U256,
        /// Gas limit.
        gas_limit: u64,
        /// Target.
        to: TxKind,
        /// Value in wei.
        value: U256,
        /// Call data.
        input: Bytes,
    },
    /// Type 1.
    AccessList {
        /// Chain id.
        chain_id: u64,
        /// Sender nonce.
        nonce: u64,
        /// Price per gas.
        gas_price: U256,
        /// Gas limit.
        gas_limit: u64,
        /// Target.
        to: TxKind,
        /// Value in wei.
        value: U256,
        /// Call data.
        input: Bytes,
        /// Pre-declared accounts and slots.
        access_list: Vec<AccessListItem>,
    },
    /// Type 2.
    DynamicFee {
        /// Chain id.
        chain_id: u64,
        /// Sender nonce.
        nonce: u64,
        /// Tip cap.
        max_priority_fee_per_gas: U256,
        /// Fee cap.
        max_fee_per_gas: U256,
        /// Gas limit.
        gas_limit: u64,
        /// Target.
        to: TxKind,
        /// Value in wei.
        value: U256,
        /// Call data.
        input: Bytes,
        /// Pre-declared accounts and slots.
        access_list: Vec<AccessListItem>,
    },
}

/// Which fork's intrinsic-gas rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxRules {
    /// The chain id transactions must carry.
    pub chain_id: u64,
    /// EIP-3860 initcode word cost (Shanghai and later).
    pub shanghai: bool,
}

fn encode_access_list(list: &[AccessListItem]) -> Vec<u8> {
    let items: Vec<Vec<u8>> = list
        .iter()
        .map(|i| {
            let mut keys = Vec::new();
            alloy_rlp::encode_list::<B256, B256>(&i.storage_keys, &mut keys);
            let mut addr = Vec::new();
            i.address.encode(&mut addr);
            encode_raw_list(&[addr, keys])
        })
        .collect();
    encode_raw_list(&items)
}

fn decode_access_list(r: &mut Reader<'_>) -> Result<Vec<AccessListItem>, RlpError> {
    let mut list = r.list()?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let mut item = list.list()?;
        let address = item.address("access list address")?;
        let mut keys_r = item.list()?;
        item.finish().map_err(|_| RlpError::WrongArity)?;
        let mut storage_keys = Vec::new();
        while !keys_r.is_empty() {
            storage_keys.push(B256::from(keys_r.fixed::<32>("access list storage key")?));
        }
        out.push(AccessListItem {
            address,
            storage_keys,
        });
    }
    Ok(out)
}

impl TxBody {
    /// The type byte (0, 1, 2).
    pub fn tx_type(&self) -> u8 {
        match self {
            TxBody::Legacy { .. } => 0,
            TxBody::AccessList { .. } => 1,
            TxBody::DynamicFee { .. } => 2,
        }
    }
    /// Sender nonce.
    pub fn nonce(&self) -> u64 {
        match self {
            TxBody::Legacy { nonce, .. }
            | TxBody::AccessList { nonce, .. }
            | TxBody::DynamicFee { nonce, .. } => *nonce,
        }
    }
    /// Gas limit.
    pub fn gas_limit(&self) -> u64 {
        match self {
            TxBody::Legacy { gas_limit, .. }
            | TxBody::AccessList { gas_limit, .. }
            | TxBody::DynamicFee { gas_limit, .. } => *gas_limit,
        }
    }
    /// Target.
    pub fn kind(&self) -> TxKind {
        match self {
            TxBody::Legacy { to, .. }
            | TxBody::AccessList { to, .. }
            | TxBody::DynamicFee { to, .. } => *to,
        }
    }
    /// Value transferred.
    pub fn value(&self) -> U256 {
        match self {
            TxBody::Legacy { value, .. }
            | TxBody::AccessList { value, .. }
            | TxBody::DynamicFee { value, .. } => *value,
        }
    }
    /// Call data.
    pub fn input(&self) -> &Bytes {
        match self {
            TxBody::Legacy { input, .. }
            | TxBody::AccessList { input, .. }
            | TxBody::DynamicFee { input, .. } => input,
        }
    }
    /// Access list (empty for legacy).
    pub fn access_list(&self) -> &[AccessListItem] {
        match self {
            TxBody::Legacy { .. } => &[],
            TxBody::AccessList { access_list, .. } | TxBody::DynamicFee { access_list, .. } => {
                access_list
            }
        }
    }
    /// Chain id, if the transaction is replay-protected.
    pub fn chain_id(&self) -> Option<u64> {
        match self {
            TxBody::Legacy { chain_id, .. } => *chain_id,
            TxBody::AccessList { chain_id, .. } | TxBody::DynamicFee { chain_id, .. } => {
                Some(*chain_id)
            }
        }
    }
    /// The fee cap: gas price for types 0 and 1, max fee for type 2.
    pub fn max_fee_per_gas(&self) -> U256 {
        match self {
            TxBody::Legacy { gas_price, .. } | TxBody::AccessList { gas_price, .. } => *gas_price,
            TxBody::DynamicFee {
                max_fee_per_gas, ..
            } => *max_fee_per_gas,
        }
    }
    /// The tip cap: gas price for types 0 and 1.
    pub fn max_priority_fee_per_gas(&self) -> U256 {
        match self {
            TxBody::Legacy { gas_price, .. } | TxBody::AccessList { gas_price, .. } => *gas_price,
            TxBody::DynamicFee {
                max_priority_fee_per_gas,
                ..
            } => *max_priority_fee_per_gas,
        }
    }
    /// The price per gas actually paid under `base_fee`: min(fee cap, base fee + tip cap).
    pub fn effective_gas_price(&self, base_fee: U256) -> U256 {
        match self {
            TxBody::DynamicFee { .. } => self
                .max_fee_per_gas()
                .min(base_fee.saturating_add(self.max_priority_fee_per_gas())),
            _ => self.max_fee_per_gas(),
        }
    }

    /// The RLP-encoded fields in wire order, without signature (and, for legacy, without the
    /// EIP-155 chain id suffix).
    fn fields(&self) -> Vec<Vec<u8>> {
        fn enc(x: &dyn Encodable) -> Vec<u8> {
            let mut out = Vec::with_capacity(x.length());
            x.encode(&mut out);
            out
        }
        let tail = [
            enc(&self.gas_limit()),
            enc(&self.kind()),
            enc(&self.value()),
            enc(self.input()),
        ];
        let mut out = Vec::with_capacity(9);
        match self {
            TxBody::Legacy {
                nonce, gas_price, ..
            } => {
                out.extend([enc(nonce), enc(gas_price)]);
                out.extend(tail);
            }
            TxBody::AccessList {
                chain_id,
                nonce,
                gas_price,
                access_list,
                ..
            } => {
                out.extend([enc(chain_id), enc(nonce), enc(gas_price)]);
                out.extend(tail);
                out.push(encode_access_list(access_list));
            }
            TxBody::DynamicFee {
                chain_id,
                nonce,
                max_priority_fee_per_gas,
                max_fee_per_gas,
                access_list,
                ..
            } => {
                out.extend([
                    enc(chain_id),
                    enc(nonce),
                    enc(max_priority_fee_per_gas),
                    enc(max_fee_per_gas),
                ]);
                out.extend(tail);
                out.push(encode_access_list(access_list));
            }
        }
        out
    }

    /// `fields` plus `extra`, as a list, behind the type byte for typed transactions.
    fn envelope(&self, extra: [Vec<u8>; 3]) -> Vec<u8> {
        let mut fields = self.fields();
        fields.extend(extra);
        let list = encode_raw_list(&fields);
        match self.tx_type() {
            0 => list,
            t => {
                let mut out = Vec::with_capacity(list.len() + 1);
                out.push(t);
                out.extend(list);
                out
            }
        }
    }

    /// The hash that the sender signs.
    pub fn signing_hash(&self) -> B256 {
        match self {
            TxBody::Legacy {
                chain_id: Some(id), ..
            } => {
                // EIP-155: the chain id and two empty values stand in for v, r, s.
                let mut id_enc = Vec::new();
                id.encode(&mut id_enc);
                keccak256(self.envelope([id_enc, vec![0x80], vec![0x80]]))
            }
            TxBody::Legacy { chain_id: None, .. } => keccak256(encode_raw_list(&self.fields())),
            _ => {
                let mut out = vec![self.tx_type()];
                out.extend(encode_raw_list(&self.fields()));
                keccak256(out)
            }
        }
    }

    /// The encoding with a zero signature (what geth's `eth_fillTransaction` answers as `raw`).
    pub fn encode_unsigned(&self) -> Vec<u8> {
        self.envelope([vec![0x80], vec![0x80], vec![0x80]])
    }

    /// Signs the body and returns the complete transaction.
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let sig = sign_prehash(&self.signing_hash(), key);
        let encoded = encode_signed(&self, &sig);
        SignedTransaction {
            hash: keccak256(&encoded),
            body: self,
            sig,
            sender: key.address(),
            encoded: encoded.into(),
        }
    }
}

fn legacy_v(chain_id: Option<u64>, y_parity: bool) -> u64 {
    let parity = u64::from(y_parity);
    match chain_id {
        // chain ids come from our config (small) or decoded v values, so this cannot overflow in practice;
        // saturate rather than panic if it ever would.
        Some(id) => id
            .saturating_mul(2)
            .saturating_add(35)
            .saturating_add(parity),
        None => 27 + parity,
    }
}

fn encode_signed(body: &TxBody, sig: &RecoverableSig) -> Vec<u8> {
    let enc = |x: &dyn Encodable| {
        let mut out = Vec::with_capacity(x.length());
        x.encode(&mut out);
        out
    };
    let v = match body {
        TxBody::Legacy { chain_id, .. } => legacy_v(*chain_id, sig.y_parity),
        _ => u64::from(sig.y_parity),
    };
    body.envelope([enc(&v), enc(&sig.r), enc(&sig.s)])
}

/// A signed transaction with its recovered sender, hash and canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTransaction {
    /// The fields.
    pub body: TxBody,
    /// The signature.
    pub sig: RecoverableSig,
    /// The recovered sender.
    pub sender: Address,
    /// keccak256 of the encoding.
    pub hash: B256,
    /// The canonical encoding (typed envelope for types 1 and 2).
    pub encoded: Bytes,
}

fn read_kind(r: &mut Reader<'_>) -> Result<TxKind, RlpError> {
    let b = r.bytes()?;
    match b.len() {
        0 => Ok(TxKind::Create),
        20 => Ok(TxKind::Call(Address::from_slice(b))),
        n => Err(RlpError::BadLength {
            field: "to",
            expected: 20,
            got: n,
        }),
    }
}

fn read_parity(r: &mut Reader<'_>) -> Result<bool, TxError> {
    match r.u64("yParity")? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(TxError::InvalidSignature(CryptoError::InvalidSignature(
            "y parity is not 0 or 1",
        ))),
    }
}

fn read_legacy(bytes: &[u8]) -> Result<(TxBody, RecoverableSig), TxError> {
    let mut outer = Reader::new(bytes);
    let mut r = outer.list()?;
    outer.finish()?;
    let nonce = r.u64("nonce")?;
    let gas_price = r.u256("gasPrice")?;
    let gas_limit = r.u64("gasLimit")?;
    let to = read_kind(&mut r)?;
    let value = r.u256("value")?;
    let input = Bytes::copy_from_slice(r.bytes()?);
    let v = r.u64("v")?;
    let sr = r.u256("r")?;
    let ss = r.u256("s")?;
    r.finish().map_err(|_| RlpError::WrongArity)?;
    let (chain_id, y_parity) = match v {
        27 | 28 => (None, v == 28),
        v if v >= 35 => (Some((v - 35) / 2), (v - 35) % 2 == 1),
        v => return Err(TxError::InvalidV(v)),
    };
    let body = TxBody::Legacy {
        chain_id,
        nonce,
        gas_price,
        gas_limit,
        to,
        value,
        input,
    };
    Ok((
        body,
        RecoverableSig {
            r: sr,
            s: ss,
            y_parity,
        },
    ))
}

fn read_typed(tx_type: u8, bytes: &[u8]) -> Result<(TxBody, RecoverableSig), TxError> {
    let mut outer = Reader::new(bytes);
    let mut r = outer.list()?;
    outer.finish()?;
    let chain_id = r.u64("chainId")?;
    let nonce = r.u64("nonce")?;
    let body = if tx_type == 1 {
        let gas_price = r.u256("gasPrice")?;
        let gas_limit = r.u64("gasLimit")?;
        let to = read_kind(&mut r)?;
        let value = r.u256("value")?;
        let input = Bytes::copy_from_slice(r.bytes()?);
        let access_list = decode_access_list(&mut r)?;
        TxBody::AccessList {
            chain_id,
            nonce,
            gas_price,
            gas_limit,
            to,
            value,
            input,
            access_list,
        }
    } else {
        let max_priority_fee_per_gas = r.u256("maxPriorityFeePerGas")?;
        let max_fee_per_gas = r.u256("maxFeePerGas")?;
        let gas_limit = r.u64("gasLimit")?;
        let to = read_kind(&mut r)?;
        let value = r.u256("value")?;
        let input = Bytes::copy_from_slice(r.bytes()?);
        let access_list = decode_access_list(&mut r)?;
        TxBody::DynamicFee {
            chain_id,
            nonce,
            max_priority_fee_per_gas,
            max_fee_per_gas,
            gas_limit,
            to,
            value,
            input,
            access_list,
        }
    };
    let y_parity = read_parity(&mut r)?;
    let sr = r.u256("r")?;
    let ss = r.u256("s")?;
    r.finish().map_err(|_| RlpError::WrongArity)?;
    Ok((
        body,
        RecoverableSig {
            r: sr,
            s: ss,
            y_parity,
        },
    ))
}

/// Intrinsic gas of a transaction (Istanbul calldata prices, EIP-2930 access lists, and with
/// `shanghai` the EIP-3860 initcode word cost). Saturates instead of overflowing.
pub fn intrinsic_gas(body: &TxBody, shanghai: bool) -> u64 {
    let input = body.input();
    let zeros = input.iter().filter(|b| **b == 0).count() as u64;
    let nonzeros = input.len() as u64 - zeros;
    let mut gas: u64 = 21_000;
    if body.kind() == TxKind::Create {
        gas = gas.saturating_add(32_000);
        if shanghai {
            let words = (input.len() as u64).div_ceil(32);
            gas = gas.saturating_add(words.saturating_mul(2));
        }
    }
    gas = gas
        .saturating_add(zeros.saturating_mul(4))
        .saturating_add(nonzeros.saturating_mul(16));
    for item in body.access_list() {
        gas = gas
            .saturating_add(2_400)
            .saturating_add((item.storage_keys.len() as u64).saturating_mul(1_900));
    }
    gas
}

impl SignedTransaction {
    /// Decodes a transaction as `eth_sendRawTransaction` receives it (legacy RLP or a typed envelope),
    /// checks it statelessly against `rules`, and recovers the sender.
    pub fn decode(bytes: &[u8], rules: &TxRules) -> Result<Self, TxError> {
        Self::decode_with(bytes, rules, |_| None)
    }

    /// [`SignedTransaction::decode`] with the same checks, where `known` may give the sender of
    /// the transaction with this hash, already recovered from the same bytes (by this node's pool,
    /// or stored beside its block): then the signature is not recovered again.
    pub fn decode_with(
        bytes: &[u8],
        rules: &TxRules,
        known: impl FnOnce(&B256) -> Option<Address>,
    ) -> Result<Self, TxError> {
        let hash = keccak256(bytes);
        let sender = known(&hash);
        Self::decode_hashed(bytes, rules, hash, sender)
    }

    /// [`SignedTransaction::decode_with`] for a caller that has hashed `bytes` already (`hash`)
    /// and looked up its `sender` (None: recovered here).
    pub fn decode_hashed(
        bytes: &[u8],
        rules: &TxRules,
        hash: B256,
        sender: Option<Address>,
    ) -> Result<Self, TxError> {
        let first = *bytes.first().ok_or(TxError::Empty)?;
        let (body, sig) = match first {
            0xc0..=0xff => read_legacy(bytes)?,
            1 | 2 => read_typed(first, &bytes[1..])?,
            0..=0x7f => return Err(TxError::TypeNotSupported(first)),
            _ => {
                return Err(RlpError::UnexpectedKind {
                    expected: "list",
                    found: "string",
                }
                .into())
            }
        };
        if body.chain_id().is_some_and(|id| id != rules.chain_id) {
            return Err(TxError::InvalidChainId {
                have: body.chain_id(),
                want: rules.chain_id,
            });
        }
        if body.nonce() == u64::MAX {
            return Err(TxError::NonceMax);
        }
        if let TxBody::DynamicFee {
            max_priority_fee_per_gas,
            max_fee_per_gas,
            ..
        } = &body
        {
            if max_priority_fee_per_gas > max_fee_per_gas {
                return Err(TxError::TipAboveFeeCap);
            }
        }
        if body
            .max_fee_per_gas()
            .checked_mul(U256::from(body.gas_limit()))
            .is_none()
        {
            return Err(TxError::GasPriceProductOverflow);
        }
        let want = intrinsic_gas(&body, rules.shanghai);
        if body.gas_limit() < want {
            return Err(TxError::IntrinsicGasTooLow {
                have: body.gas_limit(),
                want,
            });
        }
        let sender = match sender {
            Some(sender) => sender,
            None => recover_signer(&body.signing_hash(), &sig, true)?,
        };
        Ok(SignedTransaction {
            hash,
            body,
            sig,
            sender,
            encoded: Bytes::copy_from_slice(bytes),
        })
    }

    /// Decodes a transaction that was already admitted once (e.g. from our own store), with the same checks.
    pub fn decode_trusted_encoding(bytes: &[u8], chain_id: u64) -> Result<Self, TxError> {
        Self::decode(
            bytes,
            &TxRules {
                chain_id,
                shanghai: true,
            },
        )
    }

    /// The legacy `v` value as JSON-RPC shows it (EIP-155 form for protected legacy transactions,
    /// the y parity for typed ones).
    pub fn v(&self) -> u64 {
        match &self.body {
            TxBody::Legacy { chain_id, .. } => legacy_v(*chain_id, self.sig.y_parity),
            _ => u64::from(self.sig.y_parity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_hex("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
            .expect("key")
    }

    fn rules() -> TxRules {
        TxRules {
            chain_id: 100,
            shanghai: true,
        }
    }

    #[test]
    fn eip155_example_from_the_eip() {
        // The worked example of EIP-155.
        let body = TxBody::Legacy {
            chain_id: Some(1),
            nonce: 9,
            gas_price: U256::from(20_000_000_000u64),
            gas_limit: 21_000,
            to: TxKind::Call(
                "0x3535353535353535353535353535353535353535"
                    .parse()
                    .expect("addr"),
            ),
            value: U256::from(1_000_000_000_000_000_000u64),
            input: Bytes::new(),
        };
        assert_eq!(
            hex::encode(body.signing_hash()),
            "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
        );
        let k =
            SecretKey::from_hex("4646464646464646464646464646464646464646464646464646464646464646")
                .expect("k");
        let tx = body.sign(&k);
        assert_eq!(
            hex::encode(&tx.encoded),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        );
    }

    #[test]
    fn all_three_types_round_trip() {
        let to = TxKind::Call(Address::repeat_byte(0x11));
        let bodies = vec![
            TxBody::Legacy {
                chain_id: Some(100),
                nonce: 1,
                gas_price: U256::from(7),
                gas_limit: 21_000,
                to,
                value: U256::from(5),
                input: Bytes::new(),
            },
            TxBody::AccessList {
                chain_id: 100,
                nonce: 2,
                gas_price: U256::from(7),
                gas_limit: 30_000,
                to,
                value: U256::from(5),
                input: Bytes::from(vec![0, 1]),
                access_list: vec![AccessListItem {
                    address: Address::repeat_byte(2),
                    storage_keys: vec![B256::repeat_byte(3)],
                }],
            },
            TxBody::DynamicFee {
                chain_id: 100,
                nonce: 3,
                max_priority_fee_per_gas: U256::from(1),
                max_fee_per_gas: U256::from(9),
                gas_limit: 21_000,
                to,
                value: U256::from(5),
                input: Bytes::new(),
                access_list: vec![],
            },
        ];
        for b in bodies {
            let tx = b.sign(&key());
            let back = SignedTransaction::decode(&tx.encoded, &rules()).expect("decodes");
            assert_eq!(back, tx);
            assert_eq!(back.sender, key().address());
        }
    }

    #[test]
    fn wrong_chain_and_garbage_are_refused() {
        let tx = TxBody::DynamicFee {
            chain_id: 5,
            nonce: 0,
            max_priority_fee_per_gas: U256::from(1),
            max_fee_per_gas: U256::from(9),
            gas_limit: 21_000,
            to: TxKind::Create,
            value: U256::ZERO,
            input: Bytes::new(),
            access_list: vec![],
        }
        .sign(&key());
        assert!(matches!(
            SignedTransaction::decode(&tx.encoded, &rules()),
            Err(TxError::InvalidChainId { .. })
        ));
        for garbage in [
            &[][..],
            &[0x03, 0xc0],
            &[0x85, 1, 2],
            &[0xc0],
            &[0x02, 0xff, 0xff],
        ] {
            assert!(SignedTransaction::decode(garbage, &rules()).is_err());
        }
    }
}

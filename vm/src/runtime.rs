//! The interface every contract runtime implements (the EVM engines now, WASM later): run one message
//! against a [`StateDb`] under a block environment, write its effects into that state, and report gas,
//! logs and output the way Ethereum does.

use alloy_primitives::{Address, Bytes, B256, U256};
use platon_messages::actors::BlockEnv;
use platon_messages::{Log, SignedTransaction, TxKind};
use platon_storage::{StateDb, StorageError};

/// One message for a runtime: a signed transaction, or an `eth_call`-style request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Transaction type (0, 1, 2).
    pub tx_type: u8,
    /// Sender.
    pub caller: Address,
    /// Call target or contract creation.
    pub kind: TxKind,
    /// Value transferred.
    pub value: U256,
    /// Call data or init code.
    pub data: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas price (legacy, access list) or fee cap (dynamic fee).
    pub gas_price: u128,
    /// Priority fee cap (dynamic fee transactions only).
    pub priority_fee: Option<u128>,
    /// Nonce; `None` skips the nonce check (calls).
    pub nonce: Option<u64>,
    /// Chain id signed into the transaction, if any.
    pub chain_id: Option<u64>,
    /// EIP-2930 access list.
    pub access_list: Vec<(Address, Vec<B256>)>,
}

impl Message {
    /// The message a signed transaction carries.
    pub fn from_tx(tx: &SignedTransaction) -> Result<Self, TxReject> {
        let body = &tx.body;
        let gas_price = u128::try_from(body.max_fee_per_gas())
            .map_err(|_| TxReject::Invalid("gas price does not fit 128 bits".into()))?;
        let priority_fee = match body.tx_type() {
            2 => Some(
                u128::try_from(body.max_priority_fee_per_gas())
                    .map_err(|_| TxReject::Invalid("priority fee does not fit 128 bits".into()))?,
            ),
            _ => None,
        };
        Ok(Message {
            tx_type: body.tx_type(),
            caller: tx.sender,
            kind: body.kind(),
            value: body.value(),
            data: body.input().clone(),
            gas_limit: body.gas_limit(),
            gas_price,
            priority_fee,
            nonce: Some(body.nonce()),
            chain_id: body.chain_id(),
            access_list: body
                .access_list()
                .iter()
                .map(|i| (i.address, i.storage_keys.clone()))
                .collect(),
        })
    }
}

/// How strictly a message is checked: blocks check everything; `eth_call` relaxes what a read-only
/// simulation does not need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecOptions {
    /// Check the sender's nonce and refuse a sender with code (EIP-3607), as a transaction is
    /// checked. Off for calls and unvalidated simulations, as geth (the nonce still advances).
    pub check_nonce: bool,
    /// Enforce gas price ≥ base fee (off for calls without a gas price, as geth does).
    pub check_base_fee: bool,
    /// Require the sender to afford gas × price + value.
    pub check_balance: bool,
    /// Abandon the execution at this instant with [`ExecError::Deadline`] (RPC calls; never for
    /// blocks). Enforced on revm; the `evm` engine runs to its gas limit.
    pub deadline: Option<std::time::Instant>,
}

impl ExecOptions {
    /// Block execution: every rule applies, no deadline.
    pub const BLOCK: ExecOptions = ExecOptions {
        check_nonce: true,
        check_base_fee: true,
        check_balance: true,
        deadline: None,
    };
}

/// How a message that ran ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Completed.
    Success,
    /// REVERT: remaining gas returned, output is the revert data.
    Revert,
    /// Exceptional halt: all gas consumed. The string names the reason.
    Halt(String),
}

/// The result of a message that was executed (whatever its status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Gas used after refunds (what the sender pays for).
    pub gas_used: u64,
    /// Refund granted (already subtracted from `gas_used`).
    pub gas_refunded: u64,
    /// Return data, revert data, or the deployed code for a creation.
    pub output: Bytes,
    /// Logs (empty unless it succeeded).
    pub logs: Vec<Log>,
    /// Address of the created contract.
    pub contract_address: Option<Address>,
}

impl Outcome {
    /// True when it completed.
    pub fn success(&self) -> bool {
        self.status == Status::Success
    }
}

/// Why a transaction could not be included in a block (it is skipped, the block goes on). A rejected
/// message changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxReject {
    /// Nonce differs from the account nonce.
    #[error("nonce mismatch: account {account}, tx {tx}")]
    Nonce {
        /// Account nonce.
        account: u64,
        /// Transaction nonce.
        tx: u64,
    },
    /// The fee cap is below the block's base fee.
    #[error("max fee per gas less than block base fee")]
    FeeCapBelowBaseFee,
    /// The sender cannot pay gas limit × fee cap + value.
    #[error("insufficient funds for gas * price + value: balance {balance}, cost {cost}")]
    InsufficientFunds {
        /// Balance.
        balance: U256,
        /// Cost.
        cost: U256,
    },
    /// The block has no room left for this gas limit.
    #[error("gas limit {gas} exceeds the block's remaining gas {remaining}")]
    BlockGasExhausted {
        /// Transaction gas limit.
        gas: u64,
        /// Remaining block gas.
        remaining: u64,
    },
    /// Gas limit below the intrinsic gas.
    #[error("intrinsic gas too low: have {gas_limit}, want {intrinsic}")]
    IntrinsicGas {
        /// Gas limit.
        gas_limit: u64,
        /// Intrinsic gas.
        intrinsic: u64,
    },
    /// Sender has code (EIP-3607).
    #[error("sender not an eoa")]
    SenderHasCode,
    /// Any other validity rule.
    #[error("{0}")]
    Invalid(String),
}

/// Errors that abort the whole block (the state could not be read).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The parent state could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The engine failed for a reason that is not the transaction's fault.
    #[error("{engine} engine failure: {detail}")]
    Engine {
        /// Engine name.
        engine: &'static str,
        /// What happened.
        detail: String,
    },
    /// The execution ran past its [`ExecOptions::deadline`] and was abandoned; nothing it did
    /// was applied.
    #[error("execution aborted after {0:?}: it ran past its deadline")]
    Deadline(std::time::Duration),
}

/// Hashes of recent canonical blocks, for BLOCKHASH.
pub trait BlockHashes: Send + Sync {
    /// The hash of canonical block `number`, if known.
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StorageError>;
}

/// No block hashes (BLOCKHASH answers zero).
#[derive(Debug, Clone, Copy)]
pub struct NoHashes;

impl BlockHashes for NoHashes {
    fn block_hash(&self, _: u64) -> Result<Option<B256>, StorageError> {
        Ok(None)
    }
}

impl BlockHashes for platon_storage::ChainStore {
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StorageError> {
        self.hash_by_number(number)
    }
}

/// A contract runtime.
pub trait Runtime: Send + Sync + std::fmt::Debug {
    /// Short name (`revm`, `evm`).
    fn name(&self) -> &'static str;

    /// Runs `msg` on `state` under `env`. On success the state holds the message's effects (including
    /// fees and the coinbase's tip); on rejection it is unchanged.
    fn transact(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msg: &Message,
        opts: ExecOptions,
    ) -> Result<Result<Outcome, TxReject>, ExecError>;

    /// Work the chain does after a block's transactions (PPoS settlement and election); nothing by
    /// default.
    fn end_block(&self, _state: &mut StateDb, _env: &BlockEnv) -> Result<(), ExecError> {
        Ok(())
    }

    /// Runs a block's messages in order, each on the effects of those before, under every block
    /// rule; a message that is invalid or does not fit the block's remaining gas is rejected and
    /// changes nothing. Engines may override this to keep their caches across the block.
    fn transact_block(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msgs: &[Result<Message, TxReject>],
    ) -> Result<Vec<Result<Outcome, TxReject>>, ExecError> {
        block_loop(env, msgs, |msg| {
            self.transact(state, hashes, env, msg, ExecOptions::BLOCK)
        })
    }
}

/// The block rules around each message of a block: a message that failed to decode stays rejected,
/// one that does not fit the block's remaining gas is rejected, the others go to `run` in order. The
/// engines' `transact_block` implementations share it.
pub fn block_loop(
    env: &BlockEnv,
    msgs: &[Result<Message, TxReject>],
    mut run: impl FnMut(&Message) -> Result<Result<Outcome, TxReject>, ExecError>,
) -> Result<Vec<Result<Outcome, TxReject>>, ExecError> {
    let mut used = 0u64;
    let mut out = Vec::with_capacity(msgs.len());
    for m in msgs {
        let msg = match m {
            Ok(m) => m,
            Err(e) => {
                out.push(Err(e.clone()));
                continue;
            }
        };
        let remaining = env.gas_limit.saturating_sub(used);
        if msg.gas_limit > remaining {
            out.push(Err(TxReject::BlockGasExhausted {
                gas: msg.gas_limit,
                remaining,
            }));
            continue;
        }
        let r = run(msg)?;
        if let Ok(o) = &r {
            used = used.saturating_add(o.gas_used);
        }
        out.push(r);
    }
    Ok(out)
}

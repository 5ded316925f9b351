//! PlatON's system contracts: native code at fixed addresses, called by ordinary signed
//! transactions. The call data is PlatON's RLP encoding: a list whose first item is the function
//! code and whose other items are the arguments, each item a byte string holding the RLP encoding of
//! the value. Today the slashing contract takes double-sign reports (evidence from CBFT) and answers
//! whether one was reported; the staking contract keeps candidates and delegations
//! ([`crate::ppos::staking`]).
//!
//! [`SystemRuntime`] wraps a contract runtime: messages to a system address run here, the others in
//! the wrapped engine, so blocks, `eth_call` and `eth_estimateGas` see the same rules.

use crate::evm_engine::{intrinsic_gas, validate};
use crate::runtime::{
    block_loop, BlockHashes, ExecError, ExecOptions, Message, Outcome, Runtime, Status, TxReject,
};
use alloy_primitives::{address, keccak256, Address, Bytes, B256, U256};
use platon_crypto::bls::{BlsPublicKey, BlsSignature};
use platon_messages::actors::BlockEnv;
use platon_messages::cbft::Evidence;
use platon_messages::rlp::{encode_raw_list, Reader};
use platon_messages::{Log, TxKind};
use platon_storage::{StateDb, StorageError};
use std::sync::Arc;

/// The staking contract (PPoS).
pub const STAKING: Address = address!("1000000000000000000000000000000000000002");
/// The slashing contract: double-sign reports.
pub const SLASHING: Address = address!("1000000000000000000000000000000000000004");
/// The delegation-reward contract (PPoS).
pub const REWARD: Address = address!("1000000000000000000000000000000000000006");
/// The reward pool (PlatON's RewardManagerPool): block and staking rewards come from it, the
/// pool's half of a penalty goes back to it.
pub const REWARD_POOL: Address = address!("1000000000000000000000000000000000000003");

/// A double sign costs 0.1 % of the offender's own stake (PlatON's default) ...
pub const DOUBLE_SIGN_PENALTY_BPS: u16 = 10;
/// ... half of which goes to the reporter.
pub const REPORTER_SHARE_BPS: u16 = 5000;

/// `ReportDuplicateSign(type, evidence)`: records verified double-sign evidence.
pub const REPORT_DUPLICATE_SIGN: u16 = 3000;
/// `CheckDuplicateSign(type, validator, epoch, view, index)`: the block number at which such
/// evidence was recorded, or 0.
pub const CHECK_DUPLICATE_SIGN: u16 = 3001;

/// `withdrawDelegateReward()` on the reward contract: pays every accrued delegation reward.
pub const WITHDRAW_DELEGATE_REWARD: u16 = 5000;
/// `getDelegateReward(address)` on the reward contract: accrued rewards by candidate.
pub const GET_DELEGATE_REWARD: u16 = 5100;

/// Gas a report costs above the intrinsic gas (two BLS verifications and a storage write).
pub const REPORT_GAS: u64 = 60_000;
/// Gas a check costs above the intrinsic gas.
pub const CHECK_GAS: u64 = 2_100;

/// Epochs during which evidence can be reported (PlatON: 27).
pub const EVIDENCE_EPOCHS: u64 = 27;

/// Topic 0 of the log a recorded report emits.
pub fn duplicate_sign_topic() -> B256 {
    keccak256("DuplicateSignReported(uint8,uint32,uint64,uint64,uint32,address,uint256)")
}

/// What system contracts need to know of the chain: the validators' BLS keys by index (from the
/// configuration today, from the staking state with PPoS) and the current epoch.
#[derive(Debug, Clone, Default)]
pub struct SystemContext {
    /// Validators' BLS public keys, by validator index.
    pub validators: Arc<Vec<BlsPublicKey>>,
    /// The current epoch.
    pub epoch: u64,
    /// Staking rules.
    pub staking: crate::ppos::staking::StakingParams,
    /// When the chain settles epochs and elects validators (None: it does not).
    pub schedule: Option<Schedule>,
}

/// The PPoS calendar and economics the end-of-block work follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Blocks per consensus round (PlatON: 10 × validators).
    pub round_blocks: u64,
    /// Rounds per settlement epoch (PlatON: 25).
    pub epoch_rounds: u64,
    /// Validator seats per round (PlatON: 43; testnet 25).
    pub seats: usize,
    /// Verifiers per epoch at most (PlatON: 201; testnet 101).
    pub max_verifiers: usize,
    /// Reward per produced block, paid at the end of the epoch.
    pub block_reward: U256,
    /// Staking reward per epoch, shared equally by the verifiers.
    pub staking_reward: U256,
    /// Taken from a validator that produced no block in its round.
    pub idle_penalty: U256,
    /// The next round's validators are elected this many blocks before the round's end (and
    /// the last round of an epoch settles the epoch there), so that every branch a QC can still
    /// choose at the round's end shares the election block: CBFT needs at least 2 (0 elects at
    /// the round's last block, for chains without CBFT rounds). Less than `round_blocks`.
    pub election_distance: u64,
}

impl Schedule {
    /// The round block `number` belongs to (see [`round_of`]).
    pub fn round_of(&self, number: u64) -> u64 {
        round_of(self.round_blocks, number)
    }
}

/// The round block `number` belongs to with `round_blocks` blocks per round: round r holds blocks
/// (r−1)·R+1 ..= r·R (1 when there are no rounds). CBFT and the chain's schedule share it.
pub fn round_of(round_blocks: u64, number: u64) -> u64 {
    number
        .saturating_sub(1)
        .checked_div(round_blocks)
        .map_or(1, |r| r.saturating_add(1))
}

fn produced_key(round: bool, id: u128) -> Vec<u8> {
    let mut k = if round {
        b"produced-round:".to_vec()
    } else {
        b"produced:".to_vec()
    };
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The end-of-block work: counts the block for the candidate whose benefit address is the
/// beneficiary; at the end of a round penalizes validators that produced nothing in it; at the
/// end of an epoch pays the epoch's rewards and settles it; then elects the next round's
/// validators with the block's seed (`prev_randao`, the VRF output the header carries).
fn end_block(
    ctx: &SystemContext,
    s: &Schedule,
    state: &mut StateDb,
    env: &BlockEnv,
) -> Result<(), StorageError> {
    use crate::ppos::staking::{get, put, Ledger};
    let mut ledger = Ledger {
        state,
        contract: STAKING,
    };
    let count = |l: &Ledger<'_>, round: bool, id: u128| -> Result<u64, StorageError> {
        Ok(crate::ppos::staking::u64_value(get(
            l.state,
            STAKING,
            &produced_key(round, id),
        )?))
    };
    for id in ledger.validators()? {
        if ledger
            .candidate(id)?
            .is_some_and(|c| c.benefit_address == env.beneficiary)
        {
            for round in [true, false] {
                let n = count(&ledger, round, id)?.saturating_add(1);
                put(
                    ledger.state,
                    STAKING,
                    &produced_key(round, id),
                    &n.to_be_bytes(),
                )?;
            }
            break;
        }
    }
    if s.round_blocks == 0 {
        return Ok(());
    }
    let round_end = env.number % s.round_blocks == 0;
    // The election block: `election_distance` before a round's last block.
    let ends = env.number.saturating_add(s.election_distance);
    let elect_here = s.election_distance < s.round_blocks && ends % s.round_blocks == 0;
    if round_end {
        let validators = ledger.validators()?;
        let mut idle = Vec::new();
        for id in &validators {
            if count(&ledger, true, *id)? == 0 {
                idle.push(*id);
            }
            put(
                ledger.state,
                STAKING,
                &produced_key(true, *id),
                &0u64.to_be_bytes(),
            )?;
        }
        if !idle.is_empty() && env.number > s.round_blocks {
            // (The first round has no history to judge.)
            ledger.penalize_idle(&idle, s.idle_penalty, REWARD_POOL)?;
        }
    }
    if !elect_here {
        if round_end {
            // The elected set takes its seats (a candidate slashed since leaves the working
            // list; its consensus seat stays for the round).
            let round = s.round_of(env.number.saturating_add(1));
            let mut next = Vec::new();
            for seat in ledger.round_set(round)? {
                if ledger
                    .candidate(seat.node_id)?
                    .is_some_and(|c| c.status == crate::ppos::staking::Status::Active)
                {
                    next.push(seat.node_id);
                }
            }
            ledger.set_validators(&next)?;
        }
        return Ok(());
    }
    let epoch_blocks = s.round_blocks.saturating_mul(s.epoch_rounds.max(1));
    if ends % epoch_blocks == 0 {
        let mut produced = std::collections::BTreeMap::new();
        for id in ledger.candidate_ids()? {
            let n = count(&ledger, false, id)?;
            if n > 0 {
                produced.insert(id, n);
                put(
                    ledger.state,
                    STAKING,
                    &produced_key(false, id),
                    &0u64.to_be_bytes(),
                )?;
            }
        }
        ledger.pay_epoch(
            REWARD_POOL,
            REWARD,
            s.staking_reward,
            s.block_reward,
            &produced,
        )?;
        ledger.settle_epoch(&ctx.staking, s.max_verifiers)?;
    }
    let next = ledger.elect_next(s.seats, env.prev_randao, s.round_of(ends.saturating_add(1)))?;
    if s.election_distance == 0 {
        ledger.set_validators(&next)?;
    }
    Ok(())
}

/// A runtime with the system contracts in front of a contract engine.
#[derive(Debug, Clone)]
pub struct SystemRuntime {
    inner: &'static dyn Runtime,
    ctx: SystemContext,
}

impl SystemRuntime {
    /// `inner` runs everything not addressed to a system contract.
    pub fn new(inner: &'static dyn Runtime, ctx: SystemContext) -> Self {
        Self { inner, ctx }
    }
}

/// Whether `a` is a system contract address.
pub fn is_system(a: &Address) -> bool {
    *a == SLASHING || *a == STAKING || *a == REWARD
}

fn to_system(msg: &Message) -> bool {
    matches!(msg.kind, TxKind::Call(to) if is_system(&to))
}

impl Runtime for SystemRuntime {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn transact(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msg: &Message,
        opts: ExecOptions,
    ) -> Result<Result<Outcome, TxReject>, ExecError> {
        if to_system(msg) {
            Ok(system_transact(&self.ctx, state, env, msg, opts)?)
        } else {
            self.inner.transact(state, hashes, env, msg, opts)
        }
    }

    fn end_block(&self, state: &mut StateDb, env: &BlockEnv) -> Result<(), ExecError> {
        match &self.ctx.schedule {
            Some(s) => Ok(end_block(&self.ctx, s, state, env)?),
            None => self.inner.end_block(state, env),
        }
    }

    fn transact_block(
        &self,
        state: &mut StateDb,
        hashes: &dyn BlockHashes,
        env: &BlockEnv,
        msgs: &[Result<Message, TxReject>],
    ) -> Result<Vec<Result<Outcome, TxReject>>, ExecError> {
        if !msgs.iter().any(|m| m.as_ref().is_ok_and(to_system)) {
            // The engine's own block loop (it may keep caches across the block).
            return self.inner.transact_block(state, hashes, env, msgs);
        }
        block_loop(env, msgs, |msg| {
            self.transact(state, hashes, env, msg, ExecOptions::BLOCK)
        })
    }
}

/// What a system function returns: output and logs, or why it refused (the message reverts).
type Call = Result<(Vec<u8>, Vec<Log>), String>;

/// Runs a message to a system contract with Ethereum's fee rules: the sender pays the gas used at
/// the effective price, the coinbase gets the tip, the nonce moves; the function's own effects are
/// written only when it succeeds.
fn system_transact(
    ctx: &SystemContext,
    state: &mut StateDb,
    env: &BlockEnv,
    msg: &Message,
    opts: ExecOptions,
) -> Result<Result<Outcome, TxReject>, StorageError> {
    if let Err(e) = validate(state, env, msg, opts)? {
        return Ok(Err(e));
    }
    let TxKind::Call(to) = msg.kind else {
        return Ok(Err(TxReject::Invalid("not a call".into())));
    };
    let intrinsic = intrinsic_gas(msg);
    let mut scratch = state.clone();
    let (status, gas_used, output, logs) = match decode_call(&msg.data) {
        Err(why) => (Status::Revert, intrinsic, revert_data(&why), Vec::new()),
        Ok((code, args)) => {
            let cost = intrinsic.saturating_add(match (to, code) {
                (SLASHING, REPORT_DUPLICATE_SIGN) => REPORT_GAS,
                (STAKING, c) if !crate::ppos::staking::is_query(c) => {
                    crate::ppos::staking::WRITE_GAS
                }
                (STAKING, _) => crate::ppos::staking::READ_GAS,
                (REWARD, WITHDRAW_DELEGATE_REWARD) => crate::ppos::staking::WRITE_GAS,
                (REWARD, _) => crate::ppos::staking::READ_GAS,
                _ => CHECK_GAS,
            });
            if msg.gas_limit < cost {
                (
                    Status::Halt("out of gas".into()),
                    msg.gas_limit,
                    Bytes::new(),
                    Vec::new(),
                )
            } else {
                let res = if !msg.value.is_zero() {
                    Err("system contracts take no value".to_string())
                } else {
                    call(ctx, &mut scratch, env, msg.caller, to, code, &args)?
                };
                match res {
                    Ok((out, logs)) => (Status::Success, cost, Bytes::from(out), logs),
                    Err(why) => (Status::Revert, cost, revert_data(&why), Vec::new()),
                }
            }
        }
    };
    if status == Status::Success {
        *state = scratch;
    }
    // Fees and nonce, whatever the status.
    let price = match msg.priority_fee {
        Some(tip) if opts.check_base_fee => msg
            .gas_price
            .min(u128::from(env.base_fee).saturating_add(tip)),
        _ => msg.gas_price,
    };
    let tip = price.saturating_sub(u128::from(env.base_fee));
    let mut sender = state.account(&msg.caller)?;
    sender.balance = sender
        .balance
        .saturating_sub(U256::from(gas_used).saturating_mul(U256::from(price)));
    sender.nonce = sender.nonce.saturating_add(1);
    state.set_account(msg.caller, sender);
    let reward = U256::from(gas_used).saturating_mul(U256::from(tip));
    if !reward.is_zero() {
        let mut coinbase = state.account(&env.beneficiary)?;
        coinbase.balance = coinbase.balance.saturating_add(reward);
        state.set_account(env.beneficiary, coinbase);
    }
    Ok(Ok(Outcome {
        status,
        gas_used,
        gas_refunded: 0,
        output,
        logs,
        contract_address: None,
    }))
}

/// Splits PlatON call data into the function code and the arguments' RLP encodings.
pub fn decode_call(data: &[u8]) -> Result<(u16, Vec<Vec<u8>>), String> {
    let bad = |e: platon_messages::rlp::RlpError| format!("malformed system-contract call: {e}");
    let mut outer = Reader::new(data);
    let mut list = outer.list().map_err(bad)?;
    outer.finish().map_err(bad)?;
    let mut items = Vec::new();
    while !list.is_empty() {
        items.push(list.bytes().map_err(bad)?.to_vec());
        if items.len() > 16 {
            return Err("malformed system-contract call: too many arguments".into());
        }
    }
    let Some(first) = items.first() else {
        return Err("malformed system-contract call: no function code".into());
    };
    let mut r = Reader::new(first);
    let code = r.u64("function code").map_err(bad)?;
    r.finish().map_err(bad)?;
    let code = u16::try_from(code).map_err(|_| format!("unknown function code {code}"))?;
    Ok((code, items.split_off(1)))
}

/// PlatON call data: the function code and the arguments, each already RLP-encoded.
pub fn encode_call(code: u16, args: &[Vec<u8>]) -> Vec<u8> {
    // Each item is a byte string (a `[u8]`; a `Vec<u8>` would encode as a list of integers).
    let mut items = vec![alloy_rlp::encode(
        alloy_rlp::encode(u64::from(code)).as_slice(),
    )];
    items.extend(args.iter().map(|a| alloy_rlp::encode(a.as_slice())));
    encode_raw_list(&items)
}

/// The call data of a double-sign report.
pub fn report_call(e: &Evidence) -> Vec<u8> {
    encode_call(
        REPORT_DUPLICATE_SIGN,
        &[
            alloy_rlp::encode(e.kind()),
            alloy_rlp::encode(e.encode().as_slice()),
        ],
    )
}

/// The call data of a double-sign check.
pub fn check_call(kind: u8, validator: u32, epoch: u64, view: u64, index: u32) -> Vec<u8> {
    encode_call(
        CHECK_DUPLICATE_SIGN,
        &[
            alloy_rlp::encode(kind),
            alloy_rlp::encode(validator),
            alloy_rlp::encode(epoch),
            alloy_rlp::encode(view),
            alloy_rlp::encode(index),
        ],
    )
}

/// Solidity's `Error(string)`, so clients show the reason as they do for contract reverts.
fn revert_data(why: &str) -> Bytes {
    let mut out = vec![0x08, 0xc3, 0x79, 0xa0];
    let mut word = [0u8; 32];
    word[31] = 0x20;
    out.extend_from_slice(&word);
    out.extend_from_slice(&U256::from(why.len()).to_be_bytes::<32>());
    out.extend_from_slice(why.as_bytes());
    out.resize(4 + 64 + why.len().div_ceil(32) * 32, 0);
    Bytes::from(out)
}

/// A system-contract call's arguments, each the RLP encoding of one value; every reader names
/// the argument in its error.
pub struct Args<'a>(pub &'a [Vec<u8>]);

impl Args<'_> {
    fn one<'r, T>(
        &'r self,
        i: usize,
        name: &'static str,
        read: impl FnOnce(&mut Reader<'r>) -> Result<T, platon_messages::rlp::RlpError>,
    ) -> Result<T, String> {
        let raw = self
            .0
            .get(i)
            .ok_or_else(|| format!("missing argument {name}"))?;
        let mut r = Reader::new(raw);
        read(&mut r)
            .and_then(|v| r.finish().map(|_| v))
            .map_err(|e| format!("bad argument {name}: {e}"))
    }
    /// Argument `i` as an integer.
    pub fn u64(&self, i: usize, name: &'static str) -> Result<u64, String> {
        self.one(i, name, |r| r.u64(name))
    }
    /// Argument `i` as a 256-bit integer.
    pub fn u256(&self, i: usize, name: &'static str) -> Result<U256, String> {
        self.one(i, name, |r| r.u256(name))
    }
    /// Argument `i` as a byte string.
    pub fn bytes(&self, i: usize, name: &'static str) -> Result<Vec<u8>, String> {
        self.one(i, name, |r| r.bytes().map(<[u8]>::to_vec))
    }
    /// Argument `i` as an address.
    pub fn address(&self, i: usize, name: &'static str) -> Result<Address, String> {
        self.one(i, name, |r| r.address(name))
    }
    /// Argument `i` as a 16-byte Node-ID.
    pub fn node_id(&self, i: usize) -> Result<u128, String> {
        let b: [u8; 16] = self
            .bytes(i, "node id")?
            .try_into()
            .map_err(|_| "a node id is 16 bytes".to_string())?;
        Ok(u128::from_be_bytes(b))
    }
    /// Exactly `n` arguments.
    pub fn count(&self, n: usize) -> Result<(), String> {
        if self.0.len() == n {
            Ok(())
        } else {
            Err(format!("{} arguments given, {n} expected", self.0.len()))
        }
    }
}

/// The storage slot recording one (kind, validator, epoch, view, index) report.
pub fn report_slot(kind: u8, validator: u32, epoch: u64, view: u64, index: u32) -> B256 {
    let mut key = b"platon:duplicate-sign".to_vec();
    key.push(kind);
    key.extend_from_slice(&validator.to_be_bytes());
    key.extend_from_slice(&epoch.to_be_bytes());
    key.extend_from_slice(&view.to_be_bytes());
    key.extend_from_slice(&index.to_be_bytes());
    keccak256(key)
}

fn call(
    ctx: &SystemContext,
    state: &mut StateDb,
    env: &BlockEnv,
    caller: Address,
    to: Address,
    code: u16,
    args: &[Vec<u8>],
) -> Result<Call, StorageError> {
    match (to, code) {
        (SLASHING, REPORT_DUPLICATE_SIGN) => report(ctx, state, env, caller, args),
        (SLASHING, CHECK_DUPLICATE_SIGN) => check(state, args),
        (REWARD, WITHDRAW_DELEGATE_REWARD) => {
            if !args.is_empty() {
                return Ok(Err("withdrawDelegateReward takes no arguments".into()));
            }
            let mut ledger = crate::ppos::staking::Ledger {
                state,
                contract: STAKING,
            };
            let paid = match ledger.withdraw_rewards(caller, REWARD)? {
                Ok(paid) => paid,
                Err(why) => return Ok(Err(why)),
            };
            let log = Log {
                address: REWARD,
                topics: vec![
                    keccak256("DelegateRewardWithdrawn(address,uint256)"),
                    B256::left_padding_from(caller.as_slice()),
                ],
                data: Bytes::from(alloy_rlp::encode(paid)),
            };
            Ok(Ok((alloy_rlp::encode(paid), vec![log])))
        }
        (REWARD, GET_DELEGATE_REWARD) => {
            if args.len() != 1 {
                return Ok(Err("getDelegateReward takes one argument".into()));
            }
            let who = match Args(args).address(0, "delegator") {
                Ok(who) => who,
                Err(why) => return Ok(Err(why)),
            };
            let ledger = crate::ppos::staking::Ledger {
                state,
                contract: STAKING,
            };
            let items: Vec<Vec<u8>> = ledger
                .delegations_of(who)?
                .iter()
                .map(|(id, d)| {
                    encode_raw_list(&[
                        alloy_rlp::encode(id.to_be_bytes().as_slice()),
                        alloy_rlp::encode(d.unclaimed),
                    ])
                })
                .collect();
            Ok(Ok((encode_raw_list(&items), Vec::new())))
        }
        (STAKING, code) => {
            let mut ledger = crate::ppos::staking::Ledger {
                state,
                contract: STAKING,
            };
            Ok(crate::ppos::staking::call(
                &ctx.staking,
                &mut ledger,
                caller,
                env.number,
                code,
                args,
            )?
            .map(|out| (out, Vec::new())))
        }
        (_, code) => Ok(Err(format!(
            "function {code} is not offered by system contract {to}"
        ))),
    }
}

fn report(
    ctx: &SystemContext,
    state: &mut StateDb,
    env: &BlockEnv,
    reporter: Address,
    args: &[Vec<u8>],
) -> Result<Call, StorageError> {
    let parsed = (|| {
        let a = Args(args);
        let kind = a.u64(0, "type")?;
        let bytes = a.bytes(1, "evidence")?;
        let e = Evidence::decode(&bytes).map_err(|e| format!("malformed evidence: {e}"))?;
        if args.len() > 2 {
            return Err("too many arguments".to_string());
        }
        if u64::from(e.kind()) != kind {
            return Err(format!(
                "evidence of type {} reported as type {kind}",
                e.kind()
            ));
        }
        Ok(e)
    })();
    let e = match parsed {
        Ok(e) => e,
        Err(why) => return Ok(Err(why)),
    };
    // The validators of the evidence's round: its consensus set when rounds rotate, else the
    // configured ones.
    let keys: Vec<Option<BlsPublicKey>> = match &ctx.schedule {
        Some(s) if s.round_blocks > 0 => {
            let current = s.round_of(env.number);
            let limit = EVIDENCE_EPOCHS.saturating_mul(s.epoch_rounds.max(1));
            if e.epoch().saturating_add(limit) < current {
                return Ok(Err("evidence too old".into()));
            }
            if e.epoch() > current {
                return Ok(Err("evidence from a future round".into()));
            }
            crate::ppos::staking::Ledger {
                state: &mut *state,
                contract: STAKING,
            }
            .round_set(e.epoch())?
            .iter()
            .map(|seat| BlsPublicKey::from_bytes(&seat.bls_key).ok())
            .collect()
        }
        _ => {
            if e.epoch().saturating_add(EVIDENCE_EPOCHS) < ctx.epoch {
                return Ok(Err("evidence too old".into()));
            }
            ctx.validators.iter().cloned().map(Some).collect()
        }
    };
    if let Err(why) = e.verify(|v, h, s| {
        match (
            keys.get(v as usize).and_then(|k| k.as_ref()),
            BlsSignature::from_bytes(s),
        ) {
            (Some(pk), Ok(sig)) => sig.verify(h.as_slice(), pk),
            _ => false,
        }
    }) {
        return Ok(Err(why));
    }
    let slot = report_slot(e.kind(), e.validator(), e.epoch(), e.view(), e.index());
    if !state.storage(&SLASHING, slot)?.is_zero() {
        return Ok(Err("this double sign was already reported".into()));
    }
    state.set_storage(SLASHING, slot, U256::from(env.number.max(1)));
    // A nonce keeps the contract's account non-empty, so no state-clearing rule removes it.
    let mut acct = state.account(&SLASHING)?;
    if acct.nonce == 0 {
        acct.nonce = 1;
        state.set_account(SLASHING, acct);
    }
    // The penalty, when the offender is a staked candidate (found by its BLS key).
    let penalty = match keys.get(e.validator() as usize).and_then(|k| k.as_ref()) {
        Some(pk) => crate::ppos::staking::Ledger {
            state: &mut *state,
            contract: STAKING,
        }
        .slash(
            &pk.to_bytes(),
            DOUBLE_SIGN_PENALTY_BPS,
            REPORTER_SHARE_BPS,
            reporter,
            REWARD_POOL,
        )?
        .map(|p| p.total)
        .unwrap_or_default(),
        None => U256::ZERO,
    };
    let data = encode_raw_list(&[
        alloy_rlp::encode(e.kind()),
        alloy_rlp::encode(e.validator()),
        alloy_rlp::encode(e.epoch()),
        alloy_rlp::encode(e.view()),
        alloy_rlp::encode(e.index()),
        alloy_rlp::encode(reporter),
        alloy_rlp::encode(penalty),
    ]);
    let log = Log {
        address: SLASHING,
        topics: vec![
            duplicate_sign_topic(),
            B256::left_padding_from(&e.validator().to_be_bytes()),
        ],
        data: Bytes::from(data),
    };
    Ok(Ok((alloy_rlp::encode(penalty), vec![log])))
}

fn check(state: &StateDb, args: &[Vec<u8>]) -> Result<Call, StorageError> {
    let parsed = (|| {
        let a = Args(args);
        let kind = u8::try_from(a.u64(0, "type")?).map_err(|_| "bad type")?;
        let validator = u32::try_from(a.u64(1, "validator")?).map_err(|_| "bad validator")?;
        let epoch = a.u64(2, "epoch")?;
        let view = a.u64(3, "view")?;
        let index = u32::try_from(a.u64(4, "index")?).map_err(|_| "bad index")?;
        Ok::<_, String>(report_slot(kind, validator, epoch, view, index))
    })();
    let slot = match parsed {
        Ok(s) => s,
        Err(why) => return Ok(Err(why)),
    };
    let at = state.storage(&SLASHING, slot)?;
    Ok(Ok((
        alloy_rlp::encode(u64::try_from(at).unwrap_or(u64::MAX)),
        Vec::new(),
    )))
}

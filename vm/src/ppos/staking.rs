//! The staking contract's ledger (at `0x1000…0002`): candidates with their BLS and VRF keys, own
//! and delegated stake, delegations, and the functions PlatON numbers 1000–1005 (create, edit,
//! increase, withdraw, delegate, withdraw a delegation) and 1100–1105 (the queries).
//!
//! Records (RLP) live in snapshotdb, keyed per block, where only the latest version counts: a block
//! reads them through its state's snapshotdb view ([`platon_storage::StateDb::with_snapshot`]) and
//! its writes collect above it. [`seal_snapshot`] folds a block's writes into a running hash kept
//! in the contract's storage, so the state root commits to the staking data and a node whose data
//! diverged fails block validation. A state without a view keeps the records in the contract's
//! storage slots instead (the earlier design, kept so tests and benchmarks compare the two
//! directly). The staked balances stay in the state trie. Stake added during an epoch is pending and counts from the next epoch. The staked
//! value moves from the staker's balance to the contract's, so the total of all balances never
//! changes.

use super::election::LAT;
use crate::system::Args;
use alloy_primitives::{keccak256, Address, B256, U256};
use platon_crypto::bls::{BlsPublicKey, BlsSignature};
use platon_crypto::vrf::VrfPublicKey;
use platon_messages::rlp::{encode_raw_list, Reader, RlpError};
use platon_storage::{StateDb, StorageError};

/// `createStaking`.
pub const CREATE_STAKING: u16 = 1000;
/// `editCandidate`.
pub const EDIT_CANDIDATE: u16 = 1001;
/// `increaseStaking`.
pub const INCREASE_STAKING: u16 = 1002;
/// `withdrewStaking` (PlatON's spelling).
pub const WITHDREW_STAKING: u16 = 1003;
/// `delegate`.
pub const DELEGATE: u16 = 1004;
/// `withdrewDelegation`.
pub const WITHDREW_DELEGATION: u16 = 1005;
/// `getVerifierList`.
pub const GET_VERIFIER_LIST: u16 = 1100;
/// `getValidatorList`.
pub const GET_VALIDATOR_LIST: u16 = 1101;
/// `getCandidateList`.
pub const GET_CANDIDATE_LIST: u16 = 1102;
/// `getDelegateInfo`.
pub const GET_DELEGATE_INFO: u16 = 1104;
/// `getCandidateInfo`.
pub const GET_CANDIDATE_INFO: u16 = 1105;

/// Gas of a staking write above the intrinsic gas.
pub const WRITE_GAS: u64 = 40_000;
/// Gas of a query above the intrinsic gas.
pub const READ_GAS: u64 = 5_000;

/// Staking parameters (PlatON's defaults; a dev chain may shorten them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StakingParams {
    /// Least own stake of a candidate (PlatON: 100,000 LAT).
    pub min_stake: U256,
    /// Least delegation (PlatON: 10 LAT).
    pub min_delegation: U256,
}

impl Default for StakingParams {
    fn default() -> Self {
        Self {
            min_stake: U256::from(100_000u64) * U256::from(LAT),
            min_delegation: U256::from(10u64) * U256::from(LAT),
        }
    }
}

/// A candidate's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Staked and eligible.
    Active = 0,
    /// Withdrawn: leaves the verifier list at the next epoch.
    Withdrawn = 1,
    /// Slashed for a double sign and removed.
    Slashed = 2,
    /// Produced no block in a round it was a validator of: penalized and removed.
    LowRatio = 3,
}

/// A candidate (validator hopeful).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The node's overlay Node-ID.
    pub node_id: u128,
    /// Who staked (may edit, increase, withdraw).
    pub staking_address: Address,
    /// Where the node's rewards go.
    pub benefit_address: Address,
    /// BLS public key (consensus votes), registered with a proof of possession.
    pub bls_key: [u8; 48],
    /// sr25519 VRF public key (block seeds).
    pub vrf_key: [u8; 32],
    /// Share of rewards for the delegators, in basis points.
    pub reward_per: u16,
    /// Display name.
    pub name: String,
    /// Own stake counting this epoch.
    pub stake: U256,
    /// Own stake counting from the next epoch.
    pub stake_pending: U256,
    /// Delegated stake counting this epoch.
    pub delegated: U256,
    /// Delegated stake counting from the next epoch.
    pub delegated_pending: U256,
    /// Block in which it staked.
    pub staking_block: u64,
    /// Order of its staking among all (ties of one block go to the earlier).
    pub staking_seq: u64,
    /// Lifecycle.
    pub status: Status,
}

impl Candidate {
    /// Own and delegated stake that counts this epoch.
    pub fn total_stake(&self) -> U256 {
        // Both are parts of the total supply, which fits 256 bits many times over.
        self.stake.saturating_add(self.delegated)
    }

    /// RLP list of the fields in order.
    pub fn encode(&self) -> Vec<u8> {
        fn e<T: alloy_rlp::Encodable>(v: T) -> Vec<u8> {
            alloy_rlp::encode(v)
        }
        encode_raw_list(&[
            e(self.node_id.to_be_bytes().as_slice()),
            e(self.staking_address),
            e(self.benefit_address),
            e(self.bls_key.as_slice()),
            e(self.vrf_key.as_slice()),
            e(u64::from(self.reward_per)),
            e(self.name.as_bytes()),
            e(self.stake),
            e(self.stake_pending),
            e(self.delegated),
            e(self.delegated_pending),
            e(self.staking_block),
            e(self.staking_seq),
            e(self.status as u64),
        ])
    }

    /// Decodes [`Candidate::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, RlpError> {
        let mut top = Reader::new(bytes);
        let mut l = top.list()?;
        top.finish()?;
        let c = Candidate {
            node_id: u128::from_be_bytes(l.fixed::<16>("node id")?),
            staking_address: l.address("staking address")?,
            benefit_address: l.address("benefit address")?,
            bls_key: l.fixed::<48>("bls key")?,
            vrf_key: l.fixed::<32>("vrf key")?,
            reward_per: u16::try_from(l.u64("reward per")?)
                .map_err(|_| RlpError::Overflow("reward per"))?,
            name: String::from_utf8(l.bytes()?.to_vec())
                .map_err(|_| RlpError::Malformed("name is not UTF-8".into()))?,
            stake: l.u256("stake")?,
            stake_pending: l.u256("stake pending")?,
            delegated: l.u256("delegated")?,
            delegated_pending: l.u256("delegated pending")?,
            staking_block: l.u64("staking block")?,
            staking_seq: l.u64("staking seq")?,
            status: match l.u64("status")? {
                0 => Status::Active,
                1 => Status::Withdrawn,
                2 => Status::Slashed,
                3 => Status::LowRatio,
                s => return Err(RlpError::Malformed(format!("status {s}"))),
            },
        };
        l.finish()?;
        Ok(c)
    }
}

/// A delegation from one address to one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delegation {
    /// Counting this epoch.
    pub amount: U256,
    /// Counting from the epoch after `pending_epoch`.
    pub pending: U256,
    /// The epoch in which `pending` was added.
    pub pending_epoch: u64,
    /// The candidate's reward per unit (see [`REWARD_SCALE`]) when this delegation's rewards
    /// were last accrued.
    pub reward_snapshot: U256,
    /// Rewards accrued and not yet withdrawn.
    pub unclaimed: U256,
}

/// Fixed-point scale of the per-unit reward accumulator: a pot of `p` von over `d` delegated von
/// adds `p × 10^36 / d`; delegators are paid `amount × Δ / 10^36`, rounded down, and what rounding
/// leaves stays in the reward contract's balance (never created, never destroyed).
pub const REWARD_SCALE: U256 = U256::from_limbs([0xb34b9f1000000000, 0x00c0_97ce_7bc9_0715, 0, 0]);

impl Delegation {
    /// RLP `[amount, pending, pending epoch]`.
    pub fn encode(&self) -> Vec<u8> {
        encode_raw_list(&[
            alloy_rlp::encode(self.amount),
            alloy_rlp::encode(self.pending),
            alloy_rlp::encode(self.pending_epoch),
            alloy_rlp::encode(self.reward_snapshot),
            alloy_rlp::encode(self.unclaimed),
        ])
    }

    /// Decodes [`Delegation::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, RlpError> {
        let mut top = Reader::new(bytes);
        let mut l = top.list()?;
        top.finish()?;
        let d = Delegation {
            amount: l.u256("amount")?,
            pending: l.u256("pending")?,
            pending_epoch: l.u64("pending epoch")?,
            reward_snapshot: l.u256("reward snapshot")?,
            unclaimed: l.u256("unclaimed")?,
        };
        l.finish()?;
        Ok(d)
    }
}

// ---- storage: byte values across slots --------------------------------------------------------

fn base_slot(key: &[u8]) -> U256 {
    let mut k = b"platon:staking:".to_vec();
    k.extend_from_slice(key);
    U256::from_be_bytes(keccak256(k).0)
}

fn slot(base: U256, i: u64) -> B256 {
    B256::from(base.wrapping_add(U256::from(i)).to_be_bytes::<32>())
}

/// Key prefix of the staking contract's records in snapshotdb.
pub const SNAPSHOT_PREFIX: &[u8] = b"staking:";

/// The staking contract's storage slot that holds the running hash of the chain's snapshotdb
/// writes ([`platon_storage::snapshotdb::chain_hash`]): through it the state root commits to the
/// staking data that lives in snapshotdb.
pub fn snapshot_hash_slot() -> B256 {
    slot(base_slot(b"snapshot-hash"), 0)
}

/// The running hash the state holds (zero before the first write).
pub fn snapshot_hash(state: &StateDb) -> Result<B256, StorageError> {
    Ok(B256::from(
        state
            .storage(&crate::system::STAKING, snapshot_hash_slot())?
            .to_be_bytes::<32>(),
    ))
}

/// The staking records of a state live in snapshotdb when the state has a snapshotdb view attached
/// (the node), else in the contract's storage slots (the earlier design, kept to compare the two
/// side by side). This refuses the slots of a state whose chain keeps the records in snapshotdb (its
/// running-hash slot is set), so a caller that forgot the view gets an error, not empty data.
fn refuse_slots_of_a_snapshot_chain(
    state: &StateDb,
    contract: Address,
) -> Result<(), StorageError> {
    if contract == crate::system::STAKING && !snapshot_hash(state)?.is_zero() {
        return Err(StorageError::Mismatch(
            "this chain keeps staking data in snapshotdb, and the state was opened without a \
             snapshotdb view"
                .into(),
        ));
    }
    Ok(())
}

fn snapshot_key(key: &[u8]) -> Vec<u8> {
    [SNAPSHOT_PREFIX, key].concat()
}

/// A byte value stored by [`put`] under `key` for `contract`.
pub fn get(
    state: &StateDb,
    contract: Address,
    key: &[u8],
) -> Result<Option<Vec<u8>>, StorageError> {
    if let Some(s) = state.snapshot() {
        return s.get(&snapshot_key(key));
    }
    refuse_slots_of_a_snapshot_chain(state, contract)?;
    let base = base_slot(key);
    let len = state.storage(&contract, slot(base, 0))?;
    if len.is_zero() {
        return Ok(None);
    }
    let len = usize::try_from(len - U256::from(1u8)).unwrap_or(0);
    let mut out = Vec::with_capacity(len);
    let mut i = 1u64;
    while out.len() < len {
        let word = state.storage(&contract, slot(base, i))?.to_be_bytes::<32>();
        let take = (len - out.len()).min(32);
        out.extend_from_slice(&word[..take]);
        i += 1;
    }
    Ok(Some(out))
}

/// Stores `value` under `key`: in snapshotdb (see [`get`]), or in `contract`'s slots (its length
/// + 1 in the first slot, then 32 bytes per slot, clearing slots a longer old value used).
pub fn put(
    state: &mut StateDb,
    contract: Address,
    key: &[u8],
    value: &[u8],
) -> Result<(), StorageError> {
    if let Some(s) = state.snapshot_mut() {
        s.put(&snapshot_key(key), value);
        return Ok(());
    }
    refuse_slots_of_a_snapshot_chain(state, contract)?;
    let base = base_slot(key);
    let old = state.storage(&contract, slot(base, 0))?;
    let old_words = usize::try_from(old.saturating_sub(U256::from(1u8)))
        .unwrap_or(0)
        .div_ceil(32);
    state.set_storage(contract, slot(base, 0), U256::from(value.len() + 1));
    let words = value.len().div_ceil(32);
    for (i, chunk) in value.chunks(32).enumerate() {
        let mut w = [0u8; 32];
        w[..chunk.len()].copy_from_slice(chunk);
        state.set_storage(contract, slot(base, i as u64 + 1), U256::from_be_bytes(w));
    }
    for i in words..old_words {
        state.set_storage(contract, slot(base, i as u64 + 1), U256::ZERO);
    }
    Ok(())
}

/// Removes the value under `key`.
pub fn delete(state: &mut StateDb, contract: Address, key: &[u8]) -> Result<(), StorageError> {
    if let Some(s) = state.snapshot_mut() {
        s.delete(&snapshot_key(key));
        return Ok(());
    }
    refuse_slots_of_a_snapshot_chain(state, contract)?;
    let base = base_slot(key);
    let old = state.storage(&contract, slot(base, 0))?;
    let words = usize::try_from(old.saturating_sub(U256::from(1u8)))
        .unwrap_or(0)
        .div_ceil(32);
    for i in 0..=words {
        state.set_storage(contract, slot(base, i as u64), U256::ZERO);
    }
    Ok(())
}

/// Folds the block's snapshotdb writes so far into the running hash in the staking contract's
/// storage, so that the state root commits to them; returns the writes (none without a view).
pub fn seal_snapshot(
    state: &mut StateDb,
) -> Result<platon_storage::snapshotdb::Writes, StorageError> {
    let Some(writes) = state.snapshot_mut().map(|s| s.take_writes()) else {
        return Ok(Default::default());
    };
    if writes.is_empty() {
        return Ok(writes);
    }
    let prev = snapshot_hash(state)?;
    let next = platon_storage::snapshotdb::chain_hash(prev, &writes);
    let contract = crate::system::STAKING;
    let mut acct = state.account(&contract)?;
    if acct.nonce == 0 {
        // An account with storage keeps nonce 1, so no state-clearing rule removes it.
        acct.nonce = 1;
        state.set_account(contract, acct);
    }
    state.set_storage(contract, snapshot_hash_slot(), U256::from_be_bytes(next.0));
    Ok(writes)
}

/// A counter stored as 8 big-endian bytes (0 when unset or not 8 bytes long).
pub fn u64_value(bytes: Option<Vec<u8>>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

fn cand_key(node_id: u128) -> Vec<u8> {
    let mut k = b"cand:".to_vec();
    k.extend_from_slice(&node_id.to_be_bytes());
    k
}

fn del_key(delegator: Address, node_id: u128) -> Vec<u8> {
    let mut k = b"del:".to_vec();
    k.extend_from_slice(delegator.as_slice());
    k.extend_from_slice(&node_id.to_be_bytes());
    k
}

fn dels_key(node_id: u128) -> Vec<u8> {
    let mut k = b"dels:".to_vec();
    k.extend_from_slice(&node_id.to_be_bytes());
    k
}

fn bls_index_key(bls_key: &[u8]) -> Vec<u8> {
    let mut k = b"bls:".to_vec();
    k.extend_from_slice(bls_key);
    k
}

fn mine_key(who: Address) -> Vec<u8> {
    let mut k = b"mine:".to_vec();
    k.extend_from_slice(who.as_slice());
    k
}

fn acc_key(node_id: u128) -> Vec<u8> {
    let mut k = b"acc:".to_vec();
    k.extend_from_slice(&node_id.to_be_bytes());
    k
}

fn read_addrs(
    state: &StateDb,
    contract: Address,
    key: &[u8],
) -> Result<Vec<Address>, StorageError> {
    Ok(get(state, contract, key)?
        .map(|b| b.chunks_exact(20).map(Address::from_slice).collect())
        .unwrap_or_default())
}

fn write_addrs(
    state: &mut StateDb,
    contract: Address,
    key: &[u8],
    list: &[Address],
) -> Result<(), StorageError> {
    let bytes: Vec<u8> = list.iter().flat_map(|a| a.0 .0).collect();
    put(state, contract, key, &bytes)
}

fn read_ids(state: &StateDb, contract: Address, key: &[u8]) -> Result<Vec<u128>, StorageError> {
    Ok(get(state, contract, key)?
        .map(|b| {
            b.chunks_exact(16)
                .map(|c| {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(c);
                    u128::from_be_bytes(a)
                })
                .collect()
        })
        .unwrap_or_default())
}

fn write_ids(
    state: &mut StateDb,
    contract: Address,
    key: &[u8],
    ids: &[u128],
) -> Result<(), StorageError> {
    let bytes: Vec<u8> = ids.iter().flat_map(|i| i.to_be_bytes()).collect();
    put(state, contract, key, &bytes)
}

/// One seat of a consensus round: the candidate and the keys it signs and proves seeds with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    /// The candidate's Node-ID.
    pub node_id: u128,
    /// Its BLS public key (48 bytes).
    pub bls_key: [u8; 48],
    /// Its VRF public key (32 bytes).
    pub vrf_key: [u8; 32],
}

const SEAT_LEN: usize = 16 + 48 + 32;

fn round_set_key(round: u64) -> Vec<u8> {
    let mut k = b"round-set:".to_vec();
    k.extend_from_slice(&round.to_be_bytes());
    k
}

/// The staking ledger over a state.
pub struct Ledger<'a> {
    /// The state it reads and writes.
    pub state: &'a mut StateDb,
    /// The contract address.
    pub contract: Address,
}

impl Ledger<'_> {
    /// Every candidate ever staked and not yet removed, in staking order.
    pub fn candidate_ids(&self) -> Result<Vec<u128>, StorageError> {
        read_ids(self.state, self.contract, b"candidates")
    }

    /// One candidate.
    pub fn candidate(&self, node_id: u128) -> Result<Option<Candidate>, StorageError> {
        Ok(get(self.state, self.contract, &cand_key(node_id))?
            .and_then(|b| Candidate::decode(&b).ok()))
    }

    /// The candidate that registered a BLS key (an index, so lookups do not scan the list).
    pub fn by_bls_key(&self, bls_key: &[u8]) -> Result<Option<u128>, StorageError> {
        Ok(
            read_ids(self.state, self.contract, &bls_index_key(bls_key))?
                .first()
                .copied(),
        )
    }

    /// Writes a candidate (adding it to the list and the BLS-key index when new).
    pub fn put_candidate(&mut self, c: &Candidate) -> Result<(), StorageError> {
        if get(self.state, self.contract, &cand_key(c.node_id))?.is_none() {
            let mut ids = self.candidate_ids()?;
            ids.push(c.node_id);
            write_ids(self.state, self.contract, b"candidates", &ids)?;
            write_ids(
                self.state,
                self.contract,
                &bls_index_key(&c.bls_key),
                &[c.node_id],
            )?;
        }
        put(self.state, self.contract, &cand_key(c.node_id), &c.encode())
    }

    /// One delegation (its pending part starts to count when the epoch settles, see
    /// [`Ledger::settle_epoch`]).
    pub fn delegation(&self, who: Address, node_id: u128) -> Result<Delegation, StorageError> {
        Ok(get(self.state, self.contract, &del_key(who, node_id))?
            .and_then(|b| Delegation::decode(&b).ok())
            .unwrap_or_default())
    }

    /// The current epoch (0 before the first settlement).
    pub fn epoch(&self) -> Result<u64, StorageError> {
        Ok(u64_value(get(self.state, self.contract, b"epoch")?))
    }

    /// Writes the genesis candidates (their stake counting from the start; the contract's balance
    /// must hold their sum, which the genesis allocation gives it), the verifier list (ranked) and
    /// the first round's validators, in the order given.
    pub fn genesis(
        &mut self,
        candidates: &[Candidate],
        validators: &[u128],
        max_verifiers: usize,
    ) -> Result<(), StorageError> {
        let mut ranked = Vec::new();
        for (seq, c) in candidates.iter().enumerate() {
            let mut c = c.clone();
            c.stake = add(c.stake, c.stake_pending, "genesis stake")?;
            c.stake_pending = U256::ZERO;
            c.staking_seq = seq as u64;
            ranked.push(super::election::Ranked {
                id: c.node_id,
                stake: c.total_stake(),
                staking_block: 0,
                staking_tx_index: seq as u32,
            });
            self.put_candidate(&c)?;
        }
        put(
            self.state,
            self.contract,
            b"seq",
            &(candidates.len() as u64).to_be_bytes(),
        )?;
        let verifiers: Vec<u128> = super::election::verifiers(ranked, max_verifiers, U256::ZERO)
            .into_iter()
            .map(|r| r.id)
            .collect();
        self.set_verifiers(&verifiers)?;
        self.set_validators(validators)?;
        self.set_round_set(1, validators)?;
        let mut acct = self.state.account(&self.contract)?;
        acct.nonce = acct.nonce.max(1);
        self.state.set_account(self.contract, acct);
        Ok(())
    }

    /// A candidate's cumulative delegators' reward per delegated von (scaled by [`REWARD_SCALE`]).
    pub fn acc(&self, node_id: u128) -> Result<U256, StorageError> {
        Ok(get(self.state, self.contract, &acc_key(node_id))?
            .map(|b| U256::from_be_slice(&b))
            .unwrap_or_default())
    }

    /// Brings a delegation's rewards up to date: its counting amount earns what the candidate's
    /// accumulator gained since the last accrual.
    pub fn accrue(&self, node_id: u128, d: &mut Delegation) -> Result<(), StorageError> {
        let acc = self.acc(node_id)?;
        // The accumulator only grows, so a snapshot above it is a broken record.
        let gained = sub(
            acc,
            d.reward_snapshot,
            "reward accumulator below a snapshot",
        )?;
        let earned = d
            .amount
            .checked_mul(gained)
            .ok_or_else(|| broken("accrued reward", "amount × accumulator gain overflows"))?
            / REWARD_SCALE;
        d.unclaimed = add(d.unclaimed, earned, "unclaimed reward")?;
        d.reward_snapshot = acc;
        Ok(())
    }

    /// The delegations of `who`, by candidate, accrued to now.
    pub fn delegations_of(&self, who: Address) -> Result<Vec<(u128, Delegation)>, StorageError> {
        let mut out = Vec::new();
        for id in read_ids(self.state, self.contract, &mine_key(who))? {
            let mut d = self.delegation(who, id)?;
            self.accrue(id, &mut d)?;
            out.push((id, d));
        }
        Ok(out)
    }

    /// Pays `who` every accrued delegation reward from the reward contract `from`; the amount paid.
    /// Refused, changing nothing, when `from` does not hold it (the records stay as they were).
    pub fn withdraw_rewards(
        &mut self,
        who: Address,
        from: Address,
    ) -> Result<Result<U256, String>, StorageError> {
        let owed = self.delegations_of(who)?;
        let mut total = U256::ZERO;
        for (_, d) in &owed {
            total = add(total, d.unclaimed, "rewards owed")?;
        }
        let held = self.state.account(&from)?.balance;
        if held < total {
            return Ok(Err(format!(
                "the reward contract holds {held}, less than the {total} owed"
            )));
        }
        for (id, mut d) in owed {
            d.unclaimed = U256::ZERO;
            self.put_delegation(who, id, &d)?;
        }
        self.must_transfer(from, who, total, "reward withdrawal")?;
        Ok(Ok(total))
    }

    /// Pays an epoch's rewards from `pool`: each verifier gets an equal part of `staking_reward`
    /// plus `block_reward` for each block it produced (`produced`), shared with its delegators by
    /// its reward share ([`super::rewards::split_reward`]); the node's part goes to its benefit
    /// address, the delegators' pot to the reward contract `reward_contract`, where it accrues to
    /// each delegation by its counting amount. An exhausted pool pays what it holds. Value only
    /// moves: the total of all balances is unchanged.
    pub fn pay_epoch(
        &mut self,
        pool: Address,
        reward_contract: Address,
        staking_reward: U256,
        block_reward: U256,
        produced: &std::collections::BTreeMap<u128, u64>,
    ) -> Result<U256, StorageError> {
        let verifiers = self.verifiers()?;
        let (each, _) = super::rewards::epoch_rewards(staking_reward, verifiers.len());
        let mut paid = U256::ZERO;
        for id in verifiers {
            let Some(c) = self.candidate(id)? else {
                continue;
            };
            if c.status != Status::Active {
                continue;
            }
            let blocks = U256::from(produced.get(&id).copied().unwrap_or(0));
            let for_blocks = block_reward
                .checked_mul(blocks)
                .ok_or_else(|| broken("block reward", "reward × blocks overflows"))?;
            let want = add(each, for_blocks, "epoch reward")?;
            let available = self.state.account(&pool)?.balance;
            let reward = want.min(available);
            let split = super::rewards::split_reward(reward, c.reward_per, &[c.delegated])
                .map_err(|e| broken("reward split", e.0))?;
            let pot = split.delegators.first().copied().unwrap_or_default();
            // node + pot = reward ≤ what the pool holds: neither transfer can be refused.
            self.must_transfer(pool, c.benefit_address, split.node, "node reward")?;
            if !pot.is_zero() {
                self.must_transfer(pool, reward_contract, pot, "delegators' pot")?;
                let gain = pot
                    .checked_mul(REWARD_SCALE)
                    .ok_or_else(|| broken("reward accumulator", "pot × scale overflows"))?
                    .checked_div(c.delegated)
                    .ok_or_else(|| broken("reward accumulator", "a pot without delegations"))?;
                let acc = add(self.acc(id)?, gain, "reward accumulator")?;
                put(
                    self.state,
                    self.contract,
                    &acc_key(id),
                    &acc.to_be_bytes::<32>(),
                )?;
            }
            paid = add(paid, reward, "epoch rewards paid")?;
        }
        Ok(paid)
    }

    /// Penalizes validators that produced no block in a round: up to `penalty` of each one's own
    /// stake goes to `pool`; each is marked [`Status::LowRatio`] and leaves the verifier and
    /// validator lists (its remaining stake returns when the epoch settles).
    pub fn penalize_idle(
        &mut self,
        idle: &[u128],
        penalty: U256,
        pool: Address,
    ) -> Result<U256, StorageError> {
        let mut taken = U256::ZERO;
        for id in idle {
            let Some(mut c) = self.candidate(*id)? else {
                continue;
            };
            if c.status != Status::Active {
                continue;
            }
            let from_stake = penalty.min(c.stake);
            let from_pending = sub(penalty, from_stake, "idle penalty")?.min(c.stake_pending);
            let take = add(from_stake, from_pending, "idle penalty")?;
            // The contract holds every staked unit.
            self.must_transfer(self.contract, pool, take, "idle penalty")?;
            c.stake = sub(c.stake, from_stake, "stake after an idle penalty")?;
            c.stake_pending = sub(
                c.stake_pending,
                from_pending,
                "pending stake after an idle penalty",
            )?;
            c.status = Status::LowRatio;
            put(self.state, self.contract, &cand_key(c.node_id), &c.encode())?;
            taken = add(taken, take, "idle penalties")?;
        }
        let v: Vec<u128> = self
            .verifiers()?
            .into_iter()
            .filter(|x| !idle.contains(x))
            .collect();
        self.set_verifiers(&v)?;
        let v: Vec<u128> = self
            .validators()?
            .into_iter()
            .filter(|x| !idle.contains(x))
            .collect();
        self.set_validators(&v)?;
        Ok(taken)
    }

    /// Settles an epoch: pending stake starts to count, withdrawn candidates get their stake back
    /// (and leave the list once no delegation is left counted on them), and the candidates ranked
    /// by stake (own stake at least `min_stake`, active) become the verifier list of the next
    /// epoch, at most `max_verifiers`. Returns the new verifier list.
    pub fn settle_epoch(
        &mut self,
        params: &StakingParams,
        max_verifiers: usize,
    ) -> Result<Vec<u128>, StorageError> {
        let mut ranked = Vec::new();
        let mut keep = Vec::new();
        for id in self.candidate_ids()? {
            let Some(mut c) = self.candidate(id)? else {
                continue;
            };
            c.stake = add(c.stake, c.stake_pending, "settled stake")?;
            c.stake_pending = U256::ZERO;
            c.delegated = add(c.delegated, c.delegated_pending, "settled delegations")?;
            c.delegated_pending = U256::ZERO;
            // Each delegation: rewards accrued on what counted, then its pending part counts.
            for who in read_addrs(self.state, self.contract, &dels_key(id))? {
                let mut d = self.delegation(who, id)?;
                self.accrue(id, &mut d)?;
                d.amount = add(d.amount, d.pending, "settled delegation")?;
                d.pending = U256::ZERO;
                self.put_delegation(who, id, &d)?;
            }
            if c.status != Status::Active && !c.stake.is_zero() {
                let back = c.stake;
                c.stake = U256::ZERO;
                let to = c.staking_address;
                // The contract holds every staked unit.
                self.must_transfer(self.contract, to, back, "returned stake")?;
            }
            if c.status != Status::Active && c.stake.is_zero() && c.delegated.is_zero() {
                delete(self.state, self.contract, &cand_key(id))?;
                continue;
            }
            if c.status == Status::Active && c.stake >= params.min_stake {
                ranked.push(super::election::Ranked {
                    id,
                    stake: c.total_stake(),
                    staking_block: c.staking_block,
                    staking_tx_index: u32::try_from(c.staking_seq).unwrap_or(u32::MAX),
                });
            }
            put(self.state, self.contract, &cand_key(id), &c.encode())?;
            keep.push(id);
        }
        write_ids(self.state, self.contract, b"candidates", &keep)?;
        let verifiers: Vec<u128> = super::election::verifiers(ranked, max_verifiers, U256::ZERO)
            .into_iter()
            .map(|r| r.id)
            .collect();
        self.set_verifiers(&verifiers)?;
        let epoch = self.epoch()?.saturating_add(1);
        put(self.state, self.contract, b"epoch", &epoch.to_be_bytes())?;
        Ok(verifiers)
    }

    /// The next round's validators from the verifier list with the VRF `seed` (see
    /// [`super::election::next_validators`]), nothing written.
    fn draw_round(&self, seats: usize, seed: B256) -> Result<Vec<u128>, StorageError> {
        let mut weighted = Vec::new();
        for id in self.verifiers()? {
            if let Some(c) = self.candidate(id)? {
                if c.status == Status::Active {
                    weighted.push((id, super::election::weight(c.total_stake())));
                }
            }
        }
        let current = self.validators()?;
        Ok(super::election::next_validators(
            &current, &weighted, seats, seed,
        ))
    }

    /// Elects the next round's validators from the verifier list with the VRF `seed` (see
    /// [`super::election::next_validators`]); stores and returns them.
    pub fn elect_round(&mut self, seats: usize, seed: B256) -> Result<Vec<u128>, StorageError> {
        let next = self.draw_round(seats, seed)?;
        self.set_validators(&next)?;
        Ok(next)
    }

    /// Elects round `round`'s validators like [`Self::elect_round`] and records them, with their
    /// keys, as that round's consensus set (which never changes afterwards); the working
    /// validator list is left alone. Returns the Node-IDs in validator-index order.
    pub fn elect_next(
        &mut self,
        seats: usize,
        seed: B256,
        round: u64,
    ) -> Result<Vec<u128>, StorageError> {
        let next = self.draw_round(seats, seed)?;
        self.set_round_set(round, &next)?;
        Ok(next)
    }

    /// Records `ids` (with their keys) as round `round`'s consensus set.
    pub fn set_round_set(&mut self, round: u64, ids: &[u128]) -> Result<(), StorageError> {
        let mut bytes = Vec::with_capacity(ids.len().saturating_mul(SEAT_LEN));
        for id in ids {
            let Some(c) = self.candidate(*id)? else {
                continue;
            };
            bytes.extend_from_slice(&id.to_be_bytes());
            bytes.extend_from_slice(&c.bls_key);
            bytes.extend_from_slice(&c.vrf_key);
        }
        put(self.state, self.contract, &round_set_key(round), &bytes)
    }

    /// Round `round`'s consensus set, in validator-index order (empty when not elected yet).
    pub fn round_set(&self, round: u64) -> Result<Vec<Seat>, StorageError> {
        let bytes = get(self.state, self.contract, &round_set_key(round))?.unwrap_or_default();
        Ok(bytes
            .chunks_exact(SEAT_LEN)
            .map(|c| {
                let mut id = [0u8; 16];
                id.copy_from_slice(&c[..16]);
                let mut bls_key = [0u8; 48];
                bls_key.copy_from_slice(&c[16..64]);
                let mut vrf_key = [0u8; 32];
                vrf_key.copy_from_slice(&c[64..]);
                Seat {
                    node_id: u128::from_be_bytes(id),
                    bls_key,
                    vrf_key,
                }
            })
            .collect())
    }

    /// Slashes a double sign by the candidate whose BLS key is `bls_key`: `penalty_bps` of its own
    /// stake is taken, `reporter_bps` of that paid to `reporter`, the rest to `pool`; the candidate
    /// is marked slashed and leaves the verifier and validator lists. None when no candidate has
    /// that key.
    pub fn slash(
        &mut self,
        bls_key: &[u8],
        penalty_bps: u16,
        reporter_bps: u16,
        reporter: Address,
        pool: Address,
    ) -> Result<Option<super::rewards::Penalty>, StorageError> {
        let found = match self.by_bls_key(bls_key)? {
            Some(id) => self.candidate(id)?,
            None => None,
        };
        let Some(mut c) = found else { return Ok(None) };
        let own = add(c.stake, c.stake_pending, "slashed stake")?;
        let p = super::rewards::penalty(own, penalty_bps, reporter_bps)
            .map_err(|e| broken("double-sign penalty", e.0))?;
        // Taken from the counting stake first, then from the pending stake (p.total ≤ own).
        let from_stake = p.total.min(c.stake);
        c.stake = sub(c.stake, from_stake, "stake after a slash")?;
        let rest = sub(p.total, from_stake, "slash")?;
        c.stake_pending = sub(c.stake_pending, rest, "pending stake after a slash")?;
        c.status = Status::Slashed;
        self.must_transfer(self.contract, reporter, p.reporter, "reporter reward")?;
        self.must_transfer(self.contract, pool, p.pool, "slashed stake")?;
        put(self.state, self.contract, &cand_key(c.node_id), &c.encode())?;
        let id = c.node_id;
        let v: Vec<u128> = self.verifiers()?.into_iter().filter(|x| *x != id).collect();
        self.set_verifiers(&v)?;
        let v: Vec<u128> = self
            .validators()?
            .into_iter()
            .filter(|x| *x != id)
            .collect();
        self.set_validators(&v)?;
        Ok(Some(p))
    }

    /// Writes a delegation (removing it when empty).
    pub fn put_delegation(
        &mut self,
        who: Address,
        node_id: u128,
        d: &Delegation,
    ) -> Result<(), StorageError> {
        let mut list = read_addrs(self.state, self.contract, &dels_key(node_id))?;
        let mut mine = read_ids(self.state, self.contract, &mine_key(who))?;
        if d.amount.is_zero() && d.pending.is_zero() && d.unclaimed.is_zero() {
            if let Some(i) = list.iter().position(|a| *a == who) {
                list.remove(i);
                write_addrs(self.state, self.contract, &dels_key(node_id), &list)?;
            }
            if let Some(i) = mine.iter().position(|n| *n == node_id) {
                mine.remove(i);
                write_ids(self.state, self.contract, &mine_key(who), &mine)?;
            }
            delete(self.state, self.contract, &del_key(who, node_id))
        } else {
            if !list.contains(&who) {
                list.push(who);
                write_addrs(self.state, self.contract, &dels_key(node_id), &list)?;
            }
            if !mine.contains(&node_id) {
                mine.push(node_id);
                write_ids(self.state, self.contract, &mine_key(who), &mine)?;
            }
            put(
                self.state,
                self.contract,
                &del_key(who, node_id),
                &d.encode(),
            )
        }
    }

    /// The current epoch's verifier list.
    pub fn verifiers(&self) -> Result<Vec<u128>, StorageError> {
        read_ids(self.state, self.contract, b"verifiers")
    }

    /// The current round's validators, in validator-index order.
    pub fn validators(&self) -> Result<Vec<u128>, StorageError> {
        read_ids(self.state, self.contract, b"validators")
    }

    /// Sets the verifier list.
    pub fn set_verifiers(&mut self, ids: &[u128]) -> Result<(), StorageError> {
        write_ids(self.state, self.contract, b"verifiers", ids)
    }

    /// Sets the validator list.
    pub fn set_validators(&mut self, ids: &[u128]) -> Result<(), StorageError> {
        write_ids(self.state, self.contract, b"validators", ids)
    }

    fn next_seq(&mut self) -> Result<u64, StorageError> {
        let seq = u64_value(get(self.state, self.contract, b"seq")?);
        let next = seq
            .checked_add(1)
            .ok_or_else(|| broken("staking sequence", "exhausted"))?;
        put(self.state, self.contract, b"seq", &next.to_be_bytes())?;
        Ok(seq)
    }

    /// Moves value between two accounts (refused, changing nothing, when `from` lacks it; nothing
    /// to do for zero).
    fn transfer(
        &mut self,
        from: Address,
        to: Address,
        amount: U256,
    ) -> Result<Result<(), String>, StorageError> {
        if amount.is_zero() {
            return Ok(Ok(()));
        }
        let mut a = self.state.account(&from)?;
        if a.balance < amount {
            return Ok(Err(format!(
                "insufficient balance: {} < {amount}",
                a.balance
            )));
        }
        a.balance -= amount;
        self.state.set_account(from, a);
        let mut b = self.state.account(&to)?;
        b.balance = add(b.balance, amount, "recipient balance")?;
        // A nonce keeps the contract's account non-empty.
        if to == self.contract && b.nonce == 0 {
            b.nonce = 1;
        }
        self.state.set_account(to, b);
        Ok(Ok(()))
    }

    /// A transfer the books say `from` can make: its refusal means they are broken.
    fn must_transfer(
        &mut self,
        from: Address,
        to: Address,
        amount: U256,
        what: &str,
    ) -> Result<(), StorageError> {
        self.transfer(from, to, amount)?
            .map_err(|why| broken(what, format!("{from} cannot pay {amount} to {to}: {why}")))
    }
}

/// The error of a ledger whose records contradict each other (a sum that overflows, a part larger
/// than its whole, a transfer the books say must succeed and does not): the block fails rather
/// than absorb the bad value.
fn broken(what: &str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        what: format!("staking ledger: {what}"),
        detail: detail.to_string(),
    }
}

/// `a + b`, or the ledger is broken.
fn add(a: U256, b: U256, what: &str) -> Result<U256, StorageError> {
    a.checked_add(b)
        .ok_or_else(|| broken(what, format!("{a} + {b} overflows")))
}

/// `a - b`, or the ledger is broken.
fn sub(a: U256, b: U256, what: &str) -> Result<U256, StorageError> {
    a.checked_sub(b)
        .ok_or_else(|| broken(what, format!("{a} - {b} is negative")))
}

/// What a staking function returns: output (RLP), or why it refused.
pub type Outcome = Result<Vec<u8>, String>;

/// Runs staking function `code` for `caller` at block `number`.
pub fn call(
    params: &StakingParams,
    ledger: &mut Ledger<'_>,
    caller: Address,
    number: u64,
    code: u16,
    args: &[Vec<u8>],
) -> Result<Outcome, StorageError> {
    let a = Args(args);
    macro_rules! tryarg {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(why) => return Ok(Err(why)),
            }
        };
    }
    match code {
        CREATE_STAKING => {
            // (benefit, nodeId, name, amount, rewardPer, blsKey, blsProof, vrfKey)
            tryarg!(a.count(8));
            let benefit = tryarg!(a.address(0, "benefit address"));
            let node_id = tryarg!(a.node_id(1));
            let name = tryarg!(a.bytes(2, "name"));
            let amount = tryarg!(a.u256(3, "amount"));
            let reward_per = tryarg!(a.u64(4, "reward per"));
            let bls = tryarg!(a.bytes(5, "bls key"));
            let pop = tryarg!(a.bytes(6, "bls proof"));
            let vrf = tryarg!(a.bytes(7, "vrf key"));
            let name =
                tryarg!(String::from_utf8(name).map_err(|_| "name is not UTF-8".to_string()));
            if name.len() > 64 {
                return Ok(Err("name longer than 64 bytes".into()));
            }
            if reward_per > 10_000 {
                return Ok(Err("reward per is in basis points, at most 10000".into()));
            }
            if amount < params.min_stake {
                return Ok(Err(format!("stake below the minimum {}", params.min_stake)));
            }
            let pk = tryarg!(BlsPublicKey::from_bytes(&bls).map_err(|e| format!("bls key: {e}")));
            let proof =
                tryarg!(BlsSignature::from_bytes(&pop).map_err(|e| format!("bls proof: {e}")));
            if !pk.verify_possession(&proof) {
                return Ok(Err("the BLS proof of possession does not verify".into()));
            }
            tryarg!(VrfPublicKey::from_bytes(&vrf).map_err(|e| e.to_string()));
            if ledger.candidate(node_id)?.is_some() {
                return Ok(Err("this node id is already a candidate".into()));
            }
            let used = ledger.by_bls_key(&bls)?.is_some();
            if used {
                return Ok(Err("this BLS key is already registered".into()));
            }
            tryarg!(ledger.transfer(caller, ledger.contract, amount)?);
            let seq = ledger.next_seq()?;
            let c = Candidate {
                node_id,
                staking_address: caller,
                benefit_address: benefit,
                bls_key: pk.to_bytes(),
                vrf_key: tryarg!(vrf
                    .try_into()
                    .map_err(|_| "a VRF key is 32 bytes".to_string())),
                reward_per: reward_per as u16,
                name,
                stake: U256::ZERO,
                stake_pending: amount,
                delegated: U256::ZERO,
                delegated_pending: U256::ZERO,
                staking_block: number,
                staking_seq: seq,
                status: Status::Active,
            };
            ledger.put_candidate(&c)?;
            Ok(Ok(Vec::new()))
        }
        EDIT_CANDIDATE => {
            // (benefit, nodeId, rewardPer, name)
            tryarg!(a.count(4));
            let benefit = tryarg!(a.address(0, "benefit address"));
            let node_id = tryarg!(a.node_id(1));
            let reward_per = tryarg!(a.u64(2, "reward per"));
            let name = tryarg!(String::from_utf8(tryarg!(a.bytes(3, "name")))
                .map_err(|_| "name is not UTF-8".to_string()));
            if reward_per > 10_000 || name.len() > 64 {
                return Ok(Err(
                    "reward per above 10000 or name longer than 64 bytes".into()
                ));
            }
            let mut c = tryarg!(owned(ledger, node_id, caller)?);
            c.benefit_address = benefit;
            c.reward_per = reward_per as u16;
            c.name = name;
            ledger.put_candidate(&c)?;
            Ok(Ok(Vec::new()))
        }
        INCREASE_STAKING => {
            // (nodeId, amount)
            tryarg!(a.count(2));
            let node_id = tryarg!(a.node_id(0));
            let amount = tryarg!(a.u256(1, "amount"));
            if amount.is_zero() {
                return Ok(Err("nothing to add".into()));
            }
            let mut c = tryarg!(owned(ledger, node_id, caller)?);
            tryarg!(ledger.transfer(caller, ledger.contract, amount)?);
            c.stake_pending = add(c.stake_pending, amount, "pending stake")?;
            ledger.put_candidate(&c)?;
            Ok(Ok(Vec::new()))
        }
        WITHDREW_STAKING => {
            // (nodeId): pending stake back now, the rest when the epoch settles.
            tryarg!(a.count(1));
            let node_id = tryarg!(a.node_id(0));
            let mut c = tryarg!(owned(ledger, node_id, caller)?);
            let back = c.stake_pending;
            c.stake_pending = U256::ZERO;
            c.status = Status::Withdrawn;
            tryarg!(ledger.transfer(ledger.contract, caller, back)?);
            ledger.put_candidate(&c)?;
            Ok(Ok(Vec::new()))
        }
        DELEGATE => {
            // (nodeId, amount)
            tryarg!(a.count(2));
            let node_id = tryarg!(a.node_id(0));
            let amount = tryarg!(a.u256(1, "amount"));
            if amount < params.min_delegation {
                return Ok(Err(format!(
                    "delegation below the minimum {}",
                    params.min_delegation
                )));
            }
            let Some(mut c) = ledger.candidate(node_id)? else {
                return Ok(Err("no such candidate".into()));
            };
            if c.status != Status::Active {
                return Ok(Err("the candidate is not active".into()));
            }
            if c.staking_address == caller {
                return Ok(Err(
                    "a candidate's staking address cannot delegate to it".into()
                ));
            }
            tryarg!(ledger.transfer(caller, ledger.contract, amount)?);
            let mut d = ledger.delegation(caller, node_id)?;
            ledger.accrue(node_id, &mut d)?;
            d.pending = add(d.pending, amount, "pending delegation")?;
            d.pending_epoch = ledger.epoch()?;
            c.delegated_pending = add(c.delegated_pending, amount, "pending delegations")?;
            ledger.put_delegation(caller, node_id, &d)?;
            ledger.put_candidate(&c)?;
            Ok(Ok(Vec::new()))
        }
        WITHDREW_DELEGATION => {
            // (nodeId, amount): pending first, then counting stake; paid back at once.
            tryarg!(a.count(2));
            let node_id = tryarg!(a.node_id(0));
            let amount = tryarg!(a.u256(1, "amount"));
            let mut d = ledger.delegation(caller, node_id)?;
            ledger.accrue(node_id, &mut d)?;
            if amount.is_zero() || add(d.amount, d.pending, "delegation")? < amount {
                return Ok(Err("more than is delegated".into()));
            }
            let Some(mut c) = ledger.candidate(node_id)? else {
                return Ok(Err("no such candidate".into()));
            };
            let from_pending = amount.min(d.pending);
            let from_active = amount - from_pending;
            d.pending -= from_pending;
            d.amount -= from_active;
            // A candidate's totals include each delegation's parts.
            c.delegated_pending = sub(c.delegated_pending, from_pending, "pending delegations")?;
            c.delegated = sub(c.delegated, from_active, "delegations")?;
            tryarg!(ledger.transfer(ledger.contract, caller, amount)?);
            ledger.put_delegation(caller, node_id, &d)?;
            ledger.put_candidate(&c)?;
            Ok(Ok(Vec::new()))
        }
        GET_CANDIDATE_LIST => {
            tryarg!(a.count(0));
            let mut items = Vec::new();
            for id in ledger.candidate_ids()? {
                if let Some(c) = ledger.candidate(id)? {
                    items.push(c.encode());
                }
            }
            Ok(Ok(encode_raw_list(&items)))
        }
        GET_CANDIDATE_INFO => {
            tryarg!(a.count(1));
            let id = tryarg!(a.node_id(0));
            match ledger.candidate(id)? {
                Some(c) => Ok(Ok(c.encode())),
                None => Ok(Err("no such candidate".into())),
            }
        }
        GET_DELEGATE_INFO => {
            tryarg!(a.count(2));
            let who = tryarg!(a.address(0, "delegator"));
            let id = tryarg!(a.node_id(1));
            Ok(Ok(ledger.delegation(who, id)?.encode()))
        }
        GET_VERIFIER_LIST | GET_VALIDATOR_LIST => {
            tryarg!(a.count(0));
            let ids = if code == GET_VERIFIER_LIST {
                ledger.verifiers()?
            } else {
                ledger.validators()?
            };
            let items: Vec<Vec<u8>> = ids
                .iter()
                .map(|i| alloy_rlp::encode(i.to_be_bytes().as_slice()))
                .collect();
            Ok(Ok(encode_raw_list(&items)))
        }
        other => Ok(Err(format!(
            "function {other} is not offered by the staking contract"
        ))),
    }
}

fn owned(
    ledger: &Ledger<'_>,
    node_id: u128,
    caller: Address,
) -> Result<Result<Candidate, String>, StorageError> {
    Ok(match ledger.candidate(node_id)? {
        None => Err("no such candidate".into()),
        Some(c) if c.staking_address != caller => {
            Err("only the candidate's staking address may do this".into())
        }
        Some(c) if c.status != Status::Active => Err("the candidate is not active".into()),
        Some(c) => Ok(c),
    })
}

/// Whether a function only reads.
pub fn is_query(code: u16) -> bool {
    code >= 1100
}

//! The staking contract through ordinary messages with PlatON's call encoding: a candidate stakes
//! with its BLS key (proof of possession checked) and VRF key, edits itself, adds stake, receives
//! and loses delegations and withdraws; the queries answer what was written; every refusal changes
//! nothing but the fee; and the total of all balances never changes beyond the fees paid.

use alloy_primitives::{Address, Bytes, B256, U256};
use platon_crypto::bls::BlsSecretKey;
use platon_crypto::vrf::VrfSecretKey;
use platon_messages::actors::BlockEnv;
use platon_messages::block::EMPTY_ROOT;
use platon_messages::rlp::Reader;
use platon_messages::TxKind;
use platon_storage::trie::NoNodes;
use platon_storage::{Account, StateDb};
use platon_vm::ppos::election::LAT;
use platon_vm::ppos::staking::{self, Candidate, Delegation, Status};
use platon_vm::system::{encode_call, STAKING};
use platon_vm::{ExecOptions, Message, NoHashes, Outcome, Runtime, SystemContext, SystemRuntime};
use std::sync::Arc;

const GWEI: u128 = 1_000_000_000;

fn lat(n: u64) -> U256 {
    U256::from(n) * U256::from(LAT)
}

struct World {
    state: StateDb,
    env: BlockEnv,
    rt: SystemRuntime,
    nonces: std::collections::HashMap<Address, u64>,
    fees: U256,
}

impl World {
    /// A world with its staking records in a snapshotdb overlay, as the node keeps them.
    fn new(accounts: &[Address]) -> Self {
        Self::new_in(accounts, true)
    }

    /// A world with the staking records in snapshotdb, or (`false`) in the staking contract's
    /// storage slots, the earlier design.
    fn new_in(accounts: &[Address], in_snapshot: bool) -> Self {
        let mut state = StateDb::at_root(EMPTY_ROOT, Arc::new(NoNodes));
        if in_snapshot {
            state = state.with_snapshot(Arc::new(platon_storage::snapshotdb::view::EmptySnapshot));
        }
        for a in accounts {
            state.set_account(
                *a,
                Account {
                    balance: lat(1_000_000),
                    ..Default::default()
                },
            );
        }
        World {
            state,
            env: BlockEnv {
                number: 7,
                timestamp: 1,
                beneficiary: Address::repeat_byte(0xcb),
                gas_limit: 30_000_000,
                base_fee: GWEI as u64,
                prev_randao: B256::ZERO,
                chain_id: 1,
            },
            rt: SystemRuntime::new(&platon_vm::Revm, SystemContext::default()),
            nonces: Default::default(),
            fees: U256::ZERO,
        }
    }

    fn send(&mut self, from: Address, code: u16, args: &[Vec<u8>]) -> Outcome {
        self.try_send(from, code, args).expect("exec")
    }

    /// [`World::send`] that hands back an execution error (a broken ledger fails the block).
    fn try_send(
        &mut self,
        from: Address,
        code: u16,
        args: &[Vec<u8>],
    ) -> Result<Outcome, platon_vm::ExecError> {
        let nonce = self.nonces.entry(from).or_insert(0);
        let m = Message {
            tx_type: 0,
            caller: from,
            kind: TxKind::Call(STAKING),
            value: U256::ZERO,
            data: Bytes::from(encode_call(code, args)),
            gas_limit: 300_000,
            gas_price: GWEI,
            priority_fee: None,
            nonce: Some(*nonce),
            chain_id: Some(1),
            access_list: vec![],
        };
        *nonce += 1;
        let out = self
            .rt
            .transact(
                &mut self.state,
                &NoHashes,
                &self.env,
                &m,
                ExecOptions::BLOCK,
            )?
            .expect("included");
        // Base fee burned plus the tip to the coinbase: all of gas × price leaves the sender.
        self.fees += U256::from(out.gas_used) * U256::from(GWEI);
        Ok(out)
    }

    fn query(&self, code: u16, args: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        let mut scratch = self.state.clone();
        let m = Message {
            tx_type: 0,
            caller: Address::ZERO,
            kind: TxKind::Call(STAKING),
            value: U256::ZERO,
            data: Bytes::from(encode_call(code, args)),
            gas_limit: 1_000_000,
            gas_price: 0,
            priority_fee: None,
            nonce: None,
            chain_id: None,
            access_list: vec![],
        };
        let out = self
            .rt
            .transact(
                &mut scratch,
                &NoHashes,
                &self.env,
                &m,
                ExecOptions {
                    check_nonce: false,
                    check_base_fee: false,
                    check_balance: false,
                    deadline: None,
                },
            )
            .expect("exec")
            .expect("included");
        if out.success() {
            Ok(out.output.to_vec())
        } else {
            Err(platon_vm::tracing::revert_reason(&out.output).unwrap_or_default())
        }
    }

    fn query_reward(&self, code: u16, args: &[Vec<u8>]) -> Vec<u8> {
        let mut scratch = self.state.clone();
        let m = Message {
            tx_type: 0,
            caller: Address::ZERO,
            kind: TxKind::Call(platon_vm::system::REWARD),
            value: U256::ZERO,
            data: Bytes::from(encode_call(code, args)),
            gas_limit: 1_000_000,
            gas_price: 0,
            priority_fee: None,
            nonce: None,
            chain_id: None,
            access_list: vec![],
        };
        let opts = ExecOptions {
            check_nonce: false,
            check_base_fee: false,
            check_balance: false,
            deadline: None,
        };
        let out = self
            .rt
            .transact(&mut scratch, &NoHashes, &self.env, &m, opts)
            .expect("exec")
            .expect("included");
        assert!(
            out.success(),
            "{:?}",
            platon_vm::tracing::revert_reason(&out.output)
        );
        out.output.to_vec()
    }

    fn candidate(&self, id: u128) -> Candidate {
        let out = self
            .query(staking::GET_CANDIDATE_INFO, &[enc_bytes(&id.to_be_bytes())])
            .expect("candidate");
        Candidate::decode(&out).expect("decode")
    }

    fn total(&self, accounts: &[Address]) -> U256 {
        accounts
            .iter()
            .chain([&STAKING, &self.env.beneficiary])
            .map(|a| self.state.account(a).expect("acct").balance)
            .fold(U256::ZERO, |x, y| x + y)
    }
}

fn enc_bytes(b: &[u8]) -> Vec<u8> {
    alloy_rlp::encode(b)
}

fn enc<T: alloy_rlp::Encodable>(v: T) -> Vec<u8> {
    alloy_rlp::encode(v)
}

/// `staker` stakes 100,000 LAT for candidate `id` (keys from `seed`, benefit to `benefit`); its
/// id as a call argument.
fn stake(w: &mut World, staker: Address, benefit: Address, id: u128, seed: u8) -> Vec<u8> {
    let bls = BlsSecretKey::from_ikm(&[seed; 32]).expect("bls");
    let vrf = VrfSecretKey::from_seed(&[seed; 32]).expect("vrf");
    assert!(w
        .send(
            staker,
            staking::CREATE_STAKING,
            &create_args(benefit, id, lat(100_000), &bls, &bls, &vrf)
        )
        .success());
    enc_bytes(&id.to_be_bytes())
}

fn create_args(
    benefit: Address,
    id: u128,
    amount: U256,
    bls: &BlsSecretKey,
    pop_of: &BlsSecretKey,
    vrf: &VrfSecretKey,
) -> Vec<Vec<u8>> {
    vec![
        enc(benefit),
        enc_bytes(&id.to_be_bytes()),
        enc_bytes(b"node one"),
        enc(amount),
        enc(5000u64),
        enc_bytes(&bls.public_key().to_bytes()),
        enc_bytes(&pop_of.prove_possession().to_bytes()),
        enc_bytes(&vrf.public_key().to_bytes()),
    ]
}

#[test]
fn candidates_stake_edit_delegate_and_withdraw_conserving_value() {
    let (staker, delegator, other) = (
        Address::repeat_byte(1),
        Address::repeat_byte(2),
        Address::repeat_byte(3),
    );
    let accounts = [staker, delegator, other];
    let mut w = World::new(&accounts);
    let supply = w.total(&accounts);
    let bls = BlsSecretKey::from_ikm(&[9; 32]).expect("bls");
    let vrf = VrfSecretKey::from_seed(&[4; 32]).expect("vrf");
    let id = 0xabcdu128;

    // Refusals: a proof of possession of another key, too little stake, a bad VRF key.
    let other_bls = BlsSecretKey::from_ikm(&[8; 32]).expect("bls");
    for (args, why) in [
        (
            create_args(staker, id, lat(200_000), &bls, &other_bls, &vrf),
            "proof of possession",
        ),
        (
            create_args(staker, id, lat(10), &bls, &bls, &vrf),
            "below the minimum",
        ),
        (
            {
                let mut a = create_args(staker, id, lat(200_000), &bls, &bls, &vrf);
                a[7] = enc_bytes(&[0xff; 32]);
                a
            },
            "vrf",
        ),
        (
            create_args(staker, id, lat(2_000_000), &bls, &bls, &vrf),
            "insufficient balance",
        ),
        (vec![enc(1u8)], "arguments given"),
    ] {
        let out = w.send(staker, staking::CREATE_STAKING, &args);
        assert!(!out.success(), "{why}");
        let reason = platon_vm::tracing::revert_reason(&out.output).unwrap_or_default();
        assert!(reason.contains(why), "{why}: {reason}");
    }
    assert!(w
        .query(staking::GET_CANDIDATE_INFO, &[enc_bytes(&id.to_be_bytes())])
        .is_err());

    // Stake: the amount moves to the contract, pending until the next epoch.
    let out = w.send(
        staker,
        staking::CREATE_STAKING,
        &create_args(other, id, lat(200_000), &bls, &bls, &vrf),
    );
    assert!(
        out.success(),
        "{:?}",
        platon_vm::tracing::revert_reason(&out.output)
    );
    let c = w.candidate(id);
    assert_eq!(c.stake_pending, lat(200_000));
    assert_eq!(c.stake, U256::ZERO);
    assert_eq!(c.staking_address, staker);
    assert_eq!(c.benefit_address, other);
    assert_eq!(c.bls_key, bls.public_key().to_bytes());
    assert_eq!(c.vrf_key, vrf.public_key().to_bytes());
    assert_eq!(c.status, Status::Active);
    assert_eq!(w.state.account(&STAKING).expect("a").balance, lat(200_000));
    // Twice: refused, as is the same BLS key under another node id.
    let again = w.send(
        staker,
        staking::CREATE_STAKING,
        &create_args(other, id, lat(200_000), &bls, &bls, &vrf),
    );
    assert!(!again.success());
    let dup_key = w.send(
        other,
        staking::CREATE_STAKING,
        &create_args(other, id + 1, lat(200_000), &bls, &bls, &vrf),
    );
    assert!(!dup_key.success());

    // Edit and increase: only the staking address may.
    let edit = vec![
        enc(staker),
        enc_bytes(&id.to_be_bytes()),
        enc(8000u64),
        enc_bytes(b"renamed"),
    ];
    assert!(!w.send(delegator, staking::EDIT_CANDIDATE, &edit).success());
    assert!(w.send(staker, staking::EDIT_CANDIDATE, &edit).success());
    let inc = vec![enc_bytes(&id.to_be_bytes()), enc(lat(50_000))];
    assert!(!w.send(delegator, staking::INCREASE_STAKING, &inc).success());
    assert!(w.send(staker, staking::INCREASE_STAKING, &inc).success());
    let c = w.candidate(id);
    assert_eq!((c.reward_per, c.name.as_str()), (8000, "renamed"));
    assert_eq!(c.benefit_address, staker);
    assert_eq!(c.stake_pending, lat(250_000));

    // Delegate, partly withdraw; the staker may not delegate to itself; minimum enforced.
    let del = |n: u64| vec![enc_bytes(&id.to_be_bytes()), enc(lat(n))];
    assert!(!w.send(staker, staking::DELEGATE, &del(100)).success());
    assert!(!w.send(delegator, staking::DELEGATE, &del(1)).success());
    assert!(w.send(delegator, staking::DELEGATE, &del(300)).success());
    assert!(!w
        .send(delegator, staking::WITHDREW_DELEGATION, &del(301))
        .success());
    assert!(w
        .send(delegator, staking::WITHDREW_DELEGATION, &del(120))
        .success());
    let info = w
        .query(
            staking::GET_DELEGATE_INFO,
            &[enc(delegator), enc_bytes(&id.to_be_bytes())],
        )
        .expect("info");
    assert_eq!(
        Delegation::decode(&info).expect("d"),
        Delegation {
            amount: U256::ZERO,
            pending: lat(180),
            pending_epoch: 0,
            reward_snapshot: U256::ZERO,
            unclaimed: U256::ZERO,
        }
    );
    assert_eq!(w.candidate(id).delegated_pending, lat(180));

    // The candidate list answers it; the verifier and validator lists are empty before any epoch.
    let list = w.query(staking::GET_CANDIDATE_LIST, &[]).expect("list");
    let mut r = Reader::new(&list);
    let mut items = r.list().expect("list");
    let first = items.raw().expect("item");
    assert_eq!(Candidate::decode(first).expect("c").node_id, id);
    assert!(items.is_empty());
    assert_eq!(
        w.query(staking::GET_VERIFIER_LIST, &[]).expect("v"),
        vec![0xc0]
    );

    // Withdraw: the pending stake returns at once; the candidate is no longer active.
    let before = w.state.account(&staker).expect("a").balance;
    let out = w.send(
        staker,
        staking::WITHDREW_STAKING,
        &[enc_bytes(&id.to_be_bytes())],
    );
    assert!(out.success());
    let after = w.state.account(&staker).expect("a").balance;
    assert_eq!(
        after + U256::from(out.gas_used) * U256::from(GWEI),
        before + lat(250_000)
    );
    assert_eq!(w.candidate(id).status, Status::Withdrawn);
    assert!(!w.send(delegator, staking::DELEGATE, &del(50)).success());

    // Nothing created or destroyed: balances (the contract's included) plus fees paid.
    let burned = w.fees - w.state.account(&w.env.beneficiary).expect("cb").balance;
    assert_eq!(w.total(&accounts) + burned, supply);
}

#[test]
fn epochs_activate_stake_elect_verifiers_rotate_validators_and_slash_exactly() {
    use platon_vm::ppos::staking::{Ledger, StakingParams};
    let stakers: Vec<Address> = (1..=6u8).map(Address::repeat_byte).collect();
    let delegator = Address::repeat_byte(0x77);
    let (reporter, pool) = (Address::repeat_byte(0xee), Address::repeat_byte(0xab));
    let mut accounts = stakers.clone();
    accounts.extend([delegator, reporter, pool]);
    let mut w = World::new(&accounts);
    let supply = w.total(&accounts);
    let keys: Vec<BlsSecretKey> = (0..6u8)
        .map(|i| BlsSecretKey::from_ikm(&[i + 20; 32]).expect("bls"))
        .collect();
    for (i, s) in stakers.iter().enumerate() {
        let vrf = VrfSecretKey::from_seed(&[i as u8 + 1; 32]).expect("vrf");
        let amount = lat(100_000 + 10_000 * i as u64);
        let out = w.send(
            *s,
            staking::CREATE_STAKING,
            &create_args(*s, i as u128 + 1, amount, &keys[i], &keys[i], &vrf),
        );
        assert!(
            out.success(),
            "{:?}",
            platon_vm::tracing::revert_reason(&out.output)
        );
    }
    // A delegation lifts candidate 1 to the top from the next epoch on.
    assert!(w
        .send(
            delegator,
            staking::DELEGATE,
            &[enc_bytes(&1u128.to_be_bytes()), enc(lat(90_000))]
        )
        .success());
    let params = StakingParams::default();
    let mut ledger = Ledger {
        state: &mut w.state,
        contract: STAKING,
    };
    assert_eq!(ledger.verifiers().expect("v"), Vec::<u128>::new());
    let verifiers = ledger.settle_epoch(&params, 5).expect("settle");
    // Ranked by stake: 1 (100k + 90k delegated), then 6, 5, 4, 3; 2 is sixth and out.
    assert_eq!(verifiers, vec![1, 6, 5, 4, 3]);
    assert_eq!(ledger.epoch().expect("e"), 1);
    let c1 = ledger.candidate(1).expect("c").expect("c");
    assert_eq!((c1.stake, c1.delegated), (lat(100_000), lat(90_000)));
    assert_eq!(c1.stake_pending, U256::ZERO);
    let d = ledger.delegation(delegator, 1).expect("d");
    assert_eq!(
        (d.amount, d.pending),
        (lat(90_000), U256::ZERO),
        "settled lazily"
    );

    // Rounds: 4 seats from the 5 verifiers; the first fills, later ones change at most one seat.
    let first = ledger.elect_round(4, B256::repeat_byte(1)).expect("round");
    assert_eq!(first.len(), 4);
    let mut prev = first;
    for r in 2..40u8 {
        let next = ledger.elect_round(4, B256::repeat_byte(r)).expect("round");
        assert!(next.iter().filter(|v| !prev.contains(v)).count() <= 1);
        prev = next;
    }

    // Slash candidate 6 (found by its BLS key): 0.1 % of its own stake, half to the reporter.
    let stake6 = ledger.candidate(6).expect("c").expect("c").stake;
    let p = ledger
        .slash(&keys[5].public_key().to_bytes(), 10, 5000, reporter, pool)
        .expect("slash")
        .expect("found");
    assert_eq!(p.total, stake6 / U256::from(1000u64));
    assert_eq!(p.reporter + p.pool, p.total);
    let c6 = ledger.candidate(6).expect("c").expect("c");
    assert_eq!(c6.stake, stake6 - p.total);
    assert_eq!(c6.status, Status::Slashed);
    assert!(!ledger.verifiers().expect("v").contains(&6));
    assert!(!ledger.validators().expect("v").contains(&6));
    assert!(ledger
        .slash(&[0u8; 48], 10, 5000, reporter, pool)
        .expect("slash")
        .is_none());
    // The next epoch: the slashed candidate gets its remaining stake back and is gone; 2 moves up.
    let verifiers = ledger.settle_epoch(&params, 5).expect("settle");
    assert_eq!(verifiers, vec![1, 5, 4, 3, 2]);
    assert!(ledger.candidate(6).expect("c").is_none());
    assert_eq!(
        w.state.account(&reporter).expect("r").balance,
        lat(1_000_000) + p.reporter
    );
    assert_eq!(
        w.state.account(&pool).expect("p").balance,
        lat(1_000_000) + p.pool
    );
    let burned = w.fees - w.state.account(&w.env.beneficiary).expect("cb").balance;
    assert_eq!(
        w.total(&accounts) + burned,
        supply,
        "no value created or destroyed"
    );
}

#[test]
fn a_reported_double_sign_slashes_the_staked_candidate() {
    report_case(false);
}

/// With rotating rounds the report is checked against the evidence's round set, as the chain
/// recorded it (not the configured validators, of which there are none here).
#[test]
fn a_double_sign_in_a_rotating_round_is_checked_against_that_rounds_set() {
    report_case(true);
}

fn report_case(rotating: bool) {
    use platon_messages::cbft::{Evidence, Vote, VoteData};
    use platon_vm::system::{self, REWARD_POOL, SLASHING};
    let (staker, reporter) = (Address::repeat_byte(1), Address::repeat_byte(0xee));
    let accounts = [staker, reporter, REWARD_POOL];
    let mut w = World::new(&accounts);
    let supply = w.total(&accounts);
    let bls = BlsSecretKey::from_ikm(&[31; 32]).expect("bls");
    w.rt = SystemRuntime::new(
        &platon_vm::Revm,
        if rotating {
            SystemContext {
                schedule: Some(platon_vm::system::Schedule {
                    round_blocks: 10,
                    epoch_rounds: 5,
                    seats: 1,
                    max_verifiers: 10,
                    block_reward: U256::ZERO,
                    staking_reward: U256::ZERO,
                    idle_penalty: U256::ZERO,
                    election_distance: 2,
                }),
                ..Default::default()
            }
        } else {
            SystemContext {
                validators: Arc::new(vec![bls.public_key()]),
                epoch: 1,
                ..Default::default()
            }
        },
    );
    let vrf = VrfSecretKey::from_seed(&[5; 32]).expect("vrf");
    let out = w.send(
        staker,
        staking::CREATE_STAKING,
        &create_args(staker, 9, lat(200_000), &bls, &bls, &vrf),
    );
    assert!(out.success());
    if rotating {
        // Round 1's consensus set: the candidate, as validator 0 (block 7 is in round 1).
        platon_vm::ppos::staking::Ledger {
            state: &mut w.state,
            contract: platon_vm::system::STAKING,
        }
        .set_round_set(1, &[9])
        .expect("round set");
    }
    let vote = |h: u8| {
        let data = VoteData {
            epoch: 1,
            view: 3,
            index: 0,
            number: 30,
            hash: B256::repeat_byte(h),
        };
        Vote {
            data,
            validator: 0,
            signature: bls.sign(data.signing_hash().as_slice()).to_bytes().to_vec(),
        }
    };
    let e = Evidence::DuplicateVote(vote(1), vote(2));
    let nonce = *w.nonces.entry(reporter).or_insert(0);
    let m = Message {
        tx_type: 0,
        caller: reporter,
        kind: TxKind::Call(SLASHING),
        value: U256::ZERO,
        data: Bytes::from(system::report_call(&e)),
        gas_limit: 300_000,
        gas_price: GWEI,
        priority_fee: None,
        nonce: Some(nonce),
        chain_id: Some(1),
        access_list: vec![],
    };
    let out =
        w.rt.transact(&mut w.state, &NoHashes, &w.env, &m, ExecOptions::BLOCK)
            .expect("exec")
            .expect("included");
    assert!(
        out.success(),
        "{:?}",
        platon_vm::tracing::revert_reason(&out.output)
    );
    w.fees += U256::from(out.gas_used) * U256::from(GWEI);
    // 0.1 % of 200,000 LAT = 200 LAT: 100 to the reporter, 100 to the pool; the candidate is out.
    let penalty = Reader::new(&out.output).u256("penalty").expect("u256");
    assert_eq!(penalty, lat(200));
    let c = w.candidate(9);
    assert_eq!(c.status, Status::Slashed);
    assert_eq!(c.stake_pending, lat(199_800));
    assert_eq!(
        w.state.account(&reporter).expect("r").balance,
        lat(1_000_000) + lat(100) - U256::from(out.gas_used) * U256::from(GWEI)
    );
    assert_eq!(
        w.state.account(&REWARD_POOL).expect("p").balance,
        lat(1_000_100)
    );
    let burned = w.fees - w.state.account(&w.env.beneficiary).expect("cb").balance;
    assert_eq!(w.total(&accounts) + burned, supply);
}

fn reward_call(w: &mut World, from: Address, code: u16, args: &[Vec<u8>]) -> Outcome {
    use platon_vm::system::REWARD;
    let nonce = w.nonces.entry(from).or_insert(0);
    let m = Message {
        tx_type: 0,
        caller: from,
        kind: TxKind::Call(REWARD),
        value: U256::ZERO,
        data: Bytes::from(encode_call(code, args)),
        gas_limit: 300_000,
        gas_price: GWEI,
        priority_fee: None,
        nonce: Some(*nonce),
        chain_id: Some(1),
        access_list: vec![],
    };
    *nonce += 1;
    let out =
        w.rt.transact(&mut w.state, &NoHashes, &w.env, &m, ExecOptions::BLOCK)
            .expect("exec")
            .expect("included");
    w.fees += U256::from(out.gas_used) * U256::from(GWEI);
    out
}

#[test]
fn epoch_rewards_are_shared_exactly_with_delegators_and_withdrawn() {
    use platon_vm::ppos::staking::{Ledger, StakingParams};
    use platon_vm::system::{GET_DELEGATE_REWARD, REWARD, REWARD_POOL, WITHDRAW_DELEGATE_REWARD};
    let (staker, benefit) = (Address::repeat_byte(1), Address::repeat_byte(0xbe));
    let (d1, d2) = (Address::repeat_byte(0xd1), Address::repeat_byte(0xd2));
    let accounts = [staker, benefit, d1, d2, REWARD_POOL, REWARD];
    let mut w = World::new(&accounts);
    let id = stake(&mut w, staker, benefit, 5, 41);
    assert!(w
        .send(d1, staking::DELEGATE, &[id.clone(), enc(lat(100))])
        .success());
    assert!(w
        .send(d2, staking::DELEGATE, &[id.clone(), enc(lat(300))])
        .success());
    let params = StakingParams::default();
    let produced = std::collections::BTreeMap::from([(5u128, 10u64)]);
    {
        let mut l = Ledger {
            state: &mut w.state,
            contract: STAKING,
        };
        l.settle_epoch(&params, 10).expect("settle");
        // 1,000 LAT staking reward and 10 blocks at 1 LAT: 1,010 LAT, 50 % to the delegators.
        let paid = l
            .pay_epoch(REWARD_POOL, REWARD, lat(1000), lat(1), &produced)
            .expect("pay");
        assert_eq!(paid, lat(1010));
    }
    assert_eq!(
        w.state.account(&benefit).expect("b").balance,
        lat(1_000_000) + lat(505)
    );
    // 505 LAT over 400 delegated: 126.25 and 378.75 LAT.
    let quarter = U256::from(LAT / 4);
    let out = w.query_reward(GET_DELEGATE_REWARD, &[enc(d1)]);
    let mut r = Reader::new(&out);
    let mut items = r.list().expect("list");
    let mut item = items.list().expect("item");
    assert_eq!(item.bytes().expect("id"), 5u128.to_be_bytes());
    assert_eq!(item.u256("unclaimed").expect("u"), lat(126) + quarter);
    for (who, want) in [
        (d1, lat(126) + quarter),
        (d2, lat(378) + quarter * U256::from(3u8)),
    ] {
        let before = w.state.account(&who).expect("a").balance;
        let out = reward_call(&mut w, who, WITHDRAW_DELEGATE_REWARD, &[]);
        assert!(out.success());
        let after = w.state.account(&who).expect("a").balance;
        assert_eq!(
            after + U256::from(out.gas_used) * U256::from(GWEI),
            before + want
        );
        // Nothing more to withdraw.
        let out = reward_call(&mut w, who, WITHDRAW_DELEGATE_REWARD, &[]);
        assert_eq!(
            Reader::new(&out.output).u256("paid").expect("u"),
            U256::ZERO
        );
    }
    assert_eq!(w.state.account(&REWARD).expect("r").balance, lat(1_000_000));
}

/// Value is conserved across random staking sequences that include refusals (withdrawing more than
/// is delegated, delegating to a withdrawn or slashed candidate, unknown candidates), withdrawals,
/// idle penalties and slashes at random epochs: over `PLATON_STAKING_SEEDS` seeds (default 8), with
/// the staking records in snapshotdb and, side by side, in the trie (the earlier design), which must
/// end alike.
#[test]
fn total_supply_is_unchanged_by_every_epoch_of_random_staking() {
    let seeds: u64 = std::env::var("PLATON_STAKING_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    for seed in 0..seeds {
        let snapshotdb = random_staking_conserves_value(seed, true);
        // The earlier design side by side: the same refusals, balances, candidates and delegations.
        let trie = random_staking_conserves_value(seed, false);
        assert_eq!(snapshotdb, trie, "seed {seed}: the two designs disagree");
    }
}

/// What a random staking run leaves: every account's balance, every candidate record and every
/// holder's delegations.
type RandomRunEnd = (
    Vec<U256>,
    Vec<Option<Candidate>>,
    Vec<Vec<(u128, platon_vm::ppos::staking::Delegation)>>,
);

fn random_staking_conserves_value(seed: u64, in_snapshot: bool) -> RandomRunEnd {
    use platon_vm::ppos::staking::{Ledger, StakingParams};
    use platon_vm::system::{REWARD, REWARD_POOL, WITHDRAW_DELEGATE_REWARD};
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(77 + seed);
    let stakers: Vec<Address> = (1..=6u8).map(Address::repeat_byte).collect();
    let holders: Vec<Address> = (0x41..=0x45u8).map(Address::repeat_byte).collect();
    let mut accounts = stakers.clone();
    accounts.extend(holders.iter().copied());
    accounts.extend([REWARD_POOL, REWARD]);
    let mut w = World::new_in(&accounts, in_snapshot);
    let supply = w.total(&accounts);
    for (i, s) in stakers.iter().enumerate() {
        let bls = BlsSecretKey::from_ikm(&[i as u8 + 50; 32]).expect("bls");
        let vrf = VrfSecretKey::from_seed(&[i as u8 + 50; 32]).expect("vrf");
        let mut args = create_args(
            *s,
            i as u128 + 1,
            lat(100_000 + rng.gen_range(0..50_000)),
            &bls,
            &bls,
            &vrf,
        );
        args[4] = enc(rng.gen_range(0..=10_000u64));
        assert!(w.send(*s, staking::CREATE_STAKING, &args).success());
    }
    let params = StakingParams::default();
    let mut paid_total = U256::ZERO;
    let (mut succeeded, mut refused) = (0, 0);
    let epochs = 25u64;
    for epoch in 0..epochs {
        for _ in 0..12 {
            let h = holders[rng.gen_range(0..holders.len())];
            // Candidate 7 does not exist.
            let id = enc_bytes(&(rng.gen_range(1..=7u128)).to_be_bytes());
            // Odd amounts (in von) so every division leaves a remainder.
            let amount =
                enc(lat(rng.gen_range(10..5_000)) + U256::from(rng.gen_range(1..1_000_000u64)));
            let cb = |w: &World| w.state.account(&w.env.beneficiary).expect("cb").balance;
            let (before, cb_before, fees_before) = (w.total(&accounts), cb(&w), w.fees);
            let out = match rng.gen_range(0..12) {
                0..=3 => w.send(h, staking::DELEGATE, &[id, amount]),
                4..=6 => w.send(h, staking::WITHDREW_DELEGATION, &[id, amount]),
                7 | 8 => reward_call(&mut w, h, WITHDRAW_DELEGATE_REWARD, &[]),
                9 => {
                    let s = stakers[rng.gen_range(0..stakers.len())];
                    w.send(s, staking::WITHDREW_STAKING, &[id])
                }
                _ => {
                    let s = stakers[rng.gen_range(0..stakers.len())];
                    w.send(s, staking::INCREASE_STAKING, &[id, amount])
                }
            };
            if out.success() {
                succeeded += 1;
            } else {
                refused += 1;
                // A refusal moves nothing but its fee (the tip to the coinbase, the rest burned).
                let burned = (w.fees - fees_before) - (cb(&w) - cb_before);
                assert_eq!(
                    w.total(&accounts) + burned,
                    before,
                    "seed {seed} epoch {epoch}: a refusal moved value"
                );
            }
        }
        {
            let mut l = Ledger {
                state: &mut w.state,
                contract: STAKING,
            };
            let produced: std::collections::BTreeMap<u128, u64> =
                (1..=6u128).map(|i| (i, rng.gen_range(0..20))).collect();
            paid_total += l
                .pay_epoch(
                    REWARD_POOL,
                    REWARD,
                    lat(777) + U256::from(13u8),
                    lat(3) + U256::from(7u8),
                    &produced,
                )
                .expect("pay");
            if rng.gen_range(0..6) == 0 {
                let idle = rng.gen_range(1..=6u128);
                l.penalize_idle(&[idle], lat(500), REWARD_POOL)
                    .expect("idle");
            }
            if rng.gen_range(0..8) == 0 {
                let who = rng.gen_range(0..6u8);
                let bls = BlsSecretKey::from_ikm(&[who + 50; 32]).expect("bls");
                l.slash(
                    &bls.public_key().to_bytes(),
                    10,
                    5000,
                    holders[0],
                    REWARD_POOL,
                )
                .expect("slash");
            }
            l.settle_epoch(&params, 5).expect("settle");
            l.elect_round(4, B256::repeat_byte(epoch as u8))
                .expect("elect");
        }
        let burned = w.fees - w.state.account(&w.env.beneficiary).expect("cb").balance;
        assert_eq!(
            w.total(&accounts) + burned,
            supply,
            "seed {seed} epoch {epoch}: supply unchanged"
        );
    }
    assert!(
        paid_total > lat(1_000),
        "seed {seed}: rewards were paid: {paid_total}"
    );
    assert!(
        succeeded > 60 && refused > 20,
        "seed {seed}: {succeeded} operations went through, {refused} were refused"
    );
    // Every holder withdraws: the reward contract keeps only rounding dust (less than a von per
    // delegation and epoch).
    for h in &holders {
        reward_call(&mut w, *h, WITHDRAW_DELEGATE_REWARD, &[]);
    }
    let dust = w.state.account(&REWARD).expect("r").balance - lat(1_000_000);
    assert!(dust < U256::from(1000u64), "seed {seed}: dust {dust}");
    let burned = w.fees - w.state.account(&w.env.beneficiary).expect("cb").balance;
    assert_eq!(w.total(&accounts) + burned, supply);
    let balances = accounts
        .iter()
        .chain([&STAKING])
        .map(|a| w.state.account(a).expect("acct").balance)
        .collect();
    let l = Ledger {
        state: &mut w.state,
        contract: STAKING,
    };
    let candidates = (1..=6u128)
        .map(|i| l.candidate(i).expect("candidate"))
        .collect();
    let delegations = holders
        .iter()
        .map(|h| l.delegations_of(*h).expect("delegations"))
        .collect();
    (balances, candidates, delegations)
}

/// Random and mutated call data to every system contract never panics, and a refused call changes
/// nothing but the sender's nonce and fee (`PLATON_SYSTEM_FUZZ_CASES=N` for longer runs).
#[test]
fn system_contracts_survive_random_and_mutated_calls() {
    use platon_vm::system::{REWARD, SLASHING};
    use rand::{Rng, SeedableRng};
    let staker = Address::repeat_byte(1);
    let mut w = World::new(&[staker]);
    let bls = BlsSecretKey::from_ikm(&[61; 32]).expect("bls");
    let vrf = VrfSecretKey::from_seed(&[61; 32]).expect("vrf");
    let valid: Vec<(Address, Vec<u8>)> = vec![
        (
            STAKING,
            encode_call(
                staking::CREATE_STAKING,
                &create_args(staker, 3, lat(100_000), &bls, &bls, &vrf),
            ),
        ),
        (
            STAKING,
            encode_call(
                staking::DELEGATE,
                &[enc_bytes(&3u128.to_be_bytes()), enc(lat(20))],
            ),
        ),
        (STAKING, encode_call(staking::GET_CANDIDATE_LIST, &[])),
        (REWARD, encode_call(5000, &[])),
        (
            SLASHING,
            encode_call(
                3001,
                &[enc(2u8), enc(1u32), enc(1u64), enc(2u64), enc(0u32)],
            ),
        ),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let cases: usize = std::env::var("PLATON_SYSTEM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut ok = 0;
    for case in 0..cases {
        let (to, mut data) = valid[case % valid.len()].clone();
        if case % 5 == 0 {
            data = (0..rng.gen_range(0..300)).map(|_| rng.gen()).collect();
        }
        for _ in 0..rng.gen_range(1..6) {
            if data.is_empty() {
                break;
            }
            let i = rng.gen_range(0..data.len());
            match rng.gen_range(0..4) {
                0 => data[i] ^= 1 << rng.gen_range(0..8),
                1 => data[i] = rng.gen(),
                2 => data.truncate(i),
                _ => data.insert(i, rng.gen()),
            }
        }
        let before = w.state.clone();
        let m = Message {
            tx_type: 0,
            caller: staker,
            kind: TxKind::Call(to),
            value: U256::ZERO,
            data: Bytes::from(data),
            gas_limit: 400_000,
            gas_price: GWEI,
            priority_fee: None,
            nonce: None,
            chain_id: Some(1),
            access_list: vec![],
        };
        let out =
            w.rt.transact(
                &mut w.state,
                &NoHashes,
                &w.env,
                &m,
                ExecOptions {
                    check_nonce: false,
                    ..ExecOptions::BLOCK
                },
            )
            .expect("no storage error")
            .expect("included");
        if out.success() {
            ok += 1;
        } else {
            // Refused: only the sender's account (nonce, fee) and the coinbase may differ.
            for a in [STAKING, REWARD, SLASHING] {
                assert_eq!(
                    w.state.account(&a).expect("a"),
                    before.account(&a).expect("a")
                );
            }
            assert_eq!(
                w.state.dirty_storage(),
                before.dirty_storage(),
                "no storage written"
            );
        }
        w.state = before;
    }
    println!("{cases} calls, {ok} succeeded");
}

/// Rewards owed but not held by the reward contract: the withdrawal is refused and the rewards stay
/// owed (they were zeroed and lost before), and once the contract holds them they are paid in full.
#[test]
fn withdrawing_rewards_the_reward_contract_does_not_hold_is_refused_and_keeps_them() {
    use platon_vm::ppos::staking::{Ledger, StakingParams};
    use platon_vm::system::{GET_DELEGATE_REWARD, REWARD, REWARD_POOL, WITHDRAW_DELEGATE_REWARD};
    let (staker, d1) = (Address::repeat_byte(1), Address::repeat_byte(0xd1));
    let accounts = [staker, d1, REWARD_POOL, REWARD];
    let mut w = World::new(&accounts);
    let id = stake(&mut w, staker, staker, 5, 43);
    assert!(w
        .send(d1, staking::DELEGATE, &[id, enc(lat(100))])
        .success());
    {
        let mut l = Ledger {
            state: &mut w.state,
            contract: STAKING,
        };
        l.settle_epoch(&StakingParams::default(), 10)
            .expect("settle");
        l.pay_epoch(
            REWARD_POOL,
            REWARD,
            lat(1000),
            U256::ZERO,
            &Default::default(),
        )
        .expect("pay");
    }
    let owed = |w: &World| {
        let out = w.query_reward(GET_DELEGATE_REWARD, &[enc(d1)]);
        let mut r = Reader::new(&out);
        let mut items = r.list().expect("list");
        let mut item = items.list().expect("item");
        item.bytes().expect("id");
        item.u256("unclaimed").expect("u")
    };
    let due = owed(&w);
    assert_eq!(due, lat(500), "half of the 1,000 LAT to the one delegator");
    // The reward contract loses what it holds (as a broken chain would).
    let mut acc = w.state.account(&REWARD).expect("r");
    let held = acc.balance;
    acc.balance = lat(10);
    w.state.set_account(REWARD, acc.clone());
    let before = w.state.account(&d1).expect("d1").balance;
    let out = reward_call(&mut w, d1, WITHDRAW_DELEGATE_REWARD, &[]);
    assert!(!out.success(), "refused");
    let why = platon_vm::tracing::revert_reason(&out.output).unwrap_or_default();
    assert!(why.contains("less than"), "{why}");
    assert_eq!(owed(&w), due, "the rewards are still owed");
    let fee = U256::from(out.gas_used) * U256::from(GWEI);
    assert_eq!(w.state.account(&d1).expect("d1").balance, before - fee);
    // Funded again: paid in full.
    acc.balance = held;
    w.state.set_account(REWARD, acc);
    let out = reward_call(&mut w, d1, WITHDRAW_DELEGATE_REWARD, &[]);
    assert!(out.success());
    let fee2 = U256::from(out.gas_used) * U256::from(GWEI);
    assert_eq!(
        w.state.account(&d1).expect("d1").balance,
        before - fee - fee2 + due
    );
    assert_eq!(owed(&w), U256::ZERO);
}

/// Records that contradict each other fail the operation with a clear error instead of being
/// absorbed: a delegation's reward snapshot above its candidate's accumulator, and a candidate
/// whose delegated total is below one of its delegations.
#[test]
fn contradictory_staking_records_fail_loudly() {
    use platon_vm::ppos::staking::{Ledger, StakingParams};
    let (staker, d1) = (Address::repeat_byte(1), Address::repeat_byte(0xd1));
    let mut w = World::new(&[staker, d1]);
    let id = stake(&mut w, staker, staker, 5, 44);
    assert!(w
        .send(d1, staking::DELEGATE, &[id.clone(), enc(lat(100))])
        .success());
    let clean = w.state.clone();

    // A snapshot above the accumulator: accrual refuses to invent or hide a negative gain.
    {
        let mut l = Ledger {
            state: &mut w.state,
            contract: STAKING,
        };
        let mut d: Delegation = l.delegation(d1, 5).expect("delegation");
        d.reward_snapshot = U256::from(1u8);
        l.put_delegation(d1, 5, &d).expect("put");
        let err = l
            .settle_epoch(&StakingParams::default(), 10)
            .expect_err("a broken snapshot must fail");
        assert!(
            err.to_string()
                .contains("reward accumulator below a snapshot"),
            "{err}"
        );
    }

    // The candidate's delegated total below the delegation: withdrawing it fails the block's
    // execution (an error, not a revert that would hide it, and not a saturated zero).
    w.state = clean;
    {
        let mut l = Ledger {
            state: &mut w.state,
            contract: STAKING,
        };
        let mut c = l.candidate(5).expect("read").expect("candidate");
        c.delegated_pending = lat(1);
        l.put_candidate(&c).expect("put");
    }
    let err = w
        .try_send(d1, staking::WITHDREW_DELEGATION, &[id, enc(lat(100))])
        .expect_err("a broken candidate total must fail execution");
    assert!(err.to_string().contains("pending delegations"), "{err}");
}

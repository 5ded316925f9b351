//! Accounts in the secure state trie (keys are keccak256 of the address), with a write overlay that
//! is folded into the trie on [`StateDb::commit`].

use crate::trie::{NodeReader, Trie};
use crate::{Result, StorageError};
use alloy_primitives::{keccak256, Address, B256, U256};
use platon_messages::block::EMPTY_ROOT;
use platon_messages::rlp::{encode_list, Reader};
use std::collections::BTreeMap;
use std::sync::Arc;

/// keccak256 of empty code.
pub const EMPTY_CODE_HASH: B256 =
    alloy_primitives::b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// An Ethereum account as the state trie stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Transactions sent (or contracts created).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Root of the account's storage trie.
    pub storage_root: B256,
    /// keccak256 of the account's code.
    pub code_hash: B256,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            nonce: 0,
            balance: U256::ZERO,
            storage_root: EMPTY_ROOT,
            code_hash: EMPTY_CODE_HASH,
        }
    }
}

impl Account {
    /// RLP([nonce, balance, storageRoot, codeHash]).
    pub fn encode(&self) -> Vec<u8> {
        encode_list(&[
            &self.nonce,
            &self.balance,
            &self.storage_root,
            &self.code_hash,
        ])
    }

    /// Strict decoding.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = |e: platon_messages::rlp::RlpError| StorageError::Corrupt {
            what: "account".into(),
            detail: e.to_string(),
        };
        let mut outer = Reader::new(bytes);
        let mut r = outer.list().map_err(corrupt)?;
        let a = Account {
            nonce: r.u64("nonce").map_err(corrupt)?,
            balance: r.u256("balance").map_err(corrupt)?,
            storage_root: r.fixed::<32>("storageRoot").map_err(corrupt)?.into(),
            code_hash: r.fixed::<32>("codeHash").map_err(corrupt)?.into(),
        };
        r.finish().map_err(corrupt)?;
        outer.finish().map_err(corrupt)?;
        Ok(a)
    }

    /// True for an account EIP-161 would delete (no nonce, balance or code).
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == EMPTY_CODE_HASH
    }

    /// True when the account has code.
    pub fn has_code(&self) -> bool {
        self.code_hash != EMPTY_CODE_HASH
    }
}

/// The world state at one root, with pending account changes.
#[derive(Debug, Clone)]
pub struct StateDb {
    trie: Trie,
    dirty: BTreeMap<Address, Account>,
    dirty_storage: BTreeMap<Address, BTreeMap<B256, U256>>,
    /// Accounts whose storage was cleared (self-destructed or created anew) since the last commit.
    wiped: std::collections::BTreeSet<Address>,
    new_code: BTreeMap<B256, Vec<u8>>,
    /// Values read from the committed tries since the last commit.
    reads: ReadCache,
    /// snapshotdb as this state's block sees it, with the block's own writes (None: no snapshotdb).
    snapshot: Option<crate::snapshotdb::Overlay>,
}

/// Most entries the read cache holds before it starts over.
const READ_CACHE_ENTRIES: usize = 200_000;

/// Accounts and storage slots as the committed tries hold them, so repeated reads within a block do
/// not walk and decode the tries again. Valid until the next [`StateDb::commit`], which clears it;
/// pending changes are always consulted first, so it never hides them.
#[derive(Debug, Default)]
struct ReadCache {
    accounts: std::cell::RefCell<std::collections::HashMap<Address, Account>>,
    slots: std::cell::RefCell<std::collections::HashMap<(Address, B256), U256>>,
}

impl Clone for ReadCache {
    fn clone(&self) -> Self {
        ReadCache {
            accounts: std::cell::RefCell::new(self.accounts.borrow().clone()),
            slots: std::cell::RefCell::new(self.slots.borrow().clone()),
        }
    }
}

impl ReadCache {
    fn clear(&self) {
        self.accounts.borrow_mut().clear();
        self.slots.borrow_mut().clear();
    }

    fn put_account(&self, address: Address, account: &Account) {
        let mut m = self.accounts.borrow_mut();
        if m.len() >= READ_CACHE_ENTRIES {
            m.clear();
        }
        m.insert(address, account.clone());
    }

    fn put_slot(&self, address: Address, slot: B256, value: U256) {
        let mut m = self.slots.borrow_mut();
        if m.len() >= READ_CACHE_ENTRIES {
            m.clear();
        }
        m.insert((address, slot), value);
    }
}

/// Checks an account proof (`eth_getProof`'s `accountProof`, root first) against a state root:
/// Ok when the trie holds `account` for `address`, or nothing when `account` is the empty account
/// (what `eth_getProof` answers for an absent one).
pub fn verify_account_proof(
    root: B256,
    address: &Address,
    account: &Account,
    proof: &[Vec<u8>],
) -> std::result::Result<(), String> {
    let proof: Vec<alloy_primitives::Bytes> = proof.iter().cloned().map(Into::into).collect();
    let key = alloy_trie::Nibbles::unpack(keccak256(address));
    let present = alloy_trie::proof::verify_proof(root, key, Some(account.encode()), &proof);
    if present.is_ok() {
        return Ok(());
    }
    if *account == Account::default()
        && alloy_trie::proof::verify_proof(root, key, None, &proof).is_ok()
    {
        return Ok(());
    }
    Err(format!(
        "the account proof of {address} does not verify against state root {root}"
    ))
}

/// Checks a storage proof (`eth_getProof`'s `storageProof[i].proof`) against an account's storage
/// root: Ok when the slot holds `value` (zero: the slot is absent).
pub fn verify_storage_proof(
    storage_root: B256,
    slot: B256,
    value: U256,
    proof: &[Vec<u8>],
) -> std::result::Result<(), String> {
    let proof: Vec<alloy_primitives::Bytes> = proof.iter().cloned().map(Into::into).collect();
    let key = alloy_trie::Nibbles::unpack(keccak256(slot));
    let expected = (!value.is_zero()).then(|| {
        let mut enc = Vec::new();
        alloy_rlp::Encodable::encode(&value, &mut enc);
        enc
    });
    alloy_trie::proof::verify_proof(storage_root, key, expected, &proof).map_err(|_| {
        format!("the storage proof of slot {slot} does not verify against {storage_root}")
    })
}

/// The hashes a stored state-trie node refers to: its trie children, and, for an account leaf, the
/// root of that account's storage trie. Storage-trie nodes give only their trie children (their leaf
/// values are not accounts).
pub fn state_child_hashes(encoding: &[u8]) -> Result<Vec<B256>> {
    let mut out = crate::trie::child_hashes(encoding)?;
    out.extend(storage_root_in_leaf(encoding));
    Ok(out)
}

fn storage_root_in_leaf(encoding: &[u8]) -> Option<B256> {
    let value = crate::trie::leaf_value(encoding)?;
    let account = Account::decode(&value).ok()?;
    (account.storage_root != EMPTY_ROOT).then_some(account.storage_root)
}

fn decode_slot(raw: &[u8], slot: &B256) -> Result<U256> {
    let corrupt = |e: platon_messages::rlp::RlpError| StorageError::Corrupt {
        what: format!("storage slot {slot}"),
        detail: e.to_string(),
    };
    let mut r = Reader::new(raw);
    let v = r.u256("storage value").map_err(corrupt)?;
    r.finish().map_err(corrupt)?;
    Ok(v)
}

impl StateDb {
    /// The state at `root`.
    pub fn at_root(root: B256, reader: Arc<dyn NodeReader>) -> Self {
        StateDb {
            trie: Trie::at_root(root, reader),
            dirty: BTreeMap::new(),
            dirty_storage: BTreeMap::new(),
            wiped: Default::default(),
            new_code: BTreeMap::new(),
            reads: ReadCache::default(),
            snapshot: None,
        }
    }

    /// This state with snapshotdb's data as seen by `view` (the block this state belongs to, or the
    /// parent of the block being executed on it) attached; writes collect in an [`Overlay`] above it.
    ///
    /// [`Overlay`]: crate::snapshotdb::Overlay
    pub fn with_snapshot(mut self, view: Arc<dyn crate::snapshotdb::SnapshotRead>) -> Self {
        self.snapshot = Some(crate::snapshotdb::Overlay::new(view));
        self
    }

    /// The attached snapshotdb view and this block's writes to it, if any.
    pub fn snapshot(&self) -> Option<&crate::snapshotdb::Overlay> {
        self.snapshot.as_ref()
    }

    /// The attached snapshotdb overlay, for writing.
    pub fn snapshot_mut(&mut self) -> Option<&mut crate::snapshotdb::Overlay> {
        self.snapshot.as_mut()
    }

    /// The account at `address` (the default empty account if absent).
    pub fn account(&self, address: &Address) -> Result<Account> {
        if let Some(a) = self.dirty.get(address) {
            return Ok(a.clone());
        }
        if let Some(a) = self.reads.accounts.borrow().get(address) {
            return Ok(a.clone());
        }
        let account = match self.trie.get(keccak256(address).as_slice())? {
            Some(bytes) => Account::decode(&bytes)?,
            None => Account::default(),
        };
        self.reads.put_account(*address, &account);
        Ok(account)
    }

    /// Replaces the account at `address`.
    pub fn set_account(&mut self, address: Address, account: Account) {
        self.dirty.insert(address, account);
    }

    /// Folds pending changes into the trie; returns the new root and the nodes to persist.
    /// Empty accounts are removed (EIP-161).
    pub fn commit(&mut self) -> Result<(B256, crate::trie::TrieNodes)> {
        let mut nodes = Vec::new();
        for address in std::mem::take(&mut self.wiped) {
            let mut account = self.account(&address)?;
            account.storage_root = EMPTY_ROOT;
            self.dirty.insert(address, account);
        }
        // Storage tries first: each changed one gives its account a new storage root.
        for (address, slots) in std::mem::take(&mut self.dirty_storage) {
            let mut account = self.account(&address)?;
            let mut storage = Trie::at_root(account.storage_root, self.trie.reader());
            for (slot, value) in slots {
                let key = keccak256(slot);
                if value.is_zero() {
                    storage.remove(key.as_slice())?;
                } else {
                    let mut enc = Vec::new();
                    alloy_rlp::Encodable::encode(&value, &mut enc);
                    storage.insert(key.as_slice(), enc)?;
                }
            }
            let (root, storage_nodes) = storage.commit();
            nodes.extend(storage_nodes);
            account.storage_root = root;
            self.dirty.insert(address, account);
        }
        for (address, account) in std::mem::take(&mut self.dirty) {
            let key = keccak256(address);
            if account.is_empty() {
                self.trie.remove(key.as_slice())?;
            } else {
                self.trie.insert(key.as_slice(), account.encode())?;
            }
        }
        let (root, account_nodes) = self.trie.commit();
        nodes.extend(account_nodes);
        self.reads.clear();
        Ok((root, nodes))
    }

    /// Removes `address` with its storage (SELFDESTRUCT).
    pub fn delete_account(&mut self, address: Address) {
        self.wipe_storage(address);
        self.dirty.insert(address, Account::default());
    }

    /// Clears every storage slot of `address` (a contract created where storage existed).
    pub fn wipe_storage(&mut self, address: Address) {
        self.dirty_storage.remove(&address);
        self.wiped.insert(address);
    }

    /// Code by its hash: set since this state was opened, or stored.
    pub fn code_by_hash(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
        if let Some(c) = self.new_code.get(hash) {
            return Ok(Some(c.clone()));
        }
        self.trie.reader().code(hash)
    }

    /// Sets a storage slot of `address` (zero deletes it); written to its storage trie at commit.
    pub fn set_storage(&mut self, address: Address, slot: B256, value: U256) {
        self.dirty_storage
            .entry(address)
            .or_default()
            .insert(slot, value);
    }

    /// Storage written and not yet committed, as (address, slot, value).
    pub fn dirty_storage(&self) -> Vec<(Address, B256, U256)> {
        let mut out: Vec<(Address, B256, U256)> = self
            .dirty_storage
            .iter()
            .flat_map(|(a, m)| m.iter().map(|(k, v)| (*a, *k, *v)))
            .collect();
        out.sort();
        out
    }

    /// Sets the code of `address`: its code hash changes now, the code is stored with the block.
    pub fn set_code(&mut self, address: Address, code: Vec<u8>) -> Result<()> {
        let hash = keccak256(&code);
        let mut account = self.account(&address)?;
        account.code_hash = hash;
        self.dirty.insert(address, account);
        self.new_code.insert(hash, code);
        Ok(())
    }

    /// The code of `address` (empty for an account without code).
    pub fn code(&self, address: &Address) -> Result<Vec<u8>> {
        let account = self.account(address)?;
        if !account.has_code() {
            return Ok(Vec::new());
        }
        if let Some(c) = self.new_code.get(&account.code_hash) {
            return Ok(c.clone());
        }
        self.trie
            .reader()
            .code(&account.code_hash)?
            .ok_or_else(|| StorageError::Corrupt {
                what: format!("code of {address}"),
                detail: format!("code {} is missing from the store", account.code_hash),
            })
    }

    /// Code set since this state was opened, to persist with the block (keccak256, code).
    pub fn take_codes(&mut self) -> Vec<(B256, Vec<u8>)> {
        std::mem::take(&mut self.new_code).into_iter().collect()
    }

    /// The account at `address` and its Merkle proof (EIP-1186). Reads the committed trie only.
    pub fn prove_account(&self, address: &Address) -> Result<(Account, Vec<Vec<u8>>)> {
        let proof = self.trie.prove(keccak256(address).as_slice())?;
        Ok((self.account(address)?, proof))
    }

    /// The value of storage slot `slot` of the account with storage root `storage_root`, and its proof.
    pub fn prove_storage(&self, storage_root: B256, slot: B256) -> Result<(U256, Vec<Vec<u8>>)> {
        let trie = Trie::at_root(storage_root, self.trie_reader());
        let key = keccak256(slot);
        let proof = trie.prove(key.as_slice())?;
        let value = match trie.get(key.as_slice())? {
            None => U256::ZERO,
            Some(raw) => decode_slot(&raw, &slot)?,
        };
        Ok((value, proof))
    }

    /// The value of a storage slot of `address`.
    pub fn storage(&self, address: &Address, slot: B256) -> Result<U256> {
        if let Some(v) = self.dirty_storage.get(address).and_then(|m| m.get(&slot)) {
            return Ok(*v);
        }
        if self.wiped.contains(address) {
            return Ok(U256::ZERO);
        }
        if let Some(v) = self.reads.slots.borrow().get(&(*address, slot)) {
            return Ok(*v);
        }
        // The committed value lives under the committed storage root (pending storage changes
        // were answered above; the root only moves at commit, which clears the cache).
        let account = self.account(address)?;
        let value = if account.storage_root == EMPTY_ROOT {
            U256::ZERO
        } else {
            let trie = Trie::at_root(account.storage_root, self.trie_reader());
            match trie.get(keccak256(slot).as_slice())? {
                None => U256::ZERO,
                Some(raw) => decode_slot(&raw, &slot)?,
            }
        };
        self.reads.put_slot(*address, slot, value);
        Ok(value)
    }

    fn trie_reader(&self) -> Arc<dyn NodeReader> {
        self.trie.reader()
    }

    /// Checks that every node reachable from the root is present and hashes right.
    pub fn verify(&self) -> Result<usize> {
        self.verify_skipping(&mut std::collections::HashSet::new())
    }

    /// [`StateDb::verify`] that skips subtrees already in `verified` (see [`Trie::verify_nodes_skipping`]).
    /// Storage tries, reached through the account leaves, are verified too.
    pub fn verify_skipping(&self, verified: &mut std::collections::HashSet<B256>) -> Result<usize> {
        self.trie.verify_nodes_with(verified, &|enc| {
            storage_root_in_leaf(enc).into_iter().collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trie::NoNodes;

    #[test]
    fn account_round_trips() {
        let a = Account {
            nonce: 3,
            balance: U256::from(10u64).pow(U256::from(20)),
            ..Default::default()
        };
        assert_eq!(Account::decode(&a.encode()).expect("decode"), a);
        assert!(Account::decode(&[0xc0]).is_err());
    }

    #[derive(Default)]
    struct Map(
        parking_lot::RwLock<std::collections::HashMap<B256, Vec<u8>>>,
        parking_lot::RwLock<std::collections::HashMap<B256, Vec<u8>>>,
    );
    impl NodeReader for Map {
        fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
            Ok(self.0.read().get(hash).cloned())
        }
        fn code(&self, hash: &B256) -> Result<Option<Vec<u8>>> {
            Ok(self.1.read().get(hash).cloned())
        }
    }

    #[test]
    fn storage_tries_and_code_persist_with_ethereum_roots() {
        let store = Arc::new(Map::default());
        let contract = Address::repeat_byte(0xc0);
        let mut s = StateDb::at_root(EMPTY_ROOT, store.clone());
        s.set_account(
            contract,
            Account {
                nonce: 1,
                ..Default::default()
            },
        );
        let slots: Vec<(B256, U256)> = (0u64..20)
            .map(|i| (B256::from(U256::from(i)), U256::from(i * 1000 + 1)))
            .collect();
        for (k, v) in &slots {
            s.set_storage(contract, *k, *v);
        }
        s.set_code(contract, vec![0x60, 0x00, 0x60, 0x00, 0xf3])
            .expect("code");
        assert_eq!(
            s.storage(&contract, slots[3].0).expect("dirty read"),
            slots[3].1
        );
        let (root, nodes) = s.commit().expect("commit");
        store.0.write().extend(nodes);
        store.1.write().extend(s.take_codes());
        let back = StateDb::at_root(root, store.clone());
        let account = back.account(&contract).expect("account");
        // The storage root is Ethereum's: alloy-trie's HashBuilder over the same slots agrees.
        let mut leaves: Vec<(B256, Vec<u8>)> = slots
            .iter()
            .map(|(k, v)| {
                let mut enc = Vec::new();
                alloy_rlp::Encodable::encode(v, &mut enc);
                (keccak256(k), enc)
            })
            .collect();
        leaves.sort_by_key(|l| l.0);
        let mut hb = alloy_trie::HashBuilder::default();
        for (k, v) in &leaves {
            hb.add_leaf(alloy_trie::Nibbles::unpack(k), v);
        }
        assert_eq!(account.storage_root, hb.root());
        assert_eq!(
            back.storage(&contract, slots[7].0).expect("read"),
            slots[7].1
        );
        assert_eq!(
            back.code(&contract).expect("code"),
            vec![0x60, 0x00, 0x60, 0x00, 0xf3]
        );
        assert!(
            back.verify().expect("verify") > 2,
            "storage nodes are verified too"
        );
        // Storage and account proofs verify with an independent implementation (alloy-trie).
        let (value, proof) = back
            .prove_storage(account.storage_root, slots[7].0)
            .expect("prove");
        assert_eq!(value, slots[7].1);
        let proof: Vec<alloy_primitives::Bytes> = proof.into_iter().map(Into::into).collect();
        let mut expected = Vec::new();
        alloy_rlp::Encodable::encode(&value, &mut expected);
        let key = alloy_trie::Nibbles::unpack(keccak256(slots[7].0));
        alloy_trie::proof::verify_proof(account.storage_root, key, Some(expected.clone()), &proof)
            .expect("storage proof verifies");
        assert!(
            alloy_trie::proof::verify_proof(account.storage_root, key, Some(vec![0x01]), &proof)
                .is_err(),
            "a wrong value is refused"
        );
        let absent = B256::from(U256::from(999u64));
        let (zero, absent_proof) = back
            .prove_storage(account.storage_root, absent)
            .expect("prove absence");
        assert_eq!(zero, U256::ZERO);
        let absent_proof: Vec<alloy_primitives::Bytes> =
            absent_proof.into_iter().map(Into::into).collect();
        alloy_trie::proof::verify_proof(
            account.storage_root,
            alloy_trie::Nibbles::unpack(keccak256(absent)),
            None,
            &absent_proof,
        )
        .expect("absence proof verifies");
        let (acct, account_proof) = back.prove_account(&contract).expect("prove account");
        let account_proof: Vec<alloy_primitives::Bytes> =
            account_proof.into_iter().map(Into::into).collect();
        alloy_trie::proof::verify_proof(
            root,
            alloy_trie::Nibbles::unpack(keccak256(contract)),
            Some(acct.encode()),
            &account_proof,
        )
        .expect("account proof verifies");
        // Zeroing every slot empties the storage trie.
        let mut s = StateDb::at_root(root, store.clone());
        for (k, _) in &slots {
            s.set_storage(contract, *k, U256::ZERO);
        }
        let (root2, nodes) = s.commit().expect("commit");
        store.0.write().extend(nodes);
        assert_eq!(
            StateDb::at_root(root2, store.clone())
                .account(&contract)
                .expect("a")
                .storage_root,
            EMPTY_ROOT
        );
        // A missing storage node is found by verify.
        let storage_root = account.storage_root;
        store.0.write().remove(&storage_root);
        assert!(StateDb::at_root(root, store).verify().is_err());
    }

    #[test]
    fn cached_reads_never_hide_changes_wipes_or_commits() {
        let nodes = Arc::new(crate::trie::MemoryNodes::default());
        let c = Address::repeat_byte(0xc1);
        let slot = B256::with_last_byte(1);
        let mut s = StateDb::at_root(EMPTY_ROOT, nodes.clone());
        s.set_account(
            c,
            Account {
                nonce: 1,
                ..Default::default()
            },
        );
        s.set_storage(c, slot, U256::from(5));
        let (root, n) = s.commit().expect("commit");
        nodes.insert(n, vec![]);
        let mut s = StateDb::at_root(root, nodes.clone());
        // Read twice: the second answer comes from the cache and must be the same.
        assert_eq!(s.storage(&c, slot).expect("read"), U256::from(5));
        assert_eq!(s.storage(&c, slot).expect("read"), U256::from(5));
        assert_eq!(s.account(&c).expect("read").nonce, 1);
        // Pending changes win over cached reads.
        s.set_storage(c, slot, U256::from(7));
        assert_eq!(s.storage(&c, slot).expect("read"), U256::from(7));
        let mut a = s.account(&c).expect("read");
        a.nonce = 2;
        s.set_account(c, a);
        assert_eq!(s.account(&c).expect("read").nonce, 2);
        // A wipe hides the cached committed value.
        s.wipe_storage(c);
        assert_eq!(s.storage(&c, slot).expect("read"), U256::ZERO);
        s.set_storage(c, B256::with_last_byte(2), U256::from(9));
        // After a commit, reads see the new tries, not the old cache.
        let (root2, n) = s.commit().expect("commit");
        nodes.insert(n, vec![]);
        assert_eq!(s.storage(&c, slot).expect("read"), U256::ZERO);
        assert_eq!(
            s.storage(&c, B256::with_last_byte(2)).expect("read"),
            U256::from(9)
        );
        assert_eq!(s.account(&c).expect("read").nonce, 2);
        // A fresh view of the new root agrees with the cached one.
        let fresh = StateDb::at_root(root2, nodes);
        assert_eq!(
            fresh.storage(&c, B256::with_last_byte(2)).expect("read"),
            U256::from(9)
        );
        assert_eq!(fresh.storage(&c, slot).expect("read"), U256::ZERO);
        // Deleting the account removes it and its storage.
        let mut d = fresh.clone();
        d.delete_account(c);
        assert_eq!(
            d.storage(&c, B256::with_last_byte(2)).expect("read"),
            U256::ZERO
        );
        let (root3, _) = d.commit().expect("commit");
        assert_eq!(root3, EMPTY_ROOT);
    }

    #[test]
    fn emptied_account_is_removed_from_the_trie() {
        let mut s = StateDb::at_root(EMPTY_ROOT, Arc::new(NoNodes));
        s.set_account(
            "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b"
                .parse()
                .expect("addr"),
            Account {
                balance: U256::from(1_000_000_000_000_000_000u64),
                ..Default::default()
            },
        );
        let (root, _) = s.commit().expect("commit");
        assert_ne!(root, EMPTY_ROOT);
        // Setting it back to empty removes it (EIP-161) and restores the empty root.
        s.set_account(
            "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b"
                .parse()
                .expect("addr"),
            Account::default(),
        );
        assert_eq!(s.commit().expect("commit").0, EMPTY_ROOT);
    }
}

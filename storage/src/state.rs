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
}

impl StateDb {
    /// The state at `root`.
    pub fn at_root(root: B256, reader: Arc<dyn NodeReader>) -> Self {
        StateDb {
            trie: Trie::at_root(root, reader),
            dirty: BTreeMap::new(),
        }
    }

    /// The account at `address` (the default empty account if absent).
    pub fn account(&self, address: &Address) -> Result<Account> {
        if let Some(a) = self.dirty.get(address) {
            return Ok(a.clone());
        }
        match self.trie.get(keccak256(address).as_slice())? {
            Some(bytes) => Account::decode(&bytes),
            None => Ok(Account::default()),
        }
    }

    /// Replaces the account at `address`.
    pub fn set_account(&mut self, address: Address, account: Account) {
        self.dirty.insert(address, account);
    }

    /// Folds pending changes into the trie; returns the new root and the nodes to persist.
    /// Empty accounts are removed (EIP-161).
    pub fn commit(&mut self) -> Result<(B256, crate::trie::TrieNodes)> {
        for (address, account) in std::mem::take(&mut self.dirty) {
            let key = keccak256(address);
            if account.is_empty() {
                self.trie.remove(key.as_slice())?;
            } else {
                self.trie.insert(key.as_slice(), account.encode())?;
            }
        }
        Ok(self.trie.commit())
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
            Some(raw) => {
                let mut r = Reader::new(&raw);
                let v = r.u256("storage value").map_err(|e| StorageError::Corrupt {
                    what: format!("storage slot {slot}"),
                    detail: e.to_string(),
                })?;
                r.finish().map_err(|e| StorageError::Corrupt {
                    what: format!("storage slot {slot}"),
                    detail: e.to_string(),
                })?;
                v
            }
        };
        Ok((value, proof))
    }

    /// The value of a storage slot of `address`.
    pub fn storage(&self, address: &Address, slot: B256) -> Result<U256> {
        let account = self.account(address)?;
        if account.storage_root == EMPTY_ROOT {
            return Ok(U256::ZERO);
        }
        Ok(self.prove_storage(account.storage_root, slot)?.0)
    }

    fn trie_reader(&self) -> Arc<dyn NodeReader> {
        self.trie.reader()
    }

    /// Checks that every node reachable from the root is present and hashes right.
    pub fn verify(&self) -> Result<usize> {
        self.trie.verify_nodes()
    }

    /// [`StateDb::verify`] that skips subtrees already in `verified` (see [`Trie::verify_nodes_skipping`]).
    pub fn verify_skipping(&self, verified: &mut std::collections::HashSet<B256>) -> Result<usize> {
        self.trie.verify_nodes_skipping(verified)
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

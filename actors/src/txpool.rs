//! The txpool: admission of signed transactions (nonce, balance, fee, gas, replacement, limits), a
//! durable journal so an accepted transaction survives restarts, and batches for the block producer.
//!
//! [`Pool`] is the pure core (no IO); [`TxPoolService`] reads account state, journals, and replies.

use crate::handles::ProducerHandle;
use crate::NodeContext;
use alloy_primitives::{Address, B256, U256};
use platon_config::TxPoolConfig;
use platon_messages::actors::{PoolError, PoolStatus, TxPoolMsg};
use platon_messages::reload::FloodTopic;
use platon_messages::SignedTransaction;
use platon_storage::{Account, StateDb};
use platon_supervision::{BoxError, Ctx, Service};
use ractor::RpcReplyPort;
use std::collections::{BTreeMap, HashMap};

/// The pool's contents, indexed by hash and by sender and nonce.
#[derive(Debug, Default)]
pub struct Pool {
    by_hash: HashMap<B256, SignedTransaction>,
    by_sender: HashMap<Address, BTreeMap<u64, B256>>,
}

impl Pool {
    /// Number of transactions held.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// A pooled transaction.
    pub fn get(&self, hash: &B256) -> Option<&SignedTransaction> {
        self.by_hash.get(hash)
    }

    /// The nonce after the sender's contiguous run of pooled transactions starting at `state_nonce`.
    pub fn next_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut n = state_nonce;
        if let Some(m) = self.by_sender.get(sender) {
            while m.contains_key(&n) {
                n += 1;
            }
        }
        n
    }

    /// Checks `tx` against the sender's `account` and the limits; on success inserts it and returns
    /// the hash of the transaction it replaced, if any. `min_fee_cap` is the lowest fee cap accepted
    /// now (the pool minimum or the next base fee, whichever is higher).
    pub fn admit(
        &mut self,
        tx: SignedTransaction,
        account: &Account,
        cfg: &TxPoolConfig,
        block_gas_limit: u64,
        min_fee_cap: u64,
    ) -> Result<Option<B256>, PoolError> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let body = &tx.body;
        if body.gas_limit() > block_gas_limit {
            return Err(PoolError::ExceedsBlockGasLimit);
        }
        if body.max_fee_per_gas() < U256::from(min_fee_cap) {
            return Err(PoolError::Underpriced {
                fee_cap: body.max_fee_per_gas(),
                minimum: U256::from(min_fee_cap),
            });
        }
        let nonce = body.nonce();
        if nonce < account.nonce {
            return Err(PoolError::NonceTooLow {
                state: account.nonce,
                tx: nonce,
            });
        }
        if nonce - account.nonce > cfg.max_nonce_gap {
            return Err(PoolError::NonceTooHigh {
                state: account.nonce,
                tx: nonce,
                max_gap: cfg.max_nonce_gap,
            });
        }
        let cost = U256::from(body.gas_limit())
            .checked_mul(body.max_fee_per_gas())
            .and_then(|c| c.checked_add(body.value()))
            .unwrap_or(U256::MAX);
        if account.balance < cost {
            return Err(PoolError::InsufficientFunds {
                balance: account.balance,
                cost,
            });
        }
        let replaced = self
            .by_sender
            .get(&tx.sender)
            .and_then(|m| m.get(&nonce))
            .copied();
        if let Some(old) = replaced.and_then(|h| self.by_hash.get(&h)) {
            let bump = |x: U256| {
                x.saturating_mul(U256::from(100 + cfg.price_bump_percent)) / U256::from(100)
            };
            if body.max_fee_per_gas() < bump(old.body.max_fee_per_gas())
                || body.max_priority_fee_per_gas() < bump(old.body.max_priority_fee_per_gas())
            {
                return Err(PoolError::ReplacementUnderpriced);
            }
        } else if self.by_hash.len() >= cfg.capacity {
            return Err(PoolError::PoolFull);
        }
        if let Some(old) = replaced {
            self.by_hash.remove(&old);
        }
        self.by_sender
            .entry(tx.sender)
            .or_default()
            .insert(nonce, tx.hash);
        self.by_hash.insert(tx.hash, tx);
        Ok(replaced)
    }

    /// Removes transactions by hash.
    pub fn remove(&mut self, hashes: &[B256]) {
        for h in hashes {
            if let Some(tx) = self.by_hash.remove(h) {
                if let Some(m) = self.by_sender.get_mut(&tx.sender) {
                    if m.get(&tx.body.nonce()) == Some(h) {
                        m.remove(&tx.body.nonce());
                    }
                    if m.is_empty() {
                        self.by_sender.remove(&tx.sender);
                    }
                }
            }
        }
    }

    /// Drops the sender's transactions whose nonce is below `state_nonce`; returns their hashes.
    pub fn prune_sender(&mut self, sender: &Address, state_nonce: u64) -> Vec<B256> {
        let stale: Vec<B256> = self
            .by_sender
            .get(sender)
            .map(|m| m.range(..state_nonce).map(|(_, h)| *h).collect())
            .unwrap_or_default();
        self.remove(&stale);
        stale
    }

    /// Senders with pooled transactions.
    pub fn senders(&self) -> Vec<Address> {
        self.by_sender.keys().copied().collect()
    }

    /// Executable transactions for the next block: for each sender the contiguous run from its
    /// account nonce (as `nonce_of` reports it), stopping at a fee cap below `base_fee`; senders are
    /// ordered by the tip their first transaction pays, highest first.
    pub fn batch(
        &self,
        max_txs: usize,
        max_gas: u64,
        base_fee: u64,
        nonce_of: impl Fn(&Address) -> u64,
    ) -> Vec<SignedTransaction> {
        let base = U256::from(base_fee);
        let mut runs: Vec<Vec<&SignedTransaction>> = Vec::new();
        for (sender, m) in &self.by_sender {
            let mut n = nonce_of(sender);
            let mut run = Vec::new();
            while let Some(tx) = m.get(&n).and_then(|h| self.by_hash.get(h)) {
                if tx.body.max_fee_per_gas() < base {
                    break;
                }
                run.push(tx);
                n += 1;
            }
            if !run.is_empty() {
                runs.push(run);
            }
        }
        runs.sort_by(|a, b| {
            let tip = |t: &SignedTransaction| t.body.effective_gas_price(base).saturating_sub(base);
            tip(b[0]).cmp(&tip(a[0])).then(a[0].hash.cmp(&b[0].hash))
        });
        let mut out = Vec::new();
        let mut gas: u64 = 0;
        'runs: for run in runs {
            for tx in run {
                if out.len() >= max_txs {
                    break 'runs;
                }
                let Some(next) = gas
                    .checked_add(tx.body.gas_limit())
                    .filter(|g| *g <= max_gas)
                else {
                    continue 'runs;
                };
                gas = next;
                out.push(tx.clone());
            }
        }
        out
    }

    /// Counters.
    pub fn status(&self, nonce_of: impl Fn(&Address) -> u64) -> PoolStatus {
        let mut pending = 0;
        for (sender, m) in &self.by_sender {
            let mut n = nonce_of(sender);
            while m.contains_key(&n) {
                pending += 1;
                n += 1;
            }
        }
        PoolStatus {
            pending,
            queued: self.by_hash.len() - pending,
        }
    }

    /// Drops up to `max` queued transactions (ones that cannot run before a missing nonce), the
    /// furthest ahead of their sender's next nonce first; returns their hashes. A full pool makes
    /// room this way for an executable transaction: otherwise transactions stuck behind gaps
    /// nobody fills would hold the pool full for good.
    pub fn evict_queued(&mut self, max: usize, nonce_of: impl Fn(&Address) -> u64) -> Vec<B256> {
        // (distance past the sender's contiguous run, hash) of every queued transaction.
        let mut queued: Vec<(u64, B256)> = Vec::new();
        for (sender, m) in &self.by_sender {
            let next = self.next_nonce(sender, nonce_of(sender));
            queued.extend(m.range(next..).map(|(n, h)| (n - next, *h)));
        }
        queued.sort_unstable_by(|a, b| b.cmp(a));
        queued.truncate(max);
        let hashes: Vec<B256> = queued.into_iter().map(|(_, h)| h).collect();
        self.remove(&hashes);
        hashes
    }
}

/// How many queued transactions a full pool drops at once to admit an executable one (one scan
/// of the senders serves that many admissions).
pub const EVICT_BATCH: usize = 64;

/// The `txpool` actor.
#[derive(Debug)]
pub struct TxPoolService {
    /// Shared node context.
    pub node: NodeContext,
}

/// An admission's reply, held until the journal entry it promises is durable.
type Unsynced = (RpcReplyPort<Result<B256, PoolError>>, B256);

/// The `txpool` actor's state: the pool, and the admissions waiting for the journal's next fsync.
pub struct PoolState {
    pool: Pool,
    unsynced: Vec<Unsynced>,
    /// Encodings admitted in the current group that are to be flooded after its fsync.
    to_flood: Vec<alloy_primitives::Bytes>,
    /// Durable admissions waiting for the next flood, and their bytes.
    flood_ready: Vec<alloy_primitives::Bytes>,
    flood_bytes: usize,
    /// Whether a [`TxPoolMsg::FloodAdmitted`] is on its way.
    flood_scheduled: bool,
}

/// How long admitted transactions wait to share a flood: the overlay signs, sends and checks one
/// message per flood and peer, so one per transaction costs more than the transaction.
pub const TX_FLOOD_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// The nonce after each sender's last transaction in `blocks` (a block's uncommitted ancestors):
/// where its next batch starts.
pub fn next_nonces<'a>(
    blocks: impl IntoIterator<Item = &'a platon_messages::Block>,
) -> Vec<(Address, u64)> {
    let mut next: HashMap<Address, u64> = HashMap::new();
    for b in blocks {
        for tx in &b.transactions {
            let n = tx.body.nonce().saturating_add(1);
            let e = next.entry(tx.sender).or_insert(n);
            *e = (*e).max(n);
        }
    }
    next.into_iter().collect()
}

/// A flood of transactions carries at most about this many bytes (more go in several floods).
pub const TX_FLOOD_BYTES: usize = 1 << 20;

/// Splits encoded transactions into flood payloads (RLP lists) of at most about
/// [`TX_FLOOD_BYTES`] each, in order.
pub fn tx_flood_payloads(txs: &[alloy_primitives::Bytes]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut part: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0;
    for t in txs {
        if bytes + t.len() > TX_FLOOD_BYTES && !part.is_empty() {
            out.push(platon_messages::rlp::encode_raw_list(&std::mem::take(
                &mut part,
            )));
            bytes = 0;
        }
        let mut item = Vec::with_capacity(t.len() + 5);
        alloy_rlp::Encodable::encode(&t, &mut item);
        bytes += item.len();
        part.push(item);
    }
    if !part.is_empty() {
        out.push(platon_messages::rlp::encode_raw_list(&part));
    }
    out
}

/// The transactions of a [`FloodTopic::Transactions`] payload, still encoded (an error for
/// anything that is not an RLP list of byte strings).
pub fn tx_flood_items(payload: &[u8]) -> Result<Vec<Vec<u8>>, platon_messages::rlp::RlpError> {
    let mut outer = platon_messages::rlp::Reader::new(payload);
    let mut list = outer.list()?;
    outer.finish()?;
    let mut items = Vec::new();
    while !list.is_empty() {
        items.push(list.bytes()?.to_vec());
    }
    Ok(items)
}

fn head_state(node: &NodeContext) -> Result<(StateDb, platon_messages::Header), BoxError> {
    let head = node.store.head_header()?;
    Ok((node.store.state_at(head.state_root), head))
}

fn nonce_lookup(state: &StateDb) -> impl Fn(&Address) -> u64 + '_ {
    move |a| state.account(a).map(|a| a.nonce).unwrap_or(0)
}

impl Service for TxPoolService {
    type Msg = TxPoolMsg;
    type State = PoolState;

    async fn init(&self, _ctx: &Ctx<TxPoolMsg>) -> Result<PoolState, BoxError> {
        let pool = crate::blocking(|| self.rebuild())?;
        Ok(PoolState {
            pool,
            unsynced: Vec::new(),
            to_flood: Vec::new(),
            flood_ready: Vec::new(),
            flood_bytes: 0,
            flood_scheduled: false,
        })
    }

    async fn handle(
        &self,
        ctx: &Ctx<TxPoolMsg>,
        msg: TxPoolMsg,
        st: &mut PoolState,
    ) -> Result<(), BoxError> {
        if let TxPoolMsg::Get(hash, reply) = msg {
            let _ = reply.send(st.pool.get(&hash).cloned());
            return Ok(());
        }
        // State reads and the journal's fsync: never on a runtime worker.
        crate::blocking(|| self.handle_blocking(ctx, msg, st))
    }
}

impl TxPoolService {
    /// Rebuilds the pool from the journal: every transaction accepted and not yet in a committed
    /// block.
    fn rebuild(&self) -> Result<Pool, BoxError> {
        let (state, head) = head_state(&self.node)?;
        let cfg = &self.node.config.txpool;
        let mut pool = Pool::default();
        let mut stale = Vec::new();
        // A previous incarnation may have journaled admissions it never synced (it stopped before
        // their group's flush): sync them now, since a resubmission will find them "already known"
        // and be answered as admitted.
        self.node.store.journal_sync()?;
        for raw in self.node.store.journal(cfg.capacity)? {
            match SignedTransaction::decode(&raw, &self.node.store.tx_rules()) {
                Ok(tx) => {
                    let hash = tx.hash;
                    let account = state.account(&tx.sender)?;
                    // Journal replay admits with the pool's own floor only; the base fee may have moved.
                    if pool
                        .admit(tx, &account, cfg, head.gas_limit, cfg.min_fee_cap)
                        .is_err()
                    {
                        stale.push(hash);
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "txpool journal holds an undecodable transaction ({e}); dropping it"
                    );
                    stale.push(alloy_primitives::keccak256(&raw));
                }
            }
        }
        if !stale.is_empty() {
            self.node.store.journal_remove(&stale)?;
        }
        tracing::info!(
            restored = pool.len(),
            dropped = stale.len(),
            "txpool rebuilt from its journal"
        );
        if !pool.is_empty() {
            let _ = ProducerHandle(self.node.registry.clone()).txs_available();
        }
        Ok(pool)
    }

    /// Syncs the journal, then answers every admission that waited for it and tells the producer
    /// and the `newPendingTransactions` subscribers. A failed sync stops the node (see
    /// `platon_storage::durable`); the waiting replies are never sent.
    fn flush(&self, ctx: &Ctx<TxPoolMsg>, st: &mut PoolState) -> Result<(), BoxError> {
        if st.unsynced.is_empty() {
            return Ok(());
        }
        self.node.store.journal_sync()?;
        for (reply, hash) in st.unsynced.drain(..) {
            // Nobody listening is fine.
            let _ = self.node.pending_txs.send(hash);
            let _ = reply.send(Ok(hash));
        }
        if !st.to_flood.is_empty() {
            st.flood_bytes += st.to_flood.iter().map(|t| t.len()).sum::<usize>();
            st.flood_ready.append(&mut st.to_flood);
            if st.flood_bytes >= TX_FLOOD_BYTES {
                self.flood_admitted(st);
            } else if !st.flood_scheduled {
                st.flood_scheduled = true;
                ctx.send_after(TX_FLOOD_DELAY, TxPoolMsg::FloodAdmitted);
            }
        }
        let _ = ProducerHandle(self.node.registry.clone()).txs_available();
        Ok(())
    }

    /// Floods the durable admissions collected so far (a node outside an overlay has nobody to
    /// tell).
    fn flood_admitted(&self, st: &mut PoolState) {
        if st.flood_ready.is_empty() {
            return;
        }
        let overlay = crate::handles::OverlayHandle::of_node(self.node.registry.clone());
        for payload in tx_flood_payloads(&std::mem::take(&mut st.flood_ready)) {
            let _ = overlay.flood(FloodTopic::Transactions, payload);
        }
        st.flood_bytes = 0;
    }

    fn handle_blocking(
        &self,
        ctx: &Ctx<TxPoolMsg>,
        msg: TxPoolMsg,
        st: &mut PoolState,
    ) -> Result<(), BoxError> {
        let cfg = &self.node.config.txpool;
        let pool = &mut st.pool;
        match msg {
            TxPoolMsg::Submit { tx, flood, reply } => {
                let (state, head) = head_state(&self.node)?;
                let raw = flood.then(|| tx.encoded.clone());
                match admit_checked(&self.node, pool, *tx, &state, &head, cfg) {
                    // A refusal promises nothing durable: answered at once.
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    // An admission is answered once its journal entry is synced: the first of a
                    // group asks for a flush behind every submission already queued.
                    Ok(hash) => {
                        st.unsynced.push((reply, hash));
                        st.to_flood.extend(raw);
                        if st.unsynced.len() == 1
                            && ctx
                                .myself()
                                .and_then(|me| me.send(TxPoolMsg::Flush))
                                .is_err()
                        {
                            return self.flush(ctx, st);
                        }
                    }
                }
            }
            TxPoolMsg::Flush => return self.flush(ctx, st),
            TxPoolMsg::FloodAdmitted => {
                st.flood_scheduled = false;
                self.flood_admitted(st);
            }
            TxPoolMsg::Batch {
                max_txs,
                max_gas,
                base_fee,
                after,
                reply,
            } => {
                let (state, _) = head_state(&self.node)?;
                let after: HashMap<Address, u64> = after.into_iter().collect();
                let committed = nonce_lookup(&state);
                let nonce_of = |a: &Address| {
                    let n = committed(a);
                    after.get(a).map_or(n, |m| n.max(*m))
                };
                let _ = reply.send(pool.batch(max_txs, max_gas, base_fee, nonce_of));
            }
            TxPoolMsg::BlockCommitted { included } => {
                pool.remove(&included);
                let (state, _) = head_state(&self.node)?;
                let mut stale = Vec::new();
                for sender in pool.senders() {
                    stale.extend(pool.prune_sender(&sender, state.account(&sender)?.nonce));
                }
                if !stale.is_empty() {
                    self.node.store.journal_remove(&stale)?;
                }
            }
            TxPoolMsg::Status(reply) => {
                let (state, _) = head_state(&self.node)?;
                let _ = reply.send(pool.status(nonce_lookup(&state)));
            }
            TxPoolMsg::Get(hash, reply) => {
                let _ = reply.send(pool.get(&hash).cloned());
            }
            TxPoolMsg::Discard { hashes } => {
                pool.remove(&hashes);
                self.node.store.journal_remove(&hashes)?;
            }
            TxPoolMsg::NextNonce(sender, reply) => {
                let (state, _) = head_state(&self.node)?;
                let base = state.account(&sender)?.nonce;
                let _ = reply.send(Some(pool.next_nonce(&sender, base)).filter(|n| *n != base));
            }
        }
        Ok(())
    }
}

fn admit_checked(
    node: &NodeContext,
    pool: &mut Pool,
    tx: SignedTransaction,
    state: &StateDb,
    head: &platon_messages::Header,
    cfg: &TxPoolConfig,
) -> Result<B256, PoolError> {
    let storage = |e: platon_storage::StorageError| PoolError::Journal(e.to_string());
    if tx.body.kind() == platon_messages::TxKind::Create
        && tx.body.input().len() > platon_vm::MAX_INITCODE_SIZE
    {
        return Err(PoolError::Invalid("max initcode size exceeded".into()));
    }
    let account = state.account(&tx.sender).map_err(storage)?;
    if account.has_code() {
        return Err(PoolError::Invalid("sender not an eoa".into()));
    }
    let min_fee = cfg.min_fee_cap.max(platon_vm::next_base_fee(head));
    if pool.len() >= cfg.capacity && tx.body.nonce() == pool.next_nonce(&tx.sender, account.nonce) {
        let evicted = pool.evict_queued(EVICT_BATCH.min(cfg.capacity), nonce_lookup(state));
        if !evicted.is_empty() {
            tracing::debug!(
                evicted = evicted.len(),
                "txpool: full; queued transactions dropped"
            );
            node.store.journal_remove(&evicted).map_err(storage)?;
        }
    }
    let hash = tx.hash;
    let raw = tx.encoded.clone();
    let sender = tx.sender;
    let replaced = pool.admit(tx, &account, cfg, head.gas_limit, min_fee)?;
    node.senders.insert(hash, sender);
    // Journaled before we say yes, and synced before the reply leaves (the caller's group
    // commit): a transaction whose hash a client got survives a crash.
    if let Err(e) = node.store.journal_put_buffered(&hash, &raw) {
        pool.remove(&[hash]);
        return Err(PoolError::Journal(e.to_string()));
    }
    if let Some(old) = replaced {
        let _ = node.store.journal_remove(&[old]);
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::Bytes;
    use platon_crypto::SecretKey;
    use platon_messages::{TxBody, TxKind};

    /// A full pool drops queued transactions (behind a nonce gap), furthest ahead first, to admit
    /// an executable one; executable ones are never dropped.
    #[test]
    fn a_full_pool_evicts_queued_transactions_for_executable_ones() {
        let a = SecretKey::from_bytes(&[3u8; 32]).expect("key");
        let b = SecretKey::from_bytes(&[4u8; 32]).expect("key");
        let cfg = TxPoolConfig {
            capacity: 6,
            ..TxPoolConfig::default()
        };
        let mut p = Pool::default();
        // a: nonces 0 and 1 run; 5..=8 wait behind the gap at 2.
        for n in [0, 1, 5, 6, 7, 8] {
            p.admit(tx(&a, n, 5), &rich(0), &cfg, 30_000_000, 1)
                .expect("a");
        }
        assert!(matches!(
            p.admit(tx(&b, 0, 5), &rich(0), &cfg, 30_000_000, 1),
            Err(PoolError::PoolFull)
        ));
        let evicted = p.evict_queued(3, |_| 0);
        let nonces: Vec<u64> = evicted.iter().map(|h| tx_nonce_of(&a, h)).collect();
        assert_eq!(nonces, vec![8, 7, 6], "furthest ahead first");
        p.admit(tx(&b, 0, 5), &rich(0), &cfg, 30_000_000, 1)
            .expect("room for b");
        // Only the executable run and what is left of the queue remain; a second eviction
        // never takes the run.
        let rest = p.evict_queued(10, |_| 0);
        assert_eq!(rest.len(), 1);
        assert_eq!(p.status(|_| 0).pending, 3);
        assert_eq!(p.status(|_| 0).queued, 0);
    }

    fn tx_nonce_of(key: &SecretKey, hash: &B256) -> u64 {
        (0..16)
            .find(|n| tx(key, *n, 5).hash == *hash)
            .expect("one of the test nonces")
    }

    /// A pipelined block's batch starts after the nonces its uncommitted ancestors used: it
    /// does not carry their transactions again.
    #[test]
    fn batches_on_uncommitted_parents_skip_their_transactions() {
        let a = SecretKey::from_bytes(&[3u8; 32]).expect("key");
        let b = SecretKey::from_bytes(&[4u8; 32]).expect("key");
        let cfg = TxPoolConfig::default();
        let mut p = Pool::default();
        for n in 0..6 {
            p.admit(tx(&a, n, 5), &rich(0), &cfg, 30_000_000, 1)
                .expect("a");
        }
        p.admit(tx(&b, 0, 5), &rich(0), &cfg, 30_000_000, 1)
            .expect("b");
        let parent = p.batch(4, 30_000_000, 1, |_| 0);
        assert_eq!(parent.len(), 4);
        let header = platon_messages::Header {
            parent_hash: B256::ZERO,
            ommers_hash: B256::ZERO,
            beneficiary: Address::ZERO,
            state_root: B256::ZERO,
            transactions_root: B256::ZERO,
            receipts_root: B256::ZERO,
            logs_bloom: Default::default(),
            difficulty: U256::ZERO,
            number: 1,
            gas_limit: 30_000_000,
            gas_used: 0,
            timestamp: 0,
            extra_data: Bytes::new(),
            mix_hash: B256::ZERO,
            nonce: [0; 8],
            base_fee_per_gas: 1,
        };
        let ancestors = [platon_messages::Block {
            header,
            transactions: parent.clone(),
        }];
        let after: HashMap<Address, u64> = next_nonces(&ancestors).into_iter().collect();
        let child = p.batch(10, 30_000_000, 1, |s| after.get(s).copied().unwrap_or(0));
        assert!(child.iter().all(|t| !parent.contains(t)), "{child:?}");
        assert_eq!(parent.len() + child.len(), 7, "the rest, and only the rest");
    }

    /// Admitted transactions flood in batches: in order, split near [`TX_FLOOD_BYTES`], and
    /// nothing but an RLP list of byte strings reads back.
    #[test]
    fn transaction_floods_batch_in_order_and_split_by_size() {
        let key = SecretKey::from_bytes(&[3u8; 32]).expect("key");
        let small: Vec<Bytes> = (0..100).map(|n| tx(&key, n, 1).encoded).collect();
        let one = tx_flood_payloads(&small);
        assert_eq!(one.len(), 1);
        let back = tx_flood_items(&one[0]).expect("items");
        assert_eq!(back.len(), 100);
        assert!(back.iter().zip(&small).all(|(a, b)| a[..] == b[..]));
        // 40 transactions of 100 KiB: about ten to a flood.
        let big: Vec<Bytes> = (0..40)
            .map(|_| Bytes::from(vec![7u8; 100 * 1024]))
            .collect();
        let parts = tx_flood_payloads(&big);
        assert!(parts.len() >= 4, "{} floods", parts.len());
        assert!(parts.iter().all(|p| p.len() <= TX_FLOOD_BYTES + 110 * 1024));
        let total: usize = parts
            .iter()
            .map(|p| tx_flood_items(p).expect("items").len())
            .sum();
        assert_eq!(total, 40);
        assert!(tx_flood_payloads(&[]).is_empty());
        for bad in [&b""[..], &[0x05][..], &[0xc2, 0xc0, 0xc0][..], &[0xc1][..]] {
            assert!(tx_flood_items(bad).is_err(), "{bad:?}");
        }
    }

    fn tx(key: &SecretKey, nonce: u64, fee: u64) -> SignedTransaction {
        TxBody::DynamicFee {
            chain_id: 1,
            nonce,
            max_priority_fee_per_gas: U256::from(fee),
            max_fee_per_gas: U256::from(fee * 2),
            gas_limit: 21_000,
            to: TxKind::Call(Address::repeat_byte(1)),
            value: U256::from(1),
            input: Bytes::new(),
            access_list: vec![],
        }
        .sign(key)
    }

    fn rich(nonce: u64) -> Account {
        Account {
            nonce,
            balance: U256::from(10u64).pow(U256::from(20)),
            ..Default::default()
        }
    }

    #[test]
    fn admission_rules() {
        let k = SecretKey::from_bytes(&[3u8; 32]).expect("key");
        let cfg = TxPoolConfig {
            capacity: 3,
            ..Default::default()
        };
        let mut p = Pool::default();
        let t0 = tx(&k, 5, 10);
        assert_eq!(p.admit(t0.clone(), &rich(5), &cfg, 30_000_000, 1), Ok(None));
        assert_eq!(
            p.admit(t0.clone(), &rich(5), &cfg, 30_000_000, 1),
            Err(PoolError::AlreadyKnown)
        );
        assert!(matches!(
            p.admit(tx(&k, 4, 10), &rich(5), &cfg, 30_000_000, 1),
            Err(PoolError::NonceTooLow { state: 5, tx: 4 })
        ));
        assert!(matches!(
            p.admit(tx(&k, 500, 10), &rich(5), &cfg, 30_000_000, 1),
            Err(PoolError::NonceTooHigh { .. })
        ));
        assert!(matches!(
            p.admit(
                tx(&k, 6, 10),
                &Account {
                    nonce: 5,
                    ..Default::default()
                },
                &cfg,
                30_000_000,
                1
            ),
            Err(PoolError::InsufficientFunds { .. })
        ));
        assert!(matches!(
            p.admit(tx(&k, 6, 10), &rich(5), &cfg, 30_000_000, 100),
            Err(PoolError::Underpriced { .. })
        ));
        assert_eq!(
            p.admit(tx(&k, 6, 10), &rich(5), &cfg, 20_000, 1),
            Err(PoolError::ExceedsBlockGasLimit)
        );
        // Replacement needs a 10% bump.
        assert_eq!(
            p.admit(
                tx(&k, 5, 10).clone_with_fee(&k, 10, 1),
                &rich(5),
                &cfg,
                30_000_000,
                1
            ),
            Err(PoolError::ReplacementUnderpriced)
        );
        let replacement = tx(&k, 5, 11);
        assert_eq!(
            p.admit(replacement.clone(), &rich(5), &cfg, 30_000_000, 1),
            Ok(Some(t0.hash))
        );
        assert_eq!(p.len(), 1);
        p.admit(tx(&k, 6, 10), &rich(5), &cfg, 30_000_000, 1)
            .expect("6");
        p.admit(tx(&k, 8, 10), &rich(5), &cfg, 30_000_000, 1)
            .expect("8 queued");
        assert_eq!(
            p.admit(tx(&k, 9, 10), &rich(5), &cfg, 30_000_000, 1),
            Err(PoolError::PoolFull)
        );
        assert_eq!(p.next_nonce(&k.address(), 5), 7);
        assert_eq!(
            p.status(|_| 5),
            PoolStatus {
                pending: 2,
                queued: 1
            }
        );
    }

    #[test]
    fn batches_follow_nonce_order_fee_floor_and_gas() {
        let a = SecretKey::from_bytes(&[3u8; 32]).expect("key");
        let b = SecretKey::from_bytes(&[4u8; 32]).expect("key");
        let cfg = TxPoolConfig::default();
        let mut p = Pool::default();
        for n in 0..3 {
            p.admit(tx(&a, n, 5), &rich(0), &cfg, 30_000_000, 1)
                .expect("a");
        }
        p.admit(tx(&b, 0, 50), &rich(0), &cfg, 30_000_000, 1)
            .expect("b");
        let batch = p.batch(10, 30_000_000, 1, |_| 0);
        assert_eq!(batch.len(), 4);
        assert_eq!(batch[0].sender, b.address(), "higher tip first");
        let nonces: Vec<u64> = batch[1..].iter().map(|t| t.body.nonce()).collect();
        assert_eq!(nonces, vec![0, 1, 2]);
        assert_eq!(p.batch(10, 50_000, 1, |_| 0).len(), 2, "gas bound");
        assert_eq!(p.batch(10, 30_000_000, 20, |_| 0).len(), 1, "fee floor");
        assert_eq!(p.batch(2, 30_000_000, 1, |_| 0).len(), 2, "count bound");
        assert_eq!(p.prune_sender(&a.address(), 2).len(), 2);
        assert_eq!(
            p.batch(10, 30_000_000, 1, |addr| if *addr == a.address() {
                2
            } else {
                0
            })
            .len(),
            2
        );
    }

    trait CloneWithFee {
        fn clone_with_fee(&self, key: &SecretKey, tip: u64, extra: u64) -> SignedTransaction;
    }
    impl CloneWithFee for SignedTransaction {
        // Same nonce, fee raised by `extra` wei only: below the 10% bump.
        fn clone_with_fee(&self, key: &SecretKey, tip: u64, extra: u64) -> SignedTransaction {
            let mut body = self.body.clone();
            if let TxBody::DynamicFee {
                max_priority_fee_per_gas,
                max_fee_per_gas,
                ..
            } = &mut body
            {
                *max_priority_fee_per_gas = U256::from(tip + extra);
                *max_fee_per_gas = U256::from(tip * 2 + extra);
            }
            body.sign(key)
        }
    }
}

//! The `ppos` elector actor. The election itself runs in every block's end-of-block work
//! (`platon_vm::system`), so it is part of the state root and every node recomputes it from the
//! chain alone; the elector answers which validators the chain elected for a round, read from the
//! staking state after a given block (committed, or pending above the store), and the `cbft` actor
//! asks it at each round's switch point. It keeps no state of its own: restarted, it answers from
//! the chain again.

use crate::NodeContext;
use platon_crypto::bls::BlsPublicKey;
use platon_crypto::vrf::VrfPublicKey;
use platon_messages::Header;
use platon_storage::trie::{LayeredNodes, MemoryNodes};
use platon_supervision::{BoxError, Ctx, Service};
use std::sync::Arc;

pub use platon_messages::actors::RoundKeys;

/// Messages of the `ppos` actor, with pending state as in-memory trie nodes.
pub type PposMsg = platon_messages::actors::PposMsg<Arc<MemoryNodes>>;

/// Round `round`'s validators as recorded in the state after `header` (pending `layers` above the
/// store). Errors when that state records no set for the round.
pub fn round_keys(
    node: &NodeContext,
    header: &Header,
    layers: Vec<Arc<MemoryNodes>>,
    round: u64,
) -> Result<RoundKeys, String> {
    let reader = Arc::new(LayeredNodes::new(layers, node.store.node_reader()));
    let mut state = platon_storage::StateDb::at_root(header.state_root, reader)
        .with_snapshot(node.store.snapshot().at(header.hash()));
    let seats = platon_vm::ppos::staking::Ledger {
        state: &mut state,
        contract: platon_vm::system::STAKING,
    }
    .round_set(round)
    .map_err(|e| e.to_string())?;
    if seats.is_empty() {
        return Err(format!(
            "the state after block {} records no validators for round {round}",
            header.number
        ));
    }
    let mut bls = Vec::with_capacity(seats.len());
    let mut vrf = Vec::with_capacity(seats.len());
    for seat in seats {
        bls.push(BlsPublicKey::from_bytes(&seat.bls_key).map_err(|e| e.to_string())?);
        vrf.push(VrfPublicKey::from_bytes(&seat.vrf_key).map_err(|e| e.to_string())?);
    }
    Ok((bls, vrf))
}

/// The elector service.
pub struct PposService {
    /// Shared node context.
    pub node: NodeContext,
}

impl Service for PposService {
    type Msg = PposMsg;
    type State = ();

    async fn init(&self, _ctx: &Ctx<PposMsg>) -> Result<(), BoxError> {
        Ok(())
    }

    async fn handle(
        &self,
        _ctx: &Ctx<PposMsg>,
        msg: PposMsg,
        _st: &mut (),
    ) -> Result<(), BoxError> {
        match msg {
            PposMsg::RoundSet {
                round,
                header,
                layers,
                reply,
            } => {
                let node = self.node.clone();
                // Trie reads may touch the disk: off the actor's thread.
                let res =
                    tokio::task::spawn_blocking(move || round_keys(&node, &header, layers, round))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r);
                let _ = reply.send(res);
            }
        }
        Ok(())
    }
}

pub use crate::handles::ElectorHandle;

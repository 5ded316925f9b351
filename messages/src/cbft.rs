//! CBFT's vocabulary: what validators sign (PrepareBlock, PrepareVote, ViewChange), quorum
//! certificates, and the sync messages that fetch missing blocks and QCs.
//!
//! Votes and QCs sign `keccak256(RLP([epoch, view, block hash, block number, block index]))`, so the
//! votes of one block aggregate into one BLS signature; a QC is that aggregate plus a signer
//! bit-array.

use alloy_primitives::{keccak256, B256};
use alloy_rlp::Encodable;

/// What a vote, a proposal and a QC are about: one block in one view slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VoteData {
    /// Epoch (validator-set generation).
    pub epoch: u64,
    /// View number.
    pub view: u64,
    /// Position of the block within its view (0 .. amount).
    pub index: u32,
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
}

impl VoteData {
    /// The 32 bytes a vote signs: keccak256(RLP([epoch, view, hash, number, index])).
    pub fn signing_hash(&self) -> B256 {
        let mut payload = Vec::new();
        self.epoch.encode(&mut payload);
        self.view.encode(&mut payload);
        self.hash.encode(&mut payload);
        self.number.encode(&mut payload);
        self.index.encode(&mut payload);
        let mut out = Vec::with_capacity(payload.len() + 4);
        alloy_rlp::Header {
            list: true,
            payload_length: payload.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&payload);
        keccak256(out)
    }

    /// Whether `self` comes later than `other` in (view, index) order.
    pub fn after(&self, other: &VoteData) -> bool {
        (self.view, self.index) > (other.view, other.index)
    }
}

/// A quorum certificate: the aggregate of at least the threshold of votes on one [`VoteData`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Qc {
    /// What was voted.
    pub data: VoteData,
    /// Signer bit-array, one bit per validator index.
    pub signers: Vec<bool>,
    /// Aggregate signature.
    pub signature: Vec<u8>,
}

impl Qc {
    /// Validator indices that signed.
    pub fn signer_indices(&self) -> Vec<u32> {
        self.signers
            .iter()
            .enumerate()
            .filter(|(_, s)| **s)
            .map(|(i, _)| i as u32)
            .collect()
    }
}

/// A block as consensus sees it: where it sits and what it extends. The block body travels as
/// opaque bytes the executor decodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockInfo {
    /// Slot, number and hash.
    pub data: VoteData,
    /// Parent hash.
    pub parent: B256,
    /// The proposer's validator index.
    pub proposer: u32,
}

/// PrepareBlock: a proposer's block for its view slot, with the QC of its parent (and, for the
/// first block after a view change, the view-change QC that justifies the parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// The block.
    pub block: BlockInfo,
    /// Encoded block (opaque to consensus).
    pub payload: Vec<u8>,
    /// QC of the parent (absent only for a child of the genesis).
    pub parent_qc: Option<Qc>,
    /// View changes that moved the validators to this view (index 0 after a timeout).
    pub view_change_qc: Option<ViewChangeQc>,
    /// The proposer's signature over the block's vote data.
    pub signature: Vec<u8>,
}

/// PrepareVote: a validator's vote for a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// What is voted.
    pub data: VoteData,
    /// The voter's index.
    pub validator: u32,
    /// Signature over `data.signing_hash()`.
    pub signature: Vec<u8>,
}

/// ViewChange: a validator gives up on `view` and reports its highest QC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewChange {
    /// Epoch.
    pub epoch: u64,
    /// The view being left.
    pub view: u64,
    /// The sender's highest QC (None: nothing above the genesis).
    pub highest_qc: Option<Qc>,
    /// Sender.
    pub validator: u32,
    /// Signature over [`ViewChange::signing_hash`].
    pub signature: Vec<u8>,
}

impl ViewChange {
    /// keccak256(RLP([epoch, view, qc hash, qc number, qc view, qc index])).
    pub fn signing_hash(epoch: u64, view: u64, qc: Option<&VoteData>) -> B256 {
        let mut payload = Vec::new();
        epoch.encode(&mut payload);
        view.encode(&mut payload);
        let (h, n, v, i) =
            qc.map(|d| (d.hash, d.number, d.view, d.index))
                .unwrap_or((B256::ZERO, 0, 0, 0));
        h.encode(&mut payload);
        n.encode(&mut payload);
        v.encode(&mut payload);
        i.encode(&mut payload);
        let mut out = Vec::new();
        alloy_rlp::Header {
            list: true,
            payload_length: payload.len(),
        }
        .encode(&mut out);
        out.extend_from_slice(&payload);
        keccak256(out)
    }
}

/// The view changes of a quorum for one view: the next proposer builds on the highest QC in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewChangeQc {
    /// The view that was left.
    pub view: u64,
    /// The signed view changes (at least the threshold, from distinct validators).
    pub changes: Vec<ViewChange>,
}

impl ViewChangeQc {
    /// The highest QC among the changes.
    pub fn highest(&self) -> Option<&Qc> {
        self.changes
            .iter()
            .filter_map(|c| c.highest_qc.as_ref())
            .max_by_key(|q| (q.data.view, q.data.index, q.data.number))
    }
}

/// Every message validators exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CbftMsg {
    /// A proposal.
    Prepare(Box<Proposal>),
    /// A vote.
    Vote(Vote),
    /// A view change.
    ViewChange(Box<ViewChange>),
    /// A QC for a block (sent when it forms, so everyone learns it).
    Qc(Box<Qc>),
    /// Asks for the QC'd blocks above this number.
    SyncRequest {
        /// Highest block number the asker has committed.
        committed: u64,
        /// The asker.
        from: u32,
    },
    /// Blocks with their QCs, oldest first.
    SyncResponse(Vec<SyncBlock>),
}

/// One block of a sync answer: committed ones come from the chain, the rest from consensus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncBlock {
    /// The block.
    pub block: BlockInfo,
    /// Its encoded body.
    pub payload: Vec<u8>,
    /// Its QC, when the sender has it.
    pub qc: Option<Qc>,
}

/// Two conflicting signed messages from one validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Two proposals for one view slot.
    DuplicateProposal(Box<Proposal>, Box<Proposal>),
    /// Two votes for one view slot.
    DuplicateVote(Vote, Vote),
    /// Two view changes for one view.
    DuplicateViewChange(Box<ViewChange>, Box<ViewChange>),
}

impl Evidence {
    /// The validator it convicts.
    pub fn validator(&self) -> u32 {
        match self {
            Evidence::DuplicateProposal(a, _) => a.block.proposer,
            Evidence::DuplicateVote(a, _) => a.validator,
            Evidence::DuplicateViewChange(a, _) => a.validator,
        }
    }
    /// The view it happened in.
    pub fn view(&self) -> u64 {
        match self {
            Evidence::DuplicateProposal(a, _) => a.block.data.view,
            Evidence::DuplicateVote(a, _) => a.data.view,
            Evidence::DuplicateViewChange(a, _) => a.view,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_signing_hash_is_the_rlp_list_of_the_five_fields() {
        let d = VoteData {
            epoch: 1,
            view: 2,
            index: 3,
            number: 4,
            hash: B256::repeat_byte(0xab),
        };
        // RLP: list of [01, 02, a0 ab.., 04, 03]
        let mut want = vec![0xe5, 0x01, 0x02, 0xa0];
        want.extend_from_slice(&[0xab; 32]);
        want.extend_from_slice(&[0x04, 0x03]);
        assert_eq!(d.signing_hash(), keccak256(&want));
        let later = VoteData { index: 4, ..d };
        assert!(later.after(&d) && !d.after(&later));
    }
}

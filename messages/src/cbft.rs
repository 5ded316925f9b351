//! CBFT's vocabulary: what validators sign (PrepareBlock, PrepareVote, ViewChange), quorum
//! certificates, and the sync messages that fetch missing blocks and QCs.
//!
//! Votes and QCs sign `keccak256(RLP([epoch, view, block hash, block number, block index]))`, so the
//! votes of one block aggregate into one BLS signature; a QC is that aggregate plus a signer
//! bit-array.

use crate::rlp::{encode_raw_list, Reader, RlpError};
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
    /// Asks one validator for the blocks above this number.
    SyncRequest {
        /// Highest block number the asker has committed.
        committed: u64,
        /// The asker.
        from: u32,
        /// The validator asked.
        to: u32,
        /// The asker's clock (ms): repeated requests differ, so a flood does not drop them as
        /// duplicates.
        at: u64,
    },
    /// Blocks with their QCs, oldest first.
    SyncResponse(Vec<SyncBlock>),
}

impl CbftMsg {
    /// A one-line description for logs (kind, view, slot, sender).
    pub fn summary(&self) -> String {
        match self {
            CbftMsg::Prepare(p) => format!(
                "prepare v{} #{} i{} by {}{}",
                p.block.data.view,
                p.block.data.number,
                p.block.data.index,
                p.block.proposer,
                if p.view_change_qc.is_some() {
                    " +vcqc"
                } else {
                    ""
                }
            ),
            CbftMsg::Vote(v) => format!(
                "vote v{} #{} i{} by {}",
                v.data.view, v.data.number, v.data.index, v.validator
            ),
            CbftMsg::ViewChange(c) => format!(
                "viewchange v{} by {} qc#{:?}",
                c.view,
                c.validator,
                c.highest_qc.as_ref().map(|q| q.data.number)
            ),
            CbftMsg::Qc(q) => format!("qc v{} #{} i{}", q.data.view, q.data.number, q.data.index),
            CbftMsg::SyncRequest {
                committed,
                from,
                to,
                ..
            } => format!("sync-request committed {committed} from {from} to {to}"),
            CbftMsg::SyncResponse(b) => format!(
                "sync-response {} blocks #{:?}..#{:?}",
                b.len(),
                b.first().map(|x| x.block.data.number),
                b.last().map(|x| x.block.data.number)
            ),
        }
    }
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
    /// The epoch it happened in.
    pub fn epoch(&self) -> u64 {
        match self {
            Evidence::DuplicateProposal(a, _) => a.block.data.epoch,
            Evidence::DuplicateVote(a, _) => a.data.epoch,
            Evidence::DuplicateViewChange(a, _) => a.epoch,
        }
    }
    /// The block index within the view (0 for view changes).
    pub fn index(&self) -> u32 {
        match self {
            Evidence::DuplicateProposal(a, _) => a.block.data.index,
            Evidence::DuplicateVote(a, _) => a.data.index,
            Evidence::DuplicateViewChange(..) => 0,
        }
    }
    /// Its kind as PlatON numbers duplicate-sign types: 1 proposal, 2 vote, 3 view change.
    pub fn kind(&self) -> u8 {
        match self {
            Evidence::DuplicateProposal(..) => 1,
            Evidence::DuplicateVote(..) => 2,
            Evidence::DuplicateViewChange(..) => 3,
        }
    }

    /// Checks that it proves what it claims: one validator, one slot, different content, and both
    /// signatures valid by `verify(validator, signed hash, signature)`.
    pub fn verify(&self, verify: impl Fn(u32, &B256, &[u8]) -> bool) -> Result<(), String> {
        match self {
            Evidence::DuplicateProposal(a, b) => {
                let (da, db) = (a.block.data, b.block.data);
                if a.block.proposer != b.block.proposer
                    || (da.epoch, da.view, da.index) != (db.epoch, db.view, db.index)
                {
                    return Err("the proposals are not for one slot of one proposer".into());
                }
                if da.hash == db.hash {
                    return Err("the proposals do not conflict".into());
                }
                for (p, d) in [(a, da), (b, db)] {
                    if !verify(p.block.proposer, &d.signing_hash(), &p.signature) {
                        return Err("a proposal signature does not verify".into());
                    }
                }
            }
            Evidence::DuplicateVote(a, b) => {
                if a.validator != b.validator
                    || (a.data.epoch, a.data.view, a.data.index)
                        != (b.data.epoch, b.data.view, b.data.index)
                {
                    return Err("the votes are not for one slot of one validator".into());
                }
                if a.data.hash == b.data.hash {
                    return Err("the votes do not conflict".into());
                }
                for v in [a, b] {
                    if !verify(v.validator, &v.data.signing_hash(), &v.signature) {
                        return Err("a vote signature does not verify".into());
                    }
                }
            }
            Evidence::DuplicateViewChange(a, b) => {
                if a.validator != b.validator || (a.epoch, a.view) != (b.epoch, b.view) {
                    return Err("the view changes are not for one view of one validator".into());
                }
                let q = |v: &ViewChange| v.highest_qc.as_ref().map(|q| q.data);
                if q(a) == q(b) {
                    return Err("the view changes do not conflict".into());
                }
                for v in [a, b] {
                    let h = ViewChange::signing_hash(v.epoch, v.view, q(v).as_ref());
                    if !verify(v.validator, &h, &v.signature) {
                        return Err("a view-change signature does not verify".into());
                    }
                }
            }
        }
        Ok(())
    }
}

// ---- wire codec ---------------------------------------------------------------------------------

/// Most validators a signer bit-array may name.
pub const MAX_VALIDATORS: usize = 1024;
/// Most items a sync answer or a view-change QC may carry.
pub const MAX_ITEMS: usize = 4096;

fn enc<T: Encodable + ?Sized>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

fn enc_data(d: &VoteData) -> Vec<u8> {
    encode_raw_list(&[
        enc(&d.epoch),
        enc(&d.view),
        enc(&d.index),
        enc(&d.number),
        enc(&d.hash),
    ])
}

fn dec_data(r: &mut Reader<'_>) -> Result<VoteData, RlpError> {
    let mut l = r.list()?;
    let d = VoteData {
        epoch: l.u64("epoch")?,
        view: l.u64("view")?,
        index: u32::try_from(l.u64("index")?).map_err(|_| RlpError::Overflow("index"))?,
        number: l.u64("number")?,
        hash: B256::from(l.fixed::<32>("hash")?),
    };
    l.finish()?;
    Ok(d)
}

fn enc_qc(q: &Qc) -> Vec<u8> {
    let mut packed = vec![0u8; q.signers.len().div_ceil(8)];
    for (i, s) in q.signers.iter().enumerate() {
        if *s {
            packed[i / 8] |= 1 << (i % 8);
        }
    }
    encode_raw_list(&[
        enc_data(&q.data),
        enc(&(q.signers.len() as u64)),
        enc(packed.as_slice()),
        enc(q.signature.as_slice()),
    ])
}

fn dec_qc_list(mut l: Reader<'_>) -> Result<Qc, RlpError> {
    let data = dec_data(&mut l)?;
    let n = l.u64("signer count")? as usize;
    if n > MAX_VALIDATORS {
        return Err(RlpError::Overflow("signer count"));
    }
    let packed = l.bytes()?;
    if packed.len() != n.div_ceil(8) {
        return Err(RlpError::BadLength {
            field: "signers",
            expected: n.div_ceil(8),
            got: packed.len(),
        });
    }
    let signers: Vec<bool> = (0..n)
        .map(|i| packed[i / 8] & (1 << (i % 8)) != 0)
        .collect();
    let extra = (n..packed.len() * 8).any(|i| packed[i / 8] & (1 << (i % 8)) != 0);
    if extra {
        return Err(RlpError::Malformed("signer bits past the count".into()));
    }
    let signature = l.bytes()?.to_vec();
    l.finish()?;
    Ok(Qc {
        data,
        signers,
        signature,
    })
}

fn enc_opt_qc(q: &Option<Qc>) -> Vec<u8> {
    match q {
        Some(q) => enc_qc(q),
        None => encode_raw_list(&[]),
    }
}

fn dec_opt_qc(r: &mut Reader<'_>) -> Result<Option<Qc>, RlpError> {
    let l = r.list()?;
    if l.is_empty() {
        return Ok(None);
    }
    dec_qc_list(l).map(Some)
}

fn enc_block(b: &BlockInfo) -> Vec<u8> {
    encode_raw_list(&[enc_data(&b.data), enc(&b.parent), enc(&b.proposer)])
}

fn dec_block(r: &mut Reader<'_>) -> Result<BlockInfo, RlpError> {
    let mut l = r.list()?;
    let data = dec_data(&mut l)?;
    let parent = B256::from(l.fixed::<32>("parent")?);
    let proposer = u32::try_from(l.u64("proposer")?).map_err(|_| RlpError::Overflow("proposer"))?;
    l.finish()?;
    Ok(BlockInfo {
        data,
        parent,
        proposer,
    })
}

fn enc_vc(v: &ViewChange) -> Vec<u8> {
    encode_raw_list(&[
        enc(&v.epoch),
        enc(&v.view),
        enc_opt_qc(&v.highest_qc),
        enc(&v.validator),
        enc(v.signature.as_slice()),
    ])
}

fn dec_vc(r: &mut Reader<'_>) -> Result<ViewChange, RlpError> {
    let mut l = r.list()?;
    let v = ViewChange {
        epoch: l.u64("epoch")?,
        view: l.u64("view")?,
        highest_qc: dec_opt_qc(&mut l)?,
        validator: u32::try_from(l.u64("validator")?)
            .map_err(|_| RlpError::Overflow("validator"))?,
        signature: l.bytes()?.to_vec(),
    };
    l.finish()?;
    Ok(v)
}

fn enc_proposal(p: &Proposal) -> Vec<u8> {
    let vcqc = match &p.view_change_qc {
        Some(q) => encode_raw_list(&[
            enc(&q.view),
            encode_raw_list(&q.changes.iter().map(enc_vc).collect::<Vec<_>>()),
        ]),
        None => encode_raw_list(&[]),
    };
    encode_raw_list(&[
        enc_block(&p.block),
        enc(p.payload.as_slice()),
        enc_opt_qc(&p.parent_qc),
        vcqc,
        enc(p.signature.as_slice()),
    ])
}

fn dec_proposal(r: &mut Reader<'_>) -> Result<Proposal, RlpError> {
    let mut l = r.list()?;
    let block = dec_block(&mut l)?;
    let payload = l.bytes()?.to_vec();
    let parent_qc = dec_opt_qc(&mut l)?;
    let mut v = l.list()?;
    let view_change_qc = if v.is_empty() {
        None
    } else {
        let view = v.u64("view")?;
        let mut cl = v.list()?;
        let mut changes = Vec::new();
        while !cl.is_empty() {
            if changes.len() >= MAX_VALIDATORS {
                return Err(RlpError::Overflow("view changes"));
            }
            changes.push(dec_vc(&mut cl)?);
        }
        v.finish()?;
        Some(ViewChangeQc { view, changes })
    };
    let signature = l.bytes()?.to_vec();
    l.finish()?;
    Ok(Proposal {
        block,
        payload,
        parent_qc,
        view_change_qc,
        signature,
    })
}

fn enc_vote(v: &Vote) -> Vec<u8> {
    encode_raw_list(&[
        enc_data(&v.data),
        enc(&v.validator),
        enc(v.signature.as_slice()),
    ])
}

fn dec_vote(l: &mut Reader<'_>) -> Result<Vote, RlpError> {
    let mut v = l.list()?;
    let data = dec_data(&mut v)?;
    let validator =
        u32::try_from(v.u64("validator")?).map_err(|_| RlpError::Overflow("validator"))?;
    let signature = v.bytes()?.to_vec();
    v.finish()?;
    Ok(Vote {
        data,
        validator,
        signature,
    })
}

/// A proposal as evidence carries what its signature covers (the slot and block) and the
/// signature; the body and QCs are not needed to prove a double proposal.
fn enc_signed_block(p: &Proposal) -> Vec<u8> {
    encode_raw_list(&[enc_block(&p.block), enc(p.signature.as_slice())])
}

fn dec_signed_block(r: &mut Reader<'_>) -> Result<Proposal, RlpError> {
    let mut l = r.list()?;
    let block = dec_block(&mut l)?;
    let signature = l.bytes()?.to_vec();
    l.finish()?;
    Ok(Proposal {
        block,
        payload: Vec::new(),
        parent_qc: None,
        view_change_qc: None,
        signature,
    })
}

impl Evidence {
    /// RLP `[kind, first, second]`; proposals without their bodies (see [`Evidence::verify`]).
    pub fn encode(&self) -> Vec<u8> {
        let (a, b) = match self {
            Evidence::DuplicateProposal(a, b) => (enc_signed_block(a), enc_signed_block(b)),
            Evidence::DuplicateVote(a, b) => (enc_vote(a), enc_vote(b)),
            Evidence::DuplicateViewChange(a, b) => (enc_vc(a), enc_vc(b)),
        };
        encode_raw_list(&[enc(&self.kind()), a, b])
    }

    /// Decodes evidence; malformed input is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, RlpError> {
        let mut top = Reader::new(bytes);
        let mut l = top.list()?;
        top.finish()?;
        let kind = l.u64("kind")?;
        let e = match kind {
            1 => Evidence::DuplicateProposal(
                Box::new(dec_signed_block(&mut l)?),
                Box::new(dec_signed_block(&mut l)?),
            ),
            2 => Evidence::DuplicateVote(dec_vote(&mut l)?, dec_vote(&mut l)?),
            3 => {
                Evidence::DuplicateViewChange(Box::new(dec_vc(&mut l)?), Box::new(dec_vc(&mut l)?))
            }
            _ => return Err(RlpError::Malformed(format!("unknown evidence kind {kind}"))),
        };
        l.finish()?;
        Ok(e)
    }
}

impl CbftMsg {
    /// RLP encoding: `[tag, body]`.
    pub fn encode(&self) -> Vec<u8> {
        let (tag, body): (u64, Vec<u8>) = match self {
            CbftMsg::Prepare(p) => (1, enc_proposal(p)),
            CbftMsg::Vote(v) => (2, enc_vote(v)),
            CbftMsg::ViewChange(v) => (3, enc_vc(v)),
            CbftMsg::Qc(q) => (4, enc_qc(q)),
            CbftMsg::SyncRequest {
                committed,
                from,
                to,
                at,
            } => (
                5,
                encode_raw_list(&[enc(committed), enc(from), enc(to), enc(at)]),
            ),
            CbftMsg::SyncResponse(items) => (
                6,
                encode_raw_list(
                    &items
                        .iter()
                        .map(|s| {
                            encode_raw_list(&[
                                enc_block(&s.block),
                                enc(s.payload.as_slice()),
                                enc_opt_qc(&s.qc),
                            ])
                        })
                        .collect::<Vec<_>>(),
                ),
            ),
        };
        encode_raw_list(&[enc(&tag), body])
    }

    /// Decodes a message; malformed input is an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, RlpError> {
        let mut top = Reader::new(bytes);
        let mut l = top.list()?;
        top.finish()?;
        let tag = l.u64("tag")?;
        let msg = match tag {
            1 => CbftMsg::Prepare(Box::new(dec_proposal(&mut l)?)),
            2 => CbftMsg::Vote(dec_vote(&mut l)?),
            3 => CbftMsg::ViewChange(Box::new(dec_vc(&mut l)?)),
            4 => CbftMsg::Qc(Box::new(dec_qc_list(l.list()?)?)),
            5 => {
                let mut v = l.list()?;
                let committed = v.u64("committed")?;
                let from = u32::try_from(v.u64("from")?).map_err(|_| RlpError::Overflow("from"))?;
                let to = u32::try_from(v.u64("to")?).map_err(|_| RlpError::Overflow("to"))?;
                let at = v.u64("at")?;
                v.finish()?;
                CbftMsg::SyncRequest {
                    committed,
                    from,
                    to,
                    at,
                }
            }
            6 => {
                let mut v = l.list()?;
                let mut items = Vec::new();
                while !v.is_empty() {
                    if items.len() >= MAX_ITEMS {
                        return Err(RlpError::Overflow("sync items"));
                    }
                    let mut s = v.list()?;
                    let block = dec_block(&mut s)?;
                    let payload = s.bytes()?.to_vec();
                    let qc = dec_opt_qc(&mut s)?;
                    s.finish()?;
                    items.push(SyncBlock { block, payload, qc });
                }
                CbftMsg::SyncResponse(items)
            }
            _ => {
                return Err(RlpError::Malformed(format!(
                    "unknown CBFT message tag {tag}"
                )))
            }
        };
        l.finish()?;
        Ok(msg)
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

//! CBFT messages on the wire: every message round-trips, and random or mutated bytes never panic
//! the decoder (`PLATON_CBFT_FUZZ_CASES=N` for longer runs).

use alloy_primitives::B256;
use platon_messages::cbft::*;
use rand::{Rng, SeedableRng};

fn data(i: u8) -> VoteData {
    VoteData {
        epoch: 1,
        view: 7 + u64::from(i),
        index: u32::from(i % 5),
        number: 40 + u64::from(i),
        hash: B256::repeat_byte(i),
    }
}

fn qc(i: u8, n: usize) -> Qc {
    Qc {
        data: data(i),
        signers: (0..n).map(|j| j % 3 != 1).collect(),
        signature: vec![0xa5; 96],
    }
}

fn vc(i: u8) -> ViewChange {
    ViewChange {
        epoch: 1,
        view: 9,
        highest_qc: if i % 2 == 0 { Some(qc(i, 7)) } else { None },
        validator: u32::from(i),
        signature: vec![i; 96],
    }
}

pub fn samples() -> Vec<CbftMsg> {
    let block = BlockInfo {
        data: data(3),
        parent: B256::repeat_byte(9),
        proposer: 2,
    };
    vec![
        CbftMsg::Prepare(Box::new(Proposal {
            block: block.clone(),
            payload: vec![0xf9, 1, 2, 3],
            parent_qc: Some(qc(2, 4)),
            view_change_qc: Some(ViewChangeQc {
                view: 9,
                changes: vec![vc(0), vc(1), vc(2)],
            }),
            signature: vec![7; 96],
        })),
        CbftMsg::Prepare(Box::new(Proposal {
            block: block.clone(),
            payload: vec![],
            parent_qc: None,
            view_change_qc: None,
            signature: vec![],
        })),
        CbftMsg::Vote(Vote {
            data: data(4),
            validator: 3,
            signature: vec![1; 96],
        }),
        CbftMsg::ViewChange(Box::new(vc(2))),
        CbftMsg::ViewChange(Box::new(vc(3))),
        CbftMsg::Qc(Box::new(qc(5, 43))),
        CbftMsg::SyncRequest {
            committed: 12,
            from: 1,
            to: 3,
            at: 99,
        },
        CbftMsg::SyncResponse(vec![
            SyncBlock {
                block: block.clone(),
                payload: vec![1],
                qc: Some(qc(3, 4)),
            },
            SyncBlock {
                block,
                payload: vec![],
                qc: None,
            },
        ]),
    ]
}

#[test]
fn every_cbft_message_round_trips() {
    for m in samples() {
        let bytes = m.encode();
        assert_eq!(CbftMsg::decode(&bytes).expect("decode"), m);
        assert!(CbftMsg::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(CbftMsg::decode(&longer).is_err(), "trailing bytes refused");
    }
    // Signer bits beyond the count are refused.
    let mut q = qc(1, 5);
    q.signers = vec![true; 5];
    let mut bytes = CbftMsg::Qc(Box::new(q)).encode();
    let pos = bytes
        .iter()
        .rposition(|b| *b == 0x1f)
        .expect("packed signers");
    bytes[pos] = 0xff;
    assert!(CbftMsg::decode(&bytes).is_err());
}

pub fn evidence_samples() -> Vec<Evidence> {
    let block = |h: u8| BlockInfo {
        data: data(h),
        parent: B256::repeat_byte(9),
        proposer: 2,
    };
    let vote = |h: u8| Vote {
        data: data(h),
        validator: 3,
        signature: vec![h; 96],
    };
    vec![
        Evidence::DuplicateProposal(
            Box::new(Proposal {
                block: block(1),
                payload: vec![],
                parent_qc: None,
                view_change_qc: None,
                signature: vec![1; 96],
            }),
            Box::new(Proposal {
                block: block(2),
                payload: vec![],
                parent_qc: None,
                view_change_qc: None,
                signature: vec![2; 96],
            }),
        ),
        Evidence::DuplicateVote(vote(1), vote(2)),
        Evidence::DuplicateViewChange(Box::new(vc(0)), Box::new(vc(1))),
    ]
}

/// Evidence round-trips; a proposal travels as evidence without its body and QCs (its signature
/// covers neither); malformed evidence is an error.
#[test]
fn evidence_round_trips() {
    for e in evidence_samples() {
        let bytes = e.encode();
        assert_eq!(Evidence::decode(&bytes).expect("decode"), e);
        assert!(Evidence::decode(&bytes[..bytes.len() - 1]).is_err());
    }
    let Evidence::DuplicateProposal(a, b) = &evidence_samples()[0] else {
        unreachable!()
    };
    let mut heavy = (**a).clone();
    heavy.payload = vec![0xaa; 1000];
    heavy.parent_qc = Some(qc(1, 4));
    let e = Evidence::DuplicateProposal(Box::new(heavy), b.clone());
    assert!(e.encode().len() < 400, "no block body in evidence");
    assert_eq!(
        Evidence::decode(&e.encode()).expect("decode"),
        evidence_samples()[0]
    );
    assert!(
        Evidence::decode(&[0xc2, 0x04, 0x80]).is_err(),
        "unknown kind"
    );
}

#[test]
fn cbft_decoder_survives_random_and_mutated_bytes() {
    let cases: usize = std::env::var("PLATON_CBFT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let mut valid: Vec<Vec<u8>> = samples().iter().map(CbftMsg::encode).collect();
    valid.extend(evidence_samples().iter().map(Evidence::encode));
    let mut ok = 0;
    for case in 0..cases {
        let mut input = if case % 4 == 0 {
            (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect()
        } else {
            valid[case % valid.len()].clone()
        };
        for _ in 0..rng.gen_range(1..5) {
            if input.is_empty() {
                break;
            }
            let i = rng.gen_range(0..input.len());
            match rng.gen_range(0..4) {
                0 => input[i] ^= 1 << rng.gen_range(0..8),
                1 => input[i] = rng.gen(),
                2 => input.truncate(i),
                _ => input.insert(i, rng.gen()),
            }
        }
        ok += CbftMsg::decode(&input).is_ok() as usize;
        ok += Evidence::decode(&input).is_ok() as usize;
    }
    println!("{cases} cases, {ok} decoded");
}

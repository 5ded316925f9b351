//! RELOAD codecs: every message round-trips, arbitrary and mutated bytes never panic the decoders,
//! and Wireshark's RELOAD dissector (tshark) decodes the frames we send without complaint.

use platon_crypto::node_key::NodeKey;
use platon_messages::reload::*;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;

fn addr() -> SocketAddr {
    "127.0.0.7:30303".parse().expect("addr")
}

fn signed_value(
    key: &NodeKey,
    resource: &ResourceId,
    kind: u32,
    value: StoredDataValue,
) -> StoredData {
    let identity = SignerIdentity::CertHash {
        hash_alg: 4,
        hash: key.certificate_hash().to_vec(),
    };
    let input = StoredData::signing_input(resource, kind, 1_700_000_000_000, &value, &identity)
        .expect("input");
    StoredData {
        storage_time: 1_700_000_000_000,
        lifetime: 600,
        value,
        signature: Signature {
            algorithm: SignatureAlgorithm::ED25519,
            identity,
            value: key.sign(&input).to_vec(),
        },
    }
}

/// One body of every kind this node sends.
pub fn sample_bodies(key: &NodeKey) -> Vec<Body> {
    let me = NodeId::from_bytes(key.node_id());
    let res = ResourceId::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
    let contacts = encode_contacts(&[
        Contact {
            id: me,
            addr: addr(),
        },
        Contact {
            id: NodeId(42),
            addr: "[::1]:7".parse().expect("v6"),
        },
    ])
    .expect("contacts");
    let dv = |v: &[u8]| DataValue {
        exists: true,
        value: v.to_vec(),
    };
    let attach = Attach {
        ufrag: b"uf".to_vec(),
        password: b"pw".to_vec(),
        role: b"active".to_vec(),
        candidates: vec![IceCandidate {
            addr: addr(),
            overlay_link: 4,
            foundation: b"0".to_vec(),
            priority: 7,
        }],
        send_update_or_application: 1,
    };
    vec![
        Body::PingReq(vec![0; 4]),
        Body::PingAns {
            response_id: 9,
            time: 1_700_000_000_000,
        },
        Body::ProbeReq(vec![1, 2, 3]),
        Body::ProbeAns(vec![(1, 5000), (2, 3), (3, 60)]),
        Body::AttachReq(attach.clone()),
        Body::AttachAns(attach.clone()),
        Body::AppAttachReq(Attach {
            send_update_or_application: 5060,
            ..attach.clone()
        }),
        Body::AppAttachAns(Attach {
            send_update_or_application: 5060,
            ..attach
        }),
        Body::StoreReq {
            resource: res.clone(),
            replica_number: 0,
            kinds: vec![
                KindData {
                    kind: kind::APP_VALUE,
                    generation: 0,
                    values: vec![signed_value(
                        key,
                        &res,
                        kind::APP_VALUE,
                        StoredDataValue::Single(dv(b"v")),
                    )],
                },
                KindData {
                    kind: kind::APP_ARRAY,
                    generation: 0,
                    values: vec![signed_value(
                        key,
                        &res,
                        kind::APP_ARRAY,
                        StoredDataValue::Array {
                            index: 3,
                            value: dv(b"a"),
                        },
                    )],
                },
                KindData {
                    kind: kind::REDIR,
                    generation: 0,
                    values: vec![signed_value(
                        key,
                        &res,
                        kind::REDIR,
                        StoredDataValue::Dictionary {
                            key: me.to_bytes().to_vec(),
                            value: dv(&RedirServiceProvider {
                                node_id: me,
                                namespace: "validator".into(),
                                level: 2,
                                node: 13,
                            }
                            .encode()
                            .expect("redir")),
                        },
                    )],
                },
            ],
        },
        Body::StoreAns(vec![(kind::APP_VALUE, 1, vec![me, NodeId(1)])]),
        Body::FetchReq {
            resource: res.clone(),
            specifiers: vec![
                Specifier {
                    kind: kind::APP_VALUE,
                    generation: 0,
                    selector: Selector::Single,
                },
                Specifier {
                    kind: kind::APP_ARRAY,
                    generation: 0,
                    selector: Selector::Array(vec![(0, 10)]),
                },
                Specifier {
                    kind: kind::REDIR,
                    generation: 0,
                    selector: Selector::Dictionary(vec![me.to_bytes().to_vec()]),
                },
            ],
        },
        Body::FetchAns(vec![KindData {
            kind: kind::APP_VALUE,
            generation: 2,
            values: vec![signed_value(
                key,
                &res,
                kind::APP_VALUE,
                StoredDataValue::Single(dv(b"v")),
            )],
        }]),
        Body::StatReq {
            resource: res.clone(),
            specifiers: vec![Specifier {
                kind: kind::APP_VALUE,
                generation: 0,
                selector: Selector::Single,
            }],
        },
        Body::StatAns(vec![(
            kind::REDIR,
            2,
            vec![StoredMeta {
                storage_time: 5,
                lifetime: 6,
                position: Some(me.to_bytes().to_vec()),
                exists: true,
                value_length: 1,
                hash: vec![0xaa; 32],
            }],
        )]),
        Body::FindReq {
            resource: res.clone(),
            kinds: vec![kind::REDIR],
        },
        Body::FindAns(vec![(kind::REDIR, res)]),
        Body::JoinReq {
            peer: me,
            data: contacts.clone(),
        },
        Body::JoinAns(contacts.clone()),
        Body::LeaveReq {
            peer: me,
            data: Vec::new(),
        },
        Body::LeaveAns,
        Body::UpdateReq { uptime: 12 },
        Body::UpdateAns,
        Body::RouteQueryReq {
            send_update: false,
            destination: Destination::Node(NodeId(77)),
            data: contacts.clone(),
        },
        Body::RouteQueryAns {
            next_peer: NodeId(78),
            data: contacts,
        },
        Body::ConfigUpdateReq {
            kind: 1,
            data: b"<overlay/>".to_vec(),
        },
        Body::ConfigUpdateAns,
        Body::Flood {
            topic: FloodTopic::Transaction,
            height: 127,
            payload: vec![0xf8, 0x6b, 1, 2, 3],
        },
        Body::Error {
            code: error_code::NOT_FOUND,
            info: b"no such resource".to_vec(),
        },
    ]
}

/// A signed message carrying `body`, with a via list and a destination.
pub fn signed_message(key: &NodeKey, body: &Body, txid: u64) -> Message {
    let mut header = ForwardingHeader::new(
        0x706c_6174,
        txid,
        20,
        vec![
            Destination::Node(NodeId(0xfeed)),
            Destination::Resource(ResourceId::from_u128(5)),
        ],
    );
    header.via_list = vec![Destination::Node(NodeId(0xbeef))];
    header.max_response_length = 65_536;
    let mut msg = Message {
        header,
        code: body.code(),
        body: body.encode().expect("encode"),
        extensions: Vec::new(),
        security: SecurityBlock {
            certificates: vec![(0, key.certificate().to_vec())],
            signature: Signature::none(),
        },
    };
    let identity = SignerIdentity::CertHash {
        hash_alg: 4,
        hash: key.certificate_hash().to_vec(),
    };
    let input = Message::signing_input(
        msg.header.overlay,
        txid,
        &msg.contents().expect("contents"),
        &identity,
    )
    .expect("input");
    msg.security.signature = Signature {
        algorithm: SignatureAlgorithm::ED25519,
        identity,
        value: key.sign(&input).to_vec(),
    };
    msg
}

pub fn key() -> NodeKey {
    NodeKey::from_seed(&[3u8; 32]).expect("key")
}

#[test]
fn every_message_round_trips_through_the_wire_format() {
    let key = key();
    for (i, body) in sample_bodies(&key).iter().enumerate() {
        let bytes = body.encode().expect("encode");
        assert_eq!(
            &Body::decode(body.code(), &bytes).expect("decode body"),
            body,
            "{}",
            code::name(body.code())
        );
        let msg = signed_message(&key, body, i as u64 + 1);
        let wire = msg.encode().expect("encode message");
        let back = Message::decode(&wire).expect("decode message");
        assert_eq!(back, msg);
        let frame = Frame::Data {
            sequence: i as u32,
            message: wire.clone(),
        };
        let fb = frame.encode().expect("frame");
        assert_eq!(Frame::needed(&fb).expect("needed"), Some(fb.len()));
        assert_eq!(Frame::decode(&fb).expect("frame decode"), frame);
        // A truncated message or a changed length is refused, never misread.
        assert!(Message::decode(&wire[..wire.len() - 1]).is_err());
    }
    let ack = Frame::Ack {
        ack_sequence: 4,
        received: 0xffff_0000,
    };
    assert_eq!(
        Frame::decode(&ack.encode().expect("ack")).expect("ack back"),
        ack
    );
    assert!(
        Body::decode(0x4444, &[]).is_err(),
        "unknown codes are refused"
    );
    assert!(Body::decode(code::STORE_REQ, &[1, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
}

/// Feeds random and mutated inputs to every decoder; none may panic. CI runs the default count;
/// `PLATON_RELOAD_FUZZ_CASES=N` runs more (and `PLATON_RELOAD_FUZZ_SEED` another seed).
#[test]
fn decoders_survive_random_and_mutated_bytes() {
    let cases: usize = std::env::var("PLATON_RELOAD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let seed: u64 = std::env::var("PLATON_RELOAD_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6940);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let key = key();
    let valid: Vec<(u16, Vec<u8>, Vec<u8>)> = sample_bodies(&key)
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (
                b.code(),
                b.encode().expect("body"),
                signed_message(&key, b, i as u64).encode().expect("msg"),
            )
        })
        .collect();
    let codes: Vec<u16> = valid.iter().map(|v| v.0).chain([0, 5, 0x4444]).collect();
    let mut decoded = 0usize;
    for case in 0..cases {
        let (code, body, msg) = &valid[case % valid.len()];
        let mut input = if case % 5 == 0 {
            let n = rng.gen_range(0..300);
            (0..n).map(|_| rng.gen()).collect()
        } else if case % 2 == 0 {
            body.clone()
        } else {
            msg.clone()
        };
        for _ in 0..rng.gen_range(1..6) {
            if input.is_empty() {
                break;
            }
            let i = rng.gen_range(0..input.len());
            match rng.gen_range(0..5) {
                0 => input[i] ^= 1 << rng.gen_range(0..8),
                1 => input[i] = rng.gen(),
                2 => input.truncate(i),
                3 => input.insert(i, rng.gen()),
                _ => {
                    let j = rng.gen_range(0..input.len());
                    input.swap(i, j);
                }
            }
        }
        let c = if case % 7 == 0 {
            codes[rng.gen_range(0..codes.len())]
        } else {
            *code
        };
        decoded += Body::decode(c, &input).is_ok() as usize;
        decoded += Message::decode(&input).is_ok() as usize;
        let _ = Frame::needed(&input);
        let _ = Frame::decode(&input);
        let _ = decode_contacts(&input);
    }
    println!("{cases} fuzz cases (seed {seed}), {decoded} decoded without error");
}

/// Wraps our frames in TCP packets to port 6084 with `text2pcap` and checks that `tshark`'s
/// RELOAD dissector reads every field we set, without malformed-packet or error warnings.
#[test]
fn tshark_decodes_our_frames() {
    let have = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !have("tshark") || !have("text2pcap") {
        if std::env::var("CI").is_ok() {
            panic!(
                "tshark and text2pcap must be installed in CI (.ci/run installs Debian's tshark)"
            );
        }
        eprintln!("\n!!!!! tshark/text2pcap ABSENT: this test checked NOTHING; apt-get install tshark !!!!!\n");
        return;
    }
    let key = key();
    let dir = tempfile::tempdir().expect("tmp");
    let mut hex = String::new();
    let bodies = sample_bodies(&key);
    for (i, body) in bodies.iter().enumerate() {
        let msg = signed_message(&key, body, 0x1000 + i as u64);
        let frame = Frame::Data {
            sequence: i as u32 + 1,
            message: msg.encode().expect("msg"),
        }
        .encode()
        .expect("frame");
        hex.push_str("0000");
        for b in frame {
            hex.push_str(&format!(" {b:02x}"));
        }
        hex.push('\n');
    }
    let txt = dir.path().join("frames.txt");
    let pcap = dir.path().join("frames.pcap");
    std::fs::write(&txt, hex).expect("write");
    let st = std::process::Command::new("text2pcap")
        .args(["-q", "-T", "40000,6084"])
        .arg(&txt)
        .arg(&pcap)
        .status()
        .expect("text2pcap");
    assert!(st.success());
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .args(["-V", "-o", "tcp.analyze_sequence_numbers:FALSE"])
        .output()
        .expect("tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    if let Ok(dump) = std::env::var("PLATON_TSHARK_DUMP") {
        std::fs::write(dump, text.as_bytes()).expect("dump");
    }
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Vec<&str> = text.split("\nFrame ").collect();
    assert_eq!(packets.len(), bodies.len(), "one packet per frame");
    for (i, (p, body)) in packets.iter().zip(&bodies).enumerate() {
        let name = code::name(body.code());
        for bad in ["Malformed", "Expert Info (Error", "Expert Info (Warning"] {
            assert!(!p.contains(bad), "{name}: tshark reports {bad:?}:\n{p}");
        }
        assert!(
            p.contains("relo_token (uint32): 0xd2454c4f"),
            "{name}: token"
        );
        assert!(
            p.contains("overlay (uint32): 0x706c6174"),
            "{name}: overlay"
        );
        assert!(
            p.contains(&format!("transaction_id (uint32): 0x{:016x}", 0x1000 + i)),
            "{name}: transaction id:\n{p}"
        );
        assert!(
            p.contains("node_id (NodeId): 000000000000000000000000000000000000feed")
                || p.contains("000000000000000000000000feed"),
            "{name}: destination:\n{p}"
        );
        assert!(
            p.contains("hash_alg (HashAlgorithm): SHA256 (4)"),
            "{name}: signer identity"
        );
        assert!(
            p.contains(&hex::encode(key.certificate_hash())),
            "{name}: certificate hash"
        );
        let shown = if body.code() == code::ERROR {
            "message_code (uint16): Error".to_string()
        } else {
            format!("message_code (uint16): {} (", body.code())
        };
        assert!(p.contains(&shown), "{name}: message code:\n{p}");
    }
}

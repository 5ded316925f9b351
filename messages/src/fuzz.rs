//! Entry points of the fuzz targets (`fuzz/`, cargo-fuzz) and of their corpus replay in the test
//! suite: each decodes untrusted bytes the way the node does and checks what must hold. A decoder
//! may refuse its input; it must never panic, and what it accepts must survive a round trip.

use crate::cbft::{CbftMsg, Evidence};
use crate::reload::{Body, Frame, Message};
use crate::transaction::{SignedTransaction, TxRules};
use crate::{Block, Header};

/// The dev chain's rules (chain id 1337), so the seed transactions decode.
const RULES: TxRules = TxRules {
    chain_id: 1337,
    shanghai: true,
};

/// A raw transaction as `eth_sendRawTransaction` and the overlay's transaction flood receive it.
pub fn transaction(data: &[u8]) {
    if let Ok(tx) = SignedTransaction::decode(data, &RULES) {
        assert_eq!(
            &tx.encoded[..],
            data,
            "an accepted transaction keeps its bytes"
        );
        let again = SignedTransaction::decode(&tx.encoded, &RULES).expect("re-decodes");
        assert_eq!(again.hash, tx.hash);
        assert_eq!(again.sender, tx.sender);
    }
}

/// RLP as blocks, headers and receipts arrive from peers and the database.
pub fn rlp(data: &[u8]) {
    let _ = crate::rlp::decode_item(data);
    if let Ok(h) = Header::decode(data) {
        let enc = h.encode();
        assert_eq!(Header::decode(&enc).expect("re-decodes"), h);
    }
    if let Ok(b) = Block::decode(data, &RULES) {
        let enc = b.encode();
        let again = Block::decode(&enc, &RULES).expect("re-decodes");
        assert_eq!(again.hash(), b.hash());
    }
    let _ = crate::block::decode_receipts(data);
}

/// RELOAD frames, messages and bodies as a peer's link delivers them.
pub fn reload(data: &[u8]) {
    let _ = Frame::needed(data);
    if let Ok(f) = Frame::decode(data) {
        let enc = f.encode().expect("an accepted frame encodes");
        assert_eq!(Frame::decode(&enc).expect("re-decodes"), f);
    }
    if let Ok(m) = Message::decode(data) {
        let enc = m.encode().expect("an accepted message encodes");
        assert_eq!(Message::decode(&enc).expect("re-decodes"), m);
        let _ = Body::decode(m.code, &m.body);
    }
    if let Some((code, body)) = data.split_first_chunk::<2>() {
        if let Ok(b) = Body::decode(u16::from_be_bytes(*code), body) {
            let enc = b.encode().expect("an accepted body encodes");
            let again = Body::decode(u16::from_be_bytes(*code), &enc).expect("re-decodes");
            assert_eq!(again, b);
        }
    }
}

/// CBFT messages and evidence as the overlay floods them.
pub fn cbft(data: &[u8]) {
    if let Ok(m) = CbftMsg::decode(data) {
        let enc = m.encode();
        assert_eq!(CbftMsg::decode(&enc).expect("re-decodes"), m);
    }
    if let Ok(e) = Evidence::decode(data) {
        let _ = e.encode();
    }
}

/// The kept corpus (`fuzz/corpus` at the workspace root), found from the running test's package
/// folder (cargo and nextest set `CARGO_MANIFEST_DIR` when a test runs; every package that replays
/// the corpus sits one level below the root), so a build cache made from a checkout elsewhere
/// still reads this checkout's corpus.
pub fn corpus_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../fuzz/corpus")
}

/// Replays the kept corpus of fuzz target `target` (every file of `corpus_root/<target>`) and the
/// given seeds through `f`, then `mutations` seeded mutations of them (byte flips, inserts,
/// deletions, truncations, splices; `PLATON_FUZZ_MUTATIONS` overrides the count). Returns how many
/// inputs ran. Panics, naming the input in hex, when `f` panics; or when the corpus folder is
/// missing or empty (it is kept in the repository).
pub fn replay(
    corpus_root: &std::path::Path,
    target: &str,
    f: fn(&[u8]),
    seeds: &[Vec<u8>],
    mutations: usize,
) -> usize {
    let dir = corpus_root.join(target);
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} is missing: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    assert!(!inputs.is_empty(), "fuzz corpus {} is empty", dir.display());
    inputs.extend(seeds.iter().cloned());
    let mutations = std::env::var("PLATON_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(mutations);
    let run = |input: &[u8]| {
        if std::panic::catch_unwind(|| f(input)).is_err() {
            panic!(
                "fuzz target {target} panicked on input {}",
                hex::encode(input)
            );
        }
    };
    for input in &inputs {
        run(input);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ target.len() as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..mutations {
        let mut m = inputs[next() as usize % inputs.len()].clone();
        for _ in 0..1 + next() % 4 {
            let at = if m.is_empty() {
                0
            } else {
                next() as usize % m.len()
            };
            match next() % 6 {
                0 if !m.is_empty() => m[at] ^= 1 << (next() % 8),
                1 if !m.is_empty() => m[at] = next() as u8,
                2 => m.insert(at, next() as u8),
                3 if !m.is_empty() => {
                    m.remove(at);
                }
                4 => m.truncate(at),
                _ => {
                    let other = &inputs[next() as usize % inputs.len()];
                    let from = next() as usize % (other.len() + 1);
                    m.splice(at..at, other[from..].iter().copied().take(64));
                }
            }
        }
        run(&m);
    }
    inputs.len() + mutations
}

/// Writes `seeds` into `corpus_root/<target>/seed-N` (how the kept corpus was started: the
/// corpus tests do it when `PLATON_FUZZ_WRITE_SEEDS` is set).
pub fn write_seeds(corpus_root: &std::path::Path, target: &str, seeds: &[Vec<u8>]) {
    let dir = corpus_root.join(target);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    for (i, s) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), s).expect("seed");
    }
}

//! Overlay storage (RFC 6940 §7): per resource and Kind, values in their data model (single value,
//! array, dictionary) with storage times, lifetimes and generation counters. Pure: the caller passes
//! the time and has checked the signatures.

use platon_messages::reload::{
    kind, DataModel, KindData, ResourceId, Selector, Specifier, StoredData, StoredDataValue,
    StoredMeta,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Why a store was refused (RELOAD error code and text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRefused {
    /// RELOAD error code.
    pub code: u16,
    /// Explanation.
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
struct KindStore {
    generation: u64,
    /// Keyed by position: empty for single values, the index for arrays, the key for dictionaries.
    values: BTreeMap<Vec<u8>, StoredData>,
}

/// The values this node holds for others.
#[derive(Debug, Clone, Default)]
pub struct DataStore {
    resources: BTreeMap<ResourceId, BTreeMap<u32, KindStore>>,
    /// Certificates of the storers, by SHA-256, so republished values can be verified downstream.
    certificates: BTreeMap<Vec<u8>, Vec<u8>>,
    max_values: usize,
    count: usize,
}

fn position(v: &StoredDataValue) -> Vec<u8> {
    match v {
        StoredDataValue::Single(_) => Vec::new(),
        StoredDataValue::Array { index, .. } => index.to_be_bytes().to_vec(),
        StoredDataValue::Dictionary { key, .. } => key.clone(),
    }
}

fn expired(d: &StoredData, now: u64) -> bool {
    d.storage_time
        .saturating_add(u64::from(d.lifetime).saturating_mul(1000))
        <= now
}

impl DataStore {
    /// An empty store holding at most `max_values` values in all.
    pub fn new(max_values: usize) -> Self {
        Self {
            max_values,
            ..Default::default()
        }
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of resources held.
    pub fn resources(&self) -> usize {
        self.resources.len()
    }

    /// Stores values; a value replaces the one at its position unless that one is newer. Returns
    /// the new generation of each Kind.
    pub fn store(
        &mut self,
        resource: &ResourceId,
        kinds: &[KindData],
        now: u64,
    ) -> Result<Vec<(u32, u64)>, StoreRefused> {
        for k in kinds {
            let model = kind::model(k.kind).ok_or_else(|| StoreRefused {
                code: platon_messages::reload::error_code::UNKNOWN_KIND,
                reason: format!("unknown kind {}", k.kind),
            })?;
            if let Some(v) = k.values.iter().find(|v| v.value.model() != model) {
                return Err(StoreRefused {
                    code: platon_messages::reload::error_code::INVALID_MESSAGE,
                    reason: format!("a {:?} value for a {:?} kind", v.value.model(), model),
                });
            }
        }
        let mut out = Vec::new();
        for k in kinds {
            let ks = self
                .resources
                .entry(resource.clone())
                .or_default()
                .entry(k.kind)
                .or_default();
            for v in &k.values {
                if expired(v, now) {
                    continue;
                }
                let mut v = v.clone();
                if let StoredDataValue::Array { index, .. } = &mut v.value {
                    if *index == u32::MAX {
                        let next = ks
                            .values
                            .keys()
                            .filter_map(|p| <[u8; 4]>::try_from(p.as_slice()).ok())
                            .map(|p| u32::from_be_bytes(p).saturating_add(1))
                            .max()
                            .unwrap_or(0);
                        *index = next;
                    }
                }
                let pos = position(&v.value);
                match ks.values.get(&pos) {
                    Some(old) if old.storage_time > v.storage_time => continue,
                    Some(_) => {}
                    None => {
                        if self.count >= self.max_values {
                            return Err(StoreRefused {
                                code: platon_messages::reload::error_code::FORBIDDEN,
                                reason: format!("store is full ({} values)", self.max_values),
                            });
                        }
                        self.count += 1;
                    }
                }
                ks.values.insert(pos, v);
            }
            ks.generation = ks.generation.saturating_add(1);
            out.push((k.kind, ks.generation));
        }
        Ok(out)
    }

    /// The unexpired values `specifiers` select.
    pub fn fetch(
        &self,
        resource: &ResourceId,
        specifiers: &[Specifier],
        now: u64,
    ) -> Vec<KindData> {
        let Some(kinds) = self.resources.get(resource) else {
            return specifiers
                .iter()
                .map(|s| KindData {
                    kind: s.kind,
                    generation: 0,
                    values: Vec::new(),
                })
                .collect();
        };
        specifiers
            .iter()
            .map(|s| {
                let Some(ks) = kinds.get(&s.kind) else {
                    return KindData {
                        kind: s.kind,
                        generation: 0,
                        values: Vec::new(),
                    };
                };
                let values = ks
                    .values
                    .iter()
                    .filter(|(_, v)| !expired(v, now))
                    .filter(|(pos, _)| match &s.selector {
                        Selector::Single => true,
                        Selector::Array(ranges) => {
                            let Ok(p) = <[u8; 4]>::try_from(pos.as_slice()) else {
                                return false;
                            };
                            let i = u32::from_be_bytes(p);
                            ranges.iter().any(|(a, b)| (*a..=*b).contains(&i))
                        }
                        Selector::Dictionary(keys) => keys.is_empty() || keys.contains(pos),
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                KindData {
                    kind: s.kind,
                    generation: ks.generation,
                    values,
                }
            })
            .collect()
    }

    /// Metadata of the selected values (Stat).
    pub fn stat(
        &self,
        resource: &ResourceId,
        specifiers: &[Specifier],
        now: u64,
    ) -> Vec<(u32, u64, Vec<StoredMeta>)> {
        self.fetch(resource, specifiers, now)
            .into_iter()
            .map(|k| {
                let metas = k
                    .values
                    .iter()
                    .map(|v| {
                        let dv = v.value.value();
                        let position = match (&v.value, kind::model(k.kind)) {
                            (_, Some(DataModel::Single)) => None,
                            (sv, _) => Some(position(sv)),
                        };
                        StoredMeta {
                            storage_time: v.storage_time,
                            lifetime: v.lifetime,
                            position,
                            exists: dv.exists,
                            value_length: dv.value.len() as u32,
                            hash: Sha256::digest(&dv.value).to_vec(),
                        }
                    })
                    .collect();
                (k.kind, k.generation, metas)
            })
            .collect()
    }

    /// The resource of `kind` closest to `target` (Find).
    pub fn closest_of_kind(&self, target: u128, kind: u32) -> Option<ResourceId> {
        self.resources
            .iter()
            .filter(|(_, ks)| ks.contains_key(&kind))
            .min_by_key(|(r, _)| r.position() ^ target)
            .map(|(r, _)| r.clone())
    }

    /// Keeps the certificates that signed stored values (they travel with republished values).
    pub fn keep_certificates(&mut self, certificates: &[(u8, Vec<u8>)]) {
        for (_, c) in certificates {
            self.certificates
                .insert(Sha256::digest(c).to_vec(), c.clone());
        }
    }

    /// The certificates that signed these values (those this node knows).
    pub fn certificates_for(&self, kinds: &[KindData]) -> Vec<(u8, Vec<u8>)> {
        let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
        for k in kinds {
            for v in &k.values {
                if let platon_messages::reload::SignerIdentity::CertHash { hash, .. } =
                    &v.signature.identity
                {
                    if let Some(c) = self.certificates.get(hash) {
                        if !out.iter().any(|(_, o)| o == c) {
                            out.push((0, c.clone()));
                        }
                    }
                }
            }
        }
        out
    }

    /// Drops expired values, empty resources and certificates no value needs.
    pub fn expire(&mut self, now: u64) -> usize {
        let mut dropped = 0;
        for kinds in self.resources.values_mut() {
            for ks in kinds.values_mut() {
                let before = ks.values.len();
                ks.values.retain(|_, v| !expired(v, now));
                dropped += before - ks.values.len();
            }
            kinds.retain(|_, ks| !ks.values.is_empty());
        }
        self.resources.retain(|_, k| !k.is_empty());
        self.count -= dropped;
        let used: std::collections::BTreeSet<Vec<u8>> = self
            .resources
            .values()
            .flat_map(|kinds| kinds.values())
            .flat_map(|ks| ks.values.values())
            .filter_map(|v| match &v.signature.identity {
                platon_messages::reload::SignerIdentity::CertHash { hash, .. } => {
                    Some(hash.clone())
                }
                _ => None,
            })
            .collect();
        self.certificates.retain(|h, _| used.contains(h));
        dropped
    }

    /// Every resource with all its unexpired values (for republishing to the closest nodes).
    pub fn all(&self, now: u64) -> Vec<(ResourceId, Vec<KindData>)> {
        self.resources
            .iter()
            .map(|(r, kinds)| {
                let data = kinds
                    .iter()
                    .map(|(k, ks)| KindData {
                        kind: *k,
                        generation: ks.generation,
                        values: ks
                            .values
                            .values()
                            .filter(|v| !expired(v, now))
                            .cloned()
                            .collect(),
                    })
                    .collect();
                (r.clone(), data)
            })
            .collect()
    }

    /// Forgets a resource (it moved to closer nodes).
    pub fn remove(&mut self, resource: &ResourceId) {
        if let Some(kinds) = self.resources.remove(resource) {
            self.count -= kinds.values().map(|k| k.values.len()).sum::<usize>();
        }
    }
}

/// Merges answers from several replicas: per Kind and position, the newest value wins.
pub fn merge(answers: impl IntoIterator<Item = Vec<KindData>>) -> Vec<KindData> {
    let mut by_kind: BTreeMap<u32, (u64, BTreeMap<Vec<u8>, StoredData>)> = BTreeMap::new();
    for answer in answers {
        for k in answer {
            let e = by_kind.entry(k.kind).or_default();
            e.0 = e.0.max(k.generation);
            for v in k.values {
                let pos = position(&v.value);
                match e.1.get(&pos) {
                    Some(old) if old.storage_time >= v.storage_time => {}
                    _ => {
                        e.1.insert(pos, v);
                    }
                }
            }
        }
    }
    by_kind
        .into_iter()
        .map(|(kind, (generation, values))| KindData {
            kind,
            generation,
            values: values.into_values().collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use platon_messages::reload::{DataValue, Signature};

    fn sd(time: u64, value: StoredDataValue) -> StoredData {
        StoredData {
            storage_time: time,
            lifetime: 10,
            value,
            signature: Signature::none(),
        }
    }
    fn dv(v: &[u8]) -> DataValue {
        DataValue {
            exists: true,
            value: v.to_vec(),
        }
    }

    #[test]
    fn data_models_selectors_newest_wins_and_expiry() {
        let mut s = DataStore::new(100);
        let r = ResourceId::from_u128(1);
        let arr = |i, v: &[u8], t| {
            sd(
                t,
                StoredDataValue::Array {
                    index: i,
                    value: dv(v),
                },
            )
        };
        let kd = |kind, values| KindData {
            kind,
            generation: 0,
            values,
        };
        s.store(
            &r,
            &[kd(
                kind::APP_ARRAY,
                vec![arr(0, b"a", 1_000), arr(u32::MAX, b"b", 1_000)],
            )],
            1_000,
        )
        .expect("store");
        let dict = |k: &[u8], v: &[u8], t| {
            sd(
                t,
                StoredDataValue::Dictionary {
                    key: k.to_vec(),
                    value: dv(v),
                },
            )
        };
        s.store(
            &r,
            &[kd(
                kind::APP_DICTIONARY,
                vec![dict(b"x", b"1", 5_000), dict(b"y", b"2", 5_000)],
            )],
            5_000,
        )
        .expect("store");
        // An older write loses; a newer one wins.
        s.store(
            &r,
            &[kd(kind::APP_DICTIONARY, vec![dict(b"x", b"old", 4_000)])],
            5_000,
        )
        .expect("store");
        s.store(
            &r,
            &[kd(kind::APP_DICTIONARY, vec![dict(b"y", b"new", 6_000)])],
            6_000,
        )
        .expect("store");
        let got = s.fetch(
            &r,
            &[
                Specifier {
                    kind: kind::APP_ARRAY,
                    generation: 0,
                    selector: Selector::Array(vec![(1, 1)]),
                },
                Specifier {
                    kind: kind::APP_DICTIONARY,
                    generation: 0,
                    selector: Selector::Dictionary(vec![]),
                },
            ],
            6_000,
        );
        assert_eq!(
            got[0].values,
            vec![arr(1, b"b", 1_000)],
            "append went to index 1"
        );
        let vals: Vec<&[u8]> = got[1]
            .values
            .iter()
            .map(|v| v.value.value().value.as_slice())
            .collect();
        assert_eq!(vals, vec![b"1".as_slice(), b"new".as_slice()]);
        // A value of the wrong model is refused; nothing changes.
        assert!(s
            .store(&r, &[kd(kind::APP_VALUE, vec![arr(0, b"z", 6_000)])], 6_000)
            .is_err());
        assert_eq!(s.len(), 4);
        let stat = s.stat(
            &r,
            &[Specifier {
                kind: kind::APP_DICTIONARY,
                generation: 0,
                selector: Selector::Dictionary(vec![b"x".to_vec()]),
            }],
            6_000,
        );
        assert_eq!(stat[0].2.len(), 1);
        assert_eq!(stat[0].2[0].value_length, 1);
        // Array values expire at 1 + 10 s, dictionary ones at 5/6 + 10 s.
        assert_eq!(s.expire(12_000), 2);
        assert_eq!(s.expire(20_000), 2);
        assert!(s.is_empty());
    }
}

//! BIP-39 seeds and BIP-32 hardened/normal derivation, enough to derive Ethereum keys from a
//! mnemonic along `m/44'/60'/0'/0/i` (the paths that anvil, hardhat and MetaMask use).

use crate::{CryptoError, SecretKey};
use hmac::{Hmac, Mac};
use secp256k1::{PublicKey, Scalar, SECP256K1};
use sha2::Sha512;

/// The standard test mnemonic whose first ten keys every Ethereum dev tool funds.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

const HARDENED: u32 = 0x8000_0000;

/// BIP-39 seed: PBKDF2-HMAC-SHA512 over the NFKD mnemonic (ASCII here) with salt "mnemonic" + passphrase.
pub fn mnemonic_to_seed(mnemonic: &str, passphrase: &str) -> [u8; 64] {
    let words: Vec<&str> = mnemonic.split_whitespace().collect();
    let normalised = words.join(" ");
    let salt = format!("mnemonic{passphrase}");
    let mut seed = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(normalised.as_bytes(), salt.as_bytes(), 2048, &mut seed);
    seed
}

fn hmac512(key: &[u8], parts: &[&[u8]]) -> [u8; 64] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match Hmac::<Sha512>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn parse_path(path: &str) -> Result<Vec<u32>, CryptoError> {
    let bad = |reason| CryptoError::InvalidPath {
        path: path.to_string(),
        reason,
    };
    let mut parts = path.split('/');
    if parts.next() != Some("m") {
        return Err(bad("must start with m/"));
    }
    parts
        .map(|p| {
            let (num, hardened) = match p.strip_suffix('\'').or_else(|| p.strip_suffix('h')) {
                Some(n) => (n, true),
                None => (p, false),
            };
            let index: u32 = num.parse().map_err(|_| bad("component is not a number"))?;
            if index >= HARDENED {
                return Err(bad("component index too large"));
            }
            Ok(if hardened { index | HARDENED } else { index })
        })
        .collect()
}

/// Derives the secret key at a BIP-32 path such as `m/44'/60'/0'/0/3` from a BIP-39 seed.
pub fn derive_path(seed: &[u8], path: &str) -> Result<SecretKey, CryptoError> {
    let master = hmac512(b"Bitcoin seed", &[seed]);
    let mut key = secp256k1::SecretKey::from_slice(&master[..32])
        .map_err(|_| CryptoError::InvalidSecretKey)?;
    let mut chain = [0u8; 32];
    chain.copy_from_slice(&master[32..]);
    for index in parse_path(path)? {
        let i = if index & HARDENED != 0 {
            hmac512(&chain, &[&[0u8], &key.secret_bytes(), &index.to_be_bytes()])
        } else {
            let public = PublicKey::from_secret_key(SECP256K1, &key).serialize();
            hmac512(&chain, &[&public, &index.to_be_bytes()])
        };
        let mut il = [0u8; 32];
        il.copy_from_slice(&i[..32]);
        let tweak = Scalar::from_be_bytes(il).map_err(|_| CryptoError::InvalidSecretKey)?;
        key = key
            .add_tweak(&tweak)
            .map_err(|_| CryptoError::InvalidSecretKey)?;
        chain.copy_from_slice(&i[32..]);
    }
    Ok(SecretKey::from_inner(key))
}

/// The first `count` keys of a mnemonic along `m/44'/60'/0'/0/i`.
pub fn derive_dev_keys(mnemonic: &str, count: u32) -> Result<Vec<SecretKey>, CryptoError> {
    let seed = mnemonic_to_seed(mnemonic, "");
    (0..count)
        .map(|i| derive_path(&seed, &format!("m/44'/60'/0'/0/{i}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mnemonic_gives_the_keys_anvil_prints() {
        let keys = derive_dev_keys(DEV_MNEMONIC, 3).expect("derivation");
        assert_eq!(
            hex::encode(keys[0].to_bytes()),
            "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        );
        assert_eq!(
            keys[0].address().to_checksum(None),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(
            hex::encode(keys[1].to_bytes()),
            "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
        );
        assert_eq!(
            keys[2].address().to_checksum(None),
            "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        let seed = mnemonic_to_seed(DEV_MNEMONIC, "");
        assert!(derive_path(&seed, "44'/60'").is_err());
        assert!(derive_path(&seed, "m/x").is_err());
        assert!(derive_path(&seed, "m/4294967295").is_err());
    }
}

//! Sealed refresh tokens: what the desktop holds instead of Genesys Cloud's refresh token.
//!
//! An envelope is `asb1.<key id>.<base64url(nonce || ciphertext)>` (base64url without padding).
//! The ciphertext is XChaCha20-Poly1305 over `issued_at (u64 BE, unix seconds) ||
//! client_id length (u16 BE) || client_id || refresh token`, with `asb1.<key id>` as associated
//! data, so the header cannot be swapped onto another body. XChaCha's 192-bit nonce is drawn at
//! random for every envelope: replicas share no counter and never need to.
//!
//! The key id is derived from the key itself (a truncated SHA-256), so IT only manages key
//! files, and an envelope names the key that opens it. A broker knows two keys at most: the
//! current one (seals and opens) and the previous one (only opens), which is how keys rotate
//! without signing every agent out at once.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

/// The envelope format's version prefix. A new layout gets a new prefix.
pub const ENVELOPE_PREFIX: &str = "asb1.";
/// Bytes in a sealing key.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Length of a key id: base64url of 6 bytes of SHA-256.
const KEY_ID_LEN: usize = 8;
/// An envelope longer than this is refused before any decoding (Genesys refresh tokens are far
/// shorter; this only bounds the work an attacker can cause).
const MAX_ENVELOPE_LEN: usize = 8 * 1024;

/// A 32-byte sealing key. `Debug` shows only its key id.
pub struct SealingKey {
    bytes: SecretBox<[u8; KEY_LEN]>,
    id: String,
}

impl Clone for SealingKey {
    fn clone(&self) -> Self {
        Self::from_bytes(*self.bytes.expose_secret())
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        // Domain-separated so the id can never equal a hash of the key computed elsewhere.
        let digest = Sha256::new()
            .chain_update(b"agent-shell-broker key id\0")
            .chain_update(bytes)
            .finalize();
        let id = URL_SAFE_NO_PAD.encode(&digest[..6]);
        Self {
            bytes: SecretBox::new(Box::new(bytes)),
            id,
        }
    }

    /// A fresh random key (tests, `agent-shell-broker generate-key`).
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// Parses key file contents: 32 random bytes as base64 (standard or URL-safe, padded or
    /// not) or hex, surrounding whitespace ignored; or exactly 32 raw bytes that are not text.
    /// Text that is not such an encoding (a passphrase), an encoding of another length, and
    /// bytes that are plainly not random (text, a repeated pattern) are refused.
    pub fn parse(contents: &[u8]) -> Result<Self, KeyError> {
        if let Ok(raw) = <[u8; KEY_LEN]>::try_from(contents) {
            // Random bytes are text with odds of about 1 in 10^14: this is a passphrase.
            if is_text(&raw) {
                return Err(KeyError::Passphrase);
            }
            return check_random(raw);
        }
        let text = std::str::from_utf8(contents)
            .map_err(|_| KeyError::Format)?
            .trim();
        let decoded = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text)
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE.decode(text))
                .or_else(|_| URL_SAFE_NO_PAD.decode(text))
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .ok()
        };
        let bytes = decoded.ok_or(KeyError::Format)?;
        let raw = <[u8; KEY_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| KeyError::Length(bytes.len()))?;
        check_random(raw)
    }

    /// Reads and parses a key file.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let contents = std::fs::read(path).map_err(|e| KeyError::Read(e.to_string()))?;
        Self::parse(&contents)
    }

    /// The public name of this key (8 base64url characters), written into every envelope.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(*self.bytes.expose_secret()))
    }
}

/// Printable ASCII or other readable UTF-8 with whitespace: what a typed passphrase is.
fn is_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .is_ok_and(|t| t.chars().all(|c| !c.is_control() || c.is_whitespace()))
}

/// Refuses keys that are plainly not random: text (a passphrase, base64'd) or few distinct
/// bytes (32 random bytes have about 30; fewer than 16 has odds far below 10^-20).
fn check_random(raw: [u8; KEY_LEN]) -> Result<SealingKey, KeyError> {
    let mut seen = [false; 256];
    for b in raw {
        seen[usize::from(b)] = true;
    }
    let distinct = seen.iter().filter(|s| **s).count();
    if is_text(&raw) || distinct < 16 {
        return Err(KeyError::NotRandom);
    }
    Ok(SealingKey::from_bytes(raw))
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Why a key file could not be used. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file: {0}")]
    Read(String),
    #[error(
        "the key file must hold 32 random bytes as base64 or hex; make one with `agent-shell-broker generate-key > FILE` or `openssl rand -base64 32 > FILE`"
    )]
    Format,
    #[error(
        "the key file holds {0} bytes; a sealing key is exactly 32 random bytes, as base64 or hex (`openssl rand -base64 32 > FILE`)"
    )]
    Length(usize),
    #[error(
        "the key file holds 32 characters of text, which looks like a passphrase, not a key; make a random key with `agent-shell-broker generate-key > FILE` or `openssl rand -base64 32 > FILE`"
    )]
    Passphrase,
    #[error(
        "the key file decodes to 32 bytes that are not random (text or a repeated pattern); make a random key with `agent-shell-broker generate-key > FILE` or `openssl rand -base64 32 > FILE`"
    )]
    NotRandom,
}

/// The keys a broker seals and opens envelopes with.
#[derive(Clone, Debug)]
pub struct SealingKeys {
    /// Seals every new envelope and opens envelopes it sealed.
    pub current: SealingKey,
    /// Only opens envelopes sealed before the last rotation.
    pub previous: Option<SealingKey>,
}

impl SealingKeys {
    pub fn new(current: SealingKey) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    pub fn with_previous(mut self, previous: SealingKey) -> Self {
        self.previous = Some(previous);
        self
    }

    fn by_id(&self, id: &str) -> Option<&SealingKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == id)
    }
}

/// The contents of an opened envelope.
pub struct Unsealed {
    /// Genesys Cloud's refresh token, to be sent upstream and nowhere else.
    pub refresh_token: SecretString,
    pub client_id: String,
    pub issued_at: SystemTime,
    /// Id of the key that opened it (logged: it says whether the previous key is still in use).
    pub key_id: String,
}

impl fmt::Debug for Unsealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unsealed")
            .field("refresh_token", &oauth_wire::REDACTED)
            .field("client_id", &self.client_id)
            .field("issued_at", &self.issued_at)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Sealing only fails on inputs no real token response has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the client id is longer than 65535 bytes")]
    ClientIdTooLong,
    #[error("the refresh token is empty or too long to seal")]
    BadToken,
}

/// Why an envelope could not be opened. Every variant becomes `invalid_grant`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsealError {
    /// Not an envelope of this format at all (e.g. a raw refresh token).
    #[error("the refresh token was not issued by this token broker")]
    NotAnEnvelope,
    /// Sealed with a key this broker no longer (or never) had.
    #[error("the token broker's sealing key was rotated since this sign-in; sign in again")]
    UnknownKey,
    /// The key id is known but the envelope does not authenticate: altered, or forged.
    #[error("the refresh token is not valid: it was altered or sealed elsewhere")]
    Tampered,
    /// A valid envelope, but for another OAuth client.
    #[error("the refresh token was issued to another client")]
    WrongClient,
}

impl UnsealError {
    /// A short stable name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotAnEnvelope => "not_an_envelope",
            Self::UnknownKey => "unknown_key",
            Self::Tampered => "tampered",
            Self::WrongClient => "wrong_client",
        }
    }
}

/// Seals `refresh_token` for `client_id` with the current key.
pub fn seal(
    keys: &SealingKeys,
    client_id: &str,
    refresh_token: &SecretString,
    issued_at: SystemTime,
) -> Result<String, SealError> {
    let token = refresh_token.expose_secret().as_bytes();
    if token.is_empty() || token.len() > MAX_ENVELOPE_LEN / 2 {
        return Err(SealError::BadToken);
    }
    let id_len = u16::try_from(client_id.len()).map_err(|_| SealError::ClientIdTooLong)?;
    let secs = issued_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    // The plaintext holds the token: wrap it so it is zeroed when dropped.
    let mut plaintext = Vec::with_capacity(10 + client_id.len() + token.len());
    plaintext.extend_from_slice(&secs.to_be_bytes());
    plaintext.extend_from_slice(&id_len.to_be_bytes());
    plaintext.extend_from_slice(client_id.as_bytes());
    plaintext.extend_from_slice(token);
    let plaintext = SecretBox::new(Box::new(plaintext));

    let key = &keys.current;
    let header = format!("{ENVELOPE_PREFIX}{}", key.id);
    let nonce: [u8; NONCE_LEN] = rand::random();
    let ciphertext = key
        .cipher()
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext.expose_secret(),
                aad: header.as_bytes(),
            },
        )
        .map_err(|_| SealError::BadToken)?;
    let mut body = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    body.extend_from_slice(&nonce);
    body.extend_from_slice(&ciphertext);
    Ok(format!("{header}.{}", URL_SAFE_NO_PAD.encode(body)))
}

/// Opens an envelope sealed by [`seal`] with either key, and checks that it was issued to
/// `expected_client_id`.
pub fn unseal(
    keys: &SealingKeys,
    envelope: &str,
    expected_client_id: &str,
) -> Result<Unsealed, UnsealError> {
    if envelope.len() > MAX_ENVELOPE_LEN {
        return Err(UnsealError::NotAnEnvelope);
    }
    let rest = envelope
        .strip_prefix(ENVELOPE_PREFIX)
        .ok_or(UnsealError::NotAnEnvelope)?;
    let (key_id, body) = rest.split_once('.').ok_or(UnsealError::NotAnEnvelope)?;
    if key_id.len() != KEY_ID_LEN {
        return Err(UnsealError::NotAnEnvelope);
    }
    let key = keys.by_id(key_id).ok_or(UnsealError::UnknownKey)?;
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| UnsealError::Tampered)?;
    if body.len() < NONCE_LEN + TAG_LEN {
        return Err(UnsealError::Tampered);
    }
    let (nonce, ciphertext) = body.split_at(NONCE_LEN);
    let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| UnsealError::Tampered)?;
    let header = format!("{ENVELOPE_PREFIX}{key_id}");
    let plaintext = key
        .cipher()
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: header.as_bytes(),
            },
        )
        .map_err(|_| UnsealError::Tampered)?;
    let plaintext = SecretBox::new(Box::new(plaintext));
    let p = plaintext.expose_secret();
    // Authenticated, so a malformed layout means a bug or a different format: still refused.
    let secs = p
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or(UnsealError::Tampered)?;
    let id_len = p
        .get(8..10)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(|b| usize::from(u16::from_be_bytes(b)))
        .ok_or(UnsealError::Tampered)?;
    let client_id = p
        .get(10..10 + id_len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .ok_or(UnsealError::Tampered)?;
    let token = p
        .get(10 + id_len..)
        .and_then(|b| std::str::from_utf8(b).ok())
        .filter(|t| !t.is_empty())
        .ok_or(UnsealError::Tampered)?;
    // Client ids are public: a plain comparison reveals nothing worth timing.
    if client_id != expected_client_id {
        return Err(UnsealError::WrongClient);
    }
    Ok(Unsealed {
        refresh_token: SecretString::from(token.to_owned()),
        client_id: client_id.to_owned(),
        issued_at: UNIX_EPOCH + Duration::from_secs(secs),
        key_id: key.id.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn token(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn round_trip_with_current_and_previous_key() {
        let old = SealingKey::generate();
        let keys_then = SealingKeys::new(old.clone());
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let envelope = seal(&keys_then, "client-a", &token("rt-123"), now).unwrap();
        assert!(
            envelope.starts_with(&format!("asb1.{}.", old.id())),
            "{envelope}"
        );
        assert!(!envelope.contains("rt-123"));
        assert!(!envelope.contains('='));

        let opened = unseal(&keys_then, &envelope, "client-a").unwrap();
        assert_eq!(opened.refresh_token.expose_secret(), "rt-123");
        assert_eq!(opened.client_id, "client-a");
        assert_eq!(opened.issued_at, now);
        assert_eq!(opened.key_id, old.id());

        // Rotated: the old key is now the previous one and still opens.
        let keys_now = SealingKeys::new(SealingKey::generate()).with_previous(old);
        let opened = unseal(&keys_now, &envelope, "client-a").unwrap();
        assert_eq!(opened.refresh_token.expose_secret(), "rt-123");
        // Rotated twice: gone.
        let keys_later =
            SealingKeys::new(SealingKey::generate()).with_previous(keys_now.current.clone());
        assert_eq!(
            unseal(&keys_later, &envelope, "client-a").unwrap_err(),
            UnsealError::UnknownKey
        );
    }

    #[test]
    fn every_seal_differs() {
        let keys = SealingKeys::new(SealingKey::generate());
        let a = seal(&keys, "c", &token("same"), SystemTime::now()).unwrap();
        let b = seal(&keys, "c", &token("same"), SystemTime::now()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn refuses_tampered_foreign_and_misdirected_envelopes() {
        let keys = SealingKeys::new(SealingKey::generate());
        let envelope = seal(&keys, "client-a", &token("rt"), SystemTime::now()).unwrap();

        assert_eq!(
            unseal(&keys, &envelope, "client-b").unwrap_err(),
            UnsealError::WrongClient
        );
        // Flip one character of the body (keep it valid base64url).
        let mut chars: Vec<char> = envelope.chars().collect();
        let i = chars.len() - 5;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            unseal(&keys, &tampered, "client-a").unwrap_err(),
            UnsealError::Tampered
        );
        // Swap the key id of another key's envelope for ours: the AAD no longer matches.
        let other = SealingKeys::new(SealingKey::generate());
        let foreign = seal(&other, "client-a", &token("rt"), SystemTime::now()).unwrap();
        assert_eq!(
            unseal(&keys, &foreign, "client-a").unwrap_err(),
            UnsealError::UnknownKey
        );
        let relabelled = foreign.replacen(other.current.id(), keys.current.id(), 1);
        assert_eq!(
            unseal(&keys, &relabelled, "client-a").unwrap_err(),
            UnsealError::Tampered
        );
        for junk in [
            "",
            "raw-refresh-token",
            "asb1.",
            "asb1.short.x",
            "asb2.AAAAAAAA.AAAA",
            &format!("asb1.{}.!!!", keys.current.id()),
            &format!("asb1.{}.AAAA", keys.current.id()),
            &"a".repeat(MAX_ENVELOPE_LEN + 1),
        ] {
            assert!(unseal(&keys, junk, "client-a").is_err(), "{junk}");
        }
    }

    #[test]
    fn parses_key_files_in_three_encodings() {
        let raw: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x9c);
        let id = SealingKey::from_bytes(raw).id().to_owned();
        assert_eq!(SealingKey::parse(&raw).unwrap().id(), id);
        let b64 = format!("{}\n", STANDARD.encode(raw));
        assert_eq!(SealingKey::parse(b64.as_bytes()).unwrap().id(), id);
        let b64url = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(SealingKey::parse(b64url.as_bytes()).unwrap().id(), id);
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(SealingKey::parse(hex.as_bytes()).unwrap().id(), id);
        assert_eq!(
            SealingKey::parse(STANDARD.encode([1u8; 16]).as_bytes()).unwrap_err(),
            KeyError::Length(16)
        );
        assert_eq!(
            SealingKey::parse(b"not a key").unwrap_err(),
            KeyError::Format
        );
        assert_eq!(id.len(), KEY_ID_LEN);
        // URL-safe with padding and standard without.
        assert_eq!(
            SealingKey::parse(URL_SAFE.encode(raw).as_bytes())
                .unwrap()
                .id(),
            id
        );
        let no_pad = base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw);
        assert_eq!(SealingKey::parse(no_pad.as_bytes()).unwrap().id(), id);
    }

    #[test]
    fn refuses_passphrases_and_keys_that_are_not_random() {
        // 32 characters of text: a passphrase, however it was meant.
        let passphrase = b"correct horse battery staple 123";
        assert_eq!(passphrase.len(), 32);
        assert_eq!(
            SealingKey::parse(passphrase).unwrap_err(),
            KeyError::Passphrase
        );
        assert_eq!(
            SealingKey::parse("pässwörd pässwörd pässwörd".as_bytes()).unwrap_err(),
            KeyError::Passphrase
        );
        // ...and with a newline it is no encoding of 32 bytes.
        assert!(SealingKey::parse(b"correct horse battery staple 123\n").is_err());
        // The passphrase base64'd is still text.
        assert_eq!(
            SealingKey::parse(STANDARD.encode(passphrase).as_bytes()).unwrap_err(),
            KeyError::NotRandom
        );
        assert_eq!(
            SealingKey::parse("ab".repeat(32).as_bytes()).unwrap_err(),
            KeyError::NotRandom
        );
        assert_eq!(
            SealingKey::parse(&[0u8; 32]).unwrap_err(),
            KeyError::NotRandom
        );
        // The messages say what to do.
        for e in [KeyError::Passphrase, KeyError::NotRandom, KeyError::Format] {
            assert!(e.to_string().contains("openssl rand -base64 32"), "{e}");
        }
        // Random raw bytes are still accepted (the documented raw format).
        let mut raw: [u8; 32] = rand::random();
        raw[0] = 0xff; // never text
        assert!(SealingKey::parse(&raw).is_ok());
    }

    #[test]
    fn debug_never_shows_key_or_token() {
        let key = SealingKey::from_bytes([0xAB; 32]);
        let text = format!("{key:?}");
        assert!(text.contains(key.id()));
        assert!(!text.contains("171"), "{text}"); // 0xAB as a decimal byte
        let keys = SealingKeys::new(key);
        let envelope = seal(&keys, "c", &token("secret-rt"), SystemTime::now()).unwrap();
        let opened = unseal(&keys, &envelope, "c").unwrap();
        assert!(!format!("{opened:?}").contains("secret-rt"));
    }
}

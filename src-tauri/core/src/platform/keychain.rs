//! The refresh token's only home: the OS keychain (Secret Service, macOS Keychain, Windows
//! Credential Manager) through the keyring crate, with its platform features named explicitly
//! (without them keyring 3 silently uses an in-memory mock). Never a file, never a fallback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::LOCAL_EMULATOR_ACCOUNT_PREFIX;
use crate::error::{Code, ErrorCode};
use crate::secret::RefreshToken;

/// Service name of every entry (the account names the environment and client id).
pub const KEYCHAIN_SERVICE: &str = "com.agentshell.desktop";
/// Windows limits a credential blob to 2560 bytes (1280 UTF-16 units): store long tokens in
/// chunks well below that.
const CHUNK_CHARS: usize = 1000;
const MAX_CHUNKS: usize = 16;
/// A keychain that prompts or hangs must not freeze sign-in.
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    #[error("the system keychain is not available or is locked ({0})")]
    Unavailable(String),
    #[error("the system keychain failed: {0}")]
    Failed(String),
    #[error("the saved sign-in in the keychain is damaged")]
    Corrupt,
    #[error("the system keychain did not answer within {} seconds", KEYCHAIN_TIMEOUT.as_secs())]
    TimedOut,
}

impl ErrorCode for KeychainError {
    fn error_code(&self) -> Code {
        match self {
            Self::Unavailable(_) => Code::KeychainUnavailable,
            Self::Failed(_) => Code::KeychainFailed,
            Self::Corrupt => Code::KeychainCorrupt,
            Self::TimedOut => Code::KeychainTimeout,
        }
    }
}

/// Where the refresh token is kept. Blocking: call through [`run_with_timeout`].
pub trait SecretStore: Send + Sync + 'static {
    fn load(&self) -> Result<Option<RefreshToken>, KeychainError>;
    fn save(&self, token: &RefreshToken) -> Result<(), KeychainError>;
    /// Idempotent: deleting nothing is success.
    fn delete(&self) -> Result<(), KeychainError>;
    /// Sign-out: this account's saved sign-in and every other one the app saved under its
    /// service (an earlier environment, client id or broker). Idempotent.
    fn delete_all(&self) -> Result<(), KeychainError> {
        self.delete()
    }
    /// Start-up: removes sign-ins saved under other accounts of the service, which the current
    /// configuration can no longer use; returns how many were removed.
    fn delete_stale(&self) -> Result<usize, KeychainError> {
        Ok(0)
    }
}

/// Runs a blocking keychain call on the blocking pool with [`KEYCHAIN_TIMEOUT`].
pub async fn run_with_timeout<T, F>(
    store: Arc<dyn SecretStore>,
    call: F,
) -> Result<T, KeychainError>
where
    T: Send + 'static,
    F: FnOnce(&dyn SecretStore) -> Result<T, KeychainError> + Send + 'static,
{
    let task = tokio::task::spawn_blocking(move || call(store.as_ref()));
    match tokio::time::timeout(KEYCHAIN_TIMEOUT, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(KeychainError::Failed(format!(
            "keychain call aborted: {join}"
        ))),
        Err(_) => Err(KeychainError::TimedOut),
    }
}

/// Writes, reads back and deletes a probe value through `store` (each step bounded by
/// [`KEYCHAIN_TIMEOUT`]): proves the keychain is there, unlocked and consistent.
pub async fn probe(store: Arc<dyn SecretStore>) -> Result<(), KeychainError> {
    let value = format!("probe-{}", std::process::id());
    let written = RefreshToken::new(value.clone());
    run_with_timeout(store.clone(), move |s| s.save(&written)).await?;
    let read = run_with_timeout(store.clone(), |s| s.load()).await;
    let deleted = run_with_timeout(store, |s| s.delete()).await;
    match read? {
        Some(token) if token.expose() == value => {}
        Some(_) => return Err(KeychainError::Corrupt),
        None => {
            return Err(KeychainError::Failed(
                "the probe entry was written but could not be read back".into(),
            ))
        }
    }
    deleted
}

/// Splits a secret into the stored records: `v1;N;chunk0`, then chunks 1..N under `#i`.
fn encode(secret: &str) -> Result<Vec<String>, KeychainError> {
    let chars: Vec<char> = secret.chars().collect();
    let chunks: Vec<String> = chars
        .chunks(CHUNK_CHARS)
        .map(|c| c.iter().collect())
        .collect();
    if chunks.is_empty() || chunks.len() > MAX_CHUNKS {
        return Err(KeychainError::Failed(
            "refresh token has an unsupported length".into(),
        ));
    }
    let mut records = chunks;
    records[0] = format!("v1;{};{}", records.len(), records[0]);
    Ok(records)
}

fn decode_header(first: &str) -> Result<(usize, &str), KeychainError> {
    let mut parts = first.splitn(3, ';');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(count), Some(rest)) => {
            let count: usize = count.parse().map_err(|_| KeychainError::Corrupt)?;
            if count == 0 || count > MAX_CHUNKS {
                return Err(KeychainError::Corrupt);
            }
            Ok((count, rest))
        }
        _ => Err(KeychainError::Corrupt),
    }
}

/// Low-level record access, so chunking is written once for the real and the test store:
/// every record store is a [`SecretStore`] through the blanket impl below.
pub trait RecordStore: Send + Sync + 'static {
    fn get(&self, index: usize) -> Result<Option<String>, KeychainError>;
    fn set(&self, index: usize, value: &str) -> Result<(), KeychainError>;
    fn remove(&self, index: usize) -> Result<(), KeychainError>;
    /// Other accounts of the service that hold a saved sign-in. A store that knows only its
    /// own account has none.
    fn other_accounts(&self) -> Result<Vec<String>, KeychainError> {
        Ok(Vec::new())
    }
    /// Removes every record of another account of the service (idempotent).
    fn remove_account(&self, _account: &str) -> Result<(), KeychainError> {
        Ok(())
    }
    /// Notes whether this store's own account now holds a saved sign-in.
    fn note_own_account(&self, _holds: bool) -> Result<(), KeychainError> {
        Ok(())
    }
}

impl<T: RecordStore> SecretStore for T {
    fn load(&self) -> Result<Option<RefreshToken>, KeychainError> {
        load_records(self)
    }
    fn save(&self, token: &RefreshToken) -> Result<(), KeychainError> {
        save_records(self, token)?;
        // The token is saved; a list that cannot be updated only weakens a later clean-up.
        if let Err(error) = self.note_own_account(true) {
            tracing::warn!(code = error.code(), %error, "could not note the keychain account");
        }
        Ok(())
    }
    fn delete(&self) -> Result<(), KeychainError> {
        delete_records(self)?;
        self.note_own_account(false)
    }
    fn delete_all(&self) -> Result<(), KeychainError> {
        let mut first_error = None;
        for account in self.other_accounts()? {
            if let Err(error) = self.remove_account(&account) {
                first_error.get_or_insert(error);
            }
        }
        self.delete()?;
        first_error.map_or(Ok(()), Err)
    }
    fn delete_stale(&self) -> Result<usize, KeychainError> {
        let others = self.other_accounts()?;
        for account in &others {
            self.remove_account(account)?;
        }
        Ok(others.len())
    }
}

fn load_records(records: &dyn RecordStore) -> Result<Option<RefreshToken>, KeychainError> {
    let Some(first) = records.get(0)? else {
        return Ok(None);
    };
    let (count, head) = decode_header(&first)?;
    let mut secret = head.to_string();
    for index in 1..count {
        secret.push_str(&records.get(index)?.ok_or(KeychainError::Corrupt)?);
    }
    Ok(Some(RefreshToken::new(secret)))
}

fn save_records(records: &dyn RecordStore, token: &RefreshToken) -> Result<(), KeychainError> {
    let previous = match records.get(0) {
        Ok(Some(first)) => decode_header(&first).map(|(n, _)| n).unwrap_or(MAX_CHUNKS),
        _ => 0,
    };
    let encoded = encode(token.expose())?;
    // Chunks first, header last: a reader never sees a header pointing at missing chunks.
    for (index, value) in encoded.iter().enumerate().skip(1) {
        records.set(index, value)?;
    }
    records.set(0, &encoded[0])?;
    for index in encoded.len()..previous {
        records.remove(index)?;
    }
    Ok(())
}

fn delete_records(records: &dyn RecordStore) -> Result<(), KeychainError> {
    let count = match records.get(0) {
        Ok(Some(first)) => decode_header(&first).map(|(n, _)| n).unwrap_or(MAX_CHUNKS),
        Ok(None) => return Ok(()),
        Err(e) => return Err(e),
    };
    records.remove(0)?;
    for index in 1..count {
        records.remove(index)?;
    }
    Ok(())
}

/// The account of the entry that lists the accounts holding a saved sign-in. keyring cannot
/// enumerate a service's entries, so the app keeps the list itself (names only, no secret) to
/// find what an earlier configuration saved. Accounts are `environment/client`, never this.
pub const ACCOUNTS_INDEX: &str = "agent-shell/accounts";
/// The list never grows past this many names (the oldest is dropped).
const MAX_INDEXED_ACCOUNTS: usize = 32;

/// The real OS keychain.
pub struct KeyringStore {
    account: String,
    /// Whether this store takes part in the accounts list (the doctor's probe does not).
    indexed: bool,
}

impl KeyringStore {
    /// The store of one account, as [`crate::config::ShellConfig::keychain_account`] names it.
    pub fn for_account(account: &str) -> Self {
        Self {
            account: account.to_string(),
            indexed: true,
        }
    }

    /// The entry `agent-shell doctor` writes, reads back and deletes to prove the keychain
    /// works; never an agent's token.
    pub fn doctor_probe() -> Self {
        Self {
            account: "agent-shell-doctor-probe".into(),
            indexed: false,
        }
    }

    fn index_entry() -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(KEYCHAIN_SERVICE, ACCOUNTS_INDEX).map_err(map_keyring)
    }

    /// The accounts listed as holding a saved sign-in, in the order they were added.
    pub fn indexed_accounts() -> Result<Vec<String>, KeychainError> {
        match Self::index_entry()?.get_password() {
            Ok(text) => Ok(text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(String::from)
                .collect()),
            Err(keyring::Error::NoEntry) => Ok(Vec::new()),
            Err(e) => Err(map_keyring(e)),
        }
    }

    fn write_index(accounts: &[String]) -> Result<(), KeychainError> {
        let entry = Self::index_entry()?;
        if accounts.is_empty() {
            return match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(map_keyring(e)),
            };
        }
        let keep = accounts.len().saturating_sub(MAX_INDEXED_ACCOUNTS);
        entry
            .set_password(&accounts[keep..].join("\n"))
            .map_err(map_keyring)
    }

    fn update_index(account: &str, holds: bool) -> Result<(), KeychainError> {
        let mut accounts = Self::indexed_accounts()?;
        let listed = accounts.iter().any(|a| a == account);
        match (holds, listed) {
            (true, false) => accounts.push(account.to_string()),
            (false, true) => accounts.retain(|a| a != account),
            _ => return Ok(()),
        }
        Self::write_index(&accounts)
    }

    fn entry(&self, index: usize) -> Result<keyring::Entry, KeychainError> {
        let account = match index {
            0 => self.account.clone(),
            n => format!("{}#{n}", self.account),
        };
        keyring::Entry::new(KEYCHAIN_SERVICE, &account).map_err(map_keyring)
    }
}

fn map_keyring(error: keyring::Error) -> KeychainError {
    match error {
        // A missing daemon or bus, a locked collection, a denied prompt: the keychain cannot be
        // used right now. The details go into the message for IT.
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => {
            KeychainError::Unavailable(inner.to_string())
        }
        keyring::Error::BadEncoding(_) | keyring::Error::Ambiguous(_) => KeychainError::Corrupt,
        other => KeychainError::Failed(other.to_string()),
    }
}

/// Which of the listed accounts a store of `own` may remove as "another configuration's":
/// those of real environments, when `own` is one. A local emulator's account (developers,
/// tests: several emulators on one machine, each on its own port, run side by side) never
/// removes another account and is never removed by one; `agent-shell cleanup` removes all.
fn related_accounts(own: &str, mut listed: Vec<String>) -> Vec<String> {
    let emulator = |account: &str| account.starts_with(LOCAL_EMULATOR_ACCOUNT_PREFIX);
    if emulator(own) {
        return Vec::new();
    }
    listed.retain(|a| a != own && !emulator(a));
    listed
}

/// The accounts holding a saved sign-in of the app: those on the list and `current` (the
/// configuration's own, which may predate the list), each checked for an entry.
pub fn saved_sign_in_accounts(current: Option<&str>) -> Result<Vec<String>, KeychainError> {
    let mut accounts = KeyringStore::indexed_accounts()?;
    if let Some(current) = current {
        if !accounts.iter().any(|a| a == current) {
            accounts.push(current.to_string());
        }
    }
    let mut holding = Vec::new();
    for account in accounts {
        let store = KeyringStore {
            account: account.clone(),
            indexed: false,
        };
        if store.get(0)?.is_some() {
            holding.push(account);
        }
    }
    Ok(holding)
}

/// Deletes every saved sign-in of the app ([`saved_sign_in_accounts`]), then the list itself;
/// returns the accounts whose sign-in was deleted (`agent-shell cleanup` reports them).
pub fn delete_every_saved_sign_in(current: Option<&str>) -> Result<Vec<String>, KeychainError> {
    let accounts = saved_sign_in_accounts(current)?;
    for account in &accounts {
        delete_records(&KeyringStore {
            account: account.clone(),
            indexed: false,
        })?;
    }
    KeyringStore::write_index(&[])?;
    Ok(accounts)
}

impl RecordStore for KeyringStore {
    fn get(&self, index: usize) -> Result<Option<String>, KeychainError> {
        match self.entry(index)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring(e)),
        }
    }

    fn set(&self, index: usize, value: &str) -> Result<(), KeychainError> {
        self.entry(index)?.set_password(value).map_err(map_keyring)
    }

    fn remove(&self, index: usize) -> Result<(), KeychainError> {
        match self.entry(index)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring(e)),
        }
    }

    fn other_accounts(&self) -> Result<Vec<String>, KeychainError> {
        if !self.indexed {
            return Ok(Vec::new());
        }
        let accounts = Self::indexed_accounts()?;
        Ok(related_accounts(&self.account, accounts))
    }

    fn remove_account(&self, account: &str) -> Result<(), KeychainError> {
        let other = Self {
            account: account.to_string(),
            indexed: false,
        };
        delete_records(&other)?;
        Self::update_index(account, false)
    }

    fn note_own_account(&self, holds: bool) -> Result<(), KeychainError> {
        if self.indexed {
            Self::update_index(&self.account, holds)
        } else {
            Ok(())
        }
    }
}

/// In-memory store with injectable failures. For tests of the Windows and macOS paths'
/// logic (their real keychains cannot run on the Linux test machine) and of failure handling.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<std::collections::BTreeMap<usize, String>>,
    failure: Mutex<Option<KeychainError>>,
    /// Accounts of the same service holding a sign-in, as an earlier configuration left them.
    others: Mutex<std::collections::BTreeSet<String>>,
}

impl MemoryStore {
    /// Pretends an earlier configuration saved a sign-in under `account`.
    pub fn add_other_account(&self, account: &str) {
        if let Ok(mut others) = self.others.lock() {
            others.insert(account.to_string());
        }
    }

    /// The other accounts still holding a sign-in.
    pub fn other_account_names(&self) -> Vec<String> {
        self.others
            .lock()
            .map(|o| o.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn fail_with(&self, failure: Option<KeychainError>) {
        if let Ok(mut slot) = self.failure.lock() {
            *slot = failure;
        }
    }

    pub fn record_count(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or(0)
    }

    fn check(&self) -> Result<(), KeychainError> {
        match self.failure.lock() {
            Ok(slot) => slot.clone().map_or(Ok(()), Err),
            Err(_) => Err(KeychainError::Failed("poisoned".into())),
        }
    }
}

impl RecordStore for MemoryStore {
    fn get(&self, index: usize) -> Result<Option<String>, KeychainError> {
        self.check()?;
        Ok(self
            .records
            .lock()
            .map_err(|_| KeychainError::Corrupt)?
            .get(&index)
            .cloned())
    }
    fn set(&self, index: usize, value: &str) -> Result<(), KeychainError> {
        self.check()?;
        if value.encode_utf16().count() * 2 > 2560 {
            return Err(KeychainError::Failed(
                "blob larger than Windows' 2560-byte limit".into(),
            ));
        }
        self.records
            .lock()
            .map_err(|_| KeychainError::Corrupt)?
            .insert(index, value.to_string());
        Ok(())
    }
    fn remove(&self, index: usize) -> Result<(), KeychainError> {
        self.check()?;
        self.records
            .lock()
            .map_err(|_| KeychainError::Corrupt)?
            .remove(&index);
        Ok(())
    }
    fn other_accounts(&self) -> Result<Vec<String>, KeychainError> {
        self.check()?;
        Ok(self.other_account_names())
    }
    fn remove_account(&self, account: &str) -> Result<(), KeychainError> {
        self.check()?;
        self.others
            .lock()
            .map_err(|_| KeychainError::Corrupt)?
            .remove(account);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_short_and_long_tokens_within_the_windows_blob_limit() {
        let store = MemoryStore::default();
        assert!(store.load().unwrap().is_none(), "NoEntry is Ok(None)");
        let long = "x".repeat(4321);
        store.save(&RefreshToken::new(long.clone())).unwrap();
        assert_eq!(store.record_count(), 5);
        assert_eq!(store.load().unwrap().unwrap().expose(), long);
        // a shorter rotation removes the now-unused chunks
        store.save(&RefreshToken::new("short")).unwrap();
        assert_eq!(store.record_count(), 1);
        assert_eq!(store.load().unwrap().unwrap().expose(), "short");
        store.delete().unwrap();
        store.delete().unwrap();
        assert_eq!(store.record_count(), 0);
        assert!(store.load().unwrap().is_none());
    }

    #[test]
    fn damaged_entries_are_reported_not_half_read() {
        let store = MemoryStore::default();
        store.save(&RefreshToken::new("y".repeat(2500))).unwrap();
        RecordStore::remove(&store, 2).unwrap();
        assert_eq!(store.load().unwrap_err(), KeychainError::Corrupt);
        RecordStore::set(&store, 0, "garbage").unwrap();
        assert_eq!(store.load().unwrap_err(), KeychainError::Corrupt);
    }

    #[test]
    fn failures_surface_as_typed_errors() {
        let store = MemoryStore::default();
        store.fail_with(Some(KeychainError::Unavailable("locked".into())));
        assert_eq!(store.load().unwrap_err().code(), "keychain_unavailable");
        assert_eq!(
            store.save(&RefreshToken::new("t")).unwrap_err().code(),
            "keychain_unavailable"
        );
    }

    #[tokio::test]
    async fn calls_run_off_the_async_threads_with_a_timeout() {
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
        run_with_timeout(store.clone(), |s| s.save(&RefreshToken::new("abc")))
            .await
            .unwrap();
        let loaded = run_with_timeout(store, |s| s.load()).await.unwrap();
        assert_eq!(loaded.unwrap().expose(), "abc");
    }

    #[test]
    fn emulator_accounts_and_real_ones_never_clean_up_each_other() {
        let listed = || {
            vec![
                "mypurecloud.ie/a".to_string(),
                "mypurecloud.de/b".to_string(),
                "local-emulator@http://127.0.0.1:9000/c".to_string(),
            ]
        };
        assert_eq!(
            related_accounts("mypurecloud.ie/a", listed()),
            vec!["mypurecloud.de/b".to_string()]
        );
        assert!(related_accounts("local-emulator@http://127.0.0.1:9001/c", listed()).is_empty());
    }

    #[test]
    fn accounts_separate_environments_and_clients() {
        let a = crate::config::parse_str("environment = \"mypurecloud.ie\"\nclient_id = \"one\"\n")
            .unwrap();
        let b = crate::config::parse_str("environment = \"mypurecloud.de\"\nclient_id = \"one\"\n")
            .unwrap();
        assert_eq!(a.keychain_account(), "mypurecloud.ie/one");
        assert_ne!(a.keychain_account(), b.keychain_account());
        // A token endpoint named by policy (a broker) has its own entry: the token it issued is
        // never sent to the environment's endpoint, nor the reverse.
        let brokered = crate::config::parse_str(
            "environment = \"mypurecloud.ie\"\nclient_id = \"one\"\n[endpoints]\ntoken = \"https://broker.example.com/oauth/token\"\n",
        )
        .unwrap();
        assert_eq!(
            brokered.keychain_account(),
            "mypurecloud.ie/one@https://broker.example.com"
        );
        let local = |port: u16| {
            crate::config::parse_str(&format!(
                "client_id = \"one\"\n[local_emulator]\nlogin = \"http://127.0.0.1:{port}\"\napi = \"http://127.0.0.1:2\"\nmedia = \"http://127.0.0.1:3\"\n"
            ))
            .unwrap()
        };
        assert_eq!(
            local(9000).keychain_account(),
            "local-emulator@http://127.0.0.1:9000/one"
        );
        assert_ne!(
            local(9000).keychain_account(),
            local(9001).keychain_account()
        );
    }
}

//! The Secret Service, read the way the app reads it.

use std::time::Duration;

use agent_shell_core::secret::RefreshToken;

/// The refresh token the app stored in the Secret Service for `config`, read the way the app
/// reads it. Bounded: a keyring that waits on an unlock prompt nobody can answer fails the
/// test in seconds instead of blocking it (the reading thread is left behind).
pub fn stored_refresh_token(config: &str) -> Option<RefreshToken> {
    use agent_shell_core::platform::keychain::{KeyringStore, SecretStore};
    let store = KeyringStore::for_account(
        &agent_shell_core::config::parse_str(config)
            .unwrap()
            .keychain_account(),
    );
    let (answer, answered) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = answer.send(store.load());
    });
    match answered.recv_timeout(Duration::from_secs(10)) {
        Ok(loaded) => loaded.expect("Secret Service readable"),
        Err(_) => panic!(
            "the Secret Service did not answer within 10 s: is the test keyring still running and unlocked?"
        ),
    }
}

//! Sign-out leaves nothing behind, and start-up removes what the configuration can no longer
//! use: sign-ins saved under another environment, client id or broker. First through the auth
//! service with the in-memory store (which can hold "other accounts"), then against the real
//! Secret Service (gnome-keyring in scripts/test.sh's D-Bus session), whose list of accounts
//! is the app's own: keyring cannot enumerate a service's entries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agent_shell_core::platform::keychain::{KeyringStore, SecretStore};
use agent_shell_core::secret::RefreshToken;
use agent_shell_core::session::auth::Phase;
use common::Fixture;

const EARLIER: &str = "mypurecloud.de/an-earlier-client";

#[tokio::test]
async fn sign_out_removes_the_sign_ins_of_earlier_configurations_too() {
    let fx = Fixture::new().await;
    let auth = fx.service();
    fx.sign_in(&auth).await;
    fx.store.add_other_account(EARLIER);
    assert!(fx.store.load().unwrap().is_some());

    let view = auth.sign_out().await;
    assert_eq!(view.phase, Phase::SignedOut);
    assert!(view.notice.is_none(), "{:?}", view.notice);
    assert!(fx.store.load().unwrap().is_none(), "this account's sign-in");
    assert!(
        fx.store.other_account_names().is_empty(),
        "the earlier configuration's sign-in"
    );
}

#[tokio::test]
async fn start_up_removes_sign_ins_the_configuration_cannot_use_and_keeps_its_own() {
    let fx = Fixture::new().await;
    let auth = fx.service();
    fx.sign_in(&auth).await;
    fx.store.add_other_account(EARLIER);

    let view = fx.service().silent_start().await;
    assert_eq!(view.phase, Phase::SignedIn, "its own sign-in still works");
    assert!(fx.store.load().unwrap().is_some());
    assert!(fx.store.other_account_names().is_empty());
}

fn unique(label: &str) -> String {
    format!(
        "test.invalid/{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// The real Secret Service: sign-ins saved under two accounts; start-up of the second removes
/// the first's and keeps its own; sign-out removes everything, the list of accounts included.
#[test]
#[ignore = "needs a Secret Service: run through scripts/test.sh"]
fn the_real_keychain_forgets_earlier_accounts_and_everything_at_sign_out() {
    let earlier = KeyringStore::for_account(&unique("earlier"));
    let current_name = unique("current");
    let current = KeyringStore::for_account(&current_name);
    earlier.save(&RefreshToken::new("r-earlier")).unwrap();
    current
        .save(&RefreshToken::new("r-current".repeat(300)))
        .unwrap();
    assert!(KeyringStore::indexed_accounts()
        .unwrap()
        .contains(&current_name));

    let removed = current.delete_stale().unwrap();
    assert!(removed >= 1, "the earlier account was removed");
    assert!(earlier.load().unwrap().is_none());
    assert_eq!(
        current.load().unwrap().unwrap().expose(),
        "r-current".repeat(300),
        "its own chunked sign-in is kept"
    );
    // (Other test binaries' local-emulator accounts may be listed too: they are left alone.)
    let listed = KeyringStore::indexed_accounts().unwrap();
    assert!(listed.contains(&current_name), "{listed:?}");
    assert!(
        !listed.iter().any(|a| a.contains("/earlier-")),
        "{listed:?}"
    );

    earlier.save(&RefreshToken::new("r-earlier")).unwrap();
    current.delete_all().unwrap();
    assert!(earlier.load().unwrap().is_none());
    assert!(current.load().unwrap().is_none());
    let listed = KeyringStore::indexed_accounts().unwrap();
    assert!(
        !listed.iter().any(|a| a.starts_with("test.invalid/")),
        "neither is listed any more: {listed:?}"
    );
    // Idempotent: nothing left to delete is success.
    current.delete_all().unwrap();
}

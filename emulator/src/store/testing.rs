//! Helpers shared by the store's tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::{IssuedTokens, Settings, Store};
use crate::users::user_for;

pub(super) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(super) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(super) fn settings(token_lifetime: Duration) -> Settings {
    Settings {
        token_lifetime,
        code_lifetime: Duration::from_secs(60),
        grant_scopes: None,
        public_refresh_tokens: true,
        auto_approve: false,
    }
}

pub(super) fn store() -> Store {
    Store::new(settings(Duration::from_secs(60)))
}

pub(super) fn login_as(s: &mut Store, username: &str) -> IssuedTokens {
    let code = s.issue_code(
        "c",
        "http://x/cb",
        CHALLENGE,
        user_for(username),
        vec!["users:readonly".into()],
    );
    s.exchange_code("c", false, &code, "http://x/cb", Some(VERIFIER))
        .unwrap()
}

pub(super) fn login(s: &mut Store) -> IssuedTokens {
    login_as(s, "agent@example.com")
}

/// Sizes of the codes, families, access and refresh maps.
pub(super) fn sizes(s: &Store) -> [usize; 4] {
    [
        s.codes.len(),
        s.families.len(),
        s.access.len(),
        s.refresh.len(),
    ]
}

//! The contract between Rust errors and the UI: a stable machine code plus a human message.
//!
//! Every code an agent or IT can see is in [`Code`], once. The page's copy of the list is
//! checked against the samples Rust writes (src-tauri/fixtures/ipc-shapes.json), and a test
//! keeps the list unique and stable: never change or remove a code, only add new ones.

use serde::{Serialize, Serializer};

macro_rules! codes {
    ($($variant:ident = $text:literal,)*) => {
        /// Every code the agent or IT can see (in the UI, in logs, in `doctor`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable text of the code (snake_case), as the UI and the logs show it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    // configuration
    ConfigNotFound = "config_not_found",
    ConfigUnreadable = "config_unreadable",
    ConfigSyntax = "config_syntax",
    ConfigMissingKey = "config_missing_key",
    ConfigConflict = "config_conflict",
    ConfigUnknownEnvironment = "config_unknown_environment",
    ConfigWildcardOrigin = "config_wildcard_origin",
    ConfigInsecureEndpoint = "config_insecure_endpoint",
    ConfigInvalidUrl = "config_invalid_url",
    ConfigMissingScope = "config_missing_scope",
    ConfigInvalidValue = "config_invalid_value",
    CspUnsafeSource = "csp_unsafe_source",
    NotConfigured = "not_configured",
    // the redirect
    CallbackOversize = "callback_oversize",
    CallbackMalformed = "callback_malformed",
    CallbackForeignScheme = "callback_foreign_scheme",
    CallbackWrongPath = "callback_wrong_path",
    CallbackMissingParam = "callback_missing_param",
    CallbackDuplicateParam = "callback_duplicate_param",
    CallbackBadParam = "callback_bad_param",
    // sign-in
    SignInAlreadyPending = "sign_in_already_pending",
    SignInNotPending = "sign_in_not_pending",
    SignInTimedOut = "sign_in_timed_out",
    SignInStateMismatch = "sign_in_state_mismatch",
    SignInRefused = "sign_in_refused",
    SignInBadEndpoint = "sign_in_bad_endpoint",
    LoopbackPortBusy = "loopback_port_busy",
    LoopbackTimedOut = "loopback_timed_out",
    LoopbackCancelled = "loopback_cancelled",
    UserLookupFailed = "user_lookup_failed",
    Superseded = "superseded",
    // the token endpoint
    TokenNetwork = "token_network",
    TokenTimeout = "token_timeout",
    TokenServerUnavailable = "token_server_unavailable",
    TokenInvalidGrant = "token_invalid_grant",
    TokenClientRejected = "token_client_rejected",
    TokenInvalidScope = "token_invalid_scope",
    TokenRefused = "token_refused",
    TokenMalformedResponse = "token_malformed_response",
    TokenMissingScopes = "token_missing_scopes",
    // the session
    NotSignedIn = "not_signed_in",
    NoRefreshToken = "no_refresh_token",
    SessionExpired = "session_expired",
    SessionEnding = "session_ending",
    SessionEnded = "session_ended",
    RevocationUnconfirmed = "revocation_unconfirmed",
    // the keychain
    KeychainUnavailable = "keychain_unavailable",
    KeychainFailed = "keychain_failed",
    KeychainCorrupt = "keychain_corrupt",
    KeychainTimeout = "keychain_timeout",
    // the embedded client and links
    EmbedMessageInvalid = "embed_message_invalid",
    EmbedMessageUnknown = "embed_message_unknown",
    LinkInvalid = "link_invalid",
    LinkNotHttps = "link_not_https",
    LinkHasCredentials = "link_has_credentials",
    LinkHostNotAllowed = "link_host_not_allowed",
    BrowserUnavailable = "browser_unavailable",
    // set by the page itself when a call to Rust fails
    IpcFailed = "ipc_failed",
    // machine policy
    ConfigPolicyOnly = "config_policy_only",
    // a renewal failed for now; the access token in hand is still valid
    RenewalDeferred = "renewal_deferred",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Implemented by every error enum that crosses a module boundary towards the UI.
pub trait ErrorCode: std::error::Error {
    /// The error's code: part of the public contract (the UI switches on it, IT greps logs
    /// for it).
    fn error_code(&self) -> Code;

    /// The code's text, for logs.
    fn code(&self) -> &'static str {
        self.error_code().as_str()
    }
}

/// Something the agent should read: a code and words. The same shape serves a notice on the
/// session and an error returned by a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: Code,
    pub message: String,
}

impl Problem {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn from_error<E: ErrorCode>(error: &E) -> Self {
        Self::new(error.error_code(), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes as released: a code may be added (append it here), never changed or removed.
    const RELEASED: &str = "config_not_found config_unreadable config_syntax config_missing_key \
        config_conflict config_unknown_environment config_wildcard_origin config_insecure_endpoint \
        config_invalid_url config_missing_scope config_invalid_value csp_unsafe_source \
        not_configured callback_oversize callback_malformed callback_foreign_scheme \
        callback_wrong_path callback_missing_param callback_duplicate_param callback_bad_param \
        sign_in_already_pending sign_in_not_pending sign_in_timed_out sign_in_state_mismatch \
        sign_in_refused sign_in_bad_endpoint loopback_port_busy loopback_timed_out \
        loopback_cancelled user_lookup_failed superseded token_network token_timeout \
        token_server_unavailable token_invalid_grant token_client_rejected token_invalid_scope \
        token_refused token_malformed_response token_missing_scopes not_signed_in \
        no_refresh_token session_expired session_ending session_ended revocation_unconfirmed \
        keychain_unavailable keychain_failed keychain_corrupt keychain_timeout \
        embed_message_invalid embed_message_unknown link_invalid link_not_https \
        link_has_credentials link_host_not_allowed browser_unavailable ipc_failed \
        config_policy_only renewal_deferred";

    #[test]
    fn codes_are_unique_snake_case_and_stable() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{text}"
            );
        }
        let released: Vec<&str> = RELEASED.split_whitespace().collect();
        let current: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        for code in &released {
            assert!(
                current.contains(code),
                "released code {code} was removed or renamed"
            );
        }
        assert_eq!(
            current.len(),
            released.len(),
            "a new code: append it to RELEASED (and to the page's list through ipc-shapes.json)"
        );
    }

    #[test]
    fn a_problem_serialises_as_code_and_message() {
        let json = serde_json::to_value(Problem::new(Code::SessionEnding, "soon")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "session_ending", "message": "soon"})
        );
        assert!(Code::SessionEnding == "session_ending");
    }
}

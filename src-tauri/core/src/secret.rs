//! Secret values: Debug prints `[redacted]`, there is no Serialize, and reading one takes an
//! explicit `.expose()`; so a token cannot reach a log line or an IPC payload by accident.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(SecretString::from(value.into()))
            }

            /// The raw value: only for the one place that must send it.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// Bearer token for Genesys Cloud. Lives in Rust memory; the UI receives it only to post it
    /// to the embedded client's exact origin.
    AccessToken
);
secret_type!(
    /// Long-lived credential. Lives in the OS keychain and Rust memory only, never in JS.
    RefreshToken
);
secret_type!(
    /// Single-use authorization code from the redirect.
    AuthCode
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_secret() {
        let token = RefreshToken::new("super-secret-value");
        let printed = format!(
            "{token:?} {:?} {:?}",
            AccessToken::new("abc123"),
            AuthCode::new("code-9")
        );
        assert_eq!(
            printed,
            "RefreshToken([redacted]) AccessToken([redacted]) AuthCode([redacted])"
        );
        assert_eq!(token.expose(), "super-secret-value");
    }
}

//! What can be wrong with a configuration, each with its stable code.

use std::path::{Path, PathBuf};

use super::environment::KNOWN_ENVIRONMENTS;
use super::locate::*;
use super::scopes::*;
use crate::error::{Code, ErrorCode};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("config file {path} does not exist (named by {origin})")]
    NotFound { path: PathBuf, origin: ConfigOrigin },
    #[error("config file {path} cannot be read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config key `{key}` is missing: {hint}")]
    MissingKey {
        key: &'static str,
        hint: &'static str,
    },
    #[error("config keys `{first}` and `{second}` cannot both be set: {reason}")]
    Conflict {
        first: &'static str,
        second: &'static str,
        reason: &'static str,
    },
    #[error("config key `environment`: unknown environment \"{value}\" (known: {}; machine policy can define a newer region with `custom_environment`)", KNOWN_ENVIRONMENTS.join(", "))]
    UnknownEnvironment { value: String },
    #[error("config key `{key}`: \"{value}\" contains a wildcard; Genesys origins must be exact hostnames")]
    WildcardOrigin { key: String, value: String },
    #[error("config key `{key}`: \"{value}\" is not https; plain http is allowed only for loopback addresses in a [local_emulator] section")]
    InsecureEndpoint { key: String, value: String },
    #[error("config key `{key}`: \"{value}\" is not a usable URL: {reason}")]
    InvalidUrl {
        key: String,
        value: String,
        reason: String,
    },
    #[error("config key `scopes` lacks the required scope(s) {}: {}", .missing.join(", "), missing_scope_consequence(.missing))]
    MissingRequiredScope { missing: Vec<String> },
    #[error("config key `{key}`: \"{value}\" is invalid: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("config key `{key}` in {path} can only be set by machine policy (it decides where sign-in tokens are sent); ask IT, or remove it from this file")]
    PolicyOnly { key: String, path: PathBuf },
    #[error("{path}: {inner}")]
    InFile {
        path: PathBuf,
        inner: Box<ConfigError>,
    },
}

impl ConfigError {
    /// The dotted key the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::MissingKey { key, .. } => Some(key),
            Self::Conflict { first, .. } => Some(first),
            Self::UnknownEnvironment { .. } => Some("environment"),
            Self::WildcardOrigin { key, .. }
            | Self::InsecureEndpoint { key, .. }
            | Self::InvalidUrl { key, .. }
            | Self::InvalidValue { key, .. }
            | Self::PolicyOnly { key, .. } => Some(key),
            Self::MissingRequiredScope { .. } => Some("scopes"),
            Self::InFile { inner, .. } => inner.key(),
            Self::NotFound { .. } | Self::Unreadable { .. } | Self::Syntax { .. } => None,
        }
    }

    /// The same error, naming the file (or policy store) that holds the bad value.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            Self::Syntax { message, .. } => Self::Syntax {
                path: path.to_path_buf(),
                message,
            },
            already @ (Self::NotFound { .. }
            | Self::Unreadable { .. }
            | Self::PolicyOnly { .. }
            | Self::InFile { .. }) => already,
            other => Self::InFile {
                path: path.to_path_buf(),
                inner: Box::new(other),
            },
        }
    }
}

impl ErrorCode for ConfigError {
    fn error_code(&self) -> Code {
        match self {
            Self::NotFound { .. } => Code::ConfigNotFound,
            Self::Unreadable { .. } => Code::ConfigUnreadable,
            Self::Syntax { .. } => Code::ConfigSyntax,
            Self::MissingKey { .. } => Code::ConfigMissingKey,
            Self::Conflict { .. } => Code::ConfigConflict,
            Self::UnknownEnvironment { .. } => Code::ConfigUnknownEnvironment,
            Self::WildcardOrigin { .. } => Code::ConfigWildcardOrigin,
            Self::InsecureEndpoint { .. } => Code::ConfigInsecureEndpoint,
            Self::InvalidUrl { .. } => Code::ConfigInvalidUrl,
            Self::MissingRequiredScope { .. } => Code::ConfigMissingScope,
            Self::InvalidValue { .. } => Code::ConfigInvalidValue,
            Self::PolicyOnly { .. } => Code::ConfigPolicyOnly,
            Self::InFile { inner, .. } => inner.error_code(),
        }
    }
}

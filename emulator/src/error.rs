//! Errors from configuring or starting the emulator. Request-level errors never surface here:
//! they become HTTP responses.

/// Why the emulator could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// A `--client` / `--confidential` spec did not parse.
    #[error("invalid client spec '{spec}': {reason}")]
    InvalidClientSpec { spec: String, reason: String },
    /// The configuration is inconsistent (duplicate client, zero lifetime, port out of range...).
    #[error("invalid emulator configuration: {0}")]
    InvalidConfig(String),
    /// A listener could not be bound on 127.0.0.1 (port 0 means "chosen by the OS").
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

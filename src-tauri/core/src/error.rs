//! The contract between Rust errors and the UI: a stable machine code plus a human message.

/// Implemented by every error enum that crosses a module boundary towards the UI.
///
/// `code()` is part of the public contract (the UI switches on it, IT greps logs for it):
/// never change an existing code, only add new ones.
pub trait ErrorCode: std::error::Error {
    fn code(&self) -> &'static str;
}

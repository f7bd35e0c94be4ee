//! Configuration: the file format, where it is looked for, and validation into typed values.
//!
//! The file is TOML (documented in docs/configuration.md). Parsing is two steps: serde reads the
//! raw shape (unknown keys are errors, so typos do not silently fall back to defaults), then
//! [`validate`] turns it into a [`ShellConfig`] whose values can no longer be wrong: a known
//! environment, https endpoints without wildcards, the required scopes present.

pub mod environment;
pub mod error;
pub mod locate;
pub mod model;
pub mod policy;
pub mod raw;
pub mod scopes;
pub mod validate;
pub mod values;

pub use error::ConfigError;
pub use locate::*;
pub use model::*;
pub use raw::*;
pub use scopes::*;
pub use validate::*;
pub use values::*;

#[cfg(test)]
mod tests;

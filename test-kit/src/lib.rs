//! The test kit of the workspace (a dev-dependency only, never shipped): what the tests of the
//! emulator, the broker, the core, the app and the bench harness would otherwise each write
//! for themselves.
//!
//! * [`control`]: the one client of the emulator's `/_emulator/*` control API (faults,
//!   revocation, settings, counters, logs, secrets, the contact centre's script);
//! * [`fake_api`] (feature `core`): the one fake Genesys API behind the core's `GenesysApi`
//!   trait, and a wall clock that follows tokio's paused clock;
//! * [`desktop`]: a throwaway XDG desktop's default browser;
//! * [`wait`]: polling with a deadline that says what it waited for.
//!
//! Helpers panic with a message instead of returning errors: they are for tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod control;
pub mod desktop;
#[cfg(feature = "core")]
pub mod fake_api;
pub mod wait;

pub use control::{Control, Fault, FaultExt, FaultKind, Ring, Settings};
#[cfg(feature = "core")]
pub use fake_api::{FakeApi, StoredSession, TestClock};
pub use wait::wait_until;

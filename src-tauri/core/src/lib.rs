//! Agent Shell core: everything that can be tested without a window.
//!
//! No Tauri types live here (the app crate in `src-tauri/src` is the thin edge); the compiler
//! enforces that split because this crate does not depend on tauri.
//!
//! Grouped by part, data flowing one way (docs/architecture.md draws it):
//! - [`config`]: raw file -> policy layer -> validation -> the typed model. A leaf: it imports
//!   no other part.
//! - [`session`]: the sign-in and keep-alive engine, driven by typed inputs.
//! - [`oauth`]: the token client, PKCE and the redirect parser the session executes with.
//! - [`platform`]: the operating system: keychain, desktop registration, the loopback
//!   listener, processes, the network stack (proxy, trust store).
//! - [`embed`]: what the webview sees: the client messages, the CSP, link routing.
//! - [`support`]: doctor, diagnostics bundle, logs and the one scrubber.

pub mod config;
pub mod embed;
pub mod error;
pub mod oauth;
pub mod platform;
pub mod secret;
pub mod session;
pub mod support;

pub use error::{Code, ErrorCode, Problem};

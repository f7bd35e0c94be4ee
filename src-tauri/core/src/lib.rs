//! Agent Shell core: everything that can be tested without a window.
//!
//! No Tauri types live here (the app crate in `src-tauri/src` is the thin edge); the compiler
//! enforces that split because this crate does not depend on tauri.

pub mod auth;
pub mod config;
pub mod csp;
pub mod desktop;
pub mod diagnostics;
pub mod doctor;
pub mod embed;
pub mod engine;
pub mod environment;
pub mod error;
pub mod keychain;
pub mod links;
pub mod logs;
pub mod loopback;
pub mod net;
pub mod oauth;
pub mod policy;
pub mod process;
pub mod refresh;
pub mod scrub;
pub mod secret;

pub use error::{Code, ErrorCode, Problem};

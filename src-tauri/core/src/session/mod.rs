//! The session: sign-in, keep-alive and sign-out, and the engine the app's glue talks to.

pub mod auth;
pub mod engine;
pub mod lock;
pub mod refresh;

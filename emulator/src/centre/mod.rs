//! A small contact centre behind the Genesys Cloud Platform API routes an agent client uses:
//! presence, routing status, queues, stations, calls, notifications (REST and websocket), plus
//! `/_emulator/*` routes that script it.
//!
//! Module graph (one way): `routes`, `notify`, `control` (handlers) -> `auth`, `hub` (state and
//! event bus) -> `calls`, `model` (pure data and views) -> `crate::http` (leaf helpers).

pub mod auth;
pub mod calls;
pub mod control;
pub mod hub;
pub mod model;
pub mod notify;
pub mod routes;

pub use hub::Centre;

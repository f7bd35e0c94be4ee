//! The Platform API handlers of the contact centre in [`crate::centre`]: presence, routing
//! status, queues, stations, calls, notifications (REST and websocket), plus `/_emulator/*`
//! routes that script it.
//!
//! Module graph (one way): `routes`, `conversations`, `notify`, `control` (handlers) -> `auth` (bearer and scope
//! checks, CORS) -> [`crate::state`], [`crate::centre`] -> `crate::http` (leaf helpers).

pub mod auth;
pub mod control;
pub mod conversations;
pub mod notify;
pub mod routes;

//! A small contact centre: the state behind the Genesys Cloud Platform API routes an agent
//! client uses (presence, routing status, queues, stations, calls, notification channels).
//! The handlers that serve and script it are in the `platform` module.
//!
//! Module graph (one way): `hub` (state and event bus) -> `calls`, `model` (pure data and
//! views) -> `http`, `users`, `config` (leaves). Nothing here imports a handler or the
//! shared `state` that holds the centre.

pub mod calls;
pub mod hub;
pub mod model;

pub use hub::Centre;

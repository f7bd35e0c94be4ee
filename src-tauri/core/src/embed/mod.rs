//! What the webview sees: the messages between the app page and the client it frames, the
//! content security policies, and where a clicked link goes.

pub mod csp;
pub mod links;
pub mod messages;

pub use messages::*;

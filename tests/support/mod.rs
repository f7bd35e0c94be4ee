//! Shared harness of the end-to-end tests: the real app under Xvfb, driven through
//! tauri-driver + WebKitWebDriver, with a throwaway HOME and its own emulator (whose control API
//! is the test kit's `Control`).
//!
//! Run them with scripts/test.sh (it provides Xvfb, a D-Bus session and tauri-driver).
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

mod app;
mod browser;
mod emulator;
mod instance;
mod keyring;
mod notifications;
mod secrets;
mod tray;
mod watchdog;
mod webview;

pub use agent_shell_test_kit::{wait_until, Control, FaultExt, FaultKind, Ring, Settings};
pub use app::*;
pub use browser::*;
pub use emulator::*;
pub use instance::*;
pub use keyring::*;
pub use notifications::*;
pub use secrets::*;
pub use tray::*;
pub use webview::*;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

//! The operating system's parts: the keychain, desktop registration of the deep-link scheme,
//! the GPU check for the webview, the loopback redirect listener, child processes, and the
//! network stack (proxy, trust store).

pub mod autostart;
pub mod desktop;
pub mod gpu;
pub mod keychain;
pub mod launch;
pub mod loopback;
pub mod net;
pub mod process;

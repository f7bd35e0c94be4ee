//! The sign-in redirect as it reaches the app: a deep link on the command line or from the
//! desktop, or the loopback callback's target. Any input: an error or a callback, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = agent_shell_core::oauth::parse_redirect(text, Some("com.agentshell.desktop"));
        let _ = agent_shell_core::oauth::parse_redirect(text, None);
    }
});

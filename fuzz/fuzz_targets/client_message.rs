//! A postMessage from the embedded client, as JSON the page passes on: parsed again in Rust.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = agent_shell_core::embed::ClientEvent::parse(value);
    }
});

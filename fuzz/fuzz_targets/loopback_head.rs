//! What anything on this machine can send the loopback listener during a sign-in.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = agent_shell_core::platform::loopback::parse_head(data);
});

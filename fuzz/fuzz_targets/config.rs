//! Configuration and policy files: the whole text validated, and the same text layered as
//! machine policy over itself as a user file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = agent_shell_core::config::parse_str(text);
    if let Ok(table) = text.parse::<toml::Table>() {
        let (merged, _, _) =
            agent_shell_core::config::policy::merge(&[(&table, "policy")], Some((&table, "user")));
        let _ = agent_shell_core::config::validate_table(merged);
    }
});

//! How errors cross IPC: `{ "code": "...", "message": "..." }`, never a bare string. The same
//! type as a session notice ([`agent_shell_core::Problem`]), with one list of codes.

pub use agent_shell_core::Problem as IpcError;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use agent_shell_core::config::parse_str;

    #[test]
    fn serialises_as_code_and_message() {
        let error = parse_str("client_id = \"x\"").unwrap_err();
        let json = serde_json::to_value(IpcError::from_error(&error)).unwrap();
        assert_eq!(json["code"], "config_missing_key");
        assert!(json["message"].as_str().unwrap().contains("`environment`"));
        assert_eq!(json.as_object().unwrap().len(), 2);
    }
}

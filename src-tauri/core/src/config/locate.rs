//! Where the configuration is looked for (argument, environment, user file, machine policy)
//! and how a file is read: capped, because a config file is a few hundred bytes.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::ConfigError;

/// Environment variable naming the config file (after `--config`).
pub const CONFIG_ENV_VAR: &str = "AGENT_SHELL_CONFIG";

/// Refuse to read anything larger: a config file is a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// Where the config file came from; shown to IT by `agent-shell config check` and the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigOrigin {
    /// `--config FILE`
    CommandLine,
    /// `AGENT_SHELL_CONFIG`
    EnvironmentVariable,
    /// The per-user config directory.
    UserConfigDir,
    /// `agent-shell demo`: generated for the bundled emulator.
    Demo,
    /// Machine policy alone (no user file): set by IT for every user of the computer.
    MachinePolicy,
}

impl fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CommandLine => "--config",
            Self::EnvironmentVariable => CONFIG_ENV_VAR,
            Self::UserConfigDir => "the user config directory",
            Self::Demo => "agent-shell demo",
            Self::MachinePolicy => "machine policy",
        })
    }
}

/// Where machine policy is read: `/etc/agent-shell/policy.toml` on Linux (None elsewhere in
/// this version). Debug builds honour `AGENT_SHELL_POLICY` so tests need not touch /etc;
/// release builds never do, so an agent cannot point the app at a policy of their own.
pub fn policy_path() -> Option<PathBuf> {
    if cfg!(debug_assertions) {
        if let Some(path) = std::env::var_os("AGENT_SHELL_POLICY").filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(path));
        }
    }
    cfg!(target_os = "linux").then(|| PathBuf::from(crate::config::policy::LINUX_POLICY_PATH))
}

/// The per-user config file path (`~/.config/agent-shell/config.toml` on Linux).
pub fn user_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join("agent-shell").join("config.toml"))
}

/// Picks the config file: `--config` beats `AGENT_SHELL_CONFIG` beats the user config dir.
///
/// Returns `None` when nothing was named and the user file does not exist ("not configured").
pub fn locate(
    cli: Option<&Path>,
    env_var: Option<&std::ffi::OsStr>,
    user_file: Option<&Path>,
) -> Option<(PathBuf, ConfigOrigin)> {
    if let Some(path) = cli {
        return Some((path.to_path_buf(), ConfigOrigin::CommandLine));
    }
    if let Some(value) = env_var.filter(|v| !v.is_empty()) {
        return Some((PathBuf::from(value), ConfigOrigin::EnvironmentVariable));
    }
    user_file
        .filter(|path| path.exists())
        .map(|path| (path.to_path_buf(), ConfigOrigin::UserConfigDir))
}

/// Reads a config or policy file, refusing anything over the size limit.
pub fn read_capped(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound {
            path: path.to_path_buf(),
            origin: ConfigOrigin::CommandLine,
        },
        _ => ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        },
    })?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_CONFIG_BYTES} bytes"),
        });
    }
    Ok(text)
}

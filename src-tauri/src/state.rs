//! What the app was started with: the loaded configuration (or why there is none).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agent_shell_core::config::policy;
use agent_shell_core::config::{self, ConfigOrigin, ShellConfig};
use agent_shell_core::embed::links::LinkPolicy;
use agent_shell_core::platform::keychain::{KeyringStore, MemoryStore, SecretStore};
use agent_shell_core::session::auth::{AuthService, SilentStart};
use agent_shell_core::session::engine::SessionEngine;
use serde::Serialize;

use crate::ipc_error::IpcError;

#[derive(Debug)]
pub enum ConfigState {
    Loaded {
        config: Box<ShellConfig>,
        origin: ConfigOrigin,
        path: Option<PathBuf>,
        /// Keys set by machine policy (locked), with where each came from.
        managed: Vec<(String, String)>,
    },
    /// Nothing named and no user file: the UI says where it looked.
    NotConfigured { searched: Vec<PathBuf> },
    /// A file was found but is wrong: the UI shows the error instead of a white screen.
    Invalid {
        error: IpcError,
        path: PathBuf,
        origin: ConfigOrigin,
    },
}

pub struct ShellState {
    pub config: ConfigState,
    pub demo: bool,
    /// Present when configured: sign-in, silent start, sign-out.
    pub auth: Option<Arc<AuthService>>,
    /// A redirect URL given on the command line (cold start from a deep link).
    pub launch_redirect: Option<String>,
    /// Where the webview may navigate and which links may leave it.
    pub links: Arc<LinkPolicy>,
    /// The session engine, started with the app as its edge at setup.
    engine: std::sync::OnceLock<Arc<SessionEngine>>,
    /// The silent start, begun when the app was built and taken by the engine at setup.
    silent_start: std::sync::Mutex<Option<SilentStart>>,
    /// Whether the main window was shown once (it is built hidden: window::reveal_main_window).
    window_revealed: std::sync::atomic::AtomicBool,
    /// Whatever must live as long as the app (the demo's emulator servers).
    _keep_alive: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for ShellState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellState")
            .field("config", &self.config)
            .field("demo", &self.demo)
            .field("signed_in_capable", &self.auth.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigStatus {
    Configured,
    NotConfigured,
    Invalid,
}

/// The UI's view of the shell (mirrored by `ShellInfo` in ui/src/ipc.ts). Holds no secrets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShellInfo {
    pub version: &'static str,
    pub status: ConfigStatus,
    pub environment_label: Option<String>,
    pub local_emulator: bool,
    pub demo: bool,
    /// This build includes the emulator (`agent-shell demo` works): the not-configured screen
    /// mentions it only then; shipped builds tell the agent to contact IT.
    pub demo_available: bool,
    pub config_path: Option<String>,
    pub config_origin: Option<ConfigOrigin>,
    pub searched_paths: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub config_error: Option<IpcError>,
    /// The embedded client page (no credentials in it) and the exact origins it may post from.
    pub client_url: Option<String>,
    pub client_origins: Vec<String>,
    /// `embed.start_timeout_secs`: after this long without session-start the UI shows a problem.
    pub client_start_timeout_ms: u64,
    /// `embed.show_queue_position`: the status bar shows "N of M" only when it is on.
    pub show_queue_position: bool,
    /// Settings locked by machine policy ("managed by your organization").
    pub managed_keys: Vec<String>,
}

impl ShellState {
    /// Finds and loads the configuration the way docs/configuration.md describes: machine
    /// policy (locked keys) under the user's file.
    pub fn from_files(cli_path: Option<&Path>) -> Self {
        let env_value = std::env::var_os(config::CONFIG_ENV_VAR);
        let user_file = config::user_config_path();
        let located = config::locate(cli_path, env_value.as_deref(), user_file.as_deref());
        let machine = policy::MachinePolicy::of_this_machine();
        let mut searched: Vec<PathBuf> = match &machine {
            Ok(machine) => machine.searched.iter().map(PathBuf::from).collect(),
            Err(_) => Vec::new(),
        };
        searched.extend(user_file.iter().cloned());
        let origin = located
            .as_ref()
            .map_or(ConfigOrigin::MachinePolicy, |(_, origin)| *origin);
        let policy_at = machine
            .as_ref()
            .ok()
            .and_then(|m| m.layers.first())
            .map(|layer| PathBuf::from(&layer.at));
        let loaded = machine.and_then(|machine| {
            policy::load(
                &machine,
                located
                    .as_ref()
                    .map(|(path, origin)| (path.as_path(), *origin)),
            )
        });
        let shown_path = || {
            located
                .as_ref()
                .map(|(path, _)| path.clone())
                .or_else(|| policy_at.clone())
        };
        let config = match loaded {
            Ok(None) => ConfigState::NotConfigured { searched },
            Ok(Some(layered)) => {
                for key in &layered.ignored {
                    tracing::warn!(%key, "user setting ignored: managed by your organization");
                }
                let managed = layered
                    .sources
                    .iter()
                    .filter(|(_, source)| matches!(source, policy::Source::Policy(_)))
                    .map(|(key, source)| (key.clone(), source.to_string()))
                    .collect();
                ConfigState::Loaded {
                    config: Box::new(layered.config),
                    origin,
                    path: shown_path(),
                    managed,
                }
            }
            Err(error) => {
                tracing::error!(code = %agent_shell_core::ErrorCode::code(&error), %error, "configuration rejected");
                ConfigState::Invalid {
                    error: IpcError::from_error(&error),
                    path: shown_path().unwrap_or_default(),
                    origin,
                }
            }
        };
        Self::with_auth(config, false, None)
    }

    pub fn demo(config: ShellConfig, keep_alive: Box<dyn std::any::Any + Send + Sync>) -> Self {
        let config = ConfigState::Loaded {
            config: Box::new(config),
            origin: ConfigOrigin::Demo,
            path: None,
            managed: Vec::new(),
        };
        Self::with_auth(config, true, Some(keep_alive))
    }

    /// A state for a given configuration outcome, without reading any file or the environment.
    #[cfg(test)]
    pub(crate) fn for_config_state(config: ConfigState) -> Self {
        Self::with_auth(config, false, None)
    }

    fn with_auth(
        mut config: ConfigState,
        demo: bool,
        keep_alive: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Self {
        let auth = match &config {
            ConfigState::Loaded { config: loaded, .. } => {
                // The demo never touches the agent's real keychain: its sign-ins are throwaway.
                let store: Arc<dyn SecretStore> = if demo {
                    Arc::new(MemoryStore::default())
                } else {
                    Arc::new(KeyringStore::for_account(&loaded.keychain_account()))
                };
                match AuthService::new((**loaded).clone(), store) {
                    Ok(auth) => Some(Arc::new(auth)),
                    Err(error) => {
                        tracing::error!(%error, "sign-in cannot be set up");
                        config = ConfigState::Invalid {
                            error: IpcError::from_error(&error),
                            path: PathBuf::new(),
                            origin: ConfigOrigin::CommandLine,
                        };
                        None
                    }
                }
            }
            _ => None,
        };
        let links = Arc::new(match &config {
            ConfigState::Loaded { config, .. } => LinkPolicy::for_config(config),
            _ => LinkPolicy::app_only(),
        });
        Self {
            links,
            config,
            demo,
            auth,
            launch_redirect: None,
            engine: std::sync::OnceLock::new(),
            silent_start: std::sync::Mutex::new(None),
            window_revealed: std::sync::atomic::AtomicBool::new(false),
            _keep_alive: keep_alive,
        }
    }

    /// The session engine, once the app has started it (None when not configured).
    pub fn engine(&self) -> Option<Arc<SessionEngine>> {
        self.engine.get().cloned()
    }

    pub(crate) fn set_engine(&self, engine: Arc<SessionEngine>) {
        let _ = self.engine.set(engine);
    }

    /// True the first time only: the caller is the one to show the window.
    pub(crate) fn first_reveal(&self) -> bool {
        !self
            .window_revealed
            .swap(true, std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn keep_silent_start(&self, started: SilentStart) {
        *self
            .silent_start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(started);
    }

    pub(crate) fn take_silent_start(&self) -> Option<SilentStart> {
        self.silent_start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    pub fn config(&self) -> Option<&ShellConfig> {
        match &self.config {
            ConfigState::Loaded { config, .. } => Some(config),
            _ => None,
        }
    }

    pub fn info(&self) -> ShellInfo {
        let mut info = ShellInfo {
            version: env!("CARGO_PKG_VERSION"),
            status: ConfigStatus::NotConfigured,
            environment_label: None,
            local_emulator: false,
            demo: self.demo,
            demo_available: cfg!(feature = "demo"),
            config_path: None,
            config_origin: None,
            searched_paths: Vec::new(),
            redirect_uris: Vec::new(),
            config_error: None,
            client_url: None,
            client_origins: Vec::new(),
            client_start_timeout_ms: 0,
            show_queue_position: false,
            managed_keys: Vec::new(),
        };
        match &self.config {
            ConfigState::Loaded {
                config,
                origin,
                path,
                managed,
            } => {
                info.managed_keys = managed.iter().map(|(key, _)| key.clone()).collect();
                info.status = ConfigStatus::Configured;
                info.environment_label = Some(config.environment_label());
                info.local_emulator = config.is_local_emulator();
                info.config_path = path.as_ref().map(|p| p.display().to_string());
                info.config_origin = Some(*origin);
                info.redirect_uris = config.redirect.all_uris();
                info.client_url = Some(config.endpoints.client_page.to_string());
                info.client_origins = config.endpoints.client_origins();
                info.client_start_timeout_ms =
                    u64::try_from(config.client_start_timeout.as_millis()).unwrap_or(u64::MAX);
                info.show_queue_position = config.embed.show_queue_position;
            }
            ConfigState::NotConfigured { searched } => {
                info.searched_paths = searched.iter().map(|p| p.display().to_string()).collect();
            }
            ConfigState::Invalid {
                error,
                path,
                origin,
            } => {
                info.status = ConfigStatus::Invalid;
                info.config_path = Some(path.display().to_string());
                info.config_origin = Some(*origin);
                info.config_error = Some(error.clone());
            }
        }
        info
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn info_for_a_loaded_config_names_environment_and_redirects() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "environment = \"mypurecloud.jp\"\nclient_id = \"c\"\n",
        )
        .unwrap();
        let info = ShellState::from_files(Some(&path)).info();
        assert_eq!(info.status, ConfigStatus::Configured);
        assert_eq!(info.environment_label.as_deref(), Some("mypurecloud.jp"));
        assert_eq!(info.config_origin, Some(ConfigOrigin::CommandLine));
        assert_eq!(info.redirect_uris.len(), 2);
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["status"], "configured");
        assert_eq!(json["configOrigin"], "command-line");
    }

    #[test]
    fn info_for_a_bad_config_carries_the_error_code() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "environment = \"nowhere.example\"\nclient_id = \"c\"\n",
        )
        .unwrap();
        let state = ShellState::from_files(Some(&path));
        assert!(state.config().is_none());
        let info = state.info();
        assert_eq!(info.status, ConfigStatus::Invalid);
        assert_eq!(
            info.config_error.unwrap().code,
            "config_unknown_environment"
        );
        let missing = ShellState::from_files(Some(&dir.path().join("missing.toml"))).info();
        assert_eq!(missing.config_error.unwrap().code, "config_not_found");
    }
}

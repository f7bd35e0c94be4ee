//! `agent-shell demo`: the bundled Genesys Cloud emulator, in-process on loopback, and a
//! local-emulator configuration pointing at it. Needs no org, no config file, no network.

use agent_shell_core::config::{self, ConfigError};
use genesys_emulator::{EmulatorConfig, EmulatorError};

use crate::state::ShellState;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the Genesys Cloud emulator could not start: {0}")]
    Emulator(#[from] EmulatorError),
    #[error("the demo configuration is invalid: {0}")]
    Config(#[from] ConfigError),
}

pub fn start() -> Result<ShellState, DemoError> {
    // Spawned on Tauri's async runtime, so the servers live as long as the app.
    let running =
        tauri::async_runtime::block_on(genesys_emulator::start(EmulatorConfig::default()))?;
    let urls = running.urls().clone();
    eprintln!(
        "Genesys Cloud emulator running: login {} | api {} | media {}",
        urls.login, urls.api, urls.media
    );
    let config = config::parse_str(&format!(
        "client_id = \"{}\"\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\nmock_media_devices = true\n",
        genesys_emulator::DEMO_CLIENT_ID,
        urls.login,
        urls.api,
        urls.media
    ))?;
    Ok(ShellState::demo(config, Box::new(running)))
}

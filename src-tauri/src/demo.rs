//! `agent-shell demo`: the bundled Genesys Cloud emulator, in-process on loopback, and a
//! local-emulator configuration pointing at it. Needs no org, no config file, no network.

use agent_shell_core::config::{self, ConfigError};
use genesys_emulator::{EmulatorConfig, EmulatorError};

use crate::state::ShellState;

/// How long after going On Queue the demo's first inbound call rings.
const DEMO_RING_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the Genesys Cloud emulator could not start: {0}")]
    Emulator(#[from] EmulatorError),
    #[error("the demo configuration is invalid: {0}")]
    Config(#[from] ConfigError),
}

pub fn start() -> Result<ShellState, DemoError> {
    // Spawned on Tauri's async runtime, so the servers live as long as the app.
    // A small contact centre: the first time the agent goes On Queue, an inbound call rings
    // a few seconds later, so a new user can take a call end to end.
    let running = tauri::async_runtime::block_on(genesys_emulator::start(EmulatorConfig {
        ring_after_on_queue: Some(DEMO_RING_AFTER),
        ..EmulatorConfig::default()
    }))?;
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

//! The emulator as most end-to-end tests use it, and the app's configuration against it. Its
//! control API is the test kit's `Control`.

use genesys_emulator::{ClientRegistration, EmulatorConfig, RunningEmulator};

pub async fn emulator(loopback_port: u16) -> RunningEmulator {
    emulator_with(loopback_port, EmulatorConfig::default()).await
}

pub async fn emulator_with(loopback_port: u16, base: EmulatorConfig) -> RunningEmulator {
    genesys_emulator::start(EmulatorConfig {
        auto_approve: true,
        clients: vec![ClientRegistration {
            client_id: genesys_emulator::DEMO_CLIENT_ID.into(),
            secret: None,
            redirect_uris: vec![
                "com.agentshell.desktop:/oauth/callback".into(),
                format!("http://127.0.0.1:{loopback_port}/oauth/callback"),
            ],
        }],
        ..base
    })
    .await
    .unwrap()
}

/// A configuration for the app against `emulator` that frames the emulator's stand-in for a
/// page of IT's own (`embed.client_url`), which speaks the shell's protocol with scripted
/// timers: what the host-side tests drive. `extra` may carry its own `[embed] client_url`.
pub fn config_text(emulator: &RunningEmulator, extra: &str) -> String {
    let page = format!(
        "client_url = \"{}/embedded-client/\"\n",
        emulator.urls().api
    );
    let extra = if extra.contains("client_url") {
        extra.to_string()
    } else if extra.contains("[embed]\n") {
        extra.replacen("[embed]\n", &format!("[embed]\n{page}"), 1)
    } else {
        format!("{extra}\n[embed]\n{page}")
    };
    agent_config_text(emulator, &extra)
}

/// A configuration for the app against `emulator` with the shell's own agent client (the
/// default: no `embed.client_url`).
pub fn agent_config_text(emulator: &RunningEmulator, extra: &str) -> String {
    let urls = emulator.urls();
    format!(
        "client_id = \"{}\"\n{extra}\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\nmock_media_devices = true\n",
        genesys_emulator::DEMO_CLIENT_ID,
        urls.login,
        urls.api,
        urls.media
    )
}

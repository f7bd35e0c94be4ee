//! A local Genesys Cloud emulator for developing and testing Agent Shell.
//!
//! Three HTTP servers on 127.0.0.1, one per origin the desktop shell deals with:
//!
//! * **login**: `/oauth/authorize` with a no-JavaScript login page, `/oauth/token`, `/logout`,
//!   and the `/_emulator/*` control API used by tests;
//! * **api**: `/api/v2/oauth/token`, `/api/v2/users/me`, `/api/v2/tokens/me`, a small contact
//!   centre (presence, routing status, queues, stations, calls, notifications with a websocket
//!   at `/channels/{id}`) and the emulated Embedded Client page under `/embedded-client/`;
//! * **media**: the same Embedded Client page (with the read-only endpoints it calls).
//!
//! The OAuth behaviour follows RFC 6749 and RFC 7636 closely (PKCE S256 required, single-use
//! codes, refresh-token rotation with reuse detection) so that client bugs show up here first.
//!
//! ```no_run
//! # async fn demo() -> Result<(), genesys_emulator::EmulatorError> {
//! let emulator = genesys_emulator::start(genesys_emulator::EmulatorConfig::default()).await?;
//! println!("log in at {}", emulator.urls().login);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod api;
mod app;
mod centre;
mod client_page;
mod config;
mod control;
mod error;
mod http;
mod oauth;
mod pages;
mod pkce;
mod platform;
mod state;
mod store;
mod users;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::OriginKind;
use crate::state::Shared;

pub use crate::client_page::{CLIENT_CSP, CLIENT_VERSION};
pub use crate::config::{
    is_known_scope, parse_scopes, ClientRegistration, EmulatorConfig, AGENT_CLIENT_ORIGINS,
    DEMO_CLIENT_ID, DEMO_REDIRECT_URIS, EXTRA_KNOWN_SCOPES, MAX_LIFETIME, REQUIRED_SCOPES,
};
pub use crate::error::EmulatorError;
pub use crate::pkce::s256 as pkce_s256_challenge;
pub use crate::store::FaultKind;
pub use crate::users::DEFAULT_USERNAME;

/// How long [`RunningEmulator::shutdown`] waits for in-flight requests before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Base URLs of the three origins, e.g. `http://127.0.0.1:40123` (no trailing slash), and of
/// the notifications websocket (`ws://` on the api port).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EmulatorUrls {
    pub login: String,
    pub api: String,
    pub media: String,
    /// `ws://127.0.0.1:{api port}`: where channels' `connectUri`s point.
    #[serde(default)]
    pub streaming: String,
}

/// A started emulator. Dropping it also stops the servers (without waiting for them).
pub struct RunningEmulator {
    urls: EmulatorUrls,
    shutdown_tx: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    pub fn urls(&self) -> &EmulatorUrls {
        &self.urls
    }

    /// Stops accepting connections, lets in-flight requests finish (a queued `hang` fault
    /// returns early) and waits for all three servers, aborting any still busy after 5 s.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        let servers = std::mem::take(&mut self.servers);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for mut server in servers {
            if tokio::time::timeout_at(deadline, &mut server)
                .await
                .is_err()
            {
                tracing::warn!("a server did not stop within the grace period; aborting it");
                server.abort();
            }
        }
        tracing::info!("emulator stopped");
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
    }
}

/// Binds the three listeners on 127.0.0.1 and serves them on the current tokio runtime.
/// Returns once all three are listening.
pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    config.validate()?;
    let [login_port, api_port, media_port] = match config.port {
        Some(port) if port != 0 => [port, port + 1, port + 2],
        _ => [0, 0, 0],
    };
    let login = bind(login_port).await?;
    let api = bind(api_port).await?;
    let media = bind(media_port).await?;

    let api_url = base_url(&api)?;
    let urls = EmulatorUrls {
        login: base_url(&login)?,
        streaming: api_url.replacen("http://", "ws://", 1),
        api: api_url,
        media: base_url(&media)?,
    };
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let shared = Arc::new(Shared::new(
        &config,
        urls.login.clone(),
        shutdown_rx.clone(),
    ));
    let servers = vec![
        serve(login, &shared, OriginKind::Login, shutdown_rx.clone()),
        serve(api, &shared, OriginKind::Api, shutdown_rx.clone()),
        serve(media, &shared, OriginKind::Media, shutdown_rx),
    ];
    tracing::info!(login = %urls.login, api = %urls.api, media = %urls.media, "Genesys Cloud emulator listening");
    Ok(RunningEmulator {
        urls,
        shutdown_tx,
        servers,
    })
}

async fn bind(port: u16) -> Result<TcpListener, EmulatorError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| EmulatorError::Bind { port, source })
}

fn base_url(listener: &TcpListener) -> Result<String, EmulatorError> {
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind { port: 0, source })?;
    Ok(format!("http://127.0.0.1:{}", addr.port()))
}

fn serve(
    listener: TcpListener,
    shared: &Arc<Shared>,
    origin: OriginKind,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let router = app::router(shared.clone(), origin);
    tokio::spawn(async move {
        let signal = async move {
            // Err means the sender (RunningEmulator) is gone: stop as well.
            let _ = stop.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::error!(origin = origin.as_str(), error = %e, "server failed");
        }
    })
}

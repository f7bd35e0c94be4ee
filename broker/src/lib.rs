//! Agent Shell's token broker: a small, stateless service IT runs next to its reverse proxy.
//!
//! Genesys Cloud issues refresh tokens to confidential OAuth clients; a public PKCE client (the
//! desktop) may get none. The broker holds the client secret, so the desktop never does, and
//! it seals every refresh token Genesys returns into an envelope only a broker with the same
//! key can open: a refresh token copied out of a desktop keychain is useless anywhere else.
//!
//! One endpoint speaks RFC 6749 to the shell: `POST /oauth/token` (`authorization_code` with
//! PKCE, and `refresh_token`), plus `GET /healthz` and `GET /readyz`. Nothing is stored between
//! requests, so any number of replicas can run behind a load balancer as long as they share the
//! configuration and the sealing keys.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use agent_shell_broker::{BrokerConfig, ClientConfig, SealingKey};
//! let config = BrokerConfig::new("https://login.mypurecloud.ie/oauth/token", SealingKey::generate())?
//!     .with_client(ClientConfig::new("client-id", "client-secret", ["com.agentshell.desktop:/oauth/callback"]));
//! let broker = agent_shell_broker::start(config).await?;
//! println!("token endpoint: {}/oauth/token", broker.url());
//! broker.shutdown().await;
//! # Ok(())
//! # }
//! ```

// The module graph is one way: lib -> server -> token -> upstream -> state -> limit -> net,
// with config, error, outcome, seal and listener as leaves or near-leaves.
mod config;
mod error;
mod limit;
mod listener;
mod net;
mod outcome;
mod seal;
mod server;
mod state;
mod token;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use tokio::task::JoinHandle;

use crate::listener::ConnectionGuard;
use crate::state::{Live, Shared};

pub use crate::config::{
    BrokerConfig, ClientConfig, ConfigError, ConnectionLimits, RateLimit, TlsFiles, UpstreamBudget,
    DEFAULT_BODY_LIMIT, DEFAULT_H2_KEEPALIVE, DEFAULT_H2_MAX_STREAMS, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND,
    DEFAULT_UPSTREAM_BUDGET_BURST, DEFAULT_UPSTREAM_BUDGET_PER_MINUTE,
    DEFAULT_UPSTREAM_RETRY_AFTER, DEFAULT_UPSTREAM_TIMEOUT, ENV_PREFIX,
};
pub use crate::error::BrokerError;
pub use crate::net::{IpNet, IpNetError};
pub use crate::seal::{
    seal, unseal, KeyError, SealError, SealingKey, SealingKeys, UnsealError, Unsealed,
    ENVELOPE_PREFIX, KEY_LEN,
};
pub use url::Url;

/// How long [`RunningBroker::shutdown`] lets in-flight requests finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// A connection that has not sent a complete first request by then is closed (slow clients
/// must not hold sockets open).
const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often idle entries leave the per-IP rate limiter, keeping its memory bounded.
const LIMITER_SWEEP: Duration = Duration::from_secs(60);
/// Largest header block an HTTP/2 request may send (a token request needs well under 4 KiB).
const H2_MAX_HEADER_LIST: u32 = 16 * 1024;

/// A started broker. Dropping it stops the server (without waiting for in-flight requests).
pub struct RunningBroker {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: Handle<SocketAddr>,
    server: Option<JoinHandle<()>>,
    janitor: JoinHandle<()>,
    listen: SocketAddr,
    connections: ConnectionLimits,
    tls: Option<(RustlsConfig, TlsFiles)>,
}

impl std::fmt::Debug for RunningBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningBroker")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Binds the listener and serves on the current tokio runtime. Returns once it is listening.
pub async fn start(config: BrokerConfig) -> Result<RunningBroker, BrokerError> {
    config.validate()?;
    let live = Live::build(&config, None)?;
    let listener =
        std::net::TcpListener::bind(config.listen).map_err(|source| BrokerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| BrokerError::Bind {
        addr: config.listen,
        source,
    })?;
    let bind_error = |source| BrokerError::Bind {
        addr: config.listen,
        source,
    };

    let shared = Arc::new(Shared::new(live));
    let app = server::router(shared.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let handle = Handle::new();
    let limits = config.connections.clone();
    let guard = ConnectionGuard::new(limits.max_connections, limits.idle_timeout);
    // The same limits and the same task for the plain and the TLS server (their types differ,
    // and axum-server's serve bounds are not worth spelling out for a helper function).
    macro_rules! spawn_server {
        ($server:expr) => {{
            let mut server = $server
                .handle(handle.clone())
                .first_request_timeout(FIRST_REQUEST_TIMEOUT)
                .accept_error_handler(listener::on_accept_error);
            let builder = server.http_builder();
            // Every later request on a kept-alive connection too: a slow or idle client cannot
            // hold sockets open (axum-server turns hyper's header timeout off).
            builder.http1().header_read_timeout(FIRST_REQUEST_TIMEOUT);
            // HTTP/2 (TLS with ALPN h2, or h2c with prior knowledge): a cap on streams, pings
            // that find dead peers; the idle timeout is the connection guard's.
            builder
                .http2()
                .max_concurrent_streams(limits.h2_max_concurrent_streams)
                .keep_alive_interval(limits.h2_keepalive_interval)
                .keep_alive_timeout(limits.h2_keepalive_timeout)
                .max_header_list_size(H2_MAX_HEADER_LIST);
            tokio::spawn(async move {
                if let Err(e) = server.serve(app).await {
                    tracing::error!(error = %e, "server failed");
                }
            })
        }};
    }
    let (server, tls, scheme) = match &config.tls {
        None => {
            let task = spawn_server!(axum_server::from_tcp(listener)
                .map_err(bind_error)?
                .acceptor(guard));
            (task, None, "http")
        }
        Some(files) => {
            let rustls = load_tls(files).await?;
            // The guard runs before the TLS handshake: a connection over the cap costs nothing.
            let task = spawn_server!(axum_server::tls_rustls::from_tcp_rustls(
                listener,
                rustls.clone()
            )
            .map_err(bind_error)?
            .map(|tls| tls.acceptor(guard)));
            (task, Some((rustls, files.clone())), "https")
        }
    };
    let connect = SocketAddr::new(config::connect_ip(addr.ip()), addr.port());
    let url = format!("{scheme}://{connect}");
    let janitor = tokio::spawn(sweep_limiter(shared.clone()));
    tracing::info!(
        %url,
        addr = %addr,
        tls = tls.is_some(),
        upstream = %config.upstream_token_url,
        clients = config.clients.len(),
        current_key_id = config.keys.current.id(),
        previous_key_id = config.keys.previous.as_ref().map(SealingKey::id),
        rate_limit_per_second = config.rate_limit.as_ref().map(|r| r.per_second.get()),
        client_ip_header = config
            .rate_limit
            .as_ref()
            .and_then(|r| r.client_ip_header.as_ref())
            .map(|h| h.as_str()),
        trusted_proxies = config.rate_limit.as_ref().map(|r| r.trusted_proxies.len()),
        upstream_budget_per_minute = config.upstream_budget.as_ref().map(|b| b.per_minute.get()),
        max_connections = limits.max_connections,
        idle_timeout_secs = limits.idle_timeout.as_secs_f64(),
        "token broker listening"
    );
    Ok(RunningBroker {
        url,
        addr,
        shared,
        handle,
        server: Some(server),
        janitor,
        listen: config.listen,
        connections: limits,
        tls,
    })
}

async fn load_tls(files: &TlsFiles) -> Result<RustlsConfig, BrokerError> {
    RustlsConfig::from_pem_file(&files.cert_file, &files.key_file)
        .await
        .map_err(|e| tls_error(files, &e))
}

fn tls_error(files: &TlsFiles, e: &std::io::Error) -> BrokerError {
    BrokerError::Tls {
        cert: files.cert_file.clone(),
        key: files.key_file.clone(),
        reason: e.to_string(),
    }
}

async fn sweep_limiter(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(LIMITER_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(limiter) = &shared.live().limiter {
            limiter.sweep();
        }
    }
}

impl RunningBroker {
    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). A wildcard listen
    /// address is reported as loopback.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `{url}/oauth/token`: what the shell's token endpoint should be.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.url)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Puts `config` in force for the next requests: clients, secrets, keys, limits, upstream
    /// and (when TLS was on at start) the certificate. On error nothing changes. The listen
    /// address, the connection limits and turning TLS on or off need a restart; a change to
    /// them is logged and ignored.
    pub async fn reload(&self, config: BrokerConfig) -> Result<(), BrokerError> {
        config.validate()?;
        let previous = self.shared.live();
        let live = Live::build(&config, Some(&previous))?;
        if config.listen != self.listen {
            tracing::warn!(
                configured = %config.listen,
                in_use = %self.listen,
                "the listen address changed; it takes effect at the next restart"
            );
        }
        if config.connections != self.connections {
            tracing::warn!("the connection limits changed; they take effect at the next restart");
        }
        match (&self.tls, &config.tls) {
            (Some((rustls, _)), Some(files)) => rustls
                .reload_from_pem_file(&files.cert_file, &files.key_file)
                .await
                .map_err(|e| tls_error(files, &e))?,
            (None, None) => {}
            _ => tracing::warn!("TLS was turned on or off; that takes effect at the next restart"),
        }
        let generation = live.generation;
        self.shared.replace(live);
        tracing::info!(
            config_generation = generation,
            clients = config.clients.len(),
            current_key_id = config.keys.current.id(),
            previous_key_id = config.keys.previous.as_ref().map(SealingKey::id),
            "configuration reloaded"
        );
        Ok(())
    }

    /// Fails readiness, stops accepting connections, lets in-flight requests finish (at most
    /// [`SHUTDOWN_GRACE`]) and waits for the server.
    pub async fn shutdown(mut self) {
        self.shared.start_draining();
        self.handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), server).await;
        }
        tracing::info!("token broker stopped");
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        self.handle.shutdown();
        self.janitor.abort();
    }
}

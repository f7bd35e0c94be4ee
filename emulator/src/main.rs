//! `genesys-emulator`: runs the Genesys Cloud emulator until SIGTERM / SIGINT.
//!
//! Contract relied on by scripts: when ready, exactly one JSON line with the three base URLs is
//! printed on stdout; everything else (logs, errors) goes to stderr. Bad arguments exit with 2.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use genesys_emulator::{
    parse_scopes, ClientRegistration, EmulatorConfig, EmulatorError, MAX_LIFETIME,
};
use tracing_subscriber::EnvFilter;

/// Exit status for unusable arguments (what clap uses too).
const EXIT_USAGE: u8 = 2;

/// A local stand-in for the parts of Genesys Cloud that Agent Shell talks to.
///
/// Serves three origins on 127.0.0.1 (login, api, media) and prints
/// {"login":"http://127.0.0.1:P1","api":"http://127.0.0.1:P2","media":"http://127.0.0.1:P3"}
/// on stdout once they are listening.
#[derive(Debug, Parser)]
#[command(name = "genesys-emulator", version)]
struct Cli {
    /// Register a public client (repeatable). Without --client and --confidential the
    /// Agent Shell demo client is registered.
    #[arg(long = "client", value_name = "ID=REDIRECT_URI[,REDIRECT_URI...]", value_parser = ClientRegistration::parse_public)]
    clients: Vec<ClientRegistration>,

    /// Register a confidential client that must authenticate with its secret (repeatable).
    #[arg(long = "confidential", value_name = "ID:SECRET=REDIRECT_URI[,REDIRECT_URI...]", value_parser = ClientRegistration::parse_confidential)]
    confidential: Vec<ClientRegistration>,

    /// Skip the login page: authorize redirects straight back with a code for agent@example.com.
    #[arg(long)]
    auto_approve: bool,

    /// Access token lifetime (expires_in), at most 1000000000.
    #[arg(long, value_name = "SECS", default_value_t = 7200, value_parser = clap::value_parser!(u64).range(1..=MAX_LIFETIME.as_secs()))]
    token_lifetime: u64,

    /// Authorization code lifetime, at most 1000000000.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=MAX_LIFETIME.as_secs()))]
    code_lifetime: u64,

    /// Space-separated scopes to grant whatever was requested (default: the requested scopes,
    /// or the scopes Agent Shell requires when none are requested).
    #[arg(long, value_name = "\"SCOPE SCOPE...\"")]
    grant_scopes: Option<String>,

    /// Issue no refresh_token to public clients (documented Genesys behaviour).
    #[arg(long)]
    no_public_refresh_tokens: bool,

    /// Login origin port; api is PORT+1 and media PORT+2 (default: ports chosen by the OS).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..=65533))]
    port: Option<u16>,

    /// Hostname whose origins pass the token endpoint's CORS preflight (repeatable; replaces
    /// the default localhost and tauri.localhost).
    #[arg(long = "trusted-domain", value_name = "HOST")]
    trusted_domains: Vec<String>,

    /// Origin the embedded client exchanges postMessage with (repeatable; replaces the default
    /// tauri://localhost and http://tauri.localhost).
    #[arg(long = "embed-origin", value_name = "ORIGIN")]
    embed_origins: Vec<String>,

    /// Embedded client: interval between queue-position messages.
    #[arg(long, value_name = "MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    queue_interval_ms: u64,

    /// Embedded client: interval between interaction-end messages.
    #[arg(long, value_name = "MS", default_value_t = 20000, value_parser = clap::value_parser!(u64).range(1..))]
    interaction_interval_ms: u64,

    /// Embedded client: post token-expiring this long before the token expires.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    token_expiring_margin: u64,

    /// Contact centre: the first time an agent goes On Queue, ring a demo inbound call after
    /// this many seconds (the product demo uses 5).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=3600))]
    ring_after_on_queue: Option<u64>,

    /// Origin allowed by CORS on the Platform API routes (repeatable; replaces the default
    /// agent-client://localhost, http://agent-client.localhost and the embed origins).
    #[arg(long = "api-cors-origin", value_name = "ORIGIN")]
    api_cors_origins: Vec<String>,

    /// Interval of the notification websocket heartbeat.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    heartbeat_secs: u64,
}

impl Cli {
    fn into_config(self) -> EmulatorConfig {
        let defaults = EmulatorConfig::default();
        let mut clients = self.clients;
        clients.extend(self.confidential);
        if clients.is_empty() {
            clients = defaults.clients;
        }
        EmulatorConfig {
            clients,
            auto_approve: self.auto_approve,
            token_lifetime: Duration::from_secs(self.token_lifetime),
            code_lifetime: Duration::from_secs(self.code_lifetime),
            grant_scopes: self.grant_scopes.as_deref().map(parse_scopes),
            public_refresh_tokens: !self.no_public_refresh_tokens,
            port: self.port,
            trusted_domains: if self.trusted_domains.is_empty() {
                defaults.trusted_domains
            } else {
                self.trusted_domains
            },
            embed_origins: if self.embed_origins.is_empty() {
                defaults.embed_origins
            } else {
                self.embed_origins
            },
            queue_interval: Duration::from_millis(self.queue_interval_ms),
            interaction_interval: Duration::from_millis(self.interaction_interval_ms),
            token_expiring_margin: Duration::from_secs(self.token_expiring_margin),
            api_cors_origins: if self.api_cors_origins.is_empty() {
                defaults.api_cors_origins
            } else {
                self.api_cors_origins
            },
            ring_after_on_queue: self.ring_after_on_queue.map(Duration::from_secs),
            heartbeat_interval: Duration::from_secs(self.heartbeat_secs),
            ..defaults
        }
    }
}

fn main() -> ExitCode {
    // Exits with 2 and a usage message on bad arguments.
    let config = Cli::parse().into_config();
    if let Err(e) = config.validate() {
        eprintln!("genesys-emulator: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("genesys-emulator: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: EmulatorConfig) -> ExitCode {
    // Handlers go in before the ready line: a SIGTERM sent right after reading it must still
    // take the graceful path (and exit 0) rather than the default "killed by signal".
    let stop = match StopSignal::install() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("genesys-emulator: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let emulator = match genesys_emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("genesys-emulator: {e}");
            let code = match e {
                EmulatorError::InvalidClientSpec { .. } | EmulatorError::InvalidConfig(_) => {
                    EXIT_USAGE
                }
                EmulatorError::Bind { .. } => 1,
            };
            return ExitCode::from(code);
        }
    };
    if let Err(e) = announce(emulator.urls()) {
        eprintln!("genesys-emulator: cannot write the ready line to stdout: {e}");
        emulator.shutdown().await;
        return ExitCode::FAILURE;
    }
    let signal = stop.wait().await;
    tracing::info!(signal, "shutting down");
    emulator.shutdown().await;
    ExitCode::SUCCESS
}

/// The one stdout line, flushed so a reader blocked on it wakes up now.
fn announce(urls: &genesys_emulator::EmulatorUrls) -> std::io::Result<()> {
    let line = serde_json::to_string(urls).map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

#[cfg(unix)]
struct StopSignal {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignal {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct StopSignal;

#[cfg(not(unix))]
impl StopSignal {
    fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn wait(self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

//! `agent-shell-broker`: runs the token broker with the configuration from a TOML file and
//! `AGENT_SHELL_BROKER_*` environment variables. Logs are JSON lines on stdout.
//!
//! SIGHUP re-reads the configuration, secrets, keys and TLS files; SIGTERM and Ctrl-C stop
//! gracefully (readiness fails first, in-flight requests finish).

use std::path::PathBuf;
use std::process::ExitCode;

use agent_shell_broker::{BrokerConfig, SealingKey, ENV_PREFIX};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "agent-shell-broker",
    version,
    about = "Token broker for Agent Shell"
)]
struct Cli {
    /// TOML configuration file (default: $AGENT_SHELL_BROKER_CONFIG; without either, only the
    /// environment is read).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker (the default).
    Run,
    /// Load and validate the configuration, print a summary without secrets, and exit
    /// (0 valid, 1 invalid).
    Check,
    /// Print a new random 32-byte sealing key, base64, for a key file.
    GenerateKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let file = cli
        .config
        .or_else(|| std::env::var_os(format!("{ENV_PREFIX}CONFIG")).map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty());
    match cli.command.unwrap_or(Command::Run) {
        Command::GenerateKey => {
            let bytes: [u8; agent_shell_broker::KEY_LEN] = rand::random();
            println!("{}", STANDARD.encode(bytes));
            ExitCode::SUCCESS
        }
        Command::Check => check(file),
        Command::Run => {
            init_logging();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the async runtime");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(run(file))
        }
    }
}

fn check(file: Option<PathBuf>) -> ExitCode {
    match BrokerConfig::load(file.as_deref()) {
        Ok(c) => {
            println!("configuration is valid");
            println!("  listen:             {}", c.listen);
            println!("  upstream token url: {}", c.upstream_token_url);
            println!("  current key id:     {}", c.keys.current.id());
            println!(
                "  previous key id:    {}",
                c.keys.previous.as_ref().map_or("(none)", SealingKey::id)
            );
            for client in &c.clients {
                println!(
                    "  client {} ({} redirect URI(s), secret loaded)",
                    client.client_id,
                    client.redirect_uris.len()
                );
            }
            match &c.rate_limit {
                Some(r) => {
                    println!(
                        "  rate limit:         {}/s, burst {} per client IP (an IPv6 /64 is one), per replica",
                        r.per_second, r.burst
                    );
                    match &r.client_ip_header {
                        Some(h) => println!(
                            "  client IP:          from {h} when the peer is one of {} trusted proxy range(s)",
                            r.trusted_proxies.len()
                        ),
                        None => println!("  client IP:          the TCP peer"),
                    }
                }
                None => println!("  rate limit:         off"),
            }
            match &c.upstream_budget {
                Some(b) => println!(
                    "  upstream budget:    {}/min, burst {} per client and grant type, per replica",
                    b.per_minute, b.burst
                ),
                None => println!("  upstream budget:    off"),
            }
            let n = &c.connections;
            println!(
                "  connections:        at most {}, idle timeout {} s, HTTP/2 {} streams each, pings {}",
                n.max_connections,
                n.idle_timeout.as_secs_f64(),
                n.h2_max_concurrent_streams,
                n.h2_keepalive_interval
                    .map_or("off".to_owned(), |d| format!("every {} s", d.as_secs_f64()))
            );
            println!(
                "  tls:                {}",
                if c.tls.is_some() {
                    "on"
                } else {
                    "off (behind a TLS-terminating proxy)"
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            ExitCode::FAILURE
        }
    }
}

/// JSON lines on stdout. `AGENT_SHELL_BROKER_LOG` sets the broker's level (default info);
/// dependencies stay at warn unless a full filter (with `=` or `,`) is given.
fn init_logging() {
    let level = std::env::var(format!("{ENV_PREFIX}LOG")).unwrap_or_default();
    let directives = match level.trim() {
        "" => "warn,agent_shell_broker=info".to_owned(),
        full if full.contains(['=', ',']) => full.to_owned(),
        level => format!("warn,agent_shell_broker={level}"),
    };
    let filter = EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| EnvFilter::new("warn,agent_shell_broker=info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}

async fn run(file: Option<PathBuf>) -> ExitCode {
    let config = match BrokerConfig::load(file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let broker = match agent_shell_broker::start(config).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = wait_for_signals(&broker, file).await {
        tracing::error!(error = %e, "cannot listen for signals");
    }
    broker.shutdown().await;
    ExitCode::SUCCESS
}

/// Reloads on SIGHUP until SIGTERM or Ctrl-C.
#[cfg(unix)]
async fn wait_for_signals(
    broker: &agent_shell_broker::RunningBroker,
    file: Option<PathBuf>,
) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                match BrokerConfig::load(file.as_deref()) {
                    Ok(config) => {
                        if let Err(e) = broker.reload(config).await {
                            tracing::error!(error = %e, "reload failed; the previous configuration stays in force");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "reload failed; the previous configuration stays in force"),
                }
            }
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: stopping");
                return Ok(());
            }
            result = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted: stopping");
                return result;
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signals(
    _broker: &agent_shell_broker::RunningBroker,
    _file: Option<PathBuf>,
) -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

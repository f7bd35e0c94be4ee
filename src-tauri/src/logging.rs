//! Logging: stderr and a daily log file in the platform log directory, both through the
//! scrubbing backstop; the level comes from `[logs] level` (policy or user file) once the
//! configuration is read.

use agent_shell_core::config::LogLevel;
use agent_shell_core::support::logs::{self, ScrubbingWriter};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// The environment variable that overrides the level (support sessions, development); a level
/// locked by machine policy wins over it.
pub const LOG_ENV_VAR: &str = "AGENT_SHELL_LOG";

/// Wraps any writer factory so that every line it writes is scrubbed.
struct Scrubbed<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubbingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter::new(self.0.make_writer())
    }
}

/// Changes the level after the configuration is known.
pub struct LogLevelHandle {
    reload: Option<reload::Handle<EnvFilter, Registry>>,
}

impl LogLevelHandle {
    /// Applies the configured level. `locked`: set by machine policy, so it beats the
    /// environment variable.
    pub fn apply(&self, level: LogLevel, locked: bool) {
        let from_env = std::env::var(LOG_ENV_VAR).ok().filter(|v| !v.is_empty());
        let directive = match from_env {
            Some(env) if !locked => env,
            _ => level.directive().to_string(),
        };
        if let (Some(reload), Ok(filter)) = (&self.reload, EnvFilter::try_new(&directive)) {
            let _ = reload.modify(|current| *current = filter);
        }
    }
}

/// Starts logging to stderr and, when the log directory can be created, to
/// `agent-shell.YYYY-MM-DD.log` there (7 days kept).
pub fn init() -> LogLevelHandle {
    let filter = EnvFilter::try_from_env(LOG_ENV_VAR)
        .unwrap_or_else(|_| EnvFilter::new(LogLevel::default().directive()));
    let (filter, reload) = reload::Layer::new(filter);
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(Scrubbed(std::io::stderr))
        .with_target(false);
    let file = logs::log_dir().and_then(|dir| {
        RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(logs::FILE_PREFIX)
            .filename_suffix(logs::FILE_SUFFIX)
            .max_log_files(logs::KEPT_FILES)
            .build(&dir)
            .ok()
    });
    let file_layer = file.map(|appender| {
        tracing_subscriber::fmt::layer()
            .with_writer(Scrubbed(appender))
            .with_ansi(false)
            .with_target(true)
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .try_init()
        .is_ok();
    LogLevelHandle {
        reload: installed.then_some(reload),
    }
}

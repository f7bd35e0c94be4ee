//! The one way the doctor, "Copy diagnostics" and the start-up registration run a helper
//! program (`xdg-mime`, `gio`, `update-desktop-database`): with a time limit, stdin closed,
//! output captured, and the program killed when the limit passes, so a desktop tool that hangs
//! (a stuck D-Bus call, a slow network home directory) can never hang the app or the doctor.
//!
//! [`run`] blocks the calling thread; async callers use [`run_off_workers`] (or put the whole
//! check in `spawn_blocking`), so a slow program never occupies an async worker.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The limit for the desktop queries the doctor and the registration make.
pub const DESKTOP_TOOL_LIMIT: Duration = Duration::from_secs(10);
/// Output kept from each stream (the tools print a line or two).
const MAX_OUTPUT: u64 = 64 * 1024;
/// How often a running program is looked at (backs off to this from 1 ms).
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// It could not be started (usually: not installed).
    #[error("{program} could not run: {source}")]
    NotStarted {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// It did not finish within the limit and was killed.
    #[error("{program} did not finish within {} and was stopped", describe(.limit))]
    TimedOut { program: String, limit: Duration },
    /// It ran and failed.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: ExitStatus,
        stderr: String,
    },
    /// Waiting for it failed.
    #[error("{program} could not be waited for: {source}")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl ProcessError {
    /// True when the program could not be started at all (not installed).
    pub fn not_started(&self) -> bool {
        matches!(self, Self::NotStarted { .. })
    }
}

/// A limit as people read it: `200 ms`, `10 s`.
fn describe(limit: &Duration) -> String {
    if *limit < Duration::from_secs(1) || limit.subsec_millis() != 0 {
        format!("{} ms", limit.as_millis())
    } else {
        format!("{} s", limit.as_secs())
    }
}

/// Reads a child's stream to its end (up to [`MAX_OUTPUT`]) on its own thread, so a full pipe
/// never stalls the child; the thread ends when the stream closes.
fn drain(stream: Option<impl Read + Send + 'static>) -> Option<std::sync::mpsc::Receiver<Vec<u8>>> {
    let stream = stream?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stream.take(MAX_OUTPUT).read_to_end(&mut out);
        let _ = tx.send(out);
    });
    Some(rx)
}

/// Collects what a drain thread read, waiting at most `grace` (a grandchild the program left
/// behind may hold the pipe open).
fn collect(rx: Option<std::sync::mpsc::Receiver<Vec<u8>>>, grace: Duration) -> String {
    rx.and_then(|rx| rx.recv_timeout(grace).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default()
}

fn wait(child: &mut Child, program: &str, limit: Duration) -> Result<ExitStatus, ProcessError> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProcessError::Wait {
                    program: program.to_string(),
                    source,
                });
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            // Reaped, so no zombie is left behind.
            let _ = child.wait();
            return Err(ProcessError::TimedOut {
                program: program.to_string(),
                limit,
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(POLL);
    }
}

/// Runs `command` to its end within `limit` and returns its standard output (trimmed). Stdin is
/// closed; a program still running at the limit is killed and reported as
/// [`ProcessError::TimedOut`], naming it and the limit. Blocks the calling thread.
pub fn run(mut command: Command, limit: Duration) -> Result<String, ProcessError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ProcessError::NotStarted {
            program: program.clone(),
            source,
        })?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait(&mut child, &program, limit)?;
    // The program has ended: its pipes close unless it left a child holding them.
    let grace = Duration::from_millis(500);
    let stdout = collect(stdout, grace);
    if !status.success() {
        return Err(ProcessError::Failed {
            program,
            status,
            stderr: collect(stderr, grace),
        });
    }
    Ok(stdout)
}

/// [`run`] on tokio's blocking pool, for async callers.
pub async fn run_off_workers(command: Command, limit: Duration) -> Result<String, ProcessError> {
    let program = command.get_program().to_string_lossy().into_owned();
    tokio::task::spawn_blocking(move || run(command, limit))
        .await
        .unwrap_or_else(|join| {
            Err(ProcessError::Wait {
                program,
                source: std::io::Error::other(join.to_string()),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command.args(args);
        command
    }

    #[test]
    fn returns_the_output_of_a_program_that_finishes() {
        let out = run(
            command("sh", &["-c", "echo hello; echo ignored >&2"]),
            DESKTOP_TOOL_LIMIT,
        );
        assert_eq!(out.unwrap(), "hello");
    }

    #[test]
    fn a_slow_program_is_killed_at_the_limit_and_named() {
        let started = Instant::now();
        let error = run(command("sleep", &["5"]), Duration::from_millis(200)).unwrap_err();
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "stopped at the limit, not when it ended: {took:?}"
        );
        assert!(matches!(error, ProcessError::TimedOut { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "sleep did not finish within 200 ms and was stopped"
        );
    }

    #[test]
    fn a_missing_program_is_reported_as_not_started() {
        let error = run(
            command("agent-shell-no-such-program", &[]),
            DESKTOP_TOOL_LIMIT,
        )
        .unwrap_err();
        assert!(error.not_started(), "{error:?}");
        assert!(
            error
                .to_string()
                .starts_with("agent-shell-no-such-program could not run:"),
            "{error}"
        );
    }

    #[test]
    fn a_failing_program_reports_its_status_and_stderr() {
        let error = run(
            command("sh", &["-c", "echo broken >&2; exit 3"]),
            DESKTOP_TOOL_LIMIT,
        )
        .unwrap_err();
        assert!(matches!(error, ProcessError::Failed { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.starts_with("sh failed ("), "{text}");
        assert!(text.ends_with(": broken"), "{text}");
        assert_eq!(describe(&Duration::from_secs(10)), "10 s");
        assert_eq!(describe(&Duration::from_millis(1500)), "1500 ms");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_callers_keep_their_worker_while_a_program_runs() {
        // On a single-threaded runtime, a blocking wait would stop the ticker below.
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let error = run_off_workers(command("sleep", &["5"]), Duration::from_millis(200))
            .await
            .unwrap_err();
        ticker.abort();
        assert!(matches!(error, ProcessError::TimedOut { .. }), "{error:?}");
        assert!(
            ticks.load(std::sync::atomic::Ordering::SeqCst) >= 5,
            "the async worker kept running"
        );
        let missing = run_off_workers(
            command("agent-shell-no-such-program", &[]),
            DESKTOP_TOOL_LIMIT,
        )
        .await
        .unwrap_err();
        assert!(missing.not_started(), "{missing:?}");
    }
}

//! The watchdog of an app run: a hung app is killed, with the driver log and its threads' stacks
//! printed first, so the test fails and says why instead of stalling the run.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use super::instance::app_pids;

/// How long one app may run in a test before the watchdog ends it: 180 s, or
/// AGENT_SHELL_E2E_APP_LIMIT_SECS. The longest test needs well under a minute; a WebDriver
/// command waits forever when the webview stops answering, and libtest has no per-test
/// timeout, so without this a hang would stall CI until it is killed, with nothing printed.
fn app_lifetime_limit() -> Duration {
    let secs = std::env::var("AGENT_SHELL_E2E_APP_LIMIT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(180);
    Duration::from_secs(secs)
}

/// Kills a hung app (and its tauri-driver) after [`app_lifetime_limit`], printing the driver
/// log and the app's thread stacks first, so the WebDriver calls of the test fail and say why.
/// Dropping it (the app was quit, or the test ended) disarms it.
pub struct Watchdog {
    _disarm: std::sync::mpsc::Sender<()>,
}

impl Watchdog {
    pub fn arm(driver_pid: Option<u32>, driver_log: PathBuf) -> Watchdog {
        let (disarm, disarmed) = std::sync::mpsc::channel::<()>();
        let limit = app_lifetime_limit();
        std::thread::spawn(move || {
            if disarmed.recv_timeout(limit) != Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let pids = app_pids();
            eprintln!(
                "watchdog: the app ran for more than {limit:?}: killing it (pids {pids:?})\n--- tauri-driver log ---\n{}",
                std::fs::read_to_string(&driver_log).unwrap_or_default()
            );
            for pid in &pids {
                eprintln!("--- threads of {pid} ---\n{}", thread_stacks(*pid));
                // A hang is as often in WebKit's web process as in the app.
                for child in children(*pid) {
                    eprintln!(
                        "--- threads of {child} (child of {pid}: {}) ---\n{}",
                        comm(child),
                        thread_stacks(child)
                    );
                }
            }
            // The driver's pid is only signalled while it still names tauri-driver (never a
            // reused pid).
            let driver = driver_pid.filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == "tauri-driver")
            });
            for pid in pids.iter().copied().chain(driver) {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        });
        Watchdog { _disarm: disarm }
    }
}

/// The processes whose parent is `pid` (WebKit's web and network processes for the app).
fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|child| {
            // The parent is the 4th field of /proc/N/stat, after the ")" that ends comm.
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .is_some_and(|parent| parent == pid.to_string())
            })
        })
        .collect()
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Backtraces of every thread of `pid` through gdb when it is installed (it is not needed
/// otherwise), else each thread's name and wait channel from /proc.
fn thread_stacks(pid: u32) -> String {
    let gdb = std::process::Command::new("gdb")
        .args([
            "-p",
            &pid.to_string(),
            "-batch",
            "-ex",
            "thread apply all bt 25",
        ])
        .stdin(Stdio::null())
        .output();
    if let Ok(out) = gdb {
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
    }
    let mut threads = String::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let read = |name: &str| {
                std::fs::read_to_string(task.path().join(name))
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            threads.push_str(&format!(
                "{} {} wchan={}\n",
                task.file_name().to_string_lossy(),
                read("comm"),
                read("wchan")
            ));
        }
    }
    threads
}

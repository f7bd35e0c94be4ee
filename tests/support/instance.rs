//! Whether the app is running: its processes, the single-instance D-Bus name, and the one-app
//! slot every test that starts it holds.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};

use super::wait_until;

/// One app at a time: the single-instance plugin would forward a second one to the first.
pub static ONE_APP_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// PIDs of running processes whose executable is the app binary under test.
pub fn app_pids() -> Vec<u32> {
    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_agent-shell")).unwrap();
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
                .filter(|pid| {
                    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the app started with `home` as HOME is still running (a test that quits the app
/// from inside waits for this to turn false; apps of another test run are not counted).
pub fn app_running_in(home: &Path) -> bool {
    let wanted = format!("HOME={}", home.display()).into_bytes();
    app_pids().into_iter().any(|pid| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|environ| environ.split(|&b| b == 0).any(|var| var == wanted))
    })
}

/// The D-Bus name the single-instance plugin owns for the app (its identifier + suffix).
pub const SINGLE_INSTANCE_NAME: &str = "com.agentshell.desktop.SingleInstance";

/// Whether some process owns [`SINGLE_INSTANCE_NAME`] on the session bus (false without one).
pub fn single_instance_name_owned() -> bool {
    let Ok(connection) = zbus::blocking::Connection::session() else {
        return false;
    };
    zbus::blocking::fdo::DBusProxy::new(&connection)
        .and_then(|bus| {
            let name = zbus::names::BusName::try_from(SINGLE_INSTANCE_NAME)?;
            Ok(bus.name_has_owner(name)?)
        })
        .unwrap_or(false)
}

/// The next app must not start while the last one still owns the single-instance D-Bus name:
/// it would hand itself over to the dying instance. The process going away is not enough - the
/// bus releases the name a moment later - so both are waited for.
pub async fn wait_for_app_exit() {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app_pids().is_empty() {
        if Instant::now() > deadline {
            for pid in app_pids() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_until(
        Duration::from_secs(10),
        "the bus to release the last app's single-instance name",
        async || match single_instance_name_owned() {
            true => Err(format!("{SINGLE_INSTANCE_NAME} owned")),
            false => Ok(()),
        },
    )
    .await;
}

/// Holds the one-app slot (and waits until the last app is gone) for a test that starts the
/// app itself instead of through [`E2eApp::launch`].
pub async fn exclusive_app_slot() -> MutexGuard<'static, ()> {
    let guard = ONE_APP_AT_A_TIME.lock().await;
    wait_for_app_exit().await;
    guard
}

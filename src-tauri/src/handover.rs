//! A second launch hands its arguments to the running instance (single-instance plugin). On
//! Linux, when that instance holds the D-Bus name but refuses the call or closes without
//! answering - it is closing as the agent starts the app again - the hand-over fails and the
//! plugin reports it as a setup error. Instead of stopping with that error, the launch starts
//! itself again after a pause, a few times, and becomes the instance once the old one is gone.
//! (On Windows and macOS the plugin does not report this failure: it exits or starts normally.)

use std::time::Duration;

use crate::AppError;

/// Internal: how many relaunches led to this process. Removed at start, so nothing the app
/// starts (the browser, a deep-link launch) inherits it.
const ATTEMPT_ENV: &str = "AGENT_SHELL_HANDOVER_ATTEMPT";
/// Relaunches before giving up: with the pause, about three seconds for the old one to close.
pub const MAX_RELAUNCHES: u32 = 3;
const PAUSE: Duration = Duration::from_secs(1);

/// Reads and forgets the relaunch count this process was started with (0 for a normal start).
/// Call it first thing in `main`, before any thread exists.
pub fn take_attempt() -> u32 {
    let attempt = std::env::var(ATTEMPT_ENV)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    std::env::remove_var(ATTEMPT_ENV);
    attempt
}

/// Why the running instance did not take the hand-over, when that is what stopped the app
/// (not any other single-instance setup error, such as no session bus).
pub fn failed_handover(error: &AppError) -> Option<&str> {
    match error {
        AppError::Tauri(tauri::Error::PluginInitialization(plugin, detail))
            if plugin == "single-instance"
                && detail.starts_with("failed to forward arguments to the running instance") =>
        {
            Some(detail)
        }
        _ => None,
    }
}

/// Whether another relaunch is allowed after `attempt` earlier ones.
pub fn may_relaunch(attempt: u32) -> bool {
    attempt < MAX_RELAUNCHES
}

/// Pauses, then starts this program again with the same arguments. The process image is
/// replaced (same pid, so a launcher waiting on it keeps waiting); this only returns on failure.
pub fn relaunch(attempt: u32) -> std::io::Error {
    std::thread::sleep(PAUSE);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return error,
    };
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env(ATTEMPT_ENV, (attempt + 1).to_string());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        command.exec()
    }
    // Only Linux reports a failed hand-over (see the module docs), so this is never reached.
    #[cfg(not(unix))]
    {
        drop(command);
        std::io::ErrorKind::Unsupported.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_instance_plugin_failure_is_a_failed_handover() {
        let handover = AppError::Tauri(tauri::Error::PluginInitialization(
            "single-instance".into(),
            "failed to forward arguments to the running instance: NoReply".into(),
        ));
        assert_eq!(
            failed_handover(&handover),
            Some("failed to forward arguments to the running instance: NoReply")
        );
        let no_bus = AppError::Tauri(tauri::Error::PluginInitialization(
            "single-instance".into(),
            "org.freedesktop.DBus.Error.NoServer".into(),
        ));
        assert_eq!(failed_handover(&no_bus), None);
        let other_plugin = AppError::Tauri(tauri::Error::PluginInitialization(
            "deep-link".into(),
            "boom".into(),
        ));
        assert_eq!(failed_handover(&other_plugin), None);
        let no_display = AppError::DisplayInit("no display".into());
        assert_eq!(failed_handover(&no_display), None);
    }

    #[test]
    fn relaunches_stop_after_the_limit() {
        assert!(may_relaunch(0));
        assert!(may_relaunch(MAX_RELAUNCHES - 1));
        assert!(!may_relaunch(MAX_RELAUNCHES));
    }
}

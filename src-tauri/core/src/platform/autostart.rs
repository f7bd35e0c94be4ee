//! Start at login, per user and machine-wide. The app keeps a per-user entry in step with
//! `[startup] autostart` at each start; an installer can add a machine-wide entry instead, so
//! the app also starts for users who never ran it. Both run the program with
//! [`AUTOSTART_FLAG`], and a launch with it quits at once unless autostart is on: policy alone
//! decides, even where IT cannot remove a machine-wide entry from every desktop.

use std::path::{Path, PathBuf};

/// The argument every start-at-login entry passes.
pub const AUTOSTART_FLAG: &str = "--autostart";

/// The XDG autostart entry the .deb installs for every user (the spec's system directory).
pub const LINUX_MACHINE_ENTRY: &str = "etc/xdg/autostart/agent-shell.desktop";

/// The launch agent an MDM installs for every user (installer/macos/).
pub const MACOS_MACHINE_AGENT: &str = "Library/LaunchAgents/com.agentshell.desktop.autostart.plist";

/// The `Run` value the MSI writes under HKLM with `AUTOSTART=1` (the same name as the
/// per-user value under HKCU).
pub const WINDOWS_RUN_VALUE: &str = "Agent Shell";

/// The machine-wide entry file of this OS under `root` (`/` on a desktop), if it has one there.
pub fn machine_entry_file(root: &Path) -> Option<PathBuf> {
    let relative = if cfg!(target_os = "macos") {
        MACOS_MACHINE_AGENT
    } else if cfg!(windows) {
        // Windows keeps it in the registry (read by the app through os-calls).
        return None;
    } else {
        LINUX_MACHINE_ENTRY
    };
    let path = root.join(relative);
    path.exists().then_some(path)
}

/// What to do with the per-user entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserEntry {
    /// Write (or rewrite) it.
    Enable,
    /// Remove it.
    Disable,
    Unchanged,
}

/// The per-user entry follows the setting, unless a machine-wide entry already starts the app
/// for everyone: then a per-user one would start it twice, so it is removed.
pub fn user_entry(wanted: bool, machine_entry: bool, user_entry_exists: bool) -> UserEntry {
    match (wanted && !machine_entry, user_entry_exists) {
        (true, _) => UserEntry::Enable,
        (false, true) => UserEntry::Disable,
        (false, false) => UserEntry::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_entry_follows_the_setting_unless_the_machine_starts_the_app() {
        assert_eq!(user_entry(true, false, false), UserEntry::Enable);
        // Rewritten while wanted: an entry an older version wrote is corrected.
        assert_eq!(user_entry(true, false, true), UserEntry::Enable);
        assert_eq!(user_entry(false, false, true), UserEntry::Disable);
        assert_eq!(user_entry(false, false, false), UserEntry::Unchanged);
        // A machine-wide entry: never a second, per-user start.
        assert_eq!(user_entry(true, true, true), UserEntry::Disable);
        assert_eq!(user_entry(true, true, false), UserEntry::Unchanged);
        assert_eq!(user_entry(false, true, true), UserEntry::Disable);
    }

    #[cfg(not(windows))]
    #[test]
    fn the_machine_entry_is_found_only_where_the_installer_puts_it() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(machine_entry_file(root.path()), None);
        let relative = if cfg!(target_os = "macos") {
            MACOS_MACHINE_AGENT
        } else {
            LINUX_MACHINE_ENTRY
        };
        let path = root.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap_or(root.path()))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, "x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(machine_entry_file(root.path()), Some(path));
    }
}

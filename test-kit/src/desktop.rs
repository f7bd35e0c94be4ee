//! A throwaway XDG desktop: the default web browser, set the way a user's desktop sets it.

use std::path::Path;
use std::process::Command;

/// Installs `desktop_file` (an application named `name`, run as `exec %U`, handling https) in
/// `data_home`, and makes it the default browser with `xdg-mime default`, as the desktop's
/// settings would. Both XDG homes are the throwaway ones of the test.
pub fn set_default_browser(
    data_home: &Path,
    config_home: &Path,
    desktop_file: &str,
    name: &str,
    exec: &str,
) {
    let apps = data_home.join("applications");
    std::fs::create_dir_all(&apps).unwrap();
    std::fs::write(
        apps.join(desktop_file),
        format!("[Desktop Entry]\nType=Application\nName={name}\nExec={exec} %U\nMimeType=x-scheme-handler/https;\n"),
    )
    .unwrap();
    let status = Command::new("xdg-mime")
        .args(["default", desktop_file, "x-scheme-handler/https"])
        .env("XDG_DATA_HOME", data_home)
        .env("XDG_CONFIG_HOME", config_home)
        .status()
        .expect("xdg-mime runs (scripts/setup.sh installs xdg-utils)");
    assert!(status.success(), "xdg-mime default {desktop_file}");
}

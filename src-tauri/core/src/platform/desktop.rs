//! The sign-in redirect's way back on Linux desktops: the `x-scheme-handler/<scheme>` desktop
//! entry, written so that every opener can run it, and a read-back that asks the desktop the
//! way a browser will.
//!
//! A browser hands a URL of an unknown scheme to the desktop: GNOME and KDE through GIO
//! (`gio open`), everything else (XFCE, i3, plain X sessions, many VDI images) through
//! xdg-utils (`xdg-open`). xdg-open reads the handler's `Exec` line with the shell's word
//! splitting: the program must be one bare word (no quotes, no spaces) that `which` finds, so
//! the entry is written that way, through a link without spaces when the binary's own path has
//! some. `xdg-mime query default` only sees the handler after `update-desktop-database` (from
//! desktop-file-utils) or `xdg-mime default` has recorded it, so both are run, and the result is
//! read back with the same query xdg-open makes.
//!
//! Every program runs through [`crate::platform::process::run`] with a time limit
//! ([`process::DESKTOP_TOOL_LIMIT`]): these functions block, so async callers (the doctor) run
//! them on the blocking pool.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::platform::process::{self, ProcessError};

/// The handler's desktop file name (what `xdg-mime query default` prints when it resolves).
pub const HANDLER_FILE: &str = "agent-shell-handler.desktop";

/// Where a desktop looks for desktop entries and default applications (the XDG base dirs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdgDirs {
    pub data_home: PathBuf,
    pub config_home: PathBuf,
    pub data_dirs: Vec<PathBuf>,
}

impl XdgDirs {
    /// The directories of this process's environment, with the spec's defaults.
    pub fn from_env() -> Option<Self> {
        let home = std::env::var_os("HOME").map(PathBuf::from)?;
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let data_dirs = std::env::var("XDG_DATA_DIRS")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "/usr/local/share:/usr/share".into())
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
        Some(Self {
            data_home: var("XDG_DATA_HOME").unwrap_or_else(|| home.join(".local/share")),
            config_home: var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")),
            data_dirs,
        })
    }

    fn applications(&self) -> PathBuf {
        self.data_home.join("applications")
    }

    fn apply(&self, command: &mut Command) {
        command
            .env("XDG_DATA_HOME", &self.data_home)
            .env("XDG_CONFIG_HOME", &self.config_home)
            .env(
                "XDG_DATA_DIRS",
                std::env::join_paths(&self.data_dirs).unwrap_or_default(),
            );
    }

    /// Every directory holding desktop entries, the user's first.
    fn all_applications(&self) -> Vec<PathBuf> {
        std::iter::once(self.applications())
            .chain(self.data_dirs.iter().map(|d| d.join("applications")))
            .collect()
    }
}

/// True when `path` can stand as a bare word in an `Exec` line for every opener.
pub fn is_bare_word(path: &str) -> bool {
    !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+-".contains(c))
}

/// The program as the start-at-login entry must name it, quoted so a path with spaces (`C:\\Program
/// Files\\...`, `/opt/Agent Shell/...`) is one program, never a program and arguments: on
/// Windows the Run value's quotes; elsewhere the desktop entry's `Exec` quoting (the string
/// escapes of the file, then the `Exec` rules: `"`, `` ` ``, `$` and `\\` escaped inside quotes).
pub fn autostart_program(path: &str, windows: bool) -> String {
    if windows {
        // Windows paths cannot contain `"`.
        return format!("\"{path}\"");
    }
    if is_bare_word(path) {
        return path.to_string();
    }
    let mut quoted = String::from("\"");
    for c in path.chars() {
        match c {
            // Exec-level `\\` is `\\\\` in the file (the string escape applies first).
            '\\' => quoted.push_str("\\\\\\\\"),
            '"' | '`' | '$' => {
                quoted.push_str("\\\\");
                quoted.push(c);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// The handler entry: `Exec` is the bare program path and `%u`.
pub fn handler_entry(program: &str, scheme: &str) -> String {
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Agent Shell sign-in\n\
         Comment=Hands the Genesys Cloud sign-in back to Agent Shell\n\
         Exec={program} %u\n\
         Terminal=false\n\
         NoDisplay=true\n\
         MimeType=x-scheme-handler/{scheme};\n"
    )
}

/// The value of `key` in the `[Desktop Entry]` group.
pub fn entry_value<'a>(entry: &'a str, key: &str) -> Option<&'a str> {
    let mut in_group = false;
    for line in entry.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_group = line == "[Desktop Entry]";
            continue;
        }
        if !in_group {
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            if name.trim() == key {
                return Some(value.trim());
            }
        }
    }
    None
}

/// The program xdg-open would run for an entry: the first whitespace-separated word of `Exec`,
/// taken literally (xdg-open does not undo quoting, so a quoted path is not a program).
pub fn xdg_open_program(entry: &str) -> Option<&str> {
    entry_value(entry, "Exec")?.split_whitespace().next()
}

/// How a scheme resolves through one opener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// "xdg-mime" or "gio".
    pub via: &'static str,
    /// The desktop file the opener picks, if any.
    pub desktop_file: Option<String>,
    /// The program that file runs, as the opener reads it.
    pub program: Option<String>,
    /// None when the scheme reaches this binary; otherwise what is wrong.
    pub problem: Option<String>,
    /// The opener's own tool is not installed, so nothing could be asked.
    pub tool_missing: bool,
}

impl Resolution {
    pub fn resolves(&self) -> bool {
        self.problem.is_none()
    }

    /// No desktop file to look at: `problem` says why.
    fn unresolved(via: &'static str, problem: String) -> Self {
        Self {
            via,
            desktop_file: None,
            program: None,
            problem: Some(problem),
            tool_missing: false,
        }
    }

    /// The opener's tool failed, timed out or is missing (`hint`: the package that brings it).
    fn tool_failed(via: &'static str, failure: ProcessError, hint: &str) -> Self {
        Self {
            tool_missing: failure.not_started(),
            ..Self::unresolved(via, format!("{failure} ({hint})"))
        }
    }
}

/// What registering did, for the log and the doctor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub entry_path: PathBuf,
    /// Problems along the way that did not stop it (a missing tool).
    pub warnings: Vec<String>,
    /// The read-back through xdg-mime: what xdg-open will do.
    pub xdg: Resolution,
}

/// The one-line fix an admin or agent can run when the scheme does not resolve.
pub fn fix_command(scheme: &str) -> String {
    format!(
        "sudo apt-get install desktop-file-utils xdg-utils && xdg-mime default {HANDLER_FILE} x-scheme-handler/{scheme} (then start Agent Shell again)"
    )
}

fn run(command: Command) -> Result<String, ProcessError> {
    process::run(command, process::DESKTOP_TOOL_LIMIT)
}

/// The path to put in `Exec` for `exe`: the binary itself when it is a bare word, else a link
/// to it without spaces under the data dir.
fn exec_path(exe: &Path, dirs: &XdgDirs) -> Result<String, String> {
    let text = exe.to_string_lossy();
    if is_bare_word(&text) {
        return Ok(text.into_owned());
    }
    let link_dir = dirs.data_home.join("agent-shell/bin");
    let link = link_dir.join("agent-shell");
    let link_text = link.to_string_lossy().into_owned();
    if !is_bare_word(&link_text) {
        return Err(format!(
            "neither the program's path ({text}) nor the data directory ({}) can be written in a desktop entry without spaces",
            dirs.data_home.display()
        ));
    }
    std::fs::create_dir_all(&link_dir).map_err(|e| format!("{}: {e}", link_dir.display()))?;
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    std::os::unix::fs::symlink(exe, &link).map_err(|e| format!("{}: {e}", link.display()))?;
    Ok(link_text)
}

/// Registers `exe` as the handler of `scheme` for this user and reads the result back. Never
/// fails as a whole: what went wrong is in the warnings and the read-back.
pub fn register(scheme: &str, exe: &Path, dirs: &XdgDirs) -> Registration {
    let applications = dirs.applications();
    let entry_path = applications.join(HANDLER_FILE);
    let mut warnings = Vec::new();
    let written = exec_path(exe, dirs).and_then(|program| {
        std::fs::create_dir_all(&applications)
            .map_err(|e| format!("{}: {e}", applications.display()))?;
        let entry = handler_entry(&program, scheme);
        if std::fs::read_to_string(&entry_path).ok().as_deref() != Some(entry.as_str()) {
            std::fs::write(&entry_path, entry)
                .map_err(|e| format!("{}: {e}", entry_path.display()))?;
        }
        Ok(())
    });
    if let Err(error) = written {
        warnings.push(format!("the handler entry could not be written: {error}"));
    } else {
        let mut update = Command::new("update-desktop-database");
        update.arg(&applications);
        dirs.apply(&mut update);
        if let Err(error) = run(update) {
            warnings.push(format!(
                "update-desktop-database: {error} (install desktop-file-utils)"
            ));
        }
        let mut default = Command::new("xdg-mime");
        default.args([
            "default",
            HANDLER_FILE,
            &format!("x-scheme-handler/{scheme}"),
        ]);
        dirs.apply(&mut default);
        if let Err(error) = run(default) {
            warnings.push(format!("xdg-mime default: {error} (install xdg-utils)"));
        }
    }
    let xdg = resolve_xdg(scheme, exe, dirs);
    Registration {
        entry_path,
        warnings,
        xdg,
    }
}

/// Finds a desktop file by name in the user's and the system's application directories.
fn find_entry(name: &str, dirs: &XdgDirs) -> Option<(PathBuf, String)> {
    dirs.all_applications().into_iter().find_map(|dir| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).ok().map(|text| (path, text))
    })
}

/// Looks `program` up as xdg-open does (`which`), and compares it with this binary.
fn same_binary(program: &str, exe: &Path) -> bool {
    let found = if program.contains('/') {
        Some(PathBuf::from(program))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|candidate| candidate.is_file())
        })
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    found
        .and_then(|p| canonical(&p))
        .is_some_and(|p| Some(p) == canonical(exe))
}

/// Checks the desktop file an opener picked: it must run this binary with the URL.
fn check_entry(via: &'static str, desktop_file: String, exe: &Path, dirs: &XdgDirs) -> Resolution {
    let Some((path, text)) = find_entry(&desktop_file, dirs) else {
        return Resolution {
            desktop_file: Some(desktop_file.clone()),
            ..Resolution::unresolved(
                via,
                format!("{desktop_file} is named as the handler but does not exist"),
            )
        };
    };
    let program = xdg_open_program(&text).map(str::to_string);
    let problem = match &program {
        None => Some(format!("{} has no Exec line", path.display())),
        Some(p) if p.starts_with('"') || p.starts_with('\'') => Some(format!(
            "{} has a quoted Exec ({p}) that xdg-open cannot run",
            path.display()
        )),
        Some(p) if !same_binary(p, exe) => Some(format!(
            "{} runs {p}, not this Agent Shell ({})",
            path.display(),
            exe.display()
        )),
        Some(_) => None,
    };
    Resolution {
        via,
        desktop_file: Some(desktop_file),
        program,
        problem,
        tool_missing: false,
    }
}

/// How xdg-open will resolve the scheme: `xdg-mime query default`, then the entry's `Exec`.
pub fn resolve_xdg(scheme: &str, exe: &Path, dirs: &XdgDirs) -> Resolution {
    let mut query = Command::new("xdg-mime");
    query.args(["query", "default", &format!("x-scheme-handler/{scheme}")]);
    dirs.apply(&mut query);
    match run(query) {
        Ok(name) if name.is_empty() => Resolution::unresolved(
            "xdg-mime",
            format!(
                "no application is registered for {scheme}: links go to the web browser instead"
            ),
        ),
        Ok(name) => check_entry("xdg-mime", name, exe, dirs),
        Err(failure) => Resolution::tool_failed("xdg-mime", failure, "install xdg-utils"),
    }
}

/// The desktop entry of the default web browser (the `https` handler), as xdg-mime reports it;
/// None when xdg-utils is missing or no browser is set.
pub fn default_browser(dirs: &XdgDirs) -> Option<String> {
    let mut query = Command::new("xdg-mime");
    query.args(["query", "default", "x-scheme-handler/https"]);
    dirs.apply(&mut query);
    run(query).ok().filter(|name| !name.is_empty())
}

/// How GIO (GNOME, KDE, Firefox) will resolve the scheme: `gio mime x-scheme-handler/<scheme>`.
pub fn resolve_gio(scheme: &str, exe: &Path, dirs: &XdgDirs) -> Resolution {
    let mut query = Command::new("gio");
    query.args(["mime", &format!("x-scheme-handler/{scheme}")]);
    dirs.apply(&mut query);
    match run(query) {
        Ok(text) => match parse_gio_default(&text) {
            Some(name) => check_entry("gio", name, exe, dirs),
            None => Resolution::unresolved(
                "gio",
                format!("GIO knows no default application for {scheme}"),
            ),
        },
        Err(failure) => Resolution::tool_failed("gio", failure, "install libglib2.0-bin to check"),
    }
}

/// The default application's file name from `gio mime` output
/// (`Default application for “x-scheme-handler/x”: name.desktop`).
pub fn parse_gio_default(output: &str) -> Option<String> {
    output
        .lines()
        .find(|line| line.starts_with("Default application"))
        .and_then(|line| line.rsplit_once(": "))
        .map(|(_, name)| name.trim().to_string())
        .filter(|name| name.ends_with(".desktop"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_one_xdg_open_can_run() {
        let entry = handler_entry("/opt/agent-shell/agent-shell", "com.agentshell.desktop");
        assert_eq!(
            xdg_open_program(&entry),
            Some("/opt/agent-shell/agent-shell")
        );
        assert_eq!(
            entry_value(&entry, "Exec"),
            Some("/opt/agent-shell/agent-shell %u")
        );
        assert_eq!(
            entry_value(&entry, "MimeType"),
            Some("x-scheme-handler/com.agentshell.desktop;")
        );
        // What Tauri's deep-link plugin writes: xdg-open takes the quote as part of the name.
        let quoted = "[Desktop Entry]\nExec=\"/opt/agent-shell/agent-shell\" %u\n";
        assert_eq!(
            xdg_open_program(quoted),
            Some("\"/opt/agent-shell/agent-shell\"")
        );
        // Keys of other groups do not count.
        let other = "[Desktop Action x]\nExec=/bin/false\n[Desktop Entry]\nExec=/bin/true %u\n";
        assert_eq!(xdg_open_program(other), Some("/bin/true"));
    }

    #[test]
    fn start_at_login_names_the_program_as_one_word() {
        assert_eq!(
            autostart_program(r"C:\Program Files\Agent Shell\agent-shell.exe", true),
            r#""C:\Program Files\Agent Shell\agent-shell.exe""#
        );
        assert_eq!(
            autostart_program("/usr/bin/agent-shell", false),
            "/usr/bin/agent-shell"
        );
        assert_eq!(
            autostart_program("/opt/Agent Shell/agent-shell", false),
            r#""/opt/Agent Shell/agent-shell""#
        );
        // In the file: the string escape of `\`, then Exec's escape of `"`, `$`, `\`.
        assert_eq!(
            autostart_program(r#"/opt/a "b" $c\d"#, false),
            r#""/opt/a \\"b\\" \\$c\\\\d""#
        );
    }

    #[test]
    fn only_plain_paths_are_written_bare() {
        assert!(is_bare_word("/usr/bin/agent-shell"));
        assert!(is_bare_word("/home/a.b/target/debug/agent_shell+1"));
        assert!(!is_bare_word("/opt/Agent Shell/agent-shell"));
        assert!(!is_bare_word("/opt/x\"y"));
        assert!(!is_bare_word("/opt/$HOME"));
        assert!(!is_bare_word(""));
    }

    #[test]
    fn gio_output_is_read_for_the_default_application() {
        let out = "Default application for “x-scheme-handler/com.agentshell.desktop”: agent-shell-handler.desktop\nRegistered applications:\n\tagent-shell-handler.desktop\n";
        assert_eq!(parse_gio_default(out).as_deref(), Some(HANDLER_FILE));
        assert_eq!(
            parse_gio_default("No default applications for “x-scheme-handler/x”\n"),
            None
        );
    }

    #[test]
    fn a_path_with_spaces_is_reached_through_a_link() {
        let root = tempfile::tempdir().unwrap();
        let dirs = XdgDirs {
            data_home: root.path().join("data"),
            config_home: root.path().join("config"),
            data_dirs: vec![],
        };
        let spaced = root.path().join("Agent Shell");
        std::fs::create_dir_all(&spaced).unwrap();
        let exe = spaced.join("agent-shell");
        std::fs::write(&exe, "").unwrap();
        let program = exec_path(&exe, &dirs).unwrap();
        assert!(is_bare_word(&program), "{program}");
        assert!(same_binary(&program, &exe));
        assert!(!same_binary("/bin/sh", &exe));
    }
}

//! Shared harness of the end-to-end tests: the real app under Xvfb, driven through
//! tauri-driver + WebKitWebDriver, with a throwaway HOME and its own emulator.
//!
//! Run them with scripts/test.sh (it provides Xvfb, a D-Bus session and tauri-driver).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, MutexGuard};

use agent_shell_core::secret::RefreshToken;
use genesys_emulator::{ClientRegistration, EmulatorConfig, RunningEmulator};
use serde_json::Value;

/// One app at a time: the single-instance plugin would forward a second one to the first.
static ONE_APP_AT_A_TIME: Mutex<()> = Mutex::const_new(());

pub struct E2eApp {
    pub client: Client,
    pub home: TempDir,
    /// The emulator's `/_emulator/secrets` when the config names one: on quit, the app's log
    /// files and stderr are checked for every secret it issued or saw.
    secrets_url: Option<String>,
    driver: Child,
    driver_log: PathBuf,
    _watchdog: Watchdog,
    _guard: MutexGuard<'static, ()>,
}

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
struct Watchdog {
    _disarm: std::sync::mpsc::Sender<()>,
}

impl Watchdog {
    fn arm(driver_pid: Option<u32>, driver_log: PathBuf) -> Watchdog {
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

#[derive(Default)]
pub struct Launch<'a> {
    /// Arguments after the binary, e.g. ["--config", path] or ["demo"].
    pub args: Vec<String>,
    /// Written to $HOME/agent-shell.toml and passed with --config when set.
    pub config_toml: Option<&'a str>,
    /// Extra environment for the app (e.g. BROWSER).
    pub env: Vec<(String, String)>,
    /// Reuse a HOME from an earlier run (a restart); a fresh one otherwise.
    pub home: Option<TempDir>,
}

fn find_tauri_driver() -> PathBuf {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return PathBuf::from(path);
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("tauri-driver"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(cargo_home).join("bin/tauri-driver"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/tauri-driver"));
    }
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .expect("tauri-driver not found: run scripts/test.sh (it installs it), or set TAURI_DRIVER")
}

/// Polls `probe` every 100 ms until it returns `Ok`, and returns that value. After `limit` the
/// test fails, naming what it waited for and what `probe` last saw (its `Err`).
pub async fn wait_until<T>(
    limit: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) if Instant::now() >= deadline => {
                panic!("waited {limit:?} for {what}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PIDs of running processes whose executable is the app binary under test.
fn app_pids() -> Vec<u32> {
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
async fn wait_for_app_exit() {
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

/// Resolves once the app's log (in the driver log) says it stopped.
async fn app_stopped(driver_log: &Path) {
    loop {
        if std::fs::read_to_string(driver_log).is_ok_and(|log| log.contains("agent-shell stopped"))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl E2eApp {
    pub async fn launch(launch: Launch<'_>) -> E2eApp {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "end-to-end tests need a display: run them through scripts/test.sh (Xvfb)"
        );
        let guard = ONE_APP_AT_A_TIME.lock().await;
        wait_for_app_exit().await;
        let home = match launch.home {
            Some(home) => home,
            None => tempfile::tempdir().unwrap(),
        };
        let mut args = launch.args;
        let secrets_url = launch
            .config_toml
            .and_then(emulator_login_url)
            .map(|login| format!("{login}/_emulator/secrets"));
        if let Some(text) = launch.config_toml {
            let path = home.path().join("agent-shell.toml");
            std::fs::write(&path, text).unwrap();
            args.insert(0, path.display().to_string());
            args.insert(0, "--config".into());
        }

        let driver_log = home.path().join("tauri-driver.log");
        let xdg = |name: &str| {
            let dir = home.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        };
        // Ports are picked free and then bound by the drivers: another server of the test
        // run (an emulator) may take one in between. WebKitWebDriver then says it cannot
        // listen, and the other server answers in its place: start again on new ports.
        let mut attempt = 0;
        let (driver, port) = loop {
            attempt += 1;
            let port = free_port();
            let native_port = free_port();
            let log = std::fs::File::create(&driver_log).unwrap();
            let mut command = Command::new(find_tauri_driver());
            command.envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let mut driver = command
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .env("HOME", home.path())
                .env("XDG_CONFIG_HOME", xdg(".config"))
                .env("XDG_DATA_HOME", xdg(".local/share"))
                .env("XDG_CACHE_HOME", xdg(".cache"))
                .env_remove("AGENT_SHELL_CONFIG")
                .env("AGENT_SHELL_LOG", "info")
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log))
                .kill_on_drop(true)
                .spawn()
                .expect("tauri-driver failed to start");

            // Both tauri-driver and the WebKitWebDriver it starts must listen before a session.
            for listening_port in [port, native_port] {
                let deadline = Instant::now() + Duration::from_secs(20);
                while tokio::net::TcpStream::connect(("127.0.0.1", listening_port))
                    .await
                    .is_err()
                {
                    assert!(
                        Instant::now() < deadline,
                        "WebDriver did not listen on {listening_port}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let said = std::fs::read_to_string(&driver_log).unwrap_or_default();
            if said.contains("Unable to listen") && attempt < 3 {
                let _ = driver.kill().await;
                continue;
            }
            break (driver, port);
        };

        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": env!("CARGO_BIN_EXE_agent-shell"), "args": args }),
        );
        // WebDriver is plain http on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let watchdog = Watchdog::arm(driver.id(), driver_log.clone());
        // WebKitWebDriver keeps waiting for a window when the app stops at start-up: watch the
        // app's log as well, so such a start fails at once and says why.
        let mut builder = ClientBuilder::new(connector);
        builder.capabilities(capabilities);
        let webdriver_url = format!("http://127.0.0.1:{port}");
        let session = builder.connect(&webdriver_url);
        let client = tokio::select! {
            connected = session => connected.unwrap_or_else(|e| {
                panic!(
                    "WebDriver session failed: {e}\n--- tauri-driver log ---\n{}",
                    std::fs::read_to_string(&driver_log).unwrap_or_default()
                )
            }),
            () = app_stopped(&driver_log) => panic!(
                "the app stopped while starting\n--- tauri-driver log ---\n{}",
                std::fs::read_to_string(&driver_log).unwrap_or_default()
            ),
        };
        // Bounded waits inside WebKit too: a page load or script that never ends fails the
        // command instead of blocking it.
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("WebDriver refused the timeouts");
        E2eApp {
            client,
            home,
            secrets_url,
            driver,
            driver_log,
            _watchdog: watchdog,
            _guard: guard,
        }
    }

    /// Waits until `css` is displayed and returns its text.
    pub async fn visible_text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false) {
                    return element.text().await.unwrap();
                }
            }
            if Instant::now() > deadline {
                self.screenshot("timeout").await;
                panic!("{css} not displayed within 15 s\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn is_displayed(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        // Let WebKit paint the latest state before capturing it.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let path = artifacts_dir().join(format!("{name}.png"));
        if let Ok(png) = self.client.screenshot().await {
            std::fs::write(&path, png).unwrap();
        }
        path
    }

    /// tauri-driver's output, which includes the app's own log on stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.driver_log).unwrap_or_default()
    }

    pub async fn quit(self) -> String {
        self.quit_keeping_home().await.0
    }

    /// Ends the app but keeps its HOME, to start it again (a restart).
    pub async fn quit_keeping_home(mut self) -> (String, TempDir) {
        let _ = self.client.clone().close().await;
        // SIGTERM lets tauri-driver stop its WebKitWebDriver; SIGKILL would orphan it.
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(5), self.driver.wait())
            .await
            .is_err()
        {
            let _ = self.driver.kill().await;
        }
        wait_for_app_exit().await;
        let log = self.log();
        if let Some(url) = &self.secrets_url {
            assert_no_secret_in_logs(url, self.home.path(), &log).await;
        }
        (log, self.home)
    }

    pub async fn click(&self, css: &str) {
        self.visible_text(css).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Waits until `css` shows exactly `expected`.
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false)
                    && element.text().await.unwrap_or_default() == expected
                {
                    return;
                }
            }
            if Instant::now() > deadline {
                let shown = self.client.find(Locator::Css(css)).await.ok();
                let text = match shown {
                    Some(e) => e.text().await.unwrap_or_default(),
                    None => "<missing>".into(),
                };
                self.screenshot("wait-for-text-timeout").await;
                panic!(
                    "{css} shows {text:?}, expected {expected:?}\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A loopback HTTP server on an origin the CSP does not allow; counts every connection so a
/// test can prove the webview never reached it.
pub struct ForbiddenOrigin {
    pub origin: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ForbiddenOrigin {
    pub async fn start() -> ForbiddenOrigin {
        use std::sync::atomic::Ordering;
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforbidden")
                    .await;
            }
        });
        ForbiddenOrigin { origin, hits, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for ForbiddenOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A stand-in for the system browser, named by $BROWSER: it follows the authorize URL against
/// the emulator (auto-approve) and hands the redirect back the way a real browser does: a deep
/// link to the desktop's opener (`xdg-open` in a generic session with no desktop named, or the
/// command in `test-browser.opener`, e.g. `gio open`), which finds the handler the app
/// registered and runs it; a loopback redirect by fetching it.
/// Every URL it is asked to open is appended to `browser.log` in `dir`. Its own files (the
/// browser's "profile") are named `browser.log`, `loopback-page.html` and `test-browser.*`:
/// [`app_files_containing`] leaves them out, as the app never writes them.
/// - `test-browser.redirect`: the last redirect it was handed (for replay tests);
/// - `test-browser.hold` present: the redirect is kept in `test-browser.held`, not delivered
///   (the agent has not finished in the browser yet).
pub fn write_test_browser(dir: &Path) -> PathBuf {
    let script = dir.join("test-browser.sh");
    let log = dir.join("browser.log");
    std::fs::write(
        &script,
        format!(
            r#"#!/usr/bin/env bash
set -u
echo "$1" >> "{log}"
# Only the emulator (loopback) is followed: other pages (help, CRM) are just recorded, so the
# tests never depend on the network or on sites outside this machine.
case "$1" in
  http://127.0.0.1*) ;;
  *) exit 0 ;;
esac
# The Location header verbatim, as a browser hands it to the OS (curl's redirect_url would
# rewrite scheme:/path as scheme://path).
location=$(curl -s --max-time 10 -D - -o /dev/null "$1" | sed -n 's/^[Ll]ocation: //p' | tr -d '\r')
echo "redirect: ${{location%%\?*}}" >> "{log}"
printf '%s' "$location" > "{dir}/test-browser.redirect"
if [ -e "{dir}/test-browser.hold" ]; then
  printf '%s' "$location" > "{dir}/test-browser.held"
  exit 0
fi
case "$location" in
  http://127.0.0.1*) curl -s -o "{dir}/loopback-page.html" "$location" ;;
  "") echo "no redirect" >> "{log}" ;;
  *)
    opener=$(cat "{dir}/test-browser.opener" 2>/dev/null || echo xdg-open)
    echo "opener: $opener" >> "{log}"
    # A generic session: no desktop named, so xdg-open takes its xdg-mime path.
    env -u XDG_CURRENT_DESKTOP -u DESKTOP_SESSION -u KDE_FULL_SESSION -u GNOME_DESKTOP_SESSION_ID \
      timeout 30 $opener "$location" >> "{log}" 2>&1
    echo "opener exit: $?" >> "{log}"
    ;;
esac
"#,
            log = log.display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// Every regular file under `dir` (links not followed), leaving out files named as `skip` says.
fn files_under(dir: &Path, skip: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if skip(&name) {
            continue;
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        } else if meta.is_file() {
            files.push(path);
        }
    }
    files
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    !needle.is_empty() && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Files under `home` that contain any of `secrets` (with the secret's index), leaving out the
/// test browser's own files (a real browser keeps its history in its own profile, not in the
/// app's).
pub fn app_files_containing(home: &Path, secrets: &[String]) -> Vec<(PathBuf, usize)> {
    let browsers_own = |name: &str| {
        name == "browser.log" || name == "loopback-page.html" || name.starts_with("test-browser.")
    };
    let mut found = Vec::new();
    for path in files_under(home, browsers_own) {
        if let Ok(bytes) = std::fs::read(&path) {
            for (index, secret) in secrets.iter().enumerate() {
                if contains(&bytes, secret) {
                    found.push((path.clone(), index));
                }
            }
        }
    }
    found
}

/// The `login` URL of a `[local_emulator]` config.
fn emulator_login_url(config: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(config).ok()?;
    Some(
        table
            .get("local_emulator")?
            .get("login")?
            .as_str()?
            .trim_end_matches('/')
            .to_string(),
    )
}

/// The app's log directory under a test HOME (XDG_STATE_HOME is not set there).
pub fn log_dir(home: &Path) -> PathBuf {
    home.join(".local/state/agent-shell/logs")
}

/// Asserts that the app wrote a log file, and that neither its log files nor its stderr hold
/// any secret the emulator issued or saw (counted, never printed). Skipped when the test has
/// already stopped its emulator.
async fn assert_no_secret_in_logs(secrets_url: &str, home: &Path, stderr: &str) {
    let client = reqwest::Client::new();
    let Ok(Ok(response)) =
        tokio::time::timeout(Duration::from_secs(5), client.get(secrets_url).send()).await
    else {
        return;
    };
    let Ok(secrets) = response.json::<Vec<String>>().await else {
        return;
    };
    let files: Vec<PathBuf> = std::fs::read_dir(log_dir(home))
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        !files.is_empty(),
        "the app wrote no log file under {}",
        log_dir(home).display()
    );
    let mut texts: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|path| {
            (
                path.display().to_string(),
                std::fs::read(path).unwrap_or_default(),
            )
        })
        .collect();
    texts.push(("the app's stderr".into(), stderr.as_bytes().to_vec()));
    let leaks: Vec<String> = texts
        .iter()
        .flat_map(|(name, bytes)| {
            secrets
                .iter()
                .enumerate()
                .filter(|(_, secret)| contains(bytes, secret))
                .map(move |(index, _)| format!("secret #{index} in {name}"))
        })
        .collect();
    assert!(leaks.is_empty(), "secrets in the app's logs: {leaks:?}");
}

/// Every secret the emulator issued or saw: tokens, codes, verifiers, states.
pub async fn emulator_secrets(emulator: &RunningEmulator) -> Vec<String> {
    let url = format!("{}/_emulator/secrets", emulator.urls().login);
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Asserts that no file the app could have written under `home` holds any secret the emulator
/// issued or saw (secrets are counted, never printed).
pub async fn assert_no_secret_in_home(emulator: &RunningEmulator, home: &Path) {
    let secrets = emulator_secrets(emulator).await;
    assert!(
        !secrets.is_empty(),
        "the emulator saw no secret: nothing was checked"
    );
    let found = app_files_containing(home, &secrets);
    assert!(
        found.is_empty(),
        "{} secret(s) found in files under HOME: {:?}",
        found.len(),
        found
            .iter()
            .map(|(p, i)| (p, format!("secret #{i}")))
            .collect::<Vec<_>>()
    );
}

/// Asserts that no running process has any secret the emulator issued or saw in its
/// arguments or environment (`/proc/PID/cmdline`, `/proc/PID/environ`). Call it when no
/// browser is running: a browser is handed the authorize URL, state included, by design.
pub async fn assert_no_secret_in_processes(emulator: &RunningEmulator) {
    let secrets = emulator_secrets(emulator).await;
    assert!(
        !secrets.is_empty(),
        "the emulator saw no secret: nothing was checked"
    );
    // A process that carried the redirect (the second instance, xdg-open) may still be on its
    // way out: give it five seconds, then whatever still holds a secret fails the test.
    let mut found = Vec::new();
    for _ in 0..50 {
        found = processes_holding(&secrets);
        if found.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("secrets in process arguments or environment: {found:?}");
}

fn processes_holding(secrets: &[String]) -> Vec<String> {
    let mut checked = 0;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        for part in ["cmdline", "environ"] {
            let Ok(bytes) = std::fs::read(entry.path().join(part)) else {
                continue;
            };
            checked += 1;
            for (index, secret) in secrets.iter().enumerate() {
                if contains(&bytes, secret) {
                    let comm =
                        std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                    found.push(format!(
                        "secret #{index} in {part} of {name} ({})",
                        comm.trim()
                    ));
                }
            }
        }
    }
    assert!(checked > 0, "no process could be read");
    found
}

/// Lines the test browser logged as opened URLs (not its own notes).
pub fn browser_opens(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("browser.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("http"))
        .map(String::from)
        .collect()
}

/// True if any file under `dir` contains `needle` (the refresh token must not be in a file).
pub fn any_file_contains(dir: &Path, needle: &str) -> Option<PathBuf> {
    files_under(dir, |_| false)
        .into_iter()
        .find(|path| std::fs::read(path).is_ok_and(|bytes| contains(&bytes, needle)))
}

// ---------------------------------------------------------------------------------------------
// The emulator and the app, as most end-to-end tests use them.

pub async fn emulator(loopback_port: u16) -> RunningEmulator {
    emulator_with(loopback_port, EmulatorConfig::default()).await
}

pub async fn emulator_with(loopback_port: u16, base: EmulatorConfig) -> RunningEmulator {
    genesys_emulator::start(EmulatorConfig {
        auto_approve: true,
        clients: vec![ClientRegistration {
            client_id: genesys_emulator::DEMO_CLIENT_ID.into(),
            secret: None,
            redirect_uris: vec![
                "com.agentshell.desktop:/oauth/callback".into(),
                format!("http://127.0.0.1:{loopback_port}/oauth/callback"),
            ],
        }],
        ..base
    })
    .await
    .unwrap()
}

/// A configuration for the app against `emulator` that frames the emulator's stand-in for a
/// page of IT's own (`embed.client_url`), which speaks the shell's protocol with scripted
/// timers: what the host-side tests drive. `extra` may carry its own `[embed] client_url`.
pub fn config_text(emulator: &RunningEmulator, extra: &str) -> String {
    let page = format!(
        "client_url = \"{}/embedded-client/\"\n",
        emulator.urls().api
    );
    let extra = if extra.contains("client_url") {
        extra.to_string()
    } else if extra.contains("[embed]\n") {
        extra.replacen("[embed]\n", &format!("[embed]\n{page}"), 1)
    } else {
        format!("{extra}\n[embed]\n{page}")
    };
    agent_config_text(emulator, &extra)
}

/// A configuration for the app against `emulator` with the shell's own agent client (the
/// default: no `embed.client_url`).
pub fn agent_config_text(emulator: &RunningEmulator, extra: &str) -> String {
    let urls = emulator.urls();
    format!(
        "client_id = \"{}\"\n{extra}\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\nmock_media_devices = true\n",
        genesys_emulator::DEMO_CLIENT_ID,
        urls.login,
        urls.api,
        urls.media
    )
}

/// The refresh token the app stored in the Secret Service for `config`, read the way the app
/// reads it. Bounded: a keyring that waits on an unlock prompt nobody can answer fails the
/// test in seconds instead of blocking it (the reading thread is left behind).
pub fn stored_refresh_token(config: &str) -> Option<RefreshToken> {
    use agent_shell_core::platform::keychain::{KeyringStore, SecretStore};
    let store = KeyringStore::for_config(&agent_shell_core::config::parse_str(config).unwrap());
    let (answer, answered) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = answer.send(store.load());
    });
    match answered.recv_timeout(Duration::from_secs(10)) {
        Ok(loaded) => loaded.expect("Secret Service readable"),
        Err(_) => panic!(
            "the Secret Service did not answer within 10 s: is the test keyring still running and unlocked?"
        ),
    }
}

pub async fn emulator_state(emulator: &RunningEmulator) -> Value {
    let url = format!("{}/_emulator/state", emulator.urls().login);
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Polls the emulator's state until `holds` is true for it (20 s at most) and returns it.
pub async fn wait_for_emulator_state(
    emulator: &RunningEmulator,
    what: &str,
    holds: impl Fn(&Value) -> bool,
) -> Value {
    wait_until(Duration::from_secs(20), what, async || {
        let state = emulator_state(emulator).await;
        match holds(&state) {
            true => Ok(state),
            false => Err(state.to_string()),
        }
    })
    .await
}

/// POSTs to the emulator's control API (settings, faults, revoke) and checks it was accepted.
pub async fn control(emulator: &RunningEmulator, path: &str, body: Value) {
    let url = format!("{}/_emulator/{path}", emulator.urls().login);
    let response = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// Launches the app with `config` in `home` (a fresh one, or an earlier run's to restart).
pub async fn launch(config: &str, env: &[(String, String)], home: tempfile::TempDir) -> E2eApp {
    E2eApp::launch(Launch {
        config_toml: Some(config),
        env: env.to_vec(),
        home: Some(home),
        ..Launch::default()
    })
    .await
}

/// A fresh HOME with the test browser in it, and the environment that names it.
pub fn browser_home() -> (tempfile::TempDir, Vec<(String, String)>) {
    let home = tempfile::tempdir().unwrap();
    let browser = write_test_browser(home.path());
    (
        home,
        vec![("BROWSER".to_string(), browser.display().to_string())],
    )
}

/// Switches WebDriver into the embedded client's iframe (back out with `enter_parent_frame`).
pub async fn enter_client_frame(app: &E2eApp) {
    let frame = app
        .client
        .find(Locator::Css("#client-frame"))
        .await
        .unwrap();
    frame.enter_frame().await.unwrap();
}

/// The client iframe's `src` attribute, as the page set it.
pub async fn client_frame_src(app: &E2eApp) -> String {
    let src = app
        .client
        .execute(
            "return document.getElementById('client-frame').getAttribute('src');",
            vec![],
        )
        .await
        .unwrap();
    src.as_str().unwrap_or_default().to_string()
}

/// Clicks an element inside the client iframe (a real click: popups need a user gesture).
pub async fn click_in_client(app: &E2eApp, css: &str) {
    enter_client_frame(app).await;
    app.click(css).await;
    app.client.enter_parent_frame().await.unwrap();
}

pub async fn wait_for_open(home: &std::path::Path, url: &str) {
    let what = format!("the browser to open {url}");
    wait_until(Duration::from_secs(10), &what, async || {
        let opened = browser_opens(home);
        match opened.iter().any(|u| u == url) {
            true => Ok(()),
            false => Err(format!("opened {opened:?}")),
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The tray icon, read the way a desktop panel reads it.

/// Where libayatana-appindicator exports the tray icon of the app (tray id "agent-shell").
const TRAY_ITEM_PATH: &str = "/org/ayatana/NotificationItem/tray_icon_tray_app_agent_shell";

/// What the tray shows: the status line (the menu's first entry) and the colour of the dot at
/// the icon's lower right.
#[derive(Debug, PartialEq)]
pub struct TrayView {
    pub status: String,
    pub dot_rgb: [u8; 3],
}

/// One bounded `gdbus call` on the session bus; None when it fails.
fn gdbus_call(dest: &str, path: &str, method: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("gdbus")
        .args([
            "call",
            "--session",
            "-t",
            "3",
            "--dest",
            dest,
            "--object-path",
            path,
        ])
        .args(["--method", method, "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first `'...'` string after `key` in gdbus output.
fn quoted_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let rest = &text[text.find(key)? + key.len()..];
    let start = rest.find('\'')? + 1;
    let end = start + rest[start..].find('\'')?;
    Some(&rest[start..end])
}

/// The app's StatusNotifierItem (exported on the session bus even when no panel watches it):
/// its menu's status line, and the dot colour of the icon file it names.
pub fn tray_view() -> Option<TrayView> {
    let bus = "org.freedesktop.DBus";
    let names = gdbus_call(
        bus,
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus.ListNames",
        &[],
    )?;
    let app = app_pids();
    for name in names.split('\'').filter(|n| n.starts_with(':')) {
        let owner = gdbus_call(
            bus,
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            &[name],
        );
        let pid = owner.and_then(|o| {
            o.trim_start_matches("(uint32 ")
                .trim_end_matches(",)\n")
                .parse::<u32>()
                .ok()
        });
        if !pid.is_some_and(|pid| app.contains(&pid)) {
            continue;
        }
        let menu_path = format!("{TRAY_ITEM_PATH}/Menu");
        let Some(layout) = gdbus_call(
            name,
            &menu_path,
            "com.canonical.dbusmenu.GetLayout",
            &["0", "-1", "[]"],
        ) else {
            continue;
        };
        let status = quoted_after(&layout, "'label': <")?.to_string();
        let icon = gdbus_call(
            name,
            TRAY_ITEM_PATH,
            "org.freedesktop.DBus.Properties.Get",
            &["org.kde.StatusNotifierItem", "IconName"],
        )?;
        let dot_rgb = badge_colour(Path::new(quoted_after(&icon, "<")?))?;
        return Some(TrayView { status, dot_rgb });
    }
    None
}

/// The colour at the centre of the status dot (lower right, see tray::badged).
fn badge_colour(png_path: &Path) -> Option<[u8; 3]> {
    let file = std::io::BufReader::new(std::fs::File::open(png_path).ok()?);
    let mut reader = png::Decoder::new(file).read_info().ok()?;
    let mut pixels = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut pixels).ok()?;
    if frame.color_type != png::ColorType::Rgba || frame.bit_depth != png::BitDepth::Eight {
        return None;
    }
    let size = frame.width.min(frame.height) as f32;
    let ring = size * 0.27;
    let (x, y) = (
        (frame.width as f32 - ring) as usize,
        (frame.height as f32 - ring) as usize,
    );
    let at = (y * frame.width as usize + x) * 4;
    let px = pixels.get(at..at + 3)?;
    Some([px[0], px[1], px[2]])
}

/// The dot colours of tray::Tone::Ok and Tone::Attention.
pub const TRAY_GREEN: [u8; 3] = [0x1f, 0x9d, 0x55];
pub const TRAY_RED: [u8; 3] = [0xd6, 0x33, 0x2f];

/// Waits until the tray shows `status` with a dot of `dot_rgb`.
pub async fn wait_for_tray(status: &str, dot_rgb: [u8; 3]) {
    let expected = TrayView {
        status: status.to_string(),
        dot_rgb,
    };
    wait_until(Duration::from_secs(10), "the tray", async || {
        let shown = tokio::task::spawn_blocking(tray_view).await.unwrap();
        match shown.as_ref() == Some(&expected) {
            true => Ok(()),
            false => Err(format!("tray shows {shown:?}, expected {expected:?}")),
        }
    })
    .await;
}

/// One notification as a desktop's notification daemon receives it.
#[derive(Clone, Debug)]
pub struct ReceivedNotification {
    pub app_name: String,
    pub summary: String,
    pub body: String,
}

/// The test's own notification daemon: it owns org.freedesktop.Notifications on the test's
/// D-Bus session bus (there is no desktop there) and records every notification, so a test sees
/// exactly what the agent would. Dropping it releases the name.
pub struct NotificationServer {
    received: std::sync::Arc<std::sync::Mutex<Vec<ReceivedNotification>>>,
    _connection: zbus::blocking::Connection,
}

struct NotificationsInterface {
    received: std::sync::Arc<std::sync::Mutex<Vec<ReceivedNotification>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationsInterface {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut received = self.received.lock().unwrap();
        received.push(ReceivedNotification {
            app_name,
            summary,
            body,
        });
        u32::try_from(received.len()).unwrap()
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "agent-shell-tests".into(),
            "agent-shell".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

impl NotificationServer {
    pub fn start() -> NotificationServer {
        let received = std::sync::Arc::default();
        let connection = zbus::blocking::connection::Builder::session()
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at(
                "/org/freedesktop/Notifications",
                NotificationsInterface {
                    received: std::sync::Arc::clone(&received),
                },
            )
            .unwrap()
            .build()
            .expect("org.freedesktop.Notifications is free on the test's session bus");
        NotificationServer {
            received,
            _connection: connection,
        }
    }

    pub fn received(&self) -> Vec<ReceivedNotification> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (20 s at most) for the first notification.
    pub async fn first(&self) -> ReceivedNotification {
        wait_until(Duration::from_secs(20), "a notification", async || {
            self.received()
                .into_iter()
                .next()
                .ok_or_else(|| "none".to_string())
        })
        .await
    }
}

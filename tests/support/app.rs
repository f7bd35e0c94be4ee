//! The app under test: started through tauri-driver + WebKitWebDriver with a throwaway HOME,
//! driven with WebDriver, quit with its logs checked for secrets.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use agent_shell_test_kit::Control;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::sync::MutexGuard;

use super::free_port;
use super::instance::{wait_for_app_exit, ONE_APP_AT_A_TIME};
use super::secrets::{assert_no_secret_in_logs, emulator_login_url};
use super::watchdog::Watchdog;

pub struct E2eApp {
    pub client: Client,
    pub home: TempDir,
    /// The emulator's control API when the config names one: on quit, the app's log files and
    /// stderr are checked for every secret it issued or saw.
    control: Option<Control>,
    driver: Child,
    driver_log: PathBuf,
    _watchdog: Watchdog,
    _guard: MutexGuard<'static, ()>,
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
        let control = launch
            .config_toml
            .and_then(emulator_login_url)
            .map(|login| Control::at(&login));
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
            control,
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
        // WebKitWebDriver takes a screenshot after the page's next paint. Without compositing
        // (the default where there is no GPU, as under Xvfb) a page that has stopped changing
        // never paints again, and the screenshot, and every WebDriver command queued behind it,
        // would wait for ever. A one-pixel, almost transparent mark for a moment makes that
        // paint; it is gone again after 1.5 s.
        let _ = self
            .client
            .execute(
                "const mark = document.createElement('div');
                 mark.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;background:rgba(0,0,0,0.01);pointer-events:none';
                 document.documentElement.appendChild(mark);
                 setTimeout(() => mark.remove(), 1500);",
                vec![],
            )
            .await;
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
        if let Some(control) = &self.control {
            assert_no_secret_in_logs(control, self.home.path(), &log).await;
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

    /// Presses Sign in and waits for the test browser's round trip to sign the agent in.
    pub async fn sign_in_through_the_browser(&self) {
        self.click("#sign-in-button").await;
        self.wait_for_text("#signed-in-title", "Signed in as Alex Agent")
            .await;
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

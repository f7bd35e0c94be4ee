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

/// One app at a time: the single-instance plugin would forward a second one to the first.
static ONE_APP_AT_A_TIME: Mutex<()> = Mutex::const_new(());

pub struct E2eApp {
    pub client: Client,
    pub home: TempDir,
    driver: Child,
    driver_log: PathBuf,
    _guard: MutexGuard<'static, ()>,
}

pub struct Launch<'a> {
    /// Arguments after the binary, e.g. ["--config", path] or ["demo"].
    pub args: Vec<String>,
    /// Written to $HOME/agent-shell.toml and passed with --config when set.
    pub config_toml: Option<&'a str>,
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        let home = tempfile::tempdir().unwrap();
        let mut args = launch.args;
        if let Some(text) = launch.config_toml {
            let path = home.path().join("agent-shell.toml");
            std::fs::write(&path, text).unwrap();
            args.insert(0, path.display().to_string());
            args.insert(0, "--config".into());
        }

        let port = free_port();
        let native_port = free_port();
        let driver_log = home.path().join("tauri-driver.log");
        let log = std::fs::File::create(&driver_log).unwrap();
        let xdg = |name: &str| {
            let dir = home.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        };
        let driver = Command::new(find_tauri_driver())
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

        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tauri-driver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": env!("CARGO_BIN_EXE_agent-shell"), "args": args }),
        );
        // WebDriver is plain http on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "WebDriver session failed: {e}\n--- tauri-driver log ---\n{}",
                    std::fs::read_to_string(&driver_log).unwrap_or_default()
                )
            });
        E2eApp {
            client,
            home,
            driver,
            driver_log,
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

    pub async fn quit(mut self) -> String {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        self.log()
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

//! Chromium beside the app: an `--app` window showing the same emulated client, framed by a
//! host page that hands it a token the way Agent Shell's page does.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genesys_emulator::RunningEmulator;

use crate::refresh::Desk;
use crate::stats::{tree_memory, Samples};
use crate::BoxError;

/// One round of Chromium: start to the client initialised, then memory after `idle_secs`.
#[allow(clippy::too_many_arguments)]
pub async fn chromium_round(
    chromium: &Path,
    emulator: &RunningEmulator,
    host: &HostPage,
    page_port: u16,
    home: &Path,
    limit: Duration,
    idle_secs: u64,
    samples: &mut Samples,
) -> Result<(), BoxError> {
    let token = access_token_for_page(emulator).await?;
    let client_url = format!("{}/embedded-client/", emulator.urls().api);
    let client_origin = url::Url::parse(&client_url)?.origin().ascii_serialization();
    host.set(host_page(&client_url, &client_origin, &token));
    let (port, started) = (page_port, host.started.clone());
    let profile = home.join("chromium-profile");
    let launched = Instant::now();
    let mut child = Command::new(chromium)
        .args([
            format!("--app=http://127.0.0.1:{port}/host.html"),
            format!("--user-data-dir={}", profile.display()),
            "--no-sandbox".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
            "--password-store=basic".into(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && started.lock().map(|s| s.is_none()).unwrap_or(true) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Ok(Some(at)) = started.lock().map(|s| *s) {
        samples.add("chromium_start", (at - launched).as_secs_f64() * 1000.0);
    }
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let (pss, rss, _) = tree_memory(child.id());
    samples.add("chromium_pss", pss);
    samples.add("chromium_rss", rss);
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}

/// An access token for the Chromium page: a sign-in through the session engine, the harness
/// playing the browser against the auto-approving emulator.
async fn access_token_for_page(emulator: &RunningEmulator) -> Result<String, BoxError> {
    let desk = Desk::in_memory(emulator, genesys_emulator::DEMO_CLIENT_ID, None)?;
    desk.sign_in_at_emulator().await?;
    let token = desk
        .engine
        .auth()
        .access_token()
        .ok_or("signed in without an access token")?;
    Ok(token.expose().to_string())
}

// The app: start, memory, deep link; Chromium beside it

/// A page that frames the emulated client and hands it a token the way Agent Shell's page
/// does (ready -> ack -> init), and reports session-start back to the harness.
fn host_page(client_url: &str, client_origin: &str, token: &str) -> String {
    format!(
        r#"<!doctype html><html><head><title>Genesys Cloud (browser)</title>
<style>html,body,iframe{{margin:0;border:0;width:100%;height:100%}}</style></head>
<body><iframe id="client" src="{client_url}" allow="microphone; autoplay"></iframe>
<script>
const frame = document.getElementById('client');
window.addEventListener('message', (event) => {{
  if (event.origin !== '{client_origin}' || event.source !== frame.contentWindow) return;
  const message = event.data || {{}};
  if (message.type === 'agent-shell:ready') {{
    frame.contentWindow.postMessage({{type: 'ack', status: 'received'}}, '{client_origin}');
    frame.contentWindow.postMessage({{type: 'agent-shell:init', accessToken: '{token}',
      environment: 'local', clientId: 'agent-shell-demo', embeddedClientSettings: {{}},
      allowedOrigins: [window.location.origin]}}, '{client_origin}');
  }}
  if (message.type === 'agent-shell:session-start') fetch('/started');
}});
</script></body></html>"#
    )
}

/// The page Chromium shows, served once for every round: each round sets its HTML (with a
/// fresh token) and clears the session-start mark.
pub struct HostPage {
    html: Arc<Mutex<String>>,
    started: Arc<Mutex<Option<Instant>>>,
}

impl HostPage {
    pub async fn serve(port: u16) -> Result<HostPage, BoxError> {
        let html = Arc::new(Mutex::new(String::new()));
        let started = Arc::new(Mutex::new(None));
        let (page, mark) = (html.clone(), started.clone());
        let app = axum::Router::new()
            .route(
                "/host.html",
                axum::routing::get(move || {
                    let text = page.lock().map(|h| h.clone()).unwrap_or_default();
                    async move { axum::response::Html(text) }
                }),
            )
            .route(
                "/started",
                axum::routing::get(move || {
                    if let Ok(mut at) = mark.lock() {
                        at.get_or_insert_with(Instant::now);
                    }
                    async { "ok" }
                }),
            );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(HostPage { html, started })
    }

    pub fn set(&self, html: String) {
        if let Ok(mut page) = self.html.lock() {
            *page = html;
        }
        if let Ok(mut at) = self.started.lock() {
            *at = None;
        }
    }
}

//! The measuring harness behind `scripts/bench.sh`: Agent Shell side by side with Chromium
//! showing the same emulated Genesys Cloud client, in one run, several rounds, medians and
//! spread. Prints a table and (with `--out`) writes docs/benchmarks.md.
//!
//! Needs what the e2e tests need (a display, a D-Bus session with an unlocked keyring):
//! scripts/bench.sh provides them. Timings are taken on this process's clock when a log line
//! of the app arrives (launch = spawn), memory from /proc/PID/smaps_rollup of the whole
//! process tree (the app and its WebKit processes; Chromium and all of its processes).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use agent_shell_core::config::{parse_str, RedirectMode, ShellConfig};
use agent_shell_core::oauth::{ApiFuture, GenesysApi, TokenError, TokenSet, UserInfo};
use agent_shell_core::platform::keychain::{KeyringStore, MemoryStore, SecretStore};
use agent_shell_core::secret::{AccessToken, AuthCode, RefreshToken};
use agent_shell_core::session::auth::{AuthService, RedirectTransport};
use clap::Parser;
use genesys_emulator::{EmulatorConfig, RunningEmulator};

#[derive(Parser)]
struct Args {
    /// The agent-shell binary to measure (a release build without the emulator).
    #[arg(long)]
    app: PathBuf,
    /// Chromium, for the side-by-side rows (skipped when absent).
    #[arg(long)]
    chromium: Option<PathBuf>,
    /// The .deb to report the size of.
    #[arg(long)]
    deb: Option<PathBuf>,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Idle time before memory is read (the issue's figure is 60 s).
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    #[arg(long, default_value_t = 1000)]
    refresh_cycles: usize,
    /// Write the report here (markdown) as well as printing it.
    #[arg(long)]
    out: Option<PathBuf>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(run(&args))?;
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report)?;
        eprintln!("bench: wrote {}", out.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Samples and the table

#[derive(Default)]
struct Samples(BTreeMap<&'static str, Vec<f64>>);

impl Samples {
    fn add(&mut self, name: &'static str, value: f64) {
        self.0.entry(name).or_default().push(value);
    }

    fn median(&self, name: &str) -> Option<f64> {
        let mut values = self.0.get(name)?.clone();
        values.sort_by(|a, b| a.total_cmp(b));
        values.get(values.len() / 2).copied()
    }

    /// "median (min-max, n=N)".
    fn show(&self, name: &str, unit: &str) -> String {
        let Some(values) = self.0.get(name) else {
            return "not measured".into();
        };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let median = self.median(name).unwrap_or(f64::NAN);
        if values.len() == 1 {
            return format!("{} {unit}", fmt(median));
        }
        format!(
            "{} {unit} ({}-{}, n={})",
            fmt(median),
            fmt(min),
            fmt(max),
            values.len()
        )
    }
}

fn fmt(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

struct Row {
    what: String,
    value: String,
    target: String,
    verdict: String,
}

fn verdict(value: Option<f64>, limit: f64) -> String {
    match value {
        Some(v) if v <= limit => "met".into(),
        Some(_) => "**missed**".into(),
        None => "not measured".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Memory of a process tree

/// Every descendant of `root`, and `root`.
fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.filter_map(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The command name may hold spaces: the fields start after the last ')'.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            if let Some(ppid) = after.split(' ').nth(1).and_then(|p| p.parse::<u32>().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        if let Some(kids) = children.get(&tree[index]) {
            tree.extend(kids);
        }
        index += 1;
    }
    tree
}

/// (PSS, RSS) in MiB of the whole tree; and per process name, PSS.
fn tree_memory(root: u32) -> (f64, f64, BTreeMap<String, f64>) {
    let (mut pss, mut rss) = (0u64, 0u64);
    let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
    for pid in process_tree(root) {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        let field = |name: &str| {
            rollup
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let (p, r) = (field("Pss:"), field("Rss:"));
        pss += p;
        rss += r;
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        *by_name.entry(name).or_default() += p as f64 / 1024.0;
    }
    (pss as f64 / 1024.0, rss as f64 / 1024.0, by_name)
}

fn self_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// The app as a process, its log lines timed on arrival

struct RunningApp {
    child: Child,
    started: Instant,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl RunningApp {
    fn launch(
        app: &Path,
        home: &Path,
        config: &Path,
        extra_env: &[(&str, &str)],
    ) -> Result<RunningApp, BoxError> {
        let mut command = Command::new(app);
        command
            .args(["--config", &config.display().to_string()])
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("AGENT_SHELL_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("AGENT_SHELL_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in extra_env {
            command.env(name, value);
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("{} does not start: {e}", app.display()))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let sink = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut lines) = sink.lock() {
                        lines.push((Instant::now(), line));
                    }
                }
            });
        }
        Ok(RunningApp {
            child,
            started,
            lines,
        })
    }

    /// When the first line containing every one of `needles` arrived (after `since`).
    fn wait_for(&self, needles: &[&str], since: Instant, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(lines) = self.lines.lock() {
                if let Some((at, _)) = lines
                    .iter()
                    .find(|(at, l)| *at >= since && needles.iter().all(|n| l.contains(n)))
                {
                    return Some(*at);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The single-instance name goes a moment after the process.
        std::thread::sleep(Duration::from_millis(700));
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-in without a window (the harness plays the browser against the auto-approving emulator)

fn local_config(emulator: &RunningEmulator, client_id: &str, extra: &str) -> String {
    let urls = emulator.urls();
    format!(
        "client_id = \"{client_id}\"\n{extra}\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\nmock_media_devices = true\n",
        urls.login, urls.api, urls.media
    )
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

async fn sign_in(auth: &AuthService) -> Result<(), BoxError> {
    let request = auth.begin_sign_in(RedirectMode::DeepLink)?;
    let response = browser().get(request.url.clone()).send().await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("the emulator did not redirect")?
        .to_string();
    auth.complete_sign_in(&location, RedirectTransport::DeepLink)
        .await?;
    Ok(())
}

/// An access token for the Chromium page (the code flow by hand, PKCE S256).
async fn access_token_for_page(emulator: &RunningEmulator) -> Result<String, BoxError> {
    let config = parse_str(&local_config(
        emulator,
        genesys_emulator::DEMO_CLIENT_ID,
        "",
    ))?;
    let auth = AuthService::new(config, Arc::new(MemoryStore::default()))?;
    sign_in(&auth).await?;
    let token = auth
        .access_token()
        .ok_or("signed in without an access token")?;
    Ok(token.expose().to_string())
}

// ---------------------------------------------------------------------------------------------
// The refresh engine in-process

/// Genesys as fast as it can be: what is left of a refresh is the shell's own work.
struct InstantApi {
    issued: Mutex<u64>,
}

impl InstantApi {
    fn tokens(&self) -> TokenSet {
        let mut n = self.issued.lock().map(|mut n| {
            *n += 1;
            *n
        });
        let n = n.as_mut().map(|n| *n).unwrap_or(0);
        TokenSet {
            access_token: AccessToken::new(format!("access-{n}")),
            refresh_token: Some(RefreshToken::new(format!("refresh-{n}"))),
            lifetime: Duration::from_secs(3600),
            expires_at: SystemTime::now() + Duration::from_secs(3600),
            granted_scopes: Vec::new(),
        }
    }
}

impl GenesysApi for InstantApi {
    fn exchange_code<'a>(
        &'a self,
        _code: AuthCode,
        _verifier: oauth2::PkceCodeVerifier,
        _redirect_uri: &'a str,
    ) -> ApiFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move { Ok(self.tokens()) })
    }
    fn refresh<'a>(&'a self, _: &'a RefreshToken) -> ApiFuture<'a, Result<TokenSet, TokenError>> {
        Box::pin(async move { Ok(self.tokens()) })
    }
    fn users_me<'a>(
        &'a self,
        _: &'a AccessToken,
    ) -> ApiFuture<'a, Result<UserInfo, agent_shell_core::oauth::UserLookupError>> {
        Box::pin(async move {
            Ok(UserInfo {
                id: "bench".into(),
                name: Some("Bench Agent".into()),
                email: None,
            })
        })
    }
    fn revoke<'a>(&'a self, _: &'a AccessToken) -> ApiFuture<'a, bool> {
        Box::pin(async move { true })
    }
}

/// Signs in against [`InstantApi`]: no browser, the redirect built from the request's state.
async fn sign_in_without_browser(auth: &AuthService) -> Result<(), BoxError> {
    let request = auth.begin_sign_in(RedirectMode::DeepLink)?;
    let state = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or("no state")?;
    auth.complete_sign_in(
        &format!("com.agentshell.desktop:/oauth/callback?code=bench&state={state}"),
        RedirectTransport::DeepLink,
    )
    .await?;
    Ok(())
}

/// Times `cycles` forced renewals; returns per-renewal milliseconds and RSS growth (MiB).
async fn time_refreshes(auth: &AuthService, cycles: usize) -> Result<(Vec<f64>, f64), BoxError> {
    let before = self_rss_mib();
    let mut times = Vec::with_capacity(cycles);
    for _ in 0..cycles {
        let started = Instant::now();
        auth.refresh().await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times, self_rss_mib() - before))
}

async fn refresh_engine(args: &Args, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let emulator = genesys_emulator::start(EmulatorConfig {
        auto_approve: true,
        ..EmulatorConfig::default()
    })
    .await?;
    let text = local_config(&emulator, genesys_emulator::DEMO_CLIENT_ID, "");

    // The shell alone: an instant Genesys, an in-memory keychain.
    let api = Arc::new(InstantApi {
        issued: Mutex::new(0),
    });
    let auth = AuthService::new(parse_str(&text)?, Arc::new(MemoryStore::default()))?.with_api(api);
    sign_in_without_browser(&auth).await?;
    // Warm up, then measure.
    time_refreshes(&auth, 50).await?;
    let (times, growth) = time_refreshes(&auth, args.refresh_cycles).await?;
    let p50 = percentile(&times, 0.5);
    rows.push(Row {
        what: "Refresh engine: the shell's own time per renewal (no network, in-memory keychain)"
            .into(),
        value: format!(
            "p50 {} ms, p99 {} ms",
            fmt(p50),
            fmt(percentile(&times, 0.99))
        ),
        target: "< 2 ms".into(),
        verdict: verdict(Some(p50), 2.0),
    });
    rows.push(Row {
        what: format!(
            "Refresh engine: memory growth over {} renewals",
            args.refresh_cycles
        ),
        value: format!("{} MiB (process RSS)", fmt(growth.max(0.0))),
        target: "< 5 MiB".into(),
        verdict: verdict(Some(growth), 5.0),
    });

    // With the real keychain (Secret Service over D-Bus): what a renewal costs on a desktop.
    let keyring: Arc<dyn SecretStore> = Arc::new(KeyringStore::for_config(&parse_str(
        &local_config(&emulator, "agent-shell-bench-keychain", ""),
    )?));
    let with_keychain = AuthService::new(
        parse_str(&local_config(&emulator, "agent-shell-bench-keychain", ""))?,
        keyring.clone(),
    )?
    .with_api(Arc::new(InstantApi {
        issued: Mutex::new(0),
    }));
    // A keychain that cannot be used keeps the session in memory, which would time nothing.
    let usable = agent_shell_core::platform::keychain::probe(keyring.clone()).await;
    let signed = match usable {
        Ok(()) => sign_in_without_browser(&with_keychain).await,
        Err(error) => Err(error.into()),
    };
    match signed {
        Ok(_) => {
            let (times, _) = time_refreshes(&with_keychain, 100).await?;
            rows.push(Row {
                what: "Refresh engine: per renewal with the real keychain (Secret Service)".into(),
                value: format!(
                    "p50 {} ms, p99 {} ms",
                    fmt(percentile(&times, 0.5)),
                    fmt(percentile(&times, 0.99))
                ),
                target: "(information)".into(),
                verdict: String::new(),
            });
            with_keychain.sign_out().await;
            let _ = keyring.delete();
        }
        Err(error) => rows.push(Row {
            what: "Refresh engine: per renewal with the real keychain".into(),
            value: format!("not measured: {error}"),
            target: "(information)".into(),
            verdict: String::new(),
        }),
    }

    // A full renewal against the emulator on loopback (real HTTP, the real token client).
    let auth = AuthService::new(parse_str(&text)?, Arc::new(MemoryStore::default()))?;
    sign_in(&auth).await?;
    let (times, _) = time_refreshes(&auth, 200).await?;
    rows.push(Row {
        what: "Refresh: a full renewal against the emulator on loopback".into(),
        value: format!(
            "p50 {} ms, p99 {} ms (n=200)",
            fmt(percentile(&times, 0.5)),
            fmt(percentile(&times, 0.99))
        ),
        target: "(information)".into(),
        verdict: String::new(),
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
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

async fn app_and_browser(
    args: &Args,
    rows: &mut Vec<Row>,
    samples: &mut Samples,
) -> Result<(), BoxError> {
    let page_port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let mut embed_origins = EmulatorConfig::default().embed_origins;
    embed_origins.push(format!("http://127.0.0.1:{page_port}"));
    let emulator = genesys_emulator::start(EmulatorConfig {
        auto_approve: true,
        embed_origins,
        ..EmulatorConfig::default()
    })
    .await?;
    let limit = Duration::from_secs(30);
    let mut by_process: BTreeMap<String, f64> = BTreeMap::new();
    let host = HostPage::serve(page_port).await?;

    for round in 0..args.rounds {
        eprintln!("bench: round {} of {}", round + 1, args.rounds);
        let home = tempdir()?;

        // Start to the sign-in screen: nothing stored for this client id.
        let cold = home.join("cold.toml");
        std::fs::write(
            &cold,
            local_config(&emulator, &format!("bench-cold-{round}"), ""),
        )?;
        let app = RunningApp::launch(&args.app, &home, &cold, &[])?;
        if let Some(at) = app.wait_for(&["page ready"], app.started, limit) {
            samples.add("start_sign_in", (at - app.started).as_secs_f64() * 1000.0);
        }
        // Deep link: a second launch hands its URL to this one.
        for _ in 0..3 {
            let sent = Instant::now();
            let _ = Command::new(&args.app)
                .arg("com.agentshell.desktop:/oauth/callback?code=bench&state=bench")
                .env("HOME", &home)
                .env("NO_COLOR", "1")
                .stderr(Stdio::null())
                .status();
            if let Some(at) = app.wait_for(&["second launch forwarded"], sent, limit) {
                samples.add("deep_link", (at - sent).as_secs_f64() * 1000.0);
            }
        }
        app.stop();

        // Silent start to the client initialised, then memory after idling; with compositing
        // as the shipped rule decides (auto), and forced on (what WebKit does by default).
        for (variant, extra) in [
            ("default", ""),
            ("auto", "[webview]\ncompositing = \"auto\""),
        ] {
            let config_path = home.join(format!("signed-in-{variant}.toml"));
            let text = local_config(&emulator, genesys_emulator::DEMO_CLIENT_ID, extra);
            std::fs::write(&config_path, &text)?;
            let config: ShellConfig = parse_str(&text)?;
            let store: Arc<dyn SecretStore> = Arc::new(KeyringStore::for_config(&config));
            let auth = AuthService::new(config, store.clone())?;
            sign_in(&auth).await?;
            drop(auth);
            let app = RunningApp::launch(&args.app, &home, &config_path, &[])?;
            let started = app.wait_for(
                &["embedded client event", "SessionStart"],
                app.started,
                limit,
            );
            if variant == "default" {
                if let Some(at) = started {
                    samples.add("start_silent", (at - app.started).as_secs_f64() * 1000.0);
                }
            }
            tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
            let (pss, rss, parts) = tree_memory(app.child.id());
            if variant == "default" {
                samples.add("app_pss", pss);
                samples.add("app_rss", rss);
                by_process = parts;
            } else {
                samples.add("app_pss_compositing_auto", pss);
                samples.add("app_rss_compositing_auto", rss);
            }
            app.stop();
            let _ = store.delete();
        }

        // Chromium in --app mode showing the same client, initialised the same way.
        if let Some(chromium) = &args.chromium {
            let token = access_token_for_page(&emulator).await?;
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
            tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
            let (pss, rss, _) = tree_memory(child.id());
            samples.add("chromium_pss", pss);
            samples.add("chromium_rss", rss);
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(500));
        }
        let _ = std::fs::remove_dir_all(&home);
    }

    let ratio = match (samples.median("app_pss"), samples.median("chromium_pss")) {
        (Some(app), Some(chromium)) if chromium > 0.0 => Some(app / chromium),
        _ => None,
    };
    rows.push(Row {
        what: format!(
            "Memory: Agent Shell as shipped (compositing on), signed in, client running, idle {} s (PSS of the app and its WebKit processes)",
            args.idle_secs
        ),
        value: format!(
            "PSS {}; RSS {}",
            samples.show("app_pss", "MiB"),
            samples.show("app_rss", "MiB")
        ),
        target: "PSS <= 0.6 x Chromium".into(),
        verdict: String::new(),
    });
    rows.push(Row {
        what: "Memory: Chromium --app showing the same emulated client".into(),
        value: format!(
            "PSS {}; RSS {}",
            samples.show("chromium_pss", "MiB"),
            samples.show("chromium_rss", "MiB")
        ),
        target: String::new(),
        verdict: String::new(),
    });
    rows.push(Row {
        what: "Memory ratio, Agent Shell / Chromium (PSS medians)".into(),
        value: ratio.map_or("not measured".into(), |r| format!("{r:.2}")),
        target: "<= 0.60".into(),
        verdict: verdict(ratio, 0.6),
    });
    let ratio_auto = match (
        samples.median("app_pss_compositing_auto"),
        samples.median("chromium_pss"),
    ) {
        (Some(app), Some(chromium)) if chromium > 0.0 => Some(app / chromium),
        _ => None,
    };
    rows.push(Row {
        what: "Memory: Agent Shell with `[webview] compositing = \"auto\"` (off here: no GPU)"
            .into(),
        value: format!(
            "PSS {}; RSS {}; ratio to Chromium {}",
            samples.show("app_pss_compositing_auto", "MiB"),
            samples.show("app_rss_compositing_auto", "MiB"),
            ratio_auto.map_or("not measured".into(), |r| format!("{r:.2}"))
        ),
        target: "<= 0.60 (opt-in)".into(),
        verdict: verdict(ratio_auto, 0.6),
    });
    if !by_process.is_empty() {
        rows.push(Row {
            what: "Memory by process (last round, PSS)".into(),
            value: by_process
                .iter()
                .map(|(name, mib)| format!("{name} {}", fmt(*mib)))
                .collect::<Vec<_>>()
                .join(", "),
            target: String::new(),
            verdict: String::new(),
        });
    }
    let sign_in_screen = samples.median("start_sign_in");
    rows.push(Row {
        what: "Start: launch to the sign-in screen's script running".into(),
        value: samples.show("start_sign_in", "ms"),
        target: "< 400 ms".into(),
        verdict: verdict(sign_in_screen, 400.0),
    });
    let silent = samples.median("start_silent");
    rows.push(Row {
        what: "Start: launch with a stored refresh token to the client initialised (session-start)"
            .into(),
        value: samples.show("start_silent", "ms"),
        target: "< 1500 ms".into(),
        verdict: verdict(silent, 1500.0),
    });
    rows.push(Row {
        what: "Start: Chromium --app to the same client initialised".into(),
        value: samples.show("chromium_start", "ms"),
        target: "(comparison)".into(),
        verdict: String::new(),
    });
    rows.push(Row {
        what: "Deep link: second launch to the URL received by the running app".into(),
        value: samples.show("deep_link", "ms"),
        target: "(information)".into(),
        verdict: String::new(),
    });
    Ok(())
}

/// The page Chromium shows, served once for every round: each round sets its HTML (with a
/// fresh token) and clears the session-start mark.
struct HostPage {
    html: Arc<Mutex<String>>,
    started: Arc<Mutex<Option<Instant>>>,
}

impl HostPage {
    async fn serve(port: u16) -> Result<HostPage, BoxError> {
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

    fn set(&self, html: String) {
        if let Ok(mut page) = self.html.lock() {
            *page = html;
        }
        if let Ok(mut at) = self.started.lock() {
            *at = None;
        }
    }
}

fn tempdir() -> Result<PathBuf, BoxError> {
    let dir = std::env::temp_dir().join(format!(
        "agent-shell-bench-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

// ---------------------------------------------------------------------------------------------
// Size

fn sizes(args: &Args, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let stripped =
        std::env::temp_dir().join(format!("agent-shell-stripped-{}", std::process::id()));
    let status = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(&args.app)
        .status()?;
    let mib = |path: &Path| std::fs::metadata(path).map(|m| m.len() as f64 / 1024.0 / 1024.0);
    if status.success() {
        let size = mib(&stripped)?;
        rows.push(Row {
            what: "Size: the release binary, stripped, without the emulator".into(),
            value: format!("{} MiB", fmt(size)),
            target: "(information)".into(),
            verdict: String::new(),
        });
        let _ = std::fs::remove_file(&stripped);
    }
    if let Some(deb) = &args.deb {
        let size = mib(deb)?;
        rows.push(Row {
            what: "Size: the .deb".into(),
            value: format!("{} MiB", fmt(size)),
            target: "< 10 MiB".into(),
            verdict: verdict(Some(size), 10.0),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or("?".into(), |kib| {
            format!("{:.0} GiB", kib / 1024.0 / 1024.0)
        });
    let gpu = Path::new("/dev/dri").exists();
    format!(
        "{cpu}, {cores} cores, {memory} RAM, {}, Xvfb",
        if gpu {
            "a GPU render node"
        } else {
            "no GPU (software rendering)"
        }
    )
}

async fn run(args: &Args) -> Result<String, BoxError> {
    let mut rows = Vec::new();
    let mut samples = Samples::default();
    eprintln!("bench: the refresh engine");
    refresh_engine(args, &mut rows).await?;
    eprintln!("bench: the app and Chromium, {} round(s)", args.rounds);
    app_and_browser(args, &mut rows, &mut samples).await?;
    sizes(args, &mut rows)?;

    let mut out = String::from("# Benchmarks\n\n");
    out.push_str(&format!(
        "Written by `scripts/bench.sh` (`{}` rounds, {} s idle). Machine: {}. Values are medians with the range over the rounds; Agent Shell and Chromium are measured in the same run, one after the other, against the same emulator.\n\n",
        args.rounds,
        args.idle_secs,
        machine()
    ));
    out.push_str("| measure | value | target | |\n|---|---|---|---|\n");
    for row in &rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.what, row.value, row.target, row.verdict
        ));
    }
    Ok(out)
}

//! The app as a process: launched with a throwaway HOME, its log lines timed on arrival; the
//! rounds of start, deep link and memory, with Chromium beside it; the binary's size.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_shell_core::config::{parse_str, ShellConfig};
use agent_shell_core::platform::keychain::{KeyringStore, SecretStore};
use genesys_emulator::{EmulatorConfig, RunningEmulator};

use crate::browser::{self, HostPage};
use crate::refresh::Desk;
use crate::stats::{fmt, tree_memory, verdict, ProcessMemory, Row, Samples};
use crate::{Args, BoxError};

/// The app's `start phase` log lines, in the order they are usually written: config read,
/// app built, keychain read, window built, tray installed, setup done, window shown.
const START_PHASES: &[&str] = &[
    "config", "built", "keychain", "window", "tray", "setup", "shown",
];

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
            .env(
                "AGENT_SHELL_LOG",
                std::env::var("BENCH_APP_LOG").unwrap_or_else(|_| "info".into()),
            )
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

    /// The app's own start phases (`start phase phase="NAME"` log lines), as milliseconds since
    /// the launch, into `phase_{run}_{NAME}`. Called once the start is over: no waiting.
    fn add_phases(&self, samples: &mut Samples, run: &str, phases: &[&str]) {
        let Ok(lines) = self.lines.lock() else {
            return;
        };
        for phase in phases {
            let needle = format!("phase=\"{phase}\"");
            if let Some((at, _)) = lines
                .iter()
                .find(|(_, l)| l.contains("start phase") && l.contains(&needle))
            {
                samples.add(
                    &format!("phase_{run}_{phase}"),
                    (*at - self.started).as_secs_f64() * 1000.0,
                );
            }
        }
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

/// A configuration of the app against `emulator`.
pub fn local_config(emulator: &RunningEmulator, client_id: &str, extra: &str) -> String {
    let urls = emulator.urls();
    format!(
        "client_id = \"{client_id}\"\n{extra}\n[local_emulator]\nlogin = \"{}\"\napi = \"{}\"\nmedia = \"{}\"\nmock_media_devices = true\n",
        urls.login, urls.api, urls.media
    )
}

pub async fn app_and_browser(
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
    let mut by_process: BTreeMap<String, ProcessMemory> = BTreeMap::new();
    let mut floor_by_process: BTreeMap<String, ProcessMemory> = BTreeMap::new();
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
            app.add_phases(samples, "cold", START_PHASES);
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
        // as the shipped rule decides (auto: off here without a GPU), and forced on (what
        // WebKit does by default).
        for (variant, extra) in [("default", ""), ("on", "[webview]\ncompositing = \"on\"")] {
            let config_path = home.join(format!("signed-in-{variant}.toml"));
            let text = local_config(&emulator, genesys_emulator::DEMO_CLIENT_ID, extra);
            std::fs::write(&config_path, &text)?;
            let config: ShellConfig = parse_str(&text)?;
            let store: Arc<dyn SecretStore> =
                Arc::new(KeyringStore::for_account(&config.keychain_account()));
            let desk = Desk::new(config, store.clone(), None)?;
            desk.sign_in_at_emulator().await?;
            drop(desk);
            let app = RunningApp::launch(&args.app, &home, &config_path, &[])?;
            let started = app.wait_for(
                &["embedded client event", "agent-shell:session-start"],
                app.started,
                limit,
            );
            if let Ok(path) = std::env::var("BENCH_DUMP_SILENT") {
                if let Ok(lines) = app.lines.lock() {
                    let text: String = lines
                        .iter()
                        .map(|(at, l)| {
                            format!("{:7.1} {l}\n", (*at - app.started).as_secs_f64() * 1000.0)
                        })
                        .collect();
                    let _ = std::fs::write(format!("{path}-{variant}-{round}.txt"), text);
                }
            }
            if variant == "default" {
                if let Some(at) = started {
                    samples.add("start_silent", (at - app.started).as_secs_f64() * 1000.0);
                    app.add_phases(samples, "silent", START_PHASES);
                    if let Some(at) = app.wait_for(&["page ready"], app.started, limit) {
                        samples.add(
                            "phase_silent_page",
                            (at - app.started).as_secs_f64() * 1000.0,
                        );
                    }
                    if let Some(at) = app.wait_for(&["signed in silently"], app.started, limit) {
                        samples.add(
                            "phase_silent_token",
                            (at - app.started).as_secs_f64() * 1000.0,
                        );
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
            let (pss, rss, parts) = tree_memory(app.child.id());
            if variant == "default" {
                samples.add("app_pss", pss);
                samples.add("app_rss", rss);
                by_process = parts;
            } else {
                samples.add("app_pss_compositing_on", pss);
                samples.add("app_rss_compositing_on", rss);
            }
            app.stop();
            let _ = store.delete();
        }

        // The floor: the same Tauri and webview with a static page, started and idled the same.
        if let Some(floor) = &args.floor {
            // Under the same compositing rule as the shell as shipped (the default setting).
            let off = agent_shell_core::config::Compositing::default().disable(
                agent_shell_core::platform::gpu::this_machine_has_one(),
                false,
            );
            let env: &[(&str, &str)] = if off {
                &[("WEBKIT_DISABLE_COMPOSITING_MODE", "1")]
            } else {
                &[]
            };
            let app = RunningApp::launch(floor, &home, &cold, env)?;
            if let Some(at) = app.wait_for(&["floor page ready"], app.started, limit) {
                samples.add("floor_start", (at - app.started).as_secs_f64() * 1000.0);
            }
            tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
            let (pss, rss, parts) = tree_memory(app.child.id());
            floor_by_process = parts;
            samples.add("floor_pss", pss);
            samples.add("floor_rss", rss);
            app.stop();
        }

        // Chromium in --app mode showing the same client, initialised the same way.
        if let Some(chromium) = &args.chromium {
            browser::chromium_round(
                chromium,
                &emulator,
                &host,
                page_port,
                &home,
                limit,
                args.idle_secs,
                samples,
            )
            .await?;
        }
        let _ = std::fs::remove_dir_all(&home);
    }

    let ratio = match (samples.median("app_pss"), samples.median("chromium_pss")) {
        (Some(app), Some(chromium)) if chromium > 0.0 => Some(app / chromium),
        _ => None,
    };
    rows.push(Row {
        what: format!(
            "Memory: Agent Shell as shipped (compositing auto: off here, no GPU), signed in, client running, idle {} s (PSS of the app and its WebKit processes)",
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
    let ratio_on = match (
        samples.median("app_pss_compositing_on"),
        samples.median("chromium_pss"),
    ) {
        (Some(app), Some(chromium)) if chromium > 0.0 => Some(app / chromium),
        _ => None,
    };
    rows.push(Row {
        what: "Memory: Agent Shell with `[webview] compositing = \"on\"` (in software here)".into(),
        value: format!(
            "PSS {}; RSS {}; ratio to Chromium {}",
            samples.show("app_pss_compositing_on", "MiB"),
            samples.show("app_rss_compositing_on", "MiB"),
            ratio_on.map_or("not measured".into(), |r| format!("{r:.2}"))
        ),
        target: "(for comparison)".into(),
        verdict: String::new(),
    });
    // The floor's processes beside the shell's: what the main process holds beyond the
    // floor's is ours (the WebKit libraries it maps are shared with its web processes).
    for (what, parts) in [
        (
            "Memory by process (last round, PSS; anon: heaps, not mapped files)",
            &by_process,
        ),
        (
            "Memory by process, the floor (last round, PSS; anon: heaps, not mapped files)",
            &floor_by_process,
        ),
    ] {
        if parts.is_empty() {
            continue;
        }
        rows.push(Row {
            what: what.into(),
            value: parts
                .iter()
                .map(|(name, mib)| format!("{name} {} (anon {})", fmt(mib.pss), fmt(mib.anon)))
                .collect::<Vec<_>>()
                .join(", "),
            target: String::new(),
            verdict: String::new(),
        });
    }
    let over_floor = |shell: &str, floor: &str| match (samples.median(shell), samples.median(floor))
    {
        (Some(shell), Some(floor)) if floor > 0.0 => Some(shell / floor),
        _ => None,
    };
    let show_ratio =
        |ratio: Option<f64>| ratio.map_or("not measured".into(), |r| format!("{r:.2}"));
    rows.push(Row {
        what: format!(
            "Floor (same Tauri and webview, static page): launch to its script running; PSS after {} s idle",
            args.idle_secs
        ),
        value: format!(
            "{}; PSS {}; RSS {}",
            samples.show("floor_start", "ms"),
            samples.show("floor_pss", "MiB"),
            samples.show("floor_rss", "MiB")
        ),
        target: "(the floor)".into(),
        verdict: String::new(),
    });
    let start_over_floor = over_floor("start_sign_in", "floor_start");
    rows.push(Row {
        what: "Start ratio: Agent Shell's sign-in screen / the floor's page (medians)".into(),
        value: show_ratio(start_over_floor),
        target: "<= 1.30".into(),
        verdict: verdict(start_over_floor, 1.3),
    });
    rows.push(Row {
        what:
            "Memory ratio: Agent Shell signed in with the client running / the floor (PSS medians)"
                .into(),
        value: show_ratio(over_floor("app_pss", "floor_pss")),
        target: "(information)".into(),
        verdict: String::new(),
    });
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
    let silent_over_chromium = match (silent, samples.median("chromium_start")) {
        (Some(shell), Some(chromium)) if chromium > 0.0 => Some(shell / chromium),
        _ => None,
    };
    rows.push(Row {
        what: "Start ratio: Agent Shell's silent start / Chromium's, to the same client (medians)"
            .into(),
        value: show_ratio(silent_over_chromium),
        target: "<= 0.80".into(),
        verdict: verdict(silent_over_chromium, 0.8),
    });
    // Where the start's time goes, from the app's own `start phase` log lines (medians since
    // the launch; each phase ends where its line is written).
    for (run, title, phases) in [
        ("cold", "Start phases, sign-in screen", START_PHASES),
        (
            "silent",
            "Start phases, silent start",
            &[
                "config", "built", "keychain", "window", "tray", "setup", "page", "shown", "token",
            ][..],
        ),
    ] {
        let value = phases
            .iter()
            .filter_map(|phase| {
                let median = samples.median(&format!("phase_{run}_{phase}"))?;
                Some(format!("{phase} {median:.0}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        rows.push(Row {
            what: format!("{title}: ms from launch to each phase's end"),
            value: if value.is_empty() {
                "not measured".into()
            } else {
                value
            },
            target: "(information)".into(),
            verdict: String::new(),
        });
    }
    rows.push(Row {
        what: "Deep link: second launch to the URL received by the running app".into(),
        value: samples.show("deep_link", "ms"),
        target: "(information)".into(),
        verdict: String::new(),
    });
    Ok(())
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

pub fn sizes(args: &Args, rows: &mut Vec<Row>) -> Result<(), BoxError> {
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

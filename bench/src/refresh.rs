//! The refresh engine in-process, driven the way the app drives it: through the session engine
//! (`agent_shell_core::session::engine`), with an edge that records nothing and a harness that
//! plays the browser. Renewals are `SessionEngine::renew`, what the app's "renew now" calls (the
//! engine renews, then shows the session).

use std::sync::Arc;
use std::time::Instant;

use agent_shell_core::config::{parse_str, ShellConfig};
use agent_shell_core::error::Problem;
use agent_shell_core::oauth::GenesysApi;
use agent_shell_core::platform::keychain::{KeyringStore, MemoryStore, SecretStore};
use agent_shell_core::session::auth::{AuthService, Phase};
use agent_shell_core::session::engine::{Edge, Effect, SessionEngine};
use agent_shell_test_kit::FakeApi;
use genesys_emulator::{EmulatorConfig, RunningEmulator};

use crate::app::local_config;
use crate::stats::{fmt, percentile, self_rss_mib, verdict, Row};
use crate::{Args, BoxError};

/// The app's side of the engine, without a window: effects are carried out by doing nothing
/// (the harness opens no browser; it follows the sign-in URL itself), and the window is in view
/// (no notification is asked for).
struct NoWindow;

impl Edge for NoWindow {
    fn execute(&self, _effect: Effect) -> Result<(), String> {
        Ok(())
    }

    fn window_in_view(&self) -> bool {
        true
    }
}

fn problem(problem: Problem) -> BoxError {
    format!("{:?}: {}", problem.code, problem.message).into()
}

/// A session engine over a configuration, a keychain and (when given) a Genesys API.
pub struct Desk {
    pub engine: Arc<SessionEngine>,
}

impl Desk {
    pub fn new(
        config: ShellConfig,
        store: Arc<dyn SecretStore>,
        api: Option<Arc<dyn GenesysApi>>,
    ) -> Result<Desk, BoxError> {
        let auth = AuthService::new(config, store)?;
        let auth = match api {
            Some(api) => auth.with_api(api),
            None => auth,
        };
        let engine = SessionEngine::new(Arc::new(auth), None, Arc::new(NoWindow));
        Ok(Desk { engine })
    }

    /// An engine against `emulator` as `client_id`, keeping its session in memory.
    pub fn in_memory(
        emulator: &RunningEmulator,
        client_id: &str,
        api: Option<Arc<dyn GenesysApi>>,
    ) -> Result<Desk, BoxError> {
        let config = parse_str(&local_config(emulator, client_id, ""))?;
        Desk::new(config, Arc::new(MemoryStore::default()), api)
    }

    /// The sign-in URL the engine would open in the browser.
    async fn start_sign_in(&self) -> Result<url::Url, BoxError> {
        let started = self.engine.start_sign_in().await.map_err(problem)?;
        Ok(url::Url::parse(&started.url)?)
    }

    /// Hands the redirect back as a deep link, and checks that it signed in.
    async fn complete(&self, redirect: String) -> Result<(), BoxError> {
        self.engine.deep_link(&redirect).await;
        let view = self.engine.auth().view();
        match view.phase {
            Phase::SignedIn => Ok(()),
            phase => Err(format!("not signed in after the redirect: {phase:?} {view:?}").into()),
        }
    }

    /// A sign-in against the auto-approving emulator, the harness playing the browser.
    pub async fn sign_in_at_emulator(&self) -> Result<(), BoxError> {
        let url = self.start_sign_in().await?;
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let response = browser.get(url).send().await?;
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or("the emulator did not redirect")?
            .to_string();
        self.complete(location).await
    }

    /// A sign-in against [`FakeApi`]: no browser, the redirect built from the request's state.
    pub async fn sign_in_without_browser(&self) -> Result<(), BoxError> {
        let url = self.start_sign_in().await?;
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .ok_or("no state")?;
        self.complete(format!(
            "com.agentshell.desktop:/oauth/callback?code=bench&state={state}"
        ))
        .await
    }

    /// Times `cycles` renewals the agent asks for; per-renewal milliseconds (sorted) and RSS
    /// growth (MiB).
    pub async fn time_renewals(&self, cycles: usize) -> Result<(Vec<f64>, f64), BoxError> {
        let before = self_rss_mib();
        let mut times = Vec::with_capacity(cycles);
        for _ in 0..cycles {
            let started = Instant::now();
            self.engine.renew().await.map_err(problem)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        Ok((times, self_rss_mib() - before))
    }
}

pub async fn refresh_engine(args: &Args, rows: &mut Vec<Row>) -> Result<(), BoxError> {
    let emulator = genesys_emulator::start(EmulatorConfig {
        auto_approve: true,
        ..EmulatorConfig::default()
    })
    .await?;

    // The shell alone: an instant Genesys, an in-memory keychain.
    let desk = Desk::in_memory(
        &emulator,
        genesys_emulator::DEMO_CLIENT_ID,
        Some(FakeApi::instant()),
    )?;
    desk.sign_in_without_browser().await?;
    // Warm up, then measure.
    desk.time_renewals(50).await?;
    let (times, growth) = desk.time_renewals(args.refresh_cycles).await?;
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
    let keychain_config = parse_str(&local_config(&emulator, "agent-shell-bench-keychain", ""))?;
    let keyring: Arc<dyn SecretStore> = Arc::new(KeyringStore::for_account(
        &keychain_config.keychain_account(),
    ));
    let with_keychain = Desk::new(keychain_config, keyring.clone(), Some(FakeApi::instant()))?;
    // A keychain that cannot be used keeps the session in memory, which would time nothing.
    let usable = agent_shell_core::platform::keychain::probe(keyring.clone()).await;
    let signed = match usable {
        Ok(()) => with_keychain.sign_in_without_browser().await,
        Err(error) => Err(error.into()),
    };
    match signed {
        Ok(_) => {
            let (times, _) = with_keychain.time_renewals(100).await?;
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
            with_keychain.engine.sign_out().await;
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
    let desk = Desk::in_memory(&emulator, genesys_emulator::DEMO_CLIENT_ID, None)?;
    desk.sign_in_at_emulator().await?;
    let (times, _) = desk.time_renewals(200).await?;
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

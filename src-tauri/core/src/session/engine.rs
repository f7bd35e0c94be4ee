//! The session engine: every decision about the session in one place, behind typed inputs
//! and typed effects.
//!
//! The app edge hands it an [`Input`] (a command from the page, a redirect, the client's
//! messages, the launch) and carries out the [`Effect`]s it asks for through an [`Edge`]: show
//! the session, open the browser, call for the agent's attention, open a link, bring the window
//! forward, forget the webview's browsing data. Network, keychain and clock are injected into
//! the [`AuthService`] it drives; waits are tokio's. Background work (the keep-alive loop, the
//! loopback listener, the sign-in deadline) runs here too and reports through the same edge.
//! With a recording edge, a scripted API and a paused clock, the whole session, glue decisions
//! included, is tested without a window (tests/engine.rs).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use url::Url;

use crate::config::RedirectMode;
use crate::embed::links::{CrmAction, CrmHook, InteractionFacts};
use crate::embed::{ClientEvent, EmbedInit, RenewalRequest};
use crate::error::{ErrorCode, Problem};
use crate::platform::loopback::{self, Verdict};
use crate::session::auth::{
    AuthError, AuthErrorAction, AuthService, Notice, Phase, RedirectTransport, SessionView,
    SilentStart,
};

/// How often the keep-alive loop re-reads the wall clock (bounds how late a refresh can be
/// after the machine wakes from sleep).
pub const KEEP_ALIVE_CHECK: Duration = Duration::from_secs(15);

/// What the edge is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The session changed: the page's event and the tray.
    ShowSession(SessionView),
    /// The agent must sign in again and cannot see the window: a native notification and the
    /// OS attention signal.
    CallForAttention { title: String, body: String },
    /// Open the sign-in page in the system browser (its outcome goes back to the engine).
    OpenBrowser(Url),
    /// Open a link in the system browser through the link policy (`source`: for the log).
    OpenLink { url: Url, source: &'static str },
    /// Bring the window forward (a sign-in came back).
    FocusWindow,
    /// Forget cookies and storage the embedded client left in the webview (sign-out).
    ForgetBrowsingData,
}

/// The app side that carries out effects.
pub trait Edge: Send + Sync {
    /// Carries out `effect`; only [`Effect::OpenBrowser`] reports a failure that matters.
    fn execute(&self, effect: Effect) -> Result<(), String>;
    /// True when the agent can see the window (visible, not minimised, focused).
    fn window_in_view(&self) -> bool;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInStarted {
    /// The authorize URL, for "copy sign-in link" when no browser opens. Carries no secret
    /// that works without the PKCE verifier, which never leaves Rust.
    pub url: String,
    pub redirect_uri: String,
    pub browser_opened: bool,
    pub browser_error: Option<String>,
    /// Why this sign-in does not use the configured redirect (the deep link does not reach the
    /// app on this desktop), for the waiting screen.
    pub redirect_note: Option<String>,
}

/// What the page posts to the embedded client in agent-shell:init / :token. The access
/// token crosses into JS only for this, and only to be posted to the client's exact origin.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedCredentials {
    pub access_token: String,
    /// When the access token expires, milliseconds since the Unix epoch: the agent client
    /// reads its own expiry from this (Genesys access tokens are opaque).
    pub expires_at: Option<u64>,
    #[serde(flatten)]
    pub init: EmbedInit,
}

impl std::fmt::Debug for EmbedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedCredentials")
            .field("access_token", &"[redacted]")
            .field("init", &self.init)
            .finish()
    }
}

/// What the page does about an auth-error, decided by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthErrorOutcome {
    pub action: AuthErrorAction,
}

/// The words of the notification that asks for a new sign-in.
pub const ATTENTION_TITLE: &str = "Agent Shell: please sign in again";
const ATTENTION_FALLBACK: &str = "Your session needs you to sign in again.";
/// What the loopback page says.
const LOOPBACK_SIGNED_IN: &str = "You are signed in to Agent Shell.";
const LOOPBACK_NOT_OURS: &str =
    "This link does not belong to the sign-in Agent Shell is waiting for, so it was ignored.";

/// True when the session has just come to need the agent (not on every repeat).
pub fn needs_attention(previous: Option<Phase>, current: Phase) -> bool {
    current == Phase::ReloginRequired && previous != Some(Phase::ReloginRequired)
}

pub struct SessionEngine {
    auth: Arc<AuthService>,
    crm: Option<CrmHook>,
    edge: Arc<dyn Edge>,
    /// The last phase shown, to call for attention once when a new sign-in becomes necessary.
    last_shown: Mutex<Option<Phase>>,
    keep_alive_check: Duration,
    /// Interactions the client said started and has not said ended: while there is one,
    /// closing the window, Quit and Sign out ask first (a call must not end by accident).
    interactions: Mutex<std::collections::BTreeMap<String, InteractionFacts>>,
}

/// At most this many open interactions are remembered (a client that never says "ended"
/// cannot grow the set without bound).
const MAX_OPEN_INTERACTIONS: usize = 32;

fn problem(error: &impl ErrorCode) -> Problem {
    Problem::from_error(error)
}

impl SessionEngine {
    pub fn new(auth: Arc<AuthService>, crm: Option<CrmHook>, edge: Arc<dyn Edge>) -> Arc<Self> {
        Self::with_keep_alive_check(auth, crm, edge, KEEP_ALIVE_CHECK)
    }

    /// The same engine with another keep-alive check interval (tests).
    pub fn with_keep_alive_check(
        auth: Arc<AuthService>,
        crm: Option<CrmHook>,
        edge: Arc<dyn Edge>,
        check: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            auth,
            crm,
            edge,
            last_shown: Mutex::new(None),
            keep_alive_check: check,
            interactions: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// Whether an interaction (a call) is under way in the client.
    pub fn interaction_active(&self) -> bool {
        self.interactions.lock().is_ok_and(|open| !open.is_empty())
    }

    fn forget_interactions(&self) {
        if let Ok(mut open) = self.interactions.lock() {
            open.clear();
        }
    }

    /// Keeps the open interactions from the client's start and end messages; an ended one's
    /// facts (for the CRM template), or just its id when its start was never heard.
    fn track_interaction(&self, event: &ClientEvent) -> Option<InteractionFacts> {
        let Ok(mut open) = self.interactions.lock() else {
            return None;
        };
        match event {
            ClientEvent::InteractionStart {
                interaction_id,
                ani,
                queue_name,
                attributes,
            } if open.len() < MAX_OPEN_INTERACTIONS || open.contains_key(interaction_id) => {
                let facts = InteractionFacts {
                    interaction_id: interaction_id.clone(),
                    ani: ani.clone(),
                    queue_name: queue_name.clone(),
                    attributes: attributes.clone().unwrap_or_default(),
                };
                open.insert(interaction_id.clone(), facts);
                None
            }
            ClientEvent::InteractionEnd { interaction_id } => Some(
                open.remove(interaction_id)
                    .unwrap_or_else(|| InteractionFacts::id_only(interaction_id)),
            ),
            _ => None,
        }
    }

    pub fn auth(&self) -> &Arc<AuthService> {
        &self.auth
    }

    // The inputs: one typed method each, answering with its own type. Client messages arrive
    // parsed (`parse_client_message`); effects go out through the edge.

    /// The session as it is (the page asks on start and after events it missed).
    pub fn session(&self) -> SessionView {
        self.auth.view()
    }

    pub fn cancel_sign_in(&self) {
        self.auth.cancel_sign_in(None);
        self.show();
    }

    pub async fn sign_out(&self) -> SessionView {
        self.forget_interactions();
        let view = self.auth.sign_out().await;
        let _ = self.edge.execute(Effect::ForgetBrowsingData);
        self.show();
        view
    }

    /// The desktop session is locked and policy signs out on lock: signs out, unless a call
    /// is under way (then nothing is done, and the caller asks again while it stays locked).
    pub async fn desktop_locked(&self) -> super::lock::LockOutcome {
        use super::auth::Phase;
        use super::lock::LockOutcome;
        if self.interaction_active() {
            tracing::info!("desktop locked during a call: sign-out waits for the call to end");
            return LockOutcome::CallUnderWay;
        }
        let view = self.auth.view();
        if view.phase == Phase::SignedOut && !view.persisted {
            return LockOutcome::NotSignedIn;
        }
        tracing::info!("desktop locked: signing out (sign_out_on_lock)");
        self.sign_out().await;
        LockOutcome::SignedOut
    }

    /// The agent asked to renew now.
    pub async fn renew(&self) -> Result<SessionView, Problem> {
        tracing::info!(trigger = "ui", "refresh requested");
        let result = self.auth.refresh().await;
        self.show();
        result.map_err(|e| problem(&e))
    }

    /// A deep link reached the app (second launch, macOS open-url).
    pub async fn deep_link(&self, url: &str) {
        self.complete_redirect(url, RedirectTransport::DeepLink)
            .await;
    }

    /// The page is about to (re)initialise the client: the credentials it posts.
    pub async fn client_init(&self) -> Result<EmbedCredentials, Problem> {
        // A client (re)starting reports its calls afresh.
        self.forget_interactions();
        self.client_credentials().await
    }

    /// The client's agent-shell:token-expiring (parsed with [`RenewalRequest::TokenExpiring`]).
    pub async fn client_token_expiring(
        &self,
        message: ClientEvent,
    ) -> Result<SessionView, Problem> {
        tracing::info!(client = %crate::support::logs::ClientText::of(&message), "embedded client says its token is expiring");
        self.renew_if_due("token-expiring").await
    }

    /// The client's agent-shell:auth-error (parsed with [`RenewalRequest::AuthError`]): renew,
    /// let a running renewal answer, or report.
    pub async fn client_auth_error(
        &self,
        message: ClientEvent,
    ) -> Result<AuthErrorOutcome, Problem> {
        tracing::info!(client = %crate::support::logs::ClientText::of(&message), "embedded client says its token was refused");
        let result = self.auth.on_auth_error().await;
        self.show();
        result
            .map(|(action, _)| AuthErrorOutcome { action })
            .map_err(|e| problem(&e))
    }

    /// Shows the session, and calls for attention when a new sign-in has just become necessary
    /// while the agent cannot see the window.
    fn show(&self) {
        let view = self.auth.view();
        let previous = match self.last_shown.lock() {
            Ok(mut last) => last.replace(view.phase),
            Err(_) => None,
        };
        if needs_attention(previous, view.phase) && !self.edge.window_in_view() {
            let body = view
                .notice
                .as_ref()
                .map(|n| n.message.clone())
                .unwrap_or_else(|| ATTENTION_FALLBACK.to_string());
            if let Err(error) = self.edge.execute(Effect::CallForAttention {
                title: ATTENTION_TITLE.to_string(),
                body,
            }) {
                tracing::warn!(%error, "could not call for the agent's attention");
            } else {
                tracing::info!("re-login needed while the window is not in view: notified");
            }
        }
        let _ = self.edge.execute(Effect::ShowSession(view));
    }

    /// The silent start (begun early by [`AuthService::begin_silent_start`]) is shown when it
    /// ends, then the keep-alive loop runs; a redirect the launch carried is handled (and, with
    /// no sign-in pending in a fresh process, refused with a clear notice) afterwards.
    pub fn launch(self: &Arc<Self>, started: SilentStart, redirect: Option<String>) {
        let engine = self.clone();
        tokio::spawn(async move {
            started.finish(&engine.auth).await;
            engine.show();
            let keeper = engine.clone();
            tokio::spawn(async move {
                let shown = keeper.clone();
                keeper
                    .auth
                    .keep_alive(keeper.keep_alive_check, move |_| shown.show())
                    .await;
            });
            if let Some(url) = redirect {
                engine
                    .complete_redirect(&url, RedirectTransport::DeepLink)
                    .await;
            }
        });
    }

    async fn complete_redirect(&self, url: &str, transport: RedirectTransport) {
        // The URL carries a code: never log it.
        match self.auth.complete_sign_in(url, transport).await {
            Ok(_) => {
                let _ = self.edge.execute(Effect::FocusWindow);
            }
            Err(error) => tracing::info!(code = error.code(), "redirect not accepted"),
        }
        self.show();
    }

    pub async fn start_sign_in(self: &Arc<Self>) -> Result<SignInStarted, Problem> {
        let (mode, redirect_note) = self.auth.sign_in_route().await;
        let request = match mode {
            RedirectMode::Loopback => {
                // The loopback port must be ours before the browser is sent to it.
                let listener = bind_loopback(&self.auth.config().redirect.loopback_ports).await?;
                let request = self
                    .auth
                    .begin_loopback_sign_in(listener.port())
                    .map_err(|e| problem(&e))?;
                self.serve_loopback(listener);
                request
            }
            RedirectMode::DeepLink => {
                let request = self.auth.begin_sign_in(mode).map_err(|e| problem(&e))?;
                self.arm_sign_in_deadline();
                request
            }
        };
        self.show();
        let opened = self.edge.execute(Effect::OpenBrowser(request.url.clone()));
        if let Err(error) = &opened {
            tracing::warn!(%error, "system browser did not open");
        }
        Ok(SignInStarted {
            url: request.url.to_string(),
            redirect_uri: request.redirect_uri,
            browser_opened: opened.is_ok(),
            browser_error: opened.err(),
            redirect_note,
        })
    }

    /// A deep-link sign-in ends at its deadline unless it ended before.
    fn arm_sign_in_deadline(self: &Arc<Self>) {
        let engine = self.clone();
        let ended = self.auth.sign_in_ended();
        let timeout = self.auth.login_timeout();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(timeout) => {
                    if engine.auth.expire_sign_in() {
                        engine.show();
                    }
                }
                () = ended => {}
            }
        });
    }

    /// Serves the loopback redirect until its sign-in is over: completed, timed out, cancelled
    /// or replaced. Redirects that do not complete it get a neutral page; the listener waits on.
    fn serve_loopback(self: &Arc<Self>, listener: loopback::Loopback) {
        let engine = self.clone();
        let ended = self.auth.sign_in_ended();
        let timeout = self.auth.login_timeout();
        tokio::spawn(async move {
            let handler = |target: String| {
                let engine = engine.clone();
                async move {
                    let result = engine
                        .auth
                        .complete_sign_in(&target, RedirectTransport::Loopback)
                        .await;
                    engine.show();
                    match result {
                        Ok(_) => {
                            let _ = engine.edge.execute(Effect::FocusWindow);
                            Verdict::Done(Ok(LOOPBACK_SIGNED_IN.to_string()))
                        }
                        Err(_) if engine.auth.sign_in_pending() => {
                            Verdict::KeepWaiting(LOOPBACK_NOT_OURS.to_string())
                        }
                        Err(error) => Verdict::Done(Err(error.to_string())),
                    }
                }
            };
            match loopback::serve(listener, timeout, ended, handler).await {
                Ok(()) | Err(loopback::LoopbackError::Cancelled) => {}
                Err(error) => {
                    engine.auth.cancel_sign_in(Some(Notice::from_error(&error)));
                    engine.show();
                }
            }
        });
    }

    async fn renew_if_due(&self, trigger: &'static str) -> Result<SessionView, Problem> {
        let result = self.auth.renew_if_due().await;
        tracing::info!(trigger, "renewal checked");
        self.show();
        result.map_err(|e| problem(&e))
    }

    /// Credentials for (re)initialising the client. A token about to expire is renewed first:
    /// the client's bootstrap takes seconds and must not start with a dying token.
    async fn client_credentials(&self) -> Result<EmbedCredentials, Problem> {
        self.renew_if_due("before-client-init").await?;
        let token = self
            .auth
            .access_token()
            .ok_or_else(|| problem(&AuthError::NotSignedIn))?;
        let config = self.auth.config();
        Ok(EmbedCredentials {
            access_token: token.expose().to_string(),
            expires_at: self.auth.view().expires_at_ms,
            init: EmbedInit {
                // The environment's name (the WebRTC SDK derives Genesys's hosts from it);
                // the emulator's host in local-emulator mode.
                environment: match &config.target {
                    crate::config::Target::Genesys(env) => env.name().to_string(),
                    crate::config::Target::LocalEmulator => config
                        .endpoints
                        .api
                        .host_str()
                        .unwrap_or("127.0.0.1")
                        .to_string(),
                },
                api_base: crate::config::origin_of(&config.endpoints.api),
                client_id: config.client_id.clone(),
                embedded_client_settings: config.embed,
            },
        })
    }

    /// Any other client event; interaction-end opens the configured CRM page, once per
    /// interaction.
    pub fn client_event(&self, event: ClientEvent) -> Result<(), Problem> {
        tracing::info!(client = %crate::support::logs::ClientText::of(&event), "embedded client event");
        let ended = self.track_interaction(&event);
        let (Some(facts), Some(crm)) = (ended, &self.crm) else {
            return Ok(());
        };
        let interaction_id = facts.interaction_id.as_str();
        match crm.on_interaction_end(&facts, Instant::now()) {
            CrmAction::Open(url) => {
                let _ = self.edge.execute(Effect::OpenLink { url, source: "crm" });
            }
            CrmAction::Duplicate => {
                tracing::info!(
                    interaction_id,
                    "CRM page already opened for this interaction"
                )
            }
            CrmAction::Invalid => {
                tracing::warn!(
                    interaction_id,
                    "CRM page skipped: the id does not fit the template"
                )
            }
            CrmAction::RateLimited => tracing::warn!(
                interaction_id,
                "CRM page skipped: too many interactions ended in the last minute"
            ),
        }
        Ok(())
    }
}

/// Parses a client message at the boundary (the page forwards it as JSON): a renewal message
/// of the `expected` kind, or with `None` any other event. What is refused is logged, never
/// echoed.
pub fn parse_client_message(
    message: serde_json::Value,
    expected: Option<RenewalRequest>,
) -> Result<ClientEvent, Problem> {
    let parsed = match expected {
        Some(kind) => ClientEvent::parse_renewal(message, kind),
        None => ClientEvent::parse(message),
    };
    parsed.map_err(|error| {
        tracing::warn!(%error, "embedded client message dropped");
        problem(&error)
    })
}

/// Binds a loopback port; briefly retries a busy one, which may be a cancelled sign-in's
/// listener that is just letting go of it.
async fn bind_loopback(ports: &[u16]) -> Result<loopback::Loopback, Problem> {
    let mut tries = 0;
    loop {
        match loopback::bind(ports).await {
            Ok(listener) => return Ok(listener),
            Err(_) if tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(problem(&error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_is_called_once_when_a_new_sign_in_becomes_necessary() {
        assert!(needs_attention(
            Some(Phase::SignedIn),
            Phase::ReloginRequired
        ));
        assert!(needs_attention(
            Some(Phase::Refreshing),
            Phase::ReloginRequired
        ));
        assert!(needs_attention(None, Phase::ReloginRequired));
        assert!(!needs_attention(
            Some(Phase::ReloginRequired),
            Phase::ReloginRequired
        ));
        assert!(!needs_attention(Some(Phase::SignedIn), Phase::SignedOut));
        assert!(!needs_attention(Some(Phase::Refreshing), Phase::SignedIn));
    }
}

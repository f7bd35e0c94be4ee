//! Shared server state, the three routers (login, api, media) and helpers every handler uses.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;

use crate::config::{ClientRegistration, EmulatorConfig};
use crate::store::{LogEntry, Settings, Store};
use crate::{api, client_page, control, oauth};

/// Request bodies larger than this are refused (413) before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The embedded client's timers, published to the page through `config.json`.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub queue_interval: Duration,
    pub interaction_interval: Duration,
    pub token_expiring_margin: Duration,
}

/// State shared by the three servers. Configuration is immutable; everything that changes is
/// in the [`Store`] behind the mutex.
pub struct Shared {
    pub clients: Vec<ClientRegistration>,
    pub trusted_domains: Vec<String>,
    pub embed_origins: Vec<String>,
    /// `http://127.0.0.1:PORT` of the login origin: the only browser origin allowed to use the
    /// control API.
    pub login_origin: String,
    pub schedule: Schedule,
    /// Restored by `POST /_emulator/reset`.
    pub initial_settings: Settings,
    store: Mutex<Store>,
    /// Flips to `true` (or closes) when the emulator shuts down, so hanging faults end early.
    shutdown: watch::Receiver<bool>,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(
        config: &EmulatorConfig,
        login_origin: String,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let settings = Settings {
            token_lifetime: config.token_lifetime,
            code_lifetime: config.code_lifetime,
            grant_scopes: config.grant_scopes.clone(),
            public_refresh_tokens: config.public_refresh_tokens,
            auto_approve: config.auto_approve,
        };
        Self {
            clients: config.clients.clone(),
            trusted_domains: config.trusted_domains.clone(),
            embed_origins: config.embed_origins.clone(),
            login_origin,
            schedule: Schedule {
                queue_interval: config.queue_interval,
                interaction_interval: config.interaction_interval,
                token_expiring_margin: config.token_expiring_margin,
            },
            initial_settings: settings.clone(),
            store: Mutex::new(Store::new(settings)),
            shutdown,
        }
    }

    /// Locks the store. A panic elsewhere while holding the lock cannot leave it half-updated
    /// in a way that matters for an emulator, so a poisoned lock is simply taken over.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn client(&self, client_id: &str) -> Option<&ClientRegistration> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    /// Sleeps for `duration`, returning early when the emulator shuts down.
    pub async fn sleep_unless_shutdown(&self, duration: Duration) {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            _ = shutdown.wait_for(|stop| *stop) => {}
        }
    }
}

/// Which of the three origins a router serves; recorded in the access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginKind {
    Login,
    Api,
    Media,
}

impl OriginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Api => "api",
            Self::Media => "media",
        }
    }
}

/// The router for one origin, with the access log and body limit applied.
pub fn router(state: AppState, origin: OriginKind) -> Router {
    let routes = match origin {
        OriginKind::Login => Router::new()
            .route("/oauth/authorize", get(oauth::authorize))
            .route("/oauth/login", post(oauth::login))
            .route(
                "/oauth/token",
                post(oauth::token).options(oauth::token_preflight),
            )
            .route("/logout", get(oauth::logout))
            .merge(control::routes(state.clone())),
        OriginKind::Api => Router::new()
            .route(
                "/api/v2/oauth/token",
                post(oauth::token).options(oauth::token_preflight),
            )
            .route("/api/v2/users/me", get(api::users_me))
            .route(
                "/api/v2/tokens/me",
                get(api::tokens_me).delete(api::delete_tokens_me),
            )
            .merge(client_page::routes()),
        // The media origin hosts the embedded client too; it gets the read-only endpoints the
        // page calls so that "same origin" holds wherever the page is loaded from.
        OriginKind::Media => Router::new()
            .route("/api/v2/users/me", get(api::users_me))
            .route("/api/v2/tokens/me", get(api::tokens_me))
            .merge(client_page::routes()),
    };
    routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            (state.clone(), origin),
            access_log,
        ))
        .with_state(state)
}

/// Records every request exactly as received (path and query), before routing.
async fn access_log(
    State((state, origin)): State<(AppState, OriginKind)>,
    request: Request,
    next: Next,
) -> Response {
    let entry = LogEntry {
        origin: origin.as_str(),
        method: request.method().as_str().to_owned(),
        uri: request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        ),
    };
    tracing::debug!(origin = entry.origin, method = %entry.method, uri = %entry.uri, "request");
    state.store().log_request(entry);
    next.run(request).await
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 Not Found\n",
    )
        .into_response()
}

/// Query-string or form parameters in order, with RFC 6749 3.1 semantics: an empty value counts
/// as absent and a parameter must not appear twice.
pub struct Params(Vec<(String, String)>);

/// The parameter was sent more than once.
#[derive(Debug)]
pub struct Repeated;

impl Params {
    pub fn parse(input: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(input)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name`; `Ok(None)` when absent or empty.
    pub fn single(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(Repeated);
        }
        Ok(first)
    }

    /// The value of `name`, or `None` when it is absent, empty or repeated. For use after
    /// [`Params::first_repeated`] has ruled repetition out.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.single(name).ok().flatten()
    }

    /// The first of `names` that is repeated, if any.
    pub fn first_repeated<'a>(&self, names: &[&'a str]) -> Option<&'a str> {
        names.iter().copied().find(|n| self.single(n).is_err())
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Header value from a string that is known to be ASCII; falls back to an empty value rather
/// than panicking if it ever is not.
pub fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn params_follow_rfc6749_rules() {
        let p = Params::parse(b"a=1&b=&c=x%20y&a=2&d=+");
        assert!(p.single("a").is_err());
        assert_eq!(p.single("b").unwrap(), None);
        assert_eq!(p.single("c").unwrap(), Some("x y"));
        assert_eq!(p.single("d").unwrap(), Some(" "));
        assert_eq!(p.single("zz").unwrap(), None);
        assert_eq!(p.first_repeated(&["c", "a"]), Some("a"));
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}

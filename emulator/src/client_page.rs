//! The emulated Genesys Cloud Embedded Client: a static page, its script and stylesheet, plus a
//! generated `config.json` carrying the schedule and the embed origins.
//!
//! Served on the api and media origins. Static files are compiled in so the binary is
//! self-contained and there is no build step for the page.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

const INDEX_HTML: &str = include_str!("assets/embedded-client/index.html");
const CLIENT_JS: &str = include_str!("assets/embedded-client/client.js");
const CLIENT_CSS: &str = include_str!("assets/embedded-client/client.css");
const PROBE_HTML: &str = include_str!("assets/probe/probe.html");
const PROBE_JS: &str = include_str!("assets/probe/probe.js");
const SPOOF_HTML: &str = include_str!("assets/probe/spoof.html");
const SPOOF_JS: &str = include_str!("assets/probe/spoof.js");
const OPAQUE_HTML: &str = include_str!("assets/probe/opaque.html");
const OPAQUE_JS: &str = include_str!("assets/probe/opaque.js");

/// The probe pages are hostile on purpose: their policy lets them try any connection and
/// frame, so what stops them is the desktop shell, not this header.
pub const PROBE_CSP: &str = "default-src 'self'; script-src 'self'; object-src 'none'; \
                             connect-src * ipc: http://ipc.localhost; frame-src *";

/// The opaque-origin probe: the probe's policy plus a sandbox without allow-same-origin, so the
/// document in the client's frame has the origin "null".
pub const OPAQUE_CSP: &str = "sandbox allow-scripts; default-src 'self'; script-src 'self'; \
                              object-src 'none'";

/// The embedded client's own policy: nothing inline, nothing from elsewhere.
pub const CLIENT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                              connect-src 'self'; object-src 'none'; base-uri 'none'";

/// The version string the page announces in its ready message.
pub const CLIENT_VERSION: &str = "emulator-1";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/embedded-client",
            get(|| async { Redirect::permanent("/embedded-client/") }),
        )
        .route("/embedded-client/", get(index))
        .route("/embedded-client/index.html", get(index))
        .route("/embedded-client/client.js", get(script))
        .route("/embedded-client/client.css", get(stylesheet))
        .route("/embedded-client/config.json", get(config))
        .route(
            "/embedded-client/probe/probe.html",
            get(|| async { probe_asset("text/html; charset=utf-8", PROBE_HTML) }),
        )
        .route(
            "/embedded-client/probe/probe.js",
            get(|| async { probe_asset("text/javascript; charset=utf-8", PROBE_JS) }),
        )
        .route(
            "/embedded-client/probe/spoof.html",
            get(|| async { probe_asset("text/html; charset=utf-8", SPOOF_HTML) }),
        )
        .route(
            "/embedded-client/probe/spoof.js",
            get(|| async { probe_asset("text/javascript; charset=utf-8", SPOOF_JS) }),
        )
        .route(
            "/embedded-client/probe/opaque.html",
            get(|| async {
                asset_with_policy("text/html; charset=utf-8", OPAQUE_HTML, OPAQUE_CSP)
            }),
        )
        .route(
            "/embedded-client/probe/opaque.js",
            get(|| async { probe_asset("text/javascript; charset=utf-8", OPAQUE_JS) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    asset_with_policy(content_type, body, CLIENT_CSP)
}

fn asset_with_policy(
    content_type: &'static str,
    body: &'static str,
    csp: &'static str,
) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn probe_asset(content_type: &'static str, body: &'static str) -> Response {
    asset_with_policy(content_type, body, PROBE_CSP)
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", CLIENT_JS)
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", CLIENT_CSS)
}

/// `config.json`: read by the page at start-up (it never reads its own URL).
async fn config(State(app): State<AppState>) -> Response {
    let s = &app.schedule;
    let mut response = Json(json!({
        "version": CLIENT_VERSION,
        "queue_interval_ms": u64::try_from(s.queue_interval.as_millis()).unwrap_or(u64::MAX),
        "interaction_interval_ms": u64::try_from(s.interaction_interval.as_millis()).unwrap_or(u64::MAX),
        "token_expiring_margin_secs": s.token_expiring_margin.as_secs_f64(),
        "embed_origins": app.embed_origins,
        // For the isolation probe: an origin that is not the client's.
        "login_origin": app.login_origin,
    }))
    .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CLIENT_CSP),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_no_inline_script_or_style() {
        assert!(!INDEX_HTML.contains("<script>"));
        assert!(!INDEX_HTML.contains("style="));
        assert!(!INDEX_HTML.contains("<style"));
        for handler in ["onload=", "onclick=", "onerror=", "javascript:"] {
            assert!(!INDEX_HTML.contains(handler), "{handler}");
        }
        assert!(INDEX_HTML.contains("src=\"/embedded-client/client.js\""));
    }

    #[test]
    fn script_never_reads_its_url_or_posts_to_star() {
        for forbidden in [
            "location",
            "document.URL",
            "document.referrer",
            "'*'",
            "\"*\"",
            "eval(",
            "innerHTML",
        ] {
            assert!(!CLIENT_JS.contains(forbidden), "{forbidden}");
        }
        assert!(CLIENT_JS.contains(CLIENT_VERSION));
    }

    /// The body of `function name(...) { ... }` in the script (top-level functions of the IIFE
    /// are indented by two spaces).
    fn function_body(name: &str) -> &'static str {
        let start = CLIENT_JS
            .find(&format!("function {name}("))
            .unwrap_or_else(|| panic!("function {name}"));
        let len = CLIENT_JS[start..]
            .find("\n  }\n")
            .unwrap_or_else(|| panic!("end of {name}"));
        &CLIENT_JS[start..start + len]
    }

    #[test]
    fn script_answers_every_token_and_never_leaves_a_promise_unhandled() {
        // A second bad token must get its own auth-error: authError() returns early while
        // authFailed is set, so handleToken clears it before validating.
        assert!(function_body("handleToken").contains("state.authFailed = false;"));
        // init and token share one validate-then-accept path, which catches failures.
        assert_eq!(CLIENT_JS.matches("validate(token).then(").count(), 1);
        assert!(function_body("validateAndAccept").contains(".catch("));
        assert!(function_body("queueTick").contains(".catch("));
        // Response bodies are only parsed through readJson (or in loadConfig, whose rejection
        // is handled), so a non-JSON body cannot reject a chain.
        assert_eq!(CLIENT_JS.matches(".json()").count(), 2);
        assert!(function_body("readJson").contains(".json()"));
        assert!(function_body("loadConfig").contains(".json()"));
        // interaction-end only for an active interaction and a live token.
        let tick = function_body("interactionTick");
        assert!(tick.contains("state.interaction === null"), "{tick}");
        assert!(tick.contains("tokenExpired()"), "{tick}");
    }

    #[test]
    fn client_announces_interactions_and_asks_for_the_microphone_once() {
        assert!(function_body("startInteraction").contains("TYPES.INTERACTION_START"));
        let microphone = function_body("checkMicrophone");
        assert!(microphone.contains("getUserMedia({ audio: true })"));
        assert!(microphone.contains("state.microphone !== null"));
    }

    #[test]
    fn probe_tries_every_route_out_of_the_frame_without_inline_script() {
        for page in [PROBE_HTML, SPOOF_HTML, OPAQUE_HTML] {
            assert!(!page.contains("<script>") && !page.contains("onclick="));
        }
        for route in [
            "__TAURI_INTERNALS__",
            "ipc://localhost",
            "http://ipc.localhost",
            "messageHandlers",
            "window.top.location",
            "getUserMedia",
            "spoof.html?from=login",
            "spoof.html?from=client",
        ] {
            assert!(PROBE_JS.contains(route), "{route}");
        }
        assert!(SPOOF_JS.contains("window.top.postMessage"));
        assert!(PROBE_CSP.contains("connect-src *"));
    }

    #[test]
    fn opaque_probe_is_sandboxed_out_of_its_origin_and_posts_to_its_parent() {
        // No allow-same-origin: the document's origin is "null".
        assert!(OPAQUE_CSP.starts_with("sandbox allow-scripts;"));
        assert!(!OPAQUE_CSP.contains("allow-same-origin"));
        assert!(OPAQUE_JS.contains("window.parent.postMessage"));
        assert!(OPAQUE_HTML.contains("/embedded-client/probe/opaque.js"));
        assert!(PROBE_HTML.contains("/embedded-client/probe/opaque.html"));
    }
}

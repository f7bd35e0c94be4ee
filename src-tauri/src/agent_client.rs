//! Serves the agent client (ui/dist-agent, built by `npm run build` in ui/) on the
//! `agent-client:` scheme: an origin of its own, apart from the app page's, so the page that
//! talks to Genesys Cloud holds no IPC rights (Tauri's invoke key is injected into the app page
//! only, and this page's CSP allows no connection but Genesys's api and streaming origins).
//! Every response carries the agent client's CSP for the configured environment.

use std::borrow::Cow;

use agent_shell_core::embed::csp;
use tauri::http::{header, Method, Request, Response, StatusCode};
use tauri::{Manager, Runtime, UriSchemeContext};

use crate::state::ShellState;

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

/// The bundle, compiled in: nothing is read from disk at run time.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/index.html",
        mime: "text/html; charset=utf-8",
        body: include_bytes!("../../ui/dist-agent/index.html"),
    },
    Asset {
        path: "/agent.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../ui/dist-agent/agent.js"),
    },
    Asset {
        path: "/agent.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("../../ui/dist-agent/agent.css"),
    },
    Asset {
        path: "/softphone.js",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("../../ui/dist-agent/softphone.js"),
    },
    // The licence notices of the bundled WebRTC SDK travel with it.
    Asset {
        path: "/softphone.js.LICENSE.txt",
        mime: "text/plain; charset=utf-8",
        body: include_bytes!("../../ui/dist-agent/softphone.js.LICENSE.txt"),
    },
];

/// The `agent-client:` protocol handler.
pub fn handle<R: Runtime>(
    ctx: UriSchemeContext<'_, R>,
    request: Request<Vec<u8>>,
) -> Response<Cow<'static, [u8]>> {
    let state = ctx.app_handle().state::<ShellState>();
    let policy = state
        .config()
        .map(|config| csp::agent_client_policy(&config.endpoints));
    match policy {
        Some(Ok(policy)) => respond(&policy.to_string(), &request),
        Some(Err(error)) => {
            tracing::error!(%error, "no CSP for the agent client: not served");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no content security policy",
            )
        }
        None => plain(StatusCode::SERVICE_UNAVAILABLE, "not configured"),
    }
}

/// The asset for `request` with `csp`, or a plain error (GET and HEAD only).
fn respond(csp: &str, request: &Request<Vec<u8>>) -> Response<Cow<'static, [u8]>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let path = match request.uri().path() {
        "" | "/" => "/index.html",
        path => path,
    };
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, asset.mime)
        .header(header::CONTENT_SECURITY_POLICY, csp)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Cow::Borrowed(asset.body))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "response"))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Cow<'static, [u8]>> {
    let mut response = Response::new(Cow::Borrowed(text.as_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn get(path: &str) -> Response<Cow<'static, [u8]>> {
        let request = Request::builder()
            .uri(format!("agent-client://localhost{path}"))
            .body(Vec::new())
            .unwrap();
        respond("default-src 'none'", &request)
    }

    #[test]
    fn serves_the_bundle_with_its_policy_and_nothing_else() {
        let index = get("/");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'"
        );
        assert!(String::from_utf8_lossy(index.body()).contains("agent.js"));
        assert_eq!(get("/agent.js").status(), StatusCode::OK);
        for path in ["/../Cargo.toml", "/main.js", "/index.html/x", "/secret"] {
            assert_eq!(get(path).status(), StatusCode::NOT_FOUND, "{path}");
        }
        let post = Request::builder()
            .method(Method::POST)
            .uri("agent-client://localhost/index.html")
            .body(Vec::new())
            .unwrap();
        assert_eq!(respond("x", &post).status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}

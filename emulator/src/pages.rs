//! The identity provider's own HTML pages: login form, error page, signed-out page.
//!
//! They work without JavaScript (a curl-driven test browser completes the form) and carry a
//! CSP that forbids scripts entirely; inline CSS is the only inline content.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::http::escape_html;
use crate::store::SsoHints;

const CSS: &str = include_str!("assets/idp.css");
const LOGIN_TEMPLATE: &str = include_str!("assets/login.html");
const MESSAGE_TEMPLATE: &str = include_str!("assets/message.html");

/// No scripts, no plugins, no framing (a real IdP refuses to be framed, to stop clickjacking).
/// `form-action` is deliberately absent: browsers apply it to the redirect that follows the
/// form post, which would block the custom-scheme redirect back to the desktop app.
const IDP_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                       base-uri 'none'; frame-ancestors 'none'";

/// What the login page shows for one pending authorization.
pub struct LoginPage<'a> {
    pub request_id: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub hints: &'a SsoHints,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

pub fn login_page(page: &LoginPage<'_>) -> Response {
    let scopes: String = page
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape_html(s)))
        .collect();
    let mut hints = String::new();
    for (label, value) in [
        ("Organization", &page.hints.org),
        ("Identity provider", &page.hints.provider),
        ("Prompt", &page.hints.prompt),
        ("Target", &page.hints.target),
    ] {
        if let Some(value) = value {
            hints.push_str(&format!(
                "<p class=\"hint\">{label}: <code>{}</code></p>",
                escape_html(value)
            ));
        }
    }
    let error = page
        .error
        .map(|e| {
            format!(
                "<div class=\"error\" role=\"alert\">{}</div>",
                escape_html(e)
            )
        })
        .unwrap_or_default();
    let html = render(LOGIN_TEMPLATE, |key| match key {
        "css" => Some(CSS.to_owned()),
        "client_id" => Some(escape_html(page.client_id)),
        "request_id" => Some(escape_html(page.request_id)),
        "username" => Some(escape_html(page.username)),
        "scopes" => Some(scopes.clone()),
        "hints" => Some(hints.clone()),
        "error" => Some(error.clone()),
        _ => None,
    });
    html_response(StatusCode::OK, html)
}

/// A page explaining why the request stops here (used when redirecting would be unsafe).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<div class=\"error\" role=\"alert\">{}</div><p class=\"muted\">Return to the application and start the sign-in again.</p>",
        escape_html(message)
    );
    html_response(status, message_page(title, &body))
}

pub fn signed_out_page() -> Response {
    html_response(
        StatusCode::OK,
        message_page(
            "Signed out",
            "<p>You have been signed out of Genesys Cloud.</p><p class=\"muted\">You can close this window.</p>",
        ),
    )
}

fn message_page(title: &str, body_html: &str) -> String {
    render(MESSAGE_TEMPLATE, |key| match key {
        "css" => Some(CSS.to_owned()),
        "title" => Some(escape_html(title)),
        "body" => Some(body_html.to_owned()),
        _ => None,
    })
}

fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, IDP_CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

/// Single-pass `{{key}}` substitution. Substituted values are never rescanned, so a username
/// containing `{{request_id}}` stays literal text.
fn render(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = &after[..end];
                match value(key) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push_str("{{");
                        out.push_str(key);
                        out.push_str("}}");
                    }
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_single_pass() {
        let out = render("a {{x}} b {{y}} {{z", |k| match k {
            "x" => Some("{{y}}".to_owned()),
            "y" => Some("Y".to_owned()),
            _ => None,
        });
        assert_eq!(out, "a {{y}} b Y {{z");
    }

    #[test]
    fn templates_have_no_script() {
        for t in [LOGIN_TEMPLATE, MESSAGE_TEMPLATE] {
            assert!(!t.contains("<script"));
        }
    }
}

//! What one token request did, logged as a single line when it ends.

use std::time::Instant;

use axum::response::{IntoResponse, Response};

use crate::error::OAuthError;

/// Holds no secret: no token, code, verifier, envelope or client secret ever goes in here.
#[derive(Default)]
pub(crate) struct Outcome {
    pub grant_type: Option<&'static str>,
    pub client_id: Option<String>,
    pub error: Option<String>,
    pub upstream_status: Option<u16>,
    pub upstream_ms: Option<f64>,
    pub key_id: Option<String>,
    pub envelope_age_secs: Option<u64>,
    pub refresh_token_sealed: bool,
}

impl Outcome {
    pub fn fail(&mut self, e: OAuthError) -> Response {
        // A more precise reason recorded earlier (e.g. why an envelope failed) is kept.
        if self.error.is_none() {
            self.error = Some(e.error.as_str().to_owned());
        }
        e.into_response()
    }
}

/// Milliseconds, rounded to the microsecond (enough for a log line, short to read).
pub(crate) fn elapsed_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// At most `max` bytes of `text`, cut on a character boundary (for logging request data).
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}

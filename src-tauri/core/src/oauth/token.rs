//! The token endpoint: code exchange and refresh through the oauth2 crate, over an HTTP client
//! that never follows redirects, has timeouts, caps the body, and keeps what oauth2 would drop
//! (the HTTP status and Retry-After of 429/5xx answers) for the retry policy.

use std::time::{Duration, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthorizationCode, ClientId, PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse,
    TokenUrl,
};

use crate::config::{missing_scope_consequence, missing_scopes, ShellConfig};
use crate::error::{Code, ErrorCode};
use crate::secret::{AccessToken, AuthCode, RefreshToken};

const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Sign-out must not wait long for a server that is down: the session ends locally anyway.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Used when a server omits expires_in (RFC 6749 only recommends it): assume a short life.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(300);
/// The longest token lifetime believed. Genesys Cloud lets an org set 300 s to 48 h; above
/// 48 h the answer is wrong (and a huge value would overflow the expiry time). The floor is the
/// refresh policy's `min_lifetime` (30 s; below it the session would renew in a loop).
pub const MAX_LIFETIME: Duration = Duration::from_secs(48 * 3600);
/// A Retry-After beyond this is read as this (the refresh policy caps it far lower); it only
/// keeps a silly header from overflowing anything.
const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("could not reach the sign-in service: {0}")]
    Network(String),
    #[error("the sign-in service did not answer in time")]
    Timeout,
    #[error("the sign-in service is unavailable (HTTP {status})")]
    ServerUnavailable {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("the sign-in is no longer valid (invalid_grant){}", detail(.0))]
    InvalidGrant(Option<String>),
    #[error("Genesys Cloud rejected this app's OAuth client ({error}){}: ask IT to check the client id and grant type", detail(.description))]
    ClientRejected {
        error: String,
        description: Option<String>,
    },
    #[error("Genesys Cloud refused the requested scopes (invalid_scope){}: ask IT to check the OAuth client's scopes", detail(.0))]
    InvalidScope(Option<String>),
    #[error("the sign-in service refused the request ({error}){}", detail(.description))]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("the sign-in service sent a response that is not a valid token response: {0}")]
    Malformed(String),
    #[error("the token lacks the scope(s) {}: {}; ask IT to grant them on the OAuth client", .0.join(", "), missing_scope_consequence(.0))]
    MissingScopes(Vec<String>),
}

fn detail(description: &Option<String>) -> String {
    match description {
        Some(text) => format!(": {}", text.chars().take(200).collect::<String>()),
        None => String::new(),
    }
}

impl ErrorCode for TokenError {
    fn error_code(&self) -> Code {
        match self {
            Self::Network(_) => Code::TokenNetwork,
            Self::Timeout => Code::TokenTimeout,
            Self::ServerUnavailable { .. } => Code::TokenServerUnavailable,
            Self::InvalidGrant(_) => Code::TokenInvalidGrant,
            Self::ClientRejected { .. } => Code::TokenClientRejected,
            Self::InvalidScope(_) => Code::TokenInvalidScope,
            Self::Refused { .. } => Code::TokenRefused,
            Self::Malformed(_) => Code::TokenMalformedResponse,
            Self::MissingScopes(_) => Code::TokenMissingScopes,
        }
    }
}

impl TokenError {
    /// Transient failures worth another attempt (transport, timeout, 429, 5xx).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Network(_) | Self::Timeout | Self::ServerUnavailable { .. }
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::ServerUnavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Tokens from one successful response. Expiry is anchored at the request's start.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    pub lifetime: Duration,
    pub expires_at: SystemTime,
    pub granted_scopes: Vec<String>,
}

/// What the HTTP layer reports to oauth2 as a request failure.
#[derive(Debug, thiserror::Error)]
enum HttpFailure {
    #[error("{0}")]
    Transport(String),
    #[error("timed out")]
    Timeout,
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("response larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

/// The HTTP client handed to oauth2: a named type with a `Send` future, so the futures of
/// callers stay `Send` (a borrowing closure makes them "not general enough").
#[derive(Debug, Clone)]
struct TokenHttp(reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send + 'c,
        >,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// Every call the shell makes to Genesys Cloud's API for the session, in one place: the token
/// endpoint (code exchange, refresh), users/me and revocation. One HTTP client, one policy.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: TokenHttp,
    token_url: TokenUrl,
    users_me_url: url::Url,
    revoke_url: url::Url,
    min_lifetime: Duration,
    client_id: ClientId,
    requested_scopes: Vec<String>,
}

/// The signed-in user, as users/me describes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// users/me did not give a user for a fresh token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Genesys Cloud did not accept the new sign-in when reading your user profile ({0})")]
pub struct UserLookupError(pub String);

impl TokenClient {
    /// A client for `config`'s endpoints under `policy`: each request is limited to the
    /// policy's attempt timeout, and lifetimes are believed from its `min_lifetime`.
    pub fn new(
        config: &ShellConfig,
        policy: &crate::config::RefreshPolicy,
    ) -> Result<Self, TokenError> {
        let attempt_timeout = policy.attempt_timeout;
        let http = crate::platform::net::Http::build(
            &config.proxy,
            crate::platform::net::ClientOptions {
                timeout: attempt_timeout,
                connect_timeout: attempt_timeout.min(Duration::from_secs(10)),
                user_agent: concat!("agent-shell/", env!("CARGO_PKG_VERSION")),
            },
        )
        .map_err(|e| TokenError::Network(e.to_string()))?;
        Ok(Self {
            http: TokenHttp(http.client().clone()),
            token_url: TokenUrl::from_url(config.endpoints.token.clone()),
            users_me_url: config.endpoints.users_me.clone(),
            revoke_url: config.endpoints.tokens_me.clone(),
            min_lifetime: policy.min_lifetime,
            client_id: ClientId::new(config.client_id.clone()),
            requested_scopes: config.scopes.clone(),
        })
    }

    /// `GET users/me` with a fresh access token: who signed in.
    pub async fn users_me(&self, token: &AccessToken) -> Result<UserInfo, UserLookupError> {
        let response = self
            .http
            .0
            .get(self.users_me_url.clone())
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| UserLookupError(crate::platform::net::error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(UserLookupError(format!(
                "HTTP {}",
                response.status().as_u16()
            )));
        }
        response
            .json::<UserInfo>()
            .await
            .map_err(|_| UserLookupError("unexpected response".into()))
    }

    /// `DELETE tokens/me`: ends the login the access token belongs to (its refresh token too).
    /// Best effort with a short limit; true when Genesys confirmed it.
    pub async fn revoke(&self, token: &AccessToken) -> bool {
        self.http
            .0
            .delete(self.revoke_url.clone())
            .bearer_auth(token.expose())
            .timeout(REVOKE_TIMEOUT)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    pub async fn exchange_code(
        &self,
        code: AuthCode,
        verifier: PkceCodeVerifier,
        redirect_uri: &str,
    ) -> Result<TokenSet, TokenError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| TokenError::Malformed(format!("redirect URI: {e}")))?;
        let client = BasicClient::new(self.client_id.clone())
            .set_token_uri(self.token_url.clone())
            .set_redirect_uri(redirect);
        let started = SystemTime::now();
        let response = client
            .exchange_code(AuthorizationCode::new(code.expose().to_string()))
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(classify)?;
        self.checked_token_set(&response, started).await
    }

    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<TokenSet, TokenError> {
        let client = BasicClient::new(self.client_id.clone()).set_token_uri(self.token_url.clone());
        let started = SystemTime::now();
        let token = oauth2::RefreshToken::new(refresh_token.expose().to_string());
        let response = client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(classify)?;
        self.checked_token_set(&response, started).await
    }

    /// The token set, or an error; tokens refused for missing scopes are revoked at Genesys
    /// before they are dropped, so nothing usable is left behind.
    async fn checked_token_set(
        &self,
        response: &oauth2::basic::BasicTokenResponse,
        started: SystemTime,
    ) -> Result<TokenSet, TokenError> {
        let set = self.token_set(response, started)?;
        let missing = missing_scopes(&set.granted_scopes);
        if !missing.is_empty() {
            let revoked = self.revoke(&set.access_token).await;
            tracing::warn!(revoked, missing = ?missing, "token lacks required scopes; revoked");
            return Err(TokenError::MissingScopes(missing));
        }
        Ok(set)
    }

    fn token_set(
        &self,
        response: &oauth2::basic::BasicTokenResponse,
        started: SystemTime,
    ) -> Result<TokenSet, TokenError> {
        let access = response.access_token().secret();
        if access.is_empty() || access.len() > 16 * 1024 {
            return Err(TokenError::Malformed(
                "empty or oversized access_token".into(),
            ));
        }
        // RFC 6749 5.1: an omitted scope means the requested scopes were granted.
        let granted: Vec<String> = match response.scopes() {
            Some(scopes) => scopes.iter().map(|s| s.to_string()).collect(),
            None => self.requested_scopes.clone(),
        };
        let lifetime = clamp_lifetime(response.expires_in(), self.min_lifetime);
        Ok(TokenSet {
            access_token: AccessToken::new(access.clone()),
            refresh_token: response
                .refresh_token()
                .map(|t| RefreshToken::new(t.secret().clone()))
                .filter(|t| !t.expose().is_empty()),
            lifetime,
            expires_at: started.checked_add(lifetime).unwrap_or(started),
            granted_scopes: granted,
        })
    }
}

/// The lifetime believed for a token: `expires_in` inside `min_lifetime`..[`MAX_LIFETIME`].
pub fn clamp_lifetime(expires_in: Option<Duration>, min_lifetime: Duration) -> Duration {
    let lifetime = expires_in.unwrap_or(ASSUMED_LIFETIME);
    let clamped = lifetime.clamp(min_lifetime, MAX_LIFETIME);
    if clamped != lifetime {
        tracing::warn!(
            expires_in_secs = lifetime.as_secs(),
            believed_secs = clamped.as_secs(),
            "token lifetime out of range; clamped"
        );
    }
    clamped
}

async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpFailure> {
    let (parts, body) = request.into_parts();
    let mut response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                HttpFailure::Timeout
            } else {
                // The whole chain (TLS, proxy), without the URL: no query strings in the text.
                HttpFailure::Transport(crate::platform::net::error_chain(&e))
            }
        })?;
    let status = response.status();
    if status.as_u16() == 429 || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs).min(RETRY_AFTER_CEILING));
        return Err(HttpFailure::Status {
            status: status.as_u16(),
            retry_after,
        });
    }
    let mut builder = oauth2::http::Response::builder().status(status);
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        if e.is_timeout() {
            HttpFailure::Timeout
        } else {
            HttpFailure::Transport(e.without_url().to_string())
        }
    })? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(HttpFailure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    builder
        .body(body)
        .map_err(|e| HttpFailure::Transport(e.to_string()))
}

fn classify(
    error: RequestTokenError<HttpFailure, oauth2::basic::BasicErrorResponse>,
) -> TokenError {
    match error {
        RequestTokenError::Request(HttpFailure::Timeout) => TokenError::Timeout,
        RequestTokenError::Request(HttpFailure::Transport(text)) => TokenError::Network(text),
        RequestTokenError::Request(HttpFailure::Status {
            status,
            retry_after,
        }) => TokenError::ServerUnavailable {
            status,
            retry_after,
        },
        RequestTokenError::Request(HttpFailure::TooLarge) => {
            TokenError::Malformed("response too large".into())
        }
        RequestTokenError::ServerResponse(response) => {
            let description = response.error_description().cloned();
            match response.error() {
                BasicErrorResponseType::InvalidGrant => TokenError::InvalidGrant(description),
                BasicErrorResponseType::InvalidScope => TokenError::InvalidScope(description),
                BasicErrorResponseType::InvalidClient
                | BasicErrorResponseType::UnauthorizedClient => TokenError::ClientRejected {
                    error: response.error().to_string(),
                    description,
                },
                other => TokenError::Refused {
                    error: other.to_string(),
                    description,
                },
            }
        }
        // Never include the body: it may hold a token.
        RequestTokenError::Parse(error, _body) => {
            TokenError::Malformed(format!("unexpected content at {}", error.path()))
        }
        RequestTokenError::Other(text) => TokenError::Malformed(text),
    }
}

/// Remaining life of a token set at `now` (zero once expired).
pub fn remaining(tokens: &TokenSet, now: SystemTime) -> Duration {
    tokens
        .expires_at
        .duration_since(now)
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use crate::config::REQUIRED_SCOPES;

    fn client() -> TokenClient {
        let config = parse_str("environment = \"mypurecloud.ie\"\nclient_id = \"c-1\"\n").unwrap();
        TokenClient::new(&config, &config.refresh).unwrap()
    }

    fn response(json: &str) -> oauth2::basic::BasicTokenResponse {
        serde_json::from_str(json).unwrap()
    }

    const SCOPES: &str = "users:readonly presence routing conversations notifications stations:readonly organization:readonly";

    #[test]
    fn expires_in_is_clamped_and_never_overflows() {
        let started = SystemTime::now();
        for (expires_in, expected) in [
            ("0", crate::config::MIN_LIFETIME),
            ("1", crate::config::MIN_LIFETIME),
            ("7200", Duration::from_secs(7200)),
            ("18446744073709551615", MAX_LIFETIME),
        ] {
            let set = client()
                .token_set(
                    &response(&format!(
                        r#"{{"access_token":"a","token_type":"bearer","expires_in":{expires_in},"scope":"{SCOPES}"}}"#
                    )),
                    started,
                )
                .unwrap();
            assert_eq!(set.lifetime, expected, "expires_in {expires_in}");
            assert_eq!(set.expires_at, started + expected);
        }
        let absent = client()
            .token_set(
                &response(&format!(
                    r#"{{"access_token":"a","token_type":"bearer","scope":"{SCOPES}"}}"#
                )),
                started,
            )
            .unwrap();
        assert_eq!(absent.lifetime, ASSUMED_LIFETIME);
        // A negative expires_in is not a token response at all.
        assert!(serde_json::from_str::<oauth2::basic::BasicTokenResponse>(
            r#"{"access_token":"a","token_type":"bearer","expires_in":-5}"#
        )
        .is_err());
    }

    #[test]
    fn token_set_checks_scopes_and_drops_empty_refresh_tokens() {
        let now = SystemTime::now();
        // The scope check (applied by the exchange and the refresh, which revoke a refused
        // token) names what is missing; a broader scope counts for its `:readonly` form.
        let narrow = client()
            .token_set(
                &response(r#"{"access_token":"a","token_type":"bearer","expires_in":60,"scope":"users:readonly"}"#),
                now,
            )
            .unwrap();
        let missing = TokenError::MissingScopes(missing_scopes(&narrow.granted_scopes));
        assert_eq!(missing.code(), "token_missing_scopes");
        assert!(missing.to_string().contains("conversations"), "{missing}");
        assert!(!missing.to_string().contains("users:readonly"), "{missing}");
        assert!(missing_scopes(&[
            "users",
            "presence",
            "routing",
            "conversations",
            "notifications",
            "stations",
            "organization"
        ])
        .is_empty());
        assert_eq!(missing_scopes(&["routing:readonly"]).len(), 7);
        let empty_access = client()
            .token_set(
                &response(&format!(
                    r#"{{"access_token":"","token_type":"bearer","scope":"{SCOPES}"}}"#
                )),
                now,
            )
            .unwrap_err();
        assert_eq!(empty_access.code(), "token_malformed_response");
        let set = client()
            .token_set(
                &response(r#"{"access_token":"a","token_type":"bearer","refresh_token":""}"#),
                now,
            )
            .unwrap();
        assert!(
            set.refresh_token.is_none(),
            "an empty refresh token is none"
        );
        assert_eq!(
            set.granted_scopes.len(),
            REQUIRED_SCOPES.len(),
            "no scope: as requested"
        );
    }

    #[test]
    fn classify_yields_what_the_retry_policy_needs_and_never_the_body() {
        use oauth2::basic::BasicErrorResponse;
        let server = |json: &str| {
            classify(RequestTokenError::ServerResponse(
                serde_json::from_str::<BasicErrorResponse>(json).unwrap(),
            ))
        };
        assert_eq!(
            server(r#"{"error":"invalid_grant"}"#).code(),
            "token_invalid_grant"
        );
        assert!(!server(r#"{"error":"invalid_grant"}"#).is_retryable());
        assert_eq!(
            server(r#"{"error":"invalid_client"}"#).code(),
            "token_client_rejected"
        );
        assert_eq!(
            server(r#"{"error":"unauthorized_client"}"#).code(),
            "token_client_rejected"
        );
        assert_eq!(
            server(r#"{"error":"invalid_scope"}"#).code(),
            "token_invalid_scope"
        );
        assert_eq!(
            server(r#"{"error":"invalid_request"}"#).code(),
            "token_refused"
        );
        let busy = classify(RequestTokenError::Request(HttpFailure::Status {
            status: 503,
            retry_after: Some(Duration::from_secs(7)),
        }));
        assert!(busy.is_retryable());
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(7)));
        assert!(classify(RequestTokenError::Request(HttpFailure::Timeout)).is_retryable());
        assert!(classify(RequestTokenError::Request(HttpFailure::Transport(
            "x".into()
        )))
        .is_retryable());
        let too_large = classify(RequestTokenError::Request(HttpFailure::TooLarge));
        assert!(!too_large.is_retryable());
        let body = b"{\"access_token\":\"SECRET-IN-BODY\"".to_vec();
        let parse_error = serde_path_to_error::deserialize::<_, oauth2::basic::BasicTokenResponse>(
            &mut serde_json::Deserializer::from_slice(&body),
        )
        .map(|_| ())
        .unwrap_err();
        let parsed = classify(RequestTokenError::Parse(parse_error, body));
        assert_eq!(parsed.code(), "token_malformed_response");
        assert!(!parsed.to_string().contains("SECRET-IN-BODY"), "{parsed}");
    }
}

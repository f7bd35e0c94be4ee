//! The token endpoint: code exchange and refresh through the oauth2 crate, over an HTTP client
//! that never follows redirects, has timeouts, caps the body, and keeps what oauth2 would drop
//! (the HTTP status and Retry-After of 429/5xx answers) for the retry policy.

use std::time::{Duration, SystemTime};

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthorizationCode, ClientId, PkceCodeVerifier, RedirectUrl, RequestTokenError, TokenResponse,
    TokenUrl,
};

use crate::config::{missing_scope_consequence, ShellConfig, REQUIRED_SCOPES};
use crate::error::ErrorCode;
use crate::secret::{AccessToken, AuthCode, RefreshToken};

const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Used when a server omits expires_in (RFC 6749 only recommends it): assume a short life.
const ASSUMED_LIFETIME: Duration = Duration::from_secs(300);
/// Longest Retry-After honoured; a server cannot park the agent for an hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

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
    fn code(&self) -> &'static str {
        match self {
            Self::Network(_) => "token_network",
            Self::Timeout => "token_timeout",
            Self::ServerUnavailable { .. } => "token_server_unavailable",
            Self::InvalidGrant(_) => "token_invalid_grant",
            Self::ClientRejected { .. } => "token_client_rejected",
            Self::InvalidScope(_) => "token_invalid_scope",
            Self::Refused { .. } => "token_refused",
            Self::Malformed(_) => "token_malformed_response",
            Self::MissingScopes(_) => "token_missing_scopes",
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

#[derive(Debug, Clone)]
pub struct TokenClient {
    http: TokenHttp,
    token_url: TokenUrl,
    client_id: ClientId,
    requested_scopes: Vec<String>,
}

impl TokenClient {
    pub fn new(config: &ShellConfig, attempt_timeout: Duration) -> Result<Self, TokenError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(attempt_timeout)
            .connect_timeout(attempt_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("agent-shell/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TokenError::Network(e.to_string()))?;
        Ok(Self {
            http: TokenHttp(http),
            token_url: TokenUrl::from_url(config.endpoints.token.clone()),
            client_id: ClientId::new(config.client_id.clone()),
            requested_scopes: config.scopes.clone(),
        })
    }

    /// The HTTP client, for the other Genesys calls (users/me, revocation): same policy.
    pub fn http(&self) -> &reqwest::Client {
        &self.http.0
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
        self.token_set(&response, started)
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
        self.token_set(&response, started)
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
        let missing: Vec<String> = REQUIRED_SCOPES
            .iter()
            .filter(|required| !granted.iter().any(|g| g == *required))
            .map(|s| s.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(TokenError::MissingScopes(missing));
        }
        let lifetime = response.expires_in().unwrap_or(ASSUMED_LIFETIME);
        Ok(TokenSet {
            access_token: AccessToken::new(access.clone()),
            refresh_token: response
                .refresh_token()
                .map(|t| RefreshToken::new(t.secret().clone()))
                .filter(|t| !t.expose().is_empty()),
            lifetime,
            expires_at: started + lifetime,
            granted_scopes: granted,
        })
    }
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
                // without_url: the error text must not carry query strings.
                HttpFailure::Transport(e.without_url().to_string())
            }
        })?;
    let status = response.status();
    if status.as_u16() == 429 || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs).min(MAX_RETRY_AFTER));
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

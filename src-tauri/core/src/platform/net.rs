//! Every outgoing HTTP client of the core is built here (the token client, users/me,
//! revocation, the doctor's probes), so they all reach the network the way the OS does:
//!
//! - TLS is verified with the OS trust store (rustls-platform-verifier: CryptoAPI on Windows,
//!   Security.framework on macOS, the system bundle on Linux, where `SSL_CERT_FILE` /
//!   `SSL_CERT_DIR` replace it), so the root CA of a TLS-inspecting proxy that IT installs
//!   there is trusted. A rejected chain is remembered per host for the doctor's evidence.
//! - Proxies: the system proxy (Windows Internet Options, macOS network settings, and
//!   `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` everywhere), unless `[network] proxy` names one or
//!   says `direct`. A proxy's credentials are never shown: [`ProxyUrl`] prints redacted.
//!   There is no PAC/WPAD evaluation here (docs/deployment.md#proxies-and-tls-inspection).

use std::sync::Arc;
use std::time::Duration;

use url::Url;

mod failure;
mod tls;

pub use failure::{error_chain, Failure, FailureKind};
pub use tls::SeenChain;

pub use crate::config::{ProxySetting, ProxyUrl};
use tls::{RecordingVerifier, RejectedChains};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("the OS trust store could not be read: {0}")]
    TrustStore(String),
    #[error("the HTTP client could not be built: {0}")]
    Build(String),
}

/// What a client is for: its time limits and user agent.
#[derive(Debug, Clone, Copy)]
pub struct ClientOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub user_agent: &'static str,
}

/// An HTTP client built the one way, with what it needs to explain its failures.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    proxy: ProxySetting,
    rejected: Arc<RejectedChains>,
}

impl Http {
    /// A client with the OS trust store, `proxy`, no redirects followed and `options`' limits.
    pub fn build(proxy: &ProxySetting, options: ClientOptions) -> Result<Self, NetError> {
        let rejected = Arc::new(RejectedChains::default());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let platform = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| NetError::TrustStore(e.to_string()))?;
        let verifier = Arc::new(RecordingVerifier {
            inner: platform,
            rejected: rejected.clone(),
        });
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| NetError::Build(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(options.user_agent);
        builder = match proxy {
            ProxySetting::System => builder,
            ProxySetting::Direct => builder.no_proxy(),
            ProxySetting::Explicit(url) => builder.proxy(
                reqwest::Proxy::all(url.expose())
                    // reqwest's message could quote the URL: say which setting instead.
                    .map_err(|_| NetError::Build(format!("[network] proxy {url} is not usable")))?,
            ),
        };
        let client = builder
            .build()
            .map_err(|e| NetError::Build(error_chain(&e)))?;
        Ok(Self {
            client,
            proxy: proxy.clone(),
            rejected,
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The proxy a request to `url` goes through, redacted: `direct`, or the proxy and where
    /// the setting came from.
    pub fn proxy_for(&self, url: &Url) -> String {
        match &self.proxy {
            ProxySetting::Direct => "direct ([network] proxy = \"direct\")".into(),
            ProxySetting::Explicit(proxy) => format!("proxy {proxy} ([network] proxy)"),
            ProxySetting::System => {
                let matcher = hyper_util::client::proxy::matcher::Matcher::from_system();
                let proxy = url
                    .as_str()
                    .parse::<oauth2::http::Uri>()
                    .ok()
                    .and_then(|uri| matcher.intercept(&uri));
                match proxy {
                    None => "direct (system settings)".into(),
                    Some(intercept) => {
                        let uri = intercept.uri();
                        let auth = if intercept.basic_auth().is_some() {
                            "***@"
                        } else {
                            ""
                        };
                        format!(
                            "proxy {}://{auth}{}:{} (system settings)",
                            uri.scheme_str().unwrap_or("http"),
                            uri.host().unwrap_or_default(),
                            uri.port_u16().unwrap_or(80)
                        )
                    }
                }
            }
        }
    }

    /// The chain `host` sent the last time this client rejected it, if it did.
    pub fn rejected_chain(&self, host: &str) -> Option<SeenChain> {
        self.rejected.get(host)
    }
}

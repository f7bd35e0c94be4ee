//! The state requests are served from: the configuration in force as one immutable [`Live`]
//! behind an `Arc` (a reload builds a new one and swaps it in, so a request sees one consistent
//! configuration from start to end), and the flags beside it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use url::Url;

use crate::config::{BrokerConfig, ClientConfig};
use crate::error::BrokerError;
use crate::limit::{Budget, Limiter};
use crate::seal::SealingKeys;

/// The upstream connection attempt gets at most this much of the whole timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The configuration in force, ready to serve.
pub(crate) struct Live {
    pub clients: HashMap<String, ClientConfig>,
    pub keys: SealingKeys,
    pub upstream: Url,
    pub http: reqwest::Client,
    pub body_limit: usize,
    pub retry_after: Duration,
    pub limiter: Option<Arc<Limiter>>,
    pub budget: Option<Arc<Budget>>,
    pub generation: u64,
}

impl Live {
    /// Builds the state for `config`, reusing `previous`'s limiter and budget when their
    /// quotas are unchanged (so a reload does not hand every client a fresh burst).
    pub fn build(config: &BrokerConfig, previous: Option<&Live>) -> Result<Self, BrokerError> {
        let http = reqwest::Client::builder()
            // A token endpoint that redirects is misconfigured; following it could send the
            // client secret somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.upstream_timeout)
            .connect_timeout(config.upstream_timeout.min(CONNECT_TIMEOUT))
            .user_agent(concat!("agent-shell-broker/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BrokerError::Http(e.to_string()))?;
        let limiter = config.rate_limit.as_ref().map(|quota| {
            previous
                .and_then(|p| p.limiter.as_ref())
                .filter(|l| l.quota == *quota)
                .cloned()
                .unwrap_or_else(|| Arc::new(Limiter::new(quota)))
        });
        let ids = || config.clients.iter().map(|c| c.client_id.as_str());
        let budget = config.upstream_budget.as_ref().map(|quota| {
            previous
                .and_then(|p| p.budget.as_ref())
                .filter(|b| b.fits(quota, ids()))
                .cloned()
                .unwrap_or_else(|| Arc::new(Budget::new(quota, ids())))
        });
        Ok(Self {
            clients: config
                .clients
                .iter()
                .map(|c| (c.client_id.clone(), c.clone()))
                .collect(),
            keys: config.keys.clone(),
            upstream: config.upstream_token_url.clone(),
            http,
            body_limit: config.body_limit,
            retry_after: config.upstream_retry_after,
            limiter,
            budget,
            generation: previous.map_or(1, |p| p.generation + 1),
        })
    }
}

pub(crate) struct Shared {
    live: RwLock<Arc<Live>>,
    /// Set when shutting down: readiness fails so load balancers stop sending traffic.
    draining: AtomicBool,
    /// Set once the "forwarded header but none configured" warning was logged.
    pub warned_unconfigured_proxy: AtomicBool,
}

pub(crate) type AppState = Arc<Shared>;

impl Shared {
    pub fn new(live: Live) -> Self {
        Self {
            live: RwLock::new(Arc::new(live)),
            draining: AtomicBool::new(false),
            warned_unconfigured_proxy: AtomicBool::new(false),
        }
    }

    /// The configuration in force. The lock is held only to clone the `Arc`; a poisoned lock
    /// still holds a complete `Arc`, so it is taken over.
    pub fn live(&self) -> Arc<Live> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn replace(&self, live: Live) {
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(live);
    }

    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

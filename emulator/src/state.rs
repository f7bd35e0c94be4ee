//! State shared by the three servers: immutable configuration, the OAuth [`Store`] and the
//! contact centre. Handlers depend on this module; it depends on no handler.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::centre::Centre;
use crate::config::{ClientRegistration, EmulatorConfig};
use crate::store::{Settings, Store};

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
    /// The contact centre behind the Platform API routes (its own lock and event bus).
    pub centre: Centre,
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
            centre: Centre::new(config),
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

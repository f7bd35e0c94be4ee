//! What a connection may hold: a cap on open connections, and an idle timeout for connections
//! with no request in flight (hyper closes idle HTTP/1 connections through its header timeout
//! but has no idle timeout for HTTP/2, where a client may keep a connection open for ever and
//! answer every keep-alive ping). A leaf module beside the server set-up in `lib.rs`.

use std::future::{ready, Future, Ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::Request;
use axum_server::accept::Accept;
use axum_server::ConnectionShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_service::Service;

/// After the graceful close of an idle connection (HTTP/2 GOAWAY), how long the peer has to
/// hang up before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// At most one "connection limit reached" warning per this many seconds.
const WARN_EVERY_SECS: u64 = 10;

/// The acceptor: takes a permit for each connection (or refuses it) and tracks its requests.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionGuard {
    permits: Arc<Semaphore>,
    max: usize,
    idle_timeout: Duration,
}

impl ConnectionGuard {
    pub fn new(max: usize, idle_timeout: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            idle_timeout,
        }
    }
}

/// Why a connection was closed right after it was accepted.
#[derive(Debug, thiserror::Error)]
#[error("connection limit reached ({0} connections open); connection closed")]
pub(crate) struct AtCapacity(usize);

impl<I, S> Accept<I, S> for ConnectionGuard {
    type Stream = Counted<I>;
    type Service = Tracked<S>;
    type Future = Ready<io::Result<(Counted<I>, Tracked<S>)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return ready(Err(io::Error::other(AtCapacity(self.max))));
        };
        let activity = Arc::new(Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                last: Instant::now(),
                shutdown: None,
            }),
        });
        tokio::spawn(close_when_idle(
            Arc::downgrade(&activity),
            self.idle_timeout,
        ));
        ready(Ok((
            Counted {
                inner: stream,
                _permit: permit,
            },
            Tracked {
                inner: service,
                activity,
            },
        )))
    }
}

/// Logs failed accepts: the connection limit as a warning (at most one line per 10 s, with a
/// count), anything else (TLS handshakes that fail, sockets that close early) at debug.
pub(crate) fn on_accept_error(addr: Option<&SocketAddr>, e: &io::Error) {
    static LAST_WARN: AtomicU64 = AtomicU64::new(0);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let at_capacity = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<AtCapacity>());
    let Some(at_capacity) = at_capacity else {
        tracing::debug!(client_ip = ?addr.map(SocketAddr::ip), error = %e, "connection failed");
        return;
    };
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_WARN.load(Ordering::Relaxed);
    if now >= last + WARN_EVERY_SECS
        && LAST_WARN
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            client_ip = ?addr.map(SocketAddr::ip),
            refused_total = refused,
            "{at_capacity}"
        );
    }
}

struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    in_flight: usize,
    /// When the last request ended (or the connection was accepted).
    last: Instant,
    /// Closes this connection; known from its first request on.
    shutdown: Option<ConnectionShutdown>,
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes the connection once no request has been in flight for `idle`: gracefully first
/// (HTTP/2 GOAWAY; HTTP/1 closes), then, if the peer has not hung up, for good. Ends when the
/// connection does.
async fn close_when_idle(activity: Weak<Activity>, idle: Duration) {
    let mut wait = idle;
    loop {
        tokio::time::sleep(wait).await;
        let Some(activity) = activity.upgrade() else {
            return;
        };
        let shutdown = {
            let state = activity.lock();
            let quiet = state.last.elapsed();
            if state.in_flight > 0 || state.shutdown.is_none() || quiet < idle {
                // Busy, or no request yet (the first-request timeout covers that), or used
                // since: look again when it could next be idle.
                wait = idle.saturating_sub(quiet).max(idle / 4);
                continue;
            }
            state.shutdown.clone()
        };
        drop(activity);
        if let Some(shutdown) = shutdown {
            tracing::debug!("closing an idle connection");
            shutdown.graceful_shutdown();
            tokio::time::sleep(CLOSE_GRACE.min(idle)).await;
            shutdown.shutdown();
        }
        return;
    }
}

/// A connection's stream, holding its permit until it closes.
pub(crate) struct Counted<I> {
    inner: I,
    _permit: OwnedSemaphorePermit,
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A connection's service, counting its requests in flight.
#[derive(Clone)]
pub(crate) struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

/// One request in flight; when dropped (answered or cancelled) the connection's clock restarts.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.last = Instant::now();
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<B>> for Tracked<S>
where
    S: Service<Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        {
            let mut state = self.activity.lock();
            if state.shutdown.is_none() {
                // axum-server puts the connection's shutdown handle on every request.
                state.shutdown = request.extensions().get::<ConnectionShutdown>().cloned();
            }
            state.in_flight += 1;
        }
        let in_flight = InFlight(self.activity.clone());
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            drop(in_flight);
            result
        })
    }
}

//! The RFC 8252 loopback redirect: a listener on 127.0.0.1 (never "localhost") at one of the
//! configured ports, answering the browser with a small page and handing the request target over.
//!
//! Anything on this machine can connect to the port, and any web page can make the agent's
//! browser send a GET to it, so the listener trusts nothing it is sent: only a GET for exactly
//! the callback path with `Host: 127.0.0.1:PORT` is handed over; a request that does not
//! complete the pending sign-in (wrong state) gets the same neutral page and the listener keeps
//! waiting for the real one. Each connection is read in its own task with a small size limit and
//! a deadline for its whole request head (bytes trickled in one at a time do not extend it), so
//! an idle or slow connection cannot stall the browser's.
//!
//! On a shared (VDI) host another user can open many connections to the port. None is dropped
//! for being one too many: up to [`Limits::reading`] heads are read at once, up to
//! [`Limits::queued`] more connections wait for a reading slot in order (each for at most
//! [`Limits::queue_wait`]), and beyond that the listener stops accepting, so further connections
//! wait in the kernel's listen backlog until a slot frees. Every reader's deadline
//! ([`Limits::read_timeout`]) guarantees that slots free up.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::config::REDIRECT_PATH;
use crate::error::{Code, ErrorCode};

const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// How many connections the listener serves at once, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Request heads read at once.
    pub reading: usize,
    /// Accepted connections waiting for a reading slot; beyond these the listener stops
    /// accepting and the kernel's backlog holds further connections.
    pub queued: usize,
    /// The deadline for a whole request head, from the moment its reading starts.
    pub read_timeout: Duration,
    /// How long an accepted connection waits for a reading slot before it is answered
    /// `503 Service Unavailable`.
    pub queue_wait: Duration,
}

impl Limits {
    /// What the sign-in uses: 64 heads read at once (a browser opens one or two connections),
    /// 192 more waiting, 5 s per head, 30 s in the queue.
    pub const DEFAULT: Limits = Limits {
        reading: 64,
        queued: 192,
        read_timeout: Duration::from_secs(5),
        queue_wait: Duration::from_secs(30),
    };
}

#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error("{} on 127.0.0.1 {} in use by another program, so the browser cannot hand the sign-in back ({reason}); close that program or ask IT to configure other redirect.loopback_ports", describe_ports(.ports), if .ports.len() == 1 { "is" } else { "are all" })]
    PortBusy { ports: Vec<u16>, reason: String },
    #[error("no sign-in arrived on the loopback port in time")]
    TimedOut,
    #[error("the sign-in was cancelled")]
    Cancelled,
}

fn describe_ports(ports: &[u16]) -> String {
    match ports {
        [] => "no loopback port is configured, so nothing".to_string(),
        [one] => format!("port {one}"),
        many => format!(
            "ports {}",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl ErrorCode for LoopbackError {
    fn error_code(&self) -> Code {
        match self {
            Self::PortBusy { .. } => Code::LoopbackPortBusy,
            Self::TimedOut => Code::LoopbackTimedOut,
            Self::Cancelled => Code::LoopbackCancelled,
        }
    }
}

/// A bound loopback listener and the port it holds.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

impl Loopback {
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Binds the first free port of `ports`, in order (port 0 asks the OS for any free port).
pub async fn bind(ports: &[u16]) -> Result<Loopback, LoopbackError> {
    let mut last_reason = String::from("no port to try");
    for &port in ports {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => {
                let port = listener.local_addr().map(|a| a.port()).map_err(|e| {
                    LoopbackError::PortBusy {
                        ports: vec![port],
                        reason: e.to_string(),
                    }
                })?;
                return Ok(Loopback { listener, port });
            }
            Err(error) => {
                tracing::info!(port, %error, "loopback port unavailable; trying the next");
                last_reason = error.to_string();
            }
        }
    }
    Err(LoopbackError::PortBusy {
        ports: ports.to_vec(),
        reason: last_reason,
    })
}

/// The page the browser shows after the redirect; `ok` picks the wording.
pub fn result_page(ok: bool, message: &str) -> String {
    let title = if ok { "Signed in" } else { "Sign-in failed" };
    let escaped: String = message
        .chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            other => other.to_string(),
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} - Agent Shell</title></head>\
         <body style=\"font-family:sans-serif;max-width:36em;margin:4em auto;color:#1b2430\">\
         <h1>{title}</h1><p>{escaped}</p><p>You can close this tab and return to Agent Shell.</p></body></html>"
    )
}

/// What the handler decided about one callback request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The pending sign-in is finished (signed in, or failed for good): answer and stop.
    Done(Result<String, String>),
    /// The request did not belong to the pending sign-in: answer with the message and keep
    /// listening for the real redirect.
    KeepWaiting(String),
}

/// A parsed request head: only what the listener checks.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub host: Option<String>,
}

/// Parses what a browser (or anything else on this machine) sent the loopback listener, up to
/// the blank line; `None` for anything that is not a plain HTTP/1.x request head. Public for
/// the fuzz target.
pub fn parse_head(raw: &[u8]) -> Option<RequestHead> {
    let head = std::str::from_utf8(raw).ok()?;
    let mut lines = head.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let host = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_string());
    Some(RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        host,
    })
}

/// Reads a request head (up to the blank line), within the size limit and the deadline.
async fn read_head(stream: &mut TcpStream, deadline: Duration) -> Option<RequestHead> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                buffer.truncate(end);
                return Some(());
            }
            if buffer.len() >= MAX_REQUEST_BYTES {
                return None;
            }
        }
    };
    tokio::time::timeout(deadline, read).await.ok()??;
    parse_head(&buffer)
}

/// The path of a request target, without its query.
fn target_path(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The answer the connection task sends back for a callback request.
struct Answer {
    status: &'static str,
    body: String,
}

type Handover = (String, oneshot::Sender<Answer>);

/// Reads one connection once a reading slot is free; callback requests go to the serving loop,
/// everything else is answered here without it.
async fn connection(
    mut stream: TcpStream,
    port: u16,
    handover: mpsc::Sender<Handover>,
    reading: Arc<Semaphore>,
    limits: Limits,
) {
    // Queued in order behind the connections being read (the semaphore is fair).
    let slot = match tokio::time::timeout(limits.queue_wait, reading.acquire_owned()).await {
        Ok(Ok(slot)) => slot,
        _ => {
            respond(&mut stream, "503 Service Unavailable", "busy").await;
            return;
        }
    };
    let head = read_head(&mut stream, limits.read_timeout).await;
    drop(slot);
    let Some(head) = head else {
        respond(&mut stream, "400 Bad Request", "bad request").await;
        return;
    };
    let expected_host = format!("127.0.0.1:{port}");
    if head.host.as_deref() != Some(expected_host.as_str()) {
        respond(&mut stream, "400 Bad Request", "wrong host").await;
        return;
    }
    if head.method != "GET" || target_path(&head.target) != REDIRECT_PATH {
        respond(&mut stream, "404 Not Found", "not found").await;
        return;
    }
    let (answer_tx, answer_rx) = oneshot::channel();
    if handover.send((head.target, answer_tx)).await.is_err() {
        respond(&mut stream, "410 Gone", "this sign-in has ended").await;
        return;
    }
    match answer_rx.await {
        Ok(answer) => respond(&mut stream, answer.status, &answer.body).await,
        Err(_) => respond(&mut stream, "410 Gone", "this sign-in has ended").await,
    }
}

/// Serves until a callback request finishes the sign-in (`handle` says `Done`), `timeout`
/// passes, or `cancelled` resolves. Requests for other paths get a 404, other hosts a 400, and
/// callbacks that `handle` says are not the pending sign-in's get its neutral page while the
/// listener keeps waiting. The port is released when this returns. Connections are served
/// within [`Limits::DEFAULT`].
pub async fn serve<F, Fut>(
    loopback: Loopback,
    timeout: Duration,
    cancelled: impl Future<Output = ()>,
    handle: F,
) -> Result<(), LoopbackError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Verdict>,
{
    serve_with(loopback, timeout, cancelled, handle, Limits::DEFAULT).await
}

/// [`serve`] within other limits.
pub async fn serve_with<F, Fut>(
    loopback: Loopback,
    timeout: Duration,
    cancelled: impl Future<Output = ()>,
    mut handle: F,
    limits: Limits,
) -> Result<(), LoopbackError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Verdict>,
{
    let Loopback { listener, port } = loopback;
    let (handover_tx, mut handover_rx) = mpsc::channel::<Handover>(8);
    let reading = Arc::new(Semaphore::new(limits.reading.max(1)));
    // Connections open at once (read, queued, or waiting for their answer).
    let open = Arc::new(Semaphore::new(limits.reading.max(1) + limits.queued));
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline, cancelled);
    let mut readers = tokio::task::JoinSet::new();
    let outcome = loop {
        tokio::select! {
            () = &mut deadline => break Err(LoopbackError::TimedOut),
            () = &mut cancelled => break Err(LoopbackError::Cancelled),
            // At the limit nothing is accepted (and nothing dropped): further connections wait
            // in the kernel's backlog until a connection task ends and frees its place.
            accepted = listener.accept(), if open.available_permits() > 0 => {
                let Ok((stream, _)) = accepted else { continue };
                let Ok(place) = open.clone().try_acquire_owned() else { continue };
                let handover = handover_tx.clone();
                let reading = reading.clone();
                readers.spawn(async move {
                    connection(stream, port, handover, reading, limits).await;
                    drop(place);
                });
            }
            Some((target, answer)) = handover_rx.recv() => {
                match handle(target).await {
                    Verdict::Done(result) => {
                        let (status, page) = match result {
                            Ok(message) => ("200 OK", result_page(true, &message)),
                            Err(message) => ("400 Bad Request", result_page(false, &message)),
                        };
                        let _ = answer.send(Answer { status, body: page });
                        break Ok(());
                    }
                    Verdict::KeepWaiting(message) => {
                        let _ = answer.send(Answer {
                            status: "400 Bad Request",
                            body: result_page(false, &message),
                        });
                    }
                }
            }
            // Reap finished connection tasks so the set stays small.
            Some(_) = readers.join_next(), if !readers.is_empty() => {}
        }
    };
    drop(listener);
    drop(handover_tx);
    handover_rx.close();
    // Let the answering connection flush its page; others end on their own time limits.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while readers.join_next().await.is_some() {}
    })
    .await;
    readers.abort_all();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn request(port: u16, raw: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    async fn get(port: u16, target: &str) -> String {
        request(
            port,
            &format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
        )
        .await
    }

    /// A handler that accepts only `state=good`, counting what it was handed.
    fn accept_good(seen: Arc<AtomicUsize>) -> impl FnMut(String) -> std::future::Ready<Verdict> {
        move |target: String| {
            seen.fetch_add(1, Ordering::SeqCst);
            std::future::ready(if target.ends_with("state=good") {
                Verdict::Done(Ok("All set".into()))
            } else {
                Verdict::KeepWaiting("Not the sign-in Agent Shell is waiting for".into())
            })
        }
    }

    fn never() -> std::future::Pending<()> {
        std::future::pending()
    }

    /// A listener on a free port serving [`accept_good`]: its port, the handler's count, the task.
    async fn listening() -> (
        u16,
        Arc<AtomicUsize>,
        tokio::task::JoinHandle<Result<(), LoopbackError>>,
    ) {
        let loopback = bind(&[0]).await.unwrap();
        let port = loopback.port();
        let seen = Arc::new(AtomicUsize::new(0));
        let server = tokio::spawn(serve(
            loopback,
            Duration::from_secs(5),
            never(),
            accept_good(seen.clone()),
        ));
        (port, seen, server)
    }

    #[tokio::test]
    async fn hands_over_the_callback_target_and_answers_the_browser() {
        let (port, seen, server) = listening().await;
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let page = get(port, "/oauth/callback?code=a&state=good").await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(page.contains("You can close this tab"));
        server.await.unwrap().unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).await.is_err(),
            "listener closed once the sign-in finished"
        );
    }

    #[tokio::test]
    async fn a_forged_request_does_not_end_the_listener() {
        // What any web page can make the agent's browser do:
        // <img src="http://127.0.0.1:PORT/oauth/callback?code=x&state=y">
        let (port, seen, server) = listening().await;
        let forged = get(port, "/oauth/callback?code=x&state=forged").await;
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        assert!(forged.contains("Not the sign-in"), "{forged}");
        // Paths that merely start with the callback path are not it.
        let prefix = get(port, "/oauth/callbackXYZ?code=x&state=good").await;
        assert!(prefix.starts_with("HTTP/1.1 404"), "{prefix}");
        assert_eq!(
            seen.load(Ordering::SeqCst),
            1,
            "only the exact path is handed over"
        );
        assert!(!server.is_finished(), "still waiting for the real redirect");
        let real = get(port, "/oauth/callback?code=a&state=good").await;
        assert!(real.starts_with("HTTP/1.1 200 OK"), "{real}");
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_wrong_host_or_method_is_refused_without_reaching_the_handler() {
        let (port, seen, server) = listening().await;
        // DNS rebinding: a page on evil.example resolved to 127.0.0.1.
        let rebound = request(
            port,
            "GET /oauth/callback?code=a&state=good HTTP/1.1\r\nHost: evil.example:80\r\n\r\n",
        )
        .await;
        assert!(rebound.starts_with("HTTP/1.1 400"), "{rebound}");
        let no_host = request(
            port,
            "GET /oauth/callback?code=a&state=good HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
        let post = request(
            port,
            &format!(
                "POST /oauth/callback?code=a&state=good HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            ),
        )
        .await;
        assert!(post.starts_with("HTTP/1.1 404"), "{post}");
        // Exactly the read limit, never a blank line: refused once the limit is reached.
        let oversized = request(port, &"a".repeat(MAX_REQUEST_BYTES)).await;
        assert!(oversized.starts_with("HTTP/1.1 400"), "{oversized}");
        assert_eq!(seen.load(Ordering::SeqCst), 0);
        assert!(!server.is_finished());
        assert!(get(port, "/oauth/callback?state=good")
            .await
            .starts_with("HTTP/1.1 200"));
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn an_idle_connection_does_not_stall_the_browser() {
        let loopback = bind(&[0]).await.unwrap();
        let port = loopback.port();
        let server = tokio::spawn(serve(
            loopback,
            Duration::from_secs(5),
            never(),
            accept_good(Arc::new(AtomicUsize::new(0))),
        ));
        // Connected, says nothing, stays open.
        let _idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let real = tokio::time::timeout(
            Duration::from_secs(2),
            get(port, "/oauth/callback?code=a&state=good"),
        )
        .await
        .expect("answered while another connection is idle");
        assert!(real.starts_with("HTTP/1.1 200 OK"), "{real}");
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn forty_idle_or_slow_connections_do_not_stall_the_browser() {
        let (port, seen, server) = listening().await;
        // Another user on the same host: connections that say nothing, and connections that
        // send half a request head and then nothing more (slowloris).
        let mut held = Vec::new();
        for n in 0..40 {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            if n % 2 == 1 {
                stream
                    .write_all(b"GET /oauth/callback?code=x&state=y HTTP/1.1\r\nHo")
                    .await
                    .unwrap();
            }
            held.push(stream);
        }
        let real = tokio::time::timeout(
            Duration::from_secs(2),
            get(port, "/oauth/callback?code=a&state=good"),
        )
        .await
        .expect("answered while 40 other connections are open");
        assert!(real.starts_with("HTTP/1.1 200 OK"), "{real}");
        server.await.unwrap().unwrap();
        assert_eq!(
            seen.load(Ordering::SeqCst),
            1,
            "no idle one reached the handler"
        );
        drop(held);
    }

    /// Sends a request and reads the whole answer; an error if the connection was reset.
    async fn try_get(port: u16, target: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(
                format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes(),
            )
            .await?;
        let mut out = String::new();
        stream.read_to_string(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn connections_beyond_the_limits_wait_instead_of_being_dropped() {
        let limits = Limits {
            reading: 2,
            queued: 2,
            read_timeout: Duration::from_millis(300),
            queue_wait: Duration::from_secs(10),
        };
        let loopback = bind(&[0]).await.unwrap();
        let port = loopback.port();
        let seen = Arc::new(AtomicUsize::new(0));
        let server = tokio::spawn(serve_with(
            loopback,
            Duration::from_secs(10),
            never(),
            accept_good(seen.clone()),
            limits,
        ));
        // Two being read, two queued, two more in the kernel's backlog: all idle.
        let mut idle = Vec::new();
        for _ in 0..6 {
            idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
        // Three more requests behind them: each is answered in turn, none is reset.
        let forged: Vec<_> = (0..3)
            .map(|_| tokio::spawn(try_get(port, "/oauth/callback?code=x&state=forged")))
            .collect();
        for request in forged {
            let page = tokio::time::timeout(Duration::from_secs(5), request)
                .await
                .expect("answered once the idle connections timed out")
                .unwrap()
                .expect("queued, not dropped");
            assert!(page.starts_with("HTTP/1.1 400"), "{page}");
            assert!(page.contains("Not the sign-in"), "{page}");
        }
        // The idle ones were answered and closed at their deadline.
        for mut stream in idle {
            let mut out = String::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut out))
                .await
                .expect("closed at the read deadline");
            assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
        }
        let real = try_get(port, "/oauth/callback?code=a&state=good")
            .await
            .unwrap();
        assert!(real.starts_with("HTTP/1.1 200 OK"), "{real}");
        server.await.unwrap().unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn cancelling_releases_the_port_at_once() {
        let loopback = bind(&[0]).await.unwrap();
        let port = loopback.port();
        let (cancel, cancelled) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            loopback,
            Duration::from_secs(60),
            async move {
                let _ = cancelled.await;
            },
            accept_good(Arc::new(AtomicUsize::new(0))),
        ));
        cancel.send(()).unwrap();
        let result = tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("stopped promptly")
            .unwrap();
        assert_eq!(result.unwrap_err().code(), "loopback_cancelled");
        // The port is free again: a new sign-in can bind it.
        let again = bind(&[port]).await.unwrap();
        assert_eq!(again.port(), port);
    }

    #[tokio::test]
    async fn times_out_and_tries_the_next_port_when_one_is_busy() {
        let loopback = bind(&[0]).await.unwrap();
        let port = loopback.port();
        let result = serve(loopback, Duration::from_millis(100), never(), |_t| {
            std::future::ready(Verdict::Done(Ok(String::new())))
        })
        .await;
        assert_eq!(result.unwrap_err().code(), "loopback_timed_out");

        let held = bind(&[port]).await.unwrap();
        let free = bind(&[0]).await.unwrap();
        let free_port = free.port();
        drop(free);
        let next = bind(&[port, free_port]).await.unwrap();
        assert_eq!(next.port(), free_port, "the busy port was skipped");
        drop(next);
        let busy = bind(&[port]).await.unwrap_err();
        assert_eq!(busy.code(), "loopback_port_busy");
        assert!(busy.to_string().contains(&format!("port {port}")), "{busy}");
        drop(held);
    }

    #[test]
    fn result_page_escapes_the_message() {
        assert!(result_page(false, "<script>x</script>").contains("&lt;script&gt;"));
    }

    proptest::proptest! {
        #[test]
        fn request_heads_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let _ = parse_head(&bytes);
        }
    }

    #[test]
    fn request_heads_are_parsed_strictly() {
        let head =
            parse_head(b"GET /oauth/callback?x HTTP/1.1\r\nhOsT:  127.0.0.1:5 \r\nA: b").unwrap();
        assert_eq!(head.host.as_deref(), Some("127.0.0.1:5"));
        assert_eq!(head.target, "/oauth/callback?x");
        assert!(parse_head(b"GET /a HTTP/1.1 extra\r\n").is_none());
        assert!(parse_head(b"GET /a SPDY\r\n").is_none());
        assert!(parse_head(&[0xff, 0xfe]).is_none());
        assert_eq!(target_path("/oauth/callback?a=b"), "/oauth/callback");
    }
}

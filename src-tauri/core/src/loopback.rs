//! The RFC 8252 loopback redirect: a one-shot listener on 127.0.0.1 (never "localhost") at a
//! fixed port, answering the browser with a small page and handing the request target over.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::ErrorCode;

const MAX_REQUEST_BYTES: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum LoopbackError {
    #[error("port {port} on 127.0.0.1 is in use by another program, so the browser cannot hand the sign-in back ({reason})")]
    PortBusy { port: u16, reason: String },
    #[error("no sign-in arrived on the loopback port in time")]
    TimedOut,
}

impl ErrorCode for LoopbackError {
    fn code(&self) -> &'static str {
        match self {
            Self::PortBusy { .. } => "loopback_port_busy",
            Self::TimedOut => "loopback_timed_out",
        }
    }
}

pub async fn bind(port: u16) -> Result<TcpListener, LoopbackError> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| LoopbackError::PortBusy {
            port,
            reason: e.to_string(),
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

/// Reads one request line from a connection; `None` for anything that is not a GET.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..n]);
            if buffer.windows(4).any(|w| w == b"\r\n\r\n") || buffer.len() >= MAX_REQUEST_BYTES {
                return Some(());
            }
        }
    };
    tokio::time::timeout(READ_TIMEOUT, read).await.ok()??;
    let head = String::from_utf8_lossy(&buffer);
    let line = head.lines().next()?;
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("GET"), Some(target), Some(version)) if version.starts_with("HTTP/1.") => {
            Some(target.to_string())
        }
        _ => None,
    }
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

/// Serves until the first request for the callback path arrives (other paths such as
/// /favicon.ico get a 404), then lets `handle` decide the outcome and shows it in the browser.
pub async fn serve_once<F, Fut>(
    listener: TcpListener,
    timeout: Duration,
    handle: F,
) -> Result<(), LoopbackError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let wait = async {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            match read_target(&mut stream).await {
                Some(target) if target.starts_with(crate::config::REDIRECT_PATH) => {
                    return (stream, target);
                }
                _ => respond(&mut stream, "404 Not Found", "not found").await,
            }
        }
    };
    let (mut stream, target) = tokio::time::timeout(timeout, wait)
        .await
        .map_err(|_| LoopbackError::TimedOut)?;
    drop(listener);
    match handle(target).await {
        Ok(message) => respond(&mut stream, "200 OK", &result_page(true, &message)).await,
        Err(message) => {
            respond(
                &mut stream,
                "400 Bad Request",
                &result_page(false, &message),
            )
            .await
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(port: u16, target: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn hands_over_the_callback_target_once_and_answers_the_browser() {
        let listener = bind(0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(serve_once(
            listener,
            Duration::from_secs(5),
            |target| async move {
                assert_eq!(target, "/oauth/callback?code=a&state=b");
                Ok::<_, String>("All set".to_string())
            },
        ));
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let page = get(port, "/oauth/callback?code=a&state=b").await;
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(page.contains("You can close this tab"));
        server.await.unwrap().unwrap();
        assert!(
            TcpStream::connect(("127.0.0.1", port)).await.is_err(),
            "listener closed after one use"
        );
    }

    #[tokio::test]
    async fn times_out_and_reports_a_busy_port() {
        let listener = bind(0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let result = serve_once(listener, Duration::from_millis(100), |_t| async {
            Ok::<_, String>(String::new())
        })
        .await;
        assert_eq!(result.unwrap_err().code(), "loopback_timed_out");
        let _held = bind(port).await.unwrap();
        assert_eq!(bind(port).await.unwrap_err().code(), "loopback_port_busy");
    }

    #[test]
    fn result_page_escapes_the_message() {
        assert!(result_page(false, "<script>x</script>").contains("&lt;script&gt;"));
    }
}

//! The webview's page as WebDriver sees it: the client iframe, and an origin it must never reach.

use fantoccini::Locator;

use super::app::E2eApp;

/// A loopback HTTP server on an origin the CSP does not allow; counts every connection so a
/// test can prove the webview never reached it.
pub struct ForbiddenOrigin {
    pub origin: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl ForbiddenOrigin {
    pub async fn start() -> ForbiddenOrigin {
        use std::sync::atomic::Ordering;
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 9\r\nConnection: close\r\n\r\nforbidden")
                    .await;
            }
        });
        ForbiddenOrigin { origin, hits, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for ForbiddenOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Switches WebDriver into the embedded client's iframe (back out with `enter_parent_frame`).
pub async fn enter_client_frame(app: &E2eApp) {
    let frame = app
        .client
        .find(Locator::Css("#client-frame"))
        .await
        .unwrap();
    frame.enter_frame().await.unwrap();
}

/// The client iframe's `src` attribute, as the page set it.
pub async fn client_frame_src(app: &E2eApp) -> String {
    let src = app
        .client
        .execute(
            "return document.getElementById('client-frame').getAttribute('src');",
            vec![],
        )
        .await
        .unwrap();
    src.as_str().unwrap_or_default().to_string()
}

/// Clicks an element inside the client iframe (a real click: popups need a user gesture).
pub async fn click_in_client(app: &E2eApp, css: &str) {
    enter_client_frame(app).await;
    app.click(css).await;
    app.client.enter_parent_frame().await.unwrap();
}

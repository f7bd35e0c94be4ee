//! The test's own notification daemon on the session bus.

use std::time::Duration;

use super::wait_until;

/// One notification as a desktop's notification daemon receives it.
#[derive(Clone, Debug)]
pub struct ReceivedNotification {
    pub app_name: String,
    pub summary: String,
    pub body: String,
}

/// The test's own notification daemon: it owns org.freedesktop.Notifications on the test's
/// D-Bus session bus (there is no desktop there) and records every notification, so a test sees
/// exactly what the agent would. Dropping it releases the name.
pub struct NotificationServer {
    received: std::sync::Arc<std::sync::Mutex<Vec<ReceivedNotification>>>,
    _connection: zbus::blocking::Connection,
}

struct NotificationsInterface {
    received: std::sync::Arc<std::sync::Mutex<Vec<ReceivedNotification>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl NotificationsInterface {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: std::collections::HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut received = self.received.lock().unwrap();
        received.push(ReceivedNotification {
            app_name,
            summary,
            body,
        });
        u32::try_from(received.len()).unwrap()
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "agent-shell-tests".into(),
            "agent-shell".into(),
            "1.0".into(),
            "1.2".into(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

impl NotificationServer {
    pub fn start() -> NotificationServer {
        let received = std::sync::Arc::default();
        let connection = zbus::blocking::connection::Builder::session()
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at(
                "/org/freedesktop/Notifications",
                NotificationsInterface {
                    received: std::sync::Arc::clone(&received),
                },
            )
            .unwrap()
            .build()
            .expect("org.freedesktop.Notifications is free on the test's session bus");
        NotificationServer {
            received,
            _connection: connection,
        }
    }

    pub fn received(&self) -> Vec<ReceivedNotification> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (20 s at most) for the first notification.
    pub async fn first(&self) -> ReceivedNotification {
        wait_until(Duration::from_secs(20), "a notification", async || {
            self.received()
                .into_iter()
                .next()
                .ok_or_else(|| "none".to_string())
        })
        .await
    }
}

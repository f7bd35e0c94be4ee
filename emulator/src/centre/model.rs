//! The contact centre's directory: presence definitions, queues with their wrap-up codes, users,
//! stations and each agent's presence, routing status and queue membership. Plain data plus the
//! JSON views in Genesys's model shapes (`OrganizationPresence`, `UserQueue`, `Station`, ...).

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::http::rfc3339;
use crate::users::{user_for, User, DEFAULT_USERNAME};

/// `systemPresence` of the definition that puts an agent on queue.
pub const ON_QUEUE: &str = "On Queue";
/// `systemPresence` an agent starts with.
pub const AVAILABLE: &str = "Available";
/// Genesys's phone type for the browser softphone (`inin_webrtc_softphone`).
pub const WEBRTC_STATION_TYPE: &str = "inin_webrtc_softphone";

/// Routing statuses (`RoutingStatus.status`).
pub const IDLE: &str = "IDLE";
pub const OFF_QUEUE: &str = "OFF_QUEUE";
pub const INTERACTING: &str = "INTERACTING";

/// Genesys's system presences, in the order the org lists them, with emulator ids.
const SYSTEM_PRESENCES: [(&str, &str); 9] = [
    ("e0a1b2c3-0000-4000-8000-000000000001", "Available"),
    ("e0a1b2c3-0000-4000-8000-000000000002", "Away"),
    ("e0a1b2c3-0000-4000-8000-000000000003", "Break"),
    ("e0a1b2c3-0000-4000-8000-000000000004", "Meal"),
    ("e0a1b2c3-0000-4000-8000-000000000005", "Meeting"),
    ("e0a1b2c3-0000-4000-8000-000000000006", "Training"),
    ("e0a1b2c3-0000-4000-8000-000000000007", "Busy"),
    ("e0a1b2c3-0000-4000-8000-000000000008", "On Queue"),
    ("e0a1b2c3-0000-4000-8000-000000000009", "Offline"),
];

pub const ORG_ID: &str = "0a1b2c3d-0000-4000-8000-00000000a001";
pub const ORG_NAME: &str = "Emulated Contact Centre";
/// The default agent's WebRTC station.
pub const DEFAULT_STATION_ID: &str = "5a7e0000-0000-4000-8000-000000000001";

/// An organization presence definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresenceDef {
    pub id: String,
    pub label: String,
    pub system_presence: String,
    pub primary: bool,
}

impl PresenceDef {
    /// `OrganizationPresence`.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.label,
            "languageLabels": { "en_US": self.label },
            "systemPresence": self.system_presence,
            "deactivated": false,
            "primary": self.primary,
        })
    }

    /// `PresenceDefinition` (also the presence event's `presenceDefinition`).
    pub fn reference(&self) -> Value {
        json!({ "id": self.id, "systemPresence": self.system_presence })
    }
}

/// A wrap-up code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapupCode {
    pub id: String,
    pub name: String,
}

impl WrapupCode {
    pub fn view(&self) -> Value {
        json!({ "id": self.id, "name": self.name })
    }
}

/// A routing queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub wrapup_codes: Vec<WrapupCode>,
}

impl Queue {
    /// `Queue` (routing/queues listing).
    pub fn view(&self, member_count: usize) -> Value {
        json!({ "id": self.id, "name": self.name, "memberCount": member_count })
    }
}

/// A directory user (transfer target or agent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirUser {
    pub id: String,
    pub name: String,
    pub email: String,
}

impl DirUser {
    pub fn from_user(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            email: user.email.clone(),
        }
    }

    /// `User`.
    pub fn view(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "email": self.email, "state": "active" })
    }
}

/// One agent's live state.
#[derive(Clone, Debug)]
pub struct Agent {
    pub user: DirUser,
    pub presence_id: String,
    pub presence_modified: SystemTime,
    pub routing_status: &'static str,
    pub routing_start: SystemTime,
    /// (queue id, joined).
    pub queues: Vec<(String, bool)>,
    pub station_id: String,
    /// Whether the demo call for `ring_after_on_queue` was scheduled already.
    pub demo_rung: bool,
}

impl Agent {
    /// `RoutingStatus`.
    pub fn routing_view(&self) -> Value {
        json!({
            "userId": self.user.id,
            "status": self.routing_status,
            "startTime": rfc3339(self.routing_start),
        })
    }

    /// `UserPresence`.
    pub fn presence_view(&self, def: Option<&PresenceDef>) -> Value {
        json!({
            "source": "PURECLOUD",
            "primary": true,
            "presenceDefinition": def.map(PresenceDef::reference),
            "modifiedDate": rfc3339(self.presence_modified),
        })
    }

    /// `UserStations`.
    pub fn stations_view(&self) -> Value {
        let station = json!({
            "id": self.station_id,
            "name": station_name(&self.user),
            "type": WEBRTC_STATION_TYPE,
        });
        json!({
            "associatedStation": station,
            "effectiveStation": station,
            "defaultStation": station,
        })
    }

    /// `Station`.
    pub fn station_view(&self) -> Value {
        json!({
            "id": self.station_id,
            "name": station_name(&self.user),
            "status": "ASSOCIATED",
            "userId": self.user.id,
            "webRtcUserId": self.user.id,
            "type": WEBRTC_STATION_TYPE,
            "webRtcPersistentEnabled": false,
            "webRtcCallAppearances": 1,
        })
    }
}

fn station_name(user: &DirUser) -> String {
    format!("WebRTC - {}", user.name)
}

/// The org's directory and configuration (what the control API scripts).
#[derive(Clone, Debug)]
pub struct Directory {
    pub presences: Vec<PresenceDef>,
    pub queues: Vec<Queue>,
    pub users: Vec<DirUser>,
}

impl Directory {
    /// The default org: system presences, Support / Sales / Billing with wrap-up codes, the
    /// default agent and two colleagues.
    pub fn seed() -> Self {
        let presences = SYSTEM_PRESENCES
            .iter()
            .map(|(id, name)| PresenceDef {
                id: (*id).to_owned(),
                label: (*name).to_owned(),
                system_presence: (*name).to_owned(),
                primary: true,
            })
            .collect();
        let code = |id: &str, name: &str| WrapupCode {
            id: id.to_owned(),
            name: name.to_owned(),
        };
        let queues = vec![
            Queue {
                id: "9e0e0000-0000-4000-8000-000000000001".to_owned(),
                name: "Support".to_owned(),
                wrapup_codes: vec![
                    code("c0de0000-0000-4000-8000-000000000001", "Resolved"),
                    code("c0de0000-0000-4000-8000-000000000002", "Escalated"),
                    code("c0de0000-0000-4000-8000-000000000003", "Call back"),
                ],
            },
            Queue {
                id: "9e0e0000-0000-4000-8000-000000000002".to_owned(),
                name: "Sales".to_owned(),
                wrapup_codes: vec![
                    code("c0de0000-0000-4000-8000-000000000004", "Sale"),
                    code("c0de0000-0000-4000-8000-000000000005", "No sale"),
                ],
            },
            Queue {
                id: "9e0e0000-0000-4000-8000-000000000003".to_owned(),
                name: "Billing".to_owned(),
                wrapup_codes: vec![code(
                    "c0de0000-0000-4000-8000-000000000006",
                    "Billing query",
                )],
            },
        ];
        let users = vec![
            DirUser::from_user(&user_for(DEFAULT_USERNAME)),
            DirUser::from_user(&user_for("sam.supervisor@example.com")),
            DirUser::from_user(&user_for("jordan.lee@example.com")),
        ];
        Self {
            presences,
            queues,
            users,
        }
    }

    pub fn presence(&self, id: &str) -> Option<&PresenceDef> {
        self.presences.iter().find(|p| p.id == id)
    }

    pub fn presence_named(&self, system_presence: &str) -> Option<&PresenceDef> {
        self.presences
            .iter()
            .find(|p| p.system_presence == system_presence && p.primary)
            .or_else(|| {
                self.presences
                    .iter()
                    .find(|p| p.system_presence == system_presence)
            })
    }

    pub fn queue(&self, id: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.id == id)
    }

    pub fn user(&self, id: &str) -> Option<&DirUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// A new agent record for `user`: Available, off queue, member of every queue (joined to
    /// all but the last, so leaving and joining can be tried at once).
    pub fn new_agent(&self, user: DirUser, now: SystemTime) -> Agent {
        let presence_id = self
            .presence_named(AVAILABLE)
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let count = self.queues.len();
        let queues = self
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.id.clone(), count < 2 || i + 1 < count))
            .collect();
        let station_id = if user.email == DEFAULT_USERNAME {
            DEFAULT_STATION_ID.to_owned()
        } else {
            derived_id("5a7e", &user.id)
        };
        Agent {
            user,
            presence_id,
            presence_modified: now,
            routing_status: OFF_QUEUE,
            routing_start: now,
            queues,
            station_id,
            demo_rung: false,
        }
    }
}

/// An id that replaces the first group of `base` with `prefix` (stable per user).
fn derived_id(prefix: &str, base: &str) -> String {
    match base.split_once('-') {
        Some((_, rest)) => format!("{prefix}{:0>4}-{rest}", ""),
        None => base.to_owned(),
    }
}

/// `{entities, pageSize, pageNumber, total, pageCount}` for page `page` (1-based) of `items`.
pub fn page(items: Vec<Value>, page_size: usize, page_number: usize) -> Value {
    let total = items.len();
    let size = page_size.clamp(1, 500);
    let number = page_number.max(1);
    let entities: Vec<Value> = items
        .into_iter()
        .skip((number - 1).saturating_mul(size))
        .take(size)
        .collect();
    json!({
        "entities": entities,
        "pageSize": size,
        "pageNumber": number,
        "total": total,
        "pageCount": total.div_ceil(size),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn seed_has_the_system_presences_and_queues() {
        let d = Directory::seed();
        assert_eq!(d.presences.len(), 9);
        assert!(d.presence_named(ON_QUEUE).is_some());
        assert!(d.presence_named("Offline").is_some());
        assert!(d.queues.iter().all(|q| !q.wrapup_codes.is_empty()));
        assert_eq!(d.users.len(), 3);
        let agent = d.new_agent(d.users[0].clone(), SystemTime::UNIX_EPOCH);
        assert_eq!(agent.station_id, DEFAULT_STATION_ID);
        assert_eq!(agent.queues.iter().filter(|(_, j)| *j).count(), 2);
        let other = d.new_agent(d.users[1].clone(), SystemTime::UNIX_EPOCH);
        assert_eq!(other.station_id.len(), 36);
        assert!(other.station_id.starts_with("5a7e"));
    }

    #[test]
    fn pages_slice_and_count() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let p = page(items.clone(), 2, 3);
        assert_eq!(p["entities"], json!([4]));
        assert_eq!(p["total"], 5);
        assert_eq!(p["pageCount"], 3);
        assert_eq!(page(items, 0, 0)["pageSize"], 1);
    }
}

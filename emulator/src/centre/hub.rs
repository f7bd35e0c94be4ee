//! The contact centre's live state behind one lock, and its event bus. Every change that an
//! agent client can subscribe to is published here, while the lock is held, so events reach
//! the websockets in the order the changes happened.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::calls::{Call, Ref};
use super::model::{Agent, DirUser, Directory, IDLE, INTERACTING, OFF_QUEUE, ON_QUEUE};
use crate::config::EmulatorConfig;
use crate::http::{rfc3339, uuid_v4, ApiError};
use crate::users::User;

/// Channels per user; creating one more closes the oldest (as Genesys does).
pub const MAX_CHANNELS_PER_USER: usize = 20;
/// Calls remembered (ended ones are dropped oldest first beyond this).
const MAX_CALLS: usize = 1_000;

/// Something a websocket must do.
#[derive(Clone, Debug)]
pub enum Event {
    /// A change on `topic` (`v2.users.{id}.presence`, ...).
    Topic { topic: String, body: Value },
    /// The channel was revoked or replaced: close it.
    Close { channel: String },
}

/// Fixed settings of the centre.
#[derive(Clone, Debug)]
pub struct CentreSettings {
    pub heartbeat: Duration,
    pub ring_after_on_queue: Option<Duration>,
    pub cors_origins: Vec<String>,
    pub outbound_connect_delay: Duration,
    pub channel_lifetime: Duration,
}

/// A notification channel.
#[derive(Clone, Debug)]
pub struct Channel {
    pub id: String,
    pub user_id: String,
    pub topics: Vec<String>,
    pub expires: Instant,
    pub expires_wall: SystemTime,
    pub created: u64,
}

/// Everything that changes.
pub struct Floor {
    pub directory: Directory,
    pub agents: HashMap<String, Agent>,
    pub calls: Vec<Call>,
    pub channels: HashMap<String, Channel>,
    next_channel: u64,
    bus: broadcast::Sender<Event>,
}

/// The centre: settings, the floor behind a mutex, the event bus.
pub struct Centre {
    pub settings: CentreSettings,
    floor: Mutex<Floor>,
    bus: broadcast::Sender<Event>,
}

impl Centre {
    pub fn new(config: &EmulatorConfig) -> Self {
        let (bus, _) = broadcast::channel(4096);
        Self {
            settings: CentreSettings {
                heartbeat: config.heartbeat_interval,
                ring_after_on_queue: config.ring_after_on_queue,
                cors_origins: config.api_cors_origins.clone(),
                outbound_connect_delay: config.outbound_connect_delay,
                channel_lifetime: config.channel_lifetime,
            },
            floor: Mutex::new(Floor::new(bus.clone())),
            bus,
        }
    }

    /// Locks the floor (a poisoned lock is taken over, as for the OAuth store).
    pub fn floor(&self) -> MutexGuard<'_, Floor> {
        self.floor.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.bus.subscribe()
    }

    /// Back to the seeded org; every channel is closed.
    pub fn reset(&self) {
        let mut floor = self.floor();
        let ids: Vec<String> = floor.channels.keys().cloned().collect();
        for channel in ids {
            floor.send(Event::Close { channel });
        }
        *floor = Floor::new(self.bus.clone());
    }
}

impl Floor {
    fn new(bus: broadcast::Sender<Event>) -> Self {
        Self {
            directory: Directory::seed(),
            agents: HashMap::new(),
            calls: Vec::new(),
            channels: HashMap::new(),
            next_channel: 0,
            bus,
        }
    }

    fn send(&self, event: Event) {
        // No receiver is fine: nobody listens yet.
        let _ = self.bus.send(event);
    }

    fn publish(&self, topic: String, body: Value) {
        self.send(Event::Topic { topic, body });
    }

    /// The agent record of `user`, created on first use.
    pub fn agent(&mut self, user: &User) -> &mut Agent {
        let directory = &self.directory;
        self.agents.entry(user.id.clone()).or_insert_with(|| {
            let dir_user = directory
                .user(&user.id)
                .cloned()
                .unwrap_or_else(|| DirUser::from_user(user));
            directory.new_agent(dir_user, SystemTime::now())
        })
    }

    /// The agent record of a directory user id, created on first use.
    pub fn agent_by_id(&mut self, user_id: &str) -> Option<&mut Agent> {
        if !self.agents.contains_key(user_id) {
            let user = self.directory.user(user_id)?.clone();
            let agent = self.directory.new_agent(user, SystemTime::now());
            self.agents.insert(user_id.to_owned(), agent);
        }
        self.agents.get_mut(user_id)
    }

    pub fn is_on_queue(&self, user_id: &str) -> bool {
        self.agents.get(user_id).is_some_and(|a| {
            self.directory
                .presence(&a.presence_id)
                .is_some_and(|p| p.system_presence == ON_QUEUE)
        })
    }

    /// Recomputes the routing status of `user_id` and publishes it when it changed.
    pub fn refresh_routing(&mut self, user_id: &str) {
        let on_queue = self.is_on_queue(user_id);
        let busy = self
            .calls
            .iter()
            .any(|c| c.agent_user_id == user_id && c.keeps_agent_interacting());
        let status = match (on_queue, busy) {
            (false, _) => OFF_QUEUE,
            (true, true) => INTERACTING,
            (true, false) => IDLE,
        };
        let Some(agent) = self.agents.get_mut(user_id) else {
            return;
        };
        if agent.routing_status == status {
            return;
        }
        agent.routing_status = status;
        agent.routing_start = SystemTime::now();
        let body = json!({
            "routingStatus": {
                "status": status,
                "startTime": rfc3339(agent.routing_start),
            }
        });
        self.publish(format!("v2.users.{user_id}.routingStatus"), body);
    }

    /// Sets the presence; returns whether the demo call should now be scheduled.
    pub fn set_presence(
        &mut self,
        user_id: &str,
        presence_id: &str,
        demo: bool,
    ) -> Result<bool, ApiError> {
        let def = self
            .directory
            .presence(presence_id)
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "The presence definition '{presence_id}' does not exist."
                ))
            })?;
        let Some(agent) = self.agents.get_mut(user_id) else {
            return Err(ApiError::not_found());
        };
        agent.presence_id = def.id.clone();
        agent.presence_modified = SystemTime::now();
        let schedule_demo = demo && def.system_presence == ON_QUEUE && !agent.demo_rung;
        if schedule_demo {
            agent.demo_rung = true;
        }
        let body = agent.presence_view(Some(&def));
        self.publish(format!("v2.users.{user_id}.presence"), body);
        self.refresh_routing(user_id);
        Ok(schedule_demo)
    }

    /// Publishes a call's state to its agent.
    pub fn publish_call(&self, index: usize) {
        if let Some(call) = self.calls.get(index) {
            self.publish(
                format!("v2.users.{}.conversations.calls", call.agent_user_id),
                call.view(true),
            );
        }
    }

    /// Adds a call, publishes it and refreshes the agent's routing status.
    pub fn add_call(&mut self, call: Call) -> String {
        let id = call.id.clone();
        let user_id = call.agent_user_id.clone();
        if self.calls.len() >= MAX_CALLS {
            if let Some(pos) = self.calls.iter().position(|c| !c.is_active()) {
                self.calls.remove(pos);
            }
        }
        self.calls.push(call);
        self.publish_call(self.calls.len() - 1);
        self.refresh_routing(&user_id);
        id
    }

    /// Runs `change` on the call `id` of `user_id` (any user when `None`), then publishes it
    /// and refreshes the routing status. 404 when there is no such call.
    pub fn with_call<T>(
        &mut self,
        id: &str,
        user_id: Option<&str>,
        change: impl FnOnce(&mut Call, &Directory) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let index = self
            .calls
            .iter()
            .position(|c| c.id == id && user_id.is_none_or(|u| u == c.agent_user_id))
            .ok_or_else(ApiError::not_found)?;
        let directory = &self.directory;
        let call = &mut self.calls[index];
        let out = change(call, directory)?;
        let agent = call.agent_user_id.clone();
        self.publish_call(index);
        self.refresh_routing(&agent);
        Ok(out)
    }

    /// An inbound ACD call to `user_id` (409 unless on queue and idle, or `force`).
    pub fn ring(
        &mut self,
        user_id: &str,
        queue_id: Option<&str>,
        ani: &str,
        caller_name: Option<&str>,
        attributes: BTreeMap<String, String>,
        force: bool,
    ) -> Result<String, ApiError> {
        let agent = self
            .agent_by_id(user_id)
            .ok_or_else(|| ApiError::bad_request(format!("No user '{user_id}' in the directory.")))?
            .clone();
        let queue_id = match queue_id {
            Some(q) => q.to_owned(),
            None => agent
                .queues
                .iter()
                .find(|(_, joined)| *joined)
                .or_else(|| agent.queues.first())
                .map(|(q, _)| q.clone())
                .ok_or_else(|| ApiError::bad_request("The agent is in no queue."))?,
        };
        let queue = self
            .directory
            .queue(&queue_id)
            .ok_or_else(|| ApiError::bad_request(format!("No queue '{queue_id}'.")))?;
        let joined = agent.queues.iter().any(|(q, j)| *q == queue_id && *j);
        let ready = agent.routing_status == IDLE && joined;
        if !force && !ready {
            return Err(ApiError::conflict(format!(
                "The agent is {} and {} queue '{}'; send \"force\": true to ring anyway.",
                agent.routing_status,
                if joined {
                    "has joined"
                } else {
                    "has not joined"
                },
                queue.name
            )));
        }
        let call = Call::inbound(
            Ref {
                id: agent.user.id.clone(),
                name: agent.user.name.clone(),
            },
            Ref {
                id: queue.id.clone(),
                name: queue.name.clone(),
            },
            ani,
            caller_name.unwrap_or("Customer"),
            attributes,
            SystemTime::now(),
        );
        Ok(self.add_call(call))
    }

    /// A new notification channel for `user_id`; closes the oldest beyond the per-user limit.
    pub fn create_channel(&mut self, user_id: &str, lifetime: Duration) -> Channel {
        let mut mine: Vec<(u64, String)> = self
            .channels
            .values()
            .filter(|c| c.user_id == user_id)
            .map(|c| (c.created, c.id.clone()))
            .collect();
        mine.sort();
        while mine.len() >= MAX_CHANNELS_PER_USER {
            let (_, oldest) = mine.remove(0);
            self.close_channel(&oldest);
        }
        self.next_channel += 1;
        let channel = Channel {
            id: uuid_v4(),
            user_id: user_id.to_owned(),
            topics: Vec::new(),
            expires: Instant::now() + lifetime,
            expires_wall: SystemTime::now() + lifetime,
            created: self.next_channel,
        };
        self.channels.insert(channel.id.clone(), channel.clone());
        channel
    }

    /// Forgets a channel and tells its websocket to close. Returns whether it existed.
    pub fn close_channel(&mut self, id: &str) -> bool {
        let existed = self.channels.remove(id).is_some();
        if existed {
            self.send(Event::Close {
                channel: id.to_owned(),
            });
        }
        existed
    }

    /// A live channel (expired ones are closed on the way).
    pub fn live_channel(&mut self, id: &str) -> Option<&mut Channel> {
        if self
            .channels
            .get(id)
            .is_some_and(|c| Instant::now() >= c.expires)
        {
            self.close_channel(id);
        }
        self.channels.get_mut(id)
    }

    /// Closes every channel of `user_id` (the user's tokens were revoked).
    pub fn close_channels_of(&mut self, user_id: Option<&str>) -> usize {
        let ids: Vec<String> = self
            .channels
            .values()
            .filter(|c| user_id.is_none_or(|u| u == c.user_id))
            .map(|c| c.id.clone())
            .collect();
        for id in &ids {
            self.close_channel(id);
        }
        ids.len()
    }
}

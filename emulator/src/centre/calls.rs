//! Calls: participants and the agent's state machine (alerting, connected, held, muted,
//! disconnected, wrap-up, terminated), and the `CallConversation` JSON view. Pure logic: no
//! locks, no I/O, so every transition is unit tested here.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::{json, Value};

use crate::http::{rfc3339, uuid_v4, ApiError};

/// A participant's `state`, spelt as Genesys does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PState {
    Alerting,
    Dialing,
    Contacting,
    Connected,
    Disconnected,
    Terminated,
}

impl PState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alerting => "alerting",
            Self::Dialing => "dialing",
            Self::Contacting => "contacting",
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
            Self::Terminated => "terminated",
        }
    }
}

/// `{id, name}` of a user or queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    pub id: String,
    pub name: String,
}

/// A recorded wrap-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapup {
    pub code: String,
    pub name: String,
    pub notes: String,
    pub end_time: SystemTime,
}

#[derive(Clone, Debug)]
pub struct Participant {
    pub id: String,
    pub name: String,
    pub address: String,
    pub purpose: &'static str,
    pub state: PState,
    pub direction: &'static str,
    pub start: SystemTime,
    pub start_alerting: Option<SystemTime>,
    pub connected: Option<SystemTime>,
    pub end: Option<SystemTime>,
    pub start_hold: Option<SystemTime>,
    pub held: bool,
    pub muted: bool,
    pub user: Option<Ref>,
    pub queue: Option<Ref>,
    pub wrapup_required: bool,
    pub wrapup: Option<Wrapup>,
    pub attributes: BTreeMap<String, String>,
    pub disconnect_type: Option<&'static str>,
    pub ani: Option<String>,
}

impl Participant {
    fn new(
        purpose: &'static str,
        name: &str,
        address: &str,
        state: PState,
        now: SystemTime,
    ) -> Self {
        Self {
            id: uuid_v4(),
            name: name.to_owned(),
            address: address.to_owned(),
            purpose,
            state,
            direction: "inbound",
            start: now,
            start_alerting: None,
            connected: (state == PState::Connected).then_some(now),
            end: None,
            start_hold: None,
            held: false,
            muted: false,
            user: None,
            queue: None,
            wrapup_required: false,
            wrapup: None,
            attributes: BTreeMap::new(),
            disconnect_type: None,
            ani: None,
        }
    }

    fn disconnect(&mut self, disconnect_type: &'static str, now: SystemTime) {
        if matches!(self.state, PState::Disconnected | PState::Terminated) {
            return;
        }
        self.state = PState::Disconnected;
        self.disconnect_type = Some(disconnect_type);
        self.end = Some(now);
        self.held = false;
        self.start_hold = None;
    }

    /// `CallMediaParticipant`; in events the wrap-up has no `name` (its event model has none).
    pub fn view(&self, event: bool) -> Value {
        let reference = |r: &Option<Ref>| r.as_ref().map(|r| json!({ "id": r.id, "name": r.name }));
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "address": self.address,
            "startTime": rfc3339(self.start),
            "purpose": self.purpose,
            "state": self.state.as_str(),
            "direction": self.direction,
            "held": self.held,
            "muted": self.muted,
            "wrapupRequired": self.wrapup_required,
            "attributes": self.attributes,
        });
        let extra = [
            (
                "startAlertingTime",
                self.start_alerting.map(|t| json!(rfc3339(t))),
            ),
            ("connectedTime", self.connected.map(|t| json!(rfc3339(t)))),
            ("endTime", self.end.map(|t| json!(rfc3339(t)))),
            ("startHoldTime", self.start_hold.map(|t| json!(rfc3339(t)))),
            ("user", reference(&self.user)),
            ("queue", reference(&self.queue)),
            ("disconnectType", self.disconnect_type.map(|d| json!(d))),
            ("ani", self.ani.as_ref().map(|a| json!(a))),
            (
                "wrapup",
                self.wrapup.as_ref().map(|w| {
                    let mut wrapup = json!({
                        "code": w.code,
                        "notes": w.notes,
                        "endTime": rfc3339(w.end_time),
                    });
                    if !event {
                        wrapup["name"] = json!(w.name);
                    }
                    wrapup
                }),
            ),
        ];
        for (key, value) in extra {
            if let Some(value) = value {
                v[key] = value;
            }
        }
        if event && self.start_alerting.is_some() {
            // The event model has no startAlertingTime.
            if let Some(map) = v.as_object_mut() {
                map.remove("startAlertingTime");
            }
        }
        v
    }
}

/// Where a blind transfer sent the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferTarget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub name: String,
}

/// One call, seen from one agent.
#[derive(Clone, Debug)]
pub struct Call {
    pub id: String,
    /// The user whose call this is (who gets its events).
    pub agent_user_id: String,
    pub agent_participant: String,
    pub queue: Option<Ref>,
    pub participants: Vec<Participant>,
    /// (participant id, digits) in the order sent.
    pub digits: Vec<(String, String)>,
    pub transfer: Option<TransferTarget>,
    pub declined: bool,
}

/// What a `MediaParticipantRequest` changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParticipantChange {
    pub state: Option<String>,
    pub muted: Option<bool>,
    pub held: Option<bool>,
    /// (code, notes).
    pub wrapup: Option<(String, String)>,
}

impl Call {
    /// An inbound ACD call ringing `agent` from `queue`.
    pub fn inbound(
        agent: Ref,
        queue: Ref,
        ani: &str,
        caller_name: &str,
        attributes: BTreeMap<String, String>,
        now: SystemTime,
    ) -> Self {
        let address = tel(ani);
        let mut customer =
            Participant::new("customer", caller_name, &address, PState::Connected, now);
        customer.ani = Some(address.clone());
        customer.attributes = attributes.clone();
        let mut acd = Participant::new("acd", &queue.name, &address, PState::Connected, now);
        acd.queue = Some(queue.clone());
        acd.attributes = attributes.clone();
        let mut agent_p = Participant::new("agent", &agent.name, &address, PState::Alerting, now);
        agent_p.start_alerting = Some(now);
        agent_p.user = Some(agent.clone());
        agent_p.queue = Some(queue.clone());
        agent_p.attributes = attributes;
        agent_p.ani = Some(address);
        Self {
            id: uuid_v4(),
            agent_user_id: agent.id,
            agent_participant: agent_p.id.clone(),
            queue: Some(queue),
            participants: vec![customer, acd, agent_p],
            digits: Vec::new(),
            transfer: None,
            declined: false,
        }
    }

    /// An outbound call from `agent` to `number`: agent dialing, customer contacting.
    pub fn outbound(agent: Ref, number: &str, now: SystemTime) -> Self {
        let address = tel(number);
        let mut agent_p = Participant::new("agent", &agent.name, &address, PState::Dialing, now);
        agent_p.direction = "outbound";
        agent_p.user = Some(agent.clone());
        let mut customer = Participant::new("customer", number, &address, PState::Contacting, now);
        customer.direction = "outbound";
        Self {
            id: uuid_v4(),
            agent_user_id: agent.id,
            agent_participant: agent_p.id.clone(),
            queue: None,
            participants: vec![agent_p, customer],
            digits: Vec::new(),
            transfer: None,
            declined: false,
        }
    }

    pub fn agent(&self) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.id == self.agent_participant)
    }

    fn agent_mut(&mut self) -> Result<&mut Participant, ApiError> {
        let id = self.agent_participant.clone();
        self.participants
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(ApiError::not_found)
    }

    /// Whether the call still needs the agent: ringing, talking, or waiting for wrap-up.
    pub fn is_active(&self) -> bool {
        self.agent().is_some_and(|a| match a.state {
            PState::Alerting | PState::Dialing | PState::Contacting | PState::Connected => true,
            PState::Disconnected => a.wrapup_required && a.wrapup.is_none(),
            PState::Terminated => false,
        })
    }

    /// Whether this is an ACD call that keeps the agent INTERACTING.
    pub fn keeps_agent_interacting(&self) -> bool {
        self.queue.is_some() && self.is_active()
    }

    /// The phase shown by the control API.
    pub fn phase(&self) -> &'static str {
        match self.agent().map(|a| a.state) {
            Some(PState::Alerting | PState::Dialing | PState::Contacting) => "ringing",
            Some(PState::Connected) => "connected",
            Some(PState::Disconnected) if self.is_active() => "wrapup",
            _ => "ended",
        }
    }

    /// `CallConversation`.
    pub fn view(&self, event: bool) -> Value {
        let participants: Vec<Value> = self.participants.iter().map(|p| p.view(event)).collect();
        json!({ "id": self.id, "participants": participants })
    }

    /// Applies a `MediaParticipantRequest` to the agent's participant. `codes` are the wrap-up
    /// codes allowed on this call.
    pub fn change_agent(
        &mut self,
        change: &ParticipantChange,
        codes: &[(String, String)],
        now: SystemTime,
    ) -> Result<(), ApiError> {
        let is_acd = self.queue.is_some();
        let mut connected_now = false;
        let mut ended_now = false;
        {
            let agent = self.agent_mut()?;
            match change.state.as_deref() {
                None => {}
                Some("connected") => match agent.state {
                    PState::Alerting => {
                        agent.state = PState::Connected;
                        agent.connected = Some(now);
                        connected_now = true;
                    }
                    PState::Connected => {}
                    _ => return Err(state_error(agent.state, "connected")),
                },
                Some("disconnected") => match agent.state {
                    PState::Alerting => {
                        agent.disconnect("client", now);
                        agent.wrapup_required = false;
                        ended_now = true;
                    }
                    PState::Connected | PState::Dialing | PState::Contacting => {
                        agent.disconnect("client", now);
                        agent.wrapup_required = is_acd;
                        ended_now = true;
                    }
                    PState::Disconnected => {}
                    PState::Terminated => return Err(state_error(agent.state, "disconnected")),
                },
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "The participant state '{other}' cannot be requested; use connected or disconnected."
                    )))
                }
            }
            if let Some(held) = change.held {
                if agent.state != PState::Connected {
                    return Err(state_error(agent.state, "held"));
                }
                if held != agent.held {
                    agent.held = held;
                    agent.start_hold = held.then_some(now);
                }
            }
            if let Some(muted) = change.muted {
                if agent.state != PState::Connected {
                    return Err(state_error(agent.state, "muted"));
                }
                agent.muted = muted;
            }
            if let Some((code, notes)) = &change.wrapup {
                if agent.state != PState::Disconnected || !agent.wrapup_required {
                    return Err(ApiError::bad_request(
                        "Wrap-up can only be set on a disconnected participant that requires it.",
                    ));
                }
                let Some((_, name)) = codes.iter().find(|(id, _)| id == code) else {
                    return Err(ApiError::bad_request(format!(
                        "The wrap-up code '{code}' is not valid for this conversation."
                    )));
                };
                agent.wrapup = Some(Wrapup {
                    code: code.clone(),
                    name: name.clone(),
                    notes: notes.clone(),
                    end_time: now,
                });
                agent.wrapup_required = false;
                agent.state = PState::Terminated;
            }
        }
        if connected_now {
            for p in &mut self.participants {
                if p.purpose == "acd" {
                    p.disconnect("transfer", now);
                }
            }
        }
        if ended_now {
            let declined =
                self.agent().is_some_and(|a| a.connected.is_none()) && self.queue.is_some();
            self.declined = declined;
            if !declined {
                for p in &mut self.participants {
                    if p.purpose == "customer" {
                        p.disconnect("peer", now);
                    }
                }
            }
        }
        Ok(())
    }

    /// The far end answers an outbound call.
    pub fn far_end_answers(&mut self, now: SystemTime) -> bool {
        let mut changed = false;
        for p in &mut self.participants {
            if matches!(p.state, PState::Dialing | PState::Contacting) {
                p.state = PState::Connected;
                p.connected = Some(now);
                changed = true;
            }
        }
        changed
    }

    /// The caller hangs up. Returns false when the call had already ended.
    pub fn caller_hangs_up(&mut self, now: SystemTime) -> bool {
        let Some(agent) = self.agent() else {
            return false;
        };
        if !matches!(
            agent.state,
            PState::Alerting | PState::Dialing | PState::Contacting | PState::Connected
        ) {
            return false;
        }
        let was_connected = agent.state == PState::Connected;
        let is_acd = self.queue.is_some();
        for p in &mut self.participants {
            if p.purpose == "agent" {
                if p.id == self.agent_participant {
                    p.disconnect("peer", now);
                    p.wrapup_required = was_connected && is_acd;
                }
            } else {
                p.disconnect("endpoint", now);
            }
        }
        true
    }

    /// Blind transfer: the agent leaves (wrap-up required on ACD calls), the target joins.
    pub fn blind_transfer(
        &mut self,
        target: TransferTarget,
        queue: Option<Ref>,
        now: SystemTime,
    ) -> Result<(), ApiError> {
        let is_acd = self.queue.is_some();
        let address = self
            .participants
            .iter()
            .find(|p| p.purpose == "customer")
            .map(|p| p.address.clone())
            .unwrap_or_default();
        {
            let agent = self.agent_mut()?;
            if agent.state != PState::Connected {
                return Err(state_error(agent.state, "transferred"));
            }
            agent.disconnect("transfer", now);
            agent.wrapup_required = is_acd;
        }
        let joined = match (&target.user_id, &queue, &target.address) {
            (Some(user_id), _, _) => {
                let mut p =
                    Participant::new("agent", &target.name, &address, PState::Alerting, now);
                p.start_alerting = Some(now);
                p.user = Some(Ref {
                    id: user_id.clone(),
                    name: target.name.clone(),
                });
                p
            }
            (None, Some(queue), _) => {
                let mut p = Participant::new("acd", &queue.name, &address, PState::Connected, now);
                p.queue = Some(queue.clone());
                p
            }
            (None, None, address) => {
                let address = address.clone().unwrap_or_default();
                let mut p = Participant::new(
                    "external",
                    &target.name,
                    &tel(&address),
                    PState::Contacting,
                    now,
                );
                p.direction = "outbound";
                p
            }
        };
        self.participants.push(joined);
        self.transfer = Some(target);
        Ok(())
    }
}

fn state_error(state: PState, wanted: &str) -> ApiError {
    ApiError::bad_request(format!(
        "The participant is {} and cannot be {wanted}.",
        state.as_str()
    ))
}

/// `tel:+15551234567` from a number (kept as is when it already has a scheme).
pub fn tel(number: &str) -> String {
    if number.contains(':') {
        number.to_owned()
    } else {
        format!("tel:{number}")
    }
}

/// Whether `digits` is a non-empty DTMF string (0-9, *, #).
pub fn valid_digits(digits: &str) -> bool {
    !digits.is_empty()
        && digits.len() <= 64
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn r(id: &str, name: &str) -> Ref {
        Ref {
            id: id.to_owned(),
            name: name.to_owned(),
        }
    }

    fn ring() -> Call {
        Call::inbound(
            r("u1", "Alex"),
            r("q1", "Support"),
            "+15550001",
            "Pat",
            BTreeMap::new(),
            SystemTime::now(),
        )
    }

    fn state(s: &str) -> ParticipantChange {
        ParticipantChange {
            state: Some(s.to_owned()),
            ..ParticipantChange::default()
        }
    }

    const CODES: &[(String, String)] = &[];

    #[test]
    fn answer_hold_hangup_wrapup() {
        let now = SystemTime::now();
        let codes = vec![("c1".to_owned(), "Resolved".to_owned())];
        let mut call = ring();
        assert_eq!(call.phase(), "ringing");
        assert!(call
            .change_agent(
                &ParticipantChange {
                    held: Some(true),
                    ..Default::default()
                },
                &codes,
                now
            )
            .is_err());
        call.change_agent(&state("connected"), &codes, now).unwrap();
        assert_eq!(call.phase(), "connected");
        assert_eq!(call.participants[1].state, PState::Disconnected);
        call.change_agent(
            &ParticipantChange {
                held: Some(true),
                muted: Some(true),
                ..Default::default()
            },
            &codes,
            now,
        )
        .unwrap();
        assert!(call.agent().unwrap().held && call.agent().unwrap().start_hold.is_some());
        call.change_agent(&state("disconnected"), &codes, now)
            .unwrap();
        let agent = call.agent().unwrap();
        assert!(agent.wrapup_required && !agent.held);
        assert_eq!(agent.disconnect_type, Some("client"));
        assert_eq!(call.phase(), "wrapup");
        assert!(call.keeps_agent_interacting());
        let bad = ParticipantChange {
            wrapup: Some(("nope".to_owned(), String::new())),
            ..Default::default()
        };
        assert!(call.change_agent(&bad, &codes, now).is_err());
        let good = ParticipantChange {
            wrapup: Some(("c1".to_owned(), "ok".to_owned())),
            ..Default::default()
        };
        call.change_agent(&good, &codes, now).unwrap();
        assert_eq!(call.agent().unwrap().state, PState::Terminated);
        assert_eq!(call.phase(), "ended");
        assert!(!call.is_active());
        let view = call.view(false);
        assert_eq!(view["participants"][2]["wrapup"]["name"], "Resolved");
        assert!(call.view(true)["participants"][2]["wrapup"]
            .get("name")
            .is_none());
    }

    #[test]
    fn decline_needs_no_wrapup() {
        let mut call = ring();
        call.change_agent(&state("disconnected"), CODES, SystemTime::now())
            .unwrap();
        assert!(call.declined);
        assert!(!call.is_active());
        assert_eq!(call.participants[0].state, PState::Connected);
    }

    #[test]
    fn caller_hangup_while_ringing_or_talking() {
        let mut call = ring();
        assert!(call.caller_hangs_up(SystemTime::now()));
        assert!(!call.is_active());
        assert!(!call.caller_hangs_up(SystemTime::now()));
        let mut call = ring();
        call.change_agent(&state("connected"), CODES, SystemTime::now())
            .unwrap();
        assert!(call.caller_hangs_up(SystemTime::now()));
        assert_eq!(call.agent().unwrap().disconnect_type, Some("peer"));
        assert_eq!(call.phase(), "wrapup");
    }

    #[test]
    fn blind_transfer_leaves_the_agent_in_wrapup() {
        let mut call = ring();
        let target = TransferTarget {
            user_id: None,
            queue_id: Some("q2".to_owned()),
            address: None,
            name: "Sales".to_owned(),
        };
        assert!(call
            .blind_transfer(target.clone(), Some(r("q2", "Sales")), SystemTime::now())
            .is_err());
        call.change_agent(&state("connected"), CODES, SystemTime::now())
            .unwrap();
        call.blind_transfer(target, Some(r("q2", "Sales")), SystemTime::now())
            .unwrap();
        assert_eq!(call.agent().unwrap().disconnect_type, Some("transfer"));
        assert_eq!(call.phase(), "wrapup");
        assert_eq!(call.participants.last().unwrap().purpose, "acd");
    }

    #[test]
    fn outbound_connects_when_far_end_answers() {
        let mut call = Call::outbound(r("u1", "Alex"), "+15550002", SystemTime::now());
        assert_eq!(call.phase(), "ringing");
        assert!(call.far_end_answers(SystemTime::now()));
        assert_eq!(call.phase(), "connected");
        call.change_agent(&state("disconnected"), CODES, SystemTime::now())
            .unwrap();
        assert!(!call.is_active());
    }

    #[test]
    fn digits_are_dtmf() {
        assert!(valid_digits("0123456789*#"));
        assert!(!valid_digits(""));
        assert!(!valid_digits("12a"));
        assert_eq!(tel("+1555"), "tel:+1555");
        assert_eq!(tel("sip:a@b"), "sip:a@b");
    }
}

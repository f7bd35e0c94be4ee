//! The Genesys Cloud OAuth scopes the agent client needs, and what breaks without each.

/// The Genesys Cloud OAuth scopes the agent client needs, each with what it is for (checked
/// against Genesys's published API definitions; docs/agent-client.md lists the calls).
pub const SCOPE_USES: [(&str, &str); 7] = [
    (
        "users:readonly",
        "read the signed-in agent (users/me) and transfer targets",
    ),
    (
        "presence",
        "read and set the agent's presence, including On Queue",
    ),
    (
        "routing",
        "the agent's queues (join, leave), routing status and wrap-up codes",
    ),
    (
        "conversations",
        "answer, hold, mute, transfer, end and wrap up calls, and place calls",
    ),
    (
        "notifications",
        "live events: incoming calls, presence and routing status",
    ),
    (
        "stations:readonly",
        "the agent's phone (station): where calls ring",
    ),
    ("organization:readonly", "the organization's name"),
];

/// The scopes requested unless the configuration names others (which must include these).
pub const REQUIRED_SCOPES: [&str; 7] = [
    SCOPE_USES[0].0,
    SCOPE_USES[1].0,
    SCOPE_USES[2].0,
    SCOPE_USES[3].0,
    SCOPE_USES[4].0,
    SCOPE_USES[5].0,
    SCOPE_USES[6].0,
];

/// The required scopes that `granted` lacks. Genesys's scope `X` includes `X:readonly`.
pub fn missing_scopes<S: AsRef<str>>(granted: &[S]) -> Vec<String> {
    let has = |scope: &str| granted.iter().any(|g| g.as_ref() == scope);
    REQUIRED_SCOPES
        .iter()
        .filter(|required| {
            let broader = required.strip_suffix(":readonly");
            !has(required) && !broader.is_some_and(has)
        })
        .map(|s| s.to_string())
        .collect()
}

/// What breaks without each scope, in words an admin can act on.
pub fn missing_scope_consequence(missing: &[String]) -> String {
    let uses: Vec<String> = missing
        .iter()
        .filter_map(|m| SCOPE_USES.iter().find(|(scope, _)| scope == m))
        .map(|(scope, use_)| format!("without {scope} the agent client cannot {use_}"))
        .collect();
    if uses.is_empty() {
        "the agent client cannot work".to_string()
    } else {
        uses.join("; ")
    }
}

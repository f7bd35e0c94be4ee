//! Machine policy: what IT sets for every user of a computer, layered under the user's file.
//!
//! Layers, lowest first: built-in defaults < machine policy < user file. A key set by machine
//! policy is **locked**: the user file may not change it (a different value is ignored, with a
//! log line, and `config check` says "managed by your organization"). Where tokens go is
//! policy, not preference: `[endpoints]` may come only from machine policy (or a
//! `[local_emulator]` development setup, which only reaches this machine), so an edited user
//! file can never send the stored refresh token to another server.
//!
//! On Linux the policy is `/etc/agent-shell/policy.toml`, with the same keys as the user file.
//! The Windows registry (`HKLM\SOFTWARE\Policies\AgentShell`, then HKCU) and macOS forced
//! managed preferences (domain `com.agentshell.desktop`) map onto the same keys through
//! the one table of settings ([`table::SETTINGS`]); the `agent-shell-os-calls` crate reads
//! them (thin OS calls), [`values`] maps and checks what it hands over, and [`documents`]
//! renders the ADMX/ADML templates and docs/policy-reference.md from the same table. A policy
//! name this version does not know is ignored and reported, never an error (version skew).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::config::{self, ConfigError, ShellConfig};

pub mod documents;
pub mod table;
pub mod values;

pub use values::{table_from_values, IgnoredName, IgnoredReason};

/// Where Linux reads machine policy.
pub const LINUX_POLICY_PATH: &str = "/etc/agent-shell/policy.toml";

/// Keys (and tables) only machine policy may set: every one decides where a token is sent.
pub const POLICY_ONLY_KEYS: [&str; 3] = ["endpoints", "token_broker", "custom_environment"];

/// Which layer an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Machine policy (the file, registry key or profile named): locked.
    Policy(String),
    /// The user's own file.
    User(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Policy(at) => write!(f, "machine policy ({at}), managed by your organization"),
            Self::User(at) => write!(f, "user file ({at})"),
        }
    }
}

/// A configuration read from its layers, and where each value came from.
#[derive(Debug, Clone)]
pub struct Layered {
    pub config: ShellConfig,
    /// Dotted key -> source, for every key set in a file (the rest are built-in defaults).
    pub sources: BTreeMap<String, Source>,
    /// User-file keys that tried to change a locked value and were ignored.
    pub ignored: Vec<String>,
}

impl Layered {
    /// Keys locked by machine policy.
    pub fn locked(&self) -> Vec<&str> {
        self.sources
            .iter()
            .filter(|(_, source)| matches!(source, Source::Policy(_)))
            .map(|(key, _)| key.as_str())
            .collect()
    }
}

fn leaves(table: &Table, prefix: &str, out: &mut Vec<(String, Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(inner) => leaves(inner, &path, out),
            other => out.push((path, other.clone())),
        }
    }
}

fn set(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else { return };
        current = next;
    }
    current.insert(last.to_string(), value);
}

fn get<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    parts.try_fold(table.get(first)?, |value, part| value.as_table()?.get(part))
}

/// Merges the layers: policy keys override (and lock) the user's; returns the merged table,
/// where every key came from, and the user keys that were ignored. `policies` are the machine
/// policy layers, highest precedence first (e.g. HKLM before HKCU): each key comes from the
/// first layer that sets it.
pub fn merge(
    policies: &[(&Table, &str)],
    user: Option<(&Table, &str)>,
) -> (Table, BTreeMap<String, Source>, Vec<String>) {
    let mut merged = Table::new();
    let mut sources = BTreeMap::new();
    let mut ignored = Vec::new();
    if let Some((table, at)) = user {
        let mut user_leaves = Vec::new();
        leaves(table, "", &mut user_leaves);
        for (key, value) in user_leaves {
            set(&mut merged, &key, value);
            sources.insert(key, Source::User(at.to_string()));
        }
    }
    for (table, at) in policies.iter().rev() {
        let mut policy_leaves = Vec::new();
        leaves(table, "", &mut policy_leaves);
        for (key, value) in policy_leaves {
            let overrides_user = matches!(sources.get(&key), Some(Source::User(_)));
            if overrides_user && get(&merged, &key).is_some_and(|user_value| *user_value != value) {
                tracing::warn!(%key, "a user setting differs from machine policy and is ignored");
                ignored.push(key.clone());
            }
            set(&mut merged, &key, value);
            sources.insert(key, Source::Policy(at.to_string()));
        }
    }
    (merged, sources, ignored)
}

/// One place machine policy was read from, and what it holds.
#[derive(Debug, Clone)]
pub struct PolicyLayer {
    /// The file, registry key or preference domain, as IT knows it.
    pub at: String,
    pub table: Table,
}

/// Machine policy from every place this OS keeps it, highest precedence first.
#[derive(Debug, Clone, Default)]
pub struct MachinePolicy {
    pub layers: Vec<PolicyLayer>,
    /// Every place that was looked at, whether or not it held anything (for "not configured").
    pub searched: Vec<String>,
    /// Names this version does not know (or set twice), ignored: `config check` and doctor
    /// list them.
    pub ignored: Vec<IgnoredName>,
}

impl MachinePolicy {
    /// This machine's policy: the registry (HKLM, then HKCU) on Windows, forced managed
    /// preferences on macOS, then the policy file ([`config::policy_path`]).
    pub fn of_this_machine() -> Result<Self, ConfigError> {
        Self::read(
            config::policy_path().as_deref(),
            agent_shell_os_calls::read(&table::names()),
        )
    }

    /// Builds the layers from what the OS stores handed over and the policy file (if any).
    /// A store that exists but cannot be read, or holds a bad value of a known name, is an
    /// error naming it: running without policy would silently undo what IT set. Unknown names
    /// are ignored and kept in [`MachinePolicy::ignored`].
    pub fn read(
        file: Option<&Path>,
        stores: Result<Vec<StoreReading>, StoreError>,
    ) -> Result<Self, ConfigError> {
        let stores = stores.map_err(|error| ConfigError::Unreadable {
            path: PathBuf::from(&error.store),
            reason: error.reason,
        })?;
        let mut machine = Self::default();
        for reading in stores {
            let (table, ignored) = table_from_values(&reading.store, &reading.values)
                .map_err(|error| error.in_file(Path::new(&reading.store)))?;
            machine.ignored.extend(ignored);
            machine.searched.push(reading.store.clone());
            machine.layers.push(PolicyLayer {
                at: reading.store,
                table,
            });
        }
        if let Some(path) = file {
            machine.searched.push(path.display().to_string());
            if let Some(table) = read_toml(path)? {
                let (table, ignored) = values::normalise_file(&path.display().to_string(), &table);
                // The raw shape's checks (types) of what is left, with the file's name.
                config::check_raw(&table).map_err(|e| e.in_file(path))?;
                machine.ignored.extend(ignored);
                machine.layers.push(PolicyLayer {
                    at: path.display().to_string(),
                    table,
                });
            }
        }
        Ok(machine)
    }
}

/// Reads a TOML file's table (no shape checks: the policy file and the user file differ).
fn read_toml(path: &Path) -> Result<Option<Table>, ConfigError> {
    let text = match config::read_capped(path) {
        Ok(text) => text,
        Err(ConfigError::NotFound { .. }) => return Ok(None),
        Err(other) => return Err(other),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })
}

/// Reads the user's file: unknown keys are errors there, so a typo is never silently ignored.
fn read_table(path: &Path) -> Result<Option<Table>, ConfigError> {
    let Some(table) = read_toml(path)? else {
        return Ok(None);
    };
    // The raw shape's checks (unknown keys, types) with the file's name on the error.
    config::check_raw(&table).map_err(|e| e.in_file(path))?;
    Ok(Some(table))
}

/// Reads machine policy from files only (the policy file and the user file): the CLI's
/// `--config` checks and tests. The app uses [`load`] with [`MachinePolicy::of_this_machine`].
pub fn load_files(
    policy_path: Option<&Path>,
    user: Option<(&Path, config::ConfigOrigin)>,
) -> Result<Option<Layered>, ConfigError> {
    load(&MachinePolicy::read(policy_path, Ok(Vec::new()))?, user)
}

/// Layers machine policy over the user file (if one was located, with how it was named), and
/// validates the merged result. The policy-only rule applies whether or not there is a policy:
/// without one, a user file can never set where tokens go. Errors name the file, registry key
/// or preference domain, and the key that caused them.
pub fn load(
    machine: &MachinePolicy,
    user: Option<(&Path, config::ConfigOrigin)>,
) -> Result<Option<Layered>, ConfigError> {
    let user_table = match user {
        Some((path, origin)) => match read_table(path)? {
            Some(table) => Some(table),
            None => {
                return Err(ConfigError::NotFound {
                    path: path.to_path_buf(),
                    origin,
                })
            }
        },
        None => None,
    };
    if machine.layers.is_empty() && user_table.is_none() {
        return Ok(None);
    }
    let user_at = user
        .map(|(p, _)| p.display().to_string())
        .unwrap_or_default();
    let policies: Vec<(&Table, &str)> = machine
        .layers
        .iter()
        .map(|layer| (&layer.table, layer.at.as_str()))
        .collect();
    let (merged, sources, ignored) = merge(
        &policies,
        user_table.as_ref().map(|t| (t, user_at.as_str())),
    );
    let local_emulator = merged.contains_key("local_emulator");
    for (key, source) in &sources {
        let policy_only = POLICY_ONLY_KEYS
            .iter()
            .any(|name| key == name || key.starts_with(&format!("{name}.")));
        if policy_only && !local_emulator && matches!(source, Source::User(_)) {
            return Err(ConfigError::PolicyOnly {
                key: key.clone(),
                path: PathBuf::from(&user_at),
            });
        }
    }
    let config = config::validate_table(merged).map_err(|error| match error.key() {
        Some(key) => match sources.get(key) {
            Some(Source::Policy(at)) => error.in_file(Path::new(at)),
            Some(Source::User(at)) => error.in_file(Path::new(at)),
            None => error,
        },
        None => error,
    })?;
    Ok(Some(Layered {
        config,
        sources,
        ignored,
    }))
}

pub use agent_shell_os_calls::{StoreError, StoreReading, StoredValue};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn table(text: &str) -> Table {
        toml::from_str(text).unwrap()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn policy_keys_win_and_are_locked_user_keys_fill_the_rest() {
        let policy = table("environment = \"mypurecloud.ie\"\n[sso]\norg = \"acme\"\n");
        let user = table(
            "environment = \"mypurecloud.com\"\nclient_id = \"c\"\n[sso]\nprompt_login = true\n",
        );
        let (merged, sources, ignored) = merge(&[(&policy, "P")], Some((&user, "U")));
        assert_eq!(merged["environment"].as_str(), Some("mypurecloud.ie"));
        assert_eq!(merged["client_id"].as_str(), Some("c"));
        assert_eq!(merged["sso"]["org"].as_str(), Some("acme"));
        assert_eq!(merged["sso"]["prompt_login"].as_bool(), Some(true));
        assert_eq!(ignored, vec!["environment".to_string()]);
        assert_eq!(sources["environment"], Source::Policy("P".into()));
        assert_eq!(sources["sso.prompt_login"], Source::User("U".into()));
    }

    #[test]
    fn an_edited_user_file_cannot_redirect_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let none = dir.path().join("no-policy.toml");
        let user = write(
            dir.path(),
            "user.toml",
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n[endpoints]\ntoken = \"https://evil.example/token\"\n",
        );
        let error = load_files(
            Some(&none),
            Some((&user, config::ConfigOrigin::CommandLine)),
        )
        .unwrap_err();
        assert_eq!(error.code(), "config_policy_only");
        assert!(error.to_string().contains("endpoints.token"), "{error}");
        assert!(error.to_string().contains("user.toml"), "{error}");

        // The same key from machine policy is allowed (a token broker, a reverse proxy).
        let policy = write(
            dir.path(),
            "policy.toml",
            "[endpoints]\ntoken = \"https://broker.example.com/oauth/token\"\n",
        );
        let user = write(
            dir.path(),
            "user2.toml",
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n",
        );
        let layered = load_files(
            Some(&policy),
            Some((&user, config::ConfigOrigin::UserConfigDir)),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            layered.config.endpoints.token.as_str(),
            "https://broker.example.com/oauth/token"
        );
        assert_eq!(layered.locked(), vec!["endpoints.token"]);
    }

    #[test]
    fn only_machine_policy_defines_a_region() {
        let dir = tempfile::tempdir().unwrap();
        let none = dir.path().join("no-policy.toml");
        let user = write(
            dir.path(),
            "user.toml",
            "custom_environment = \"evil.example\"\nclient_id = \"c\"\n",
        );
        let refused = load_files(
            Some(&none),
            Some((&user, config::ConfigOrigin::UserConfigDir)),
        )
        .unwrap_err();
        assert_eq!(refused.code(), "config_policy_only");
        assert!(
            refused.to_string().contains("custom_environment"),
            "{refused}"
        );

        let policy = write(
            dir.path(),
            "policy.toml",
            "custom_environment = \"euc3.pure.cloud\"\n",
        );
        let user = write(dir.path(), "user2.toml", "client_id = \"c\"\n");
        let layered = load_files(
            Some(&policy),
            Some((&user, config::ConfigOrigin::UserConfigDir)),
        )
        .unwrap()
        .unwrap();
        assert_eq!(layered.config.environment_label(), "euc3.pure.cloud");
        assert_eq!(layered.locked(), vec!["custom_environment"]);
    }

    #[test]
    fn policy_alone_configures_a_machine_and_bad_policy_names_its_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let policy = write(
            dir.path(),
            "policy.toml",
            "environment = \"mypurecloud.de\"\nclient_id = \"fleet\"\n",
        );
        let layered = load_files(Some(&policy), None).unwrap().unwrap();
        assert_eq!(layered.config.client_id, "fleet");

        let bad = write(
            dir.path(),
            "bad.toml",
            "environment = \"nowhere.example\"\nclient_id = \"x\"\n",
        );
        let error = load_files(Some(&bad), None).unwrap_err();
        assert_eq!(error.code(), "config_unknown_environment");
        assert!(error.to_string().contains("bad.toml"), "{error}");

        // A name this version does not know (a typo, or a key of a newer version) is ignored
        // and reported, never an error; a wrong type of a known key still is.
        let typo = write(
            dir.path(),
            "typo.toml",
            "enviroment = \"mypurecloud.de\"\nenvironment = \"mypurecloud.de\"\nclient_id = \"c\"\n",
        );
        let machine = MachinePolicy::read(Some(&typo), Ok(Vec::new())).unwrap();
        assert_eq!(machine.ignored.len(), 1);
        assert_eq!(machine.ignored[0].name, "enviroment");
        assert!(machine.ignored[0].at.ends_with("typo.toml"));
        assert_eq!(load(&machine, None).unwrap().unwrap().config.client_id, "c");
        let typed = write(dir.path(), "typed.toml", "client_id = 5\n");
        let error = load_files(Some(&typed), None).unwrap_err();
        assert!(error.to_string().contains("typed.toml"), "{error}");
        assert!(error.to_string().contains("client_id"), "{error}");

        assert!(load_files(Some(&dir.path().join("none.toml")), None)
            .unwrap()
            .is_none());
        // A file named by AGENT_SHELL_CONFIG that is missing says so (not "--config").
        let missing = load_files(
            None,
            Some((
                &dir.path().join("gone.toml"),
                config::ConfigOrigin::EnvironmentVariable,
            )),
        )
        .unwrap_err();
        assert!(
            missing.to_string().contains("AGENT_SHELL_CONFIG"),
            "{missing}"
        );
        // Without any machine policy (other OSes today), a user file still cannot set where
        // tokens go.
        let user = write(
            dir.path(),
            "nopolicy.toml",
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n[endpoints]\ntoken = \"https://evil.example/t\"\n",
        );
        let refused =
            load_files(None, Some((&user, config::ConfigOrigin::UserConfigDir))).unwrap_err();
        assert_eq!(refused.code(), "config_policy_only");
    }

    fn hklm() -> String {
        r"HKLM\SOFTWARE\Policies\AgentShell".to_string()
    }

    #[test]
    fn the_machine_key_wins_over_the_user_key_and_both_lock() {
        let stores = vec![
            StoreReading {
                store: hklm(),
                values: vec![(
                    "Environment".into(),
                    StoredValue::Text("mypurecloud.ie".into()),
                )],
            },
            StoreReading {
                store: r"HKCU\SOFTWARE\Policies\AgentShell".into(),
                values: vec![
                    (
                        "Environment".into(),
                        StoredValue::Text("mypurecloud.de".into()),
                    ),
                    ("ClientId".into(), StoredValue::Text("from-hkcu".into())),
                ],
            },
        ];
        let machine = MachinePolicy::read(None, Ok(stores)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let user = write(
            dir.path(),
            "config.toml",
            "environment = \"mypurecloud.com\"\nclient_id = \"mine\"\n",
        );
        let layered = load(&machine, Some((&user, config::ConfigOrigin::UserConfigDir)))
            .unwrap()
            .unwrap();
        assert_eq!(
            layered.config.endpoints.api.host_str(),
            Some("api.mypurecloud.ie")
        );
        assert_eq!(layered.config.client_id, "from-hkcu");
        assert_eq!(layered.sources["environment"], Source::Policy(hklm()));
        assert_eq!(
            layered.sources["client_id"],
            Source::Policy(r"HKCU\SOFTWARE\Policies\AgentShell".into())
        );
        assert_eq!(layered.ignored, vec!["client_id", "environment"]);
    }

    /// Version skew: a policy of a newer version (or a misspelt name) in a store never stops
    /// the app; it is ignored, and doctor lists it with its store.
    #[test]
    fn an_unknown_store_name_is_harmless_and_reported() {
        let stores = vec![StoreReading {
            store: hklm(),
            values: vec![
                (
                    "environment".into(),
                    StoredValue::Text("mypurecloud.ie".into()),
                ),
                ("ClientId".into(), StoredValue::Text("c".into())),
                ("SomePolicyOfVersion9".into(), StoredValue::Number(1)),
            ],
        }];
        let machine = MachinePolicy::read(None, Ok(stores));
        let check = crate::support::doctor::ignored_policy_names_check(&machine);
        assert_eq!(check.id, "policy.ignored_names");
        assert_eq!(check.status, crate::support::doctor::Status::Warn);
        assert!(check.evidence.contains("SomePolicyOfVersion9"), "{check:?}");
        assert!(check.evidence.contains(&hklm()), "{check:?}");
        let machine = machine.unwrap();
        let layered = load(&machine, None).unwrap().unwrap();
        assert_eq!(layered.config.client_id, "c");
        assert_eq!(layered.locked(), vec!["client_id", "environment"]);

        let clean = MachinePolicy::read(None, Ok(Vec::new()));
        let check = crate::support::doctor::ignored_policy_names_check(&clean);
        assert_eq!(check.status, crate::support::doctor::Status::Pass);
    }

    #[test]
    fn a_bad_store_value_or_an_unreadable_store_names_the_store() {
        let bad = vec![StoreReading {
            store: hklm(),
            values: vec![("SsoPromptLogin".into(), StoredValue::Text("yes".into()))],
        }];
        let error = MachinePolicy::read(None, Ok(bad)).unwrap_err();
        assert_eq!(error.code(), "config_invalid_value");
        assert!(
            error
                .to_string()
                .contains(r"HKLM\SOFTWARE\Policies\AgentShell"),
            "{error}"
        );

        let binary = vec![StoreReading {
            store: "managed preferences com.agentshell.desktop".into(),
            values: vec![(
                "Scopes".into(),
                StoredValue::Unsupported("a dictionary".into()),
            )],
        }];
        let error = MachinePolicy::read(None, Ok(binary)).unwrap_err();
        assert!(error.to_string().contains("managed preferences"), "{error}");

        let denied = Err(StoreError {
            store: hklm(),
            reason: "Access is denied.".into(),
        });
        let error = MachinePolicy::read(None, denied).unwrap_err();
        assert_eq!(error.code(), "config_unreadable");
        assert!(error.to_string().contains("Access is denied"), "{error}");
    }

    #[test]
    fn a_registry_policy_may_name_endpoints_and_the_user_file_still_may_not() {
        let stores = vec![StoreReading {
            store: hklm(),
            values: vec![
                (
                    "Environment".into(),
                    StoredValue::Text("mypurecloud.ie".into()),
                ),
                ("ClientId".into(), StoredValue::Text("c".into())),
                (
                    "TokenEndpoint".into(),
                    StoredValue::Text("https://broker.example.com/oauth/token".into()),
                ),
            ],
        }];
        let machine = MachinePolicy::read(None, Ok(stores)).unwrap();
        let layered = load(&machine, None).unwrap().unwrap();
        assert_eq!(
            layered.config.endpoints.token.as_str(),
            "https://broker.example.com/oauth/token"
        );
        let dir = tempfile::tempdir().unwrap();
        let user = write(
            dir.path(),
            "config.toml",
            "[endpoints]\nauthorize = \"https://evil.example.com/authorize\"\n",
        );
        let refused =
            load(&machine, Some((&user, config::ConfigOrigin::UserConfigDir))).unwrap_err();
        assert_eq!(refused.code(), "config_policy_only");
    }

    #[test]
    fn a_token_broker_is_policy_only_and_becomes_the_token_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let policy = write(
            dir.path(),
            "policy.toml",
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\ntoken_broker = \"https://idp.example.com/agent-broker\"\n",
        );
        let layered = load_files(Some(&policy), None).unwrap().unwrap();
        assert_eq!(
            layered.config.endpoints.token.as_str(),
            "https://idp.example.com/agent-broker/oauth/token"
        );
        assert_eq!(
            layered.config.endpoints.broker.as_ref().map(|u| u.as_str()),
            Some("https://idp.example.com/agent-broker/")
        );
        // Everything else stays on Genesys.
        assert_eq!(
            layered.config.endpoints.authorize.host_str(),
            Some("login.mypurecloud.ie")
        );

        let user = write(
            dir.path(),
            "config.toml",
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\ntoken_broker = \"https://evil.example.com\"\n",
        );
        let refused =
            load_files(None, Some((&user, config::ConfigOrigin::UserConfigDir))).unwrap_err();
        assert_eq!(refused.code(), "config_policy_only");
        assert!(refused.to_string().contains("token_broker"), "{refused}");

        let both = write(
            dir.path(),
            "both.toml",
            "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\ntoken_broker = \"https://b.example.com\"\n[endpoints]\ntoken = \"https://b.example.com/t\"\n",
        );
        assert_eq!(
            load_files(Some(&both), None).unwrap_err().code(),
            "config_conflict"
        );
    }
}

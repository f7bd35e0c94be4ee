//! Maps what a policy store holds onto configuration keys through [`super::table`]: registry
//! values and managed preferences (`(name, value)` pairs from `agent-shell-os-calls`), and
//! the keys of the Linux policy file.
//!
//! The version-skew rule, the same for every store: a name this version does not know (set
//! for a newer version, or misspelt) is ignored, logged as a warning (its name only) and
//! reported ([`IgnoredName`]: `config check`, doctor), never the error screen. A known name
//! with a value of the wrong type or out of range is an error naming the store and the name.
//! Names are compared without regard to ASCII case on every OS.

use toml::{Table, Value};

use super::table::{self, Kind, Setting};
use crate::config::ConfigError;
use agent_shell_os_calls::StoredValue;

/// Why a name in a policy store had no effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoredReason {
    /// Not a policy of this version: set for a newer one, or misspelt.
    Unknown,
    /// The same setting was already set in this store under another spelling (this name).
    Duplicate(&'static str),
}

/// A name in a policy store that was ignored, and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredName {
    /// The registry key, preference domain or policy file.
    pub at: String,
    /// The name as the store spells it (a registry value, a preference key, a dotted file key).
    pub name: String,
    pub reason: IgnoredReason,
}

impl std::fmt::Display for IgnoredName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            IgnoredReason::Unknown => write!(
                f,
                "{} in {}: not a policy of this version (ignored)",
                self.name, self.at
            ),
            IgnoredReason::Duplicate(first) => write!(
                f,
                "{} in {}: the same setting as {first}, which is used (ignored)",
                self.name, self.at
            ),
        }
    }
}

fn ignore(at: &str, name: &str, reason: IgnoredReason) -> IgnoredName {
    tracing::warn!(store = %at, %name, "policy name ignored: not known to this version, or set twice");
    IgnoredName {
        at: at.to_string(),
        name: name.to_string(),
        reason,
    }
}

fn wrong(store: &str, name: &str, value: String, reason: String) -> ConfigError {
    ConfigError::InvalidValue {
        key: format!("{store}\\{name}"),
        value,
        reason,
    }
}

/// The configuration value of one stored policy value, checked against the setting's kind and
/// range. `Err` is the reason it was refused.
pub fn convert(setting: &Setting, stored: &StoredValue) -> Result<Value, String> {
    let expected = || {
        let range = setting.kind.range();
        let range = if range.is_empty() {
            String::new()
        } else {
            format!(": {range}")
        };
        format!(
            "expected {} ({} / plist {}){range} for {}",
            setting.kind.label(),
            setting.kind.registry_kind(),
            setting.kind.plist_type(),
            setting.key
        )
    };
    let number = |n: u64, min: u32, max: u32| {
        if (u64::from(min)..=u64::from(max)).contains(&n) {
            i64::try_from(n).map_err(|_| expected())
        } else {
            Err(format!("must be from {min} to {max} ({})", setting.key))
        }
    };
    let parse = |text: &str, min: u32, max: u32| match text.trim().parse::<u64>() {
        Ok(n) => number(n, min, max),
        Err(_) => Err(expected()),
    };
    match (setting.kind, stored) {
        (Kind::Text { allowed }, StoredValue::Text(text)) => {
            if allowed.is_empty() {
                return Ok(Value::String(text.clone()));
            }
            allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(text.trim()))
                .map(|a| Value::String((*a).to_string()))
                .ok_or_else(|| format!("must be one of {} ({})", allowed.join(", "), setting.key))
        }
        (Kind::Integer { min, max }, StoredValue::Number(n)) => {
            number(*n, min, max).map(Value::Integer)
        }
        // The MSI and GPO Preferences write numbers as text too.
        (Kind::Integer { min, max }, StoredValue::Text(text)) => {
            parse(text, min, max).map(Value::Integer)
        }
        (Kind::Bool, StoredValue::Bool(flag)) => Ok(Value::Boolean(*flag)),
        (Kind::Bool, StoredValue::Number(n @ (0 | 1))) => Ok(Value::Boolean(*n == 1)),
        (Kind::Bool, StoredValue::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" => Ok(Value::Boolean(true)),
            "0" | "false" => Ok(Value::Boolean(false)),
            _ => Err(expected()),
        },
        (Kind::TextList, StoredValue::List(items)) => Ok(Value::Array(
            items.iter().cloned().map(Value::String).collect(),
        )),
        // REG_MULTI_SZ holds numbers as decimal strings; a plist array holds integers.
        (Kind::IntegerList { min, max }, StoredValue::List(items)) => items
            .iter()
            .map(|item| parse(item, min, max).map(Value::Integer))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        (Kind::IntegerList { min, max }, StoredValue::NumberList(items)) => items
            .iter()
            .map(|n| number(*n, min, max).map(Value::Integer))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        _ => Err(expected()),
    }
}

fn shown(stored: &StoredValue) -> String {
    match stored {
        StoredValue::Text(text) => text.clone(),
        StoredValue::Number(n) => n.to_string(),
        StoredValue::Bool(flag) => flag.to_string(),
        StoredValue::List(items) => items.join(", "),
        StoredValue::NumberList(items) => items
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        StoredValue::Unsupported(what) => what.clone(),
    }
}

/// Builds the policy table from the values an OS store holds (`name`, value), so the OS shims
/// stay thin. Unknown names are ignored and returned; a known name with a value of the wrong
/// type or out of range is an error naming the store and the name.
pub fn table_from_values(
    store: &str,
    values: &[(String, StoredValue)],
) -> Result<(Table, Vec<IgnoredName>), ConfigError> {
    let mut table = Table::new();
    let mut ignored = Vec::new();
    let mut seen: Vec<(&'static str, &str)> = Vec::new();
    for (name, stored) in values {
        let Some(setting) = table::by_name(name) else {
            ignored.push(ignore(store, name, IgnoredReason::Unknown));
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(key, _)| *key == setting.key) {
            let first = table::by_name(first).map_or(setting.name, |s| s.name);
            ignored.push(ignore(store, name, IgnoredReason::Duplicate(first)));
            continue;
        }
        seen.push((setting.key, name));
        let value =
            convert(setting, stored).map_err(|reason| wrong(store, name, shown(stored), reason))?;
        super::set(&mut table, setting.key, value);
    }
    Ok((table, ignored))
}

/// The Linux policy file's table with every key put in its canonical spelling, and the keys
/// this version does not know taken out (returned, to be reported). A key whose shape is wrong
/// (a value where a section belongs, or the reverse) stays, so the file's checks name it.
/// `[local_emulator]` (development only, not in the table) is kept as it is.
pub fn normalise_file(at: &str, table: &Table) -> (Table, Vec<IgnoredName>) {
    let mut leaves = Vec::new();
    super::leaves(table, "", &mut leaves);
    let mut out = Table::new();
    let mut ignored = Vec::new();
    let mut seen: Vec<(&'static str, String)> = Vec::new();
    for (path, value) in leaves {
        if path == "local_emulator" || path.starts_with("local_emulator.") {
            super::set(&mut out, &path, value);
            continue;
        }
        if let Some(setting) = table::by_key(&path) {
            if let Some((_, first)) = seen.iter().find(|(key, _)| *key == setting.key) {
                let first = table::by_key(first).map_or(setting.key, |s| s.key);
                ignored.push(ignore(at, &path, IgnoredReason::Duplicate(first)));
                continue;
            }
            seen.push((setting.key, path));
            super::set(&mut out, setting.key, value);
            continue;
        }
        let lower = path.to_ascii_lowercase();
        let misshapen = table::SETTINGS.iter().any(|s| {
            s.key.starts_with(&format!("{lower}.")) || lower.starts_with(&format!("{}.", s.key))
        });
        if misshapen {
            super::set(&mut out, &lower, value);
        } else {
            ignored.push(ignore(at, &path, IgnoredReason::Unknown));
        }
    }
    (out, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::error::ErrorCode;

    fn one(name: &str, stored: StoredValue) -> Result<(Table, Vec<IgnoredName>), ConfigError> {
        table_from_values("HKLM", &[(name.to_string(), stored)])
    }

    #[test]
    fn registry_values_map_onto_the_same_keys() {
        let values = vec![
            (
                "Environment".to_string(),
                StoredValue::Text("mypurecloud.ie".into()),
            ),
            ("CLIENTID".to_string(), StoredValue::Text("c-1".into())),
            ("SsoPromptLogin".to_string(), StoredValue::Number(1)),
            (
                "AllowedLinkHosts".to_string(),
                StoredValue::List(vec!["help.example.com".into()]),
            ),
            (
                "TokenEndpoint".to_string(),
                StoredValue::Text("https://broker.example.com/t".into()),
            ),
            ("refreshmarginsecs".to_string(), StoredValue::Number(300)),
            (
                "LoopbackPorts".to_string(),
                StoredValue::List(vec!["47615".into(), "47616".into()]),
            ),
            ("EmbedAllowPark".to_string(), StoredValue::Bool(true)),
        ];
        let (table, ignored) =
            table_from_values(r"HKLM\SOFTWARE\Policies\AgentShell", &values).unwrap();
        assert!(ignored.is_empty());
        let config = config::validate_table(table).unwrap();
        assert_eq!(config.client_id, "c-1");
        assert!(config.sso.prompt_login);
        assert_eq!(
            config.endpoints.token.as_str(),
            "https://broker.example.com/t"
        );
        assert_eq!(config.refresh.margin.as_secs(), 300);
        assert_eq!(config.redirect.loopback_ports, vec![47615, 47616]);
        assert!(config.embed.allow_park);
    }

    #[test]
    fn unknown_names_are_ignored_and_reported_known_bad_values_are_errors() {
        let (table, ignored) = table_from_values(
            "HKLM",
            &[
                ("Colour".into(), StoredValue::Number(1)),
                ("ClientId".into(), StoredValue::Text("c".into())),
            ],
        )
        .unwrap();
        assert_eq!(table["client_id"].as_str(), Some("c"));
        assert_eq!(
            ignored,
            vec![IgnoredName {
                at: "HKLM".into(),
                name: "Colour".into(),
                reason: IgnoredReason::Unknown
            }]
        );
        assert!(ignored[0].to_string().contains("Colour in HKLM"));

        let wrong = one("SsoPromptLogin", StoredValue::Number(7)).unwrap_err();
        assert_eq!(wrong.code(), "config_invalid_value");
        assert!(
            wrong.to_string().contains(r"HKLM\SsoPromptLogin"),
            "{wrong}"
        );
        let range = one("RefreshMaxAttempts", StoredValue::Number(4)).unwrap_err();
        assert!(range.to_string().contains("from 1 to 3"), "{range}");
        let text = one("EmbedStartTimeoutSecs", StoredValue::Text("90".into())).unwrap();
        assert_eq!(text.0["embed"]["start_timeout_secs"].as_integer(), Some(90));
        let bad_port = one("LoopbackPorts", StoredValue::NumberList(vec![80])).unwrap_err();
        assert!(bad_port.to_string().contains("1024 to 65535"), "{bad_port}");
        let as_text = one("Autostart", StoredValue::Text("1".into())).unwrap();
        assert_eq!(as_text.0["startup"]["autostart"].as_bool(), Some(true));
        assert!(one("Autostart", StoredValue::Text("yes".into())).is_err());
        assert!(one("Scopes", StoredValue::Unsupported("a dictionary".into())).is_err());
        let level = one("LogLevel", StoredValue::Text("Debug".into())).unwrap();
        assert_eq!(level.0["logs"]["level"].as_str(), Some("debug"));
        assert!(one("LogLevel", StoredValue::Text("verbose".into())).is_err());

        // The same setting twice (a plist may spell it two ways): the first is used.
        let (table, ignored) = table_from_values(
            "managed preferences",
            &[
                ("LogLevel".into(), StoredValue::Text("warn".into())),
                ("loglevel".into(), StoredValue::Text("debug".into())),
            ],
        )
        .unwrap();
        assert_eq!(table["logs"]["level"].as_str(), Some("warn"));
        assert_eq!(ignored[0].reason, IgnoredReason::Duplicate("LogLevel"));
    }

    /// A value of each setting's kind, which the file format accepts for its key.
    fn sample(setting: &Setting) -> StoredValue {
        match setting.kind {
            Kind::Text { allowed } if !allowed.is_empty() => StoredValue::Text(allowed[0].into()),
            Kind::Text { .. } if setting.key == "client_id" => StoredValue::Text("c".into()),
            Kind::Text { .. } if setting.key.starts_with("sso.") => {
                StoredValue::Text("acme".into())
            }
            Kind::Text { .. } if setting.key == "redirect.deep_link_scheme" => {
                StoredValue::Text("com.example.shell".into())
            }
            Kind::Text { .. } if setting.key == "crm.interaction_url" => {
                StoredValue::Text("https://crm.example.com/c?i={interactionId}".into())
            }
            Kind::Text { .. } if setting.key == "embed.client_url" => {
                StoredValue::Text("https://api.mypurecloud.ie/page/".into())
            }
            // A listed region is also a valid definition (and agrees with Environment).
            Kind::Text { .. } if setting.key == "custom_environment" => {
                StoredValue::Text("mypurecloud.ie".into())
            }
            Kind::Text { .. } if setting.key == "endpoints.streaming" => {
                StoredValue::Text("wss://proxy.example.com".into())
            }
            Kind::Text { .. } if setting.key.starts_with("endpoints.") => {
                StoredValue::Text("https://proxy.example.com".into())
            }
            Kind::Text { .. } => StoredValue::Text("https://broker.example.com".into()),
            Kind::Integer { .. } => StoredValue::Number(setting.default.parse().unwrap()),
            Kind::Bool => StoredValue::Bool(false),
            Kind::TextList if setting.key == "scopes" => StoredValue::List(
                config::REQUIRED_SCOPES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            Kind::TextList => StoredValue::List(vec!["help.example.com".into()]),
            Kind::IntegerList { min, .. } => StoredValue::NumberList(vec![min.into()]),
        }
    }

    #[test]
    fn every_setting_maps_onto_a_key_the_file_accepts_and_validates() {
        for setting in table::SETTINGS {
            let mut values = vec![
                (
                    "Environment".to_string(),
                    StoredValue::Text("mypurecloud.ie".into()),
                ),
                ("ClientId".to_string(), StoredValue::Text("c".into())),
            ];
            values.retain(|(name, _)| name != setting.name);
            values.push((setting.name.to_string(), sample(setting)));
            let (table, ignored) = table_from_values("T", &values).unwrap();
            assert!(ignored.is_empty(), "{}", setting.name);
            config::check_raw(&table).unwrap_or_else(|e| panic!("{}: {e}", setting.key));
            // (sso.provider needs sso.org too.)
            if setting.key != "sso.provider" {
                config::validate_table(table).unwrap_or_else(|e| panic!("{}: {e}", setting.key));
            }
            // Out of range is refused by the reader and by the file's own validation alike.
            if let Kind::Integer { min, max } = setting.kind {
                let high = one(setting.name, StoredValue::Number(u64::from(max) + 1));
                assert!(high.is_err(), "{}", setting.key);
                let file = format!(
                    "environment = \"mypurecloud.ie\"\nclient_id = \"c\"\n[{}]\n{} = {}\n",
                    setting.key.split('.').next().unwrap_or_default(),
                    setting.key.split('.').nth(1).unwrap_or_default(),
                    u64::from(max) + 1
                );
                assert!(config::parse_str(&file).is_err(), "{}", setting.key);
                if min > 0 {
                    assert!(one(setting.name, StoredValue::Number((min - 1).into())).is_err());
                }
            }
        }
    }

    #[test]
    fn the_policy_file_ignores_unknown_keys_and_ignores_case() {
        let file: Table = toml::from_str(
            "Environment = \"mypurecloud.ie\"\nclient_id = \"c\"\nfuture_key = 1\n[session]\nrefresh_margin_secs = 300\nnew_knob = true\n[SSO]\nOrg = \"acme\"\n[newsection]\nx = 1\n[local_emulator]\nlogin = \"http://127.0.0.1:1\"\n",
        )
        .unwrap();
        let (table, ignored) = normalise_file("/etc/agent-shell/policy.toml", &file);
        let names: Vec<&str> = ignored.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            vec!["future_key", "newsection.x", "session.new_knob"]
        );
        assert_eq!(table["environment"].as_str(), Some("mypurecloud.ie"));
        assert_eq!(table["sso"]["org"].as_str(), Some("acme"));
        assert_eq!(
            table["session"]["refresh_margin_secs"].as_integer(),
            Some(300)
        );
        assert!(table["local_emulator"].get("login").is_some());

        // A known key of the wrong shape stays, so the file's check names it.
        let misshapen: Table = toml::from_str("sso = 1\n[environment]\nx = 1\n").unwrap();
        let (table, ignored) = normalise_file("P", &misshapen);
        assert!(ignored.is_empty());
        assert!(config::check_raw(&table).is_err());
    }
}

//! Will this desktop's default browser ask "Open Agent Shell?" when the sign-in comes back?
//! Chrome, Edge, Chromium and Brave do unless machine policy `AutoLaunchProtocolsFromOrigins`
//! allows the scheme from the login origin; Firefox unless its `Handlers` policy sets the
//! scheme to `ask: false` (or its own `AutoLaunchProtocolsFromOrigins` allows it). The browser's own policy store is read (Linux: the JSON policy
//! files; Windows: the registry, read by the app); where neither the browser nor its policy
//! can be read, the check says so rather than guess.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Check, Status};

/// The browsers whose prompt policy is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chrome,
    Chromium,
    Edge,
    Brave,
    Firefox,
}

impl Browser {
    /// The browser behind a default-handler id: a Linux desktop entry (`google-chrome.desktop`),
    /// a Windows ProgId (`ChromeHTML`, `MSEdgeHTM`, `FirefoxURL-308046B0AF4A39CB`) or a macOS
    /// bundle id (`com.google.chrome`).
    pub fn from_handler(id: &str) -> Option<Self> {
        let id = id.trim().to_ascii_lowercase();
        let id = id.strip_suffix(".desktop").unwrap_or(&id);
        // Longest names first: "chromium" must not read as "chrome", nor "microsoft-edge" as
        // anything else.
        if id.contains("edge") || id.starts_with("msedge") {
            Some(Self::Edge)
        } else if id.contains("brave") {
            Some(Self::Brave)
        } else if id.contains("chromium") {
            Some(Self::Chromium)
        } else if id.contains("chrome") {
            Some(Self::Chrome)
        } else if id.contains("firefox") {
            Some(Self::Firefox)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Chrome => "Google Chrome",
            Self::Chromium => "Chromium",
            Self::Edge => "Microsoft Edge",
            Self::Brave => "Brave",
            Self::Firefox => "Firefox",
        }
    }

    /// The policy that stops the prompt, by its name in the browser's own store (the one the
    /// fix suggests).
    pub fn policy_name(self) -> &'static str {
        match self {
            Self::Firefox => HANDLERS,
            _ => AUTO_LAUNCH,
        }
    }

    /// Every policy that can stop the prompt: Firefox reads Chrome's too.
    pub fn policy_names(self) -> &'static [&'static str] {
        match self {
            Self::Firefox => &[HANDLERS, AUTO_LAUNCH],
            _ => &[AUTO_LAUNCH],
        }
    }

    /// Where the browser reads machine policy on Linux, under `root` (`/` on a desktop): the
    /// Chromium family reads every `*.json` in its managed directory, Firefox one file.
    pub fn linux_policy_places(self, root: &Path) -> Vec<PathBuf> {
        let at = |p: &str| root.join(p);
        match self {
            Self::Chrome => vec![at("etc/opt/chrome/policies/managed")],
            Self::Chromium => vec![at("etc/chromium/policies/managed")],
            Self::Edge => vec![at("etc/opt/edge/policies/managed")],
            Self::Brave => vec![at("etc/brave/policies/managed")],
            Self::Firefox => vec![
                at("etc/firefox/policies/policies.json"),
                at("usr/lib/firefox/distribution/policies.json"),
                at("usr/lib/firefox-esr/distribution/policies.json"),
            ],
        }
    }

    /// The Windows registry key (under HKLM or HKCU) that holds the browser's policies.
    pub fn windows_policy_key(self) -> &'static str {
        match self {
            Self::Chrome => r"SOFTWARE\Policies\Google\Chrome",
            Self::Chromium => r"SOFTWARE\Policies\Chromium",
            Self::Edge => r"SOFTWARE\Policies\Microsoft\Edge",
            Self::Brave => r"SOFTWARE\Policies\BraveSoftware\Brave",
            Self::Firefox => r"SOFTWARE\Policies\Mozilla\Firefox",
        }
    }
}

const AUTO_LAUNCH: &str = "AutoLaunchProtocolsFromOrigins";
const HANDLERS: &str = "Handlers";

/// One value of a prompt policy as a store holds it: which policy, where, and its JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyValue {
    /// One of [`Browser::policy_names`].
    pub name: &'static str,
    pub at: String,
    pub value: Result<Value, String>,
}

impl PolicyValue {
    /// A registry string value, which holds the policy as JSON text.
    pub fn from_json_text(name: &'static str, at: String, text: &str) -> Self {
        Self {
            name,
            at,
            value: serde_json::from_str(text).map_err(|e| format!("not JSON: {e}")),
        }
    }
}

/// The browser's prompt policy from its Linux policy files under `root`: every file that sets
/// it (an unreadable or malformed file is reported, never skipped in silence).
pub fn linux_policy_values(browser: Browser, root: &Path) -> Vec<PolicyValue> {
    let mut files = Vec::new();
    for place in browser.linux_policy_places(root) {
        if place.extension().is_some_and(|e| e == "json") {
            files.push(place);
        } else if let Ok(entries) = std::fs::read_dir(&place) {
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            found.sort();
            files.extend(found);
        }
    }
    let mut values = Vec::new();
    for file in files {
        let at = file.display().to_string();
        let broken = |reason: String| PolicyValue {
            name: browser.policy_name(),
            at: at.clone(),
            value: Err(reason),
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                values.push(broken(error.to_string()));
                continue;
            }
        };
        let document: Value = match serde_json::from_str(&text) {
            Ok(document) => document,
            Err(error) => {
                values.push(broken(format!("not JSON: {error}")));
                continue;
            }
        };
        // Firefox nests its policies under "policies"; Chromium's files are flat.
        let policies = match browser {
            Browser::Firefox => document.get("policies"),
            _ => Some(&document),
        };
        for &name in browser.policy_names() {
            if let Some(value) = policies.and_then(|p| p.get(name)) {
                values.push(PolicyValue {
                    name,
                    at: at.clone(),
                    value: Ok(value.clone()),
                });
            }
        }
    }
    values
}

/// What the policy values say for this scheme and login origin.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Allowed {
        name: &'static str,
        at: String,
    },
    NotAllowed,
    Unreadable {
        name: &'static str,
        at: String,
        reason: String,
    },
}

fn verdict(values: &[PolicyValue], scheme: &str, origin: &str) -> Verdict {
    for policy in values {
        let value = match &policy.value {
            Ok(value) => value,
            Err(reason) => {
                return Verdict::Unreadable {
                    name: policy.name,
                    at: policy.at.clone(),
                    reason: reason.clone(),
                }
            }
        };
        let allowed = match policy.name {
            HANDLERS => firefox_allows(value, scheme),
            _ => chromium_allows(value, scheme, origin),
        };
        match allowed {
            Ok(true) => {
                return Verdict::Allowed {
                    name: policy.name,
                    at: policy.at.clone(),
                }
            }
            Ok(false) => {}
            Err(reason) => {
                return Verdict::Unreadable {
                    name: policy.name,
                    at: policy.at.clone(),
                    reason,
                }
            }
        }
    }
    Verdict::NotAllowed
}

/// `[{"protocol": "SCHEME", "allowed_origins": ["https://login.ENV" | "*"]}]`. Chrome matches
/// the protocol without regard to case, and an origin exactly (or `*`).
fn chromium_allows(value: &Value, scheme: &str, origin: &str) -> Result<bool, String> {
    // In the registry and some MDM payloads the list arrives as JSON text.
    if let Value::String(text) = value {
        let inner: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        return chromium_allows(&inner, scheme, origin);
    }
    let entries = value
        .as_array()
        .ok_or("AutoLaunchProtocolsFromOrigins is not a list")?;
    Ok(entries.iter().any(|entry| {
        let protocol = entry.get("protocol").and_then(Value::as_str);
        let origins = entry.get("allowed_origins").and_then(Value::as_array);
        protocol.is_some_and(|p| p.eq_ignore_ascii_case(scheme))
            && origins.is_some_and(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
            })
    }))
}

/// `{"schemes": {"SCHEME": {"action": "useSystemDefault", "ask": false}}}`.
fn firefox_allows(value: &Value, scheme: &str) -> Result<bool, String> {
    if let Value::String(text) = value {
        let inner: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        return firefox_allows(&inner, scheme);
    }
    let schemes = value
        .get("schemes")
        .and_then(Value::as_object)
        .ok_or("Handlers has no \"schemes\" object")?;
    Ok(schemes
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(scheme))
        .is_some_and(|(_, handler)| {
            handler.get("ask").and_then(Value::as_bool) == Some(false)
                && handler.get("action").and_then(Value::as_str) != Some("alwaysAsk")
        }))
}

/// What the check is given: how sign-in comes back, and what was read of the browser.
#[derive(Debug, Clone)]
pub struct PromptFacts {
    pub scheme: String,
    /// The origin of the page that sends the agent to the scheme (the authorize endpoint's).
    pub login_origin: String,
    /// The loopback redirect is preferred: the browser opens no app.
    pub loopback: bool,
    /// The default browser's handler id, when it could be read.
    pub default_handler: Option<String>,
    /// That browser's prompt policy values (empty: none set).
    pub policies: Vec<PolicyValue>,
}

/// `browser.scheme_prompt`: a warning when the default browser will ask at every sign-in.
pub fn scheme_prompt_check(facts: &PromptFacts) -> Check {
    let check = |status, evidence: String, fix: Option<String>| Check {
        id: "browser.scheme_prompt",
        status,
        evidence,
        fix,
    };
    if facts.loopback {
        return check(
            Status::Pass,
            "sign-in returns by the loopback redirect: the browser opens no app, so it asks nothing"
                .into(),
            None,
        );
    }
    let Some(handler) = &facts.default_handler else {
        return check(
            Status::Pass,
            "the default browser could not be read here; its prompt policy was not checked".into(),
            None,
        );
    };
    let Some(browser) = Browser::from_handler(handler) else {
        return check(
            Status::Pass,
            format!(
                "the default browser ({handler}) is not Chrome, Edge, Chromium, Brave or Firefox; its prompt policy was not checked"
            ),
            None,
        );
    };
    let (scheme, origin) = (&facts.scheme, &facts.login_origin);
    let fix = match browser {
        Browser::Firefox => format!(
            "set Firefox's Handlers policy: {{\"schemes\": {{\"{scheme}\": {{\"action\": \"useSystemDefault\", \"ask\": false}}}}}} (docs/deployment.md, section 9)"
        ),
        _ => format!(
            "set {}'s AutoLaunchProtocolsFromOrigins policy: [{{\"protocol\": \"{scheme}\", \"allowed_origins\": [\"{origin}\"]}}] (docs/deployment.md, section 9)",
            browser.name()
        ),
    };
    match verdict(&facts.policies, scheme, origin) {
        Verdict::Allowed { name, at } => check(
            Status::Pass,
            format!(
                "{} ({handler}) opens {scheme}: links without asking: {name} in {at}",
                browser.name(),
            ),
            None,
        ),
        Verdict::NotAllowed => check(
            Status::Warn,
            format!(
                "{} ({handler}) will ask \"Open Agent Shell?\" at every sign-in: no {} policy allows {scheme}: from {origin}",
                browser.name(),
                browser.policy_names().join(" or ")
            ),
            Some(fix),
        ),
        Verdict::Unreadable { name, at, reason } => check(
            Status::Warn,
            format!(
                "{}'s {name} policy in {at} cannot be read ({reason}): the browser ignores it and will ask at every sign-in",
                browser.name(),
            ),
            Some(fix),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SCHEME: &str = "com.agentshell.desktop";
    const LOGIN: &str = "https://login.mypurecloud.ie";

    fn facts(handler: Option<&str>, policies: Vec<PolicyValue>) -> PromptFacts {
        PromptFacts {
            scheme: SCHEME.into(),
            login_origin: LOGIN.into(),
            loopback: false,
            default_handler: handler.map(String::from),
            policies,
        }
    }

    fn json(at: &str, text: &str) -> PolicyValue {
        PolicyValue::from_json_text(AUTO_LAUNCH, at.into(), text)
    }

    fn handlers(at: &str, text: &str) -> PolicyValue {
        PolicyValue::from_json_text(HANDLERS, at.into(), text)
    }

    #[test]
    fn handler_ids_of_every_os_name_their_browser() {
        for (id, browser) in [
            ("google-chrome.desktop", Some(Browser::Chrome)),
            ("ChromeHTML", Some(Browser::Chrome)),
            ("com.google.chrome", Some(Browser::Chrome)),
            ("chromium.desktop", Some(Browser::Chromium)),
            ("chromium-browser.desktop", Some(Browser::Chromium)),
            ("microsoft-edge.desktop", Some(Browser::Edge)),
            ("MSEdgeHTM", Some(Browser::Edge)),
            ("brave-browser.desktop", Some(Browser::Brave)),
            ("firefox-esr.desktop", Some(Browser::Firefox)),
            ("FirefoxURL-308046B0AF4A39CB", Some(Browser::Firefox)),
            ("org.mozilla.firefox", Some(Browser::Firefox)),
            ("epiphany.desktop", None),
            ("", None),
        ] {
            assert_eq!(Browser::from_handler(id), browser, "{id}");
        }
    }

    #[test]
    fn chromium_allows_the_scheme_only_from_the_login_origin_or_any() {
        let allow = |list: &str| {
            scheme_prompt_check(&facts(Some("google-chrome.desktop"), vec![json("P", list)]))
        };
        let ok = allow(
            r#"[{"protocol": "COM.agentshell.desktop", "allowed_origins": ["https://login.mypurecloud.ie/"]}]"#,
        );
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        assert!(
            ok.evidence.contains("AutoLaunchProtocolsFromOrigins in P"),
            "{ok:?}"
        );
        let any = allow(r#"[{"protocol": "com.agentshell.desktop", "allowed_origins": ["*"]}]"#);
        assert_eq!(any.status, Status::Pass);
        // Another origin, another scheme, or no origins: the prompt stays.
        for list in [
            r#"[{"protocol": "com.agentshell.desktop", "allowed_origins": ["https://login.mypurecloud.com"]}]"#,
            r#"[{"protocol": "zoommtg", "allowed_origins": ["*"]}]"#,
            r#"[{"protocol": "com.agentshell.desktop"}]"#,
            "[]",
        ] {
            let warned = allow(list);
            assert_eq!(warned.status, Status::Warn, "{list}");
            assert!(warned.evidence.contains("will ask"), "{warned:?}");
            let fix = warned.fix.unwrap();
            assert!(fix.contains(SCHEME) && fix.contains(LOGIN), "{fix}");
        }
        // The registry's JSON text inside a JSON string (some MDM payloads) reads the same.
        let nested = PolicyValue {
            name: AUTO_LAUNCH,
            at: "R".into(),
            value: Ok(Value::String(
                r#"[{"protocol": "com.agentshell.desktop", "allowed_origins": ["*"]}]"#.into(),
            )),
        };
        let check = scheme_prompt_check(&facts(Some("MSEdgeHTM"), vec![nested]));
        assert_eq!(check.status, Status::Pass, "{check:?}");
    }

    #[test]
    fn firefox_needs_ask_false_for_the_scheme() {
        let with = |text: &str| {
            scheme_prompt_check(&facts(Some("firefox.desktop"), vec![handlers("F", text)]))
        };
        let ok = with(
            r#"{"schemes": {"com.agentshell.desktop": {"action": "useSystemDefault", "ask": false}}}"#,
        );
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        let asks = with(
            r#"{"schemes": {"com.agentshell.desktop": {"action": "useSystemDefault", "ask": true}}}"#,
        );
        assert_eq!(asks.status, Status::Warn);
        assert!(asks.fix.unwrap().contains("\"ask\": false"));
        let broken = with(r#"{"mimeTypes": {}}"#);
        assert_eq!(broken.status, Status::Warn);
        assert!(broken.evidence.contains("cannot be read"), "{broken:?}");
        // Firefox honours Chrome's policy too.
        let auto = scheme_prompt_check(&facts(
            Some("firefox.desktop"),
            vec![json(
                "A",
                r#"[{"protocol": "com.agentshell.desktop", "allowed_origins": ["*"]}]"#,
            )],
        ));
        assert_eq!(auto.status, Status::Pass, "{auto:?}");
        assert!(
            auto.evidence
                .contains("AutoLaunchProtocolsFromOrigins in A"),
            "{auto:?}"
        );
    }

    #[test]
    fn loopback_unknown_and_unread_browsers_pass_and_say_what_was_not_checked() {
        let mut loopback = facts(Some("google-chrome.desktop"), vec![]);
        loopback.loopback = true;
        let check = scheme_prompt_check(&loopback);
        assert_eq!(check.status, Status::Pass);
        assert!(check.evidence.contains("loopback"));
        let unknown = scheme_prompt_check(&facts(Some("epiphany.desktop"), vec![]));
        assert_eq!(unknown.status, Status::Pass);
        assert!(unknown.evidence.contains("not checked"), "{unknown:?}");
        let unread = scheme_prompt_check(&facts(None, vec![]));
        assert!(unread.evidence.contains("could not be read"), "{unread:?}");
        let bad_json = scheme_prompt_check(&facts(Some("ChromeHTML"), vec![json("R", "[{")]));
        assert_eq!(bad_json.status, Status::Warn);
        assert!(
            bad_json.evidence.contains("in R cannot be read"),
            "{bad_json:?}"
        );
    }

    #[test]
    fn linux_policy_files_are_found_where_each_browser_reads_them() {
        let root = tempfile::tempdir().unwrap();
        let chrome = root.path().join("etc/opt/chrome/policies/managed");
        std::fs::create_dir_all(&chrome).unwrap();
        std::fs::write(chrome.join("other.json"), r#"{"HomepageLocation": "x"}"#).unwrap();
        std::fs::write(
            chrome.join("agent-shell.json"),
            r#"{"AutoLaunchProtocolsFromOrigins": [{"protocol": "com.agentshell.desktop", "allowed_origins": ["https://login.mypurecloud.ie"]}]}"#,
        )
        .unwrap();
        std::fs::write(chrome.join("notes.txt"), "not policy").unwrap();
        let values = linux_policy_values(Browser::Chrome, root.path());
        assert_eq!(values.len(), 1, "{values:?}");
        assert!(values[0].at.ends_with("agent-shell.json"));
        let check = scheme_prompt_check(&facts(Some("google-chrome.desktop"), values));
        assert_eq!(check.status, Status::Pass, "{check:?}");
        // Edge reads its own directory, not Chrome's.
        assert!(linux_policy_values(Browser::Edge, root.path()).is_empty());

        let firefox = root.path().join("etc/firefox/policies");
        std::fs::create_dir_all(&firefox).unwrap();
        std::fs::write(firefox.join("policies.json"), "{ broken").unwrap();
        let values = linux_policy_values(Browser::Firefox, root.path());
        assert_eq!(values.len(), 1);
        assert!(values[0].value.as_ref().unwrap_err().contains("not JSON"));
        std::fs::write(
            firefox.join("policies.json"),
            r#"{"policies": {"Handlers": {"schemes": {"com.agentshell.desktop": {"action": "useSystemDefault", "ask": false}}}}}"#,
        )
        .unwrap();
        let values = linux_policy_values(Browser::Firefox, root.path());
        let check = scheme_prompt_check(&facts(Some("firefox-esr.desktop"), values));
        assert_eq!(check.status, Status::Pass, "{check:?}");
    }
}
